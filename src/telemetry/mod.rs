//! Logging: one JSON object per line on standard output (or readable text with `pretty`).
//!
//! What is never logged: API keys, contact names, phone numbers and plates. Request logs
//! carry the route template, not the path; domain types redact themselves in `Debug`.

pub mod metrics;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// The default filter keeps the database driver quiet: it would log SQL on every query.
const DEFAULT_FILTER: &str = "info,sqlx=warn";

/// Installs the subscriber for the server. `RUST_LOG` overrides the default filter.
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stdout);
    // `try_init` fails only when a subscriber is already installed (tests): keep that one.
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}

/// For one-shot subcommands: warnings only, on standard error, so standard output carries
/// just the command's result (a new key, a listing).
pub fn init_for_command() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new("warn"))
        .with_writer(std::io::stderr)
        .try_init();
}
