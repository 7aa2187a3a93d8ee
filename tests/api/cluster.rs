//! Several `parking serve` processes on one PostgreSQL database and one Redis, as behind a
//! load balancer (API.md §8): each answers as if it were the only one.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::{
    database::TestDatabase,
    helpers::{minutes_ago, rfc3339},
    process::{Server, start_on},
    ws::{connect_to, expect_close_within, next, search},
};

const KEY: &str = "cluster-admin-key-0123456789abc";

struct Cluster {
    database: TestDatabase,
    servers: Vec<Option<Server>>,
    env: Vec<(String, String)>,
    client: reqwest::Client,
    _backups: tempfile::TempDir,
}

impl Cluster {
    /// `n` servers on a fresh database, sharing the machine's Redis under a prefix of their own.
    async fn start(n: usize, extra: &[(&str, &str)]) -> Self {
        let database = TestDatabase::create_postgres().await;
        let backups = tempfile::tempdir().unwrap();
        let mut env: Vec<(String, String)> = vec![
            ("PARKING_REDIS_URL".into(), "redis://127.0.0.1:6379".into()),
            (
                "PARKING_REDIS_PREFIX".into(),
                format!("cluster-{}", ulid::Ulid::new()),
            ),
            (
                "PARKING_BACKUP_DIR".into(),
                backups.path().display().to_string(),
            ),
        ];
        env.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let mut cluster = Self {
            database,
            servers: Vec::new(),
            env,
            client: reqwest::Client::new(),
            _backups: backups,
        };
        for _ in 0..n {
            let server = cluster.launch().await;
            cluster.servers.push(Some(server));
        }
        cluster
    }

    async fn launch(&self) -> Server {
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        start_on(&self.database.url(), Some(KEY), &env).await
    }

    fn server(&self, i: usize) -> &Server {
        self.servers[i].as_ref().unwrap()
    }

    fn ws(&self, i: usize) -> String {
        self.server(i)
            .url("/api/v1/ws/vehicles/search")
            .replacen("http", "ws", 1)
    }

    async fn call(
        &self,
        i: usize,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        self.call_as(i, KEY, method, path, body).await
    }

    async fn call_as(
        &self,
        i: usize,
        key: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .request(method, self.server(i).url(path))
            .header("X-API-Key", key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    async fn register(&self, i: usize, plate: &str) -> Value {
        let body = json!({"number_plate": plate, "contact_name": "Cluster Driver", "phone_number": "+44 20 7946 0958"});
        let response = self
            .call(i, Method::POST, "/api/v1/vehicles", Some(body))
            .await;
        assert_eq!(response.status(), StatusCode::CREATED, "{plate} on {i}");
        crate::helpers::without_similar_plates(response.json().await.unwrap())
    }
}

impl Cluster {
    /// `plate|name` of every vehicle instance `i` lists for `query` (its index), sorted.
    async fn listed(&self, i: usize, query: &str) -> Vec<String> {
        let path = format!("/api/v1/vehicles?limit=500&q={query}");
        let page: Value = self
            .call(i, Method::GET, &path, None)
            .await
            .json()
            .await
            .unwrap();
        let mut listed: Vec<String> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                format!(
                    "{}|{}",
                    v["number_plate"].as_str().unwrap(),
                    v["contact_name"].as_str().unwrap()
                )
            })
            .collect();
        listed.sort();
        listed
    }
}

