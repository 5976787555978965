//! The GSM-7 alphabet (3GPP TS 23.038): what a USSD screen may contain without the handset
//! switching to UCS-2 and the screen limit collapsing.
//!
//! Every screen the engine renders is GSM-7 and at most [`SCREEN_MAX`] septets long, prefix
//! included. Data that comes from outside (customer and merchant names, product names, codes)
//! goes through [`sanitize_field`] before it is placed on a screen.

/// Longest screen a gateway accepts, in GSM-7 septets, counting the `CON `/`END ` prefix.
pub const SCREEN_MAX: usize = 182;
/// Septets reserved for the `CON `/`END ` prefix. Dialects without a prefix get the same budget:
/// one bound for every gateway is simpler than one per gateway.
pub const PREFIX_LEN: usize = 4;
/// What the text of a screen may use.
pub const BODY_MAX: usize = SCREEN_MAX - PREFIX_LEN;

/// The basic table apart from ASCII letters and digits (each one septet).
const BASIC_OTHER: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà";
/// The extension table: each is an escape plus one septet, so it counts twice. Form feed is in
/// the table too, but no screen should contain it; [`sanitize`] drops it as a control character.
const EXTENSION: &str = "^{}\\[~]|€\u{0C}";

/// Septets an ASCII character takes in GSM-7 (0: not in the alphabet). Every SMS the ledger
/// writer queues is measured character by character, and searching the tables' text for each
/// one was 3% of the writer's time; a test checks this against the tables.
const fn ascii_len(b: u8) -> u8 {
    match b {
        b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' => 1,
        b'\n' | b'\r' | b' ' | b'!' | b'"' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'(' | b')'
        | b'*' | b'+' | b',' | b'-' | b'.' | b'/' | b':' | b';' | b'<' | b'=' | b'>' | b'?'
        | b'@' | b'_' => 1,
        b'^' | b'{' | b'}' | b'\\' | b'[' | b'~' | b']' | b'|' | 0x0C => 2,
        _ => 0,
    }
}

/// Septets `c` takes in GSM-7, or `None` if it is not in the alphabet.
pub fn char_len(c: char) -> Option<usize> {
    if let Some(b) = u8::try_from(c).ok().filter(u8::is_ascii) {
        return match ascii_len(b) {
            0 => None,
            n => Some(usize::from(n)),
        };
    }
    if BASIC_OTHER.contains(c) {
        Some(1)
    } else if EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// Septets `text` takes in GSM-7 (extension characters count 2), or `None` if any character is
/// outside the alphabet.
pub fn gsm7_len(text: &str) -> Option<usize> {
    text.chars()
        .try_fold(0_usize, |sum, c| char_len(c).map(|n| sum.saturating_add(n)))
}

/// Whether `text` is all GSM-7.
pub fn is_gsm7(text: &str) -> bool {
    gsm7_len(text).is_some()
}

/// A close GSM-7 spelling for common letters the alphabet lacks (French, Portuguese, Polish,
/// typographic punctuation), or `None` when there is none worth keeping.
fn transliterate(c: char) -> Option<&'static str> {
    let s = match c {
        'á' | 'â' | 'ã' | 'ā' | 'ă' | 'ą' => "a",
        'À' | 'Á' | 'Â' | 'Ã' | 'Ā' | 'Ă' | 'Ą' => "A",
        'ç' | 'ć' | 'č' => "c",
        'Ć' | 'Č' => "C",
        'ê' | 'ë' | 'ē' | 'ę' | 'ě' => "e",
        'È' | 'Ê' | 'Ë' | 'Ē' | 'Ę' | 'Ě' => "E",
        'í' | 'î' | 'ï' | 'ī' => "i",
        'Ì' | 'Í' | 'Î' | 'Ï' | 'Ī' => "I",
        'ó' | 'ô' | 'õ' | 'ō' | 'ő' => "o",
        'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ō' | 'Ő' => "O",
        'ú' | 'û' | 'ū' | 'ű' | 'ů' => "u",
        'Ù' | 'Ú' | 'Û' | 'Ū' | 'Ű' | 'Ů' => "U",
        'ý' | 'ÿ' => "y",
        'Ý' | 'Ÿ' => "Y",
        'ł' => "l",
        'Ł' => "L",
        'ń' | 'ň' => "n",
        'Ń' | 'Ň' => "N",
        'ś' | 'š' | 'ş' => "s",
        'Ś' | 'Š' | 'Ş' => "S",
        'ž' | 'ź' | 'ż' => "z",
        'Ž' | 'Ź' | 'Ż' => "Z",
        'ř' => "r",
        'Ř' => "R",
        'ď' => "d",
        'Ď' => "D",
        'ť' => "t",
        'Ť' => "T",
        'œ' => "oe",
        'Œ' => "OE",
        '‘' | '’' | '`' | '´' => "'",
        '“' | '”' | '«' | '»' => "\"",
        '–' | '—' | '‐' => "-",
        '…' => "...",
        '\u{a0}' | '\t' => " ",
        _ => return None,
    };
    Some(s)
}

