//! Prometheus metrics. Each app owns its recorder (no global state), so several apps in one
//! process — tests — never mix their counts. Every metric is named `parking_…` and described
//! (`# HELP`), so `promtool check metrics` passes. Labels hold route templates, status codes
//! and a bounded set of method names, never a plate, a name, a phone number or a key.

use std::sync::{PoisonError, RwLock};

use super::{errors::ErrorKind, traces};
use chrono::{DateTime, Utc};
use hashbrown::HashMap;
use metrics::{Key, Label, Level, Metadata, Recorder, Unit};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

const METADATA: Metadata<'static> = Metadata::new("parking", Level::INFO, None);

/// Latency buckets in seconds, from fast reads to slow backups.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

const HTTP_REQUESTS: &str = "parking_http_requests_total";
const HTTP_DURATION: &str = "parking_http_request_duration_seconds";
const RATE_LIMITED: &str = "parking_rate_limited_requests_total";
const RATE_LIMIT_BACKEND_ERRORS: &str = "parking_rate_limit_backend_errors_total";
const KEY_LOOKUPS: &str = "parking_api_key_lookups_total";
const PURGE_RUNS: &str = "parking_purge_runs_total";
const PURGED: &str = "parking_purge_deleted_vehicles_total";
const BACKUP_LAST_SUCCESS: &str = "parking_backup_last_success_timestamp_seconds";
const VEHICLES_PARKED: &str = "parking_vehicles_parked";
const WEBSOCKETS: &str = "parking_websocket_connections";
const DB_POOL: &str = "parking_db_pool_connections";
const FEED_LAG: &str = "parking_change_feed_lag_seconds";
const ERRORS: &str = "parking_errors_total";
const SPANS_EXPORTED: &str = "parking_trace_spans_exported_total";
const SPANS_DROPPED: &str = "parking_trace_spans_dropped_total";

/// Values read when the metrics are scraped rather than counted as they happen.
pub struct Snapshot {
    pub vehicles_parked: u64,
    pub websocket_connections: u64,
    pub pools: Vec<PoolUsage>,
}

pub struct PoolUsage {
    pub pool: &'static str,
    pub size: u32,
    pub idle: u32,
}

pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    /// The two series of each (method, route, status) answered so far. Finding them through
    /// the recorder costs six label strings and two registry lookups per request; the set is
    /// bounded (known methods, route templates, status codes).
    http_series: RwLock<HashMap<SeriesKey, HttpSeries>>,
}

/// Method, route template, status.
type SeriesKey = (&'static str, Box<str>, u16);

struct HttpSeries {
    requests: metrics::Counter,
    duration: metrics::Histogram,
}

/// A borrowed key of `http_series`: hashed field by field like the owned tuple.
#[derive(Hash)]
struct SeriesRef<'a> {
    method: &'static str,
    route: &'a str,
    status: u16,
}

