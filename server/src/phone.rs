//! Phone numbers: parsed with libphonenumber's rules (the `phonenumber` crate), stored as E.164,
//! and masked whenever they are logged or shown to anyone but their owner.

use std::str::FromStr;

use phonenumber::country::Id;
use phonenumber::Mode;

/// Longest text we try to parse as a phone number.
pub const PHONE_TEXT_LEN_MAX: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("phone number is not valid")]
    Invalid,
}

pub fn country_id(code: &str) -> Option<Id> {
    Id::from_str(&code.to_ascii_uppercase()).ok()
}

/// An E.164 number (`+254712345678`) known to be valid for its country.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Msisdn(String);

impl Msisdn {
    /// Parses `0712 345 678`, `+254712345678` or `254712345678`, with `default_country` for
    /// numbers written without their country code.
    pub fn parse(text: &str, default_country: Id) -> Result<Msisdn, PhoneError> {
        let text = text.trim();
        if text.is_empty() || text.len() > PHONE_TEXT_LEN_MAX {
            return Err(PhoneError::Invalid);
        }
        let candidates = [text.to_owned(), format!("+{text}")];
        for candidate in candidates
            .iter()
            .take(if text.starts_with(['+', '0']) { 1 } else { 2 })
        {
            if let Ok(number) = phonenumber::parse(Some(default_country), candidate) {
                if phonenumber::is_valid(&number) {
                    let e164 = number.format().mode(Mode::E164).to_string();
                    // The library validates some lenient spellings (leading punctuation, extra
                    // zeros) whose E.164 form it then refuses: keep only numbers whose stored
                    // form reads back as itself, or they could never be found again.
                    let canonical =
                        phonenumber::parse(Some(default_country), &e164).is_ok_and(|n| {
                            phonenumber::is_valid(&n)
                                && n.format().mode(Mode::E164).to_string() == e164
                        });
                    if canonical {
                        return Ok(Msisdn(e164));
                    }
                }
            }
        }
        Err(PhoneError::Invalid)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `+2547******78`: enough to tell numbers apart in logs, not enough to call anyone.
    pub fn masked(&self) -> String {
        mask(&self.0)
    }
}

/// Masks all but the first five and last two characters of a phone-number-like string.
pub fn mask(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    if chars.len() <= 7 {
        return "*".repeat(chars.len());
    }
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i < 5 || i + 2 >= chars.len() {
                *c
            } else {
                '*'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_kenyan_numbers_to_e164() {
        let ke = country_id("KE").unwrap_or(Id::KE);
        for text in [
            "0712345678",
            "+254712345678",
            "254712345678",
            " 0712 345 678 ",
        ] {
            assert_eq!(
                Msisdn::parse(text, ke).map(|m| m.0),
                Ok("+254712345678".to_owned()),
                "{text}"
            );
        }
        assert_eq!(
            Msisdn::parse("+256772123456", ke).map(|m| m.0),
            Ok("+256772123456".to_owned())
        );
    }

    /// Found by the `phone_parse` fuzz target: `&0006992417` in Rwanda was accepted as
    /// `+25006992417`, a form that itself does not parse, so the number could never be found.
    #[test]
    fn what_it_accepts_reads_back_as_itself() {
        let rw = country_id("RW").unwrap_or(Id::RW);
        assert_eq!(Msisdn::parse("&0006992417", rw), Err(PhoneError::Invalid));
        // An Italian number whose leading zeros E.164 formatting drops.
        assert_eq!(
            Msisdn::parse("39000385085", Id::KE),
            Err(PhoneError::Invalid)
        );
        for text in ["0712345678", "+250788123456", "+233201234567"] {
            let number = Msisdn::parse(text, Id::KE).map(|m| m.0).unwrap_or_default();
            assert_eq!(
                Msisdn::parse(&number, rw).map(|m| m.0),
                Ok(number.clone()),
                "{text}"
            );
        }
    }

    #[test]
    fn refuses_what_is_not_a_number() {
        let ke = Id::KE;
        for text in [
            "",
            "hello",
            "12",
            "07123",
            "+2547123456789999",
            &"9".repeat(40),
        ] {
            assert_eq!(Msisdn::parse(text, ke), Err(PhoneError::Invalid), "{text}");
        }
    }

    #[test]
    fn masks_the_middle() {
        assert_eq!(mask("+254712345678"), "+2547******78");
        assert_eq!(mask("12345"), "*****");
    }
}
