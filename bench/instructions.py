#!/usr/bin/env python3
"""Instructions per request, counted by callgrind: a measure this noisy machine cannot move
(the same build's requests per second vary by a third between runs; its instruction count by
about 1%), for comparing builds and finding where a request's work goes.

    python3 bench/instructions.py BINARY [BINARY...]          # every scenario, each binary
    SCENARIOS=health,plate python3 bench/instructions.py target/release/parking /tmp/parking-old

Each binary serves a fresh copy of one seeded database (`N` vehicles, 10,000 by default, as
`run.py` seeds them) under `valgrind --tool=callgrind`, with request logs on and written to a
file as a user runs it. After start-up the counters are zeroed; `wrk` (1 thread, 10
connections) sends requests for `SECONDS` (20) of wall time — for `search`, `ws_load` (10
connections, `run.py`'s live search load; build it with `cargo build --release --example
ws_load`) sends searches —; the counters are dumped; the instructions of the whole process
(every thread: runtime, log writer, database workers) are divided by the answers received. Background work (timers, the change feed's poll) is counted too and
is under 1% of a run. Prints a table; `DETAIL=1` also prints, per run, the functions of the
service's own crate by inclusive instructions per request. Needs valgrind, wrk and sqlite3
(`apt-get install -y valgrind wrk sqlite3`).

Builds compare best when built with the same profile; a quicker profile than the shipped one
(`CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16`) counts more
instructions in absolute terms but ranks changes the same way.
"""

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import run  # noqa: E402  (seeding, wrk scripts and helpers)

SECONDS = int(os.environ.get("SECONDS", "20"))
N = int(os.environ.get("N", "10000"))
SCENARIOS = {
    "health": ("GET /health/live", run.HEALTH),
    "plate": ("get by plate", run.GET_RANDOM),
    "list": ("list: first page (50)", run.list_lua("")),
    "search": ("live search (20 results)", None),
    "register": ("register (durable)", run.register_lua("C")),
}


def measure(binary, scenario, lua, seeded, work):
    db = work / f"{pathlib.Path(binary).name}-{scenario}.db"
    shutil.copy2(seeded, db)
    out = work / f"callgrind.{pathlib.Path(binary).name}.{scenario}"
    env = run.service_env(work, **run.LOAD_CAPS)
    server = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", str(binary), "serve",
                               "--bind", f"127.0.0.1:{run.PORT}", "--database", f"sqlite://{db}"],
                              env=env, stdout=open(work / "server.log", "ab"), stderr=subprocess.DEVNULL)
    try:
        run.wait_ready(f"http://127.0.0.1:{run.PORT}/health/ready", timeout=300)
        time.sleep(1)
        subprocess.run(["callgrind_control", "--zero", str(server.pid)], check=True, stdout=subprocess.DEVNULL)
        if lua is None:
            output = subprocess.run([str(run.TARGET / "release/examples/ws_load"),
                                     f"ws://127.0.0.1:{run.PORT}/api/v1/ws/vehicles/search", run.KEY, "10",
                                     str(SECONDS)], capture_output=True, text=True, check=True).stdout
            searches = json.loads(output.strip().splitlines()[-1])
            result = {"requests": searches["searches"], "errors": searches["errors"]}
        else:
            result = run.Bench(work, server.pid).wrk(f"http://127.0.0.1:{run.PORT}", lua, seconds=SECONDS,
                                                     connections=10)
        subprocess.run(["callgrind_control", "--dump", str(server.pid)], check=True, stdout=subprocess.DEVNULL)
    finally:
        server.terminate()
        server.wait()
    if result["errors"]:
        raise SystemExit(f"{binary} {scenario}: {result['errors']} errors")
    dump = next(p for p in sorted(work.glob(out.name + ".*")) if not p.name.endswith(".0"))
    annotated = subprocess.run(["callgrind_annotate", "--auto=no", "--inclusive=yes", "--threshold=100", str(dump)],
                               capture_output=True, text=True, check=True).stdout
    total = int(re.search(r"([\d,]+)\s+\(100\.0%\)\s+PROGRAM TOTALS", annotated).group(1).replace(",", ""))
    answers = result["requests"]
    detail = []
    for line in annotated.splitlines():
        found = re.match(r"\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+\?\?\?:(parking::\S.*?) \[", line)
        if found:
            detail.append((int(found.group(1).replace(",", "")) / answers, found.group(2)))
    return total / answers, answers, detail[:25]


def main():
    binaries = sys.argv[1:]
    if not binaries:
        raise SystemExit(__doc__)
    for tool in ("valgrind", "callgrind_annotate", "wrk", "sqlite3"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is needed (apt-get install -y valgrind wrk sqlite3)")
    chosen = os.environ.get("SCENARIOS", ",".join(SCENARIOS)).split(",")
    # A server left on the port would answer in place of the one under callgrind.
    run.ports_free(run.PORT)
    work = pathlib.Path(tempfile.mkdtemp(prefix="parking-instructions-"))
    try:
        run.N = N
        seeded = work / "seeded.db"
        subprocess.run([binaries[0], "migrate", "--database", f"sqlite://{seeded}"], check=True,
                       stderr=subprocess.DEVNULL, env=run.service_env(work))
        run.seed(seeded, int(time.time() * 1000))
        rows = []
        for scenario in chosen:
            name, lua = SCENARIOS[scenario]
            for binary in binaries:
                run.log(f"{name}: {binary}")
                per_request, answers, detail = measure(binary, scenario, lua, seeded, work)
                rows.append((name, binary, per_request, answers))
                if os.environ.get("DETAIL"):
                    print(f"\n{name}, {binary}: inclusive instructions per request")
                    for count, function in detail:
                        print(f"{count:>12,.0f}  {function[:150]}")
        print("\n| scenario | binary | instructions / request | answers counted | / first binary |")
        print("| --- | --- | --- | --- | --- |")
        first = {}
        for name, binary, per_request, answers in rows:
            first.setdefault(name, per_request)
            print(f"| {name} | `{binary}` | {per_request:,.0f} | {answers:,} | {per_request / first[name]:.2f}× |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
