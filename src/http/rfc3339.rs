//! Instants as the API writes them everywhere: RFC 3339 in UTC, with the precision stored
//! (fractional seconds omitted when zero, else 3, 6 or 9 digits), as chrono's
//! `SecondsFormat::AutoSi` writes them — without its formatting machinery and the `String` it
//! returns. A vehicle carries four instants and a listing fifty vehicles: chrono's way was
//! two thirds of the instructions spent turning a vehicle into JSON (profile in
//! `bench/README.md`).

use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};

/// Calls `use_text` with the text of `at`.
pub fn with_text<R>(at: &DateTime<Utc>, use_text: impl FnOnce(&str) -> R) -> R {
    match quoted(at) {
        // ASCII digits and separators only.
        Some((text, len)) => use_text(std::str::from_utf8(&text[1..len - 1]).unwrap_or_default()),
        None => use_text(&at.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
    }
}

/// Appends the text of `at` in double quotes: a JSON string, as nothing in it needs escaping.
pub fn write_quoted(out: &mut Vec<u8>, at: &DateTime<Utc>) {
    match quoted(at) {
        Some((text, len)) => out.extend_from_slice(&text[..len]),
        None => {
            out.push(b'"');
            out.extend_from_slice(at.to_rfc3339_opts(SecondsFormat::AutoSi, true).as_bytes());
            out.push(b'"');
        }
    }
}

/// The text of `at` between double quotes, and its length with them; `None` for years beyond
/// four digits and leap seconds, rare enough to leave to chrono.
///
/// The fields come from chrono's stored calendar date and second of the day, read directly:
/// deriving them from the Unix timestamp made chrono compute the day count from the date,
/// and us the date from the day count again (15.7% of a list page's time at 1,000,000
/// vehicles went to writing instants).
fn quoted(at: &DateTime<Utc>) -> Option<([u8; 32], usize)> {
    let at = at.naive_utc();
    let year = u32::try_from(at.year()).ok().filter(|year| *year <= 9999)?;
    let nanos = at.nanosecond();
    if nanos >= 1_000_000_000 {
        return None;
    }
    let second_of_day = at.num_seconds_from_midnight();
    let mut text = *b"\"0000-00-00T00:00:00.000000000Z\"";
    two_digits(&mut text[1..3], year / 100);
    two_digits(&mut text[3..5], year % 100);
    two_digits(&mut text[6..8], at.month());
    two_digits(&mut text[9..11], at.day());
    two_digits(&mut text[12..14], second_of_day / 3_600);
    two_digits(&mut text[15..17], second_of_day / 60 % 60);
    two_digits(&mut text[18..20], second_of_day % 60);
    let end = match nanos {
        0 => 20,
        n if n % 1_000_000 == 0 => {
            let millis = n / 1_000_000;
            text[21] = b'0' + (millis / 100) as u8;
            two_digits(&mut text[22..24], millis % 100);
            24
        }
        n if n % 1_000 == 0 => {
            digits(&mut text[21..27], n / 1_000);
            27
        }
        n => {
            digits(&mut text[21..30], n);
            30
        }
    };
    text[end] = b'Z';
    text[end + 1] = b'"';
    Some((text, end + 2))
}

/// "00" to "99": two digits at a time instead of a division per digit.
const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// `value` (below 100) as two digits into `out[0..2]`.
fn two_digits(out: &mut [u8], value: u32) {
    let at = value as usize * 2;
    out[..2].copy_from_slice(&PAIRS[at..at + 2]);
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
        let text = with_text(at, str::to_owned);
        let mut quoted = Vec::new();
        write_quoted(&mut quoted, at);
        assert_eq!(String::from_utf8(quoted).unwrap(), format!("\"{text}\""));
        text
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
        let leap = chrono::NaiveDate::from_ymd_opt(2016, 12, 31)
            .unwrap()
            .and_hms_nano_opt(23, 59, 59, 1_500_000_000)
            .unwrap()
            .and_utc();
        assert_eq!(ours(&leap), "2016-12-31T23:59:60.500Z");
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
