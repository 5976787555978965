//! Who is calling the merchant API: an API key (`Authorization: Bearer mk_<key_id>_<secret>`),
//! optionally a request signature, and a rate limit per key.
//!
//! Only a keyed SHA-256 of a key's secret half is stored: the secret has 160 bits of entropy, so
//! a slow password hash would buy nothing. The signature is HMAC-SHA256 with the merchant's
//! signing secret over `METHOD \n PATH \n TIMESTAMP \n BODY`; a timestamp outside the replay
//! window, or a signature already seen inside it, is refused.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use actix_web::HttpRequest;
use diesel::prelude::*;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::http::error::ApiError;
use crate::store::schema::{api_request_signatures, merchant_api_keys, merchants};
use crate::store::{AnyConnection, StoreError};
use crate::with_conn;

type HmacSha256 = Hmac<Sha256>;

pub const KEY_PREFIX: &str = "mk_";
const KEY_ID_LEN: usize = 12;
const KEY_SECRET_LEN: usize = 32;
pub const SIGNATURE_HEADER: &str = "mkoba-signature";
pub const TIMESTAMP_HEADER: &str = "mkoba-timestamp";

/// An authenticated caller.
#[derive(Clone, Debug)]
pub struct Merchant {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub account_id: i64,
    pub key_id: String,
}

/// A newly made key, shown to its owner once.
pub struct IssuedKey {
    pub key_id: String,
    pub token: String,
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn mac(key: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length; this cannot fail.
    HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key length"))
}

pub fn hmac_hex(key: &[u8], parts: &[&[u8]]) -> String {
    let mut m = mac(key);
    for part in parts {
        m.update(part);
    }
    hex(&m.finalize().into_bytes())
}

/// Constant-time equality of two ASCII strings.
pub fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0_u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Splits `mk_<key_id>_<secret>`.
pub fn parse_token(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix(KEY_PREFIX)?;
    let (key_id, secret) = rest.split_once('_')?;
    let fits = key_id.len() == KEY_ID_LEN && secret.len() == KEY_SECRET_LEN;
    let plain = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric());
    (fits && plain(key_id) && plain(secret)).then_some((key_id, secret))
}

/// Creates a key for `merchant_id`; the token is returned once and never stored.
pub fn issue_key(
    conn: &mut AnyConnection,
    hash_key: &[u8; 32],
    merchant_id: i64,
    label: &str,
    now_us: i64,
) -> Result<IssuedKey, StoreError> {
    let key_id = crate::secrets::random_token(KEY_ID_LEN);
    let secret = crate::secrets::random_token(KEY_SECRET_LEN);
    insert_key(conn, hash_key, merchant_id, label, &key_id, &secret, now_us)?;
    Ok(IssuedKey {
        token: format!("{KEY_PREFIX}{key_id}_{secret}"),
        key_id,
    })
}

