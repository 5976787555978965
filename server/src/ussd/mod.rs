//! The USSD channel's server side: one endpoint per gateway dialect, sessions in the database,
//! and the menu engine's effects carried out against the ledger.
//!
//! A gateway never receives a 4xx or 5xx: a malformed request, a bad token, a broken session or
//! a database outage all answer HTTP 200 with a well-formed END and a friendly text, and the
//! cause goes to the log.

pub mod effects;
pub mod merchant_requests;
pub mod session;

use std::sync::Arc;

use actix_web::{post, web, HttpRequest, HttpResponse};
use mkoba_ussd::catalog::{self, Language, Msg};
use mkoba_ussd::dialect::{self, Dialect, Rendered, UssdRequest, UssdResponse};
use mkoba_ussd::engine::DIALLED_INPUTS_MAX;
use mkoba_ussd::engine::{self, Dialled, EngineConfig, Event, Output, Profile, SessionState, Turn};

use crate::app::App;
use crate::phone::Msisdn;
use crate::sms::provider::twilio::constant_time_eq;
use crate::store::{blocking, checkout, StoreError};
use effects::Caller;
use session::SessionRow;

/// The engine's configuration, derived from mkoba's and checked at start-up.
pub fn engine_config(config: &crate::config::Config) -> Result<EngineConfig, String> {
    let mut engine = EngineConfig::new(config.ledger.default_currency);
    engine.default_language =
        Language::from_code(&config.sms.default_language).unwrap_or(Language::En);
    engine.invalid_inputs_max =
        u8::try_from(config.ussd.invalid_input_max).map_err(|e| e.to_string())?;
    engine.pin_length = u8::try_from(config.security.pin_length).map_err(|e| e.to_string())?;
    engine.cancel_window_seconds =
        u32::try_from(config.ussd.cancel_window_seconds).map_err(|e| e.to_string())?;
    engine.validate().map_err(|e| e.to_string())?;
    Ok(engine)
}

fn respond(rendered: Rendered) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(rendered.content_type)
        .body(rendered.body)
}

fn polite_end(language: Language) -> UssdResponse {
    UssdResponse {
        text: catalog::text(language, Msg::Unavailable, &[]),
        end: true,
    }
}

/// Whether the caller is the configured gateway: the token (query `token` or `X-Gateway-Token`),
/// and the address if an allowlist is set.
fn gateway_allowed(app: &App, req: &HttpRequest) -> bool {
    let presented = req
        .headers()
        .get("x-gateway-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| {
            web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
                .ok()
                .and_then(|q| q.get("token").cloned())
        })
        .unwrap_or_default();
    let token_ok = constant_time_eq(presented.as_bytes(), app.ussd_token.expose().as_bytes());
    let allowlist = &app.config.ussd.ip_allowlist;
    let ip_ok = allowlist.is_empty()
        || req
            .peer_addr()
            .is_some_and(|addr| allowlist.iter().any(|ip| ip.parse() == Ok(addr.ip())));
    token_ok && ip_ok
}

#[post("/ussd/{dialect}")]
async fn ussd_hop(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let Some(dialect) = dialect::by_name(&path) else {
        // An unknown dialect cannot be answered in its own format; plain END is the best guess.
        return HttpResponse::Ok()
            .content_type("text/plain")
            .body("END Service unavailable.");
    };
    if !gateway_allowed(&app, &req) {
        tracing::warn!(dialect = dialect.name(), peer = ?req.peer_addr(), "USSD request without a valid gateway token");
        return respond(dialect.render_fallback(&polite_end(app.ussd_engine.default_language)));
    }
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    respond(hop(&app, dialect, content_type.as_deref(), &body).await)
}

/// Africa's Talking's end-of-session notification: forget the session, answer quickly.
#[post("/ussd/africastalking/events")]
async fn africastalking_events(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    if !gateway_allowed(&app, &req) {
        return HttpResponse::Ok().finish();
    }
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    if let Some((_, id)) = fields
        .iter()
        .find(|(k, _)| k == "sessionId")
        .filter(|(_, v)| v.len() <= 80)
    {
        let _ = app.sessions.delete(format!("africastalking:{id}")).await;
    }
    HttpResponse::Ok().finish()
}

pub async fn hop(
    app: &Arc<App>,
    dialect: &'static dyn Dialect,
    content_type: Option<&str>,
    body: &[u8],
) -> Rendered {
    let default_language = app.ussd_engine.default_language;
    let request = match dialect.parse(content_type, body) {
        Ok(r) => r,
        Err(err) => {
            tracing::warn!(dialect = dialect.name(), error = %err, "unreadable USSD request");
            return dialect.render_fallback(&polite_end(default_language));
        }
    };
    match answer(app, dialect, &request).await {
        Ok(response) => dialect.render(&request, &response),
        Err(err) => {
            tracing::error!(dialect = dialect.name(), error = %err, "USSD hop failed");
            dialect.render(&request, &polite_end(default_language))
        }
    }
}

