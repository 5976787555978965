//! PINs and passwords: argon2id with a server-side pepper (argon2's secret input), so a stolen
//! database alone cannot be brute-forced. Hashing is slow on purpose; callers on the async
//! runtime use [`Hasher::verify_async`], or run it on a blocking thread.
//!
//! Each hash needs `argon2_memory_kib` of working memory. At most `argon2_concurrency_max` hashes
//! run at once, each in one of as many memory slots that are allocated once and reused: the
//! memory PIN checks take is bounded whatever the load (allocating it per hash let every blocking
//! thread's allocator arena keep its own copy), and the pages are not faulted in again each time.

use std::sync::{Arc, Condvar, Mutex};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use crate::config::{Secret, SecurityConfig};

#[derive(Clone)]
pub struct Hasher {
    pepper: Secret,
    params: Params,
    slots: Arc<Slots>,
    /// As many permits as slots, for async callers to wait on without holding a thread.
    permits: Arc<tokio::sync::Semaphore>,
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("argon2 parameters are invalid: {0}")]
    Params(String),
    #[error("hashing failed: {0}")]
    Hash(String),
}

/// Reusable working memory for `max` concurrent hashes of `blocks` KiB each.
struct Slots {
    blocks: usize,
    max: usize,
    /// (free slots, slots allocated so far)
    state: Mutex<(Vec<Vec<Block>>, usize)>,
    freed: Condvar,
}

/// A slot in use; its memory goes back to the free list when dropped.
struct SlotGuard<'a> {
    slots: &'a Slots,
    memory: Vec<Block>,
}

impl Slots {
    fn take(&self) -> SlotGuard<'_> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(memory) = state.0.pop() {
                return SlotGuard {
                    slots: self,
                    memory,
                };
            }
            if state.1 < self.max {
                state.1 += 1;
                drop(state);
                return SlotGuard {
                    slots: self,
                    memory: vec![Block::default(); self.blocks],
                };
            }
            state = self.freed.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }
}

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        let memory = std::mem::take(&mut self.memory);
        let mut state = self.slots.state.lock().unwrap_or_else(|p| p.into_inner());
        state.0.push(memory);
        drop(state);
        self.slots.freed.notify_one();
    }
}

