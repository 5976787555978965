//! SMS webhooks: Twilio status callbacks and inbound messages (both verified with
//! X-Twilio-Signature), Africa's Talking delivery reports (a secret token in the path), and the
//! development inbox that shows what the development provider "sent".

use std::sync::Arc;

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde_json::json;

use crate::app::App;
use crate::http::error::ApiError;
use crate::phone::Msisdn;
use crate::sms::inbound::{self, Inbound};
use crate::sms::localtime::local_date_time;
use crate::sms::outbox;
use crate::sms::provider::twilio::{constant_time_eq, signature_is_valid};
use crate::sms::templates::{Language, Message};
use crate::store::{checkout, reads, StoreError};

/// Store work on the blocking pool, its failure an API error.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    Ok(crate::store::blocking(work).await?)
}

type Form = web::Form<Vec<(String, String)>>;

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Twilio signs the exact public URL it called; we rebuild it from our configured public URL.
fn verify_twilio(app: &App, req: &HttpRequest, form: &[(String, String)]) -> Result<(), ApiError> {
    let token = app.config.sms.twilio.auth_token.expose();
    if token.is_empty() {
        return Err(ApiError::NotFound("route"));
    }
    let url = format!(
        "{}{}",
        app.config.public_url(),
        req.uri().path_and_query().map_or("", |p| p.as_str())
    );
    let presented = req
        .headers()
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if signature_is_valid(token, &url, form, presented) {
        Ok(())
    } else {
        tracing::warn!(
            path = req.path(),
            "rejected a webhook with a bad X-Twilio-Signature"
        );
        Err(ApiError::Forbidden)
    }
}

