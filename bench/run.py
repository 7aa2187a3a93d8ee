#!/usr/bin/env python3
"""The parking service's load benchmark, in one command:

    python3 bench/run.py                       # 1,000,000 vehicles, 10 s per scenario
    N=100000 SECONDS_PER_SCENARIO=3 python3 bench/run.py   # a quick run

It builds the release binaries, seeds N vehicles straight into a fresh SQLite file (seeding is
not what is measured), starts the service as a user runs it — request logs on (JSON lines to a
file), durable commits (`synchronous=FULL`) — with only rate limiting off and the connection
caps raised, and runs each scenario for a fixed time: throughput, p50/p99/p99.9 latency,
errors, and the server's CPU time, plus start-up time, memory (when ready, and settled: see
`settled_rss`) and memory per idle live search.
Baselines run in the same session with the same load settings: the service's cheapest endpoint
(`GET /health/live`), and `bench/bare_lookup.rs` — one axum handler per operation with no
middleware: an indexed SQLite lookup, and a registration in a transaction of its own (durable,
and at `synchronous=NORMAL`). Registration is also measured on the service restarted with
`PARKING_SQLITE_SYNCHRONOUS=normal`. `/health/live` and the hello world are measured in turn,
`HEALTH_ROUNDS` (3) rounds of each, and their ratio is the median of the rounds' ratios. The
server is pinned to CPU 0 and the load generators to
CPU 1 (`taskset`); each scenario also reports the load generator's own CPU time. Results: a
table on standard output and `bench/results/latest.json`.

Needs wrk, sqlite3 and taskset (apt-get install -y wrk sqlite3 util-linux).
"""

import base64
import json
import math
import os
import pathlib
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
N = int(os.environ.get("N", "1000000"))
SECONDS = int(os.environ.get("SECONDS_PER_SCENARIO", "10"))
CONNECTIONS = int(os.environ.get("CONNECTIONS", "50"))
PURGE_WINDOW = int(os.environ.get("PURGE_WINDOW", "30"))
HEALTH_ROUNDS = int(os.environ.get("HEALTH_ROUNDS", "3"))
KEY = "bench-admin-key-0123456789abcdef"
PORT, BARE_PORT = 18770, 18771
SERVER_CPU, LOAD_CPU = "0", "1"
TICK = os.sysconf("SC_CLK_TCK")

# Plate i: two letters, two digits, three letters; the first five characters are a unique
# mixed-radix code of i (unique below 1,757,600). The Lua scripts compute the same plates.
PLATE_SQL = (
    "char(65 + i % 26) || char(65 + (i / 26) % 26) || ((i / 676) % 10) || ((i / 6760) % 10) || "
    "char(65 + (i / 67600) % 26) || char(65 + (i * 7 / 3) % 26) || char(65 + (i * 13 / 5) % 26)"
)
PLATE_LUA = """
local function plate(i)
  local function letter(n) return string.char(65 + n % 26) end
  local f = math.floor
  return letter(i) .. letter(f(i / 26)) .. (f(i / 676) % 10) .. (f(i / 6760) % 10)
    .. letter(f(i / 67600)) .. letter(f(i * 7 / 3)) .. letter(f(i * 13 / 5))
end
"""
REPORTER = """
done = function(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout
  io.write(string.format(
    'WRK_JSON {"requests": %d, "errors": %d, "seconds": %.3f, "rps": %.1f, ' ..
    '"p50_ms": %.3f, "p99_ms": %.3f, "p999_ms": %.3f, "max_ms": %.3f}\\n',
    summary.requests, errors, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency:percentile(99.9) / 1000, latency.max / 1000))
end
"""


def log(message):
    print(message, file=sys.stderr, flush=True)


def spread(n, fraction):
    """A multiplier near `fraction` of `n` sharing no factor with it: `(i * spread) % n` is then a
    permutation of 0..n that sends neighbours far apart."""
    step = max(1, round(n * fraction))
    while math.gcd(step, n) != 1:
        step += 1
    return step


