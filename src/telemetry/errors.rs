//! Error reports: a failure is logged once as an `error` event with its causes (which, when
//! traces are on, becomes an event of the span it happened in and marks that span failed)
//! and counted in `parking_errors_total` by kind.
//!
//! Error messages of every layer below carry no stored values, so reports do not either.

use std::error::Error;

use super::metrics::Metrics;

/// What failed: the `kind` label of `parking_errors_total`, a fixed set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A request answered `500`.
    Request,
    /// A retention purge run, or the clean-up that follows it.
    Purge,
    /// A backup (scheduled) or the rotation of old ones.
    Backup,
    /// Reading or applying the change feed.
    Feed,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 4] = [
        ErrorKind::Request,
        ErrorKind::Purge,
        ErrorKind::Backup,
        ErrorKind::Feed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Request => "request",
            ErrorKind::Purge => "purge",
            ErrorKind::Backup => "backup",
            ErrorKind::Feed => "feed",
        }
    }
}

/// The error's message followed by each cause not already part of it (error types that wrap
/// another often print it too).
pub fn chain(error: &(dyn Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let message = cause.to_string();
        if !text.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        source = cause.source();
    }
    text
}

/// Reports a failed background job; `what` says which (a constant phrase).
pub fn report(
    metrics: &Metrics,
    kind: ErrorKind,
    what: &'static str,
    error: &(dyn Error + 'static),
) {
    metrics.error(kind);
    tracing::error!(kind = kind.as_str(), error = %chain(error), "{what}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    enum Outer {
        #[error("database error: {0}")]
        Repeats(#[source] std::io::Error),
        #[error("cannot write the backup")]
        Hides(#[source] std::io::Error),
    }

    #[test]
    fn a_chain_names_every_cause_once() {
        let inner = || std::io::Error::other("disk full");
        assert_eq!(chain(&Outer::Repeats(inner())), "database error: disk full");
        assert_eq!(
            chain(&Outer::Hides(inner())),
            "cannot write the backup: disk full"
        );
    }
}
