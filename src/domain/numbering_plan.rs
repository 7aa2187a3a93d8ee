//! Questions about a phone number answered from the numbering-plan metadata directly, where the
//! `phonenumber` crate's own answer does work that is thrown away.
//!
//! Registration reads a number, checks it and writes it as E.164. In `phonenumber` 0.3 the
//! check classifies a number twice when its calling code is shared by several regions (+44:
//! GB, GG, IM, JE; +1: the NANP): once to choose the region, then again to answer; E.164
//! formatting first looks for the number's national format, which E.164 does not use, with
//! regular expressions; and masking a stored number parsed it again for the length of its
//! calling code. Each regular expression goes through the crate's shared cache (a mutex and
//! an LRU keyed by the pattern's text). The check's second pass and the formatting were 38,000
//! of the 85,000 instructions a registration spent on its phone number (`bench/README.md`).
//! The answers here are the crate's, computed once; tests hold them to the crate's own on
//! every region's example numbers.

use phonenumber::{
    PhoneNumber, Type,
    metadata::{DATABASE, Metadata},
};

/// The types a valid number has one of. `phonenumber` tries them in another order to name a
/// number's type (premium rate first, fixed line and mobile last); whether it has one does not
/// depend on the order, and nearly every number a driver gives is a mobile or fixed-line
/// number, so those are tried first (a landline was tried against every rarer type first).
const TYPES: [Type; 10] = [
    Type::Mobile,
    Type::FixedLine,
    Type::PremiumRate,
    Type::TollFree,
    Type::SharedCost,
    Type::Voip,
    Type::PersonalNumber,
    Type::Pager,
    Type::Uan,
    Type::Voicemail,
];

/// Whether `national` is a number of some type in `meta`'s plan (`phonenumber`'s
/// `number_type(..) != Unknown`).
fn has_type(meta: &Metadata, national: &str) -> bool {
    let plan = meta.descriptors();
    plan.general().is_match(national)
        && TYPES
            .iter()
            .any(|&kind| plan.get(kind).is_some_and(|d| d.is_match(national)))
}

/// `phonenumber::is_valid`, with each candidate region classified once.
pub fn is_valid(number: &PhoneNumber) -> bool {
    let code = number.code().value();
    let national = number.national().to_string();
    let Some(regions) = DATABASE.region(&code) else {
        return false;
    };
    if let [region] = regions[..] {
        // "001" holds the plans of non-geographic codes (+800, +979, …), found by code.
        let meta = if region == "001" {
            DATABASE.by_code(&code).and_then(|m| m.into_iter().next())
        } else {
            region
                .parse::<phonenumber::country::Id>()
                .ok()
                .and_then(|_| DATABASE.by_id(region))
        };
        return meta.is_some_and(|meta| has_type(meta, &national));
    }
    // A shared code: the first region whose leading digits start the number decides, or else
    // the first region that has a type for it.
    for meta in regions.iter().filter_map(|region| DATABASE.by_id(*region)) {
        match meta.leading_digits() {
            Some(leading) => {
                if leading.find(&national).is_some_and(|m| m.start() == 0) {
                    return has_type(meta, &national);
                }
            }
            None => {
                if has_type(meta, &national) {
                    return true;
                }
            }
        }
    }
    false
}

/// A valid number in E.164 form: `+`, the calling code, the national number with its leading
/// zeros (what `phonenumber`'s `Mode::E164` writes).
pub fn e164(number: &PhoneNumber) -> String {
    format!("+{}{}", number.code().value(), number.national())
}

/// How many digits of a stored E.164 number are its calling code. Calling codes are
/// prefix-free (no code begins another) and none starts with 0, so the shortest known prefix
/// is the code. 0 for a number no code starts.
pub fn calling_code_len(e164: &str) -> usize {
    let digits = e164.trim_start_matches('+');
    if digits.starts_with('0') {
        return 0;
    }
    (1..=3.min(digits.len()))
        .find(|&len| {
            digits[..len]
                .parse::<u16>()
                .is_ok_and(|code| DATABASE.region(&code).is_some())
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::LazyLock;

    use phonenumber::Mode;
    use proptest::prelude::*;

    /// Every example number of every region and type, written with its calling code.
    static EXAMPLES: LazyLock<Vec<String>> = LazyLock::new(|| {
        let mut out = Vec::new();
        for meta in DATABASE.iter() {
            let plan = meta.descriptors();
            for kind in TYPES.iter().copied().chain([Type::Unknown]) {
                if let Some(example) = plan.get(kind).and_then(|d| d.example()) {
                    out.push(format!("+{}{example}", meta.country_code()));
                }
            }
        }
        out
    });

    /// The crate's answers for one text: validity, E.164, and the calling code's length.
    fn agrees_with_the_crate(text: &str) -> Result<(), String> {
        let Ok(number) = phonenumber::parse(None, text) else {
            return Ok(());
        };
        let theirs = phonenumber::is_valid(&number);
        if is_valid(&number) != theirs {
            return Err(format!("{text}: valid should be {theirs}"));
        }
        if theirs {
            let formatted = number.format().mode(Mode::E164).to_string();
            if e164(&number) != formatted {
                return Err(format!("{text}: E.164 should be {formatted}"));
            }
            let code = number.code().value().to_string().len();
            if calling_code_len(&formatted) != code {
                return Err(format!("{text}: calling code should have {code} digits"));
            }
        }
        Ok(())
    }

    #[test]
    fn every_example_number_of_every_region_gets_the_crates_answers() {
        let examples = &*EXAMPLES;
        assert!(examples.len() > 1000, "only {} examples", examples.len());
        let mut valid = 0;
        for text in examples {
            agrees_with_the_crate(text).unwrap();
            valid += usize::from(phonenumber::parse(None, text).is_ok_and(|n| is_valid(&n)));
        }
        // The examples are valid numbers (a handful of the metadata's are not).
        assert!(valid * 100 > examples.len() * 95, "{valid} valid");
    }

    #[test]
    fn a_number_no_calling_code_starts_has_none() {
        assert_eq!(calling_code_len("+0123"), 0);
        assert_eq!(calling_code_len("+"), 0);
        assert_eq!(calling_code_len("+44"), 2);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Example numbers with digits changed, dropped or added: valid and invalid numbers
        /// near every plan's edges.
        #[test]
        fn changed_example_numbers_get_the_crates_answers(
            pick in any::<prop::sample::Index>(),
            edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..12), 1..4),
        ) {
            let mut digits: Vec<u8> = pick.get(&EXAMPLES).bytes().skip(1).collect();
            for (at, edit) in edits {
                if digits.is_empty() {
                    break;
                }
                let at = at.index(digits.len());
                match edit {
                    10 => { digits.remove(at); }
                    11 => digits.insert(at, b'0' + (at % 10) as u8),
                    d => digits[at] = b'0' + d,
                }
            }
            let text = format!("+{}", String::from_utf8_lossy(&digits));
            agrees_with_the_crate(&text).map_err(TestCaseError::fail)?;
        }
    }
}
