//! The agent's own float and commission statements: paged on screen, or the whole (bounded)
//! history as CSV. Only the signed-in agent's own accounts can be asked for: the account is
//! named by role ("float", "commission"), never by id.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use mkoba_ledger::{AccountId, Money};

use crate::app::App;
use crate::portal::error::PortalError;
use crate::portal::session::{self, Principal, BOOKS};
use crate::portal::store;
use crate::portal::view::{self, Layout};
use crate::sms::notify::mask_name;
use crate::store::reads::{self, StatementLine};
use crate::store::{blocking, checkout, parties, rows, AnyConnection, StoreError};

#[derive(Template)]
#[template(path = "portal/statements.html")]
struct StatementPage {
    layout: Layout,
    which: &'static str,
    has_commission: bool,
    balance: String,
    lines: Vec<LineView>,
    older: Option<i64>,
}

struct LineView {
    when: String,
    code: String,
    kind: String,
    counterparty: String,
    amount: String,
    incoming: bool,
    memo: String,
}

#[derive(serde::Deserialize)]
struct Query {
    #[serde(default)]
    account: Option<String>,
    #[serde(default)]
    before: Option<String>,
}

/// The account asked for, among the principal's own.
fn account(
    principal: &Principal,
    which: Option<&str>,
) -> Result<(&'static str, AccountId), PortalError> {
    let agent = principal.agent()?;
    match which.unwrap_or("float") {
        "float" => Ok(("float", agent.float)),
        "commission" => agent
            .commission
            .map(|c| ("commission", c))
            .ok_or(PortalError::NotFound),
        _ => Err(PortalError::NotFound),
    }
}

/// One page of whole transactions, and where the next page starts (`before` is exclusive).
/// A transaction whose lines would straddle the page end is left whole for the next page.
fn page_of(
    conn: &mut AnyConnection,
    account: AccountId,
    before: Option<i64>,
    size: i64,
) -> Result<(Vec<StatementLine>, Option<i64>), StoreError> {
    let mut lines = reads::statement(conn, account.0, before, size.saturating_add(1))?;
    let limit = usize::try_from(size).unwrap_or(0);
    let Some(first_left_out) = lines.get(limit).map(|l| l.transaction_id) else {
        return Ok((lines, None));
    };
    lines.truncate(limit);
    let Some(last) = lines.last().map(|l| l.transaction_id) else {
        return Ok((lines, None));
    };
    if last != first_left_out {
        return Ok((lines, Some(last)));
    }
    let whole: Vec<StatementLine> = lines
        .iter()
        .filter(|l| l.transaction_id != last)
        .cloned()
        .collect();
    if whole.is_empty() {
        // One transaction has more lines than a page: show what fits and move past it.
        return Ok((lines, Some(last)));
    }
    Ok((whole, Some(last.saturating_add(1))))
}

fn counterparties(
    conn: &mut AnyConnection,
    lines: &[StatementLine],
) -> Result<HashMap<i64, String>, StoreError> {
    let ids: Vec<i64> = lines.iter().map(|l| l.counterparty_account_id).collect();
    let mut names: HashMap<i64, String> = store::wallet_owners(conn, &ids)?
        .into_iter()
        .map(|(id, (name, _))| (id, mask_name(&name)))
        .collect();
    for id in ids {
        if let std::collections::hash_map::Entry::Vacant(e) = names.entry(id) {
            let name = parties::owner_name(conn, id)?.unwrap_or_else(|| "mkoba".into());
            e.insert(name);
        }
    }
    Ok(names)
}

fn kind_label(kind: &str, leg: &str) -> String {
    let kind = kind.replace('_', " ");
    if leg == "principal" {
        kind
    } else {
        format!("{kind} ({leg})")
    }
}