/// Turns arbitrary text into GSM-7: keeps what the alphabet has, transliterates common accented
/// letters and typographic punctuation, drops everything else (emoji, other scripts, control
/// characters other than line breaks).
pub fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\n' || (!c.is_control() && char_len(c).is_some()) {
            out.push(c);
        } else if let Some(t) = transliterate(c) {
            out.push_str(t);
        }
    }
    out
}

/// Sanitizes a piece of data for one line of a screen: GSM-7 only, line breaks and runs of
/// spaces folded into one space, trimmed, and cut to at most `max_len` septets (on a character
/// boundary, so an extension character never gets split).
pub fn sanitize_field(text: &str, max_len: usize) -> String {
    let clean = sanitize(text);
    let folded = clean.split_whitespace().collect::<Vec<_>>().join(" ");
    truncate(&folded, max_len).trim_end().to_owned()
}

/// The longest prefix of `text` that fits in `max_len` septets; characters outside GSM-7 count
/// as one (callers sanitize first).
pub fn truncate(text: &str, max_len: usize) -> &str {
    let mut used = 0_usize;
    for (i, c) in text.char_indices() {
        let n = char_len(c).unwrap_or(1);
        if used + n > max_len {
            return text.get(..i).unwrap_or_default();
        }
        used += n;
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_alphabet_has_128_basic_and_10_extension_characters() {
        let basic = 26 * 2 + 10 + BASIC_OTHER.chars().count();
        // 128 code points less the escape, which is not a character.
        assert_eq!(basic, 127);
        assert_eq!(EXTENSION.chars().count(), 10);
    }

    #[test]
    fn the_ascii_fast_path_agrees_with_the_tables() {
        let mut in_alphabet = 0;
        for b in 0_u8..128 {
            let c = char::from(b);
            let from_tables = if c.is_ascii_alphanumeric() || BASIC_OTHER.contains(c) {
                Some(1)
            } else if EXTENSION.contains(c) {
                Some(2)
            } else {
                None
            };
            assert_eq!(char_len(c), from_tables, "{b:#04x}");
            in_alphabet += usize::from(from_tables.is_some());
        }
        // The 95 printable characters but the backtick, and LF, CR and form feed.
        assert_eq!(in_alphabet, 95 - 1 + 3);
    }

    #[test]
    fn counts_septets() {
        assert_eq!(gsm7_len("CON Hello"), Some(9));
        assert_eq!(gsm7_len("€5 {x}"), Some(9));
        assert_eq!(gsm7_len("Salut à tous, ça va?"), None);
        assert_eq!(gsm7_len("é è ù ì ò à Ç"), Some(13));
        assert_eq!(gsm7_len("Zaidi ya 😀"), None);
        assert_eq!(gsm7_len(""), Some(0));
    }

    #[test]
    fn sanitizes_names() {
        assert_eq!(sanitize_field("  François  Ngô\n", 30), "Francois Ngo");
        assert_eq!(sanitize_field("Zoë 😀 Ōkafor", 30), "Zoe Okafor");
        assert_eq!(sanitize_field("Émile Müller", 30), "Émile Müller");
        assert_eq!(sanitize_field("Łukasz Żółw", 30), "Lukasz Zolw");
        assert_eq!(sanitize_field("张伟", 30), "");
        assert_eq!(sanitize_field("ABCDEFGHIJ", 4), "ABCD");
        // An extension character is never split, and counts two.
        assert_eq!(sanitize_field("AB€C", 3), "AB");
        assert_eq!(sanitize_field("A B   C", 4), "A B");
    }

    proptest! {
        #[test]
        fn sanitized_text_is_gsm7_and_within_bounds(text in ".{0,80}", max in 0_usize..40) {
            let out = sanitize_field(&text, max);
            let len = gsm7_len(&out);
            prop_assert!(len.is_some());
            prop_assert!(len.unwrap_or(usize::MAX) <= max);
            prop_assert!(!out.contains('\n'));
            prop_assert!(is_gsm7(&sanitize(&text)));
        }
    }
}