async fn answer(
    app: &Arc<App>,
    dialect: &'static dyn Dialect,
    request: &UssdRequest,
) -> Result<UssdResponse, StoreError> {
    let Ok(msisdn) = Msisdn::parse(&request.msisdn, app.country) else {
        tracing::warn!(
            dialect = dialect.name(),
            "USSD request from an invalid number"
        );
        return Ok(polite_end(app.ussd_engine.default_language));
    };
    let key = format!("{}:{}", dialect.name(), request.session_id);
    let now = app.clock.now().0;
    if request.released {
        app.sessions.delete(key).await?;
        return Ok(UssdResponse {
            text: String::new(),
            end: true,
        });
    }
    // One trip to the blocking pool: the stored session, and the caller's profile if the hop
    // starts a session.
    let (pool, lookup, number) = (app.pool.clone(), key.clone(), msisdn.as_str().to_owned());
    let (is_new, default_language) = (request.is_new, app.ussd_engine.default_language);
    let (stored, profile) = blocking(move || {
        let mut conn = checkout(&pool)?;
        // A session belongs to the number that opened it.
        let stored = session::load(&mut conn, &lookup, now)?.filter(|s| s.msisdn == number);
        let profile = match &stored {
            Some(_) if !is_new => None,
            _ => Some(load_profile(&mut conn, &number, default_language)?),
        };
        Ok((stored, profile))
    })
    .await?;
    let (turn, hops, dialled) = match (stored, profile) {
        (Some(row), None) => {
            let previous = Some(row.last_path.as_str());
            if request.repeats(previous) {
                return Ok(UssdResponse {
                    text: row.last_reply,
                    end: row.last_end,
                });
            }
            let input = request.latest_input(previous);
            let Ok(state) = SessionState::from_json(&row.state) else {
                tracing::error!("stored USSD state could not be read; ending the session");
                return Ok(polite_end(app.ussd_engine.default_language));
            };
            (
                engine::handle(state, Event::Input(input), &app.ussd_engine),
                row.hops,
                &[][..],
            )
        }
        (_, profile) => {
            let profile = profile.unwrap_or(Profile::Unregistered);
            let n = request.dialled.len().min(DIALLED_INPUTS_MAX);
            let dialled = request.dialled.get(..n).unwrap_or_default();
            let opened = mkoba_ledger::Timestamp(now).unix_seconds();
            (
                engine::start(&key, opened, &profile, &app.ussd_engine),
                0,
                dialled,
            )
        }
    };
    let caller = Caller {
        msisdn: msisdn.clone(),
        session_key: key.clone(),
    };
    let (mut state, mut text, mut end) = to_screen(app, &caller, turn).await;
    // A dial shortcut: each dialled input as if typed on the screen just reached.
    for input in dialled {
        match engine::dialled(state, input, &app.ussd_engine) {
            Dialled::Fed(turn) => (state, text, end) = to_screen(app, &caller, turn).await,
            Dialled::Stop(stopped) => {
                state = stopped;
                break;
            }
        }
    }
    let state = state
        .to_json()
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let ttl_us = app
        .config
        .ussd
        .session_ttl_seconds
        .saturating_mul(1_000_000);
    let row = SessionRow {
        id: key,
        msisdn: msisdn.as_str().to_owned(),
        state,
        last_path: request.path.clone().unwrap_or_default(),
        last_reply: text.clone(),
        last_end: end,
        hops: hops.saturating_add(1),
        updated_at: now,
        expires_at: now.saturating_add(ttl_us),
    };
    // Ended sessions are kept until they expire, so a gateway repeating the last hop gets the
    // same answer instead of a fresh menu.
    app.sessions.save(row).await?;
    Ok(UssdResponse { text, end })
}

/// Performs the effects a turn asks for until it reaches a screen, at most
/// `effects_per_hop_max` of them.
async fn to_screen(
    app: &Arc<App>,
    caller: &Caller,
    mut turn: Turn,
) -> (SessionState, String, bool) {
    let mut effects = 0_u8;
    loop {
        match turn.output {
            Output::Screen { text, end } => return (turn.state, text, end),
            Output::Effect(effect) => {
                effects = effects.saturating_add(1);
                let result = if effects > app.ussd_engine.effects_per_hop_max {
                    mkoba_ussd::engine::EffectResult::Unavailable
                } else {
                    effects::perform(app, caller, effect).await
                };
                turn = engine::handle(turn.state, Event::Result(result), &app.ussd_engine);
            }
        }
    }
}

fn load_profile(
    conn: &mut crate::store::AnyConnection,
    number: &str,
    default_language: Language,
) -> Result<Profile, StoreError> {
    use crate::store::schema::customers;
    use diesel::prelude::*;
    // One statement for what `parties::customer_profile` and `parties::pin_flags` read in two,
    // on the unique number (`get_result`: `first`'s bound LIMIT re-prepares on SQLite).
    let row: Option<(String, String, bool, bool)> = crate::with_conn!(conn, |c| customers::table
        .filter(customers::msisdn.eq(number))
        .select((
            customers::name,
            customers::language,
            customers::pin_locked,
            customers::pin_must_change,
        ))
        .get_result(c)
        .optional())?;
    Ok(match row {
        None => Profile::Unregistered,
        Some((name, language, pin_locked, must_change_pin)) => Profile::Registered {
            name,
            language: Language::from_code(&language).unwrap_or(default_language),
            pin_locked,
            must_change_pin,
        },
    })
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    // The events route first: it is more specific than `/ussd/{dialect}`.
    cfg.service(africastalking_events).service(ussd_hop);
}