async fn statement(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    query: web::Query<Query>,
) -> Result<HttpResponse, PortalError> {
    let principal = session::require(&app, &req, BOOKS).await?;
    let (which, account) = account(&principal, query.account.as_deref())?;
    let before = query
        .before
        .as_deref()
        .and_then(|b| b.parse::<i64>().ok())
        .filter(|b| *b > 0);
    let size = app.config.portal.page_size;
    let offset = app.config.ledger.rules.utc_offset_seconds;
    let app2 = Arc::clone(&app);
    let (balance, lines, older) = blocking(move || {
        let mut conn = checkout(&app2.pool)?;
        let (_, state) = reads::account(&mut conn, account.0)?
            .ok_or_else(|| StoreError::Corrupt("own account missing".into()))?;
        let (lines, older) = page_of(&mut conn, account, before, size)?;
        let names = counterparties(&mut conn, &lines)?;
        let views = lines
            .iter()
            .map(|l| {
                let currency = rows::currency(&l.currency)?;
                Ok(LineView {
                    when: view::when(l.created_at, offset),
                    code: l.code.clone(),
                    kind: kind_label(&l.kind, &l.leg),
                    counterparty: names
                        .get(&l.counterparty_account_id)
                        .cloned()
                        .unwrap_or_default(),
                    amount: Money::from_minor(l.amount_minor, currency).to_grouped_string(),
                    incoming: l.amount_minor > 0,
                    memo: l.memo.clone(),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok((
            view::money(state.balance_minor, state.currency),
            views,
            older,
        ))
    })
    .await?;
    let has_commission = principal.agent()?.commission.is_some();
    view::html(&StatementPage {
        layout: Layout::new(&principal, "Statements", "/portal/statements"),
        which,
        has_commission,
        balance,
        lines,
        older,
    })
}

/// A cell that a spreadsheet would read as a formula gets a leading quote (CSV injection).
fn cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

async fn statement_csv(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    query: web::Query<Query>,
) -> Result<HttpResponse, PortalError> {
    let principal = session::require(&app, &req, BOOKS).await?;
    let (which, account) = account(&principal, query.account.as_deref())?;
    let code = principal.agent()?.code.clone();
    let max = app.config.portal.csv_rows_max;
    let size = app.config.ledger.statement_page_max;
    let offset = app.config.ledger.rules.utc_offset_seconds;
    let app2 = Arc::clone(&app);
    let body = blocking(move || {
        let mut conn = checkout(&app2.pool)?;
        let mut out = csv::Writer::from_writer(Vec::new());
        let io = |e: csv::Error| StoreError::Io(e.to_string());
        out.write_record([
            "transaction_id",
            "code",
            "time",
            "kind",
            "phase",
            "leg",
            "counterparty",
            "amount",
            "currency",
            "memo",
        ])
        .map_err(io)?;
        let mut before = None;
        let mut written = 0_i64;
        loop {
            let (lines, older) = page_of(&mut conn, account, before, size)?;
            let names = counterparties(&mut conn, &lines)?;
            for l in &lines {
                if written >= max {
                    break;
                }
                let currency = rows::currency(&l.currency)?;
                out.write_record([
                    l.transaction_id.to_string(),
                    l.code.clone(),
                    view::when(l.created_at, offset),
                    l.kind.clone(),
                    l.phase.clone(),
                    l.leg.clone(),
                    cell(
                        names
                            .get(&l.counterparty_account_id)
                            .map_or("", String::as_str),
                    ),
                    Money::from_minor(l.amount_minor, currency).to_plain_string(),
                    l.currency.clone(),
                    cell(&l.memo),
                ])
                .map_err(io)?;
                written += 1;
            }
            match older {
                Some(next) if written < max => before = Some(next),
                _ => break,
            }
        }
        out.into_inner().map_err(|e| StoreError::Io(e.to_string()))
    })
    .await?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"statement-{code}-{which}.csv\""),
        ))
        .body(body))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/statements", web::get().to(statement))
        .route("/statements.csv", web::get().to(statement_csv));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_defused() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("AMINA N***"), "AMINA N***");
        assert_eq!(kind_label("float_transfer", "principal"), "float transfer");
        assert_eq!(kind_label("deposit", "commission"), "deposit (commission)");
    }
}
