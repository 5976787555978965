//! `GET /accounts/{msisdn|walletid}/{identifier}/{balance|statemententries|accountname|status}`.
//!
//! What each caller may read:
//! - the operator: every customer, agent and merchant account (system accounts are nobody's);
//! - a merchant: its own account in full; of a customer only `status` (whether it can pay) —
//!   never the balance, statement or name, which answer `clientAuthorisationError`. Any other
//!   account is "not found".

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use mkoba_ledger::{Money, Timestamp};
use serde_json::{json, Value};

use crate::app::App;
use crate::gsma::parties::{authenticate, resolve, Caller, Holder, Owner, PartyView};
use crate::gsma::wire::status_of;
use crate::gsma::{date_time, json as answer, parse_date_time, Category, GsmaError};
use crate::store::chain;
use crate::store::rows::{AccountRow, PostingRow, TransactionRow};
use crate::store::{blocking, checkout, AnyConnection, StoreError};

fn holder(
    app: &App,
    conn: &mut AnyConnection,
    caller: &Caller,
    path: &(String, String),
) -> Result<Holder, GsmaError> {
    resolve(app, conn, caller, &path.0, &path.1)
}

/// The operator reads any account; a merchant only its own.
fn may_read(caller: &Caller, holder: &Holder) -> Result<(), GsmaError> {
    match caller {
        Caller::Operator => Ok(()),
        Caller::Merchant(_) if holder.is_own(caller) => Ok(()),
        Caller::Merchant(_) => Err(GsmaError::not_entitled(
            "a merchant may not read a customer's balance, statement or name",
        )),
    }
}

fn account_status(row: &AccountRow) -> Value {
    let available = row.status == "active" && !row.blacklisted;
    let sub = if row.blacklisted {
        "blacklisted"
    } else {
        row.status.as_str()
    };
    json!({
        "accountStatus": if available { "available" } else { "unavailable" },
        "subStatus": sub,
    })
}

fn money(minor: i64, currency: &str) -> Result<String, StoreError> {
    Ok(Money::from_minor(minor, crate::store::rows::currency(currency)?).to_plain_string())
}

type AccountPath = web::Path<(String, String)>;

/// Resolves the path, checks the caller may read, and answers with `read`.
async fn read_account(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    path: AccountPath,
    status_only: bool,
    read: fn(&App, &mut AnyConnection, &Holder) -> Result<Value, StoreError>,
) -> Result<HttpResponse, GsmaError> {
    let app: Arc<App> = Arc::clone(&app);
    let caller = authenticate(&app, &req, &[]).await?;
    let path = path.into_inner();
    let app2 = Arc::clone(&app);
    let body = blocking(move || {
        let mut conn = checkout(&app2.pool)?;
        let found = match holder(&app2, &mut conn, &caller, &path) {
            Ok(h) => h,
            // An unregistered number is an answer for status, not an error.
            Err(e)
                if status_only && path.0 == "msisdn" && e.category == Category::Identification =>
            {
                return Ok(Ok(json!({ "accountStatus": "unregistered" })));
            }
            Err(e) => return Ok(Err(e)),
        };
        if !status_only {
            if let Err(e) = may_read(&caller, &found) {
                return Ok(Err(e));
            }
        }
        read(&app2, &mut conn, &found).map(Ok)
    })
    .await??;
    Ok(answer(StatusCode::OK, app.clock.now(), &body))
}

pub async fn status(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    path: AccountPath,
) -> Result<HttpResponse, GsmaError> {
    read_account(app, req, path, true, |_, _, h| {
        Ok(account_status(&h.account))
    })
    .await
}

pub async fn balance(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    path: AccountPath,
) -> Result<HttpResponse, GsmaError> {
    read_account(app, req, path, false, |_, _, h| {
        let a = &h.account;
        let available = a.balance_minor.saturating_sub(a.pending_debits_minor);
        Ok(json!({
            "accountStatus": account_status(a).get("accountStatus").cloned(),
            "currentBalance": money(a.balance_minor, &a.currency)?,
            "availableBalance": money(available, &a.currency)?,
            "reservedBalance": money(a.pending_debits_minor, &a.currency)?,
            "unclearedBalance": money(a.pending_credits_minor, &a.currency)?,
            "currency": a.currency,
        }))
    })
    .await
}

pub async fn account_name(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    path: AccountPath,
) -> Result<HttpResponse, GsmaError> {
    read_account(app, req, path, false, |_, _, h| {
        let name = match &h.owner {
            Owner::Customer { name, .. } | Owner::Merchant { name } | Owner::Agent { name } => name,
        };
        let name: String = name.chars().take(256).collect();
        Ok(json!({ "name": { "fullName": name } }))
    })
    .await
}

/// `limit`, `offset`, `fromDateTime`, `toDateTime` (the spec's `transactionStatus` and
/// `displayType` filters are accepted and not applied).
struct Page {
    limit: i64,
    offset: i64,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
}

