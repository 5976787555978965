//! Customers at the counter: register with ID (tier 1), upgrade a tier, reset a locked PIN.
//!
//! The ID document is the proof: registering records it; upgrading and resetting need the same
//! document again, so a fraudster who swapped a SIM cannot talk an agent into a reset without
//! the customer's ID. A reset only ever lifts a *locked* PIN (an unlocked one the customer changes
//! themselves in USSD) and sends a one-time start PIN by SMS that must be changed at first use.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use mkoba_ledger::Tier;

use crate::app::App;
use crate::phone::Msisdn;
use crate::portal::error::PortalError;
use crate::portal::form::Form;
use crate::portal::session::{self, Principal, COUNTER};
use crate::portal::store::{self, Audit};
use crate::portal::view::{self, Layout, Notice};
use crate::secrets::one_time_pin;
use crate::sms::notify::mask_name;
use crate::sms::outbox;
use crate::sms::templates::{Language, Message};
use crate::store::parties::{self, NewCustomer};
use crate::store::{blocking, checkout, StoreError};

#[derive(Template)]
#[template(path = "portal/customers.html")]
struct CustomersPage {
    layout: Layout,
    /// Which form a refused submission came from, so its fields are filled in again.
    which: &'static str,
    phone: String,
    name: String,
    id_document: String,
}

fn page(
    principal: &Principal,
    status: StatusCode,
    notice: Option<Notice>,
    kept: Option<(&'static str, &Form)>,
) -> Result<HttpResponse, PortalError> {
    let keep = |field: &str| -> String {
        kept.map(|(_, f)| f.get(field).chars().take(100).collect())
            .unwrap_or_default()
    };
    view::html_status(
        status,
        &CustomersPage {
            layout: Layout::new(principal, "Customers", "/portal/customers").with(notice),
            which: kept.map_or("", |(w, _)| w),
            phone: keep("phone"),
            name: keep("name"),
            id_document: keep("id_document"),
        },
    )
}

async fn customers(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
) -> Result<HttpResponse, PortalError> {
    let principal = session::require(&app, &req, COUNTER).await?;
    page(&principal, StatusCode::OK, None, None)
}

/// An ID document number as people write it: letters, digits, spaces, `-` and `/`.
fn id_document(text: &str) -> Option<String> {
    let clean: String = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_uppercase();
    let ok = (4..=40).contains(&clean.len())
        && clean
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '/'));
    ok.then_some(clean)
}

fn same_document(on_file: Option<&str>, given: &str) -> bool {
    on_file.is_some_and(|d| d.trim().eq_ignore_ascii_case(given))
}

/// What happened, for the page and the audit log.
enum Done {
    Ok(String),
    Refused(String),
}

fn audit(
    app: &App,
    principal: &Principal,
    action: &str,
    detail: &str,
    done: &Done,
) -> Result<(), StoreError> {
    let outcome = match done {
        Done::Ok(_) => "ok".to_owned(),
        Done::Refused(text) => format!("refused: {text}"),
    };
    store::audit(
        &mut *checkout(&app.pool)?,
        &Audit {
            user_id: Some(principal.user_id),
            login: &principal.login,
            action,
            detail,
            outcome: &outcome,
        },
        app.clock.now().0,
    )
}

/// Success clears the forms; a refusal keeps what was typed in the form it came from.
fn answer(
    principal: &Principal,
    done: Done,
    which: &'static str,
    form: &Form,
) -> Result<HttpResponse, PortalError> {
    match done {
        Done::Ok(text) => page(principal, StatusCode::OK, Notice::ok(text), None),
        Done::Refused(text) => page(
            principal,
            StatusCode::UNPROCESSABLE_ENTITY,
            Notice::problem(text),
            Some((which, form)),
        ),
    }
}

fn send_start_pin(
    app: &App,
    conn: &mut crate::store::AnyConnection,
    customer_id: i64,
    msisdn: &str,
    language: &str,
) -> Result<(), StoreError> {
    let pin = one_time_pin(app.config.security.pin_length);
    let hash = app
        .hasher
        .hash(&pin)
        .map_err(|e| StoreError::Io(e.to_string()))?;
    parties::reset_pin(conn, customer_id, &hash)?;
    let language = Language::from_code(language).unwrap_or(app.notify.default_language);
    outbox::enqueue(
        conn,
        &app.notify,
        msisdn,
        &Message::PinReset { pin },
        language,
        app.clock.now(),
    )
}

