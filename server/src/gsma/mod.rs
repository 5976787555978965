//! The GSMA Mobile Money API v1.2 under `/gsma/v1.2/mm`, mapped onto mkoba's ledger, merchant
//! payment requests and allowances.
//!
//! Callers authenticate as on the merchant API: a merchant's key (`Authorization: Bearer
//! mk_<key id>_<secret>`, optionally signed, rate-limited per key) or the operator's admin token.
//! What each caller may do is decided in `parties::Caller` and documented in the README:
//! merchants collect from customers only through the customer's own approval (a payment request
//! approved with their PIN) or a debit mandate they granted (an allowance), refund their own
//! payments, and read only their own account; customers appear to them as per-merchant
//! pseudonyms, never as numbers or names. The operator may do everything the ledger API allows.

pub mod accounts;
pub mod callbacks;
pub mod error;
pub mod jobs;
pub mod mandates;
pub mod parties;
pub mod requests;
pub mod supporting;
pub mod transactions;
pub mod wire;

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use mkoba_ledger::{Currency, Money, Timestamp, TxnKind};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::app::App;
pub use error::{Category, GsmaError};
pub use parties::Caller;

/// Where the API is served.
pub const PREFIX: &str = "/gsma/v1.2/mm";
/// The longest callback URL accepted.
pub const CALLBACK_URL_LEN_MAX: usize = 500;

/// A random (version 4) UUID, as the spec wants for serverCorrelationId.
pub fn new_uuid() -> String {
    let mut bytes = [0_u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    if let Some(b) = bytes.get_mut(6) {
        *b = (*b & 0x0f) | 0x40;
    }
    if let Some(b) = bytes.get_mut(8) {
        *b = (*b & 0x3f) | 0x80;
    }
    let hex = crate::merchant::auth::hex(&bytes);
    let part = |from: usize, to: usize| hex.get(from..to).unwrap_or_default();
    format!(
        "{}-{}-{}-{}-{}",
        part(0, 8),
        part(8, 12),
        part(12, 16),
        part(16, 20),
        part(20, 32)
    )
}

/// The spec's UUID pattern: 8-4-4-4-12 hexadecimal digits.
pub fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, len)| g.len() == len && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// `X-CorrelationID`: required on every request that creates something (it is the idempotency
/// key), and a UUID as the spec says.
pub fn correlation_id(req: &HttpRequest) -> Result<String, GsmaError> {
    let Some(id) = header(req, "x-correlationid") else {
        return Err(GsmaError::missing("X-CorrelationID"));
    };
    if !is_uuid(id) {
        return Err(GsmaError::format("X-CorrelationID must be a UUID"));
    }
    Ok(id.to_ascii_lowercase())
}

/// `X-CorrelationID` where it is optional (quotations).
pub fn optional_correlation_id(req: &HttpRequest) -> Result<Option<String>, GsmaError> {
    match header(req, "x-correlationid") {
        None => Ok(None),
        Some(_) => correlation_id(req).map(Some),
    }
}

/// `X-Callback-URL`: present means the caller wants the asynchronous mode.
pub fn callback_url(req: &HttpRequest) -> Result<Option<String>, GsmaError> {
    let Some(url) = header(req, "x-callback-url") else {
        return Ok(None);
    };
    let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
    let host_ok = url
        .split_once("://")
        .map(|(_, rest)| rest.split('/').next().unwrap_or_default())
        .is_some_and(|host| !host.is_empty());
    if !scheme_ok
        || !host_ok
        || url.len() > CALLBACK_URL_LEN_MAX
        || url.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(GsmaError::format(format!(
            "X-Callback-URL must be an http(s) URL of at most {CALLBACK_URL_LEN_MAX} characters"
        )));
    }
    Ok(Some(url.to_owned()))
}

/// What makes a repeated request "the same": its method, path and exact body.
pub fn fingerprint(req: &HttpRequest, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(req.method().as_str().as_bytes());
    hasher.update(b"\n");
    hasher.update(req.path().as_bytes());
    hasher.update(b"\n");
    hasher.update(body);
    crate::merchant::auth::hex(hasher.finalize().get(..16).unwrap_or_default())
}

/// A JSON body; anything else is a named validation error.
pub fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, GsmaError> {
    serde_json::from_slice(body).map_err(|e| {
        let text = e.to_string();
        GsmaError::format(format!(
            "request body: {}",
            text.chars().take(200).collect::<String>()
        ))
    })
}

/// An amount in major units with its currency, checked against the currency's scale and the
/// maximum for `kind`.
pub fn parse_money(
    app: &App,
    amount: &str,
    currency: &str,
    kind: Option<TxnKind>,
) -> Result<Money, GsmaError> {
    crate::http::ledger_api::parse_amount(app, amount, currency, kind).map_err(GsmaError::from)
}

/// A currency code the ledger has enabled.
pub fn parse_currency(app: &App, code: &str) -> Result<Currency, GsmaError> {
    Currency::from_code(code)
        .filter(|c| app.ledger.rules.currencies.contains_key(c))
        .ok_or_else(|| GsmaError::from(mkoba_ledger::Rejection::CurrencyNotEnabled))
}

