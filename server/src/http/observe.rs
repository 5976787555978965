//! Request ids, access logs and HTTP metrics for every request.
//!
//! Each request gets an id (the caller's `X-Request-Id` if it is short and plain, else a random
//! one), echoed in the response and carried by every log line the request causes. Logs name the
//! route pattern, never the raw path or query: gateway tokens travel in query strings and one
//! delivery-report URL carries its secret in the path.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;

const REQUEST_ID_LEN_MAX: usize = 64;

fn request_id(req: &ServiceRequest) -> String {
    let given = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let plain = given
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !given.is_empty() && given.len() <= REQUEST_ID_LEN_MAX && plain {
        return given.to_owned();
    }
    format!("{:016x}", rand::random::<u64>())
}

/// The dialect label of a USSD route, bounded to known names so metrics stay small.
fn dialect_of(res: &ServiceResponse<impl MessageBody>) -> &'static str {
    match res.request().match_info().get("dialect") {
        Some(name) => mkoba_ussd::dialect::by_name(name).map_or("unknown", |d| d.name()),
        None => "",
    }
}

pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = request_id(&req);
    let method = req.method().to_string();
    let span = tracing::info_span!("request", request_id = %id, method = %method);
    let started = Instant::now();
    let mut res = next.call(req).instrument(span.clone()).await?;
    let took = started.elapsed();
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".into());
    let status = res.status().as_u16();
    let dialect = dialect_of(&res);
    if let Some(m) = crate::metrics::get() {
        m.http_requests
            .with_label_values(&[&route, dialect, &status.to_string()])
            .inc();
        m.http_duration
            .with_label_values(&[&route, dialect])
            .observe(took.as_secs_f64());
    }
    span.in_scope(|| tracing::info!(%route, status, latency_us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX), "request"));
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut()
            .insert(HeaderName::from_static("x-request-id"), value);
    }
    Ok(res)
}
