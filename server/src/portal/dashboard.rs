//! Home: the agent's float and the day at a glance; for an operator admin, what waits for them.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use mkoba_ledger::TxnKind;

use crate::app::App;
use crate::portal::error::PortalError;
use crate::portal::session::{self, Role};
use crate::portal::store;
use crate::portal::view::{self, Layout, Notice};
use crate::store::{blocking, checkout, reads, StoreError};

#[derive(Template)]
#[template(path = "portal/dashboard.html")]
struct DashboardPage {
    layout: Layout,
    agent: Option<AgentFigures>,
    pending_float_requests: usize,
}

struct AgentFigures {
    float_available: String,
    float_balance: String,
    low_float: bool,
    low_float_threshold: String,
    commission_today: Option<String>,
    commission_month: Option<String>,
    cash_ins: String,
    cash_outs: String,
    waiting_withdrawals: usize,
    counter: bool,
}

#[derive(serde::Deserialize)]
struct Query {
    #[serde(default)]
    notice: Option<String>,
}

/// Messages a redirect may ask for by name; only these fixed texts are ever shown.
pub fn notice_for(code: Option<&str>) -> Option<view::Notice> {
    match code? {
        "password-changed" => {
            Notice::ok("Your password is changed. Other browsers were signed out.")
        }
        _ => None,
    }
}

async fn dashboard(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    query: web::Query<Query>,
) -> Result<HttpResponse, PortalError> {
    let principal = session::require(&app, &req, session::ANY).await?;
    let layout = Layout::new(&principal, "Home", "/portal/dashboard")
        .with(notice_for(query.notice.as_deref()));
    let app2 = Arc::clone(&app);
    let agent = principal.agent.clone();
    let counter = session::COUNTER.contains(&principal.role);
    let is_admin = principal.role == Role::OperatorAdmin;
    let (agent, pending_float_requests) = blocking(move || {
        let mut conn = checkout(&app2.pool)?;
        let pending = if is_admin {
            store::float_requests(&mut conn, None, 200)?
                .iter()
                .filter(|r| r.status == "pending")
                .count()
        } else {
            0
        };
        let Some(agent) = agent else {
            return Ok((None, pending));
        };
        let (_, float) = reads::account(&mut conn, agent.float.0)?
            .ok_or_else(|| StoreError::Corrupt("agent float missing".into()))?;
        let currency = float.currency;
        let offset = app2.config.ledger.rules.utc_offset_seconds;
        let (today, month) = view::day_and_month_start(app2.clock.now(), offset);
        let available = float.available_minor().unwrap_or(0);
        let (commission_today, commission_month) = match agent.commission {
            Some(account) => (
                Some(view::money(
                    store::credited_since(&mut conn, account, today)?,
                    currency,
                )),
                Some(view::money(
                    store::credited_since(&mut conn, account, month)?,
                    currency,
                )),
            ),
            None => (None, None),
        };
        let (ins, in_sum) =
            store::totals_since(&mut conn, agent.float, TxnKind::Deposit, true, today)?;
        let (outs, out_sum) =
            store::totals_since(&mut conn, agent.float, TxnKind::Withdrawal, false, today)?;
        let waiting = store::pending_withdrawals(&mut conn, agent.float, None, 200)?
            .iter()
            .filter(|p| !p.awaiting_customer)
            .count();
        let threshold = app2.config.sms.low_float_minor;
        Ok((
            Some(AgentFigures {
                float_available: view::money(available, currency),
                float_balance: view::money(float.balance_minor, currency),
                low_float: available < threshold,
                low_float_threshold: view::money(threshold, currency),
                commission_today,
                commission_month,
                cash_ins: format!("{ins} · {}", view::money(in_sum, currency)),
                cash_outs: format!("{outs} · {}", view::money(out_sum, currency)),
                waiting_withdrawals: waiting,
                counter,
            }),
            pending,
        ))
    })
    .await?;
    view::html(&DashboardPage {
        layout,
        agent,
        pending_float_requests,
    })
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/dashboard", web::get().to(dashboard));
}
