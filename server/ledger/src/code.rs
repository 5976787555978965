//! Short human transaction codes for SMS and receipts, e.g. `QK7ZD3MPWA`.
//!
//! A code is the transaction id run through a keyed Feistel permutation of 50 bits and written in
//! a 32-letter alphabet without look-alikes (no 0/O, 1/I). A permutation is a bijection, so two
//! ids never share a code and no uniqueness retry is ever needed, yet consecutive ids give
//! unrelated-looking codes that cannot be guessed from one another without the key.

/// 32 symbols: A–Z and 2–9 without I and O.
const ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
pub const CODE_LEN: usize = 10;
const HALF_BITS: u32 = 25;
const HALF_MASK: u64 = (1 << HALF_BITS) - 1;
/// Ids at or above this cannot be encoded (2^50, about 10^15 transactions).
pub const ID_LIMIT: i64 = 1 << (2 * HALF_BITS);

#[derive(Clone, Debug)]
pub struct TxnCodes {
    round_keys: [u64; 4],
}

fn mix(mut z: u64) -> u64 {
    // splitmix64's finaliser: a cheap, well-distributed round function.
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl TxnCodes {
    pub fn new(key: u64) -> TxnCodes {
        let mut round_keys = [0_u64; 4];
        let mut state = key;
        for k in &mut round_keys {
            state = mix(state.wrapping_add(0x9e37_79b9_7f4a_7c15));
            *k = state;
        }
        TxnCodes { round_keys }
    }

    fn permute(&self, value: u64) -> u64 {
        let (mut left, mut right) = (value >> HALF_BITS, value & HALF_MASK);
        for key in self.round_keys {
            let next = left ^ (mix(right ^ key) & HALF_MASK);
            left = right;
            right = next;
        }
        (left << HALF_BITS) | right
    }

    fn unpermute(&self, value: u64) -> u64 {
        let (mut left, mut right) = (value >> HALF_BITS, value & HALF_MASK);
        for key in self.round_keys.iter().rev() {
            let previous = right ^ (mix(left ^ key) & HALF_MASK);
            right = left;
            left = previous;
        }
        (left << HALF_BITS) | right
    }

    /// The code of transaction `id`. Ids are positive and below [`ID_LIMIT`]; the store asserts it.
    pub fn code_for(&self, id: crate::model::TxnId) -> String {
        assert!(
            (0..ID_LIMIT).contains(&id.0),
            "transaction id {} cannot be encoded",
            id.0
        );
        let mut value = self.permute(id.0.unsigned_abs());
        let mut code = [b'A'; CODE_LEN];
        for slot in code.iter_mut().rev() {
            *slot = ALPHABET.get((value & 31) as usize).copied().unwrap_or(b'A');
            value >>= 5;
        }
        String::from_utf8_lossy(&code).into_owned()
    }

    /// The transaction id behind a code, if the text is a well-formed code (case-insensitive).
    pub fn id_for(&self, code: &str) -> Option<crate::model::TxnId> {
        if code.len() != CODE_LEN {
            return None;
        }
        let mut value = 0_u64;
        for ch in code.bytes() {
            let digit = ALPHABET
                .iter()
                .position(|&a| a == ch.to_ascii_uppercase())?;
            value = (value << 5) | u64::try_from(digit).ok()?;
        }
        i64::try_from(self.unpermute(value))
            .ok()
            .map(crate::model::TxnId)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TxnId;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_reversible_and_well_formed() {
        let codes = TxnCodes::new(42);
        let mut seen = HashSet::new();
        for id in (1..20_000).chain([ID_LIMIT - 1, ID_LIMIT / 2]) {
            let code = codes.code_for(TxnId(id));
            assert_eq!(code.len(), CODE_LEN);
            assert!(code.bytes().all(|b| ALPHABET.contains(&b)), "{code}");
            assert!(seen.insert(code.clone()), "duplicate code {code}");
            assert_eq!(codes.id_for(&code), Some(TxnId(id)));
            assert_eq!(codes.id_for(&code.to_ascii_lowercase()), Some(TxnId(id)));
        }
        assert_eq!(codes.id_for("OAH3FEH5DT"), None, "O is not in the alphabet");
        assert_eq!(codes.id_for("SHORT"), None);
    }

    #[test]
    fn the_key_changes_the_codes() {
        let a = TxnCodes::new(1).code_for(TxnId(7));
        let b = TxnCodes::new(2).code_for(TxnId(7));
        assert_ne!(a, b);
    }
}
