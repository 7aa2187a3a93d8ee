//! The retention report: what retention did on one UTC day, signed so that a saved copy can
//! be checked later (`parking verify-report FILE`).
//!
//! The signature is an HMAC-SHA256 over the report's canonical JSON (keys sorted, no
//! whitespace) without its `signature` member, under a key derived from the database's own
//! secret: only this database can sign, and any change to a value, a key or a member added
//! or removed breaks it. Formatting (indentation, key order) may change freely.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

pub const DAY_MS: i64 = 86_400_000;
const SCHEME: &str = "hmac-sha256:";
/// Keeps report signatures apart from every other use of the database's secret.
const PURPOSE: &[u8] = b"parking retention report v1";

/// The start of the UTC day `ms` falls in.
pub fn day_of(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS) * DAY_MS
}

/// Why a day to report on was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReportDayError {
    #[error("must be a date written YYYY-MM-DD")]
    Malformed,
    #[error("must not be after today (UTC)")]
    AfterToday,
}

/// A day to report on: `YYYY-MM-DD`, not after today (UTC).
pub fn parse_report_day(raw: &str, now: DateTime<Utc>) -> Result<NaiveDate, ReportDayError> {
    let day =
        NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").map_err(|_| ReportDayError::Malformed)?;
    if day > now.date_naive() {
        return Err(ReportDayError::AfterToday);
    }
    Ok(day)
}

/// What one day's report states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionReport {
    pub day: NaiveDate,
    pub generated_at: DateTime<Utc>,
    pub retention_hours: i64,
    /// Rows deleted by the purge that day (vehicles and watchlist entries).
    pub purged: i64,
    /// Rows deleted by erasure requests that day.
    pub erased: i64,
    /// Vehicles kept past their retention by a legal hold (today: now; an earlier day: as the
    /// day's last purge found them; `None` when no purge ran that day).
    pub held: Option<i64>,
    pub backups_deleted: i64,
    /// The oldest entry time of any vehicle the database still held (as for `held`).
    pub oldest_record: Option<DateTime<Utc>>,
}

impl RetentionReport {
    /// The report's members, without the signature.
    pub fn body(&self) -> Value {
        let time = |t: &DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Millis, true);
        json!({
            "day": self.day.format("%Y-%m-%d").to_string(),
            "generated_at": time(&self.generated_at),
            "retention_hours": self.retention_hours,
            "purged": self.purged,
            "erased": self.erased,
            "held": self.held,
            "backups_deleted": self.backups_deleted,
            "oldest_record": self.oldest_record.as_ref().map(time),
        })
    }
}

/// Why a saved report does not check out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    #[error("the file is not a JSON report")]
    NotAReport,
    #[error("the report carries no signature")]
    Unsigned,
    #[error("the signature does not match: the report was altered, or signed by another database")]
    Mismatch,
}

/// The key reports are signed with, derived from the database's secret.
#[derive(Clone)]
pub struct ReportKey(Vec<u8>);
super::redacted_debug!(ReportKey);

impl ReportKey {
    pub fn from_database_secret(secret: &[u8]) -> Self {
        Self(
            mac(secret)
                .chain_update(PURPOSE)
                .finalize()
                .into_bytes()
                .to_vec(),
        )
    }

    /// `body` with its `signature` member added.
    pub fn sign(&self, body: Value) -> Value {
        let signature = format!("{SCHEME}{}", hex::encode(self.digest(&body)));
        let mut signed = body;
        if let Value::Object(members) = &mut signed {
            members.insert("signature".into(), Value::String(signature));
        }
        signed
    }

    /// Checks a saved report (its text as read from the file).
    pub fn verify(&self, text: &str) -> Result<(), ReportError> {
        let Ok(Value::Object(mut members)) = serde_json::from_str::<Value>(text) else {
            return Err(ReportError::NotAReport);
        };
        let signature = match members.remove("signature") {
            Some(Value::String(s)) => s,
            _ => return Err(ReportError::Unsigned),
        };
        let given = signature
            .strip_prefix(SCHEME)
            .and_then(|text| hex::decode(text).ok())
            .ok_or(ReportError::Mismatch)?;
        let body = Value::Object(members);
        mac(&self.0)
            .chain_update(canonical(&body))
            .verify_slice(&given)
            .map_err(|_| ReportError::Mismatch)
    }

    fn digest(&self, body: &Value) -> Vec<u8> {
        mac(&self.0)
            .chain_update(canonical(body))
            .finalize()
            .into_bytes()
            .to_vec()
    }
}

fn mac(key: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length.
    <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!())
}

/// JSON with every object's keys sorted and no whitespace: one text per value.
fn canonical(value: &Value) -> String {
    match value {
        Value::Object(members) => {
            let mut keys: Vec<&String> = members.keys().collect();
            keys.sort();
            let inner: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::String(k.clone()), canonical(&members[k])))
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(canonical).collect();
            format!("[{}]", inner.join(","))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    fn members(pairs: Vec<(&str, Value)>) -> Value {
        Value::Object(
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect::<Map<_, _>>(),
        )
    }

    fn report() -> RetentionReport {
        RetentionReport {
            day: NaiveDate::from_ymd_opt(2026, 11, 27).unwrap(),
            generated_at: Utc::now(),
            retention_hours: 24,
            purged: 12,
            erased: 1,
            held: Some(0),
            backups_deleted: 2,
            oldest_record: None,
        }
    }

    #[test]
    fn a_signed_report_verifies_in_any_layout_and_fails_when_altered() {
        let key = ReportKey::from_database_secret(b"secret of this database");
        let signed = key.sign(report().body());
        assert_eq!(key.verify(&signed.to_string()), Ok(()));
        assert_eq!(
            key.verify(&serde_json::to_string_pretty(&signed).unwrap()),
            Ok(())
        );

        let mut altered = signed.clone();
        altered["purged"] = json!(11);
        assert_eq!(key.verify(&altered.to_string()), Err(ReportError::Mismatch));
        let mut added = signed.clone();
        added["note"] = json!("x");
        assert_eq!(key.verify(&added.to_string()), Err(ReportError::Mismatch));
        let other = ReportKey::from_database_secret(b"another database");
        assert_eq!(
            other.verify(&signed.to_string()),
            Err(ReportError::Mismatch)
        );
        let mut unsigned = signed;
        unsigned.as_object_mut().unwrap().remove("signature");
        assert_eq!(
            key.verify(&unsigned.to_string()),
            Err(ReportError::Unsigned)
        );
        assert_eq!(key.verify("[]"), Err(ReportError::NotAReport));
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let value = members(vec![
            ("b", json!(1)),
            ("a", json!({"d": [1, {"f": 2, "e": 3}], "c": null})),
        ]);
        assert_eq!(
            canonical(&value),
            r#"{"a":{"c":null,"d":[1,{"e":3,"f":2}]},"b":1}"#
        );
    }

    #[test]
    fn days_are_utc_and_not_in_the_future() {
        let now = DateTime::parse_from_rfc3339("2026-11-27T23:30:00Z")
            .unwrap()
            .to_utc();
        assert!(parse_report_day("2026-11-27", now).is_ok());
        assert!(parse_report_day("2026-11-28", now).is_err());
        assert!(parse_report_day("27/11/2026", now).is_err());
        assert_eq!(day_of(now.timestamp_millis()) % DAY_MS, 0);
    }
}
