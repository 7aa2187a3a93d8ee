#!/usr/bin/env python3
"""What it costs the purge to make deleted rows unreadable: the service as shipped (SQLite's
`secure_delete` on, the WAL checkpointed into the file and truncated before the purge answers)
against the same service built from REV, by default the last version without either, purging
the same N expired vehicles, alternating between the two, in one run:

    python3 bench/purge_cost.py                 # 1,000,000 vehicles, 2 rounds
    N=100000 ROUNDS=1 python3 bench/purge_cost.py [REV]

Each purge runs on a fresh copy of a seeded file, on the server as a user runs it (request
logs on, durable commits), pinned to CPU 0. Besides the time, it reports the WAL left behind
and whether the purged people's names can still be read in the database's files. Results: a
table on standard output and `bench/results/purge_cost.json`.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import run  # noqa: E402  (the load benchmark's seeding and helpers)

BEFORE = "375d3cd"
ROUNDS = int(os.environ.get("ROUNDS", "2"))
# Seeded names of expired vehicles only (live ones are "Live Person").
PURGED_NAMES = [b"Lovelace", b"Hopper", b"Dijkstra", b"Hamilton"]


def readable(db):
    """Whether any purged name is still in the database file or its WAL."""
    for path in (db, db.with_name(db.name + "-wal")):
        if path.exists():
            data = path.read_bytes()
            if any(name in data for name in PURGED_NAMES):
                return True
    return False


def purge_once(binary, template, work, env):
    db = work / "purge.db"
    for suffix in ("", "-wal", "-shm", ".lock"):
        pathlib.Path(str(db) + suffix).unlink(missing_ok=True)
    shutil.copy2(template, db)
    server = subprocess.Popen([str(binary), "serve", "--bind", f"127.0.0.1:{run.PORT}", "--database", f"sqlite://{db}"],
                              env=env, stdout=open(work / "server.log", "ab"), stderr=subprocess.DEVNULL)
    try:
        run.wait_ready(f"http://127.0.0.1:{run.PORT}/health/ready", timeout=120)
        subprocess.run(["taskset", "-a", "-p", "-c", run.SERVER_CPU, str(server.pid)], check=True,
                       stdout=subprocess.DEVNULL)
        run.http("PUT", "/api/v1/config/retention", json.dumps({"retention_hours": 1}).encode())
        started = time.monotonic()
        report = run.http("POST", "/api/v1/maintenance/purge")
        seconds = time.monotonic() - started
        wal = db.with_name(db.name + "-wal")
        wal_mib = wal.stat().st_size / 2**20 if wal.exists() else 0.0
        return {"seconds": round(seconds, 2), "deleted": report["deleted"], "wal_mib": round(wal_mib, 1),
                "names_readable": readable(db)}
    finally:
        server.terminate()
        server.wait()


def main():
    rev = sys.argv[1] if len(sys.argv) > 1 else BEFORE
    for tool in ("sqlite3", "taskset", "cargo", "git"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is needed (apt-get install -y sqlite3 util-linux git)")
    work = pathlib.Path(tempfile.mkdtemp(prefix="parking-purge-"))
    binaries = {"as shipped": work / "parking-now", f"before ({rev})": work / "parking-before"}
    run.log("building the release binary")
    run.build_binary(run.ROOT / "Cargo.toml", binaries["as shipped"])
    run.log(f"building {rev}")
    run.build_at(rev, binaries[f"before ({rev})"], work)
    env = run.service_env(work)
    templates = {}
    now_ms = int(time.time() * 1000)
    for label, binary in binaries.items():
        template = work / f"template-{len(templates)}.db"
        subprocess.run([str(binary), "migrate", "--database", f"sqlite://{template}"], env=env, check=True,
                       stderr=subprocess.DEVNULL)
        run.log(f"seeding {run.N:,} vehicles for {label}")
        run.seed(template, now_ms)
        subprocess.run(["sqlite3", str(template), "PRAGMA wal_checkpoint(TRUNCATE);"], check=True,
                       stdout=subprocess.DEVNULL)
        templates[label] = template
    results = {label: [] for label in binaries}
    for round_number in range(ROUNDS):
        for label, binary in binaries.items():
            run.log(f"round {round_number + 1}: purging with {label}")
            results[label].append(purge_once(binary, templates[label], work, env))
    best = {label: min(r["seconds"] for r in runs) for label, runs in results.items()}
    now, before = best["as shipped"], best[f"before ({rev})"]
    print(f"\npurge of {run.N:,} expired vehicles, request logs on, durable commits (best of {ROUNDS}):\n")
    print("| build | purge | WAL after | purged names readable in the files |")
    print("| --- | --- | --- | --- |")
    for label, runs in results.items():
        last = runs[-1]
        print(f"| {label} | {best[label]:.1f} s | {last['wal_mib']:.1f} MiB | {'yes' if last['names_readable'] else 'no'} |")
    print(f"\ncost: {now / before:.2f}× the time of the purge without it")
    out = run.ROOT / "bench/results/purge_cost.json"
    out.write_text(json.dumps({"n": run.N, "rounds": ROUNDS, "rev": rev, "results": results,
                               "ratio": round(now / before, 2)}, indent=2) + "\n")
    print(f"written to {out.relative_to(run.ROOT)}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
