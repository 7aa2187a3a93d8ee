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
