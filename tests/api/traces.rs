//! Traces over OTLP/HTTP: the `parking` binary exports to a small OTLP receiver on loopback,
//! which decodes what it gets with OpenTelemetry's own protobuf types.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{Router, body::Bytes, extract::State, routing::post};
use opentelemetry_proto::tonic::{
    collector::trace::v1::ExportTraceServiceRequest,
    common::v1::{AnyValue, KeyValue, any_value},
};
use prost::Message;
use serde_json::{Value, json};

use crate::process::{Server, database_url, start_on};

const KEY: &str = "traces-test-admin-key-0451";
const PLATE: &str = "TR4 CE1";
const NAME: &str = "Grace Tracewell";
const PHONE: &str = "+44 20 7946 0321";

/// One exported span, flattened for assertions.
#[derive(Debug, Clone)]
struct Exported {
    name: String,
    trace_id: String,
    span_id: String,
    parent_id: String,
    kind: i32,
    attributes: HashMap<String, String>,
    events: Vec<(String, HashMap<String, String>)>,
    /// 0 unset, 1 ok, 2 error.
    status: i32,
    resource: HashMap<String, String>,
}

impl Exported {
    fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }
}

#[derive(Clone, Default)]
struct Received {
    spans: Arc<Mutex<Vec<Exported>>>,
    /// Every request body as decoded, printed: what the privacy check searches.
    printed: Arc<Mutex<String>>,
}

fn text(value: &Option<AnyValue>) -> String {
    match value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        other => format!("{other:?}"),
    }
}

fn map(attributes: &[KeyValue]) -> HashMap<String, String> {
    attributes
        .iter()
        .map(|kv| (kv.key.clone(), text(&kv.value)))
        .collect()
}

