//! The operator's staff: create agents and merchants, freeze accounts, issue float against a
//! trust deposit (maker-checker: one admin records it, another approves, and only the approval
//! moves money), run reconciliation, read the audit log. Every action here is audited.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use mkoba_ledger::{AccountId, AccountStatus, Command, Money, Outcome, TxnId, TxnKind, TxnRequest};

use crate::app::App;
use crate::phone::Msisdn;
use crate::portal::error::{friendly, PortalError};
use crate::portal::session::{self, Principal, Role, ADMIN};
use crate::portal::store::{self, Audit, NewUser};
use crate::portal::view::{self, Layout, Notice};
use crate::secrets::random_token;
use crate::store::parties::{self, AgentRole, NewAgent};
use crate::store::{blocking, checkout, reads, reconcile, AnyConnection, StoreError};

const REQUESTS_LISTED_MAX: i64 = 50;
const AUDIT_LISTED_MAX: i64 = 200;

#[derive(Template)]
#[template(path = "portal/admin.html")]
struct AdminPage {
    layout: Layout,
    /// A new agent's one-time password, shown once: (login, password).
    created: Option<(String, String)>,
}

#[derive(Template)]
#[template(path = "portal/float_requests.html")]
struct FloatPage {
    layout: Layout,
    requests: Vec<RequestView>,
}

struct RequestView {
    id: i64,
    agent: String,
    amount: String,
    reference: String,
    status: String,
    recorded: String,
    recorded_by: String,
    pending: bool,
    mine: bool,
}

#[derive(Template)]
#[template(path = "portal/reconcile.html")]
struct ReconcilePage {
    layout: Layout,
    balanced: bool,
    currencies: Vec<CurrencyView>,
    mismatches: Vec<String>,
}

struct CurrencyView {
    currency: String,
    accounts: u64,
    by_kind: Vec<(String, String)>,
    balance_sum: String,
    issued: String,
    circulation: String,
}

#[derive(Template)]
#[template(path = "portal/audit.html")]
struct AuditPage {
    layout: Layout,
    rows: Vec<(String, String, String, String, String)>,
}

fn audit(
    app: &App,
    principal: &Principal,
    action: &str,
    detail: &str,
    outcome: &str,
) -> Result<(), StoreError> {
    store::audit(
        &mut *checkout(&app.pool)?,
        &Audit {
            user_id: Some(principal.user_id),
            login: &principal.login,
            action,
            detail,
            outcome,
        },
        app.clock.now().0,
    )
}

async fn audit_async(
    app: &Arc<App>,
    principal: &Principal,
    action: &'static str,
    detail: String,
    outcome: String,
) -> Result<(), PortalError> {
    let app = Arc::clone(app);
    let principal = principal.clone();
    blocking(move || audit(&app, &principal, action, &detail, &outcome)).await?;
    Ok(())
}

fn admin_view(
    principal: &Principal,
    status: StatusCode,
    notice: Option<Notice>,
    created: Option<(String, String)>,
) -> Result<HttpResponse, PortalError> {
    view::html_status(
        status,
        &AdminPage {
            layout: Layout::new(principal, "Admin", "/portal/admin").with(notice),
            created,
        },
    )
}

async fn admin(app: web::Data<Arc<App>>, req: HttpRequest) -> Result<HttpResponse, PortalError> {
    let principal = session::require(&app, &req, ADMIN).await?;
    admin_view(&principal, StatusCode::OK, None, None)
}

