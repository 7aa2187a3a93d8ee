//! PostgreSQL or Redis stopped and started again under a running server: readiness says so,
//! nothing acknowledged is lost, and the server recovers without a restart. Each test starts a
//! private PostgreSQL cluster or Redis (another port, a temporary folder): the machine's
//! shared services, which other tests use, are never stopped.

use std::{
    collections::BTreeSet,
    path::PathBuf,
    process::Stdio,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::process::start_on;

const KEY: &str = "outage-admin-key-0123456789abcdef";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A PostgreSQL cluster of the test's own, run as the `postgres` user (PostgreSQL refuses to
/// run as root).
struct PrivatePostgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
}

impl PrivatePostgres {
    async fn start() -> Self {
        let bindir = std::process::Command::new("pg_config")
            .arg("--bindir")
            .output()
            .expect("PostgreSQL's server binaries are needed (pg_config)");
        let bin = PathBuf::from(String::from_utf8(bindir.stdout).unwrap().trim());
        let dir = tempfile::tempdir().unwrap();
        let (uid, gid) = postgres_ids();
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
        let cluster = Self {
            bin,
            dir,
            port: free_port(),
        };
        cluster
            .as_postgres(
                "initdb",
                &["-D", &cluster.data(), "-A", "trust", "-U", "postgres"],
            )
            .await;
        cluster.start_again().await;
        let created = Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &cluster.port.to_string(),
                "-U",
                "postgres",
            ])
            .args(["-c", "CREATE DATABASE parking"])
            .stdout(Stdio::null())
            .status()
            .await
            .unwrap();
        assert!(created.success());
        cluster
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/parking", self.port)
    }

    async fn as_postgres(&self, tool: &str, args: &[&str]) {
        let status = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join(tool))
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await
            .unwrap();
        assert!(status.success(), "{tool} {args:?} failed");
    }

    async fn start_again(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").display().to_string();
        self.as_postgres(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-o",
                &options,
                "-l",
                &log,
                "-w",
                "start",
            ],
        )
        .await;
    }

    async fn stop(&self) {
        self.as_postgres("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"])
            .await;
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = std::process::Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .args(["-D", &self.data(), "-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn postgres_ids() -> (u32, u32) {
    let id = |flag: &str| {
        let out = std::process::Command::new("id")
            .args([flag, "postgres"])
            .output()
            .unwrap();
        String::from_utf8(out.stdout)
            .unwrap()
            .trim()
            .parse::<u32>()
            .unwrap()
    };
    (id("-u"), id("-g"))
}

async fn ready(client: &reqwest::Client, base: &str) -> StatusCode {
    match client.get(format!("{base}/health/ready")).send().await {
        Ok(response) => response.status(),
        Err(_) => StatusCode::BAD_GATEWAY,
    }
}

async fn wait_ready(client: &reqwest::Client, base: &str, want: StatusCode, within: Duration) {
    let deadline = Instant::now() + within;
    while ready(client, base).await != want {
        assert!(
            Instant::now() < deadline,
            "readiness did not become {want} within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn postgres_stopped_and_started_under_load_loses_nothing_and_needs_no_restart() {
    let postgres = PrivatePostgres::start().await;
    let server = start_on(&postgres.url(), Some(KEY), &[]).await;
    let base = server.address.clone();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let acknowledged = Arc::new(Mutex::new(BTreeSet::new()));
    let statuses = Arc::new(Mutex::new(Vec::new()));
    let stop = tokio_util::sync::CancellationToken::new();
    let mut writers = Vec::new();
    for w in 0..4 {
        let (client, base, acknowledged, statuses, stop) = (
            client.clone(),
            base.clone(),
            acknowledged.clone(),
            statuses.clone(),
            stop.clone(),
        );
        writers.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.is_cancelled() {
                n += 1;
                let plate = format!("W{w}N{n}");
                let body = json!({"number_plate": plate, "contact_name": "Under Load", "phone_number": "+44 20 7946 0958"});
                let answered = client
                    .post(format!("{base}/api/v1/vehicles"))
                    .header("X-API-Key", KEY)
                    .json(&body)
                    .send()
                    .await;
                if let Ok(response) = answered {
                    let status = response.status();
                    if status == StatusCode::CREATED {
                        acknowledged.lock().unwrap().insert(plate);
                    }
                    statuses.lock().unwrap().push(status.as_u16());
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    postgres.stop().await;
    wait_ready(
        &client,
        &base,
        StatusCode::SERVICE_UNAVAILABLE,
        Duration::from_secs(10),
    )
    .await;
    let refused = client
        .post(format!("{base}/api/v1/vehicles"))
        .header("X-API-Key", KEY)
        .json(&json!({"number_plate": "DOWN1", "contact_name": "x", "phone_number": "+44 20 7946 0958"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(problem["status"], 503);

    postgres.start_again().await;
    wait_ready(&client, &base, StatusCode::OK, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.cancel();
    for writer in writers {
        writer.await.unwrap();
    }
    let statuses = statuses.lock().unwrap().clone();
    assert!(
        statuses.iter().all(|s| matches!(s, 201 | 503)),
        "only 201 and 503 expected, got {:?}",
        statuses.iter().collect::<BTreeSet<_>>()
    );
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() > 20,
        "too little load: {}",
        acknowledged.len()
    );

    let database = sqlx::PgPool::connect(&postgres.url()).await.unwrap();
    let stored: BTreeSet<String> = sqlx::query_scalar("SELECT number_plate FROM vehicles")
        .fetch_all(&database)
        .await
        .unwrap()
        .into_iter()
        .collect();
    let lost: Vec<&String> = acknowledged.difference(&stored).collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    // The server's index caught up with the table without a restart.
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let mut listed = BTreeSet::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut url = format!("{base}/api/v1/vehicles?limit=500");
            if let Some(c) = &cursor {
                url.push_str(&format!("&cursor={c}"));
            }
            let page: Value = client
                .get(url)
                .header("X-API-Key", KEY)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            listed.extend(
                page["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v["number_plate"].as_str().unwrap().to_owned()),
            );
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        if listed == stored {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the index differs from the table after recovery"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.stop().await;
}

/// A Redis of the test's own, on a free port.
struct PrivateRedis {
    port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    async fn start() -> Self {
        let mut redis = Self {
            port: free_port(),
            child: None,
        };
        redis.start_again().await;
        redis
    }

    async fn start_again(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server is needed");
        self.child = Some(child);
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the private Redis did not start");
    }

    async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }
}

#[tokio::test]
async fn redis_stopped_and_started_is_reported_and_recovered_from_without_a_restart() {
    let mut redis = PrivateRedis::start().await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("parking.db").display());
    let redis_url = format!("redis://127.0.0.1:{}", redis.port);
    let server = start_on(
        &url,
        Some(KEY),
        &[
            ("PARKING_REDIS_URL", &redis_url),
            ("PARKING_RATE_LIMIT_PER_SEC", "50"),
        ],
    )
    .await;
    let base = server.address.clone();
    let client = reqwest::Client::new();
    wait_ready(&client, &base, StatusCode::OK, Duration::from_secs(10)).await;
    redis.kill().await;
    wait_ready(
        &client,
        &base,
        StatusCode::SERVICE_UNAVAILABLE,
        Duration::from_secs(10),
    )
    .await;
    // Still serving, limited by the instance's own budget meanwhile.
    let served = client
        .get(format!("{base}/api/v1/vehicles"))
        .header("X-API-Key", KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
    assert!(served.headers().contains_key("ratelimit-limit"));
    redis.start_again().await;
    wait_ready(&client, &base, StatusCode::OK, Duration::from_secs(15)).await;
    server.stop().await;
}
