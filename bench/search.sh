#!/usr/bin/env bash
# Live search at N parked vehicles (default 1,000,000): start-up time and memory with the
# index loaded, then WebSocket searches with random 3-character queries, sequential (one
# connection) and concurrent (50 connections), against a same-run baseline of the server's
# cheapest endpoint. Writes bench/results/search.json.
#
#   bash bench/search.sh
#   N=100000 SECONDS_PER_RUN=5 bash bench/search.sh
#
# Needs wrk and sqlite3 (apt-get install -y wrk sqlite3). The server runs on CPU 0, the load
# generators on CPU 1.
set -euo pipefail
N=${N:-1000000}
RUN=${SECONDS_PER_RUN:-10}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
PORT=${PORT:-18766}
KEY=bench-admin-key-0123456789abcdef

cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml" --bin parking --example ws_load
BIN=$TARGET/release/parking
LOAD=$TARGET/release/examples/ws_load
WORK=$(mktemp -d)
DB=$WORK/bench.db
SERVER=
trap '[ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; rm -rf "$WORK"' EXIT

export PARKING_ADMIN_KEY=$KEY PARKING_RATE_LIMIT_PER_SEC=0 RUST_LOG=warn PARKING_BACKUP_INTERVAL_SECS=0 \
  PARKING_BACKUP_DIR=$WORK/backups PARKING_WS_MAX_CONNECTIONS=10000
"$BIN" migrate --database "sqlite://$DB" 2>/dev/null

# Plates shaped like UK ones (two letters, two digits, three letters; the first five characters
# are a unique mixed-radix code of the row number), spread over the last
# twelve hours; names from a small set of first and last names.
now_ms=$(date +%s%3N)
sqlite3 "$DB" <<SQL
PRAGMA journal_mode = WAL;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $N),
p AS (SELECT i,
  char(65 + i % 26) || char(65 + (i / 26) % 26) || ((i / 676) % 10) || ((i / 6760) % 10) ||
  char(65 + (i / 67600) % 26) || char(65 + (i * 7 / 3) % 26) || char(65 + (i * 13 / 5) % 26) AS plate,
  (CASE i % 8 WHEN 0 THEN 'Ada' WHEN 1 THEN 'Grace' WHEN 2 THEN 'Alan' WHEN 3 THEN 'Edsger'
   WHEN 4 THEN 'Barbara' WHEN 5 THEN 'Ken' WHEN 6 THEN 'Margaret' ELSE 'Donald' END) || ' ' ||
  (CASE (i / 8) % 8 WHEN 0 THEN 'Lovelace' WHEN 1 THEN 'Hopper' WHEN 2 THEN 'Turing'
   WHEN 3 THEN 'Dijkstra' WHEN 4 THEN 'Liskov' WHEN 5 THEN 'Thompson' WHEN 6 THEN 'Hamilton'
   ELSE 'Knuth' END) || ' ' || i AS name
  FROM n)
INSERT OR IGNORE INTO vehicles (number_plate, plate_folded, contact_name, name_folded, phone_number,
                                entry_ms, created_ms, updated_ms)
SELECT plate, plate, name, lower(name), '+4420' || (79460000 + i),
       $now_ms - (i * 43) % 43200000, $now_ms, $now_ms FROM p;
SQL
rows=$(sqlite3 "$DB" "SELECT count(*) FROM vehicles")

started=$(date +%s%N)
taskset -c 0 "$BIN" serve --bind "127.0.0.1:$PORT" --database "sqlite://$DB" >"$WORK/server.log" 2>&1 &
SERVER=$!
until curl -sf "127.0.0.1:$PORT/health/ready" >/dev/null; do sleep 0.02; done
startup_ms=$(( ($(date +%s%N) - started) / 1000000 ))
rss_kib=$(awk '/VmRSS/ {print $2}' "/proc/$SERVER/status")
echo "started with $rows vehicles in $startup_ms ms, resident $((rss_kib / 1024)) MiB"

URL="ws://127.0.0.1:$PORT/api/v1/ws/vehicles/search"
echo "baseline: GET /health/live, 50 connections ($RUN s)"
baseline=$(taskset -c 1 wrk -t1 -c50 -d"${RUN}s" "http://127.0.0.1:$PORT/health/live" | awk '/Requests\/sec/ {print $2}')
echo "sequential searches: 1 connection ($RUN s)"
sequential=$(taskset -c 1 "$LOAD" "$URL" "$KEY" 1 "$RUN")
echo "concurrent searches: 50 connections ($RUN s)"
concurrent=$(taskset -c 1 "$LOAD" "$URL" "$KEY" 50 "$RUN")
peak_kib=$(awk '/VmHWM/ {print $2}' "/proc/$SERVER/status")
server_cpu=$(awk '{print ($14 + $15) / 100}' "/proc/$SERVER/stat")

mkdir -p "$ROOT/bench/results"
cat >"$ROOT/bench/results/search.json" <<JSON
{"vehicles": $rows, "startup_ms": $startup_ms, "rss_after_start_mib": $((rss_kib / 1024)),
 "peak_rss_mib": $((peak_kib / 1024)), "server_cpu_seconds": $server_cpu,
 "baseline_health_live_rps": $baseline, "sequential": $sequential, "concurrent": $concurrent,
 "machine": "$(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB"}
JSON
python3 - "$ROOT/bench/results/search.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"\n{r['vehicles']:,} vehicles: start-up {r['startup_ms']} ms, resident {r['rss_after_start_mib']} MiB after start, peak {r['peak_rss_mib']} MiB")
print("times in ms; took = server-side search time (took_us), rtt = round trip on loopback")
print(f"{'live search':<24}{'searches/s':>11}{'took p50':>9}{'took p99':>9}{'rtt p50':>8}{'rtt p99':>8}{'rtt p99.9':>10}{'errors':>7}{'client cpu s':>13}")
for name in ("sequential", "concurrent"):
    x = r[name]
    print(f"{name + ' (' + str(x['connections']) + ' conn)':<24}{x['searches_per_sec']:>11.0f}{x['took_p50_ms']:>9.2f}{x['took_p99_ms']:>9.2f}"
          f"{x['rtt_p50_ms']:>8.2f}{x['rtt_p99_ms']:>8.2f}{x['rtt_p999_ms']:>10.2f}{x['errors']:>7}{x['client_cpu_seconds']:>13.1f}")
print(f"baseline GET /health/live: {r['baseline_health_live_rps']:.0f} req/s; concurrent searches are "
      f"{r['concurrent']['searches_per_sec'] / r['baseline_health_live_rps']:.2f}x of it")
PY
