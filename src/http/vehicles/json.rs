//! Vehicles' JSON written straight into the response body: the text `VehicleBody`'s derived
//! `Serialize` gives (tests hold the two equal byte for byte), with the field names as
//! constant fragments. Through serde_json every field name and every timestamp of every
//! vehicle is escaped a byte at a time: more than half the instructions of turning a page of
//! fifty vehicles into JSON (profile in `bench/README.md`). The derived `Serialize` stays the
//! shape's definition and is used where a vehicle is one of many things in a document.

use chrono::{DateTime, Utc};

use super::dto::{VehicleBody, VehicleList};
use crate::http::rfc3339::write_quoted;
use axum::{
    body::Body,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};

/// Room for a typical vehicle's JSON (about 265 bytes, 345 with a short hold) without
/// growing the buffer; a longer one grows it.
pub const VEHICLE_BYTES: usize = 384;

/// Appends `vehicle` as its JSON object.
pub fn write_vehicle(out: &mut Vec<u8>, vehicle: &VehicleBody) {
    out.extend_from_slice(b"{\"id\":");
    out.extend_from_slice(itoa::Buffer::new().format(vehicle.id).as_bytes());
    let texts: [(&[u8], &str); 3] = [
        (b",\"number_plate\":", &vehicle.number_plate),
        (b",\"contact_name\":", &vehicle.contact_name),
        (b",\"phone_number\":", &vehicle.phone_number),
    ];
    for (name, text) in texts {
        out.extend_from_slice(name);
        write_str(out, text);
    }
    let instants: [(&[u8], &DateTime<Utc>); 4] = [
        (b",\"entry_timestamp\":", &vehicle.entry_timestamp),
        (b",\"expires_at\":", &vehicle.expires_at),
        (b",\"created_at\":", &vehicle.created_at),
        (b",\"updated_at\":", &vehicle.updated_at),
    ];
    // A vehicle's instants are often equal (registered on entry and never changed: entry,
    // creation and update are one instant): an equal one is copied from where the earlier
    // was written.
    let mut written: [Option<(&DateTime<Utc>, std::ops::Range<usize>)>; 4] = Default::default();
    for (n, (name, at)) in instants.into_iter().enumerate() {
        out.extend_from_slice(name);
        let start = out.len();
        match written[..n]
            .iter()
            .flatten()
            .find(|(earlier, _)| *earlier == at)
        {
            Some((_, range)) => out.extend_from_within(range.clone()),
            None => write_quoted(out, at),
        }
        written[n] = Some((at, start..out.len()));
    }
    if let Some(hold) = &vehicle.hold {
        out.extend_from_slice(b",\"hold\":{\"reason\":");
        write_str(out, &hold.reason);
        out.extend_from_slice(b",\"until\":");
        write_quoted(out, &hold.until);
        out.push(b'}');
    }
    out.push(b'}');
}

/// Appends `vehicles` as a JSON array.
pub fn write_vehicles(out: &mut Vec<u8>, vehicles: &[VehicleBody]) {
    out.reserve(2 + vehicles.len() * VEHICLE_BYTES);
    out.push(b'[');
    for (n, vehicle) in vehicles.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_vehicle(out, vehicle);
    }
    out.push(b']');
}

/// Appends `text` as a JSON string. Text with nothing to escape (nearly all of it) is copied
/// whole; the rest is left to serde_json, so the escapes are exactly its own.
pub fn write_str(out: &mut Vec<u8>, text: &str) {
    if text.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        // Writing into a `Vec` cannot fail, and a `str` always serialises.
        let _ = serde_json::to_writer(&mut *out, text);
        return;
    }
    out.reserve(text.len() + 2);
    out.push(b'"');
    out.extend_from_slice(text.as_bytes());
    out.push(b'"');
}

