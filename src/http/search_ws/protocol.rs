//! The frames of the live-search protocol (API.md §5).

use serde::Serialize;
use serde_json::Value;

use crate::http::vehicles::{dto::VehicleBody, json};

/// Text frames larger than this close the connection with 1009.
pub const MAX_FRAME_BYTES: usize = 4096;
const DEFAULT_LIMIT: u64 = 20;
const MAX_LIMIT: u64 = 100;
const MAX_QUERY_CHARS: usize = 100;

/// A client frame that made sense.
#[derive(Debug, PartialEq)]
pub enum ClientFrame {
    Search {
        id: Value,
        query: String,
        limit: usize,
    },
    Ping,
}

/// Why a client frame was refused: sent back as an `error` frame, and the connection stays.
#[derive(Debug, PartialEq)]
pub struct FrameError {
    pub id: Value,
    pub code: &'static str,
    pub message: &'static str,
}

/// Every frame but `results`, which `results_text` writes.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ServerFrame<'a> {
    Added {
        id: &'a Value,
        vehicle: VehicleBody,
    },
    Removed {
        id: &'a Value,
        number_plate: &'a str,
    },
    Occupancy {
        parked: i64,
        capacity: Option<i64>,
    },
    Alert {
        vehicle: VehicleBody,
        note: &'a str,
    },
    Pong,
    Error {
        id: &'a Value,
        code: &'a str,
        message: &'a str,
    },
}

impl ServerFrame<'_> {
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A `results` frame: `{"type":"results","id":…,"query":…,"items":[…],"total":…,"took_us":…}`,
/// its vehicles written by `json::write_vehicles` (a live search answers one per keystroke).
pub fn results_text(
    id: &Value,
    query: &str,
    items: &[VehicleBody],
    total: usize,
    took_us: u64,
) -> String {
    let mut out = Vec::with_capacity(128 + items.len() * json::VEHICLE_BYTES);
    out.extend_from_slice(b"{\"type\":\"results\",\"id\":");
    // A `Value` always serialises, and writing into a `Vec` cannot fail.
    let _ = serde_json::to_writer(&mut out, id);
    out.extend_from_slice(b",\"query\":");
    json::write_str(&mut out, query);
    out.extend_from_slice(b",\"items\":");
    json::write_vehicles(&mut out, items);
    out.extend_from_slice(b",\"total\":");
    out.extend_from_slice(itoa::Buffer::new().format(total).as_bytes());
    out.extend_from_slice(b",\"took_us\":");
    out.extend_from_slice(itoa::Buffer::new().format(took_us).as_bytes());
    out.push(b'}');
    // Every piece above is UTF-8.
    String::from_utf8(out).unwrap_or_default()
}

