//! PINs and passwords: argon2id with a server-side pepper (argon2's secret input), so a stolen
//! database alone cannot be brute-forced. Hashing is slow on purpose; callers on the async
//! runtime run it on a blocking thread.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::config::{Secret, SecurityConfig};

#[derive(Clone)]
pub struct Hasher {
    pepper: Secret,
    params: Params,
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("argon2 parameters are invalid: {0}")]
    Params(String),
    #[error("hashing failed: {0}")]
    Hash(String),
}

impl Hasher {
    pub fn new(config: &SecurityConfig, pepper: Secret) -> Result<Hasher, HashError> {
        let params = Params::new(
            config.argon2_memory_kib,
            config.argon2_iterations,
            config.argon2_parallelism,
            None,
        )
        .map_err(|e| HashError::Params(e.to_string()))?;
        Ok(Hasher { pepper, params })
    }

    fn argon2(&self) -> Result<Argon2<'_>, HashError> {
        Argon2::new_with_secret(
            self.pepper.expose().as_bytes(),
            Algorithm::Argon2id,
            Version::V0x13,
            self.params.clone(),
        )
        .map_err(|e| HashError::Params(e.to_string()))
    }

    /// A PHC string (`$argon2id$v=19$m=…`) with a fresh random salt.
    pub fn hash(&self, secret: &str) -> Result<String, HashError> {
        let salt = SaltString::generate(&mut OsRng);
        let hash = self
            .argon2()?
            .hash_password(secret.as_bytes(), &salt)
            .map_err(|e| HashError::Hash(e.to_string()))?;
        Ok(hash.to_string())
    }

    /// A 32-byte key for one `purpose`, derived from the pepper (HMAC-SHA256 of the purpose),
    /// for keyed hashes that must be fast (API keys, which carry 160 bits of entropy) or stable
    /// (customer pseudonyms).
    pub fn derive_key(&self, purpose: &str) -> [u8; 32] {
        use hmac::{Hmac, Mac};
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(self.pepper.expose().as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Whether `secret` matches `stored`. An unreadable stored hash is an error, not a "no".
    pub fn verify(&self, secret: &str, stored: &str) -> Result<bool, HashError> {
        let parsed = PasswordHash::new(stored).map_err(|e| HashError::Hash(e.to_string()))?;
        match self.argon2()?.verify_password(secret.as_bytes(), &parsed) {
            Ok(()) => Ok(true),
            Err(argon2::password_hash::Error::Password) => Ok(false),
            Err(e) => Err(HashError::Hash(e.to_string())),
        }
    }
}

/// A PIN of the configured length, all digits, and not one everybody tries first.
pub fn pin_is_acceptable(pin: &str, length: usize) -> bool {
    let digits: Vec<u8> = pin.bytes().collect();
    if digits.len() != length || !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let all_same = digits.windows(2).all(|w| matches!(w, [a, b] if a == b));
    let ascending = digits
        .windows(2)
        .all(|w| matches!(w, [a, b] if *b == a.wrapping_add(1)));
    let descending = digits
        .windows(2)
        .all(|w| matches!(w, [a, b] if *a == b.wrapping_add(1)));
    !(all_same || ascending || descending)
}

/// A random PIN that passes `pin_is_acceptable`, for one-time start PINs sent by SMS.
pub fn one_time_pin(length: usize) -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    loop {
        let pin: String = (0..length)
            .map(|_| char::from(b'0' + rng.gen_range(0..10_u8)))
            .collect();
        if pin_is_acceptable(&pin, length) {
            return pin;
        }
    }
}

/// A random secret of `len` characters from an unambiguous alphabet, for generated tokens.
pub fn random_token(len: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| {
            char::from(
                ALPHABET
                    .get(rng.gen_range(0..ALPHABET.len()))
                    .copied()
                    .unwrap_or(b'x'),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn hasher(pepper: &str) -> Hasher {
        let mut config = Config::default().security;
        config.argon2_memory_kib = 8 * 1024;
        config.argon2_iterations = 1;
        Hasher::new(&config, Secret::new(pepper.into())).unwrap_or_else(|e| unreachable!("{e}"))
    }

    #[test]
    fn hashes_are_argon2id_and_need_the_pepper() {
        let a = hasher("pepper-one-0123456789");
        let stored = a.hash("4821").unwrap_or_default();
        assert!(stored.starts_with("$argon2id$v=19$"), "{stored}");
        assert!(!stored.contains("4821"));
        assert!(matches!(a.verify("4821", &stored), Ok(true)));
        assert!(matches!(a.verify("4822", &stored), Ok(false)));
        let b = hasher("pepper-two-0123456789");
        assert!(
            matches!(b.verify("4821", &stored), Ok(false)),
            "another pepper must not verify"
        );
        assert!(a.verify("4821", "not a hash").is_err());
    }

    #[test]
    fn weak_pins_are_refused() {
        for pin in ["0000", "1234", "4321", "9999", "123", "12a4", "12345"] {
            assert!(!pin_is_acceptable(pin, 4), "{pin}");
        }
        for pin in ["4821", "1357", "2024"] {
            assert!(pin_is_acceptable(pin, 4), "{pin}");
        }
    }
}
