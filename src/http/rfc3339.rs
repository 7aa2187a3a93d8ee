//! Instants as the API writes them everywhere: RFC 3339 in UTC, with the precision stored
//! (fractional seconds omitted when zero, else 3, 6 or 9 digits), as chrono's
//! `SecondsFormat::AutoSi` writes them — without its formatting machinery and the `String` it
//! returns. A vehicle carries four instants and a listing fifty vehicles: chrono's way was
//! two thirds of the instructions spent turning a vehicle into JSON (profile in
//! `bench/README.md`).

use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};

/// Calls `use_text` with the text of `at`.
pub fn with_text<R>(at: &DateTime<Utc>, use_text: impl FnOnce(&str) -> R) -> R {
    let (date, time) = (at.date_naive(), at.time());
    let nanos = time.nanosecond();
    // Years beyond four digits and leap seconds are rare enough to leave to chrono.
    let year = u32::try_from(date.year()).ok().filter(|year| *year <= 9999);
    let Some(year) = year.filter(|_| nanos < 1_000_000_000) else {
        return use_text(&at.to_rfc3339_opts(SecondsFormat::AutoSi, true));
    };
    let mut text = *b"0000-00-00T00:00:00.000000000Z";
    digits(&mut text[0..4], year);
    digits(&mut text[5..7], date.month());
    digits(&mut text[8..10], date.day());
    digits(&mut text[11..13], time.hour());
    digits(&mut text[14..16], time.minute());
    digits(&mut text[17..19], time.second());
    let (places, fraction) = match nanos {
        0 => (0, 0),
        n if n % 1_000_000 == 0 => (3, n / 1_000_000),
        n if n % 1_000 == 0 => (6, n / 1_000),
        n => (9, n),
    };
    let mut len = 19;
    if places > 0 {
        digits(&mut text[20..20 + places], fraction);
        len = 20 + places;
    }
    text[len] = b'Z';
    // ASCII digits and separators only.
    use_text(std::str::from_utf8(&text[..=len]).unwrap_or_default())
}

/// `value`'s last `out.len()` decimal digits, zero-padded.
fn digits(out: &mut [u8], mut value: u32) {
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use proptest::prelude::*;

    use super::*;

    fn ours(at: &DateTime<Utc>) -> String {
        with_text(at, str::to_owned)
    }

    #[test]
    fn every_precision_is_written_as_chrono_writes_it() {
        let second = Utc.with_ymd_and_hms(2026, 11, 27, 8, 5, 9).unwrap();
        for (nanos, text) in [
            (0, "2026-11-27T08:05:09Z"),
            (7_000_000, "2026-11-27T08:05:09.007Z"),
            (7_100_000, "2026-11-27T08:05:09.007100Z"),
            (7_100_001, "2026-11-27T08:05:09.007100001Z"),
        ] {
            let at = second + chrono::Duration::nanoseconds(nanos);
            assert_eq!(ours(&at), text);
            assert_eq!(at.to_rfc3339_opts(SecondsFormat::AutoSi, true), text);
        }
        let far = Utc.with_ymd_and_hms(12026, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(ours(&far), far.to_rfc3339_opts(SecondsFormat::AutoSi, true));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn any_instant_reads_as_chrono_writes_it(
            seconds in -70_000_000_000i64..300_000_000_000,
            nanos in prop_oneof![
                Just(0u32),
                (0u32..1_000).prop_map(|ms| ms * 1_000_000),
                (0u32..1_000_000).prop_map(|us| us * 1_000),
                0u32..1_000_000_000,
            ],
        ) {
            let at = Utc.timestamp_opt(seconds, nanos).unwrap();
            prop_assert_eq!(ours(&at), at.to_rfc3339_opts(SecondsFormat::AutoSi, true));
        }
    }
}
