//! A super-agent's agents: their floats, and float moved to or from them. Only the super-agent's
//! own agents (those whose parent it is) are listed or accepted.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use mkoba_ledger::{Command, Outcome, TxnKind, TxnRequest};

use crate::app::App;
use crate::portal::cash::{receipt_page, ConfirmPage};
use crate::portal::error::{friendly, PortalError};
use crate::portal::form::{new_form_token, valid_form_token, Form};
use crate::portal::session::{self, AgentInfo, Principal, Role};
use crate::portal::store::{self, Audit};
use crate::portal::view::{self, Layout, Notice};
use crate::store::{blocking, checkout, reads, StoreError};

const SUPER: &[Role] = &[Role::SuperAgent];

#[derive(Template)]
#[template(path = "portal/agents.html")]
struct AgentsPage {
    layout: Layout,
    own_float: String,
    agents: Vec<AgentRow>,
    amount: String,
}

struct AgentRow {
    code: String,
    name: String,
    available: String,
    low: bool,
}

async fn agents_view(
    app: &Arc<App>,
    principal: &Principal,
    status: StatusCode,
    form: &Form,
    notice: Option<Notice>,
) -> Result<HttpResponse, PortalError> {
    let me = principal.agent()?.clone();
    let app2 = Arc::clone(app);
    let (own_float, agents) = blocking(move || {
        let mut conn = checkout(&app2.pool)?;
        let threshold = app2.config.sms.low_float_minor;
        let mut rows = Vec::new();
        let balance = |conn: &mut crate::store::AnyConnection, a: &AgentInfo| {
            reads::account(conn, a.float.0)?
                .map(|(_, s)| (s.available_minor().unwrap_or(0), s.currency))
                .ok_or_else(|| StoreError::Corrupt("agent float missing".into()))
        };
        let (own, currency) = balance(&mut conn, &me)?;
        for agent in store::child_agents(&mut conn, me.id)? {
            let (available, currency) = balance(&mut conn, &agent)?;
            rows.push(AgentRow {
                code: agent.code,
                name: agent.name,
                available: view::money(available, currency),
                low: available < threshold,
            });
        }
        Ok((view::money(own, currency), rows))
    })
    .await?;
    view::html_status(
        status,
        &AgentsPage {
            layout: Layout::new(principal, "My agents", "/portal/agents").with(notice),
            own_float,
            agents,
            amount: form.get("amount").chars().take(32).collect(),
        },
    )
}

async fn agents(app: web::Data<Arc<App>>, req: HttpRequest) -> Result<HttpResponse, PortalError> {
    let principal = session::require(&app, &req, SUPER).await?;
    agents_view(&app, &principal, StatusCode::OK, &Form::default(), None).await
}

/// The move a form asks for: (debit float, credit float, the child agent, "to"|"from").
async fn planned(
    app: &Arc<App>,
    principal: &Principal,
    form: &Form,
) -> Result<Result<(AgentInfo, bool, mkoba_ledger::Money), String>, PortalError> {
    let me = principal.agent()?.clone();
    let to_agent = match form.get("direction") {
        "to" => true,
        "from" => false,
        _ => {
            return Ok(Err(
                "Choose whether float goes to the agent or comes back from it.".into(),
            ))
        }
    };
    let currency = app.config.ledger.default_currency;
    let amount = match crate::http::ledger_api::parse_amount(
        app,
        form.get("amount"),
        currency.code(),
        Some(TxnKind::FloatTransfer),
    ) {
        Ok(m) => m,
        Err(r) => return Ok(Err(friendly(r).into())),
    };
    let code = store::normalize_login(form.get("agent"));
    let pool = app.pool.clone();
    let children = blocking(move || store::child_agents(&mut *checkout(&pool)?, me.id)).await?;
    let Some(agent) = children.into_iter().find(|a| a.code == code) else {
        return Ok(Err("That agent is not one of yours.".into()));
    };
    Ok(Ok((agent, to_agent, amount)))
}

