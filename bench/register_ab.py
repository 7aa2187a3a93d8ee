#!/usr/bin/env python3
"""Registration, builds against each other and against the inline insert, in alternating
rounds, at `synchronous=normal` (the goal `run.py` had not met: 1.25× the inline insert) or,
with `SYNCHRONOUS=full`, durable as shipped; measured as `run.py` measures it, with what says
where the time goes beside the throughput.

    python3 bench/register_ab.py BINARY [BINARY...]
    N=1000000 ROUNDS=2 python3 bench/register_ab.py /tmp/parking-old target/release/parking
    SYNCHRONOUS=full python3 bench/register_ab.py /tmp/parking-old target/release/parking
    PERF=/tmp/register.perf python3 bench/register_ab.py target/release/parking   # and profile it

Each round registers new plates for `SECONDS` (8) on every binary in turn and then on
`bench/bare_lookup.rs` (`cargo build --release --example bare_lookup`), each serving a fresh
copy of one seeded database (`N` vehicles, 100,000 by default, as `run.py` seeds them) with
`PARKING_SQLITE_SYNCHRONOUS` set to `SYNCHRONOUS` (the baseline commits at the same level),
request logs on and written to a file, pinned to CPU 0 with `wrk` (1 thread, 50 connections)
on CPU 1. Per server and round it prints answers per second, the server's CPU time per
registration (`/proc/PID/stat`) and its context switches per registration (voluntary and not,
every thread, `/proc/PID/task/*/status`): on one core, each trip to another thread (sqlx runs
every SQLite connection on a thread of its own) is two of them. Then the medians and their
ratios to the baseline. `PERF=FILE` records the first binary's first round with `perf record
-g` (cpu-clock) into FILE (`perf report -i FILE --sort comm,sym`; needs Debian's linux-perf).
"""

import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import run  # noqa: E402  (seeding, wrk scripts and helpers)

N = int(os.environ.get("N", "100000"))
SECONDS = int(os.environ.get("SECONDS", "8"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))
SYNCHRONOUS = os.environ.get("SYNCHRONOUS", "normal")
BASELINE = "baseline: inline insert, 1 txn/request"


def context_switches(pid):
    total = 0
    for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
        for line in (task / "status").read_text().splitlines():
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                total += int(line.split()[1])
    return total


def start(name, db, work, prefix):
    """The server under test on CPU 0, ready; its URL and the wrk script for new plates."""
    url = f"http://127.0.0.1:{run.PORT}"
    if name == BASELINE:
        command = [str(run.TARGET / "release/examples/bare_lookup"), str(db), f"127.0.0.1:{run.PORT}", SYNCHRONOUS]
        server = subprocess.Popen(["taskset", "-c", run.SERVER_CPU, *command],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        run.wait_ready(f"{url}/hello")
        return server, url, run.register_lua(prefix, "/vehicles")
    env = run.service_env(work, **run.LOAD_CAPS, PARKING_SQLITE_SYNCHRONOUS=SYNCHRONOUS)
    command = [name, "serve", "--bind", f"127.0.0.1:{run.PORT}", "--database", f"sqlite://{db}"]
    server = subprocess.Popen(["taskset", "-c", run.SERVER_CPU, *command], env=env,
                              stdout=open(work / "server.log", "ab"), stderr=subprocess.DEVNULL)
    run.wait_ready(f"{url}/health/ready", timeout=120)
    return server, url, run.register_lua(prefix)


def main():
    binaries = sys.argv[1:]
    if not binaries:
        raise SystemExit(__doc__)
    for tool in ("wrk", "sqlite3", "taskset"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is needed (apt-get install -y wrk sqlite3 util-linux)")
    if not (run.TARGET / "release/examples/bare_lookup").exists():
        raise SystemExit("build the baseline first: cargo build --release --example bare_lookup")
    if SYNCHRONOUS not in ("normal", "full"):
        raise SystemExit("SYNCHRONOUS is normal or full")
    run.ports_free(run.PORT)
    run.N = N
    work = pathlib.Path(tempfile.mkdtemp(prefix="parking-register-"))
    try:
        seeded = work / "seeded.db"
        subprocess.run([binaries[0], "migrate", "--database", f"sqlite://{seeded}"], check=True,
                       stderr=subprocess.DEVNULL, env=run.service_env(work))
        run.log(f"seeding {N:,} vehicles")
        run.seed(seeded, int(time.time() * 1000))
        rows = {}
        for round_no in range(1, ROUNDS + 1):
            for number, name in enumerate([*binaries, BASELINE]):
                db = work / "round.db"
                for suffix in ("", "-wal", "-shm"):
                    pathlib.Path(f"{db}{suffix}").unlink(missing_ok=True)
                shutil.copy2(seeded, db)
                server, url, lua = start(name, db, work, f"R{round_no}S{number}N")
                try:
                    time.sleep(0.5)
                    cpu, switches = run.proc_cpu(server.pid), context_switches(server.pid)
                    perf = None
                    if os.environ.get("PERF") and round_no == 1 and number == 0:
                        perf = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-g", "-p", str(server.pid),
                                                 "-o", os.environ["PERF"]],
                                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    result = run.Bench(work, server.pid).wrk(url, lua, seconds=SECONDS)
                    if perf is not None:
                        perf.send_signal(2)
                        perf.wait()
                    cpu, switches = run.proc_cpu(server.pid) - cpu, context_switches(server.pid) - switches
                finally:
                    server.terminate()
                    server.wait()
                answers = result["requests"]
                if result["errors"] or not answers:
                    raise SystemExit(f"{name}: {result['errors']} errors in {answers} answers")
                row = (answers / SECONDS, cpu / answers * 1e6, switches / answers)
                rows.setdefault(name, []).append(row)
                run.log(f"round {round_no}: {name}: {row[0]:,.0f}/s, {row[1]:.1f} µs CPU and "
                        f"{row[2]:.2f} context switches a registration")
        print(f"\n{N:,} vehicles, {ROUNDS} rounds of {SECONDS} s, {run.CONNECTIONS} connections, "
              f"synchronous={SYNCHRONOUS}.\n")
        print("| server | registrations/s per round | median | / baseline | CPU µs a registration | "
              "context switches a registration |")
        print("| --- | --- | --- | --- | --- | --- |")
        baseline = statistics.median(r[0] for r in rows[BASELINE])
        for name, figures in rows.items():
            median = statistics.median(r[0] for r in figures)
            print(f"| {name} | {', '.join(f'{r[0]:,.0f}' for r in figures)} | {median:,.0f} | "
                  f"{median / baseline:.2f}× | {statistics.median(r[1] for r in figures):.1f} | "
                  f"{statistics.median(r[2] for r in figures):.2f} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
