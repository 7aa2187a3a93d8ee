#!/usr/bin/env python3
"""Several instances on PostgreSQL, against one instance on SQLite, in one command:

    python3 bench/cluster.py                       # 1,000,000 vehicles, 10 s per scenario
    N=100000 SECONDS_PER_SCENARIO=3 python3 bench/cluster.py

Seeds N vehicles into a fresh PostgreSQL database (on PARKING_BENCH_POSTGRES, default
postgres://postgres@127.0.0.1:5432) and into a fresh SQLite file, then measures get by plate,
register and live search with 1, 2 and 3 `parking serve` instances on PostgreSQL and with one
instance on SQLite, the same load each time (wrk, 48 connections split across the instances;
ws_load, 48 live searches split likewise); the lag from a registration on one instance to the
`added` frame on a live search held on another; the start-up of an instance joining the
deployment; and the index's memory per vehicle. Everything shares the machine's two cores —
servers, PostgreSQL and the load — so nothing is pinned: read the ratios, not the scaling.
Results: a table on standard output and `bench/results/cluster.json`.

Needs wrk, sqlite3, psql and the machine's PostgreSQL and Redis.
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
import run as common  # noqa: E402  (the single-instance benchmark's helpers)

ROOT = common.ROOT
TARGET = common.TARGET
N = common.N
SECONDS = common.SECONDS
CONNECTIONS = 48
KEY = common.KEY
SERVER = os.environ.get("PARKING_BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
BASE_PORT = 18780
LAG_SAMPLES = int(os.environ.get("LAG_SAMPLES", "300"))

PG_SEED = f"""
INSERT INTO vehicles (number_plate, plate_folded, contact_name, name_folded, phone_number,
                      entry_ms, created_ms, updated_ms)
SELECT p.plate, p.plate, p.name, lower(p.name), '+4420' || (79460000 + p.i),
       {{now}} - 7200000 - (p.i * 43) % 43200000, {{now}}, {{now}}
FROM (SELECT i,
        chr(65 + i % 26) || chr(65 + (i / 26) % 26) || ((i / 676) % 10) || ((i / 6760) % 10) ||
        chr(65 + (i / 67600) % 26) || chr(65 + (i * 7 / 3) % 26) || chr(65 + (i * 13 / 5) % 26) AS plate,
        (CASE i % 8 WHEN 0 THEN 'Ada' WHEN 1 THEN 'Grace' WHEN 2 THEN 'Alan' WHEN 3 THEN 'Edsger'
         WHEN 4 THEN 'Barbara' WHEN 5 THEN 'Ken' WHEN 6 THEN 'Margaret' ELSE 'Donald' END) || ' ' ||
        (CASE (i / 8) % 8 WHEN 0 THEN 'Lovelace' WHEN 1 THEN 'Hopper' WHEN 2 THEN 'Turing'
         WHEN 3 THEN 'Dijkstra' WHEN 4 THEN 'Liskov' WHEN 5 THEN 'Thompson' WHEN 6 THEN 'Hamilton'
         ELSE 'Knuth' END) AS name
      FROM generate_series(1, {N}) AS i) AS p;
INSERT INTO vehicles (number_plate, plate_folded, contact_name, name_folded, phone_number,
                      entry_ms, created_ms, updated_ms)
