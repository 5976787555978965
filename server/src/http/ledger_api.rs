//! The operator's ledger API under `/ops/v1`: post transactions, resolve pending transfers,
//! reverse, and read accounts and statements. Bearer-token authenticated. Channels (USSD, the
//! agent portal, the merchant API) build on the same writer with their own authentication.

use std::sync::Arc;

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use mkoba_ledger::{
    AccountId, Command, Currency, Money, Outcome, Receipt, Rejection, TxnId, TxnKind, TxnRequest,
    VoidReason,
};
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::http::error::ApiError;
use crate::store::{checkout, reads};

/// Constant-time comparison of the bearer token, so timing reveals nothing about it.
pub(crate) fn authorize(app: &App, req: &HttpRequest) -> Result<(), ApiError> {
    let presented = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let expected = app.admin_token.expose().as_bytes();
    let presented = presented.as_bytes();
    let same_length = presented.len() == expected.len();
    let difference = presented
        .iter()
        .zip(expected)
        .fold(0_u8, |acc, (a, b)| acc | (a ^ b));
    if same_length && difference == 0 && !expected.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Unauthorized)
    }
}

#[derive(Serialize)]
pub struct ReceiptBody {
    pub transaction_id: i64,
    pub code: String,
    pub kind: TxnKind,
    pub phase: mkoba_ledger::Phase,
    pub amount: String,
    pub currency: Currency,
    pub fee: String,
    pub commission: String,
    pub debit_account_id: i64,
    pub credit_account_id: i64,
    pub related_transaction_id: Option<i64>,
    pub created_at_us: i64,
    pub expires_at_us: Option<i64>,
    pub replayed: bool,
}

impl ReceiptBody {
    pub fn new(r: &Receipt, replayed: bool) -> ReceiptBody {
        let currency = r.amount.currency();
        ReceiptBody {
            transaction_id: r.txn_id.0,
            code: r.code.clone(),
            kind: r.kind,
            phase: r.phase,
            amount: r.amount.to_plain_string(),
            currency,
            fee: Money::from_minor(r.fee_minor, currency).to_plain_string(),
            commission: Money::from_minor(r.commission_minor, currency).to_plain_string(),
            debit_account_id: r.debit.0,
            credit_account_id: r.credit.0,
            related_transaction_id: r.related.map(|t| t.0),
            created_at_us: r.created_at.0,
            expires_at_us: r.expires_at.map(|t| t.0),
            replayed,
        }
    }
}