def seed(db, now_ms):
    """N vehicles that entered 2 to 14 hours ago, and 1,000 live ones (L1..L1000) that stay
    when the retention period is cut to one hour for the purge scenario. Vehicle i (its id)
    gets plate j and name k, two permutations of 1..N that send consecutive vehicles far
    apart: registrations arrive in no order of plate or name, and the index, which numbers
    vehicles in the order it loads them, must not find its neighbours sharing plates' and
    names' characters, as they would if plate i were given to vehicle i. The plates are
    those `PLATE_LUA` makes of 1..N, as before."""
    plates, names = spread(N, 0.6180339887), spread(N, 0.4142135624)
    script = f"""
PRAGMA journal_mode = WAL;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {N}),
m AS (SELECT i AS row, (i * {plates}) % {N} + 1 AS i, (i * {names}) % {N} AS k FROM n),
p AS (SELECT row, i AS j, {PLATE_SQL} AS plate,
  (CASE k % 8 WHEN 0 THEN 'Ada' WHEN 1 THEN 'Grace' WHEN 2 THEN 'Alan' WHEN 3 THEN 'Edsger'
   WHEN 4 THEN 'Barbara' WHEN 5 THEN 'Ken' WHEN 6 THEN 'Margaret' ELSE 'Donald' END) || ' ' ||
  (CASE (k / 8) % 8 WHEN 0 THEN 'Lovelace' WHEN 1 THEN 'Hopper' WHEN 2 THEN 'Turing'
   WHEN 3 THEN 'Dijkstra' WHEN 4 THEN 'Liskov' WHEN 5 THEN 'Thompson' WHEN 6 THEN 'Hamilton'
   ELSE 'Knuth' END) AS name FROM m)
INSERT INTO vehicles (number_plate, plate_folded, contact_name, name_folded, phone_number,
                      entry_ms, created_ms, updated_ms)
SELECT plate, plate, name, lower(name), '+4420' || (79460000 + j),
       {now_ms} - 7200000 - (row * 43) % 43200000, {now_ms}, {now_ms} FROM p ORDER BY row;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
INSERT INTO vehicles (number_plate, plate_folded, contact_name, name_folded, phone_number,
                      entry_ms, created_ms, updated_ms)
SELECT 'L' || i, 'L' || i, 'Live Person', 'live person', '+442079460958',
       {now_ms} - 60000, {now_ms}, {now_ms} FROM n;
"""
    subprocess.run(["sqlite3", str(db)], input=script, text=True, check=True, stdout=subprocess.DEVNULL)


# Connection caps raised so that the load's many connections from one address and one key are
# all served (the WebSocket scenarios open thousands).
LOAD_CAPS = {"PARKING_WS_MAX_CONNECTIONS": "20000", "PARKING_WS_MAX_CONNECTIONS_PER_KEY": "20000",
             "PARKING_MAX_CONNECTIONS_PER_ADDRESS": "0"}


def build_binary(manifest, out):
    """Builds the release `parking` binary of the package at `manifest` and copies it to `out`."""
    # The target directory is named, so that a worktree's build lands where it is copied from
    # (a worktree's own would be `target/` inside it, built from cold).
    subprocess.run(["cargo", "build", "--release", "--quiet", "--manifest-path", str(manifest), "--bin", "parking",
                    "--target-dir", str(TARGET)], check=True)
    shutil.copy2(TARGET / "release/parking", out)


def build_at(rev, out, work):
    """The release `parking` binary of commit REV, built in a worktree of its own under `work`.

    Cargo names a workspace's build artifacts by their path within the workspace, so a
    worktree and this checkout share them in one target directory, and it judges them fresh
    by the files' modification times. After a build of the worktree (whose files are all
    new), a build of this checkout found none of its files newer than the artifact and kept
    REV's: measured, a "working tree" binary identical to REV's. The checkout's tracked files
    are therefore touched once the worktree is built, so that its next build, the caller's or
    a later `run.py`, is of its own source."""
    tree = work / "tree"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), rev], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        build_binary(tree / "Cargo.toml", out)
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=True)
        tracked = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], check=True,
                                 capture_output=True).stdout.decode().split("\0")
        for name in filter(None, tracked):
            path = ROOT / name
            if path.exists():
                os.utime(path)


