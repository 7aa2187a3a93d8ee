//! The `parking` binary as an operator runs it: logs, signals, crash durability, subcommands.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    process::{Child, Command},
    sync::oneshot,
};

const KEY: &str = "process-test-admin-key-42";

pub struct Server {
    child: Child,
    pub address: String,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
    /// The tasks reading the pipes: they end once the process has written its last line.
    readers: Vec<tokio::task::JoinHandle<()>>,
    /// The admin key it was started with: never to be found in its output.
    admin_key: Option<String>,
}

/// Whatever the test sent, a server's output may not hold anything shaped like personal data
/// or a key (see `log_scan::personal_shapes`): checked for every binary the tests start, over
/// every line read by the time it goes away (all of them after `stop`).
impl Drop for Server {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let mut lines = self.stdout.lock().unwrap().clone();
        lines.extend(self.stderr.lock().unwrap().iter().cloned());
        let secrets: Vec<String> = self.admin_key.iter().cloned().collect();
        let found = crate::log_scan::personal_shapes(&lines, &secrets);
        assert!(found.is_empty(), "the server's output holds {found:#?}");
    }
}

pub fn parking() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_parking"));
    // Only what each test sets: the developer's own PARKING_* variables must not leak in.
    command
        .env_clear()
        .current_dir(WORKING_DIR)
        .kill_on_drop(true);
    command
}

/// Where the binaries the tests start run: a relative default (the backup folder,
/// `./data/backups`, which readiness creates) lands in Cargo's scratch folder for tests, not in
/// the checkout.
const WORKING_DIR: &str = env!("CARGO_TARGET_TMPDIR");

pub fn database_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// Starts `parking serve` on a free port and waits for its "listening" log line.
async fn start(db: &Path, admin_key: Option<&str>) -> Server {
    start_with(db, admin_key, &[]).await
}

async fn start_with(db: &Path, admin_key: Option<&str>, env: &[(&str, &str)]) -> Server {
    start_command(parking(), &database_url(db), admin_key, env).await
}

/// Starts `parking serve` on the database at `url`.
pub async fn start_on(url: &str, admin_key: Option<&str>, env: &[(&str, &str)]) -> Server {
    start_command(parking(), url, admin_key, env).await
}