/// Answers an outcome: 201 for a new transaction, 200 for a replay, the rejection otherwise.
fn answer(outcome: Outcome) -> Result<HttpResponse, ApiError> {
    match outcome {
        Outcome::Accepted(r) => Ok(HttpResponse::Created().json(ReceiptBody::new(&r, false))),
        Outcome::Replayed(r) => Ok(HttpResponse::Ok().json(ReceiptBody::new(&r, true))),
        Outcome::Rejected(rejection) => Err(ApiError::Rejected(rejection)),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTransaction {
    pub idempotency_key: String,
    pub kind: TxnKind,
    pub debit_account_id: i64,
    pub credit_account_id: i64,
    /// Major units as a decimal string, e.g. `"12.50"`.
    pub amount: String,
    pub currency: String,
    #[serde(default)]
    pub memo: String,
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
    #[serde(default)]
    pub pending_expiry_seconds: Option<i64>,
}

/// Parses amount text for `currency`; every failure is a named ledger rejection.
/// The maximum is the one for `kind`; without a kind, the customer-facing one.
pub fn parse_amount(
    app: &App,
    amount: &str,
    currency: &str,
    kind: Option<TxnKind>,
) -> Result<Money, Rejection> {
    let currency = Currency::from_code(currency).ok_or(Rejection::CurrencyNotEnabled)?;
    let rules = app
        .ledger
        .rules
        .currencies
        .get(&currency)
        .ok_or(Rejection::CurrencyNotEnabled)?;
    let max_minor = kind.map_or(rules.amount_max_minor, |k| rules.amount_max_for(k));
    Ok(Money::parse(amount, currency, max_minor)?)
}

#[post("/transactions")]
async fn create_transaction(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    body: web::Json<NewTransaction>,
) -> Result<HttpResponse, ApiError> {
    authorize(&app, &req)?;
    let body = body.into_inner();
    let amount = parse_amount(&app, &body.amount, &body.currency, Some(body.kind))
        .map_err(ApiError::Rejected)?;
    let metadata = match body.metadata {
        None => String::new(),
        Some(value) => serde_json::to_string(&value).map_err(|e| ApiError::InvalidRequest {
            message: e.to_string(),
        })?,
    };
    let command = Command::Submit(TxnRequest {
        idempotency_key: body.idempotency_key,
        kind: body.kind,
        debit: AccountId(body.debit_account_id),
        credit: AccountId(body.credit_account_id),
        amount,
        memo: body.memo,
        metadata,
        pending_expiry_seconds: body.pending_expiry_seconds,
    });
    answer(app.writer.submit(command).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResolvePending {
    pub idempotency_key: String,
    /// Post only part of the reservation (major units); the whole of it when absent.
    #[serde(default)]
    pub amount: Option<String>,
}

#[post("/pending/{id}/post")]
async fn post_pending(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    path: web::Path<i64>,
    body: web::Json<ResolvePending>,
) -> Result<HttpResponse, ApiError> {
    authorize(&app, &req)?;
    let id = path.into_inner();
    let body = body.into_inner();
    let amount_minor = match &body.amount {
        None => None,
        Some(text) => {
            let receipt = load_receipt(&app, id)
                .await?
                .ok_or(ApiError::Rejected(Rejection::PendingNotFound))?;
            Some(
                parse_amount(
                    &app,
                    text,
                    receipt.amount.currency().code(),
                    Some(receipt.kind),
                )
                .map_err(ApiError::Rejected)?
                .minor(),
            )
        }
    };
    let command = Command::PostPending {
        idempotency_key: body.idempotency_key,
        pending: TxnId(id),
        amount_minor,
    };
    answer(app.writer.submit(command).await?)
}

#[post("/pending/{id}/void")]
async fn void_pending(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    path: web::Path<i64>,
    body: web::Json<ResolvePending>,
) -> Result<HttpResponse, ApiError> {
    authorize(&app, &req)?;
    let body = body.into_inner();
    let command = Command::VoidPending {
        idempotency_key: body.idempotency_key,
        pending: TxnId(path.into_inner()),
        reason: VoidReason::Cancelled,
    };
    answer(app.writer.submit(command).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewReversal {
    pub idempotency_key: String,
    #[serde(default)]
    pub memo: String,
}

#[post("/transactions/{id}/reversals")]
async fn reverse(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    path: web::Path<i64>,
    body: web::Json<NewReversal>,
) -> Result<HttpResponse, ApiError> {
    authorize(&app, &req)?;
    let body = body.into_inner();
    let command = Command::Reverse {
        idempotency_key: body.idempotency_key,
        original: TxnId(path.into_inner()),
        memo: body.memo,
    };
    answer(app.writer.submit(command).await?)
}

async fn load_receipt(app: &App, id: i64) -> Result<Option<Receipt>, ApiError> {
    let pool = app.pool.clone();
    Ok(crate::store::blocking(move || reads::receipt(&mut *checkout(&pool)?, id)).await?)
}

#[get("/transactions/{id}")]
async fn get_transaction(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    authorize(&app, &req)?;
    let receipt = load_receipt(&app, path.into_inner())
        .await?
        .ok_or(ApiError::NotFound("transaction"))?;
    Ok(HttpResponse::Ok().json(ReceiptBody::new(&receipt, false)))
}

#[derive(Serialize)]
struct AccountBody {
    account_id: i64,
    kind: mkoba_ledger::AccountKind,
    currency: Currency,
    status: mkoba_ledger::AccountStatus,
    tier: mkoba_ledger::Tier,
    label: String,
    balance: String,
    available: String,
    pending_debits: String,
    pending_credits: String,
}

#[get("/accounts/{id}")]
async fn get_account(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    authorize(&app, &req)?;
    let id = path.into_inner();
    let pool = app.pool.clone();
    let found = crate::store::blocking(move || reads::account(&mut *checkout(&pool)?, id)).await?;
    let (row, state) = found.ok_or(ApiError::NotFound("account"))?;
    let money = |minor: i64| Money::from_minor(minor, state.currency).to_plain_string();
    Ok(HttpResponse::Ok().json(AccountBody {
        account_id: row.id,
        kind: state.kind,
        currency: state.currency,
        status: state.status,
        tier: state.tier,
        label: row.label,
        balance: money(state.balance_minor),
        available: money(state.available_minor().unwrap_or(0)),
        pending_debits: money(state.pending_debits_minor),
        pending_credits: money(state.pending_credits_minor),
    }))
}

#[derive(Deserialize)]
struct StatementQuery {
    before: Option<i64>,
    limit: Option<i64>,
}

#[get("/accounts/{id}/statement")]
async fn get_statement(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    path: web::Path<i64>,
    query: web::Query<StatementQuery>,
) -> Result<HttpResponse, ApiError> {
    authorize(&app, &req)?;
    let id = path.into_inner();
    let page_max = app.config.ledger.statement_page_max;
    let limit = query.limit.unwrap_or(page_max).clamp(1, page_max);
    let before = query.before;
    let pool = app.pool.clone();
    let lines =
        crate::store::blocking(move || reads::statement(&mut *checkout(&pool)?, id, before, limit))
            .await?;
    let next_before = if i64::try_from(lines.len()).unwrap_or(0) == limit {
        lines.last().map(|l| l.transaction_id)
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(serde_json::json!({ "lines": lines, "next_before": next_before })))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/ops/v1")
            .service(create_transaction)
            .service(post_pending)
            .service(void_pending)
            .service(reverse)
            .service(get_transaction)
            .service(get_account)
            .service(get_statement),
    );
}