fn page(app: &App, query: &str) -> Result<Page, GsmaError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
        .map_err(|_| GsmaError::format("the query string is not valid"))?;
    let cfg = &app.config.gsma;
    let mut out = Page {
        limit: cfg.statement_limit_default,
        offset: 0,
        from: None,
        to: None,
    };
    for (key, value) in pairs {
        match key.as_str() {
            "limit" => {
                out.limit = value
                    .parse()
                    .ok()
                    .filter(|l| (1..=cfg.statement_limit_max).contains(l))
                    .ok_or_else(|| {
                        GsmaError::format(format!(
                            "limit must be between 1 and {}",
                            cfg.statement_limit_max
                        ))
                    })?;
            }
            "offset" => {
                out.offset = value
                    .parse()
                    .ok()
                    .filter(|o| (0..=cfg.statement_offset_max).contains(o))
                    .ok_or_else(|| {
                        GsmaError::new(
                            Category::Validation,
                            "invalidOffset",
                            "invalid_request",
                            format!("offset must be between 0 and {}", cfg.statement_offset_max),
                        )
                    })?;
            }
            "fromDateTime" | "toDateTime" => {
                let at = parse_date_time(&value).ok_or_else(|| {
                    GsmaError::format(format!("{key} must be an RFC 3339 date-time"))
                })?;
                if key == "fromDateTime" {
                    out.from = Some(at);
                } else {
                    out.to = Some(at);
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

fn entries(
    app: &App,
    conn: &mut AnyConnection,
    caller: &Caller,
    account: i64,
    page: &Page,
) -> Result<Vec<Value>, StoreError> {
    // Newest first along the account's chain (`store::chain`); entries newer than the window
    // are passed over, at most `SEEK_STEPS_MAX` transactions of them.
    let wanted = usize::try_from(page.offset.saturating_add(page.limit)).unwrap_or(0);
    let budget = page
        .offset
        .saturating_add(page.limit)
        .saturating_add(chain::SEEK_STEPS_MAX);
    let (from, to) = (
        page.from.map_or(i64::MIN, |t| t.0),
        page.to.map_or(i64::MAX, |t| t.0),
    );
    let start = chain::head(conn, account)?;
    let mut rows: Vec<(PostingRow, TransactionRow)> = Vec::new();
    chain::each_round(
        conn,
        account,
        start,
        page.from.map(|t| t.0),
        page.limit,
        budget,
        |conn, walked| {
            let ids: Vec<i64> = walked
                .iter()
                .filter(|t| (from..=to).contains(&t.created_at))
                .map(|t| t.id)
                .collect();
            let mut found = crate::store::reads::posted_on(conn, account, &ids)?;
            found.sort_by_key(|(p, _)| std::cmp::Reverse((p.transaction_id, p.seq)));
            rows.extend(found);
            Ok(rows.len() < wanted)
        },
    )?;
    let rows: Vec<(PostingRow, TransactionRow)> = rows
        .into_iter()
        .skip(usize::try_from(page.offset).unwrap_or(usize::MAX))
        .take(usize::try_from(page.limit).unwrap_or(0))
        .collect();
    let mut view = PartyView::new(app, caller.viewer());
    let mut out = Vec::with_capacity(rows.len());
    for (p, t) in rows {
        let display = if p.leg == "principal" {
            t.kind.clone()
        } else {
            p.leg.clone()
        };
        let mut entry = json!({
            "transactionReference": t.code,
            "transactionReceipt": t.code,
            "transactionStatus": status_of(&t.phase),
            "amount": money(p.amount_minor, &t.currency)?,
            "currency": t.currency,
            "debitParty": view.party(conn, p.debit_account_id)?,
            "creditParty": view.party(conn, p.credit_account_id)?,
            "displayType": display,
            "creationDate": date_time(Timestamp(t.created_at)),
        });
        let memo: String = t.memo.chars().take(160).collect();
        if let (Some(map), false) = (entry.as_object_mut(), memo.is_empty()) {
            map.insert("descriptionText".into(), json!(memo));
        }
        out.push(entry);
    }
    Ok(out)
}

pub async fn statement_entries(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    path: AccountPath,
) -> Result<HttpResponse, GsmaError> {
    let app: Arc<App> = Arc::clone(&app);
    let caller = authenticate(&app, &req, &[]).await?;
    let page = page(&app, req.query_string())?;
    let path = path.into_inner();
    let app2 = Arc::clone(&app);
    let lines = blocking(move || {
        let mut conn = checkout(&app2.pool)?;
        let found = match holder(&app2, &mut conn, &caller, &path) {
            Ok(h) => h,
            Err(e) => return Ok(Err(e)),
        };
        if let Err(e) = may_read(&caller, &found) {
            return Ok(Err(e));
        }
        entries(&app2, &mut conn, &caller, found.account.id, &page).map(Ok)
    })
    .await??;
    Ok(HttpResponse::Ok()
        .insert_header(("X-Date", date_time(app.clock.now())))
        .insert_header(("X-Records-Returned-Count", lines.len().to_string()))
        .json(lines))
}
