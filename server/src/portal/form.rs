//! Form bodies, read leniently: a field that is missing or malformed reads as empty, and the
//! page that asked for it answers with a message. The portal never fails a request on a form's
//! shape, so the CSRF check always runs first and bad input always gets a human answer.

use std::collections::HashMap;

use mkoba_ledger::Timestamp;

/// Longest value of any one field we keep; the portal's fields are all short.
const FIELD_LEN_MAX: usize = 512;

#[derive(Clone, Debug, Default)]
pub struct Form(HashMap<String, String>);

impl Form {
    pub fn parse(body: &[u8]) -> Form {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
        Form(
            pairs
                .into_iter()
                .filter(|(_, v)| v.len() <= FIELD_LEN_MAX)
                .collect(),
        )
    }

    /// The field's value, trimmed; empty when absent.
    pub fn get(&self, name: &str) -> &str {
        self.0.get(name).map_or("", |v| v.trim())
    }

    /// The field's value as given (passwords keep their spaces).
    pub fn raw(&self, name: &str) -> &str {
        self.0.get(name).map_or("", String::as_str)
    }
}

/// A one-time form token that becomes part of a ledger idempotency key: our alphabet only, so
/// it cannot smuggle anything into the key.
pub fn valid_form_token(token: &str) -> bool {
    token.len() == FORM_TOKEN_LEN && token.bytes().all(|b| b.is_ascii_alphanumeric())
}

pub const FORM_TOKEN_LEN: usize = 32;
/// Hex digits of the issuing second at the front of a form token.
const FORM_TOKEN_TIME_LEN: usize = 8;

/// A form token: the second it was issued in eight hex digits, then random characters. Tokens
/// end up in ledger keys (`portal-cash-in:<user>:<token>`), and tokens issued later sort later,
/// so an agent's new keys go into the few pages at their end of the ledger's key index instead
/// of random ones (ops/BENCHMARKS.md, session 15). The random part (24 characters of 57) makes it
/// unguessable and unique.
pub fn new_form_token(now: Timestamp) -> String {
    let second = now.unix_seconds().min(u64::from(u32::MAX));
    let token = format!(
        "{second:0width$x}{}",
        crate::secrets::random_token(FORM_TOKEN_LEN - FORM_TOKEN_TIME_LEN),
        width = FORM_TOKEN_TIME_LEN
    );
    debug_assert!(valid_form_token(&token), "{token}");
    token
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_leniently() {
        let form = Form::parse(b"a=+1+&b=x%20y&c=%FF%FE");
        assert_eq!(form.get("a"), "1");
        assert_eq!(form.raw("b"), "x y");
        assert_eq!(form.get("missing"), "");
        assert_eq!(Form::parse(b"\xff\xfe=garbage&&=").get("a"), "");
        let now = Timestamp(1_795_000_000 * Timestamp::MICROS_PER_SECOND);
        let token = new_form_token(now);
        assert!(valid_form_token(&token), "{token}");
        assert!(token.starts_with("6afd86c0"), "{token}");
        assert_ne!(token, new_form_token(now));
        // Later seconds sort later; the clock's extremes still give valid tokens.
        let later = new_form_token(now.saturating_add_seconds(1));
        assert!(token < later, "{token} {later}");
        assert!(valid_form_token(&new_form_token(Timestamp(i64::MIN))));
        assert!(valid_form_token(&new_form_token(Timestamp(i64::MAX))));
        assert!(!valid_form_token("short"));
        assert!(!valid_form_token(&format!("{}:", "a".repeat(31))));
    }
}