def service_env(work, **settings):
    """The environment a benchmarked service runs in: this shell's without any `PARKING_*` or
    `RUST_LOG` of its own (the default log filter, as shipped), with rate limiting off (the load
    is one key), no scheduled jobs during the scenarios, and backups under `work`. `settings`
    adds or overrides."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARKING_") and k != "RUST_LOG"}
    env.update(PARKING_ADMIN_KEY=KEY, PARKING_RATE_LIMIT_PER_SEC="0", PARKING_BACKUP_INTERVAL_SECS="0",
               PARKING_PURGE_INTERVAL_SECS="86400", PARKING_BACKUP_DIR=str(work / "backups"))
    env.update(settings)
    return env


def proc_cpu(pid):
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def proc_mem_mib(pid, field):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def http(method, path, body=None):
    request = urllib.request.Request(f"http://127.0.0.1:{PORT}{path}", method=method, data=body)
    request.add_header("X-API-Key", KEY)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.loads(response.read() or b"null")


def ports_free(*ports):
    """Stops the run if something already listens on a port the benchmark serves on: it would
    answer in place of the server under test, whose own start would fail."""
    for port in ports:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                raise SystemExit(f"port {port} is already in use: stop what listens there first")


def wait_ready(url, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.01)
    raise SystemExit(f"{url} did not become ready")


class Bench:
    def __init__(self, work, server_pid):
        self.work = work
        self.server_pid = server_pid
        self.results = {}

    def measured(self, name, run, pid=None):
        """Runs one scenario, adding the server's CPU time and the load generator's."""
        pid = pid or self.server_pid
        log(f"scenario: {name}")
        server_before, client_before = proc_cpu(pid), children_cpu()
        result = run()
        result["server_cpu_s"] = round(proc_cpu(pid) - server_before, 2)
        result.setdefault("client_cpu_s", round(children_cpu() - client_before, 2))
        self.results[name] = result
        return result

    def wrk(self, url, lua, seconds=SECONDS, connections=CONNECTIONS):
        script = self.work / "scenario.lua"
        script.write_text(f'local key = "{KEY}"\nlocal n = {N}\n{PLATE_LUA}\n{lua}\n{REPORTER}')
        output = subprocess.run(
            ["taskset", "-c", LOAD_CPU, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url],
            capture_output=True, text=True, check=True,
        ).stdout
        line = next(l for l in output.splitlines() if l.startswith("WRK_JSON "))
        return json.loads(line.removeprefix("WRK_JSON "))

    def ws(self, connections, seconds=SECONDS):
        output = subprocess.run(
            ["taskset", "-c", LOAD_CPU, str(TARGET / "release/examples/ws_load"),
             f"ws://127.0.0.1:{PORT}/api/v1/ws/vehicles/search", KEY, str(connections), str(seconds)],
            capture_output=True, text=True, check=True,
        ).stdout
        result = json.loads(output.strip().splitlines()[-1])
        return {
            "rps": result["searches_per_sec"], "p50_ms": result["rtt_p50_ms"], "p99_ms": result["rtt_p99_ms"],
            "p999_ms": result["rtt_p999_ms"], "errors": result["errors"],
            "took_p50_ms": result["took_p50_ms"], "took_p99_ms": result["took_p99_ms"],
            "client_cpu_s": result["client_cpu_seconds"],
        }


GET_RANDOM = 'request = function() return wrk.format("GET", "/api/v1/vehicles/" .. plate(math.random(1, n)), {["X-API-Key"] = key}) end'
GET_LIVE = 'request = function() return wrk.format("GET", "/api/v1/vehicles/L" .. math.random(1, 1000), {["X-API-Key"] = key}) end'
BARE_RANDOM = 'request = function() return wrk.format("GET", "/plate/" .. plate(math.random(1, n))) end'
HEALTH = 'request = function() return wrk.format("GET", "/health/live") end'
HELLO = 'request = function() return wrk.format("GET", "/hello") end'
def register_lua(prefix, path="/api/v1/vehicles"):
    """Unique plates PREFIX1, PREFIX2, …: each scenario registers its own."""
    return f"""
local count = 0
request = function()
  count = count + 1
  local body = string.format('{{"number_plate":"{prefix}%d","contact_name":"Bench Driver","phone_number":"+44 20 7946 0958"}}', count)
  return wrk.format("POST", "{path}", {{["X-API-Key"] = key, ["Content-Type"] = "application/json"}}, body)
