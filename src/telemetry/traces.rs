//! Traces over OTLP/HTTP, when `PARKING_OTLP_ENDPOINT` is set.
//!
//! `tracing` spans become OpenTelemetry spans through `tracing-opentelemetry`. Finished spans
//! go into a bounded queue that one task on the service's runtime drains in batches to the
//! collector: a request never waits for the collector, and when the queue is full or an
//! export fails the spans are dropped and counted (`parking_trace_spans_dropped_total`)
//! rather than held in memory without bound.
//!
//! The spans added for tracing (handler, store calls, the change feed's apply, jobs) use the
//! target [`SPANS`], which the log output leaves out: logs look the same with tracing on or
//! off, and with it off those spans are never built.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use opentelemetry::{
    Context, KeyValue,
    propagation::TextMapPropagator,
    trace::{SpanKind, Status, TraceContextExt, TracerProvider as _},
};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::{
    Resource,
    error::OTelSdkResult,
    propagation::TraceContextPropagator,
    trace::{Sampler, SdkTracerProvider, Span, SpanData, SpanExporter as _, SpanProcessor},
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::config::TraceSettings;

/// The target of spans that exist only for traces.
pub const SPANS: &str = "parking::spans";

/// Spans waiting for export beyond this are dropped.
const QUEUE: usize = 4096;
/// Spans per export request.
const BATCH: usize = 512;
/// How long a span may wait for its batch to fill.
const BATCH_DELAY: Duration = Duration::from_millis(500);
/// An export that takes longer is abandoned (and its spans counted as dropped).
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);
/// What shutdown waits at most for the last spans to leave.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(3);

/// Spans lost since start: queue full, or the collector refused or did not answer. One
/// count per process, as there is one exporter per process.
static DROPPED: AtomicU64 = AtomicU64::new(0);
/// Spans the collector accepted since start.
static EXPORTED: AtomicU64 = AtomicU64::new(0);

pub fn dropped_spans() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

pub fn exported_spans() -> u64 {
    EXPORTED.load(Ordering::Relaxed)
}

/// The running exporter; [`Exporting::shutdown`] sends what is queued before the process ends.
pub struct Exporting {
    provider: SdkTracerProvider,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Exporting {
    /// Starts the export task on the current runtime and returns the provider's tracer
    /// through [`Exporting::tracer`].
    pub fn start(settings: &TraceSettings, instance: &str) -> anyhow::Result<Self> {
        let mut exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_endpoint(settings.endpoint.clone())
            .with_timeout(EXPORT_TIMEOUT)
            .build()?;
        let resource = resource(instance);
        exporter.set_resource(&resource);
        let (queue, spans) = mpsc::channel(QUEUE);
        let stop = CancellationToken::new();
        let task = tokio::spawn(export_loop(spans, exporter, stop.clone()));
        let sampler =
            Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(settings.sample_ratio)));
        let provider = SdkTracerProvider::builder()
            .with_span_processor(Queue { queue })
            .with_sampler(sampler)
            .with_resource(resource)
            .build();
        Ok(Self {
            provider,
            stop,
            task,
        })
    }

    pub fn tracer(&self) -> opentelemetry_sdk::trace::Tracer {
        self.provider.tracer("parking")
    }

    /// Exports what is queued, waiting at most a few seconds.
    pub async fn shutdown(self) {
        self.stop.cancel();
        if tokio::time::timeout(FLUSH_TIMEOUT, self.task)
            .await
            .is_err()
        {
            tracing::warn!("traces still queued at shutdown were not exported");
        }
    }
}

/// `service.name` is `parking` unless `OTEL_SERVICE_NAME` (or `OTEL_RESOURCE_ATTRIBUTES`)
/// names it otherwise, as OpenTelemetry's own settings should win.
fn resource(instance: &str) -> Resource {
    let named = std::env::var_os("OTEL_SERVICE_NAME").is_some()
        || std::env::var("OTEL_RESOURCE_ATTRIBUTES").is_ok_and(|a| a.contains("service.name"));
    let builder = Resource::builder();
    let builder = if named {
        builder
    } else {
        builder.with_service_name("parking")
    };
    builder
        .with_attributes([
            KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
            KeyValue::new("service.instance.id", instance.to_owned()),
        ])
        .build()
}

