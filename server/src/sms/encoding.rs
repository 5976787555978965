//! How long an SMS is, in the units networks bill: GSM-7 septets (160 in one segment, 153 per
//! segment when split; extension characters count 2) or, if any character is outside GSM-7,
//! UCS-2 code units (70, then 67).

use mkoba_ussd::gsm::gsm7_len;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Gsm7,
    Ucs2,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Length {
    pub encoding: Encoding,
    /// Septets for GSM-7, UTF-16 code units for UCS-2.
    pub units: usize,
    pub segments: usize,
}

pub fn measure(text: &str) -> Length {
    let (encoding, units, single, per_part) = match gsm7_len(text) {
        Some(septets) => (Encoding::Gsm7, septets, 160, 153),
        None => (Encoding::Ucs2, text.encode_utf16().count(), 70, 67),
    };
    let segments = if units <= single {
        1
    } else {
        units.div_ceil(per_part)
    };
    Length {
        encoding,
        units,
        segments,
    }
}

pub fn fits_one_segment(text: &str) -> bool {
    let length = measure(text);
    length.encoding == Encoding::Gsm7 && length.segments == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_gsm7_ucs2_and_segments() {
        assert_eq!(
            measure(&"a".repeat(160)),
            Length {
                encoding: Encoding::Gsm7,
                units: 160,
                segments: 1
            }
        );
        assert_eq!(measure(&"a".repeat(161)).segments, 2);
        assert_eq!(measure(&"a".repeat(306)).segments, 2);
        assert_eq!(measure(&"a".repeat(307)).segments, 3);
        assert_eq!(measure("{}").units, 4, "extension characters count twice");
        assert_eq!(measure(&"€".repeat(80)).segments, 1);
        assert_eq!(measure(&"€".repeat(81)).segments, 2);
        let ucs2 = format!("ç{}", "a".repeat(69));
        assert_eq!(
            measure(&ucs2),
            Length {
                encoding: Encoding::Ucs2,
                units: 70,
                segments: 1
            }
        );
        assert_eq!(measure(&format!("ç{}", "a".repeat(70))).segments, 2);
        assert!(!fits_one_segment("reçu"));
    }
}
