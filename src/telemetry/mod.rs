//! Logging: one JSON object per line on standard output (or readable text with `pretty`);
//! traces over OTLP when an endpoint is set (`traces`); error reports (`errors`).
//!
//! What is never logged or traced: API keys, contact names, phone numbers and plates. Request
//! logs and spans carry the route template, not the path; domain types redact themselves in
//! `Debug`.

pub mod errors;
mod json_lines;
pub mod metrics;
pub mod traces;

use tracing_subscriber::{
    EnvFilter, Layer, filter::FilterExt, layer::SubscriberExt, util::SubscriberInitExt,
};

use crate::config::{LogFormat, TraceSettings};

/// The default filter keeps the database driver quiet: it would log SQL on every query.
const DEFAULT_FILTER: &str = "info,sqlx=warn";

/// What traces carry: the service's own spans, and events at `warn` and above (an `error`
/// event marks its span failed). Events at `info` would repeat what spans already say (the
/// request's outcome is an attribute) at a cost per request.
fn traced(meta: &tracing::Metadata<'_>) -> bool {
    if meta.is_span() {
        meta.target().starts_with("parking") && *meta.level() <= tracing::Level::INFO
    } else {
        *meta.level() <= tracing::Level::WARN
    }
}

/// What keeps the server's telemetry going until it stops: the log writer's thread (dropping
/// this flushes the lines still queued) and the trace exporter, if any.
pub struct Telemetry {
    pub traces: Option<traces::Exporting>,
    _logs: tracing_appender::non_blocking::WorkerGuard,
}

/// Installs the subscriber for the server, and the trace exporter when `traces` is set.
/// `RUST_LOG` overrides the default log filter (not what traces carry).
pub fn init(
    format: LogFormat,
    traces: Option<&TraceSettings>,
    instance: &str,
) -> anyhow::Result<Telemetry> {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    // Spans that exist for traces stay out of the logs, so each line keeps the request's
    // span (and its id) as its own.
    let log_filter = filter.and(tracing_subscriber::filter::filter_fn(|meta| {
        meta.target() != traces::SPANS
    }));
    // Lines are handed to a thread of their own, which writes whatever has queued up at once:
    // a request never waits for standard output, and a busy server writes many lines per
    // system call. The queue is not lossy: when it is full a request waits rather than losing
    // its line.
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("parking-logs")
        // Buffered, so the lines of a batch leave in one write (the thread flushes after each
        // batch: a line never waits for more to come).
        .finish(std::io::BufWriter::with_capacity(
            64 * 1024,
            std::io::stdout(),
        ));
    let logs = tracing_subscriber::fmt::layer().with_writer(writer);
    let logs = match format {
        LogFormat::Json => logs
            .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
            .event_format(json_lines::JsonLines)
            .with_filter(log_filter)
            .boxed(),
        LogFormat::Pretty => logs.with_filter(log_filter).boxed(),
    };
    let exporting = traces
        .map(|settings| traces::Exporting::start(settings, instance))
        .transpose()?;
    let tracing_layer = exporting.as_ref().map(|exporting| {
        tracing_opentelemetry::layer()
            .with_tracer(exporting.tracer())
            // Source locations and thread names tell an operator nothing a span name does not.
            .with_location(false)
            .with_threads(false)
            // Busy and idle times per span cost two clock reads at every poll of a request's
            // future; the span's own duration is what an operator reads.
            .with_tracked_inactivity(false)
            // Nothing here reads OpenTelemetry's own current context (parents come from the
            // `tracing` span tree), so entering a span need not install it.
            .with_context_activation(false)
            .with_filter(tracing_subscriber::filter::filter_fn(traced))
    });
    // `try_init` fails only when a subscriber is already installed (tests): keep that one.
    let _ = tracing_subscriber::registry()
        .with(logs)
        .with(tracing_layer)
        .try_init();
    Ok(Telemetry {
        traces: exporting,
        _logs: guard,
    })
}

/// For one-shot subcommands: warnings only, on standard error, so standard output carries
/// just the command's result (a new key, a listing).
pub fn init_for_command() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new("warn"))
        .with_writer(std::io::stderr)
        .try_init();
}