/// Polls `check` until it holds, failing with `what` after `within`.
async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !check().await {
        assert!(Instant::now() < deadline, "{what} (waited {within:?})");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_write_on_one_instance_is_read_at_once_on_another_and_pushed_live_on_a_third() {
    let cluster = Cluster::start(3, &[]).await;
    let mut watching = connect_to(&cluster.ws(2), KEY).await;
    search(&mut watching, "w", "CLU", 20).await;

    let sent = Instant::now();
    let created = cluster.register(0, "clu-001").await;
    // A point read on another instance is answered by the database: no waiting.
    let read = cluster
        .call(1, Method::GET, "/api/v1/vehicles/CLU001", None)
        .await;
    assert_eq!(read.status(), 200);
    assert_eq!(read.json::<Value>().await.unwrap(), created);
    let added = next(&mut watching).await;
    let lag = sent.elapsed();
    assert_eq!(added["type"], "added");
    assert_eq!(added["vehicle"], created);
    assert!(
        lag < Duration::from_secs(1),
        "the live frame came after {lag:?}"
    );

    let patched = cluster
        .call(
            1,
            Method::PATCH,
            "/api/v1/vehicles/CLU001",
            Some(json!({"contact_name": "Changed On B"})),
        )
        .await;
    assert_eq!(patched.status(), 200);
    let read = cluster
        .call(0, Method::GET, "/api/v1/vehicles/clu-001", None)
        .await;
    assert_eq!(
        read.json::<Value>().await.unwrap()["contact_name"],
        "Changed On B"
    );
    assert_eq!(
        next(&mut watching).await["vehicle"]["contact_name"],
        "Changed On B"
    );

    assert_eq!(
        cluster
            .call(2, Method::DELETE, "/api/v1/vehicles/CLU001", None)
            .await
            .status(),
        204
    );
    assert_eq!(
        cluster
            .call(0, Method::GET, "/api/v1/vehicles/CLU001", None)
            .await
            .status(),
        404
    );
    assert_eq!(
        next(&mut watching).await,
        json!({"type": "removed", "id": "w", "number_plate": "CLU001"})
    );
    // The plate is free on every instance at once.
    cluster.register(1, "CLU001").await;
}

#[tokio::test]
async fn retention_changes_and_revocations_apply_on_every_instance() {
    let cluster = Cluster::start(3, &[]).await;
    let body = json!({"number_plate": "RET1", "contact_name": "Kept", "phone_number": "+44 20 7946 0958",
                      "entry_timestamp": rfc3339(minutes_ago(90))});
    assert_eq!(
        cluster
            .call(0, Method::POST, "/api/v1/vehicles", Some(body))
            .await
            .status(),
        201
    );
    let put = cluster
        .call(
            1,
            Method::PUT,
            "/api/v1/config/retention",
            Some(json!({"retention_hours": 1})),
        )
        .await;
    assert_eq!(put.status(), 200);
    for i in [0, 2] {
        let setting: Value = cluster
            .call(i, Method::GET, "/api/v1/config/retention", None)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(setting["retention_hours"], 1, "instance {i}");
        // Entered 90 minutes ago under a one-hour retention: gone everywhere, at once.
        assert_eq!(
            cluster
                .call(i, Method::GET, "/api/v1/vehicles/RET1", None)
                .await
                .status(),
            404
        );
    }
    // And from every instance's search index within the feed's bound.
    for i in 0..3 {
        let what = format!("instance {i} still lists RET1");
        eventually(Duration::from_secs(1), &what, || async {
            cluster.listed(i, "RET1").await.is_empty()
        })
        .await;
    }

    let created: Value = cluster
        .call(
            0,
            Method::POST,
            "/api/v1/keys",
            Some(json!({"name": "roaming tablet", "role": "operator"})),
        )
        .await
        .json()
        .await
        .unwrap();
    let secret = created["key"].as_str().unwrap();
    let mut socket = connect_to(&cluster.ws(0), secret).await;
    search(&mut socket, "k", "", 5).await;
    assert_eq!(
        cluster
            .call(
                2,
                Method::DELETE,
                &format!("/api/v1/keys/{}", created["id"]),
                None
            )
            .await
            .status(),
        204
    );
    // Refused at once by a third instance, which asks the database.
    let refused = cluster
        .call_as(1, secret, Method::GET, "/api/v1/vehicles", None)
        .await;
    assert_eq!(refused.status(), 401);
    expect_close_within(&mut socket, CloseCode::Policy, Duration::from_secs(1)).await;
}

#[tokio::test]
async fn with_three_schedulers_each_expired_row_is_purged_and_audited_once() {
    let cluster = Cluster::start(3, &[("PARKING_PURGE_INTERVAL_SECS", "1")]).await;
    // Entered 59 minutes 55 seconds ago: expired five seconds after retention drops to 1 h.
    let entered = rfc3339(chrono::Utc::now() - chrono::TimeDelta::seconds(59 * 60 + 55));
    for i in 0..30 {
        let body = json!({"number_plate": format!("EXP{i}"), "contact_name": "Soon Gone",
                          "phone_number": "+44 20 7946 0958", "entry_timestamp": entered});
        assert_eq!(
            cluster
                .call(i % 3, Method::POST, "/api/v1/vehicles", Some(body))
                .await
                .status(),
            201
        );
    }
    let put = cluster
        .call(
            0,
            Method::PUT,
            "/api/v1/config/retention",
            Some(json!({"retention_hours": 1})),
        )
        .await;
    assert_eq!(put.status(), 200);
    eventually(
        Duration::from_secs(20),
        "the expired rows were not purged",
        || async { cluster.database.count_rows("vehicles").await == 0 },
    )
    .await;
    let purged: i64 = cluster
        .database
        .texts("SELECT details FROM audit_logs WHERE action = 'vehicles.purged'")
        .await
        .iter()
        .map(|details| {
            serde_json::from_str::<Value>(details).unwrap()["deleted"]
                .as_i64()
                .unwrap()
        })
        .sum();
    assert_eq!(purged, 30, "every row audited once as purged");
    let leaders: usize = cluster
        .servers
        .iter()
        .flatten()
        .filter(|s| {
            s.stdout()
                .iter()
                .any(|l| l.contains("this instance now runs the scheduled jobs"))
        })
        .count();
    assert_eq!(leaders, 1, "one instance runs the jobs");
}

#[tokio::test]
async fn when_the_jobs_instance_is_killed_another_takes_over_and_a_restarted_one_catches_up() {
    let mut cluster = Cluster::start(2, &[("PARKING_PURGE_INTERVAL_SECS", "1")]).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let leader = (0..2)
        .find(|&i| {
            cluster
                .server(i)
                .stdout()
                .iter()
                .any(|l| l.contains("this instance now runs the scheduled jobs"))
        })
        .expect("one instance leads");
    let other = 1 - leader;
    cluster.servers[leader].take().unwrap().kill().await;

    // Written while the killed instance is down.
    for plate in ["MISS1", "MISS2", "MISS3"] {
        cluster.register(other, plate).await;
    }
    let entered = rfc3339(chrono::Utc::now() - chrono::TimeDelta::seconds(59 * 60 + 58));
    let body = json!({"number_plate": "GONE1", "contact_name": "Soon Gone", "phone_number": "+44 20 7946 0958",
                      "entry_timestamp": entered});
    assert_eq!(
        cluster
            .call(other, Method::POST, "/api/v1/vehicles", Some(body))
            .await
            .status(),
        201
    );
    cluster
        .call(
            other,
            Method::PUT,
            "/api/v1/config/retention",
            Some(json!({"retention_hours": 1})),
        )
        .await;
    // The survivor takes the jobs over within an interval and purges the expired row.
    eventually(
        Duration::from_secs(15),
        "nobody took the jobs over",
        || async {
            cluster
                .database
                .texts("SELECT number_plate FROM vehicles WHERE number_plate = 'GONE1'")
                .await
                .is_empty()
        },
    )
    .await;

    let restarted = cluster.launch().await;
    cluster.servers[leader] = Some(restarted);
    let plates = cluster.listed(leader, "MISS").await;
    assert_eq!(plates.len(), 3, "{plates:?}");
    // And it follows changes made after its restart.
    cluster.register(other, "MISS4").await;
    eventually(
        Duration::from_secs(1),
        "the restarted instance does not follow",
        || async { cluster.listed(leader, "MISS").await.len() == 4 },
    )
    .await;
}

/// Writes from three instances at once, then each instance's index must equal the table: the
/// feed skipped nothing and applied nothing twice, whatever order the transactions committed in.
#[tokio::test]
async fn concurrent_writes_on_every_instance_leave_every_index_equal_to_the_table() {
    let cluster = Cluster::start(3, &[]).await;
    let mut writers = Vec::new();
    for i in 0..3 {
        let (client, base) = (cluster.client.clone(), cluster.server(i).address.clone());
        writers.push(tokio::spawn(async move {
            for n in 0..40 {
                let plate = format!("C{i}N{n}");
                let url = format!("{base}/api/v1/vehicles");
                let body = json!({"number_plate": plate, "contact_name": format!("Writer {i}"), "phone_number": "+44 20 7946 0958"});
                let created = client.post(&url).header("X-API-Key", KEY).json(&body).send().await.unwrap();
                assert_eq!(created.status(), 201);
                let one = format!("{base}/api/v1/vehicles/{plate}");
                match n % 4 {
                    1 => {
                        let patch = json!({"contact_name": format!("Patched {i} {n}")});
                        client.patch(&one).header("X-API-Key", KEY).json(&patch).send().await.unwrap();
                    }
                    2 => {
                        client.delete(&one).header("X-API-Key", KEY).send().await.unwrap();
                    }
                    _ => {}
                }
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let mut table = cluster
        .database
        .texts("SELECT number_plate || '|' || contact_name FROM vehicles")
        .await;
    table.sort();
    assert_eq!(table.len(), 90);
    for i in 0..3 {
        let what = format!("instance {i}'s index differs from the table");
        eventually(Duration::from_secs(1), &what, || async {
            cluster.listed(i, "").await == table
        })
        .await;
    }
}

#[tokio::test]
async fn a_backup_taken_on_postgres_restores_into_a_fresh_database_of_either_kind() {
    let cluster = Cluster::start(1, &[]).await;
    for plate in ["BK1", "BK2"] {
        cluster.register(0, plate).await;
    }
    let backup: Value = cluster
        .call(0, Method::POST, "/api/v1/maintenance/backup", None)
        .await
        .json()
        .await
        .unwrap();
    let file = cluster
        ._backups
        .path()
        .join(backup["file"].as_str().unwrap());
    parking::store::verify_backup(&file).await.unwrap();

    let fresh = TestDatabase::create_postgres().await;
    let dir = tempfile::tempdir().unwrap();
    let sqlite = TestDatabase::Sqlite(dir.path().join("moved.db"));
    for target in [&fresh, &sqlite] {
        let (code, stdout, stderr) = crate::process::run_with(
            &[
                "restore",
                file.to_str().unwrap(),
                "--database",
                &target.url(),
                "--discard-current",
            ],
            &[],
        )
        .await;
        assert_eq!(code, 0, "{stderr}");
        assert!(stdout.contains("PARKING_ADMIN_KEY"), "{stdout}");
        let mut plates = target.texts("SELECT number_plate FROM vehicles").await;
        plates.sort();
        assert_eq!(plates, ["BK1", "BK2"]);
        let server = start_on(&target.url(), Some(KEY), &[]).await;
        let found = reqwest::Client::new()
            .get(server.url("/api/v1/vehicles/BK2"))
            .header("X-API-Key", KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(found.status(), 200);
        server.stop().await;
    }
}

/// Clients that give up half-way through their requests must not leave a transaction open on
/// a pooled connection: it would hold its locks, stop every instance's change feed (which
/// reads below the oldest running transaction) and run the next user's statements inside it.
#[tokio::test]
async fn clients_that_hang_up_mid_request_leave_no_transaction_open() {
    let cluster = Cluster::start(1, &[]).await;
    let url = cluster.server(0).url("/api/v1/vehicles");
    let mut hangups = Vec::new();
    for i in 0..300u64 {
        let url = url.clone();
        hangups.push(tokio::spawn(async move {
            let impatient = reqwest::Client::builder()
                .timeout(Duration::from_micros(200 + (i * 37) % 3000))
                .build()
                .unwrap();
            let body = json!({"number_plate": format!("HANG{i}"), "contact_name": "Gone",
                              "phone_number": "+44 20 7946 0958"});
            let _ = impatient
                .post(&url)
                .header("X-API-Key", KEY)
                .json(&body)
                .send()
                .await;
        }));
    }
    for hangup in hangups {
        hangup.await.unwrap();
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stuck = cluster
        .database
        .texts(
            "SELECT state FROM pg_stat_activity WHERE datname = current_database() \
             AND state LIKE 'idle in transaction%' AND now() - state_change > interval '1 second'",
        )
        .await;
    assert!(stuck.is_empty(), "transactions left open: {stuck:?}");
    // And the feed still moves: a write shows in the instance's index.
    cluster.register(0, "AFTER1").await;
    let page: Value = cluster
        .call(0, Method::GET, "/api/v1/vehicles?q=AFTER1", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
}

/// The feed waits only for the service's own transactions on its own database: a transaction
/// left open elsewhere on the same server (another application, an operator's session) must
/// not hold live searches back.
#[tokio::test]
async fn a_transaction_left_open_elsewhere_does_not_hold_the_feed_back() {
    let cluster = Cluster::start(2, &[]).await;
    let mut elsewhere =
        crate::database::pg_connect(&format!("{}/postgres", crate::database::postgres_server()))
            .await
            .unwrap();
    sqlx::query("BEGIN").execute(&mut elsewhere).await.unwrap();
    // Holding a transaction id, as any writing transaction does.
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut elsewhere)
        .await
        .unwrap();
    let mut watching = connect_to(&cluster.ws(1), KEY).await;
    search(&mut watching, "e", "OPEN", 5).await;
    let sent = Instant::now();
    cluster.register(0, "OPEN1").await;
    assert_eq!(next(&mut watching).await["type"], "added");
    assert!(
        sent.elapsed() < Duration::from_secs(1),
        "{:?}",
        sent.elapsed()
    );
    sqlx::query("ROLLBACK")
        .execute(&mut elsewhere)
        .await
        .unwrap();
}

#[tokio::test]
async fn occupancy_look_alike_warnings_and_alerts_are_the_same_on_every_instance() {
    let cluster = Cluster::start(3, &[]).await;
    let capacity = cluster
        .call(
            0,
            Method::PUT,
            "/api/v1/config/capacity",
            Some(json!({"capacity": 40})),
        )
        .await;
    assert_eq!(capacity.status(), 200);
    let watched = cluster
        .call(
            1,
            Method::PUT,
            "/api/v1/watchlist/WCH1",
            Some(json!({"note": "on every instance"})),
        )
        .await;
    assert_eq!(watched.status(), 201);
    let mut watching = connect_to(&cluster.ws(2), KEY).await;

    // A look-alike of the watched plate registers on one instance: the alert is pushed by
    // another, and a third warns about it when its look-alike registers there.
    let created = cluster.register(0, "WCHI").await;
    let alert = next(&mut watching).await;
    assert_eq!(alert["type"], "alert");
    assert_eq!(alert["note"], "on every instance");
    assert_eq!(alert["vehicle"], created);
    let misread = cluster
        .call(
            1,
            Method::POST,
            "/api/v1/vehicles",
            Some(json!({"number_plate": "WCHL", "contact_name": "Cluster Driver", "phone_number": "+44 20 7946 0958"})),
        )
        .await;
    assert_eq!(misread.status(), StatusCode::CREATED);
    assert_eq!(
        misread.json::<Value>().await.unwrap()["similar_plates"],
        json!(["WCHI"])
    );

    // Every instance counts both at once, with the capacity set through another.
    for i in 0..3 {
        let occupancy: Value = cluster
            .call(i, Method::GET, "/api/v1/occupancy?hours=1", None)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(occupancy["parked"], 2, "instance {i}");
        assert_eq!(occupancy["capacity"], 40, "instance {i}");
        assert_eq!(occupancy["series"][0]["entries"], 2, "instance {i}");
    }
}