async fn move_check(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, PortalError> {
    let (principal, form) = session::require_post(&app, &req, &body, SUPER).await?;
    let (agent, to_agent, amount) = match planned(&app, &principal, &form).await? {
        Ok(p) => p,
        Err(text) => {
            return agents_view(
                &app,
                &principal,
                StatusCode::UNPROCESSABLE_ENTITY,
                &form,
                Notice::problem(text),
            )
            .await
        }
    };
    let facts = vec![
        (
            "Move",
            if to_agent {
                format!("{amount} from your float to {} {}", agent.code, agent.name)
            } else {
                format!(
                    "{amount} from {} {} back to your float",
                    agent.code, agent.name
                )
            },
        ),
        (
            "Check",
            "Settle the cash with the agent before you confirm.".into(),
        ),
    ];
    view::html(&ConfirmPage {
        layout: Layout::new(&principal, "Confirm float move", "/portal/agents"),
        facts,
        action: "/portal/agents/move",
        hidden: vec![
            ("agent", agent.code.clone()),
            ("direction", if to_agent { "to" } else { "from" }.into()),
            ("amount", amount.to_plain_string()),
            ("token", new_form_token(app.clock.now())),
        ],
        button: "Move float",
        back: "/portal/agents",
    })
}

async fn move_float(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, PortalError> {
    let (principal, form) = session::require_post(&app, &req, &body, SUPER).await?;
    let token = form.get("token");
    if !valid_form_token(token) {
        return agents_view(
            &app,
            &principal,
            StatusCode::UNPROCESSABLE_ENTITY,
            &form,
            Notice::problem("This form is not valid any more. Start again."),
        )
        .await;
    }
    let (agent, to_agent, amount) = match planned(&app, &principal, &form).await? {
        Ok(p) => p,
        Err(text) => {
            return agents_view(
                &app,
                &principal,
                StatusCode::UNPROCESSABLE_ENTITY,
                &form,
                Notice::problem(text),
            )
            .await
        }
    };
    let me = principal.agent()?.clone();
    let (debit, credit) = if to_agent {
        (me.float, agent.float)
    } else {
        (agent.float, me.float)
    };
    let command = Command::Submit(TxnRequest {
        idempotency_key: format!("portal-float:{}:{token}", principal.user_id),
        kind: TxnKind::FloatTransfer,
        debit,
        credit,
        amount,
        memo: format!(
            "{} {} {}",
            me.code,
            if to_agent { "to" } else { "from" },
            agent.code
        ),
        metadata: serde_json::json!({ "channel": "portal", "login": principal.login }).to_string(),
        pending_expiry_seconds: None,
    });
    let outcome = app.writer.submit(command).await?;
    let detail = format!(
        "{} {} {} {}",
        amount,
        if to_agent { "to" } else { "from" },
        agent.code,
        token
    );
    let result = match &outcome {
        Outcome::Accepted(_) => "ok".to_owned(),
        Outcome::Replayed(_) => "ok (replayed)".to_owned(),
        Outcome::Rejected(r) => format!("refused: {}", r.name()),
    };
    let app2 = Arc::clone(&app);
    let (uid, login) = (principal.user_id, principal.login.clone());
    blocking(move || {
        store::audit(
            &mut *checkout(&app2.pool)?,
            &Audit {
                user_id: Some(uid),
                login: &login,
                action: "move_float",
                detail: &detail,
                outcome: &result,
            },
            app2.clock.now().0,
        )
    })
    .await?;
    match outcome {
        Outcome::Accepted(r) | Outcome::Replayed(r) => receipt_page(
            &principal,
            "Float moved",
            "/portal/agents",
            &r,
            vec![
                ("Amount", r.amount.to_string()),
                ("Agent", format!("{} {}", agent.code, agent.name)),
                (
                    "Direction",
                    if to_agent {
                        "to the agent"
                    } else {
                        "back to you"
                    }
                    .into(),
                ),
            ],
            Notice::ok("Float moved."),
        ),
        Outcome::Rejected(r) => {
            agents_view(
                &app,
                &principal,
                StatusCode::UNPROCESSABLE_ENTITY,
                &form,
                Notice::problem(friendly(r)),
            )
            .await
        }
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/agents", web::get().to(agents))
        .route("/agents/check", web::post().to(move_check))
        .route("/agents/move", web::post().to(move_float));
}