/// Hands finished spans to the export task without ever waiting.
#[derive(Debug)]
struct Queue {
    queue: mpsc::Sender<SpanData>,
}

impl SpanProcessor for Queue {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, mut span: SpanData) {
        if span.name == "request" {
            name_request(&mut span);
        }
        if self.queue.try_send(span).is_err() {
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// The request span keeps its short name and fields in the logs; in a trace it is named and
/// described as OpenTelemetry's HTTP conventions say: `GET /api/v1/vehicles/{plate}`.
fn name_request(span: &mut SpanData) {
    let text = |key: &str| {
        span.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.as_str().into_owned())
    };
    let (Some(method), Some(route)) = (text("method"), text("route")) else {
        return;
    };
    span.name = format!("{method} {route}").into();
    span.span_kind = SpanKind::Server;
    span.attributes.extend([
        KeyValue::new("http.request.method", method),
        KeyValue::new("http.route", route),
    ]);
}

async fn export_loop(
    mut spans: mpsc::Receiver<SpanData>,
    exporter: opentelemetry_otlp::SpanExporter,
    stop: CancellationToken,
) {
    loop {
        let first = tokio::select! {
            () = stop.cancelled() => break,
            span = spans.recv() => match span {
                Some(span) => span,
                None => return,
            },
        };
        let mut batch = vec![first];
        let deadline = tokio::time::sleep(BATCH_DELAY);
        tokio::pin!(deadline);
        while batch.len() < BATCH {
            tokio::select! {
                () = &mut deadline => break,
                () = stop.cancelled() => break,
                span = spans.recv() => match span {
                    Some(span) => batch.push(span),
                    None => break,
                },
            }
        }
        export(&exporter, batch).await;
    }
    // Stopping: what is queued now goes out too.
    let mut batch = Vec::new();
    while let Ok(span) = spans.try_recv() {
        batch.push(span);
        if batch.len() == BATCH {
            export(&exporter, std::mem::take(&mut batch)).await;
        }
    }
    if !batch.is_empty() {
        export(&exporter, batch).await;
    }
}

async fn export(exporter: &opentelemetry_otlp::SpanExporter, batch: Vec<SpanData>) {
    let count = batch.len() as u64;
    match tokio::time::timeout(EXPORT_TIMEOUT, exporter.export(batch)).await {
        Ok(Ok(())) => {
            EXPORTED.fetch_add(count, Ordering::Relaxed);
        }
        outcome => {
            DROPPED.fetch_add(count, Ordering::Relaxed);
            let reason = match outcome {
                Ok(Err(error)) => error.to_string(),
                _ => "the collector did not answer in time".to_owned(),
            };
            warn_now_and_then(&reason);
        }
    }
}

/// A collector that is down would otherwise add a log line per batch.
fn warn_now_and_then(reason: &str) {
    static LAST: std::sync::Mutex<Option<std::time::Instant>> = std::sync::Mutex::new(None);
    let mut last = LAST
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if last.is_none_or(|at| at.elapsed() >= Duration::from_secs(60)) {
        *last = Some(std::time::Instant::now());
        drop(last);
        tracing::warn!(
            target: "parking::telemetry",
            error = reason,
            dropped_so_far = dropped_spans(),
            "cannot export traces; spans are dropped until the collector answers"
        );
    }
}

/// Marks the request's span with the answer's status; a 5xx marks it failed.
pub fn record_status(span: &tracing::Span, status: axum::http::StatusCode) {
    span.set_attribute("http.response.status_code", i64::from(status.as_u16()));
    if status.is_server_error() {
        span.set_status(Status::error(status.to_string()));
    }
}

/// Continues the trace of an incoming `traceparent` header, if there is a valid one, and
/// returns the trace id the request's span belongs to.
pub fn continue_trace(span: &tracing::Span, headers: &axum::http::HeaderMap) -> Option<String> {
    let parent =
        TraceContextPropagator::new().extract(&opentelemetry_http::HeaderExtractor(headers));
    if parent.span().span_context().is_valid() {
        // Fails only when the span is disabled or already started: it is neither here.
        let _ = span.set_parent(parent);
    }
    let context = span.context();
    let trace = context.span().span_context().trace_id();
    (trace != opentelemetry::trace::TraceId::INVALID).then(|| trace.to_string())
}