const BAD_NUMBER: &str = "Enter the customer's phone number, for example 0712 345 678.";
const BAD_ID: &str = "Enter the ID document number as printed (4 to 40 letters and digits).";

async fn register(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, PortalError> {
    let (principal, form) = session::require_post(&app, &req, &body, COUNTER).await?;
    let done = register_done(&app, &form).await?;
    let app2 = Arc::clone(&app);
    let p2 = principal.clone();
    let masked = crate::phone::mask(form.get("phone"));
    let done = blocking(move || {
        audit(&app2, &p2, "register_customer", &masked, &done)?;
        Ok(done)
    })
    .await?;
    answer(&principal, done, "register", &form)
}

async fn register_done(app: &Arc<App>, form: &Form) -> Result<Done, PortalError> {
    let Ok(msisdn) = Msisdn::parse(form.get("phone"), app.country) else {
        return Ok(Done::Refused(BAD_NUMBER.into()));
    };
    let name = form
        .get("name")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if !(2..=100).contains(&name.chars().count()) {
        return Ok(Done::Refused(
            "Enter the name as on the ID (2 to 100 characters).".into(),
        ));
    }
    let Some(document) = id_document(form.get("id_document")) else {
        return Ok(Done::Refused(BAD_ID.into()));
    };
    let language = match form.get("language") {
        "" => "en",
        l @ ("en" | "sw" | "fr") => l,
        _ => return Ok(Done::Refused("Choose English, Swahili or French.".into())),
    }
    .to_owned();
    let app2 = Arc::clone(app);
    Ok(blocking(move || {
        let mut conn = checkout(&app2.pool)?;
        if let Some(existing) = store::customer_kyc(&mut conn, msisdn.as_str())? {
            let who = mask_name(&existing.name);
            if existing.tier != Tier::Tier0 {
                return Ok(Done::Refused(format!("{who} is already registered with ID (tier {}).", existing.tier.index())));
            }
            if existing.id_document.is_some() && !same_document(existing.id_document.as_deref(), &document) {
                return Ok(Done::Refused("This ID number differs from the one on file. Ask the operator.".into()));
            }
            store::set_kyc(&mut conn, existing.id, existing.wallet, &document, Tier::Tier1)?;
            return Ok(Done::Ok(format!("{who}'s ID is recorded: they are now tier 1, with higher limits.")));
        }
        let created = parties::create_customer(
            &mut conn,
            &NewCustomer {
                msisdn: msisdn.as_str(),
                name: &name,
                language: &language,
                currency: app2.config.ledger.default_currency,
                tier: Tier::Tier1,
                pin_hash: None,
                id_document: Some(&document),
            },
        )?;
        let welcome = Message::Welcome {
            name: mkoba_ussd::gsm::sanitize_field(&name, 30),
        };
        let lang = Language::from_code(&language).unwrap_or(app2.notify.default_language);
        outbox::enqueue(&mut conn, &app2.notify, msisdn.as_str(), &welcome, lang, app2.clock.now())?;
        send_start_pin(&app2, &mut conn, created.customer_id, msisdn.as_str(), &language)?;
        Ok(Done::Ok(format!(
            "{} is registered at tier 1. A one-time start PIN is on its way by SMS; they must change it at first use.",
            mask_name(&name)
        )))
    })
    .await?)
}

async fn upgrade(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, PortalError> {
    let (principal, form) = session::require_post(&app, &req, &body, COUNTER).await?;
    let target = match form.get("tier") {
        "1" => Some(Tier::Tier1),
        "2" => Some(Tier::Tier2),
        _ => None,
    };
    let msisdn = Msisdn::parse(form.get("phone"), app.country).ok();
    let document = id_document(form.get("id_document"));
    let masked = crate::phone::mask(form.get("phone"));
    let app2 = Arc::clone(&app);
    let p2 = principal.clone();
    let done = blocking(move || {
        let done = (|| {
            let Some(msisdn) = msisdn else {
                return Ok(Done::Refused(BAD_NUMBER.into()));
            };
            let Some(document) = document else {
                return Ok(Done::Refused(BAD_ID.into()));
            };
            let Some(target) = target else {
                return Ok(Done::Refused("Choose tier 1 or tier 2.".into()));
            };
            let mut conn = checkout(&app2.pool)?;
            let Some(customer) = store::customer_kyc(&mut conn, msisdn.as_str())? else {
                return Ok(Done::Refused("No mkoba customer has this number.".into()));
            };
            let who = mask_name(&customer.name);
            if customer.id_document.is_none() {
                return Ok(Done::Refused(format!(
                    "{who} has no ID on file: register their ID first."
                )));
            }
            if !same_document(customer.id_document.as_deref(), &document) {
                return Ok(Done::Refused(
                    "This ID number differs from the one on file.".into(),
                ));
            }
            if customer.tier.index() >= target.index() {
                return Ok(Done::Refused(format!(
                    "{who} is already at tier {}.",
                    customer.tier.index()
                )));
            }
            store::set_kyc(&mut conn, customer.id, customer.wallet, &document, target)?;
            Ok::<Done, StoreError>(Done::Ok(format!("{who} is now tier {}.", target.index())))
        })()?;
        audit(&app2, &p2, "upgrade_tier", &masked, &done)?;
        Ok(done)
    })
    .await?;
    answer(&principal, done, "tier", &form)
}

async fn reset_pin(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, PortalError> {
    let (principal, form) = session::require_post(&app, &req, &body, COUNTER).await?;
    let msisdn = Msisdn::parse(form.get("phone"), app.country).ok();
    let document = id_document(form.get("id_document"));
    let masked = crate::phone::mask(form.get("phone"));
    let app2 = Arc::clone(&app);
    let p2 = principal.clone();
    let done = blocking(move || {
        let done = (|| {
            let Some(msisdn) = msisdn else {
                return Ok(Done::Refused(BAD_NUMBER.into()));
            };
            let Some(document) = document else {
                return Ok(Done::Refused(BAD_ID.into()));
            };
            let mut conn = checkout(&app2.pool)?;
            let Some(customer) = store::customer_kyc(&mut conn, msisdn.as_str())? else {
                return Ok(Done::Refused("No mkoba customer has this number.".into()));
            };
            let who = mask_name(&customer.name);
            if !same_document(customer.id_document.as_deref(), &document) {
                return Ok(Done::Refused(format!(
                    "The ID does not match {who}'s ID on file (or none is on file). Without a match the PIN cannot be reset here."
                )));
            }
            if !customer.pin_locked {
                return Ok(Done::Refused(format!(
                    "{who}'s PIN is not locked: they can change it themselves under My account."
                )));
            }
            send_start_pin(&app2, &mut conn, customer.id, msisdn.as_str(), &customer.language)?;
            tracing::info!(customer = customer.id, "PIN reset at the portal after an ID check");
            Ok::<Done, StoreError>(Done::Ok(format!(
                "{who}'s wallet is unlocked. A one-time start PIN is on its way by SMS; they must change it at first use."
            )))
        })()?;
        audit(&app2, &p2, "reset_pin", &masked, &done)?;
        Ok(done)
    })
    .await?;
    answer(&principal, done, "reset", &form)
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/customers", web::get().to(customers))
        .route("/customers/register", web::post().to(register))
        .route("/customers/tier", web::post().to(upgrade))
        .route("/customers/reset-pin", web::post().to(reset_pin));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_documents_are_normalised_and_bounded() {
        assert_eq!(id_document(" 12 345  678 ").as_deref(), Some("12 345 678"));
        assert_eq!(id_document("a1234567").as_deref(), Some("A1234567"));
        assert_eq!(id_document("12"), None);
        assert_eq!(id_document("1234<script>"), None);
        assert!(same_document(Some("A1234567"), "A1234567"));
        assert!(!same_document(None, "A1234567"));
    }
}