end
"""


IDLE_CONNECTIONS = int(os.environ.get("IDLE_CONNECTIONS", "2000"))


def idle_websockets(server_pid):
    """Server memory per idle live-search connection: IDLE_CONNECTIONS connections, each
    subscribed to a search, held silent; resident memory before and while they are open."""
    log(f"scenario: {IDLE_CONNECTIONS} idle live searches")
    before = proc_mem_mib(server_pid, "VmRSS")
    holder = subprocess.Popen(
        ["taskset", "-c", LOAD_CPU, str(TARGET / "release/examples/ws_load"),
         f"ws://127.0.0.1:{PORT}/api/v1/ws/vehicles/search", KEY, str(IDLE_CONNECTIONS), "60", "idle"],
        stdout=subprocess.PIPE, text=True)
    connected = json.loads(holder.stdout.readline())["idle_connected"]
    time.sleep(1)
    during = proc_mem_mib(server_pid, "VmRSS")
    holder.terminate()
    holder.wait()
    return {"connections": connected, "rss_before_mib": round(before, 1), "rss_during_mib": round(during, 1),
            "bytes_per_connection": round((during - before) * 2**20 / max(connected, 1))}


PAGE_SAMPLES = int(os.environ.get("PAGE_SAMPLES", "50"))


def page_search():
    """The operator page in headless Chromium (Debian's chromium and chromium-driver): a query
    typed a key every 60 ms, timed from the last key to the page showing its results."""
    if shutil.which("chromedriver") is None:
        log("page search: skipped, chromedriver is not installed (apt-get install -y chromium chromium-driver)")
        return None
    log(f"scenario: page search, {PAGE_SAMPLES} queries typed")
    output = subprocess.run(
        ["taskset", "-c", LOAD_CPU, str(TARGET / "release/examples/page_search"), f"http://127.0.0.1:{PORT}/",
         KEY, str(PAGE_SAMPLES)],
        capture_output=True, text=True, check=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def settled_rss(pid):
    """Resident memory once the allocator has given back what start-up freed. mimalloc returns
    freed pages to the system a second after they were freed (its `purge_delay`), when it
    next allocates: a server left idle after loading the index still counts the buffers the
    load grew and dropped. A second's rest, two seconds of `GET /health/live`, then the
    reading."""
    time.sleep(1.1)
    subprocess.run(["wrk", "-t1", "-c10", "-d2s", f"http://127.0.0.1:{PORT}/health/live"],
                   capture_output=True, check=True)
    return proc_mem_mib(pid, "VmRSS")


def list_lua(query):
    return f'request = function() return wrk.format("GET", "/api/v1/vehicles{query}", {{["X-API-Key"] = key}}) end'


def main():
    for tool in ("wrk", "sqlite3", "taskset", "cargo"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is needed (apt-get install -y wrk sqlite3 util-linux)")
    ports_free(PORT, BARE_PORT)
    started_all = time.monotonic()
    log("building release binaries")
    subprocess.run(["cargo", "build", "--release", "--quiet", "--manifest-path", str(ROOT / "Cargo.toml"),
                    "--bin", "parking", "--example", "ws_load", "--example", "bare_lookup", "--example", "page_search"],
                   check=True)
    binary = TARGET / "release/parking"
    work = pathlib.Path(tempfile.mkdtemp(prefix="parking-bench-"))
    db = work / "bench.db"
    # The configuration a user runs (request logs on, written to a file as a deployment would,
    # durable commits), except: rate limiting off (the load is one key), no scheduled jobs
    # during the scenarios, and connection caps raised for the WebSocket scenarios.
    env = service_env(work, **LOAD_CAPS)
    server_log = open(work / "server.log", "wb")
    server = bare = None

    def start_server(extra_env=None, pinned=True):
        # Started on its core, as the baselines are: the runtime starts one worker per core it
        # may use, as it would in a deployment given one core (pinned after start, it would
        # keep two workers time-slicing on one).
        command = [str(binary), "serve", "--bind", f"127.0.0.1:{PORT}", "--database", f"sqlite://{db}"]
        process = subprocess.Popen((["taskset", "-c", SERVER_CPU] if pinned else []) + command,
                                   env=dict(env, **(extra_env or {})), stdout=server_log, stderr=subprocess.DEVNULL)
        wait_ready(f"http://127.0.0.1:{PORT}/health/ready")
        return process

    def stop(process):
        process.terminate()
        process.wait()
    try:
        subprocess.run([str(binary), "migrate", "--database", f"sqlite://{db}"], env=env, check=True,
                       stderr=subprocess.DEVNULL)
        # The same server on an empty database: what it holds before any vehicle, so that the
        # index's own memory per vehicle can be told apart.
        empty_db = work / "empty.db"
        subprocess.run([str(binary), "migrate", "--database", f"sqlite://{empty_db}"], env=env, check=True,
                       stderr=subprocess.DEVNULL)
        empty = subprocess.Popen([str(binary), "serve", "--bind", f"127.0.0.1:{PORT}", "--database", f"sqlite://{empty_db}"],
                                 env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_ready(f"http://127.0.0.1:{PORT}/health/ready")
        time.sleep(0.5)
        rss_empty = proc_mem_mib(empty.pid, "VmRSS")
        rss_empty_settled = settled_rss(empty.pid)
        stop(empty)
        log(f"seeding {N:,} vehicles")
        seed_started = time.monotonic()
        seed(db, int(time.time() * 1000))
        seed_seconds = time.monotonic() - seed_started

        # Start-up is measured on both cores: nothing else runs yet.
        started = time.monotonic()
        server = start_server(pinned=False)
        startup_ms = (time.monotonic() - started) * 1000
        rss_after_start = proc_mem_mib(server.pid, "VmRSS")
        rss_settled = settled_rss(server.pid)
        stop(server)
        server = start_server()
        bench = Bench(work, server.pid)

        bare_url = f"http://127.0.0.1:{BARE_PORT}"
        for synchronous in ("full", "normal"):
            bare = subprocess.Popen(["taskset", "-c", SERVER_CPU, str(TARGET / "release/examples/bare_lookup"), str(db),
                                     f"127.0.0.1:{BARE_PORT}", synchronous], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_ready(f"{bare_url}/plate/L1")
            if synchronous == "full":
                # `/health/live` and the hello world in turn, round after round, each ratio
                # taken within a round: this machine's speed drifts by a third over minutes,
                # more than the difference measured.
                for round_ in range(1, HEALTH_ROUNDS + 1):
                    bench.measured(f"baseline: GET /health/live, round {round_}",
                                   lambda: bench.wrk(f"http://127.0.0.1:{PORT}", HEALTH))
                    bench.measured(f"baseline: bare axum hello world, round {round_}",
                                   lambda: bench.wrk(bare_url, HELLO), pid=bare.pid)
                bench.measured("baseline: bare lookup server", lambda: bench.wrk(bare_url, BARE_RANDOM), pid=bare.pid)
            bench.measured(f"baseline: bare insert, 1 txn/request, {synchronous}",
                           lambda: bench.wrk(bare_url, register_lua(f"B{synchronous[0].upper()}", "/vehicles")), pid=bare.pid)
            stop(bare)
            bare = None

        # Durable group commit (the default) against the same service with commits synced only
        # at checkpoints (`PARKING_SQLITE_SYNCHRONOUS=normal`, the setting before durability).
        bench.measured("register (durable, default)", lambda: bench.wrk(f"http://127.0.0.1:{PORT}", register_lua("RF")))
        stop(server)
        server = start_server({"PARKING_SQLITE_SYNCHRONOUS": "normal"})
        bench.server_pid = server.pid
        bench.measured("register (synchronous=normal)", lambda: bench.wrk(f"http://127.0.0.1:{PORT}", register_lua("RN")))
        stop(server)
        server = start_server()
        bench.server_pid = server.pid

        bench.measured("get by plate", lambda: bench.wrk(f"http://127.0.0.1:{PORT}", GET_RANDOM))
        bench.measured("list: first page (50)", lambda: bench.wrk(f"http://127.0.0.1:{PORT}", list_lua("")))
        middle = subprocess.run(["sqlite3", str(db), "SELECT entry_ms || ':' || id FROM vehicles "
                                 f"ORDER BY entry_ms DESC, id DESC LIMIT 1 OFFSET {N // 2}"],
                                capture_output=True, text=True, check=True).stdout.strip()
        cursor = base64.urlsafe_b64encode(f"d:{middle}".encode()).decode().rstrip("=")
        bench.measured("list: page at the middle (cursor)",
                       lambda: bench.wrk(f"http://127.0.0.1:{PORT}", list_lua(f"?cursor={cursor}")))
        bench.measured("live search: 1 connection", lambda: bench.ws(1))
        bench.measured(f"live search: {CONNECTIONS} connections", lambda: bench.ws(CONNECTIONS))
        idle = idle_websockets(server.pid)
        page = page_search()

        # Purge: cut retention to one hour so that every seeded vehicle has expired, then purge
        # while reading live plates.
        http("PUT", "/api/v1/config/retention", json.dumps({"retention_hours": 1}).encode())

        def purge_under_load():
            script = work / "scenario.lua"
            script.write_text(f'local key = "{KEY}"\nlocal n = {N}\n{PLATE_LUA}\n{GET_LIVE}\n{REPORTER}')
            reader = subprocess.Popen(["taskset", "-c", LOAD_CPU, "wrk", "-t1", f"-c{CONNECTIONS}", f"-d{PURGE_WINDOW}s",
                                       "-s", str(script), f"http://127.0.0.1:{PORT}"], stdout=subprocess.PIPE, text=True)
            time.sleep(1)
            purge_started = time.monotonic()
            report = http("POST", "/api/v1/maintenance/purge")
            purge_seconds = time.monotonic() - purge_started
            output, _ = reader.communicate()
            line = next(l for l in output.splitlines() if l.startswith("WRK_JSON "))
            result = json.loads(line.removeprefix("WRK_JSON "))
            result.update(purged=report["deleted"], purge_seconds=round(purge_seconds, 2))
            return result

        bench.measured(f"get by plate during purge of {N:,}", purge_under_load)
        peak_rss = proc_mem_mib(server.pid, "VmHWM")
        wal_mib = (db.with_name(db.name + "-wal").stat().st_size / 2**20) if db.with_name(db.name + "-wal").exists() else 0.0
    finally:
        for process in (server, bare):
            if process is not None:
                stop(process)
        server_log.close()
        log_lines = sum(1 for _ in open(work / "server.log", "rb")) if (work / "server.log").exists() else 0
        shutil.rmtree(work, ignore_errors=True)

    report(bench.results, {
        "vehicles": N, "seed_seconds": round(seed_seconds, 1), "startup_ms": round(startup_ms),
        "rss_after_start_mib": round(rss_after_start), "peak_rss_mib": round(peak_rss),
        "rss_empty_mib": round(rss_empty, 1), "rss_settled_mib": round(rss_settled),
        "rss_empty_settled_mib": round(rss_empty_settled, 1),
        "index_bytes_per_vehicle": round((rss_settled - rss_empty_settled) * 2**20 / (N + 1000)),
        "index_bytes_per_vehicle_at_ready": round((rss_after_start - rss_empty) * 2**20 / (N + 1000)),
        "wal_mib_at_end": round(wal_mib, 1), "seconds_per_scenario": SECONDS, "connections": CONNECTIONS,
        "machine": f"{os.cpu_count()} cores, {round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30)} GiB",
        "total_seconds": round(time.monotonic() - started_all), "request_log_lines": log_lines,
        "idle_websockets": idle, "page_search": page,
    })


def health_ratios_by_round(results):
    """`/health/live` over the hello world of the same round, round by round."""
    return [results[f"baseline: GET /health/live, round {r}"]["rps"]
            / results[f"baseline: bare axum hello world, round {r}"]["rps"]
            for r in range(1, HEALTH_ROUNDS + 1)]


def report(results, facts):
    health_ratios = health_ratios_by_round(results)
    health_ratio = statistics.median(health_ratios)
    bare = results["baseline: bare lookup server"]["rps"]
    get = results["get by plate"]
    search = results[f"live search: {CONNECTIONS} connections"]
    purge = results[f"get by plate during purge of {N:,}"]
    durable = results["register (durable, default)"]["rps"]
    normal = results["register (synchronous=normal)"]["rps"]
    bare_durable = results["baseline: bare insert, 1 txn/request, full"]["rps"]
    bare_normal = results["baseline: bare insert, 1 txn/request, normal"]["rps"]
    per_vehicle = facts["index_bytes_per_vehicle"]
    targets = [
        ("get by plate ≥ 1.0× bare lookup server", f"{get['rps'] / bare:.2f}×", get["rps"] >= bare),
        ("/health/live ≥ 0.8× bare hello world (median round)",
         f"{health_ratio:.2f}× ({', '.join(f'{r:.2f}' for r in health_ratios)})", health_ratio >= 0.8),
        ("durable register ≥ 1.25× bare durable 1 txn/request", f"{durable / bare_durable:.2f}×", durable >= 1.25 * bare_durable),
        ("register at normal ≥ 1.25× bare normal 1 txn/request", f"{normal / bare_normal:.2f}×", normal >= 1.25 * bare_normal),
        ("durable register ≥ 0.8× synchronous=normal", f"{durable / normal:.2f}×", durable >= 0.8 * normal),
        ("list first page p99 ≤ 5 ms", f"{results['list: first page (50)']['p99_ms']:.2f} ms", results["list: first page (50)"]["p99_ms"] <= 5),
        ("index memory ≤ 200 bytes per vehicle (settled)", f"{per_vehicle} B", per_vehicle <= 200),
        (f"purge of {N:,} ≤ 30 s", f"{purge['purge_seconds']:.1f} s", purge["purge_seconds"] <= 30),
        ("get by plate p99 ≤ 50 ms during purge", f"{purge['p99_ms']:.2f} ms", purge["p99_ms"] <= 50),
        ("start-up ≤ 2 s", f"{facts['startup_ms'] / 1000:.2f} s", facts["startup_ms"] <= 2000),
        ("resident memory ≤ 300 MiB (peak)", f"{facts['peak_rss_mib']} MiB", facts["peak_rss_mib"] <= 300),
        ("search took_us p99 ≤ 5 ms", f"{search['took_p99_ms']:.2f} ms", search["took_p99_ms"] <= 5),
        ("search round trip p99 ≤ 10 ms (50 conn)", f"{search['p99_ms']:.2f} ms", search["p99_ms"] <= 10),
        ("≥ 5,000 searches/s (50 conn)", f"{search['rps']:,.0f}/s", search["rps"] >= 5000),
    ]
    page = facts.get("page_search")
    if page:
        targets.append(("page: last key to results p99 ≤ 100 ms", f"{page['p99_ms']:.1f} ms", page["p99_ms"] <= 100))
    print(f"\n{facts['vehicles']:,} vehicles on {facts['machine']}; server on CPU {SERVER_CPU}, load on CPU {LOAD_CPU}; "
          f"{facts['seconds_per_scenario']} s per scenario, {facts['connections']} connections")
    print(f"start-up {facts['startup_ms']} ms (both cores), resident {facts['rss_after_start_mib']} MiB when ready "
          f"({facts['rss_empty_mib']} MiB on an empty database: {facts['index_bytes_per_vehicle_at_ready']} bytes per "
          f"vehicle), {facts['rss_settled_mib']} MiB settled ({facts['rss_empty_settled_mib']} MiB empty: {per_vehicle} "
          f"bytes per vehicle), peak {facts['peak_rss_mib']} MiB\n")
    column = max(len(name) for name in results) + 2
    print(f"{'scenario':<{column}}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'p99.9 ms':>10}{'errors':>8}{'server cpu s':>13}{'client cpu s':>13}")
    for name, r in results.items():
        print(f"{name:<{column}}{r['rps']:>10,.0f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}{r['p999_ms']:>10.2f}"
              f"{r['errors']:>8}{r['server_cpu_s']:>13.1f}{r['client_cpu_s']:>13.1f}")
    print(f"\npurge: {purge['purged']:,} rows in {purge['purge_seconds']:.1f} s; worst read during it {purge['max_ms']:.1f} ms")
    idle = facts["idle_websockets"]
    print(f"idle live searches: {idle['connections']:,} held, resident {idle['rss_before_mib']} → {idle['rss_during_mib']} MiB, "
          f"{idle['bytes_per_connection']:,} bytes per connection")
    print(f"request log: {facts['request_log_lines']:,} JSON lines written during the run")
    if page:
        print(f"page search (headless Chromium): last key to results p50 {page['last_key_to_results_p50_ms']:.1f} ms, "
              f"p99 {page['p99_ms']:.1f} ms over {page['samples']} typed queries")
    width = max(len(name) for name, _, _ in targets) + 2
    print(f"{'target':<{width}}{'measured':>24}  result")
    for name, measured, met in targets:
        print(f"{name:<{width}}{measured:>24}  {'met' if met else 'NOT MET'}")
    out = ROOT / "bench/results/latest.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"facts": facts, "scenarios": results,
                               "targets": [{"target": n, "measured": m, "met": ok} for n, m, ok in targets]}, indent=2) + "\n")
    print(f"\nwritten to {out.relative_to(ROOT)} in {facts['total_seconds']} s")


if __name__ == "__main__":
    main()