async fn receive(State(received): State<Received>, body: Bytes) -> Vec<u8> {
    let request = ExportTraceServiceRequest::decode(body).unwrap();
    received
        .printed
        .lock()
        .unwrap()
        .push_str(&format!("{request:?}\n"));
    let mut spans = received.spans.lock().unwrap();
    for resource_spans in &request.resource_spans {
        let resource = map(&resource_spans
            .resource
            .as_ref()
            .map(|r| r.attributes.clone())
            .unwrap_or_default());
        for scope in &resource_spans.scope_spans {
            for span in &scope.spans {
                spans.push(Exported {
                    name: span.name.clone(),
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_id: hex(&span.parent_span_id),
                    kind: span.kind,
                    attributes: map(&span.attributes),
                    events: span
                        .events
                        .iter()
                        .map(|e| (e.name.clone(), map(&e.attributes)))
                        .collect(),
                    status: span.status.as_ref().map_or(0, |s| s.code),
                    resource: resource.clone(),
                });
            }
        }
    }
    // An empty `ExportTraceServiceResponse`: everything accepted.
    Vec::new()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Starts the receiver; returns its base URL.
async fn collector() -> (String, Received) {
    let received = Received::default();
    let app = Router::new()
        .route("/v1/traces", post(receive))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{address}"), received)
}

impl Received {
    /// Waits (bounded) until a span matching `found` has arrived and returns it.
    async fn span(&self, what: &str, found: impl Fn(&Exported) -> bool) -> Exported {
        self.until(what, |spans| spans.iter().find(|s| found(s)).cloned())
            .await
    }

    /// Waits (bounded) until `found` picks a span from all those exported so far.
    async fn until(&self, what: &str, found: impl Fn(&[Exported]) -> Option<Exported>) -> Exported {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(span) = found(&self.spans.lock().unwrap()) {
                return span;
            }
            assert!(Instant::now() < deadline, "no span {what} was exported");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn call(
    server: &Server,
    method: reqwest::Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .request(method, server.url(path))
        .header("X-API-Key", KEY);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

async fn metric(server: &Server, line_start: &str) -> Option<f64> {
    let text = reqwest::get(server.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .map(|v| v.parse().unwrap())
}

const SERVER_KIND: i32 = 2;
const CLIENT_KIND: i32 = 3;
const STATUS_ERROR: i32 = 2;

#[tokio::test]
async fn requests_are_traced_continuing_the_callers_trace_with_errors_and_without_personal_data() {
    let (endpoint, received) = collector().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("traced.db");
    // A file where the backup folder should be: every scheduled backup fails.
    let not_a_folder = dir.path().join("not-a-folder");
    std::fs::write(&not_a_folder, b"").unwrap();
    let backups = not_a_folder.join("backups");
    let env = [
        ("PARKING_OTLP_ENDPOINT", endpoint.as_str()),
        ("PARKING_PURGE_INTERVAL_SECS", "1"),
        ("PARKING_BACKUP_INTERVAL_SECS", "1"),
        ("PARKING_BACKUP_DIR", backups.to_str().unwrap()),
    ];
    let server = start_on(&database_url(&db), Some(KEY), &env).await;

    // A request that continues a caller's trace.
    let caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let registered = call(
        &server,
        reqwest::Method::POST,
        "/api/v1/vehicles",
        &[
            (
                "traceparent",
                &format!("00-{caller_trace}-{caller_span}-01"),
            ),
            ("X-Request-Id", "req-continued"),
        ],
        Some(json!({"number_plate": PLATE, "contact_name": NAME, "phone_number": PHONE})),
    )
    .await;
    assert_eq!(registered.status(), 201);
    assert_eq!(
        header(&registered, "x-trace-id").as_deref(),
        Some(caller_trace)
    );
    assert_eq!(
        header(&registered, "x-request-id").as_deref(),
        Some("req-continued")
    );
    let request = received
        .span("POST /api/v1/vehicles", |s| {
            s.name == "POST /api/v1/vehicles" && s.trace_id == caller_trace
        })
        .await;
    assert_eq!(request.parent_id, caller_span);
    assert_eq!(request.kind, SERVER_KIND);
    assert_eq!(request.attribute("request_id"), Some("req-continued"));
    assert_eq!(request.attribute("http.route"), Some("/api/v1/vehicles"));
    assert_eq!(request.attribute("http.request.method"), Some("POST"));
    assert_eq!(request.attribute("http.response.status_code"), Some("201"));
    assert_eq!(
        request.resource.get("service.name").map(String::as_str),
        Some("parking")
    );
    assert_eq!(
        request.resource.get("service.version").map(String::as_str),
        Some(env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(
        request.resource.get("service.instance.id").map(String::len),
        Some(26),
        "a ULID"
    );
    let handler = received
        .span("handler", |s| {
            s.name == "handler" && s.parent_id == request.span_id
        })
        .await;
    let insert = received
        .span("store.insert_vehicle", |s| {
            s.name == "store.insert_vehicle" && s.parent_id == handler.span_id
        })
        .await;
    assert_eq!(insert.trace_id, caller_trace);
    assert_eq!(insert.kind, CLIENT_KIND);
    assert_eq!(insert.attribute("db.system.name"), Some("sqlite"));
    // The change feed applies the registration in a span of its own (from the rows the
    // writer handed over: no store read under it).
    received
        .span("feed.apply", |s| s.name == "feed.apply")
        .await;

    // A request without a trace starts one; the route template names it, not the plate.
    let path = format!("/api/v1/vehicles/{}", urlencoding(PLATE));
    let found = call(
        &server,
        reqwest::Method::GET,
        &path,
        &[("X-Request-Id", "req-alone")],
        None,
    )
    .await;
    assert_eq!(found.status(), 200);
    let own_trace = header(&found, "x-trace-id").expect("a trace id");
    assert_eq!(own_trace.len(), 32);
    assert_ne!(own_trace, caller_trace);
    let read = received
        .span("GET /api/v1/vehicles/{plate}", |s| {
            s.trace_id == own_trace && s.kind == SERVER_KIND
        })
        .await;
    assert_eq!(read.name, "GET /api/v1/vehicles/{plate}");
    assert_eq!(read.parent_id, "", "a root span");
    assert_eq!(read.attribute("request_id"), Some("req-alone"));

    // A forced 500: the audit table is gone under the running server.
    let mut db_connection = crate::helpers::open_file(&db).await;
    sqlx::query("DROP TABLE audit_logs")
        .execute(&mut db_connection)
        .await
        .unwrap();
    let failed = call(
        &server,
        reqwest::Method::GET,
        "/api/v1/audit",
        &[("X-Request-Id", "req-failing")],
        None,
    )
    .await;
    assert_eq!(failed.status(), 500);
    let failed_trace = header(&failed, "x-trace-id").unwrap();
    let failing = received
        .span("GET /api/v1/audit", |s| {
            s.trace_id == failed_trace && s.kind == SERVER_KIND
        })
        .await;
    assert_eq!(failing.name, "GET /api/v1/audit");
    assert_eq!(failing.status, STATUS_ERROR);
    assert_eq!(failing.attribute("http.response.status_code"), Some("500"));
    let handler = received
        .span("the failing handler", |s| {
            s.name == "handler" && s.parent_id == failing.span_id
        })
        .await;
    assert_eq!(handler.status, STATUS_ERROR);
    let (_, event) = handler
        .events
        .iter()
        .find(|(name, _)| name == "request failed")
        .expect("the error is an event of the handler's span");
    assert!(
        event["error"].contains("no such table"),
        "the error with its cause: {event:?}"
    );
    assert_eq!(
        metric(&server, "parking_errors_total{kind=\"request\"}").await,
        Some(1.0)
    );

    // A failed background job: its span carries the error, and it is counted.
    let backup = received
        .span("a failed job.backup", |s| {
            s.name == "job.backup" && s.status == STATUS_ERROR
        })
        .await;
    assert!(
        backup
            .events
            .iter()
            .any(|(name, attrs)| name == "scheduled backup failed"
                && attrs.get("kind").map(String::as_str) == Some("backup")),
        "{backup:?}"
    );
    received
        .span("job.purge with its store calls", |s| {
            s.name == "store.delete_vehicles_batch" || s.name == "store.retention"
        })
        .await;
    assert!(
        metric(&server, "parking_errors_total{kind=\"backup\"}")
            .await
            .unwrap()
            >= 1.0
    );
    let exported = metric(&server, "parking_trace_spans_exported_total").await;
    assert!(exported.unwrap() > 0.0);

    let (code, stdout, _) = server.stop().await;
    assert_eq!(code, Some(0));
    // Logs keep the request's own span, and its id, with traces on.
    let failed_line = stdout
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["message"] == "request failed")
        .expect("the 500 is logged");
    assert_eq!(failed_line["span"]["request_id"], "req-failing");

    // Nothing exported names the vehicle, its owner or the key.
    let printed = received.printed.lock().unwrap().clone();
    let digits: String = PHONE.chars().filter(char::is_ascii_digit).collect();
    for secret in [PLATE, "TR4CE1", NAME, "Tracewell", PHONE, &digits, KEY] {
        assert!(
            !printed.contains(secret),
            "`{secret}` was exported in a trace"
        );
    }
}

fn urlencoding(text: &str) -> String {
    text.replace(' ', "%20")
}

/// A collector that never answers (the connection is accepted and left hanging) and one that
/// is not there at all: requests are answered as usual, and the lost spans are counted.
#[tokio::test]
async fn an_unreachable_or_silent_collector_neither_slows_nor_fails_requests() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_address = silent.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((connection, _)) = silent.accept().await {
            held.push(connection);
        }
    });
    for collector in [closed, silent_address] {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("untraced.db");
        let endpoint = format!("http://{collector}");
        let server = start_on(
            &database_url(&db),
            Some(KEY),
            &[("PARKING_OTLP_ENDPOINT", endpoint.as_str())],
        )
        .await;
        let started = Instant::now();
        for i in 0..200 {
            let plate = format!("UN{i:04}");
            let response = call(
                &server,
                reqwest::Method::POST,
                "/api/v1/vehicles",
                &[],
                Some(json!({"number_plate": plate, "contact_name": "Somebody", "phone_number": "+44 20 7946 0000"})),
            )
            .await;
            assert_eq!(response.status(), 201, "collector at {collector}");
            let response = call(
                &server,
                reqwest::Method::GET,
                &format!("/api/v1/vehicles/{plate}"),
                &[],
                None,
            )
            .await;
            assert_eq!(response.status(), 200);
        }
        // 400 requests on loopback take well under a second; an exporter that waited for
        // its collector (5 s timeout) would take minutes.
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "requests took {:?} with the collector at {collector}",
            started.elapsed()
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let dropped = metric(&server, "parking_trace_spans_dropped_total")
                .await
                .unwrap();
            if dropped > 0.0 {
                break;
            }
            assert!(Instant::now() < deadline, "no dropped span counted");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert_eq!(
            metric(&server, "parking_trace_spans_exported_total").await,
            Some(0.0)
        );
        let (code, _, _) = server.stop().await;
        assert_eq!(code, Some(0), "shutdown does not hang on the collector");
    }
}
