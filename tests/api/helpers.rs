//! `spawn_app()` and one helper per endpoint.

use std::path::PathBuf;

use chrono::{DateTime, TimeDelta, Utc};
use parking::{
    app::{App, AppState},
    config::{Overrides, Settings},
    domain::{ApiKeySecret, AuditContext, KeyName, NewKeySpec, Role},
    telemetry::metrics::Snapshot,
};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

pub use crate::database::TestDatabase;

pub const ADMIN_KEY: &str = "test-admin-key-0123456789abcdef";

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub admin_key: String,
    pub operator_key: String,
    pub state: AppState,
    /// The SQLite file (tests that are about the file itself run on SQLite only).
    pub db_path: PathBuf,
    pub database: TestDatabase,
    pub backup_dir: PathBuf,
    shutdown: CancellationToken,
    /// Personal data and keys this test sent: its server's logs must hold none of them.
    sent: std::sync::Mutex<Vec<String>>,
    _dir: tempfile::TempDir,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if std::thread::panicking() {
            return;
        }
        let mut secrets = self.sent.lock().unwrap().clone();
        secrets.extend([self.admin_key.clone(), self.operator_key.clone()]);
        let leaked = crate::log_scan::leaked(&secrets);
        assert!(leaked.is_empty(), "the server logged {leaked:?}");
        let metrics = self.state.metrics.render(&Snapshot {
            vehicles_parked: 0,
            websocket_connections: 0,
            pools: Vec::new(),
        });
        let exposed: Vec<&String> = secrets
            .iter()
            .filter(|s| metrics.contains(s.as_str()))
            .collect();
        assert!(exposed.is_empty(), "the metrics hold {exposed:?}");
        let audit = crate::log_scan::audit_text(&self.database);
        let audited: Vec<&String> = secrets
            .iter()
            .filter(|s| audit.contains(s.as_str()))
            .collect();
        assert!(audited.is_empty(), "the audit trail holds {audited:?}");
    }
}

/// Starts the service on a free port with a fresh database and an admin and operator key.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like `spawn_app`, with settings adjusted first (backup folder, rotation, …).
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    crate::log_scan::install();
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("parking.db");
    let database = TestDatabase::create(dir.path()).await;
    let mut settings = Settings::from_defaults(&Overrides {
        bind: Some("127.0.0.1:0".into()),
        database: Some(database.url()),
    })
    .unwrap();
    settings.admin_key = Some(ApiKeySecret::from_presented(ADMIN_KEY));
    settings.backup_dir = dir.path().join("backups");
    // Tests send bursts with one key; the rate-limit tests turn limiting back on.
    settings.rate_limit = None;
    adjust(&mut settings);
    let backup_dir = settings.backup_dir.clone();
    let app = App::build(&settings)
        .await
        .unwrap()
        .without_background_jobs();
    let address = format!("http://{}", app.local_addr());
    let state = app.state().clone();
    let (_, operator) = create_key(&state, "front desk", Role::Operator).await;
    let shutdown = CancellationToken::new();
    let stopped = shutdown.clone();
    tokio::spawn(app.run_until_stopped(async move { stopped.cancelled().await }));
    TestApp {
        address,
        client: reqwest::Client::new(),
        admin_key: ADMIN_KEY.to_owned(),
        operator_key: operator.expose().to_owned(),
        state,
        db_path,
        database,
        backup_dir,
        shutdown,
        sent: std::sync::Mutex::new(Vec::new()),
        _dir: dir,
    }
}

/// Creates a key directly through the service, as the system; returns it with its secret.
pub async fn create_key(
    state: &AppState,
    name: &str,
    role: Role,
) -> (parking::store::ApiKeyRecord, ApiKeySecret) {
    let spec = NewKeySpec {
        name: KeyName::parse(name).unwrap(),
        role,
        expires_at: None,
    };
    state
        .keys
        .create(spec, &AuditContext::system())
        .await
        .unwrap()
}

/// A registration body with valid defaults.
pub fn vehicle(plate: &str) -> Value {
    json!({
        "number_plate": plate,
        "contact_name": "Ada Lovelace",
        "phone_number": "+44 20 7946 0958",
    })
}

pub fn minutes_ago(minutes: i64) -> DateTime<Utc> {
    Utc::now() - TimeDelta::minutes(minutes)
}

