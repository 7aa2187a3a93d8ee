//! Prometheus metrics. Each app owns its recorder (no global state), so several apps in one
//! process — tests — never mix their counts. Labels hold route templates and status codes,
//! never a plate, a name, a phone number or a key.

use chrono::{DateTime, Utc};
use metrics::{Key, Label, Level, Metadata, Recorder};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

const METADATA: Metadata<'static> = Metadata::new("parking", Level::INFO, None);

/// Latency buckets in seconds, from fast reads to slow backups.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

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
            .set_buckets_for_metric(
                Matcher::Full("http_request_duration_seconds".into()),
                &LATENCY_BUCKETS,
            )
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        Self { recorder, handle }
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

    pub fn http_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let labels = || {
            vec![
                Label::new("method", method.to_owned()),
                Label::new("route", route.to_owned()),
                Label::new("status", status.to_string()),
            ]
        };
        self.counter("http_requests_total", labels(), 1);
        self.recorder
            .register_histogram(
                &Key::from_parts("http_request_duration_seconds", labels()),
                &METADATA,
            )
            .record(seconds);
    }

    pub fn rate_limited(&self) {
        self.counter("rate_limited_requests_total", Vec::new(), 1);
    }

    /// Redis could not be asked; the local limiter decided instead.
    pub fn rate_limit_backend_error(&self) {
        self.counter("rate_limit_backend_errors_total", Vec::new(), 1);
    }

    pub fn purge_run(&self, deleted: u64) {
        self.counter("purge_runs_total", Vec::new(), 1);
        self.counter("purge_deleted_vehicles_total", Vec::new(), deleted);
    }

    pub fn backup_written(&self, at: DateTime<Utc>) {
        self.gauge(
            "backup_last_success_timestamp_seconds",
            Vec::new(),
            at.timestamp() as f64,
        );
    }

    /// The Prometheus text exposition, with the scrape-time values set first.
    pub fn render(&self, now: &Snapshot) -> String {
        self.gauge("vehicles_parked", Vec::new(), now.vehicles_parked as f64);
        self.gauge(
            "websocket_connections",
            Vec::new(),
            now.websocket_connections as f64,
        );
        for pool in &now.pools {
            let labels = |state: &'static str| {
                vec![Label::new("pool", pool.pool), Label::new("state", state)]
            };
            self.gauge("db_pool_connections", labels("idle"), f64::from(pool.idle));
            self.gauge(
                "db_pool_connections",
                labels("busy"),
                f64::from(pool.size.saturating_sub(pool.idle)),
            );
        }
        self.handle.render()
    }
}
