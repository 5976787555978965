//! `application/x-www-form-urlencoded` decoding, just enough for gateway callbacks: no crate for
//! forty lines, and every limit is ours.

use super::DialectError;

/// Most fields a form may carry; gateways send about ten.
const FIELDS_MAX: usize = 64;

/// Decodes a form body into `(name, value)` pairs, in order. `+` is a space and `%XX` a byte;
/// the decoded bytes must be UTF-8. A stray `%` is an error rather than a guess.
pub(crate) fn decode(body: &str) -> Result<Vec<(String, String)>, DialectError> {
    let mut fields = Vec::new();
    for pair in body.split('&').filter(|p| !p.is_empty()) {
        if fields.len() == FIELDS_MAX {
            return Err(DialectError::Malformed("too many form fields"));
        }
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        fields.push((unescape(name)?, unescape(value)?));
    }
    Ok(fields)
}

/// The value of `name`, if present; a field given twice is refused (which value would be the
/// gateway's?).
pub(crate) fn field(
    fields: &[(String, String)],
    name: &'static str,
) -> Result<Option<String>, DialectError> {
    let mut found = fields.iter().filter(|(n, _)| n == name).map(|(_, v)| v);
    let first = found.next().cloned();
    if found.next().is_some() {
        return Err(DialectError::DuplicateField(name));
    }
    Ok(first)
}

fn unescape(text: &str) -> Result<String, DialectError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .ok_or(DialectError::Malformed("truncated percent escape"))?;
                let high = hex_value(hex.first().copied());
                let low = hex_value(hex.get(1).copied());
                match (high, low) {
                    (Some(h), Some(l)) => out.push(h * 16 + l),
                    _ => return Err(DialectError::Malformed("bad percent escape")),
                }
                i += 2;
            }
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| DialectError::NotUtf8)
}

fn hex_value(b: Option<u8>) -> Option<u8> {
    let b = b?;
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_what_gateways_send() {
        let fields = decode("a=1&phoneNumber=%2B254711&text=1*2&name=Jo+Ann&empty=&bare").unwrap();
        assert_eq!(
            fields,
            [
                ("a", "1"),
                ("phoneNumber", "+254711"),
                ("text", "1*2"),
                ("name", "Jo Ann"),
                ("empty", ""),
                ("bare", ""),
            ]
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
        );
        assert_eq!(
            decode("t=%C3%A9%e2%82%ac").unwrap()[0].1,
            "é€",
            "UTF-8 in any hex case"
        );
    }

    #[test]
    fn refuses_broken_escapes_and_duplicates() {
        assert!(decode("a=%").is_err());
        assert!(decode("a=%4").is_err());
        assert!(decode("a=%zz").is_err());
        assert_eq!(decode("a=%ff"), Err(DialectError::NotUtf8));
        let fields = decode("a=1&a=2").unwrap();
        assert_eq!(field(&fields, "a"), Err(DialectError::DuplicateField("a")));
        assert_eq!(field(&fields, "b"), Ok(None));
        assert!(decode(&"a=1&".repeat(65)).is_err());
    }
}