/// RFC 3339 in UTC, as every GSMA date-time is written.
pub fn date_time(at: Timestamp) -> String {
    crate::merchant::iso_time(at.0)
}

/// `YYYY-MM-DD` as days since 1970-01-01.
pub fn parse_date(text: &str) -> Option<i64> {
    let mut parts = text.splitn(3, '-');
    let year: i64 = parts.next().filter(|p| p.len() == 4)?.parse().ok()?;
    let month: i64 = parts.next().filter(|p| p.len() == 2)?.parse().ok()?;
    let day: i64 = parts.next().filter(|p| p.len() == 2)?.parse().ok()?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    // Reject 2023-02-30 and the like: the date must round-trip.
    (crate::sms::localtime::civil_from_days(days) == (year, month, day)).then_some(days)
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub fn date_of(at: Timestamp) -> String {
    let days = at.0.div_euclid(Timestamp::MICROS_PER_SECOND * 86_400);
    let (y, m, d) = crate::sms::localtime::civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// An RFC 3339 date-time (`2026-11-21T10:00:00Z`, `…+03:00`, fractions allowed) as a timestamp.
pub fn parse_date_time(text: &str) -> Option<Timestamp> {
    let (date, rest) = text.split_once(['T', 't'])?;
    let days = parse_date(date)?;
    let (clock, offset_seconds) = if let Some(c) = rest.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else {
        let at = rest.rfind(['+', '-'])?;
        let (c, off) = rest.split_at(at);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (h, m) = off.get(1..)?.split_once(':')?;
        let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
        if h > 23 || m > 59 {
            return None;
        }
        (c, sign * (h * 3_600 + m * 60))
    };
    let clock = clock.split('.').next()?;
    let mut hms = clock.splitn(3, ':');
    let h: i64 = hms.next()?.parse().ok()?;
    let m: i64 = hms.next()?.parse().ok()?;
    let s: i64 = hms.next()?.parse().ok()?;
    if h > 23 || m > 59 || s > 60 {
        return None;
    }
    let seconds = days
        .checked_mul(86_400)?
        .checked_add(h * 3_600 + m * 60 + s)?
        .checked_sub(offset_seconds)?;
    seconds
        .checked_mul(Timestamp::MICROS_PER_SECOND)
        .map(Timestamp)
}

/// A JSON answer with the spec's `X-Date` header.
pub fn json(
    status: actix_web::http::StatusCode,
    now: Timestamp,
    body: &serde_json::Value,
) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("X-Date", date_time(now)))
        .json(body)
}

async fn unknown_route() -> Result<HttpResponse, GsmaError> {
    Err(GsmaError::new(
        Category::Identification,
        "genericError",
        "not_found",
        "This operation is not served here; see the README for the supported ones.",
    ))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope(PREFIX)
            .route(
                "/transactions/type/{transactionType}",
                web::post().to(transactions::create),
            )
            .route(
                "/transactions/{transactionReference}",
                web::get().to(transactions::view),
            )
            .route(
                "/transactions/{transactionReference}/reversals",
                web::post().to(transactions::reverse),
            )
            .route(
                "/accounts/{identifierType}/{identifier}/balance",
                web::get().to(accounts::balance),
            )
            .route(
                "/accounts/{identifierType}/{identifier}/statemententries",
                web::get().to(accounts::statement_entries),
            )
            .route(
                "/accounts/{identifierType}/{identifier}/accountname",
                web::get().to(accounts::account_name),
            )
            .route(
                "/accounts/{identifierType}/{identifier}/status",
                web::get().to(accounts::status),
            )
            .route(
                "/accounts/{identifierType}/{identifier}/debitmandates",
                web::post().to(mandates::create),
            )
            .route(
                "/accounts/{identifierType}/{identifier}/debitmandates/{debitMandateReference}",
                web::get().to(mandates::view),
            )
            .route("/quotations", web::post().to(supporting::quotation))
            .route(
                "/requeststates/{serverCorrelationId}",
                web::get().to(supporting::request_state),
            )
            .route("/heartbeat", web::get().to(supporting::heartbeat))
            .default_service(web::to(unknown_route)),
    );
}

/// Starts the background work: pending requests and callbacks.
pub fn spawn(app: &Arc<App>) {
    jobs::spawn(app);
    callbacks::spawn(app);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_made_and_recognised() {
        let id = new_uuid();
        assert!(is_uuid(&id), "{id}");
        assert_eq!(id.get(14..15), Some("4"));
        assert!(!is_uuid("not-a-uuid"));
        assert!(!is_uuid("0000000-0000-0000-0000-000000000000"));
    }

    #[test]
    fn dates_parse_and_round_trip() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(
            parse_date("2026-11-21").map(|d| d * 86_400),
            Some(1_795_219_200)
        );
        assert_eq!(parse_date("2026-02-30"), None);
        assert_eq!(parse_date("26-1-1"), None);
        assert_eq!(
            parse_date_time("1970-01-01T01:00:00+01:00"),
            Some(Timestamp(0))
        );
        assert_eq!(
            parse_date_time("1970-01-01T00:00:10.5Z"),
            Some(Timestamp(10_000_000))
        );
        assert_eq!(parse_date_time("yesterday"), None);
        assert_eq!(date_of(Timestamp(0)), "1970-01-01");
    }
}