/// A `200` with `body` as `application/json`, as `axum::Json` answers.
fn json_response(body: Vec<u8>) -> Response {
    let mut response = Body::from(body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

impl IntoResponse for VehicleBody {
    fn into_response(self) -> Response {
        let mut body = Vec::with_capacity(VEHICLE_BYTES);
        write_vehicle(&mut body, &self);
        json_response(body)
    }
}

impl IntoResponse for VehicleList {
    fn into_response(self) -> Response {
        let mut body = Vec::with_capacity(32 + self.items.len() * VEHICLE_BYTES);
        body.extend_from_slice(b"{\"items\":");
        write_vehicles(&mut body, &self.items);
        body.extend_from_slice(b",\"next_cursor\":");
        match &self.next_cursor {
            Some(cursor) => write_str(&mut body, cursor),
            None => body.extend_from_slice(b"null"),
        }
        body.push(b'}');
        json_response(body)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use proptest::prelude::*;

    use super::*;
    use crate::http::vehicles::dto::HoldBody;

    fn instant() -> impl Strategy<Value = DateTime<Utc>> {
        (
            -70_000_000_000i64..300_000_000_000,
            prop_oneof![Just(0u32), (0u32..1_000).prop_map(|ms| ms * 1_000_000)],
        )
            .prop_map(|(seconds, nanos)| Utc.timestamp_opt(seconds, nanos).unwrap())
    }

    /// Any text, escapes and non-ASCII included, as well as the plain text most fields hold.
    fn text() -> impl Strategy<Value = String> {
        prop_oneof!["[A-Z0-9]{1,10}", "\\PC{0,30}", any::<String>()]
    }

    fn vehicle() -> impl Strategy<Value = VehicleBody> {
        (
            any::<i64>(),
            (text(), text(), text()),
            [instant(), instant(), instant(), instant()],
            // Each instant is its own or equal to an earlier one (as on a vehicle never
            // changed), which the writer copies.
            [0..4usize, 0..4usize, 0..4usize, 0..4usize],
            proptest::option::of((text(), instant())),
        )
            .prop_map(|(id, (plate, name, phone), mut instants, same_as, hold)| {
                for n in 0..4 {
                    instants[n] = instants[same_as[n].min(n)];
                }
                let [entry, expires, created, updated] = instants;
                VehicleBody {
                    id,
                    number_plate: plate,
                    contact_name: name,
                    phone_number: phone,
                    entry_timestamp: entry,
                    expires_at: expires,
                    created_at: created,
                    updated_at: updated,
                    hold: hold.map(|(reason, until)| HoldBody { reason, until }),
                }
            })
    }

    async fn body_of(response: Response) -> (Option<HeaderValue>, Vec<u8>) {
        let content_type = response.headers().get(header::CONTENT_TYPE).cloned();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (content_type, bytes.to_vec())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1_000))]

        #[test]
        fn a_vehicle_is_written_as_serde_writes_it(vehicle in vehicle()) {
            let mut ours = Vec::new();
            write_vehicle(&mut ours, &vehicle);
            prop_assert_eq!(
                String::from_utf8(ours).unwrap(),
                serde_json::to_string(&vehicle).unwrap()
            );
        }

        #[test]
        fn a_page_is_written_as_serde_writes_it(
            items in proptest::collection::vec(vehicle(), 0..4),
            next_cursor in proptest::option::of(text()),
        ) {
            let list = VehicleList { items, next_cursor };
            let serde = serde_json::to_vec(&list).unwrap();
            let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let (content_type, ours) = runtime.block_on(body_of(list.into_response()));
            prop_assert_eq!(content_type, Some(HeaderValue::from_static("application/json")));
            prop_assert_eq!(String::from_utf8(ours).unwrap(), String::from_utf8(serde).unwrap());
        }
    }

    #[tokio::test]
    async fn one_vehicle_answers_as_axum_json_would() {
        let at = Utc.with_ymd_and_hms(2026, 11, 27, 8, 5, 9).unwrap();
        let vehicle = || VehicleBody {
            id: 42,
            number_plate: "AB12CDE".into(),
            contact_name: "Ada \"Countess\" Lovelace\n".into(),
            phone_number: "+44•••••••958".into(),
            entry_timestamp: at,
            expires_at: at + chrono::Duration::milliseconds(7),
            created_at: at,
            updated_at: at,
            hold: Some(HoldBody {
                reason: "police request 2026/114".into(),
                until: at,
            }),
        };
        let ours = body_of(vehicle().into_response()).await;
        let axum = body_of(axum::Json(vehicle()).into_response()).await;
        assert_eq!(ours, axum);
        assert!(
            String::from_utf8(ours.1)
                .unwrap()
                .contains(r#""contact_name":"Ada \"Countess\" Lovelace\n","#)
        );
    }
}
