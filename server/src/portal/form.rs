//! Form bodies, read leniently: a field that is missing or malformed reads as empty, and the
//! page that asked for it answers with a message. The portal never fails a request on a form's
//! shape, so the CSRF check always runs first and bad input always gets a human answer.

use std::collections::HashMap;

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

pub fn new_form_token() -> String {
    crate::secrets::random_token(FORM_TOKEN_LEN)
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
        assert!(valid_form_token(&new_form_token()));
        assert!(!valid_form_token("short"));
        assert!(!valid_form_token(&format!("{}:", "a".repeat(31))));
    }
}
