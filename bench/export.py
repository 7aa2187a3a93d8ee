#!/usr/bin/env python3
"""The streamed CSV export at scale: time and memory of `GET /api/v1/vehicles/export.csv` on
the service as shipped (request logs on), against `sqlite3` writing the same rows as CSV from
the same file (the floor: no HTTP, no paging), in one run:

    python3 bench/export.py                  # 1,000,000 vehicles
    N=100000 python3 bench/export.py         # a quick run

The server is pinned to CPU 0 and curl (which saves the body) to CPU 1; sqlite3, which does
the server's part in the baseline, runs on CPU 0 too. The server's
peak resident memory is reset (`/proc/PID/clear_refs`) before each export and read after, so
the growth is what the export itself held. Every body is read back with Python's csv module:
a header and one row per vehicle, every plate once. Results: a table on standard output and
`bench/results/export.json`.
"""

import csv
import json
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import run  # noqa: E402  (the load benchmark's seeding and helpers)

BASELINE_SQL = """
.mode csv
.headers on
SELECT number_plate,
       strftime('%Y-%m-%dT%H:%M:%fZ', entry_ms / 1000.0, 'unixepoch') AS entry_timestamp,
       strftime('%Y-%m-%dT%H:%M:%fZ', (entry_ms + 86400000) / 1000.0, 'unixepoch') AS expires_at{personal}
FROM vehicles ORDER BY entry_ms, id;
"""


def rows_in(path, personal):
    """Reads a CSV body back; returns the number of vehicle rows, checking its shape."""
    columns = 5 if personal else 3
    plates = set()
    with open(path, newline="", encoding="utf-8") as body:
        reader = csv.reader(body)
        header = next(reader)
        assert len(header) == columns, header
        for row in reader:
            assert len(row) == columns, row
            plates.add(row[0])
    return len(plates)


def main():
    for tool in ("curl", "sqlite3", "taskset", "cargo"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is needed (apt-get install -y curl sqlite3 util-linux)")
    run.log("building the release binary")
    subprocess.run(["cargo", "build", "--release", "--quiet", "--manifest-path", str(run.ROOT / "Cargo.toml"),
                    "--bin", "parking"], check=True)
    binary = run.TARGET / "release/parking"
    work = pathlib.Path(tempfile.mkdtemp(prefix="parking-export-"))
    db = work / "bench.db"
    env = run.service_env(work)
    server_log = open(work / "server.log", "wb")
    server = None
    results = []
    try:
        subprocess.run([str(binary), "migrate", "--database", f"sqlite://{db}"], env=env, check=True,
                       stderr=subprocess.DEVNULL)
        run.log(f"seeding {run.N:,} vehicles")
        run.seed(db, int(time.time() * 1000))
        expected = run.N + 1000
        server = subprocess.Popen(["taskset", "-c", run.SERVER_CPU, str(binary), "serve", "--bind",
                                   f"127.0.0.1:{run.PORT}", "--database", f"sqlite://{db}"],
                                  env=env, stdout=server_log, stderr=subprocess.DEVNULL)
        run.wait_ready(f"http://127.0.0.1:{run.PORT}/health/ready")
        rss_start = run.proc_mem_mib(server.pid, "VmRSS")
        for personal in (False, True):
            label = "with names and phones" if personal else "plates and times"
            body = work / "export.csv"
            pathlib.Path(f"/proc/{server.pid}/clear_refs").write_text("5")
            rss_before = run.proc_mem_mib(server.pid, "VmRSS")
            cpu_before = run.proc_cpu(server.pid)
            started = time.monotonic()
            subprocess.run(["taskset", "-c", run.LOAD_CPU, "curl", "-sf", "-o", str(body), "-H", f"X-API-Key: {run.KEY}",
                            f"http://127.0.0.1:{run.PORT}/api/v1/vehicles/export.csv"
                            + ("?personal=true" if personal else "")], check=True)
            seconds = time.monotonic() - started
            cpu = run.proc_cpu(server.pid) - cpu_before
            peak = run.proc_mem_mib(server.pid, "VmHWM")
            size = body.stat().st_size
            rows = rows_in(body, personal)
            assert rows == expected, f"{rows} rows, {expected} vehicles"

            started = time.monotonic()
            with open(work / "baseline.csv", "wb") as out:
                subprocess.run(["taskset", "-c", run.SERVER_CPU, "sqlite3", "-readonly", str(db)],
                               input=BASELINE_SQL.format(personal=", contact_name, phone_number" if personal else "").encode(),
                               stdout=out, check=True)
            baseline_seconds = time.monotonic() - started
            assert rows_in(work / "baseline.csv", personal) == expected
            row = {
                "export": label, "rows": rows, "mib": round(size / 2**20, 1), "seconds": round(seconds, 2),
                "rows_per_s": round(rows / seconds), "server_cpu_s": round(cpu, 2),
                "baseline_seconds": round(baseline_seconds, 2), "ratio_to_baseline": round(baseline_seconds / seconds, 3),
                "rss_before_mib": round(rss_before, 1), "rss_peak_mib": round(peak, 1),
                "rss_growth_mib": round(peak - rss_before, 1),
            }
            results.append(row)
            run.log(f"{label}: {rows:,} rows, {row['mib']} MiB in {seconds:.2f} s; sqlite3 {baseline_seconds:.2f} s; "
                    f"peak memory +{row['rss_growth_mib']} MiB")
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        server_log.close()
        shutil.rmtree(work, ignore_errors=True)

    print(f"\n{run.N:,} vehicles (+1,000 live ones); server and sqlite3 on CPU {run.SERVER_CPU}, curl on CPU "
          f"{run.LOAD_CPU}; resident memory after start {rss_start:.0f} MiB\n")
    print(f"{'export':<24}{'rows':>11}{'MiB':>8}{'seconds':>9}{'rows/s':>11}{'sqlite3 s':>11}{'× sqlite3':>11}"
          f"{'peak +MiB':>11}")
    for row in results:
        print(f"{row['export']:<24}{row['rows']:>11,}{row['mib']:>8}{row['seconds']:>9.2f}{row['rows_per_s']:>11,}"
              f"{row['baseline_seconds']:>11.2f}{row['ratio_to_baseline']:>10.2f}×{row['rss_growth_mib']:>11}")
    out = run.ROOT / "bench/results/export.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"vehicles": run.N, "rss_after_start_mib": round(rss_start, 1), "exports": results},
                              indent=2) + "\n")
    print(f"written to {out.relative_to(run.ROOT)}")


if __name__ == "__main__":
    main()