fn code_ok(code: &str) -> bool {
    (3..=20).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

async fn create_agent(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, PortalError> {
    let (principal, form) = session::require_post(&app, &req, &body, ADMIN).await?;
    let code = store::normalize_login(form.get("code"));
    let name = form.get("name").to_owned();
    let parent = store::normalize_login(form.get("parent"));
    let role = match form.get("role") {
        "agent" => Some(AgentRole::Agent),
        "super_agent" => Some(AgentRole::SuperAgent),
        _ => None,
    };
    let msisdn = Msisdn::parse(form.get("phone"), app.country).ok();
    let app2 = Arc::clone(&app);
    let p2 = principal.clone();
    let result: Result<(String, String), String> = blocking(move || {
        let refused = |t: &str| Ok(Err(t.to_owned()));
        if !code_ok(&code) {
            return refused("The agent code must be 3 to 20 capital letters and digits.");
        }
        if name.is_empty() || name.chars().count() > 100 {
            return refused("Enter the agent's business name (up to 100 characters).");
        }
        let Some(msisdn) = msisdn else {
            return refused("Enter the agent's phone number.");
        };
        let Some(role) = role else {
            return refused("Choose agent or super-agent.");
        };
        let mut conn = checkout(&app2.pool)?;
        if store::agent_by_code(&mut conn, &code)?.is_some()
            || store::user_by_login(&mut conn, &code)?.is_some()
        {
            return refused("That code is taken.");
        }
        let parent_id =
            if parent.is_empty() {
                None
            } else {
                match store::agent_by_code(&mut conn, &parent)? {
                    Some(p) if role == AgentRole::Agent && is_super_agent(&mut conn, p.id)? => {
                        Some(p.id)
                    }
                    _ => return refused(
                        "The parent must be an existing super-agent (and only agents have one).",
                    ),
                }
            };
        let password = random_token(12);
        let hash = app2
            .hasher
            .hash(&password)
            .map_err(|e| StoreError::Io(e.to_string()))?;
        let created = parties::create_agent(
            &mut conn,
            &NewAgent {
                code: &code,
                name: &name,
                role,
                parent_agent_id: parent_id,
                msisdn: msisdn.as_str(),
                currency: app2.config.ledger.default_currency,
                password_hash: &hash,
            },
        )?;
        let user_role = match role {
            AgentRole::Agent => Role::AgentOwner,
            AgentRole::SuperAgent => Role::SuperAgent,
        };
        store::insert_user(
            &mut conn,
            &NewUser {
                login: &code,
                name: &name,
                role: user_role.as_str(),
                agent_id: Some(created.agent_id),
                password_hash: &hash,
                must_change_password: true,
                now: app2.clock.now().0,
            },
        )?;
        audit(
            &app2,
            &p2,
            "create_agent",
            &format!("{code} ({})", role.as_str()),
            "ok",
        )?;
        Ok(Ok((code, password)))
    })
    .await?;
    match result {
        Ok(created) => admin_view(
            &principal,
            StatusCode::OK,
            Notice::ok("Agent created with a float account. Give the owner the one-time password below; they choose their own at first sign-in."),
            Some(created),
        ),
        Err(text) => {
            audit_async(&app, &principal, "create_agent", form.get("code").chars().take(20).collect(), format!("refused: {text}")).await?;
            admin_view(&principal, StatusCode::UNPROCESSABLE_ENTITY, Notice::problem(text), None)
        }
    }
}

fn is_super_agent(conn: &mut AnyConnection, id: i64) -> Result<bool, StoreError> {
    use crate::store::schema::agents;
    use diesel::prelude::*;
    let role: String = crate::with_conn!(conn, |c| agents::table
        .find(id)
        .select(agents::role)
        .first(c))?;
    Ok(role == AgentRole::SuperAgent.as_str())
}

async fn create_merchant(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, PortalError> {
    let (principal, form) = session::require_post(&app, &req, &body, ADMIN).await?;
    let code = store::normalize_login(form.get("code"));
    let name = form.get("name").to_owned();
    let app2 = Arc::clone(&app);
    let p2 = principal.clone();
    let result: Result<String, String> = blocking(move || {
        let outcome = if !code_ok(&code) {
            Err("The merchant code must be 3 to 20 capital letters and digits.".to_owned())
        } else if name.is_empty() || name.chars().count() > 100 {
            Err("Enter the merchant's name (up to 100 characters).".to_owned())
        } else {
            let mut conn = checkout(&app2.pool)?;
            if parties::merchant_by_code(&mut conn, &code)?.is_some() {
                Err("That merchant code is taken.".to_owned())
            } else {
                let created = parties::create_merchant(
                    &mut conn,
                    &code,
                    &name,
                    app2.config.ledger.default_currency,
                )?;
                Ok(format!(
                    "Merchant {code} created (account {}).",
                    created.account.0
                ))
            }
        };
        let detail = code.clone();
        match &outcome {
            Ok(_) => audit(&app2, &p2, "create_merchant", &detail, "ok")?,
            Err(t) => audit(
                &app2,
                &p2,
                "create_merchant",
                &detail,
                &format!("refused: {t}"),
            )?,
        }
        Ok(outcome)
    })
    .await?;
    match result {
        Ok(text) => admin_view(&principal, StatusCode::OK, Notice::ok(text), None),
        Err(text) => admin_view(
            &principal,
            StatusCode::UNPROCESSABLE_ENTITY,
            Notice::problem(text),
            None,
        ),
    }
}

/// Finds the account an admin names: an account id, a customer's number, an agent's code (its
/// float) or a merchant's code.
fn resolve_account(
    app: &App,
    conn: &mut AnyConnection,
    target: &str,
) -> Result<Option<AccountId>, StoreError> {
    // Account ids never start with 0 and are short; national phone numbers start with 0.
    if !target.is_empty()
        && target.len() <= 9
        && !target.starts_with('0')
        && target.bytes().all(|b| b.is_ascii_digit())
    {
        return Ok(target.parse::<i64>().ok().map(AccountId));
    }
    if let Ok(msisdn) = Msisdn::parse(target, app.country) {
        return Ok(parties::customer_by_msisdn(conn, msisdn.as_str())?.map(|(_, _, w)| w));
    }
    let code = store::normalize_login(target);
    if let Some(agent) = store::agent_by_code(conn, &code)? {
        return Ok(Some(agent.float));
    }
    Ok(parties::merchant_by_code(conn, &code)?.map(|(_, a)| a))
}

async fn account_status(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, PortalError> {
    let (principal, form) = session::require_post(&app, &req, &body, ADMIN).await?;
    let status = match form.get("action") {
        "freeze" => Some(AccountStatus::Frozen),
        "unfreeze" => Some(AccountStatus::Active),
        _ => None,
    };
    let target = form.get("account").chars().take(32).collect::<String>();
    let app2 = Arc::clone(&app);
    let p2 = principal.clone();
    let result: Result<String, String> = blocking(move || {
        let outcome = (|| {
            let Some(status) = status else {
                return Ok(Err("Choose freeze or unfreeze.".to_owned()));
            };
            let mut conn = checkout(&app2.pool)?;
            let Some(account) = resolve_account(&app2, &mut conn, &target)? else {
                return Ok(Err("No account matches that id, number or code.".to_owned()));
            };
            let Some((row, _)) = reads::account(&mut conn, account.0)? else {
                return Ok(Err("No account matches that id, number or code.".to_owned()));
            };
            if row.owner_type == "operator" {
                return Ok(Err(
                    "The operator's own accounts cannot be frozen here.".to_owned()
                ));
            }
            parties::set_status(&mut conn, account, status)?;
            Ok::<_, StoreError>(Ok(format!(
                "Account {} ({}) is now {status}.",
                row.id, row.label
            )))
        })()?;
        let detail = format!("{target} {}", status.map_or("?", |s| s.as_str()));
        match &outcome {
            Ok(_) => audit(&app2, &p2, "set_account_status", &detail, "ok")?,
            Err(t) => audit(
                &app2,
                &p2,
                "set_account_status",
                &detail,
                &format!("refused: {t}"),
            )?,
        }
        Ok(outcome)
    })
    .await?;
    match result {
        Ok(text) => admin_view(&principal, StatusCode::OK, Notice::ok(text), None),
        Err(text) => admin_view(
            &principal,
            StatusCode::UNPROCESSABLE_ENTITY,
            Notice::problem(text),
            None,
        ),
    }
}

async fn float_view(
    app: &Arc<App>,
    principal: &Principal,
    status: StatusCode,
    notice: Option<Notice>,
) -> Result<HttpResponse, PortalError> {
    let app2 = Arc::clone(app);
    let me = principal.user_id;
    let requests = blocking(move || {
        let mut conn = checkout(&app2.pool)?;
        let requests = store::float_requests(&mut conn, None, REQUESTS_LISTED_MAX)?;
        let ids: Vec<i64> = requests.iter().map(|r| r.recorded_by).collect();
        let logins = store::logins(&mut conn, &ids)?;
        let offset = app2.config.ledger.rules.utc_offset_seconds;
        Ok(requests
            .into_iter()
            .map(|r| RequestView {
                id: r.id,
                agent: r.agent_code,
                amount: view::money_text(r.amount_minor, &r.currency),
                reference: r.trust_reference,
                pending: r.status == "pending",
                status: r.status,
                recorded: view::when(r.recorded_at, offset),
                recorded_by: logins.get(&r.recorded_by).cloned().unwrap_or_default(),
                mine: r.recorded_by == me,
            })
            .collect::<Vec<_>>())
    })
    .await?;
    view::html_status(
        status,
        &FloatPage {
            layout: Layout::new(principal, "Float issuance", "/portal/admin/float").with(notice),
            requests,
        },
    )
}

async fn float_page(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
) -> Result<HttpResponse, PortalError> {
    let principal = session::require(&app, &req, ADMIN).await?;
    float_view(&app, &principal, StatusCode::OK, None).await
}

fn reference_ok(text: &str) -> bool {
    (3..=40).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'/' | b'.'))
}

/// The maker: records a trust deposit to be issued as float. Nothing moves yet.
async fn record_float(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, PortalError> {
    let (principal, form) = session::require_post(&app, &req, &body, ADMIN).await?;
    let code = store::normalize_login(form.get("agent"));
    let reference = form.get("reference").to_owned();
    let currency = app.config.ledger.default_currency;
    let amount = crate::http::ledger_api::parse_amount(
        &app,
        form.get("amount"),
        currency.code(),
        Some(TxnKind::FloatIssuance),
    );
    let app2 = Arc::clone(&app);
    let p2 = principal.clone();
    let result: Result<String, String> = blocking(move || {
        let outcome = (|| {
            let amount = match amount {
                Ok(a) => a,
                Err(r) => return Ok(Err(friendly(r).to_owned())),
            };
            if !reference_ok(&reference) {
                return Ok(Err("The trust deposit reference must be 3 to 40 letters, digits, - _ / or .".to_owned()));
            }
            let mut conn = checkout(&app2.pool)?;
            let Some(agent) = store::agent_by_code(&mut conn, &code)? else {
                return Ok(Err("No agent has that code.".to_owned()));
            };
            let now = app2.clock.now().0;
            match store::record_float_request(&mut conn, agent.id, amount.minor(), amount.currency().code(), &reference, p2.user_id, now)? {
                Some(_) => Ok::<_, StoreError>(Ok(format!("Recorded {amount} for {code} against {reference}. Another admin must approve it."))),
                None => Ok(Err("That trust deposit reference is already recorded.".to_owned())),
            }
        })()?;
        let detail = format!("{code} {reference}");
        match &outcome {
            Ok(_) => audit(&app2, &p2, "record_float", &detail, "ok")?,
            Err(t) => audit(&app2, &p2, "record_float", &detail, &format!("refused: {t}"))?,
        }
        Ok(outcome)
    })
    .await?;
    match result {
        Ok(text) => float_view(&app, &principal, StatusCode::OK, Notice::ok(text)).await,
        Err(text) => {
            float_view(
                &app,
                &principal,
                StatusCode::UNPROCESSABLE_ENTITY,
                Notice::problem(text),
            )
            .await
        }
    }
}

fn request_id(req: &HttpRequest) -> i64 {
    req.match_info()
        .get("id")
        .and_then(|t| t.parse::<i64>().ok())
        .unwrap_or(0)
}

async fn refuse_approval(
    app: &Arc<App>,
    principal: &Principal,
    id: i64,
    text: String,
) -> Result<HttpResponse, PortalError> {
    audit_async(
        app,
        principal,
        "approve_float",
        id.to_string(),
        format!("refused: {text}"),
    )
    .await?;
    float_view(
        app,
        principal,
        StatusCode::UNPROCESSABLE_ENTITY,
        Notice::problem(text),
    )
    .await
}

/// The checker: a second admin approves, and only then is the float issued, keyed by the trust
/// reference exactly as `mkoba admin issue-float` keys it (one deposit, one issuance, whichever
/// tool is used).
async fn approve_float(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, PortalError> {
    let (principal, _) = session::require_post(&app, &req, &body, ADMIN).await?;
    let id = request_id(&req);
    let pool = app.pool.clone();
    let found =
        blocking(move || store::float_requests(&mut *checkout(&pool)?, Some(id), 1)).await?;
    let Some(request) = found.into_iter().next() else {
        return refuse_approval(&app, &principal, id, "No such request.".into()).await;
    };
    if request.status != "pending" {
        return refuse_approval(
            &app,
            &principal,
            id,
            format!("That request is already {}.", request.status),
        )
        .await;
    }
    if request.recorded_by == principal.user_id {
        return refuse_approval(
            &app,
            &principal,
            id,
            "You recorded this request: a second admin must approve it.".into(),
        )
        .await;
    }
    let currency = crate::store::rows::currency(&request.currency)?;
    let Some(issuance) = app.system.get(&currency).map(|s| s.issuance) else {
        return refuse_approval(
            &app,
            &principal,
            id,
            friendly(mkoba_ledger::Rejection::CurrencyNotEnabled).into(),
        )
        .await;
    };
    let command = Command::Submit(TxnRequest {
        idempotency_key: format!("float-issuance:{}", request.trust_reference),
        kind: TxnKind::FloatIssuance,
        debit: issuance,
        credit: request.agent_float,
        amount: Money::from_minor(request.amount_minor, currency),
        memo: format!("trust deposit {}", request.trust_reference),
        metadata: String::new(),
        pending_expiry_seconds: None,
    });
    let receipt = match app.writer.submit(command).await? {
        Outcome::Accepted(r) | Outcome::Replayed(r) => r,
        Outcome::Rejected(r) => {
            return refuse_approval(&app, &principal, id, friendly(r).into()).await
        }
    };
    let app2 = Arc::clone(&app);
    let p2 = principal.clone();
    let txn: TxnId = receipt.txn_id;
    let code = receipt.code.clone();
    let code2 = code.clone();
    let decided = blocking(move || {
        let mut conn = checkout(&app2.pool)?;
        let decided = store::decide_float_request(
            &mut conn,
            id,
            "approved",
            p2.user_id,
            Some(txn.0),
            app2.clock.now().0,
        )?;
        audit(&app2, &p2, "approve_float", &format!("{id} {code2}"), "ok")?;
        Ok(decided)
    })
    .await?;
    let text = if decided {
        format!(
            "Approved: {} issued to {} ({}).",
            Money::from_minor(request.amount_minor, currency),
            request.agent_code,
            code
        )
    } else {
        "Another admin decided this request at the same moment; the float was issued once."
            .to_owned()
    };
    float_view(&app, &principal, StatusCode::OK, Notice::ok(text)).await
}

async fn reject_float(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, PortalError> {
    let (principal, _) = session::require_post(&app, &req, &body, ADMIN).await?;
    let id = request_id(&req);
    let app2 = Arc::clone(&app);
    let p2 = principal.clone();
    let result: Result<String, String> = blocking(move || {
        let mut conn = checkout(&app2.pool)?;
        let outcome = match store::float_requests(&mut conn, Some(id), 1)?
            .into_iter()
            .next()
        {
            None => Err("No such request.".to_owned()),
            Some(r) if r.recorded_by == p2.user_id => {
                Err("You recorded this request: a second admin must decide it.".to_owned())
            }
            Some(r) if r.status != "pending" => {
                Err(format!("That request is already {}.", r.status))
            }
            Some(_) => {
                if store::decide_float_request(
                    &mut conn,
                    id,
                    "rejected",
                    p2.user_id,
                    None,
                    app2.clock.now().0,
                )? {
                    Ok("Request rejected; no float was issued.".to_owned())
                } else {
                    Err("Another admin decided this request first.".to_owned())
                }
            }
        };
        match &outcome {
            Ok(_) => audit(&app2, &p2, "reject_float", &id.to_string(), "ok")?,
            Err(t) => audit(
                &app2,
                &p2,
                "reject_float",
                &id.to_string(),
                &format!("refused: {t}"),
            )?,
        }
        Ok(outcome)
    })
    .await?;
    match result {
        Ok(text) => float_view(&app, &principal, StatusCode::OK, Notice::ok(text)).await,
        Err(text) => {
            float_view(
                &app,
                &principal,
                StatusCode::UNPROCESSABLE_ENTITY,
                Notice::problem(text),
            )
            .await
        }
    }
}

async fn reconcile_page(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
) -> Result<HttpResponse, PortalError> {
    let principal = session::require(&app, &req, ADMIN).await?;
    let app2 = Arc::clone(&app);
    let p2 = principal.clone();
    let report = blocking(move || {
        let report = reconcile::run(&mut *checkout(&app2.pool)?)?;
        let outcome = if report.balanced() {
            "balanced"
        } else {
            "MISMATCH"
        };
        audit(&app2, &p2, "reconcile", "", outcome)?;
        Ok(report)
    })
    .await?;
    let show = |v: i128, c: mkoba_ledger::Currency| {
        i64::try_from(v).map_or_else(|_| format!("{c} {v} (minor units)"), |m| view::money(m, c))
    };
    let currencies = report
        .currencies
        .iter()
        .map(|(c, t)| CurrencyView {
            currency: c.code().to_owned(),
            accounts: t.accounts,
            by_kind: t
                .by_kind_minor
                .iter()
                .map(|(k, v)| (k.as_str().replace('_', " "), show(*v, *c)))
                .collect(),
            balance_sum: show(t.balance_sum_minor, *c),
            issued: show(t.issued_minor, *c),
            circulation: show(t.emoney_in_circulation_minor, *c),
        })
        .collect();
    let balanced = report.balanced();
    view::html(&ReconcilePage {
        layout: Layout::new(&principal, "Reconciliation", "/portal/admin/reconcile"),
        balanced,
        currencies,
        mismatches: report.mismatches,
    })
}

async fn audit_page(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
) -> Result<HttpResponse, PortalError> {
    let principal = session::require(&app, &req, ADMIN).await?;
    let pool = app.pool.clone();
    let rows =
        blocking(move || store::recent_audit(&mut *checkout(&pool)?, AUDIT_LISTED_MAX)).await?;
    let offset = app.config.ledger.rules.utc_offset_seconds;
    view::html(&AuditPage {
        layout: Layout::new(&principal, "Audit log", "/portal/admin/audit"),
        rows: rows
            .into_iter()
            .map(|(_, at, login, action, detail, outcome)| {
                (view::when(at, offset), login, action, detail, outcome)
            })
            .collect(),
    })
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin", web::get().to(admin))
        .route("/admin/agents", web::post().to(create_agent))
        .route("/admin/merchants", web::post().to(create_merchant))
        .route("/admin/accounts/status", web::post().to(account_status))
        .route("/admin/float", web::get().to(float_page))
        .route("/admin/float", web::post().to(record_float))
        .route("/admin/float/{id}/approve", web::post().to(approve_float))
        .route("/admin/float/{id}/reject", web::post().to(reject_float))
        .route("/admin/reconcile", web::get().to(reconcile_page))
        .route("/admin/audit", web::get().to(audit_page));
}
