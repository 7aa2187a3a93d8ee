#!/usr/bin/env python3
"""What exporting traces costs: the service as shipped (request logs on, durable commits) with
`PARKING_OTLP_ENDPOINT` unset (the default) and set, in one run, alternating so that drift on
a noisy machine falls on both sides:

    python3 bench/traces.py                     # 1,000,000 vehicles, 10 s per scenario, 2 rounds
    N=100000 SECONDS_PER_SCENARIO=3 ROUNDS=1 python3 bench/traces.py   # a quick run

The collector is `bench/otlp_sink.rs`, which accepts every export at once, on the load
generator's core; the server is pinned to the other. With traces on, every request is
sampled (the default ratio of 1), so each one exports its request, handler and store spans.
Results: a table on standard output and `bench/results/traces.json`.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import run  # noqa: E402  (the load benchmark's seeding, load generator and scenarios)

ROUNDS = int(os.environ.get("ROUNDS", "2"))
SINK_PORT = 18772


def metric(name):
    with urllib.request.urlopen(f"http://127.0.0.1:{run.PORT}/metrics", timeout=10) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[-1])
    return 0.0


def main():
    for tool in ("wrk", "sqlite3", "taskset", "cargo"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is needed (apt-get install -y wrk sqlite3 util-linux)")
    run.log("building release binaries")
    subprocess.run(["cargo", "build", "--release", "--quiet", "--manifest-path", str(run.ROOT / "Cargo.toml"),
                    "--bin", "parking", "--example", "otlp_sink"], check=True)
    binary = run.TARGET / "release/parking"
    work = pathlib.Path(tempfile.mkdtemp(prefix="parking-traces-"))
    db = work / "bench.db"
    env = {k: v for k, v in run.service_env(work, PARKING_MAX_CONNECTIONS_PER_ADDRESS="0").items()
           if not k.startswith("OTEL_")}
    traced = {"PARKING_OTLP_ENDPOINT": f"http://127.0.0.1:{SINK_PORT}"}
    sampled = dict(traced, PARKING_OTLP_SAMPLE_RATIO="0.1")
    server_log = open(work / "server.log", "wb")
    server = sink = None
    results = {}
    spans = {"exported": 0.0, "dropped": 0.0}

    def start_server(extra_env):
        process = subprocess.Popen(["taskset", "-c", run.SERVER_CPU, str(binary), "serve",
                                    "--bind", f"127.0.0.1:{run.PORT}", "--database", f"sqlite://{db}"],
                                   env=dict(env, **extra_env), stdout=server_log, stderr=subprocess.DEVNULL)
        run.wait_ready(f"http://127.0.0.1:{run.PORT}/health/ready")
        return process

    def stop(process):
        process.terminate()
        process.wait()

    try:
        subprocess.run([str(binary), "migrate", "--database", f"sqlite://{db}"], env=env, check=True,
                       stderr=subprocess.DEVNULL)
        run.log(f"seeding {run.N:,} vehicles")
        run.seed(db, int(time.time() * 1000))
        sink = subprocess.Popen(["taskset", "-c", run.LOAD_CPU, str(run.TARGET / "release/examples/otlp_sink"),
                                 f"127.0.0.1:{SINK_PORT}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for round_number in range(1, ROUNDS + 1):
            for mode, extra in (("off", {}), ("on", traced), ("on, 10% sampled", sampled)):
                server = start_server(extra)
                bench = run.Bench(work, server.pid)
                url = f"http://127.0.0.1:{run.PORT}"
                scenarios = {
                    "get by plate": run.GET_RANDOM,
                    "register": run.register_lua(f"T{len(mode)}R{round_number}X"),
                }
                for name, lua in scenarios.items():
                    result = bench.measured(f"{name}, traces {mode}, round {round_number}",
                                            lambda lua=lua: bench.wrk(url, lua))
                    results.setdefault((name, mode), []).append(result)
                if mode != "off":
                    time.sleep(1.5)  # the last batch leaves within a second
                    spans["exported"] += metric("parking_trace_spans_exported_total")
                    spans["dropped"] += metric("parking_trace_spans_dropped_total")
                stop(server)
                server = None
        with urllib.request.urlopen(f"http://127.0.0.1:{SINK_PORT}/stats", timeout=5) as response:
            sink_stats = json.loads(response.read())
    finally:
        for process in (server, sink):
            if process is not None:
                stop(process)
        server_log.close()
        shutil.rmtree(work, ignore_errors=True)

    def mean(name, mode, field):
        values = [r[field] for r in results[(name, mode)]]
        return sum(values) / len(values)

    rows = []
    print(f"\n{run.N:,} vehicles; server on CPU {run.SERVER_CPU}, load and collector on CPU {run.LOAD_CPU}; "
          f"{run.SECONDS} s per scenario, {run.CONNECTIONS} connections, {ROUNDS} round(s) alternating off/on\n")
    print(f"{'scenario':<16}{'traces':<18}{'req/s':>9}{'× off':>8}{'p99 ms':>9}{'cpu µs/req':>12}{'errors':>8}")
    for name in ("get by plate", "register"):
        off_rps = mean(name, "off", "rps")
        for mode in ("off", "on", "on, 10% sampled"):
            runs = results[(name, mode)]
            rps = mean(name, mode, "rps")
            cpu = sum(r["server_cpu_s"] for r in runs) / sum(r["requests"] for r in runs) * 1e6
            row = {"scenario": name, "traces": mode, "rps": round(rps), "ratio_to_off": round(rps / off_rps, 3),
                   "p99_ms": round(mean(name, mode, "p99_ms"), 2), "cpu_us_per_request": round(cpu, 1),
                   "errors": sum(r["errors"] for r in runs)}
            rows.append(row)
            print(f"{name:<16}{mode:<18}{rps:>9,.0f}{rps / off_rps:>7.2f}×{row['p99_ms']:>9.2f}{cpu:>12.1f}"
                  f"{row['errors']:>8}")
    print(f"\nspans exported {spans['exported']:,.0f}, dropped {spans['dropped']:,.0f}; "
          f"the collector received {sink_stats['requests']:,} exports, {sink_stats['bytes'] / 2**20:,.1f} MiB")
    out = run.ROOT / "bench/results/traces.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({
        "vehicles": run.N, "seconds_per_scenario": run.SECONDS, "connections": run.CONNECTIONS, "rounds": ROUNDS,
        "scenarios": rows, "spans": spans, "collector": sink_stats,
        "raw": {f"{name}, traces {mode}": r for (name, mode), r in results.items()},
    }, indent=2) + "\n")
    print(f"written to {out.relative_to(run.ROOT)}")


if __name__ == "__main__":
    main()