fn hash_error(e: impl std::fmt::Display) -> HashError {
    HashError::Hash(e.to_string())
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
        let max = config.argon2_concurrency_max.max(1);
        Ok(Hasher {
            pepper,
            slots: Arc::new(Slots {
                blocks: params.block_count(),
                max,
                state: Mutex::new((Vec::new(), 0)),
                freed: Condvar::new(),
            }),
            permits: Arc::new(tokio::sync::Semaphore::new(max)),
            params,
        })
    }

    fn argon2(
        &self,
        algorithm: Algorithm,
        version: Version,
        params: Params,
    ) -> Result<Argon2<'_>, HashError> {
        Argon2::new_with_secret(self.pepper.expose().as_bytes(), algorithm, version, params)
            .map_err(|e| HashError::Params(e.to_string()))
    }

    /// Computes the raw argon2 output into a slot's memory (a larger one, allocated for this
    /// hash only, if a stored hash asks for more memory than the configured cost).
    fn compute(
        &self,
        argon2: &Argon2<'_>,
        params: &Params,
        secret: &str,
        salt: &[u8],
    ) -> Result<Output, HashError> {
        let mut slot = self.slots.take();
        let len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
        let mut buffer = [0_u8; Output::MAX_LENGTH];
        let out = buffer
            .get_mut(..len)
            .ok_or_else(|| HashError::Params(format!("output length {len}")))?;
        if params.block_count() <= slot.memory.len() {
            argon2.hash_password_into_with_memory(secret.as_bytes(), salt, out, &mut slot.memory)
        } else {
            let mut memory = vec![Block::default(); params.block_count()];
            argon2.hash_password_into_with_memory(secret.as_bytes(), salt, out, &mut memory)
        }
        .map_err(hash_error)?;
        Output::new(out).map_err(hash_error)
    }

    /// A PHC string (`$argon2id$v=19$m=…`) with a fresh random salt.
    pub fn hash(&self, secret: &str) -> Result<String, HashError> {
        let salt = SaltString::generate(&mut OsRng);
        let mut salt_bytes = [0_u8; 64];
        let raw_salt = salt.decode_b64(&mut salt_bytes).map_err(hash_error)?;
        let argon2 = self.argon2(Algorithm::Argon2id, Version::V0x13, self.params.clone())?;
        let output = self.compute(&argon2, &self.params, secret, raw_salt)?;
        let hash = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&self.params).map_err(hash_error)?,
            salt: Some(salt.as_salt()),
            hash: Some(output),
        };
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

    /// Whether `secret` matches `stored`, with the algorithm, version and cost `stored` records.
    /// An unreadable stored hash is an error, not a "no". Blocks until a slot is free.
    pub fn verify(&self, secret: &str, stored: &str) -> Result<bool, HashError> {
        let parsed = PasswordHash::new(stored).map_err(hash_error)?;
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return Ok(false);
        };
        let algorithm = Algorithm::try_from(parsed.algorithm).map_err(hash_error)?;
        let version = parsed
            .version
            .map(Version::try_from)
            .transpose()
            .map_err(hash_error)?
            .unwrap_or_default();
        let params = Params::try_from(&parsed).map_err(hash_error)?;
        let mut salt_bytes = [0_u8; 64];
        let raw_salt = salt.decode_b64(&mut salt_bytes).map_err(hash_error)?;
        let argon2 = self.argon2(algorithm, version, params.clone())?;
        let computed = self.compute(&argon2, &params, secret, raw_salt)?;
        // `Output`'s equality is constant-time.
        Ok(computed == expected)
    }

    /// [`Hasher::verify`] from async code: waits for a free slot without holding a thread, then
    /// hashes on the blocking pool.
    pub async fn verify_async(&self, secret: String, stored: String) -> Result<bool, HashError> {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(hash_error)?;
        let hasher = self.clone();
        tokio::task::spawn_blocking(move || {
            let result = hasher.verify(&secret, &stored);
            drop(permit);
            result
        })
        .await
        .map_err(hash_error)?
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
    fn hashes_verify_with_the_plain_argon2_api_and_back() {
        // A hash made through the reused slots is an ordinary PHC string, and one made the
        // ordinary way (as every stored PIN before the slots was) verifies through them.
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let pepper = "pepper-one-0123456789";
        let ours = hasher(pepper);
        let plain = Argon2::new_with_secret(
            pepper.as_bytes(),
            Algorithm::Argon2id,
            Version::V0x13,
            ours.params.clone(),
        )
        .unwrap_or_else(|e| unreachable!("{e}"));
        let stored = ours.hash("4821").unwrap_or_default();
        let parsed = PasswordHash::new(&stored).unwrap_or_else(|e| unreachable!("{e}"));
        assert!(plain.verify_password(b"4821", &parsed).is_ok());
        assert!(plain.verify_password(b"4822", &parsed).is_err());
        let salt = SaltString::generate(&mut OsRng);
        let theirs = plain
            .hash_password(b"7264", &salt)
            .map(|h| h.to_string())
            .unwrap_or_default();
        assert!(matches!(ours.verify("7264", &theirs), Ok(true)));
        assert!(matches!(ours.verify("7265", &theirs), Ok(false)));
        // A stored hash with a larger cost than configured still verifies (its own memory).
        let bigger = Argon2::new_with_secret(
            pepper.as_bytes(),
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(16 * 1024, 1, 1, None).unwrap_or_else(|e| unreachable!("{e}")),
        )
        .unwrap_or_else(|e| unreachable!("{e}"));
        let big = bigger
            .hash_password(b"7264", &salt)
            .map(|h| h.to_string())
            .unwrap_or_default();
        assert!(matches!(ours.verify("7264", &big), Ok(true)));
    }

    #[test]
    fn concurrent_hashes_share_a_bounded_number_of_slots() {
        let mut config = Config::default().security;
        config.argon2_memory_kib = 8 * 1024;
        config.argon2_iterations = 1;
        config.argon2_concurrency_max = 2;
        let h = Hasher::new(&config, Secret::new("pepper-one-0123456789".into()))
            .unwrap_or_else(|e| unreachable!("{e}"));
        let stored = h.hash("4821").unwrap_or_default();
        std::thread::scope(|scope| {
            for _ in 0..6 {
                scope.spawn(|| {
                    for _ in 0..2 {
                        assert!(matches!(h.verify("4821", &stored), Ok(true)));
                    }
                });
            }
        });
        let state = h.slots.state.lock().unwrap_or_else(|p| p.into_inner());
        assert_eq!(state.1, 2, "never more slots than argon2_concurrency_max");
        assert_eq!(state.0.len(), 2, "every slot returned");
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