/// Starts `command` (the `parking` binary, or a wrapper that runs it) as `parking serve`.
async fn start_command(
    mut command: Command,
    url: &str,
    admin_key: Option<&str>,
    env: &[(&str, &str)],
) -> Server {
    // These tests send bursts with one key; a test's own settings win.
    command
        .current_dir(WORKING_DIR)
        .env("PARKING_RATE_LIMIT_PER_SEC", "0")
        .envs(env.iter().copied());
    command
        .args(["serve", "--bind", "127.0.0.1:0", "--database", url])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(key) = admin_key {
        command.env("PARKING_ADMIN_KEY", key);
    }
    let mut child = command.spawn().unwrap();
    let stdout = Arc::new(Mutex::new(Vec::new()));
    let stderr = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = oneshot::channel();
    let mut tx = Some(tx);
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    let out_lines = stdout.clone();
    let stdout_reader = tokio::spawn(async move {
        while let Ok(Some(line)) = out.next_line().await {
            if let Ok(event) = serde_json::from_str::<Value>(&line)
                && event["message"] == "listening"
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(event["address"].as_str().unwrap().to_owned());
            }
            out_lines.lock().unwrap().push(line);
        }
    });
    let mut err = BufReader::new(child.stderr.take().unwrap()).lines();
    let err_lines = stderr.clone();
    let stderr_reader = tokio::spawn(async move {
        while let Ok(Some(line)) = err.next_line().await {
            err_lines.lock().unwrap().push(line);
        }
    });
    let address = tokio::time::timeout(Duration::from_secs(30), rx)
        .await
        .expect("the server did not start")
        .unwrap();
    Server {
        child,
        address: format!("http://{address}"),
        stdout,
        stderr,
        readers: vec![stdout_reader, stderr_reader],
        admin_key: admin_key.map(str::to_owned),
    }
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Everything the server has written to standard output so far.
    pub fn pid(&self) -> u32 {
        self.child.id().unwrap()
    }

    pub fn stdout(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    /// Kills the server with SIGKILL and waits until it is gone.
    pub async fn kill(mut self) {
        self.signal("-KILL");
        let _ = self.child.wait().await;
    }

    fn signal(&self, name: &str) {
        let pid = self.child.id().unwrap().to_string();
        let status = std::process::Command::new("kill")
            .args([name, &pid])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Sends SIGTERM and returns the exit code.
    pub async fn stop(mut self) -> (Option<i32>, Vec<String>, Vec<String>) {
        self.signal("-TERM");
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("the server did not stop")
            .unwrap();
        // Every line the process wrote is read once the pipes close.
        for reader in std::mem::take(&mut self.readers) {
            tokio::time::timeout(Duration::from_secs(10), reader)
                .await
                .expect("the output pipes did not close")
                .unwrap();
        }
        let out = self.stdout.lock().unwrap().clone();
        let err = self.stderr.lock().unwrap().clone();
        (status.code(), out, err)
    }
}

async fn register(
    client: &reqwest::Client,
    server: &Server,
    key: &str,
    body: &Value,
) -> reqwest::Response {
    client
        .post(server.url("/api/v1/vehicles"))
        .header("X-API-Key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn logs_are_json_lines_with_request_ids_and_never_personal_data_or_keys() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("p.db"), Some(KEY)).await;
    let client = reqwest::Client::new();
    let body = json!({"number_plate": "QX99 LOG", "contact_name": "Zebediah Quux", "phone_number": "+44 20 7946 0321"});
    assert_eq!(register(&client, &server, KEY, &body).await.status(), 201);
    let got = client
        .get(server.url("/api/v1/vehicles/qx99log"))
        .header("X-API-Key", KEY)
        .header("X-Request-Id", "trace-me-1")
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), 200);
    // The privacy officer's routes (§9) log nothing personal either.
    let until = (chrono::Utc::now() + chrono::TimeDelta::days(1)).to_rfc3339();
    for (path, body) in [
        (
            "/api/v1/vehicles/qx99log/reveal",
            json!({"reason": "blocks the exit"}),
        ),
        (
            "/api/v1/vehicles/QX99%20LOG/hold",
            json!({"reason": "court order", "until": until}),
        ),
        (
            "/api/v1/subjects/search",
            json!({"number_plate": "QX99 LOG"}),
        ),
    ] {
        let answered = client
            .post(server.url(path))
            .header("X-API-Key", KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(answered.status(), 200, "{path}");
    }
    let bad = json!({"number_plate": "QX99LOG", "contact_name": "Zebediah\u{1}Quux", "phone_number": "+44 20 7946 0321 1"});
    assert_eq!(register(&client, &server, KEY, &bad).await.status(), 422);
    let url = server.url(&format!("/api/v1/vehicles?q=Zebediah&api_key={KEY}"));
    assert_eq!(
        client
            .get(url)
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        client
            .get(server.url("/api/v1/vehicles"))
            .header("X-API-Key", "pk_wrong-key-123")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );

    let erased = client
        .post(server.url("/api/v1/subjects/erase"))
        .header("X-API-Key", KEY)
        .json(&json!({"phone_number": "020 7946 0321", "confirm": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(erased.status(), 200);
    // The audit trail is scanned with the logs.
    let audit = get_json(&client, &server, "/api/v1/audit?limit=500").await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for action in [
        "vehicle.phone_revealed",
        "vehicle.held",
        "subject.searched",
        "subject.erased",
    ] {
        assert!(actions.contains(&action), "{action} not audited");
    }

    let (code, stdout, stderr) = server.stop().await;
    assert_eq!(code, Some(0), "SIGTERM ends the process cleanly");
    let events: Vec<Value> = stdout
        .iter()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect();
    let traced: Vec<&Value> = events
        .iter()
        .filter(|e| e["span"]["request_id"] == "trace-me-1")
        .collect();
    assert_eq!(traced.len(), 1, "one line per request");
    assert_eq!(traced[0]["span"]["route"], "/api/v1/vehicles/{plate}");
    assert_eq!(traced[0]["span"]["method"], "GET");
    assert_eq!(traced[0]["status"], 200);
    assert!(traced[0]["latency_ms"].is_number());
    let requests = events
        .iter()
        .filter(|e| e["message"] == "request completed")
        .count();
    assert_eq!(requests, 10);
    let all = format!("{}\n{}\n{audit}", stdout.join("\n"), stderr.join("\n"));
    for secret in [
        KEY,
        "pk_wrong-key-123",
        "Zebediah",
        "Quux",
        "2079460321",
        "9460321",
        "QX99",
        "qx99",
    ] {
        assert!(!all.contains(secret), "{secret} appears in the logs");
    }
}

/// A filter that names the request's span gets the span: here the request's line is let
/// through only inside it (`[request]=info`, everything else at `warn` but the start-up line),
/// so the line is there only if the span was opened.
#[tokio::test]
async fn a_log_filter_that_names_the_request_span_still_finds_it() {
    let dir = tempfile::tempdir().unwrap();
    let filter = "warn,parking::app=info,[request]=info";
    let server = start_with(&dir.path().join("p.db"), None, &[("RUST_LOG", filter)]).await;
    let answer = reqwest::Client::new()
        .get(server.url("/health/live"))
        .header("X-Request-Id", "named-span-1")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let (code, stdout, _) = server.stop().await;
    assert_eq!(code, Some(0));
    let lines: Vec<Value> = stdout
        .iter()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .filter(|e: &Value| e["span"]["request_id"] == "named-span-1")
        .collect();
    assert_eq!(lines.len(), 1, "{stdout:?}");
    assert_eq!(lines[0]["message"], "request completed");
    assert_eq!(
        lines[0]["span"],
        json!({"request_id": "named-span-1", "method": "GET", "route": "/health/live", "name": "request"})
    );
}

/// Lines leave through a writer thread; an operator following the log of a quiet server still
/// sees a request's line at once, not when more lines come or the server stops.
#[tokio::test]
async fn a_request_line_reaches_standard_output_while_the_server_runs() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("p.db"), None).await;
    let answer = reqwest::Client::new()
        .get(server.url("/health/live"))
        .header("X-Request-Id", "followed-1")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let sent = std::time::Instant::now();
    let line = loop {
        let found = server.stdout().into_iter().find(|line| {
            serde_json::from_str::<Value>(line)
                .is_ok_and(|event| event["span"]["request_id"] == "followed-1")
        });
        if let Some(line) = found {
            break line;
        }
        assert!(
            sent.elapsed() < Duration::from_secs(2),
            "no line for the request 2 s after its answer"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let event: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(event["message"], "request completed");
    assert_eq!(event["status"], 200);
    let (code, _, _) = server.stop().await;
    assert_eq!(code, Some(0));
}

#[tokio::test]
async fn acknowledged_registrations_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    let mut server = start(&db, Some(KEY)).await;
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let client = reqwest::Client::new();
    let mut writers = Vec::new();
    for writer in 0..8 {
        let (client, url, acknowledged, stop) = (
            client.clone(),
            server.url("/api/v1/vehicles"),
            acknowledged.clone(),
            stop.clone(),
        );
        writers.push(tokio::spawn(async move {
            for n in 0..10_000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let plate = format!("K{writer}N{n}");
                let body = json!({"number_plate": plate, "contact_name": "Crash Test", "phone_number": "+44 20 7946 0958"});
                match client.post(&url).header("X-API-Key", KEY).json(&body).send().await {
                    Ok(r) if r.status() == 201 => acknowledged.lock().unwrap().push(plate),
                    _ => break,
                }
            }
        }));
    }
    // Kill mid-stream, once a few hundred writes are acknowledged (or after 10 s).
    for _ in 0..1000 {
        if acknowledged.lock().unwrap().len() >= 300 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.signal("-KILL");
    server.child.wait().await.unwrap();
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= 100,
        "only {} writes before the kill",
        acknowledged.len()
    );

    let server = start(&db, Some(KEY)).await;
    for plate in &acknowledged {
        let response = client
            .get(server.url(&format!("/api/v1/vehicles/{plate}")))
            .header("X-API-Key", KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{plate} was acknowledged but lost");
    }
    server.stop().await;
}

#[tokio::test]
async fn the_first_start_prints_an_admin_key_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("first.db");
    let server = start(&db, None).await;
    // Printed before the listener starts; the pipe reader may still be catching up.
    let mut key = None;
    for _ in 0..500 {
        key = server
            .stderr
            .lock()
            .unwrap()
            .iter()
            .find(|l| l.starts_with("pk_"))
            .cloned();
        if key.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let key = key.expect("a key on stderr");
    let client = reqwest::Client::new();
    let response = client
        .get(server.url("/api/v1/vehicles"))
        .header("X-API-Key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (_, stdout, _) = server.stop().await;
    assert!(!stdout.join("\n").contains(&key), "the key is not logged");

    let server = start(&db, None).await;
    let (_, _, stderr) = server.stop().await;
    assert!(
        !stderr.iter().any(|l| l.starts_with("pk_")),
        "not printed again: {stderr:?}"
    );
}

pub async fn run(args: &[&str]) -> (i32, String, String) {
    run_with(args, &[]).await
}

pub async fn run_with(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let output = parking()
        .args(args)
        .envs(env.iter().copied())
        .output()
        .await
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[tokio::test]
async fn keys_are_created_listed_and_revoked_from_the_command_line_while_serving() {
    let dir = tempfile::tempdir().unwrap();
    let db: PathBuf = dir.path().join("keys.db");
    let url = database_url(&db);
    let server = start(&db, Some(KEY)).await;

    let (code, stdout, _) = run(&[
        "keys",
        "create",
        "--role",
        "operator",
        "--name",
        "front desk",
        "--database",
        &url,
    ])
    .await;
    assert_eq!(code, 0);
    let key = stdout.trim().to_owned();
    assert!(
        key.starts_with("pk_") && key.len() >= 46 && !key.contains('\n'),
        "{stdout:?}"
    );
    let client = reqwest::Client::new();
    let call = || {
        client
            .get(server.url("/api/v1/vehicles"))
            .header("X-API-Key", &key)
            .send()
    };
    assert_eq!(call().await.unwrap().status(), 200);

    let (code, listing, _) = run(&["keys", "list", "--database", &url]).await;
    assert_eq!(code, 0);
    let line = listing
        .lines()
        .find(|l| l.ends_with("front desk"))
        .expect("listed");
    assert!(
        line.contains("operator") && line.contains("active"),
        "{line}"
    );
    assert!(
        !listing.contains(&key) && !listing.contains(KEY),
        "secrets are never listed"
    );
    let id = line.split_whitespace().next().unwrap();

    let (code, _, _) = run(&["keys", "revoke", id, "--database", &url]).await;
    assert_eq!(code, 0);
    // Another process revoked it: the server's one-second key cache lets it through at most
    // that long.
    let revoked_at = std::time::Instant::now();
    while call().await.unwrap().status() != 401 {
        assert!(
            revoked_at.elapsed() < Duration::from_secs(3),
            "revocation never applied"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(revoked_at.elapsed() < Duration::from_millis(1500));
    let (_, listing, _) = run(&["keys", "list", "--database", &url]).await;
    assert!(
        listing
            .lines()
            .any(|l| l.ends_with("front desk") && l.contains("revoked"))
    );

    let (code, _, stderr) = run(&["keys", "revoke", "9999", "--database", &url]).await;
    assert_ne!(code, 0);
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    server.stop().await;
}

#[tokio::test]
async fn migrate_creates_the_database_and_bad_settings_fail_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nested/dir/m.db");
    let (code, _, _) = run(&["migrate", "--database", &database_url(&db)]).await;
    assert_eq!(code, 0);
    assert!(db.exists());

    /// Arguments, environment, and what the one-line error must name.
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let failures: [Case; 5] = [
        (&["serve", "--bind", "nowhere"], &[], "PARKING_BIND"),
        (
            &["serve"],
            &[("PARKING_DATABASE_URL", "mysql://db")],
            "PARKING_DATABASE_URL",
        ),
        (
            &["serve"],
            &[("PARKING_PURGE_INTERVAL_SECS", "soon")],
            "PURGE_INTERVAL_SECS",
        ),
        (
            &["serve"],
            &[("PARKING_DEFAULT_PHONE_REGION", "XX")],
            "PARKING_DEFAULT_PHONE_REGION",
        ),
        (
            &["serve", "--config", "/nonexistent/parking.toml"],
            &[],
            "config file",
        ),
    ];
    for (args, env, expected) in failures {
        let (code, _, stderr) = run_with(args, env).await;
        assert_eq!(code, 1, "{args:?} {env:?}");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains(expected), "{expected} not in {stderr}");
    }
}

#[tokio::test]
async fn settings_come_from_flag_then_environment_then_file() {
    let dir = tempfile::tempdir().unwrap();
    let file_db = dir.path().join("from-file.db");
    let env_db = dir.path().join("from-env.db");
    let flag_db = dir.path().join("from-flag.db");
    let config = dir.path().join("parking.toml");
    std::fs::write(
        &config,
        format!("database_url = \"{}\"\n", database_url(&file_db)),
    )
    .unwrap();
    let config = config.to_str().unwrap();

    let migrate = |env: Option<&Path>, flag: Option<&Path>| {
        let mut command = parking();
        command.args(["migrate", "--config", config]);
        if let Some(env) = env {
            command.env("PARKING_DATABASE_URL", database_url(env));
        }
        if let Some(flag) = flag {
            command.args(["--database", &database_url(flag)]);
        }
        async move { command.status().await.unwrap() }
    };
    assert!(migrate(None, None).await.success());
    assert!(file_db.exists() && !env_db.exists());
    assert!(migrate(Some(&env_db), None).await.success());
    assert!(env_db.exists() && !flag_db.exists());
    assert!(migrate(Some(&env_db), Some(&flag_db)).await.success());
    assert!(flag_db.exists());
}

/// GETs a path with the admin key and returns the JSON body.
async fn get_json(client: &reqwest::Client, server: &Server, path: &str) -> Value {
    let response = client
        .get(server.url(path))
        .header("X-API-Key", KEY)
        .send()
        .await
        .unwrap();
    response.json().await.unwrap()
}

async fn all_vehicles(client: &reqwest::Client, server: &Server) -> Vec<Value> {
    let page = get_json(client, server, "/api/v1/vehicles?limit=500&order=entry_asc").await;
    page["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn backup_and_restore_round_trip_and_restore_refuses_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("live.db");
    let url = database_url(&db);
    let backup = dir.path().join("copy.db");
    let server = start(&db, Some(KEY)).await;
    let client = reqwest::Client::new();
    for plate in ["RST1", "RST2", "RST3"] {
        let body = json!({"number_plate": plate, "contact_name": "Round Trip", "phone_number": "+44 20 7946 0958"});
        assert_eq!(register(&client, &server, KEY, &body).await.status(), 201);
    }
    // The capacity, a watched plate and the occupancy counts of a departure travel too.
    let admin = |method: reqwest::Method, path: &str| {
        client
            .request(method, server.url(path))
            .header("X-API-Key", KEY)
    };
    let left = admin(reqwest::Method::DELETE, "/api/v1/vehicles/RST3")
        .send()
        .await
        .unwrap();
    assert_eq!(left.status(), 204);
    let capacity = admin(reqwest::Method::PUT, "/api/v1/config/capacity")
        .json(&json!({"capacity": 50}))
        .send()
        .await
        .unwrap();
    assert_eq!(capacity.status(), 200);
    let watched = admin(reqwest::Method::PUT, "/api/v1/watchlist/WATCH1")
        .json(&json!({"note": "travels with the backup"}))
        .send()
        .await
        .unwrap();
    assert_eq!(watched.status(), 201);
    let occupancy_before: Value = admin(reqwest::Method::GET, "/api/v1/occupancy?hours=2")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(occupancy_before["series"][1]["exits"], 1);
    let before = all_vehicles(&client, &server).await;

    // A backup while the server keeps serving; the same command again must not overwrite it.
    let backup_to_file = [
        "backup",
        "--out",
        backup.to_str().unwrap(),
        "--database",
        &url,
    ];
    let (code, stdout, _) = run(&backup_to_file).await;
    assert_eq!(code, 0);
    assert_eq!(stdout.trim(), backup.to_str().unwrap());
    let (code, _, stderr) = run(&backup_to_file).await;
    assert_ne!(code, 0, "an existing file is not overwritten: {stderr}");

    let later = json!({"number_plate": "AFTER1", "contact_name": "Too Late", "phone_number": "+44 20 7946 0958"});
    assert_eq!(register(&client, &server, KEY, &later).await.status(), 201);

    let backups = dir.path().join("backups");
    let env = [("PARKING_BACKUP_DIR", backups.to_str().unwrap())];
    let restore = |file: PathBuf| {
        let url = url.clone();
        async move {
            run_with(
                &["restore", file.to_str().unwrap(), "--database", &url],
                &env,
            )
            .await
        }
    };
    let (code, _, stderr) = restore(backup.clone()).await;
    assert_ne!(code, 0);
    assert!(stderr.contains("a server is using"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1);
    server.stop().await;

    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, b"not a database at all").unwrap();
    let (code, _, stderr) = restore(garbage).await;
    assert_ne!(code, 0, "{stderr}");

    let (code, stdout, stderr) = restore(backup.clone()).await;
    assert_eq!(code, 0, "{stderr}");
    // The replaced database is a backup like any other: private, verified, rotated.
    let saved: Vec<PathBuf> = std::fs::read_dir(&backups)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(saved.len(), 1, "{saved:?}");
    let saved = &saved[0];
    assert!(saved.to_str().unwrap().ends_with("-pre-restore.db"));
    assert!(stderr.contains(saved.to_str().unwrap()), "{stderr}");
    assert_eq!(mode(saved), 0o600);
    assert_eq!(mode(&db), 0o600);
    let check = database_url(&dir.path().join("check.db"));
    // With the test's own backup folder: the default one is under the working directory,
    // which is the checkout's when tests run.
    let (code, _, stderr) = run_with(
        &["restore", saved.to_str().unwrap(), "--database", &check],
        &env,
    )
    .await;
    assert_eq!(code, 0, "the saved database is a valid backup: {stderr}");
    let mut saved_rows = crate::helpers::open_file(&dir.path().join("check.db")).await;
    let after: i64 =
        sqlx::query_scalar("SELECT count(*) FROM vehicles WHERE number_plate = 'AFTER1'")
            .fetch_one(&mut saved_rows)
            .await
            .unwrap();
    assert_eq!(after, 1, "the saved database holds what the backup did not");
    let left_behind: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains("replaced") || n.contains("restoring") || n.starts_with("live.db-"))
        .collect();
    assert!(left_behind.is_empty(), "{left_behind:?}");
    // The keys the restored database lets in are listed.
    assert!(
        stdout.contains("PARKING_ADMIN_KEY") && stdout.contains("active"),
        "{stdout}"
    );

    let server = start(&db, Some(KEY)).await;
    assert_eq!(
        all_vehicles(&client, &server).await,
        before,
        "the same rows as when backed up"
    );
    let get = |path: &str| client.get(server.url(path)).header("X-API-Key", KEY).send();
    let occupancy: Value = get("/api/v1/occupancy?hours=2")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(occupancy, occupancy_before);
    let watched: Value = get("/api/v1/watchlist/WATCH1")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(watched["note"], "travels with the backup");
    server.stop().await;
}

pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn the_scheduled_jobs_purge_and_back_up_on_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("jobs.db");
    let backups = dir.path().join("backups");
    let env = [
        ("PARKING_PURGE_INTERVAL_SECS", "1"),
        ("PARKING_BACKUP_INTERVAL_SECS", "1"),
        ("PARKING_BACKUP_KEEP", "2"),
        ("PARKING_BACKUP_DIR", backups.to_str().unwrap()),
    ];
    let server = start_with(&db, Some(KEY), &env).await;
    let client = reqwest::Client::new();
    let entry = (chrono::Utc::now() - chrono::TimeDelta::hours(2)).to_rfc3339();
    let body = json!({"number_plate": "JOB1", "contact_name": "Old Entry", "phone_number": "+44 20 7946 0958", "entry_timestamp": entry});
    assert_eq!(register(&client, &server, KEY, &body).await.status(), 201);
    let response = client
        .put(server.url("/api/v1/config/retention"))
        .header("X-API-Key", KEY)
        .json(&json!({"retention_hours": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // Poll (bounded) until the jobs have acted; nothing here triggers them.
    let mut purged = false;
    let mut scheduled = 0;
    for _ in 0..100 {
        let page = get_json(&client, &server, "/api/v1/audit?action=vehicles.purged").await;
        purged = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["actor"] == "system" && e["details"]["deleted"] == 1);
        scheduled = std::fs::read_dir(&backups)
            .map(|d| {
                d.filter(|e| {
                    e.as_ref()
                        .unwrap()
                        .file_name()
                        .to_string_lossy()
                        .ends_with("-scheduled.db")
                })
                .count()
            })
            .unwrap_or(0);
        if purged && scheduled >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(purged, "the purge job never ran");
    assert!(scheduled >= 1, "the backup job never ran");
    let (code, _, _) = server.stop().await;
    assert_eq!(code, Some(0));
    let scheduled = std::fs::read_dir(&backups).unwrap().count();
    assert!(
        scheduled <= 2,
        "rotation keeps at most PARKING_BACKUP_KEEP scheduled backups, found {scheduled}"
    );
}

#[tokio::test]
async fn purge_runs_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cli-purge.db");
    let url = database_url(&db);
    let (code, _, stderr) = run(&["purge", "--database", &url]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("deleted 0 expired vehicle(s)"), "{stderr}");
}

#[tokio::test]
async fn a_server_out_of_file_descriptors_recovers_once_slow_clients_are_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    // 256 descriptors, no per-address cap: 300 clients that never finish their headers use up
    // every descriptor the server has.
    let mut limited = Command::new("prlimit");
    limited
        .arg("--nofile=256:256")
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_parking"))
        .env_clear()
        .kill_on_drop(true);
    let server = start_command(
        limited,
        &database_url(&dir.path().join("parking.db")),
        Some(KEY),
        &[
            ("PARKING_HEADER_READ_TIMEOUT_SECS", "2"),
            ("PARKING_MAX_CONNECTIONS_PER_ADDRESS", "0"),
        ],
    )
    .await;
    let address = server.address.trim_start_matches("http://").to_owned();
    let mut slow = Vec::new();
    for _ in 0..300 {
        if let Ok(mut stream) = tokio::net::TcpStream::connect(&address).await {
            let _ = stream
                .write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\n")
                .await;
            slow.push(stream);
        }
    }
    // Each slow client is cut off after the header deadline, and the server accepts again.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let started = tokio::time::Instant::now();
    let health = client.get(server.url("/health/live")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert!(started.elapsed() < Duration::from_secs(15));
    let (code, stdout, _) = server.stop().await;
    assert_eq!(code, Some(0));
    assert!(
        stdout
            .iter()
            .any(|line| line.contains("cannot accept a connection")),
        "the descriptors never ran out, so this test proved nothing"
    );
    drop(slow);
}
