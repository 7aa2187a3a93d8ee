#!/usr/bin/env bash
# Purge of N expired vehicles (default 1,000,000) while get-by-plate traffic runs, against a
# same-run baseline of the same traffic without a purge. Prints the purge time and the read
# latency (p50/p99/p99.9/max) with and without the purge, and writes bench/results/purge.json.
#
#   bash bench/purge_million.sh            # N=1000000
#   N=100000 bash bench/purge_million.sh
#
# Needs: wrk and sqlite3 (apt-get install -y wrk sqlite3). Two cores: the server is pinned to
# CPU 0 and wrk to CPU 1 (taskset), so the load generator does not steal the server's time.
set -euo pipefail
N=${N:-1000000}
CONNECTIONS=${CONNECTIONS:-16}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
PORT=${PORT:-18765}
KEY=bench-admin-key-0123456789abcdef

cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml"
BIN=$TARGET/release/parking
WORK=$(mktemp -d)
DB=$WORK/bench.db
trap 'kill "$SERVER" 2>/dev/null || true; rm -rf "$WORK"' EXIT

export PARKING_ADMIN_KEY=$KEY PARKING_RATE_LIMIT_PER_SEC=0 RUST_LOG=warn \
  PARKING_PURGE_INTERVAL_SECS=86400 PARKING_BACKUP_INTERVAL_SECS=0 PARKING_BACKUP_DIR=$WORK/backups
"$BIN" migrate --database "sqlite://$DB" 2>/dev/null

# N vehicles that entered two hours ago, and 1,000 that entered now (the ones wrk reads).
now_ms=$(( $(date +%s%3N) ))
old_ms=$(( now_ms - 2 * 3600 * 1000 ))
seed_started=$(date +%s.%N)
sqlite3 "$DB" <<SQL
PRAGMA journal_mode = WAL;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $N)
INSERT INTO vehicles (number_plate, plate_folded, contact_name, name_folded, phone_number,
                      entry_ms, created_ms, updated_ms)
SELECT 'X' || i, 'X' || i, 'Bench Person', 'bench person', '+442079460958', $old_ms, $old_ms, $old_ms FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
INSERT INTO vehicles (number_plate, plate_folded, contact_name, name_folded, phone_number,
                      entry_ms, created_ms, updated_ms)
SELECT 'L' || i, 'L' || i, 'Live Person', 'live person', '+442079460958', $now_ms, $now_ms, $now_ms FROM n;
SQL
echo "seeded $N expired-to-be and 1000 live vehicles in $(echo "$(date +%s.%N) - $seed_started" | bc) s"

taskset -c 0 "$BIN" serve --bind "127.0.0.1:$PORT" --database "sqlite://$DB" >"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 100); do curl -sf "127.0.0.1:$PORT/health/ready" >/dev/null && break; sleep 0.1; done

load() { # seconds
  BENCH_KEY=$KEY taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"$1s" -s "$ROOT/bench/get_random_plate.lua" \
    "http://127.0.0.1:$PORT" | sed -n 's/^WRK_JSON //p'
}

echo "baseline: reads without a purge (10 s)"
baseline=$(load 10)

# One hour of retention: every seeded vehicle has expired, the live ones have not.
curl -sf -X PUT "127.0.0.1:$PORT/api/v1/config/retention" -H "X-API-Key: $KEY" \
  -H 'content-type: application/json' -d '{"retention_hours": 1}' >/dev/null

WINDOW=${WINDOW:-14}
echo "purging $N rows while reading ($WINDOW s window)"
load "$WINDOW" >"$WORK/during.json" &
LOAD=$!
sleep 1
started=$(date +%s.%N)
purge=$(curl -sf -X POST "127.0.0.1:$PORT/api/v1/maintenance/purge" -H "X-API-Key: $KEY")
purge_seconds=$(echo "$(date +%s.%N) - $started" | bc)
wait "$LOAD"
during=$(cat "$WORK/during.json")
remaining=$(sqlite3 "$DB" "SELECT count(*) FROM vehicles")

mkdir -p "$ROOT/bench/results"
cat >"$ROOT/bench/results/purge.json" <<JSON
{"rows": $N, "purge_seconds": $purge_seconds, "purge_response": $purge, "rows_left": $remaining,
 "reads_baseline": $baseline, "reads_during_purge": $during,
 "machine": "$(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB"}
JSON
python3 - "$ROOT/bench/results/purge.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
b, d = r["reads_baseline"], r["reads_during_purge"]
print(f"\npurge of {r['rows']:,} expired vehicles: {r['purge_seconds']:.2f} s "
      f"(deleted {r['purge_response']['deleted']:,}; {r['rows_left']} rows left)")
print(f"{'get by plate':<22}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'p99.9 ms':>10}{'max ms':>9}{'errors':>8}")
for name, x in (("without purge", b), ("during purge window", d)):
    print(f"{name:<22}{x['rps']:>10.0f}{x['p50_ms']:>9.2f}{x['p99_ms']:>9.2f}{x['p999_ms']:>10.2f}{x['max_ms']:>9.2f}{x['errors']:>8}")
print(f"ratio during/without: throughput {d['rps']/b['rps']:.2f}, p99 {d['p99_ms']/b['p99_ms']:.2f}")
PY
