//! Logging: one JSON object per line on standard output (or readable text with `pretty`);
//! traces over OTLP when an endpoint is set (`traces`); error reports (`errors`).
//!
//! What is never logged or traced: API keys, contact names, phone numbers and plates. Request
//! logs and spans carry the route template, not the path; domain types redact themselves in
//! `Debug`.

pub mod errors;
mod json_lines;
pub mod metrics;
pub mod request_scope;
pub mod traces;

use tracing_subscriber::{
    EnvFilter, Layer,
    filter::{FilterExt, LevelFilter, Targets, filter_fn},
    layer::SubscriberExt,
    registry::LookupSpan,
    util::SubscriberInitExt,
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
    let exporting = traces
        .map(|settings| traces::Exporting::start(settings, instance))
        .transpose()?;
    let filter = LogFilter::from_env();
    // Requests need a `tracing` span of their own only for what reads spans: traces, filters
    // that name spans or fields, and the pretty format (JSON lines read the request's scope).
    let request_spans = exporting.is_some()
        || matches!(filter, LogFilter::Dynamic(_))
        || format == LogFormat::Pretty;
    // `try_init` fails only when a subscriber is already installed (tests): keep that one.
    let installed = match &exporting {
        // Logs alone: their filter is the subscriber's own. A filter of one layer among
        // several costs a look-up of the span's state at every enter and exit of every span
        // (each poll of a request's future), and a span no layer wants is then never built.
        None => match filter {
            LogFilter::Targets(targets) => tracing_subscriber::registry()
                .with(targets)
                .with(log_layer(format, writer))
                .try_init(),
            // Rare enough that the layer's own filter for trace spans costs nothing that
            // matters (the `Targets` filter turns them off itself).
            LogFilter::Dynamic(filter) => tracing_subscriber::registry()
                .with(filter)
                .with(log_layer(format, writer).with_filter(filter_fn(not_a_trace_span)))
                .try_init(),
        },
        Some(exporting) => {
            let logs = match filter {
                LogFilter::Targets(targets) => {
                    log_layer(format, writer).with_filter(targets).boxed()
                }
                LogFilter::Dynamic(filter) => log_layer(format, writer)
                    .with_filter(filter.and(filter_fn(not_a_trace_span)))
                    .boxed(),
            };
            let spans = tracing_opentelemetry::layer()
                .with_tracer(exporting.tracer())
                // Source locations and thread names tell an operator nothing a span name does
                // not.
                .with_location(false)
                .with_threads(false)
                // Busy and idle times per span cost two clock reads at every poll of a
                // request's future; the span's own duration is what an operator reads.
                .with_tracked_inactivity(false)
                // Nothing here reads OpenTelemetry's own current context (parents come from
                // the `tracing` span tree), so entering a span need not install it.
                .with_context_activation(false)
                .with_filter(filter_fn(traced));
            tracing_subscriber::registry()
                .with(logs)
                .with(spans)
                .try_init()
        }
    };
    if installed.is_ok() {
        request_scope::set_request_spans(request_spans);
    }
    Ok(Telemetry {
        traces: exporting,
        _logs: guard,
    })
}

/// Spans that exist for traces (the feed's batches, the jobs, the handler) stay out of the
/// logs, so each line keeps the request's span (and its id) as its own.
fn not_a_trace_span(meta: &tracing::Metadata<'_>) -> bool {
    meta.target() != traces::SPANS
}

/// The log filter: `RUST_LOG` when it parses, else the default.
// Built once at start and moved into the subscriber: its size costs nothing.
#[allow(clippy::large_enum_variant)]
enum LogFilter {
    /// Targets and levels only, which is what nearly every filter says: checked when a span
    /// or event is made, and never again.
    Targets(Targets),
    /// Directives that name spans or field values (`[span{field=value}]`), which `EnvFilter`
    /// follows by tracking every span as it is entered and left.
    Dynamic(EnvFilter),
}

impl LogFilter {
    fn from_env() -> Self {
        let text = std::env::var("RUST_LOG")
            .ok()
            .filter(|text| EnvFilter::builder().parse(text).is_ok())
            .unwrap_or_else(|| DEFAULT_FILTER.to_owned());
        Self::parse(&text)
    }

    fn parse(text: &str) -> Self {
        let plain = !text.trim().is_empty() && !text.contains('[');
        match text.parse::<Targets>() {
            Ok(targets) if plain => {
                Self::Targets(targets.with_target(traces::SPANS, LevelFilter::OFF))
            }
            _ => Self::Dynamic(EnvFilter::new(text)),
        }
    }
}

/// One JSON object per line (or readable text), written by the log thread.
fn log_layer<S>(
    format: LogFormat,
    writer: tracing_appender::non_blocking::NonBlocking,
) -> Box<dyn Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
{
    let logs = tracing_subscriber::fmt::layer().with_writer(writer);
    match format {
        LogFormat::Json => logs
            .fmt_fields(json_lines::SpanFields)
            .event_format(json_lines::JsonLines)
            .boxed(),
        LogFormat::Pretty => logs.boxed(),
    }
}

/// For one-shot subcommands: warnings only, on standard error, so standard output carries
/// just the command's result (a new key, a listing).
pub fn init_for_command() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new("warn"))
        .with_writer(std::io::stderr)
        .try_init();
}

#[cfg(test)]
mod tests {
    use tracing::Level;
    use tracing_subscriber::filter::LevelFilter;

    use super::{DEFAULT_FILTER, LogFilter, traces};

    fn targets(text: &str) -> tracing_subscriber::filter::Targets {
        match LogFilter::parse(text) {
            LogFilter::Targets(targets) => targets,
            LogFilter::Dynamic(_) => panic!("{text:?} was read as dynamic"),
        }
    }

    #[test]
    fn the_default_filter_is_targets_and_levels() {
        let targets = targets(DEFAULT_FILTER);
        assert!(targets.would_enable("parking::http", &Level::INFO));
        assert!(!targets.would_enable("parking::http", &Level::DEBUG));
        assert!(!targets.would_enable("sqlx::query", &Level::INFO));
        assert!(targets.would_enable("sqlx::query", &Level::WARN));
    }

    #[test]
    fn spans_made_for_traces_never_reach_the_logs() {
        for text in [DEFAULT_FILTER, "trace", "parking=trace"] {
            assert!(
                !targets(text).would_enable(traces::SPANS, &Level::ERROR),
                "{text}"
            );
        }
        assert_eq!(
            targets("debug").default_level(),
            Some(LevelFilter::DEBUG),
            "a bare level stays the default"
        );
    }

    #[test]
    fn directives_on_spans_or_fields_keep_the_dynamic_filter() {
        for text in [
            "[request]=debug",
            "parking[request{route=/health/live}]=trace",
            "",
        ] {
            assert!(
                matches!(LogFilter::parse(text), LogFilter::Dynamic(_)),
                "{text:?}"
            );
        }
    }
}