/// Stores a key whose parts the caller chose (the demo world's documented key); a key id that
/// exists already is left as it is.
pub fn insert_key(
    conn: &mut AnyConnection,
    hash_key: &[u8; 32],
    merchant_id: i64,
    label: &str,
    key_id: &str,
    secret: &str,
    now_us: i64,
) -> Result<(), StoreError> {
    let secret_hash = hmac_hex(hash_key, &[secret.as_bytes()]);
    let label: String = label.chars().take(60).collect();
    with_conn!(conn, |c| diesel::insert_into(merchant_api_keys::table)
        .values((
            merchant_api_keys::merchant_id.eq(merchant_id),
            merchant_api_keys::key_id.eq(key_id),
            merchant_api_keys::secret_hash.eq(&secret_hash),
            merchant_api_keys::label.eq(&label),
            merchant_api_keys::created_at.eq(now_us),
        ))
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(())
}

/// Revokes one of `merchant_id`'s keys; `false` if it has no such live key.
pub fn revoke_key(
    conn: &mut AnyConnection,
    merchant_id: i64,
    key_id: &str,
    now_us: i64,
) -> Result<bool, StoreError> {
    let updated = with_conn!(conn, |c| diesel::update(
        merchant_api_keys::table
            .filter(merchant_api_keys::merchant_id.eq(merchant_id))
            .filter(merchant_api_keys::key_id.eq(key_id))
            .filter(merchant_api_keys::revoked_at.is_null())
    )
    .set(merchant_api_keys::revoked_at.eq(Some(now_us)))
    .execute(c))?;
    Ok(updated == 1)
}

type KeyRow = (
    String,
    Option<i64>,
    i64,
    String,
    String,
    i64,
    Option<String>,
    bool,
);

/// The parts of an HTTP request authentication reads (a plain value, so it can travel to a
/// blocking thread).
#[derive(Clone, Debug)]
pub struct RequestParts {
    pub authorization: Option<String>,
    pub signature: Option<String>,
    pub timestamp: Option<String>,
    pub method: String,
    pub path_and_query: String,
}

impl RequestParts {
    pub fn of(req: &HttpRequest) -> RequestParts {
        let header = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        RequestParts {
            authorization: header("authorization"),
            signature: header(SIGNATURE_HEADER),
            timestamp: header(TIMESTAMP_HEADER),
            method: req.method().as_str().to_owned(),
            path_and_query: req
                .uri()
                .path_and_query()
                .map_or(String::new(), |p| p.as_str().to_owned()),
        }
    }
}

/// What a request proved about itself, before the body is read.
pub struct Credentials {
    pub merchant: Merchant,
    signing_secret: Option<String>,
    require_signature: bool,
}

/// Checks the bearer key. Unknown and malformed keys get the same answer; a revoked key is
/// named, since its id is not a secret and the integrator needs to know to rotate.
pub fn authenticate(
    conn: &mut AnyConnection,
    hash_key: &[u8; 32],
    req: &RequestParts,
) -> Result<Credentials, ApiError> {
    let token = req
        .authorization
        .as_deref()
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(ApiError::Unauthorized)?;
    let (key_id, secret) = parse_token(token.trim()).ok_or(ApiError::Unauthorized)?;
    let row: Option<KeyRow> = with_conn!(conn, |c| merchant_api_keys::table
        .inner_join(merchants::table.on(merchants::id.eq(merchant_api_keys::merchant_id)))
        .filter(merchant_api_keys::key_id.eq(key_id))
        .select((
            merchant_api_keys::secret_hash,
            merchant_api_keys::revoked_at,
            merchants::id,
            merchants::code,
            merchants::name,
            merchants::account_id,
            merchants::signing_secret,
            merchants::require_signature,
        ))
        .get_result(c)
        .optional())
    .map_err(StoreError::from)?;
    let Some((hash, revoked, id, code, name, account_id, signing_secret, require_signature)) = row
    else {
        return Err(ApiError::Unauthorized);
    };
    if !same(&hmac_hex(hash_key, &[secret.as_bytes()]), &hash) {
        return Err(ApiError::Unauthorized);
    }
    if revoked.is_some() {
        return Err(ApiError::ApiKeyRevoked);
    }
    Ok(Credentials {
        merchant: Merchant {
            id,
            code,
            name,
            account_id,
            key_id: key_id.to_owned(),
        },
        signing_secret,
        require_signature,
    })
}

impl Credentials {
    /// Verifies the signature if one is present (or required), and records it so that the same
    /// signed request cannot be replayed inside the window.
    pub fn verify_signature(
        self,
        conn: &mut AnyConnection,
        req: &RequestParts,
        body: &[u8],
        now_seconds: i64,
        window_seconds: i64,
    ) -> Result<Merchant, ApiError> {
        let (signature, timestamp) = (req.signature.clone(), req.timestamp.clone());
        if signature.is_none() && !self.require_signature {
            return Ok(self.merchant);
        }
        let (Some(signature), Some(timestamp)) = (signature, timestamp) else {
            return Err(ApiError::SignatureRequired);
        };
        let Some(secret) = self.signing_secret.as_deref() else {
            return Err(ApiError::Forbidden);
        };
        let sent_at: i64 = timestamp.trim().parse().map_err(|_| ApiError::Forbidden)?;
        if (now_seconds - sent_at).abs() > window_seconds {
            return Err(ApiError::TimestampOutOfWindow);
        }
        let path = req.path_and_query.as_str();
        let expected = format!(
            "v1={}",
            hmac_hex(
                secret.as_bytes(),
                &[
                    req.method.as_bytes(),
                    b"\n",
                    path.as_bytes(),
                    b"\n",
                    timestamp.trim().as_bytes(),
                    b"\n",
                    body,
                ],
            )
        );
        if !same(signature.trim(), &expected) {
            return Err(ApiError::Forbidden);
        }
        let fresh = with_conn!(conn, |c| diesel::insert_into(api_request_signatures::table)
            .values((
                api_request_signatures::signature.eq(&expected),
                api_request_signatures::seen_at.eq(now_seconds),
            ))
            .on_conflict_do_nothing()
            .execute(c))
        .map_err(StoreError::from)?;
        if fresh == 0 {
            return Err(ApiError::RequestReplayed);
        }
        Ok(self.merchant)
    }
}

/// Forgets signatures older than the window (they would be refused by their timestamp anyway).
pub fn purge_signatures(
    conn: &mut AnyConnection,
    now_seconds: i64,
    window_seconds: i64,
) -> Result<usize, StoreError> {
    let cutoff = now_seconds - 2 * window_seconds;
    Ok(with_conn!(conn, |c| diesel::delete(
        api_request_signatures::table.filter(api_request_signatures::seen_at.lt(cutoff))
    )
    .execute(c))?)
}

/// A token bucket per API key, in this process: `rate` requests a second, bursts of `burst`.
/// Tokens are counted in thousandths, in integers.
pub struct RateLimiter {
    rate_per_second: u64,
    burst: u64,
    buckets: Mutex<HashMap<String, (u64, Instant)>>,
}

/// Buckets kept before idle ones are dropped, so memory stays bounded.
const BUCKETS_MAX: usize = 100_000;
const MILLI: u64 = 1_000;

impl RateLimiter {
    pub fn new(rate_per_second: u32, burst: u32) -> RateLimiter {
        RateLimiter {
            rate_per_second: u64::from(rate_per_second),
            burst: u64::from(burst),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// `Ok` to proceed, or how many seconds to wait.
    pub fn check(&self, key_id: &str) -> Result<(), u64> {
        let now = Instant::now();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= BUCKETS_MAX && !buckets.contains_key(key_id) {
            buckets.retain(|_, (_, at)| now.duration_since(*at).as_secs() < 60);
        }
        let full = self.burst.saturating_mul(MILLI);
        let (tokens, at) = buckets.entry(key_id.to_owned()).or_insert((full, now));
        let elapsed_ms = u64::try_from(now.duration_since(*at).as_millis()).unwrap_or(u64::MAX);
        // rate tokens per second = rate thousandths per millisecond.
        let refill = elapsed_ms.saturating_mul(self.rate_per_second);
        if refill > 0 {
            *tokens = tokens.saturating_add(refill).min(full);
            *at = now;
        }
        if *tokens >= MILLI {
            *tokens -= MILLI;
            Ok(())
        } else {
            Err(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_parse_only_in_their_exact_shape() {
        let good = format!("mk_{}_{}", "a".repeat(12), "B".repeat(32));
        assert_eq!(
            parse_token(&good),
            Some(("aaaaaaaaaaaa", "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"))
        );
        assert_eq!(parse_token("mk_short_x"), None);
        assert_eq!(parse_token(&good.replace("mk_", "xx_")), None);
        assert_eq!(parse_token(&format!("{good}'--")), None);
    }

    #[test]
    fn hmac_matches_the_rfc_4231_vector() {
        // RFC 4231 test case 2.
        let got = hmac_hex(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(
            got,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn the_bucket_refuses_past_its_burst_and_names_a_wait() {
        let limiter = RateLimiter::new(1, 3);
        let results: Vec<bool> = (0..5).map(|_| limiter.check("k").is_ok()).collect();
        assert_eq!(results, vec![true, true, true, false, false]);
        assert!(limiter.check("other").is_ok(), "buckets are per key");
    }
}
