#!/usr/bin/env python3
"""One change measured: the service built from the working tree against the same service built
from REV (default HEAD), alternating between the two on the same seeded database, with the
bare axum hello world and the inline rusqlite lookup measured in the same rounds, and the two
scenarios with latency targets (the list's first page, live search at 50 connections), and each
server's settled memory:

    python3 bench/ab.py [REV]                    # 100,000 vehicles, 3 rounds of 5 s per scenario
    N=1000000 ROUNDS=5 python3 bench/ab.py HEAD~2
    BEFORE_BINARY=/tmp/parking-old python3 bench/ab.py   # REV's binary, built already
    AFTER_BINARY=/tmp/parking-new SCENARIOS=search python3 bench/ab.py   # one scenario, both built

Both builds run as a user runs them (request logs on, written to a file; durable commits),
pinned to CPU 0 with the load on CPU 1, as in `run.py`. Scenarios: `GET /health/live`, get by
plate, the list's first page (50 vehicles) and live search (50 connections); before them, each
server's resident memory once settled (`run.settled_rss`), whose difference between the two
builds, divided by N, is the index's memory per vehicle saved or spent. Each round
measures every server once, in turn, so drift on the machine reaches all of them alike; the
table gives each round's figures and the medians (throughput, and p99 latency), and the ratios
are of medians from this one run. Results: standard output and `bench/results/ab.json`.
"""

import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import run  # noqa: E402  (the load benchmark's seeding, wrk scripts and helpers)

ROUNDS = int(os.environ.get("ROUNDS", "3"))
SECONDS = int(os.environ.get("SECONDS_PER_SCENARIO", "5"))
N = int(os.environ.get("N", "100000"))