pub fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// The live-search WebSocket address.
    pub fn ws_url(&self) -> String {
        format!(
            "{}/api/v1/ws/vehicles/search",
            self.address.replacen("http", "ws", 1)
        )
    }

    /// Starts the server's shutdown, as SIGTERM would.
    pub fn stop(&self) {
        self.shutdown.cancel();
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client
            .get(self.url(path))
            .header("X-API-Key", &self.operator_key)
    }

    /// Lists vehicles presenting `key`.
    pub async fn list_with_key(&self, key: &str) -> Response {
        self.client
            .get(self.url("/api/v1/vehicles"))
            .header("X-API-Key", key)
            .send()
            .await
            .unwrap()
    }

    /// GET without a key (public routes, or to check that a key is required).
    pub async fn public_get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// POSTs raw bytes to the vehicles collection with an optional content type.
    pub async fn post_raw(
        &self,
        body: impl Into<reqwest::Body>,
        content_type: Option<&str>,
    ) -> Response {
        let mut request = self
            .client
            .post(self.url("/api/v1/vehicles"))
            .header("X-API-Key", &self.operator_key)
            .body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        request.send().await.unwrap()
    }

    /// GET with the operator key, answered with JSON.
    pub async fn get_json(&self, path: &str) -> Value {
        self.get(path).send().await.unwrap().json().await.unwrap()
    }

    pub async fn register(&self, body: &Value) -> Response {
        self.sent
            .lock()
            .unwrap()
            .extend(crate::log_scan::secrets_of(body));
        self.client
            .post(self.url("/api/v1/vehicles"))
            .header("X-API-Key", &self.operator_key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Registers and asserts 201, returning the vehicle as every other answer shows it: the
    /// `201` without its `similar_plates` (checked to be a list).
    pub async fn register_ok(&self, body: &Value) -> Value {
        let response = self.register(body).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        without_similar_plates(response.json().await.unwrap())
    }

    pub async fn get_vehicle(&self, plate: &str) -> Response {
        self.get(&format!("/api/v1/vehicles/{}", encode(plate)))
            .send()
            .await
            .unwrap()
    }

    pub async fn patch_vehicle(&self, plate: &str, body: &Value) -> Response {
        self.sent
            .lock()
            .unwrap()
            .extend(crate::log_scan::secrets_of(body));
        self.client
            .patch(self.url(&format!("/api/v1/vehicles/{}", encode(plate))))
            .header("X-API-Key", &self.operator_key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn delete_vehicle(&self, plate: &str) -> Response {
        self.client
            .delete(self.url(&format!("/api/v1/vehicles/{}", encode(plate))))
            .header("X-API-Key", &self.operator_key)
            .send()
            .await
            .unwrap()
    }

    pub async fn list(&self, query: &[(&str, &str)]) -> Response {
        self.get("/api/v1/vehicles")
            .query(query)
            .send()
            .await
            .unwrap()
    }

    /// Lists and asserts 200, returning the body.
    pub async fn list_ok(&self, query: &[(&str, &str)]) -> Value {
        let response = self.list(query).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    /// Changes the retention period through the API, as an admin.
    pub async fn set_retention_hours(&self, hours: i64) {
        let response = self
            .put_retention(&json!({ "retention_hours": hours }), &self.admin_key)
            .await;
        assert_eq!(response.status(), StatusCode::OK);
    }

    pub async fn put_retention(&self, body: &Value, key: &str) -> Response {
        self.client
            .put(self.url("/api/v1/config/retention"))
            .header("X-API-Key", key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// An admin request to a maintenance or audit route.
    pub fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .header("X-API-Key", &self.admin_key)
    }

    /// An admin request without a body, answered with JSON.
    pub async fn admin_json(&self, method: reqwest::Method, path: &str) -> Value {
        self.admin(method, path)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Runs the purge job once, as the scheduler would.
    pub async fn run_purge_job(&self) {
        parking::jobs::purge::run_once(&self.state).await;
    }

    /// Every audit entry, newest first, read through the API.
    pub async fn audit_entries(&self, query: &[(&str, &str)]) -> Vec<Value> {
        let response = self
            .admin(reqwest::Method::GET, "/api/v1/audit")
            .query(query)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let page: Value = response.json().await.unwrap();
        page["items"].as_array().unwrap().clone()
    }
}

/// A separate connection to the service's SQLite file, to seed data or inspect what is stored.
pub async fn open_file(path: &std::path::Path) -> sqlx::SqliteConnection {
    crate::database::sqlite_connect(path).await.unwrap()
}

/// Rows in a table, expired or not.
pub async fn count_rows(path: &std::path::Path, table: &str) -> i64 {
    let mut conn = open_file(path).await;
    let sql = format!("SELECT count(*) FROM {table}");
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

pub fn encode(plate: &str) -> String {
    percent_encoding::utf8_percent_encode(plate, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Asserts a problem+json response with this status and returns its body.
pub async fn assert_problem(response: Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status, "unexpected status");
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "about:blank");
    assert_eq!(body["status"], status);
    assert!(body["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    assert_eq!(body["request_id"], request_id.as_str());
    body
}

/// The fields named in a problem's `errors`, in order.
pub fn error_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["field"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// A `201` of a registration as the vehicle: `similar_plates` (asserted to be a list) removed.
pub fn without_similar_plates(mut created: Value) -> Value {
    let similar = created
        .as_object_mut()
        .and_then(|body| body.remove("similar_plates"));
    assert!(
        similar.as_ref().is_some_and(Value::is_array),
        "a 201 without a similar_plates list: {similar:?}"
    );
    created
}
