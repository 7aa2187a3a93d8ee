#!/usr/bin/env python3
"""Where registration waits on the disk: `run.py`'s registration sequence (durable, then the
server restarted at `synchronous=normal`) on one binary, with every thread of the server
sampled during the `normal` run.

    python3 bench/stalls.py target/release/parking
    N=100000 DURABLE_FIRST=0 python3 bench/stalls.py target/release/parking

Seeds `N` vehicles (1,000,000 by default, as `run.py` does), registers new plates for 10 s
durably (skipped with `DURABLE_FIRST=0`), restarts the server with
`PARKING_SQLITE_SYNCHRONOUS=normal` and registers for 10 s more, pinned and loaded as in
`run.py`. Meanwhile, every 5 ms, it reads each thread's state (`/proc/PID/task/TID/stat`) and,
for a thread waiting on the disk (state `D`), the system call it waits in (from its kernel
stack, `/proc/PID/task/TID/stack`, which needs root). Prints the `normal` run's throughput,
p99 and server CPU time, then per thread the share of samples in each state and where its
disk waits were. On one core, "runnable" is running or waiting for the core.
"""

import collections
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import run  # noqa: E402  (seeding, wrk scripts and helpers)

N = int(os.environ.get("N", "1000000"))


def threads(pid):
    for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            state = (task / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        yield task, f"{name} ({task.name})", state


def blocked_in(task):
    try:
        frames = [line.split()[1].split("+")[0] for line in (task / "stack").read_text().splitlines()]
    except (OSError, IndexError):
        return "?"
    return next((f.removeprefix("__x64_sys_") for f in frames if f.startswith("__x64_sys_")), "?")


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    binary = sys.argv[1]
    run.ports_free(run.PORT)
    run.N = N
    work = pathlib.Path(tempfile.mkdtemp(prefix="parking-stalls-"))
    url = f"http://127.0.0.1:{run.PORT}"

    def start(synchronous):
        env = run.service_env(work, **run.LOAD_CAPS, PARKING_SQLITE_SYNCHRONOUS=synchronous)
        server = subprocess.Popen(["taskset", "-c", run.SERVER_CPU, binary, "serve", "--bind", f"127.0.0.1:{run.PORT}",
                                   "--database", f"sqlite://{work / 'stalls.db'}"], env=env,
                                  stdout=open(work / "server.log", "ab"), stderr=subprocess.DEVNULL)
        run.wait_ready(f"{url}/health/ready", timeout=300)
        return server

    try:
        subprocess.run([binary, "migrate", "--database", f"sqlite://{work / 'stalls.db'}"], check=True,
                       stderr=subprocess.DEVNULL, env=run.service_env(work))
        run.log(f"seeding {N:,} vehicles")
        run.seed(work / "stalls.db", int(time.time() * 1000))
        if os.environ.get("DURABLE_FIRST", "1") == "1":
            server = start("full")
            try:
                result = run.Bench(work, server.pid).wrk(url, run.register_lua("SF"))
                run.log(f"durable: {result['rps']:,.0f}/s")
            finally:
                server.terminate()
                server.wait()
        server = start("normal")
        states = collections.Counter()
        waits = collections.Counter()
        samples = 0
        done = threading.Event()

        def sample():
            nonlocal samples
            while not done.is_set():
                samples += 1
                for task, name, state in threads(server.pid):
                    states[(name, state)] += 1
                    if state == "D":
                        waits[(name, blocked_in(task))] += 1
                time.sleep(0.005)

        try:
            sampler = threading.Thread(target=sample)
            sampler.start()
            cpu = run.proc_cpu(server.pid)
            result = run.Bench(work, server.pid).wrk(url, run.register_lua("SN"))
            cpu = run.proc_cpu(server.pid) - cpu
            done.set()
            sampler.join()
        finally:
            done.set()
            server.terminate()
            server.wait()
        print(f"\nsynchronous=normal: {result['rps']:,.0f} registrations/s, p99 {result['p99_ms']:.1f} ms, "
              f"server CPU {cpu:.1f} s of {run.SECONDS}; {samples:,} samples of every thread\n")
        print("| thread | runnable | sleeping | waiting on the disk | disk waits in |")
        print("| --- | --- | --- | --- | --- |")
        for name in sorted({name for name, _ in states}):
            share = {state: states[(name, state)] / samples for state in "RSD"}
            where = ", ".join(f"{call} {count / samples:.0%}" for (who, call), count in waits.most_common()
                              if who == name)
            print(f"| {name} | {share['R']:.0%} | {share['S']:.0%} | {share['D']:.0%} | {where or '—'} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