def main():
    rev = sys.argv[1] if len(sys.argv) > 1 else "HEAD"
    for tool in ("wrk", "sqlite3", "taskset", "cargo", "git"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is needed (apt-get install -y wrk sqlite3 util-linux git)")
    run.ports_free(run.PORT, run.BARE_PORT)
    work = pathlib.Path(tempfile.mkdtemp(prefix="parking-ab-"))
    binaries = {f"before ({rev})": work / "parking-before", "after (working tree)": work / "parking-after"}
    prebuilt = os.environ.get("BEFORE_BINARY")
    if prebuilt:
        shutil.copy2(prebuilt, binaries[f"before ({rev})"])
    else:
        run.log(f"building {rev}")
        run.build_at(rev, binaries[f"before ({rev})"], work)
    run.log("building the working tree")
    subprocess.run(["cargo", "build", "--release", "--quiet", "--manifest-path", str(run.ROOT / "Cargo.toml"),
                    "--bin", "parking", "--example", "bare_lookup", "--example", "ws_load"], check=True)
    shutil.copy2(os.environ.get("AFTER_BINARY") or run.TARGET / "release/parking", binaries["after (working tree)"])

    db = work / "ab.db"
    env = run.service_env(work, **run.LOAD_CAPS)
    subprocess.run([str(binaries["after (working tree)"]), "migrate", "--database", f"sqlite://{db}"], env=env,
                   check=True, stderr=subprocess.DEVNULL)
    run.N = N
    run.log(f"seeding {N:,} vehicles")
    run.seed(db, int(time.time() * 1000))
    bench = run.Bench(work, 0)
    url = f"http://127.0.0.1:{run.PORT}"
    bare_url = f"http://127.0.0.1:{run.BARE_PORT}"
    scenarios = {"GET /health/live": lambda: bench.wrk(url, run.HEALTH, seconds=SECONDS),
                 "get by plate": lambda: bench.wrk(url, run.GET_RANDOM, seconds=SECONDS),
                 "list: first page (50)": lambda: bench.wrk(url, run.list_lua(""), seconds=SECONDS),
                 f"live search ({run.CONNECTIONS} conn)": lambda: bench.ws(run.CONNECTIONS, seconds=SECONDS)}
    # SCENARIOS=memory,health,plate,list,search picks some (default: all).
    wanted = os.environ.get("SCENARIOS", "memory,health,plate,list,search").split(",")
    scenarios = {name: measure for (short, (name, measure)) in zip(["health", "plate", "list", "search"],
                                                                    scenarios.items()) if short in wanted}
    baselines = {name: lua for name, lua in {"GET /health/live": run.HELLO, "get by plate": run.BARE_RANDOM}.items()
                 if name in scenarios}
    figures = {}  # (server, scenario) -> [req/s per round]
    settled = {}  # server -> [settled resident MiB per round]
    p99s = {}  # (server, scenario) -> [p99 ms per round]
    lines = 0
    for round_no in range(1, ROUNDS + 1):
        for name, binary in binaries.items():
            log_file = work / f"server-{round_no}-{binary.name}.log"
            # Started on its core, as in `run.py` and as the baselines are.
            server = subprocess.Popen(["taskset", "-c", run.SERVER_CPU, str(binary), "serve", "--bind",
                                       f"127.0.0.1:{run.PORT}", "--database", f"sqlite://{db}"], env=env,
                                      stdout=open(log_file, "wb"), stderr=subprocess.DEVNULL)
            try:
                run.wait_ready(f"{url}/health/ready", timeout=120)
                if "memory" in wanted:
                    settled.setdefault(name, []).append(run.settled_rss(server.pid))
                    run.log(f"round {round_no}: {name}, settled: {settled[name][-1]:.1f} MiB")
                for scenario, measure in scenarios.items():
                    result = measure()
                    figures.setdefault((name, scenario), []).append(result["rps"])
                    p99s.setdefault((name, scenario), []).append(result["p99_ms"])
                    run.log(f"round {round_no}: {name}, {scenario}: {result['rps']:,.0f}/s, "
                            f"p99 {result['p99_ms']:.2f} ms")
            finally:
                server.terminate()
                server.wait()
            lines += sum(1 for _ in open(log_file, "rb"))
        if not baselines:
            continue
        bare = subprocess.Popen(["taskset", "-c", run.SERVER_CPU, str(run.TARGET / "release/examples/bare_lookup"),
                                 str(db), f"127.0.0.1:{run.BARE_PORT}", "full"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            run.wait_ready(f"{bare_url}/plate/L1")
            for scenario, lua in baselines.items():
                result = bench.wrk(bare_url, lua, seconds=SECONDS)
                figures.setdefault(("baseline", scenario), []).append(result["rps"])
                p99s.setdefault(("baseline", scenario), []).append(result["p99_ms"])
                run.log(f"round {round_no}: baseline, {scenario}: {result['rps']:,.0f}/s")
        finally:
            bare.terminate()
            bare.wait()

    medians = {key: statistics.median(values) for key, values in figures.items()}
    p99_medians = {key: statistics.median(values) for key, values in p99s.items()}
    print(f"\n{N:,} vehicles, {ROUNDS} rounds of {SECONDS} s per scenario, {run.CONNECTIONS} connections; "
          f"{lines:,} request log lines written by the two builds.")
    print("Baselines: the bare axum hello world (for /health/live) and the inline rusqlite lookup (get by plate).\n")
    print("| scenario | server | req/s per round | median | / baseline | p99 median |")
    print("| --- | --- | --- | --- | --- | --- |")
    for scenario in scenarios:
        for name in [*binaries, "baseline"] if scenario in baselines else binaries:
            values = figures[(name, scenario)]
            ratio = (f"{medians[(name, scenario)] / medians[('baseline', scenario)]:.2f}×"
                     if scenario in baselines else "—")
            print(f"| {scenario} | {name} | {', '.join(f'{v:,.0f}' for v in values)} | "
                  f"{medians[(name, scenario)]:,.0f} | {ratio} | {p99_medians[(name, scenario)]:.2f} ms |")
    if settled:
        print("\n| server | settled resident MiB per round | median |")
        print("| --- | --- | --- |")
        for name, values in settled.items():
            print(f"| {name} | {', '.join(f'{v:.1f}' for v in values)} | {statistics.median(values):.1f} |")
        change = statistics.median(settled["after (working tree)"]) - statistics.median(settled[f"before ({rev})"])
        print(f"\nsettled memory, after − before: {change * 2**20 / N:+.1f} bytes a vehicle (medians)")
    for scenario in scenarios:
        after = medians[("after (working tree)", scenario)]
        before = medians[(f"before ({rev})", scenario)]
        p99_after = p99_medians[("after (working tree)", scenario)]
        p99_before = p99_medians[(f"before ({rev})", scenario)]
        print(f"\n{scenario}: after / before = {after / before:.2f}× throughput, "
              f"{p99_after / p99_before:.2f}× p99", end="")
    print()
    out = run.ROOT / "bench/results/ab.json"
    out.write_text(json.dumps({"rev": rev, "n": N, "rounds": ROUNDS, "seconds": SECONDS,
                               "figures": {f"{k[0]} | {k[1]}": v for k, v in figures.items()},
                               "p99_ms": {f"{k[0]} | {k[1]}": v for k, v in p99s.items()},
                               "settled_mib": settled}, indent=2))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
