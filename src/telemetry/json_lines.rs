//! The JSON log line, written straight into one reused buffer.
//!
//! It is the object `tracing-subscriber`'s JSON format writes with the event flattened and the
//! current span — `{"timestamp", "level", <the event's fields>, "target", "span": {<the span's
//! fields>, "name"}}` — without that format's costs per line: it parses the span's fields
//! (kept as a JSON text since the span was opened) back into a `serde_json::Value` for every
//! line, and builds the timestamp and the line in fresh allocations. A request writes one
//! line, so on `/health/live` those costs were a large part of the request (profile in
//! `bench/README.md`).
//!
//! The span's fields are kept as the JSON text `JsonFields` would keep, written by
//! `SpanFields` straight from the values (`JsonFields` collects them into a map of
//! `serde_json::Value`s and serialises that through an adaptor that checks every piece of
//! text it writes is UTF-8: a sixth of `/health/live`'s instructions), and copied into each
//! line as they are.

use std::{cell::RefCell, fmt, fmt::Write as _};

use chrono::{Datelike, Timelike, Utc};
use tracing::{
    Event, Subscriber,
    field::{Field, Visit},
};
use tracing_subscriber::{
    field::RecordFields,
    fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields, format::Writer},
    registry::LookupSpan,
};

use super::request_scope;

/// The event format of the JSON logs; use with `SpanFields` for the spans' fields.
pub struct JsonLines;

/// A span's fields as the text of one JSON object.
pub struct SpanFields;

thread_local! {
    static LINE: RefCell<String> = RefCell::new(String::with_capacity(512));
    /// A span's fields as members (`,"name":value` each) before they become its object.
    static MEMBERS: RefCell<String> = RefCell::new(String::with_capacity(256));
    /// `YYYY-MM-DDTHH:MM:SS.` of the last second a line was written in on this thread.
    static SECOND: RefCell<(i64, String)> = const { RefCell::new((i64::MIN, String::new())) };
}

impl<S> FormatEvent<S, SpanFields> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, SpanFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        with_scratch(&LINE, |line| {
            line.push_str("{\"timestamp\":\"");
            timestamp(line);
            line.push_str("\",\"level\":\"");
            line.push_str(event.metadata().level().as_str());
            line.push('"');
            event.record(&mut EventFields(line));
            line.push_str(",\"target\":");
            string(line, event.metadata().target());
            let span = event
                .parent()
                .and_then(|id| ctx.span(id))
                .or_else(|| ctx.lookup_current());
            if let Some(span) = span {
                line.push_str(",\"span\":{");
                if let Some(fields) = span.extensions().get::<FormattedFields<SpanFields>>() {
                    let members = fields
                        .fields
                        .trim()
                        .strip_prefix('{')
                        .and_then(|f| f.strip_suffix('}'))
                        .unwrap_or_default();
                    if !members.is_empty() {
                        line.push_str(members);
                        line.push(',');
                    }
                }
                line.push_str("\"name\":");
                string(line, span.metadata().name());
                line.push('}');
            } else {
                // A request that opened no span: the fields its span would have had.
                // The id (`[A-Za-z0-9._-]`) and the method (a fixed set of names) need no
                // escape, and are copied without looking for one.
                request_scope::with_current(|request| {
                    line.push_str(",\"span\":{\"request_id\":\"");
                    line.push_str(request.id.as_str());
                    line.push_str("\",\"method\":\"");
                    line.push_str(request.method);
                    line.push_str("\",\"route\":");
                    string(line, request.route());
                    line.push_str(",\"name\":\"request\"}");
                });
            }
            line.push_str("}\n");
            writer.write_str(line)
        })
    }
}

impl<'writer> FormatFields<'writer> for SpanFields {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        // The object goes out in one piece: `tracing-subscriber` hands over an empty string,
        // which grew twice, reallocating, when it was written brace, members, brace.
        with_scratch(&MEMBERS, |members| {
            fields.record(&mut EventFields(members));
            // Each member starts with a comma; the first one's becomes the opening brace.
            if members.is_empty() {
                members.push('{');
            } else {
                members.replace_range(..1, "{");
            }
            members.push('}');
            writer.write_str(members)
        })
    }

    /// Fields recorded after the span was opened (rare: trace attributes) replace any of the
    /// same name, as with `JsonFields`.
    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        let mut added = String::new();
        fields.record(&mut EventFields(&mut added));
        let Some(added) = added.strip_prefix(',') else {
            return Ok(());
        };
        let parse = |text: &str| {
            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text)
                .unwrap_or_default()
        };
        let mut object = parse(&current.fields);
        object.extend(parse(&format!("{{{added}}}")));
        current.fields = serde_json::to_string(&object).map_err(|_| fmt::Error)?;
        Ok(())
    }
}

