//! The logs of every in-process server, captured as a deployment writes them (JSON lines at
//! `info`), its audit trail and its metrics, scanned when the test's app goes away for the
//! names, numbers, plates and keys the test sent: no test needs to remember to look.

use std::{
    io,
    sync::{Mutex, Once},
};

static CAPTURED: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Capture;

impl io::Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        CAPTURED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Installs the capturing subscriber once per test process.
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = tracing_subscriber::fmt()
            .json()
            .with_env_filter("info")
            .with_writer(|| Capture)
            .try_init();
    });
}

/// Which of `secrets` the captured logs contain.
pub fn leaked(secrets: &[String]) -> Vec<String> {
    let captured = CAPTURED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let text = String::from_utf8_lossy(&captured);
    secrets
        .iter()
        .filter(|secret| text.contains(secret.as_str()))
        .cloned()
        .collect()
}

/// What of a registration or change body must never reach a log: the plate (normalised, when
/// long enough not to occur by chance in a request id), the name, and the number's last nine
/// digits.
pub fn secrets_of(body: &serde_json::Value) -> Vec<String> {
    let text = |field: &str| body.get(field).and_then(serde_json::Value::as_str);
    let mut secrets = Vec::new();
    if let Some(plate) = text("number_plate") {
        let plate = parking::domain::normalise_plate_text(plate);
        if plate.chars().count() >= 7 {
            secrets.push(plate);
        }
    }
    if let Some(name) = text("contact_name").map(str::trim)
        && name.chars().count() >= 5
    {
        secrets.push(name.to_owned());
    }
    if let Some(phone) = text("phone_number") {
        let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
        if digits.len() >= 9 {
            secrets.push(digits[digits.len() - 9..].to_owned());
        }
    }
    secrets
}

/// The audit trail of `database` as text, read beside its running server (SQLite or
/// PostgreSQL); empty when the database is gone (tests that remove or stop it).
pub fn audit_text(database: &crate::helpers::TestDatabase) -> String {
    // Drop runs on the test's runtime thread: a thread of its own does the async reading.
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                runtime.block_on(database.try_texts(
                    "SELECT action || ' ' || coalesce(entity_id, '') || ' ' || actor || ' ' \
                     || CAST(details AS TEXT) FROM audit_logs",
                ))
            })
            .join()
            .ok()
            .flatten()
            .map(|entries| entries.join("\n"))
            .unwrap_or_default()
    })
}

/// Fields that may hold long digit runs without being personal: ids the service mints.
const MINTED: &[&str] = &["request_id", "trace_id", "span_id"];
/// Field names the service's logs never use, because their values are personal or secret.
const FORBIDDEN_FIELDS: &[&str] = &[
    "number_plate",
    "plate",
    "contact_name",
    "phone_number",
    "phone",
    "key",
    "api_key",
    "x-api-key",
    "authorization",
    "reason",
    "note",
    "path",
    "uri",
    "query",
];

/// What in a server's output has the shape of personal data or a key, whatever the test sent:
/// a field named after one, a route that is not a template (a digit outside `/api/v1`), a run
/// of nine or more digits in a text (a phone number, E.164 or not), or one of `secrets`.
pub fn personal_shapes(lines: &[String], secrets: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    for line in lines {
        for secret in secrets.iter().filter(|s| line.contains(s.as_str())) {
            found.push(format!("the key {secret:?} in {line}"));
        }
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(value) => shapes_in(&value, "", &mut found, line),
            Err(_) => {
                if has_phone_digits(line) {
                    found.push(format!("a phone number's digits in {line}"));
                }
            }
        }
    }
    found
}

fn shapes_in(value: &serde_json::Value, key: &str, found: &mut Vec<String>, line: &str) {
    use serde_json::Value;
    match value {
        Value::Object(members) => {
            for (name, member) in members {
                if FORBIDDEN_FIELDS.contains(&name.to_ascii_lowercase().as_str()) {
                    found.push(format!("a field {name:?} in {line}"));
                }
                shapes_in(member, name, found, line);
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|item| shapes_in(item, key, found, line)),
        Value::String(text) if !MINTED.contains(&key) => {
            if key == "route"
                && text
                    .replacen("/api/v1", "", 1)
                    .contains(|c: char| c.is_ascii_digit())
            {
                found.push(format!("a route that is a path, not a template, in {line}"));
            }
            if has_phone_digits(text) {
                found.push(format!("a phone number's digits in {line}"));
            }
        }
        _ => {}
    }
}

/// Nine or more digits in a row, spaces and hyphens between them ignored.
fn has_phone_digits(text: &str) -> bool {
    let mut run = 0;
    for c in text.chars() {
        match c {
            '0'..='9' => {
                run += 1;
                if run >= 9 {
                    return true;
                }
            }
            ' ' | '-' => {}
            _ => run = 0,
        }
    }
    false
}

#[test]
fn the_shapes_of_personal_data_are_found_and_ordinary_lines_pass() {
    let line = |fields: &str| {
        format!(
            r#"{{"timestamp":"2026-11-27T18:15:14.834437Z","level":"INFO",{fields},"target":"parking","span":{{"request_id":"01JD3Q7A4C123456789012345A","method":"GET","route":"/api/v1/vehicles/{{plate}}","name":"request"}}}}"#
        )
    };
    let clean = [
        line(r#""message":"request completed","status":200,"latency_ms":0.0123456789"#),
        line(
            r#""message":"scheduled backup written","file":"parking-20261127T181514.816Z-scheduled.db""#,
        ),
        line(r#""message":"listening","address":"127.0.0.1:41234""#),
    ];
    assert_eq!(
        personal_shapes(&clean, &["secret-key-1".into()]),
        Vec::<String>::new()
    );
    for leaking in [
        line(r#""message":"registered","contact_name":"Ada""#),
        line(r#""message":"call +442079460321""#),
        line(r#""message":"call 020 7946 0321""#),
        line(r#""message":"key secret-key-1 refused""#),
        line(r#""message":"request completed","route":"/api/v1/vehicles/AB12CDE""#),
        "panicked at 020-7946-0321".to_owned(),
    ] {
        assert_eq!(
            personal_shapes(std::slice::from_ref(&leaking), &["secret-key-1".into()]).len(),
            1,
            "{leaking}"
        );
    }
}