/// Parses one text frame. Error messages describe the rule, never echo the input.
pub fn parse(text: &str) -> Result<ClientFrame, FrameError> {
    let invalid = |id: &Value, message| FrameError {
        id: id.clone(),
        code: "invalid_message",
        message,
    };
    let Ok(Value::Object(frame)) = serde_json::from_str::<Value>(text) else {
        return Err(invalid(&Value::Null, "a frame must be a JSON object"));
    };
    let id = frame.get("id").cloned().unwrap_or(Value::Null);
    if !matches!(id, Value::Null | Value::String(_) | Value::Number(_)) {
        return Err(invalid(&Value::Null, "id must be a string or a number"));
    }
    match frame.get("type").and_then(Value::as_str) {
        Some("ping") => Ok(ClientFrame::Ping),
        Some("search") => {
            let query = match frame.get("query") {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(q)) if q.chars().count() <= MAX_QUERY_CHARS => q.clone(),
                Some(Value::String(_)) => {
                    return Err(FrameError {
                        id,
                        code: "invalid_query",
                        message: "query must be at most 100 characters",
                    });
                }
                Some(_) => return Err(invalid(&id, "query must be a string")),
            };
            let limit = match frame.get("limit") {
                None | Some(Value::Null) => DEFAULT_LIMIT,
                Some(value) => match value.as_u64().filter(|l| (1..=MAX_LIMIT).contains(l)) {
                    Some(limit) => limit,
                    None => {
                        return Err(FrameError {
                            id,
                            code: "invalid_limit",
                            message: "limit must be a whole number from 1 to 100",
                        });
                    }
                },
            };
            Ok(ClientFrame::Search {
                id,
                query,
                limit: usize::try_from(limit).unwrap_or(20),
            })
        }
        Some(_) => Err(invalid(&id, "type must be search or ping")),
        None => Err(invalid(&id, "a frame needs a type")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    proptest! {
        #[test]
        fn any_text_is_a_frame_or_a_named_refusal_never_a_panic(text in "\\PC{0,200}") {
            if let Err(error) = parse(&text) {
                prop_assert!(["invalid_message", "invalid_query", "invalid_limit"].contains(&error.code));
            }
        }

        #[test]
        fn a_valid_search_frame_is_read_as_sent(
            id in prop_oneof![any::<i64>().prop_map(Value::from), "[a-z0-9]{0,10}".prop_map(Value::from)],
            query in "\\PC{0,100}",
            limit in 1u64..=100,
        ) {
            let text = json!({"type": "search", "id": id, "query": query, "limit": limit}).to_string();
            prop_assert_eq!(
                parse(&text),
                Ok(ClientFrame::Search { id, query, limit: limit as usize })
            );
        }

        #[test]
        fn limits_and_queries_out_of_range_are_refused_with_their_code(
            limit in prop_oneof![Just(0i64), 101i64..10_000, i64::MIN..0],
            long in "[a-z]{101,150}",
        ) {
            let bad_limit = json!({"type": "search", "id": "x", "limit": limit}).to_string();
            prop_assert_eq!(parse(&bad_limit).unwrap_err().code, "invalid_limit");
            let bad_query = json!({"type": "search", "id": "x", "query": long}).to_string();
            prop_assert_eq!(parse(&bad_query).unwrap_err().code, "invalid_query");
        }
    }

    /// The `results` frame as the derived `Serialize` of a tagged variant writes it.
    #[derive(Serialize)]
    #[serde(tag = "type", rename_all = "lowercase")]
    enum Derived<'a> {
        Results {
            id: &'a Value,
            query: &'a str,
            items: &'a [VehicleBody],
            total: usize,
            took_us: u64,
        },
    }

    #[test]
    fn a_results_frame_is_written_as_serde_writes_it() {
        use chrono::{TimeZone, Utc};
        let at = Utc.with_ymd_and_hms(2026, 11, 27, 8, 5, 9).unwrap();
        let vehicle = |id: i64, plate: &str| VehicleBody {
            id,
            number_plate: plate.into(),
            contact_name: "Ada \"Countess\" Lovelace".into(),
            phone_number: "+44•••••••958".into(),
            entry_timestamp: at,
            expires_at: at,
            created_at: at,
            updated_at: at,
            hold: None,
        };
        let items = [vehicle(1, "AB12CDE"), vehicle(-7, "ÄÖ\u{1}")];
        for id in [json!("c1"), json!(-12), Value::Null] {
            for (items, query) in [(&items[..], "ab\\12\""), (&items[..0], "")] {
                let derived = Derived::Results {
                    id: &id,
                    query,
                    items,
                    total: 12_345,
                    took_us: 987,
                };
                assert_eq!(
                    results_text(&id, query, items, 12_345, 987),
                    serde_json::to_string(&derived).unwrap()
                );
            }
        }
    }

    #[test]
    fn search_frames_take_defaults() {
        assert_eq!(
            parse(r#"{"type":"search","id":"c1","query":"ab1"}"#),
            Ok(ClientFrame::Search {
                id: json!("c1"),
                query: "ab1".into(),
                limit: 20
            })
        );
        assert_eq!(parse(r#"{"type":"ping"}"#), Ok(ClientFrame::Ping));
    }

    #[test]
    fn bad_frames_name_the_problem_and_keep_the_id() {
        let code = |text: &str| parse(text).unwrap_err().code;
        assert_eq!(code("not json"), "invalid_message");
        assert_eq!(code("[1]"), "invalid_message");
        assert_eq!(code(r#"{"type":"dance"}"#), "invalid_message");
        assert_eq!(code(r#"{"type":"search","query":7}"#), "invalid_message");
        assert_eq!(code(r#"{"type":"search","limit":0}"#), "invalid_limit");
        assert_eq!(code(r#"{"type":"search","limit":101}"#), "invalid_limit");
        let long = format!(
            r#"{{"type":"search","id":"x","query":"{}"}}"#,
            "a".repeat(101)
        );
        let error = parse(&long).unwrap_err();
        assert_eq!((error.code, error.id), ("invalid_query", json!("x")));
    }
}