/// Runs `write` on this thread's `buffer`, emptied. Text formatted while being formatted (a
/// `Debug` that logs) gets a buffer of its own rather than a panic.
fn with_scratch<R>(
    buffer: &'static std::thread::LocalKey<RefCell<String>>,
    write: impl FnOnce(&mut String) -> R,
) -> R {
    buffer.with(|buffer| {
        let mut own = String::new();
        let mut borrowed = buffer.try_borrow_mut();
        let text = match borrowed.as_deref_mut() {
            Ok(text) => text,
            Err(_) => &mut own,
        };
        text.clear();
        write(text)
    })
}

/// RFC 3339 in UTC with microseconds, as `tracing-subscriber`'s default timer writes it; the
/// date and time of day are formatted once a second per thread.
fn timestamp(line: &mut String) {
    let now = Utc::now();
    let second = now.timestamp();
    SECOND.with(|cached| {
        let mut cached = cached.borrow_mut();
        if cached.0 != second {
            cached.1.clear();
            let _ = write!(
                cached.1,
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.",
                now.year(),
                now.month(),
                now.day(),
                now.hour(),
                now.minute(),
                now.second()
            );
            cached.0 = second;
        }
        line.push_str(&cached.1);
    });
    // Six digits by hand rather than through the formatting machinery, as the numbers below.
    let micros = now.timestamp_subsec_micros() % 1_000_000;
    let mut digits = [b'0'; 6];
    let mut rest = micros;
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    line.extend(digits.iter().map(|&d| char::from(d)));
    line.push('Z');
}

/// The event's fields as members of the line's object, typed as `tracing-serde` types them.
struct EventFields<'a>(&'a mut String);

impl EventFields<'_> {
    fn key(&mut self, field: &Field) {
        self.0.push(',');
        string(self.0, field.name());
        self.0.push(':');
    }

    /// A member whose value is written as it is (numbers, and numbers as strings).
    fn member(&mut self, field: &Field, value: fmt::Arguments<'_>) {
        self.key(field);
        let _ = self.0.write_fmt(value);
    }
}

impl Visit for EventFields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.key(field);
        self.0.push('"');
        let _ = write!(Escaping(self.0), "{value:?}");
        self.0.push('"');
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.key(field);
        string(self.0, value);
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.key(field);
        self.0.push('"');
        let _ = write!(Escaping(self.0), "{value}");
        self.0.push('"');
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.key(field);
        self.0.push_str(if value { "true" } else { "false" });
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.key(field);
        self.0.push_str(itoa::Buffer::new().format(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.key(field);
        self.0.push_str(itoa::Buffer::new().format(value));
    }

    // 128-bit integers are strings (beyond what JSON readers take as numbers), as
    // `tracing-serde` writes them.
    fn record_i128(&mut self, field: &Field, value: i128) {
        self.member(field, format_args!("\"{value}\""));
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.member(field, format_args!("\"{value}\""));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.key(field);
        fractional(self.0, value);
    }
}

/// serde_json's own number text (it formats with `zmij`); `null` for NaN and the infinities,
/// as it writes them.
fn fractional(line: &mut String, value: f64) {
    if value.is_finite() {
        line.push_str(zmij::Buffer::new().format_finite(value));
    } else {
        line.push_str("null");
    }
}

/// `text` as a JSON string.
fn string(line: &mut String, text: &str) {
    line.push('"');
    let _ = Escaping(line).write_str(text);
    line.push('"');
}

/// Writes text escaped for the inside of a JSON string, as serde_json escapes it.
struct Escaping<'a>(&'a mut String);

impl fmt::Write for Escaping<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        // Nearly all text (field names, ids, routes, messages) needs no escape, and is
        // copied whole once that is known: the byte-by-byte walk below, which also copied
        // text run by run, was 6.6% of a health check's instructions (now 3.4%).
        if !text
            .bytes()
            .fold(false, |any, byte| any | needs_escape(byte))
        {
            self.0.push_str(text);
            return Ok(());
        }
        let mut plain = 0;
        for (at, byte) in text.bytes().enumerate() {
            let escaped = match byte {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0x08 => "\\b",
                0x0c => "\\f",
                0x00..=0x1f => "",
                _ => continue,
            };
            self.0.push_str(&text[plain..at]);
            if escaped.is_empty() {
                let _ = write!(self.0, "\\u{byte:04x}");
            } else {
                self.0.push_str(escaped);
            }
            plain = at + 1;
        }
        self.0.push_str(&text[plain..]);
        Ok(())
    }
}