SELECT 'L' || i, 'L' || i, 'Live Person', 'live person', '+442079460958', {{now}} - 60000, {{now}}, {{now}}
FROM generate_series(1, 1000) AS i;
"""


def log(message):
    print(message, file=sys.stderr, flush=True)


def psql(database, sql):
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", f"{SERVER}/{database}", "-c", sql],
                   check=True, stdout=subprocess.DEVNULL)


class Instances:
    """`parking serve` processes on one database, each on a port of its own."""

    def __init__(self, binary, url, env, work):
        self.binary, self.url, self.env, self.work = binary, url, env, work
        self.processes = []

    def start(self, count):
        started = []
        for _ in range(count):
            port = BASE_PORT + len(self.processes)
            log_file = open(self.work / f"server-{port}.log", "wb")
            began = time.monotonic()
            process = subprocess.Popen(
                [str(self.binary), "serve", "--bind", f"127.0.0.1:{port}", "--database", self.url],
                env=self.env, stdout=log_file, stderr=subprocess.DEVNULL)
            common.wait_ready(f"http://127.0.0.1:{port}/health/ready", timeout=120)
            started.append((time.monotonic() - began) * 1000)
            self.processes.append((port, process))
        return started

    def ports(self):
        return [port for port, _ in self.processes]

    def stop(self):
        for _, process in self.processes:
            process.terminate()
            process.wait()
        self.processes = []


def split_wrk(bench, ports, lua):
    """One wrk per instance, the connections split evenly, run side by side; summed. `lua(i)`
    is the script of the i-th (registrations use plates of their own per wrk)."""
    per = max(1, CONNECTIONS // len(ports))
    runs = []
    for i, port in enumerate(ports):
        script = bench.work / f"scenario-{time.monotonic_ns()}-{i}.lua"
        script.write_text(f'local key = "{KEY}"\nlocal n = {N}\n{common.PLATE_LUA}\n{lua(i)}\n{common.REPORTER}')
        runs.append(subprocess.Popen(["wrk", "-t1", f"-c{per}", f"-d{SECONDS}s", "-s", str(script),
                                      f"http://127.0.0.1:{port}"], stdout=subprocess.PIPE, text=True))
    results = []
    for run in runs:
        output, _ = run.communicate()
        line = next(l for l in output.splitlines() if l.startswith("WRK_JSON "))
        results.append(json.loads(line.removeprefix("WRK_JSON ")))
    return {"rps": sum(r["rps"] for r in results), "p99_ms": max(r["p99_ms"] for r in results),
            "errors": sum(r["errors"] for r in results)}


def split_ws(ports):
    per = max(1, CONNECTIONS // len(ports))
    runs = [subprocess.Popen([str(TARGET / "release/examples/ws_load"), f"ws://127.0.0.1:{port}/api/v1/ws/vehicles/search",
                              KEY, str(per), str(SECONDS)], stdout=subprocess.PIPE, text=True) for port in ports]
    results = []
    for run in runs:
        output, _ = run.communicate()
        results.append(json.loads(output.strip().splitlines()[-1]))
    return {"rps": sum(r["searches_per_sec"] for r in results), "p99_ms": max(r["rtt_p99_ms"] for r in results),
            "errors": sum(r["errors"] for r in results)}


def measure(results, label, ports, work):
    bench = common.Bench(work, None)
    for scenario, run in [
        ("get by plate", lambda: split_wrk(bench, ports, lambda i: common.GET_RANDOM)),
        ("register", lambda: split_wrk(bench, ports,
                                       lambda i: common.register_lua(f"R{label[:2].upper()}{len(ports)}X{i}X"))),
        ("live search", lambda: split_ws(ports)),
    ]:
        log(f"scenario: {label}, {scenario}")
        results.setdefault(scenario, {})[label] = run()


def main():
    for tool in ("wrk", "sqlite3", "psql", "cargo"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is needed")
    started_all = time.monotonic()
    log("building release binaries")
    subprocess.run(["cargo", "build", "--release", "--quiet", "--manifest-path", str(ROOT / "Cargo.toml"),
                    "--bin", "parking", "--example", "ws_load", "--example", "propagation"], check=True)
    binary = TARGET / "release/parking"
    work = pathlib.Path(tempfile.mkdtemp(prefix="parking-cluster-bench-"))
    env = common.service_env(work, PARKING_WS_MAX_CONNECTIONS="20000",
                             PARKING_WS_MAX_CONNECTIONS_PER_KEY="20000", PARKING_MAX_CONNECTIONS_PER_ADDRESS="0",
                             PARKING_REDIS_URL="redis://127.0.0.1:6379",
                             PARKING_REDIS_PREFIX=f"bench-{os.getpid()}")
    database = f"parking_bench_{os.getpid()}"
    empty = f"parking_bench_empty_{os.getpid()}"
    results, facts = {}, {"vehicles": N, "seconds_per_scenario": SECONDS, "connections": CONNECTIONS}
    instances = None
    try:
        for name in (database, empty):
            psql("postgres", f"CREATE DATABASE {name}")
        url = f"{SERVER}/{database}"
        subprocess.run([str(binary), "migrate", "--database", url], env=env, check=True, stderr=subprocess.DEVNULL)
        log(f"seeding {N:,} vehicles into PostgreSQL")
        psql(database, PG_SEED.format(now=int(time.time() * 1000)))
        psql(database, "VACUUM ANALYZE vehicles")
        db = work / "bench.db"
        subprocess.run([str(binary), "migrate", "--database", f"sqlite://{db}"], env=env, check=True,
                       stderr=subprocess.DEVNULL)
        log(f"seeding {N:,} vehicles into SQLite")
        common.seed(db, int(time.time() * 1000))

        # Index memory per vehicle: an instance on the full database against one on an empty one.
        instances = Instances(binary, f"{SERVER}/{empty}", env, work)
        instances.start(1)
        rss_empty = common.proc_mem_mib(instances.processes[0][1].pid, "VmRSS")
        instances.stop()
        instances = Instances(binary, url, env, work)
        joined = instances.start(1)
        rss_full = common.proc_mem_mib(instances.processes[0][1].pid, "VmRSS")
        facts.update(joining_startup_ms=round(joined[0]), rss_empty_mib=round(rss_empty, 1),
                     rss_full_mib=round(rss_full, 1),
                     index_bytes_per_vehicle=round((rss_full - rss_empty) * 2**20 / (N + 1000)))
        instances.start(2)
        log("scenario: propagation lag")
        output = subprocess.run([str(TARGET / "release/examples/propagation"), f"http://127.0.0.1:{BASE_PORT}",
                                 f"ws://127.0.0.1:{BASE_PORT + 1}/api/v1/ws/vehicles/search", KEY, str(LAG_SAMPLES)],
                                capture_output=True, text=True, check=True).stdout
        facts["propagation"] = json.loads(output.strip().splitlines()[-1])
        ports = instances.ports()
        for count in (1, 2, 3):
            measure(results, f"postgres ×{count}", ports[:count], work)
        instances.stop()

        instances = Instances(binary, f"sqlite://{db}", env, work)
        instances.start(1)
        measure(results, "sqlite ×1", instances.ports(), work)
        instances.stop()
        instances = None
    finally:
        if instances is not None:
            instances.stop()
        for name in (database, empty):
            try:
                psql("postgres", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            except subprocess.CalledProcessError:
                log(f"could not drop {name}")
        shutil.rmtree(work, ignore_errors=True)
    facts["total_seconds"] = round(time.monotonic() - started_all)
    report(results, facts)


def report(results, facts):
    labels = ["sqlite ×1", "postgres ×1", "postgres ×2", "postgres ×3"]
    print(f"\n{facts['vehicles']:,} vehicles; {facts['seconds_per_scenario']} s per scenario, "
          f"{facts['connections']} connections split across the instances; nothing pinned (2 cores shared)")
    print(f"\n{'scenario':<16}" + "".join(f"{label:>22}" for label in labels))
    for scenario, by_label in results.items():
        cells = []
        for label in labels:
            r = by_label.get(label)
            cells.append(f"{r['rps']:>10,.0f}/s p99 {r['p99_ms']:>5.1f}" if r else f"{'-':>22}")
        print(f"{scenario:<16}" + "".join(f"{c:>22}" for c in cells))
    for scenario, by_label in results.items():
        base = by_label["sqlite ×1"]["rps"]
        ratios = ", ".join(f"{label} {by_label[label]['rps'] / base:.2f}×" for label in labels[1:])
        print(f"{scenario}: against one instance on SQLite: {ratios}")
    lag = facts["propagation"]
    print(f"\npropagation (register on one instance → added frame on another): p50 {lag['p50_ms']:.1f} ms, "
          f"p99 {lag['p99_ms']:.1f} ms, max {lag['max_ms']:.1f} ms over {lag['samples']} (goal p99 ≤ 50 ms: "
          f"{'met' if lag['p99_ms'] <= 50 else 'NOT MET'})")
    print(f"an instance joining the deployment: ready in {facts['joining_startup_ms']} ms "
          f"(goal ≤ 3 s: {'met' if facts['joining_startup_ms'] <= 3000 else 'NOT MET'})")
    print(f"index memory: {facts['rss_empty_mib']} MiB empty, {facts['rss_full_mib']} MiB with the index: "
          f"{facts['index_bytes_per_vehicle']} bytes per vehicle (goal ≤ 200: "
          f"{'met' if facts['index_bytes_per_vehicle'] <= 200 else 'NOT MET'})")
    out = ROOT / "bench/results/cluster.json"
    out.write_text(json.dumps({"facts": facts, "scenarios": results}, indent=2) + "\n")
    print(f"\nwritten to {out.relative_to(ROOT)} in {facts['total_seconds']} s")


if __name__ == "__main__":
    main()