#[post("/sms/twilio/status")]
async fn twilio_status(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    form: Form,
) -> Result<HttpResponse, ApiError> {
    verify_twilio(&app, &req, &form)?;
    let sid = field(&form, "MessageSid").unwrap_or_default().to_owned();
    let status = match field(&form, "MessageStatus").unwrap_or_default() {
        "delivered" | "read" => "delivered",
        "undelivered" => "undelivered",
        "failed" => "failed",
        _ => "sent",
    };
    let error = field(&form, "ErrorCode").map(|c| format!("twilio error {c}"));
    let now = app.clock.now().0;
    let pool = app.pool.clone();
    blocking(move || {
        outbox::delivery_report(
            &mut *checkout(&pool)?,
            "twilio",
            &sid,
            status,
            error.as_deref(),
            now,
        )
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[post("/sms/africastalking/delivery/{token}")]
async fn africastalking_delivery(
    app: web::Data<Arc<App>>,
    path: web::Path<String>,
    form: Form,
) -> Result<HttpResponse, ApiError> {
    let expected = app.config.sms.africastalking.delivery_token.expose();
    if expected.is_empty() || !constant_time_eq(expected.as_bytes(), path.as_bytes()) {
        return Err(ApiError::NotFound("route"));
    }
    let id = field(&form, "id").unwrap_or_default().to_owned();
    let status = match field(&form, "status").unwrap_or_default() {
        "Success" => "delivered",
        "Rejected" | "Failed" => "failed",
        _ => "sent",
    };
    let error = field(&form, "failureReason")
        .filter(|r| !r.is_empty())
        .map(str::to_owned);
    let now = app.clock.now().0;
    let pool = app.pool.clone();
    blocking(move || {
        outbox::delivery_report(
            &mut *checkout(&pool)?,
            "africastalking",
            &id,
            status,
            error.as_deref(),
            now,
        )
    })
    .await?;
    Ok(HttpResponse::Ok().finish())
}

/// Inbound SMS. The answer goes out through the outbox (so it is retried like any message); the
/// webhook itself answers an empty TwiML document at once.
#[post("/sms/twilio/inbound")]
async fn twilio_inbound(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    form: Form,
) -> Result<HttpResponse, ApiError> {
    verify_twilio(&app, &req, &form)?;
    let from = Msisdn::parse(field(&form, "From").unwrap_or_default(), app.country)
        .map_err(|_| ApiError::InvalidPhone)?;
    let (command, keyword_language) = inbound::parse(field(&form, "Body").unwrap_or_default());
    let app = Arc::clone(&app);
    blocking(move || answer_inbound(&app, &from, &command, keyword_language)).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/xml")
        .body(r#"<?xml version="1.0" encoding="UTF-8"?><Response></Response>"#))
}

fn answer_inbound(
    app: &App,
    from: &Msisdn,
    command: &Inbound,
    keyword_language: Option<Language>,
) -> Result<(), StoreError> {
    use crate::store::parties;
    let mut conn = checkout(&app.pool)?;
    let customer = parties::customer_profile(&mut conn, from.as_str())?;
    let language = customer
        .as_ref()
        .and_then(|c| Language::from_code(&c.language))
        .or(keyword_language)
        .unwrap_or(app.notify.default_language);
    let offset = app.notify.utc_offset_seconds;
    let now = app.clock.now();
    let message = match (command, &customer) {
        (Inbound::Help, _) => Message::Help,
        (Inbound::Balance | Inbound::Stop | Inbound::Start, None) => Message::NotRegistered,
        (Inbound::Balance, Some(c)) => {
            let (_, state) = reads::account(&mut conn, c.wallet.0)?
                .ok_or_else(|| StoreError::Corrupt("wallet missing".into()))?;
            let (date, time) = local_date_time(now, offset);
            Message::Balance {
                balance: mkoba_ledger::Money::from_minor(state.balance_minor, state.currency),
                available: mkoba_ledger::Money::from_minor(
                    state.available_minor().unwrap_or(0),
                    state.currency,
                ),
                date,
                time,
            }
        }
        (Inbound::Stop, Some(c)) => {
            parties::set_promotions_opt_out(&mut conn, c.id, true)?;
            Message::PromotionsOff
        }
        (Inbound::Start, Some(c)) => {
            parties::set_promotions_opt_out(&mut conn, c.id, false)?;
            Message::PromotionsOn
        }
        (Inbound::Check(code), customer) => {
            check_code(app, &mut conn, code, customer.as_ref().map(|c| c.wallet.0))?
        }
    };
    outbox::enqueue(
        &mut conn,
        &app.notify,
        from.as_str(),
        &message,
        language,
        now,
    )
}

/// Whether a code belongs to a real transaction; its amount and time only for one of its parties,
/// so a code seen on someone else's receipt tells a stranger nothing.
fn check_code(
    app: &App,
    conn: &mut crate::store::AnyConnection,
    code: &str,
    wallet: Option<i64>,
) -> Result<Message, StoreError> {
    let found = match app.ledger.codes.id_for(code) {
        Some(id) => reads::transaction_by_id(conn, id.0)?.filter(|t| t.code == code),
        None => None,
    };
    let Some(txn) = found else {
        return Ok(Message::CheckUnknown {
            code: code.to_owned(),
        });
    };
    let party = wallet.is_some_and(|w| w == txn.debit_account_id || w == txn.credit_account_id);
    let detail = if party {
        let receipt = txn.to_receipt()?;
        let (date, time) = local_date_time(receipt.created_at, app.notify.utc_offset_seconds);
        Some((receipt.amount, date, time))
    } else {
        None
    };
    Ok(Message::CheckGenuine {
        code: code.to_owned(),
        detail,
    })
}

/// The development provider's inbox for one number (only while that provider is in use).
#[get("/dev/sms/{msisdn}")]
async fn dev_inbox(
    app: web::Data<Arc<App>>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    // Every number's messages (start PINs included) without authentication: development only.
    if !crate::http::simulator::enabled(&app) {
        return Err(ApiError::NotFound("route"));
    }
    let msisdn = Msisdn::parse(&path, app.country).map_err(|_| ApiError::InvalidPhone)?;
    let pool = app.pool.clone();
    let notify = app.notify.clone();
    let rows = blocking(move || {
        let mut conn = checkout(&pool)?;
        // A payment's messages show the moment it commits, not at the dispatcher's next round.
        crate::sms::due::expand_all(&mut conn, &notify)?;
        outbox::for_recipient(&mut conn, msisdn.as_str(), 50)
    })
    .await?;
    let messages: Vec<_> = rows
        .iter()
        .map(|r| {
            let body = r.text().unwrap_or_else(|e| format!("(unreadable: {e})"));
            json!({ "id": r.id, "body": body, "template": r.template, "status": r.status, "created_at_us": r.created_at })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "messages": messages })))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(twilio_status)
        .service(twilio_inbound)
        .service(africastalking_delivery)
        .service(dev_inbox);
}