impl hashbrown::Equivalent<SeriesKey> for SeriesRef<'_> {
    fn equivalent(&self, key: &SeriesKey) -> bool {
        self.method == key.0 && self.route == &*key.1 && self.status == key.2
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let builder = PrometheusBuilder::new();
        // Only fails for an empty bucket list.
        let builder = builder
            .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.into()), &LATENCY_BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        let metrics = Self {
            recorder,
            handle,
            http_series: RwLock::default(),
        };
        metrics.describe();
        metrics
    }

    fn describe(&self) {
        let r = &self.recorder;
        let counters = [
            (
                HTTP_REQUESTS,
                "HTTP requests answered, by method, route template and status.",
            ),
            (
                RATE_LIMITED,
                "Requests and live-search frames refused by the rate limit.",
            ),
            (
                RATE_LIMIT_BACKEND_ERRORS,
                "Rate-limit calls to Redis that failed; the in-memory limiter decided instead.",
            ),
            (
                KEY_LOOKUPS,
                "API keys looked up in the database because this instance had not recognised them recently.",
            ),
            (PURGE_RUNS, "Retention purge runs."),
            (PURGED, "Vehicles deleted by the retention purge."),
            (
                ERRORS,
                "Failures by kind: request (a 500 answer), purge, backup, feed.",
            ),
            (
                SPANS_EXPORTED,
                "Trace spans the OTLP collector accepted (0 when PARKING_OTLP_ENDPOINT is unset).",
            ),
            (
                SPANS_DROPPED,
                "Trace spans dropped because the export queue was full or the collector failed.",
            ),
        ];
        for (name, help) in counters {
            r.describe_counter(name.into(), None, help.into());
        }
        // Every kind from the start, so a rate over a fresh series is not mistaken for none.
        for kind in ErrorKind::ALL {
            self.counter(ERRORS, vec![Label::new("kind", kind.as_str())], 0);
        }
        r.describe_histogram(
            HTTP_DURATION.into(),
            Some(Unit::Seconds),
            "Time to answer HTTP requests, by method, route template and status.".into(),
        );
        let gauges = [
            (
                BACKUP_LAST_SUCCESS,
                "Unix time of the last backup written and verified by this instance.",
            ),
            (
                VEHICLES_PARKED,
                "Vehicles parked now (expired ones excluded).",
            ),
            (WEBSOCKETS, "Open live-search WebSocket connections."),
            (DB_POOL, "Database connections by pool and state."),
            (
                FEED_LAG,
                "Time from the commit of the last change this instance applied from the change feed to its application.",
            ),
        ];
        for (name, help) in gauges {
            r.describe_gauge(name.into(), None, help.into());
        }
    }

    fn counter(&self, name: &'static str, labels: Vec<Label>, by: u64) {
        self.recorder
            .register_counter(&Key::from_parts(name, labels), &METADATA)
            .increment(by);
    }

    fn gauge(&self, name: &'static str, labels: Vec<Label>, value: f64) {
        self.recorder
            .register_gauge(&Key::from_parts(name, labels), &METADATA)
            .set(value);
    }

    /// `method` is bounded by the caller (`method_label`); `route` is a template.
    pub fn http_request(&self, method: &'static str, route: &str, status: u16, seconds: f64) {
        let wanted = SeriesRef {
            method,
            route,
            status,
        };
        let known = self
            .http_series
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(series) = known.get(&wanted) {
            series.requests.increment(1);
            series.duration.record(seconds);
            return;
        }
        drop(known);
        let labels = || {
            vec![
                Label::new("method", method),
                Label::new("route", route.to_owned()),
                Label::new("status", status.to_string()),
            ]
        };
        let series = HttpSeries {
            requests: self
                .recorder
                .register_counter(&Key::from_parts(HTTP_REQUESTS, labels()), &METADATA),
            duration: self
                .recorder
                .register_histogram(&Key::from_parts(HTTP_DURATION, labels()), &METADATA),
        };
        series.requests.increment(1);
        series.duration.record(seconds);
        self.http_series
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((method, route.into(), status), series);
    }

    pub fn error(&self, kind: ErrorKind) {
        self.counter(ERRORS, vec![Label::new("kind", kind.as_str())], 1);
    }

    pub fn rate_limited(&self) {
        self.counter(RATE_LIMITED, Vec::new(), 1);
    }

    /// Redis could not be asked; the local limiter decided instead.
    pub fn rate_limit_backend_error(&self) {
        self.counter(RATE_LIMIT_BACKEND_ERRORS, Vec::new(), 1);
    }

    pub fn key_lookup(&self) {
        self.counter(KEY_LOOKUPS, Vec::new(), 1);
    }

    pub fn purge_run(&self, deleted: u64) {
        self.counter(PURGE_RUNS, Vec::new(), 1);
        self.counter(PURGED, Vec::new(), deleted);
    }

    /// The change feed was applied this long after its last change was written.
    pub fn feed_applied(&self, lag_seconds: f64) {
        self.gauge(FEED_LAG, Vec::new(), lag_seconds.max(0.0));
    }

    pub fn backup_written(&self, at: DateTime<Utc>) {
        self.gauge(BACKUP_LAST_SUCCESS, Vec::new(), at.timestamp() as f64);
    }

    /// The Prometheus text exposition, with the scrape-time values set first.
    pub fn render(&self, now: &Snapshot) -> String {
        self.gauge(VEHICLES_PARKED, Vec::new(), now.vehicles_parked as f64);
        self.gauge(WEBSOCKETS, Vec::new(), now.websocket_connections as f64);
        let spans = |name: &'static str, value: u64| {
            self.recorder
                .register_counter(&Key::from_name(name), &METADATA)
                .absolute(value);
        };
        spans(SPANS_EXPORTED, traces::exported_spans());
        spans(SPANS_DROPPED, traces::dropped_spans());
        for pool in &now.pools {
            let labels = |state: &'static str| {
                vec![Label::new("pool", pool.pool), Label::new("state", state)]
            };
            self.gauge(DB_POOL, labels("idle"), f64::from(pool.idle));
            self.gauge(
                DB_POOL,
                labels("busy"),
                f64::from(pool.size.saturating_sub(pool.idle)),
            );
        }
        self.handle.render()
    }
}

/// The `method` label: the methods the service answers, and `other` for anything else, so
/// that made-up methods cannot create new series.
pub fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}