fn needs_escape(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use serde_json::Value;
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn emit() {
        let span = tracing::info_span!(
            "request",
            request_id = %"01JABC",
            method = "GET",
            route = %"/api/v1/vehicles/{plate}",
            late = tracing::field::Empty,
        );
        // Recorded after the span opened: one added, one replaced.
        span.record("late", 7u64);
        span.record("method", "POST");
        span.in_scope(|| {
            tracing::info!(
                status = 200u16,
                latency_ms = 1.25,
                negative = -3i64,
                big = u128::MAX,
                ok = true,
                not_a_number = f64::NAN,
                text = "quote \" backslash \\ newline \n tab \t bell \u{7} é ✓",
                debug = ?Some("x\"y"),
                error = &std::io::Error::other("disk \"full\"") as &(dyn std::error::Error + 'static),
                "request completed {}", "now"
            );
        });
        tracing::warn!(outside = 1, "no span");
    }

    /// The lines written by `layer` while `emit` runs.
    fn lines<L>(layer: impl FnOnce(Captured) -> L, emit: impl FnOnce()) -> Vec<Value>
    where
        L: tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync + 'static,
    {
        let captured = Captured::default();
        let subscriber = tracing_subscriber::registry().with(layer(captured.clone()));
        tracing::subscriber::with_default(subscriber, emit);
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert!(text.ends_with('\n'), "{text}");
        text.lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
            .collect()
    }

    #[test]
    fn lines_are_the_objects_tracing_subscribers_json_format_writes() {
        let ours = lines(ours, emit);
        let theirs = lines(
            |w| {
                tracing_subscriber::fmt::layer()
                    .with_writer(move || w.clone())
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false)
            },
            emit,
        );
        assert_eq!(ours.len(), 2);
        assert_eq!(ours.len(), theirs.len());
        for (mut ours, mut theirs) in ours.into_iter().zip(theirs) {
            let our_time = ours["timestamp"].take();
            let their_time = theirs["timestamp"].take();
            assert_eq!(ours, theirs);
            // Same shape, a moment apart: `2026-11-27T17:23:07.123456Z`.
            for time in [our_time.as_str().unwrap(), their_time.as_str().unwrap()] {
                assert_eq!(time.len(), 27, "{time}");
                let parsed = chrono::DateTime::parse_from_rfc3339(time).unwrap();
                assert!((Utc::now() - parsed.with_timezone(&Utc)).num_seconds() < 60);
            }
        }
    }

    fn ours(w: Captured) -> impl tracing_subscriber::Layer<tracing_subscriber::Registry> {
        tracing_subscriber::fmt::layer()
            .with_writer(move || w.clone())
            .fmt_fields(SpanFields)
            .event_format(JsonLines)
    }

    #[tokio::test]
    async fn a_request_that_opened_no_span_is_named_as_its_span_would_name_it() {
        use axum::{
            Router,
            body::Body,
            extract::MatchedPath,
            http::{HeaderValue, Request},
            routing::get,
        };
        use tower::ServiceExt;

        use crate::telemetry::request_scope::{RequestId, RequestScope};

        // A route template as a real router matches it.
        let (sender, matched) = std::sync::mpsc::channel();
        let router = Router::new().route(
            "/api/v1/vehicles/{plate}",
            get(move |path: MatchedPath| {
                sender.send(path).unwrap();
                async {}
            }),
        );
        let request = Request::get("/api/v1/vehicles/AB12CDE").body(Body::empty());
        router.oneshot(request.unwrap()).await.unwrap();
        let matched = matched.recv().unwrap();
        let id = RequestId::from_client(&HeaderValue::from_static("01JABC")).unwrap();
        let event = || {
            tracing::info!(
                message = "request completed",
                status = 200u16,
                latency_ms = 0.5
            );
            tracing::warn!(nested = true, "inside the handler");
        };

        let scoped = lines(ours, || {
            RequestScope::new(id, "GET", Some(matched)).sync_scope(event)
        });
        let spanned = lines(ours, || {
            let route = "/api/v1/vehicles/{plate}";
            tracing::info_span!("request", request_id = "01JABC", method = "GET", route)
                .in_scope(event)
        });
        assert_eq!(scoped.len(), 2);
        for (mut scoped, mut spanned) in scoped.into_iter().zip(spanned) {
            scoped["timestamp"].take();
            spanned["timestamp"].take();
            assert_eq!(scoped, spanned);
            assert_eq!(scoped["span"]["route"], "/api/v1/vehicles/{plate}");
        }
        // Outside a request, no span.
        let outside = lines(ours, || tracing::info!("no request"));
        assert!(outside[0].get("span").is_none(), "{}", outside[0]);
    }

    proptest::proptest! {
        #[test]
        fn any_text_is_escaped_as_serde_json_does(text in "\\PC{0,40}|[\\x00-\\x7f]{0,40}") {
            let mut ours = String::new();
            string(&mut ours, &text);
            proptest::prop_assert_eq!(ours, serde_json::to_string(&text).unwrap());
        }

        #[test]
        fn any_fractional_number_is_written_as_serde_json_writes_it(value in proptest::num::f64::ANY) {
            let mut ours = String::new();
            fractional(&mut ours, value);
            proptest::prop_assert_eq!(ours, serde_json::to_string(&value).unwrap());
        }
    }

    #[test]
    fn every_control_character_is_escaped_as_serde_json_does() {
        let text: String = (0u8..0x80)
            .map(char::from)
            .chain(['é', '✓', '😀'])
            .collect();
        let mut ours = String::new();
        string(&mut ours, &text);
        assert_eq!(ours, serde_json::to_string(&text).unwrap());
    }
}
