//! A merchant's records and tools: its statement, daily settlement records, its API keys and its
//! catalog of products.

use std::sync::Arc;

use actix_web::{delete, get, put, web, HttpRequest, HttpResponse};
use diesel::prelude::*;
use mkoba_ledger::{Money, TxnId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::App;
use crate::http::error::ApiError;
use crate::merchant::store as mstore;
use crate::merchant::{authenticate, iso_time, parse_body, parse_money, Amount, ErrorBody};
use crate::store::chain;
use crate::store::schema::{merchant_api_keys, products, transactions};
use crate::store::{blocking, checkout};
use crate::with_conn;

/// The most rows one statement page holds.
const STATEMENT_PAGE_MAX: i64 = 100;
/// The most days one settlement query covers.
const SETTLEMENT_DAYS_MAX: i64 = 92;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StatementQuery {
    /// Entries older than this transaction code (the previous page's `next`).
    pub before: Option<String>,
    /// Entries per page, 1 to 100 (default 20).
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatementLine {
    pub transaction: String,
    pub kind: String,
    /// `credit` (money in) or `debit` (money out).
    pub direction: String,
    pub amount: Amount,
    pub fee: Amount,
    pub customer: Option<String>,
    pub memo: String,
    pub created_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatementPage {
    pub entries: Vec<StatementLine>,
    /// Pass as `before` for the next page; absent on the last page.
    pub next: Option<String>,
}

type Line = (i64, String, i64, i64, String, i64, i64, String, i64);

#[utoipa::path(get, path = "/api/v1/statement", tag = "account", params(StatementQuery),
    responses((status = 200, body = StatementPage),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("api_key" = [])))]
#[get("/statement")]
pub async fn get_statement(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    query: web::Query<StatementQuery>,
) -> Result<HttpResponse, ApiError> {
    let merchant = authenticate(&app, &req, &[]).await?;
    let limit = query.limit.unwrap_or(20);
    if !(1..=STATEMENT_PAGE_MAX).contains(&limit) {
        return Err(ApiError::InvalidRequest {
            message: format!("limit must be between 1 and {STATEMENT_PAGE_MAX}"),
        });
    }
    let before = match &query.before {
        None => None,
        Some(code) => Some(
            app.ledger
                .codes
                .id_for(code)
                .ok_or(ApiError::InvalidRequest {
                    message: "before is not a transaction code".into(),
                })?
                .0,
        ),
    };
    let app2 = Arc::clone(&app);
    let page = blocking(move || {
        let mut conn = checkout(&app2.pool)?;
        let account = merchant.account_id;
        // Newest first along the merchant account's chain (`store::chain`); transactions where
        // the account only took a fee or commission leg are not its statement's lines.
        let wanted = usize::try_from(limit.saturating_add(1)).unwrap_or(usize::MAX);
        let start = chain::start_below(&mut conn, account, before)?;
        let budget = limit
            .saturating_add(1)
            .saturating_add(chain::SEEK_STEPS_MAX);
        let mut rows: Vec<Line> = Vec::new();
        chain::each_round(
            &mut conn,
            account,
            start,
            None,
            limit + 1,
            budget,
            |conn, walked| {
                let ids: Vec<i64> = walked.iter().map(|t| t.id).collect();
                let mut found: Vec<Line> = with_conn!(&mut *conn, |c| transactions::table
                    .filter(transactions::id.eq_any(&ids))
                    .filter(
                        transactions::debit_account_id
                            .eq(account)
                            .or(transactions::credit_account_id.eq(account))
                    )
                    .filter(transactions::phase.eq_any(["posted", "post_pending"]))
                    .select((
                        transactions::id,
                        transactions::kind,
                        transactions::amount_minor,
                        transactions::fee_minor,
                        transactions::currency,
                        transactions::debit_account_id,
                        transactions::credit_account_id,
                        transactions::memo,
                        transactions::created_at,
                    ))
                    .load(c))?;
                found.sort_by_key(|line| std::cmp::Reverse(line.0));
                rows.extend(found);
                Ok(rows.len() < wanted)
            },
        )?;
        rows.truncate(wanted);
        let more = rows.len() > usize::try_from(limit).unwrap_or(usize::MAX);
        let mut entries = Vec::new();
        for (id, kind, amount, fee, currency, debit, credit, memo, created_at) in
            rows.into_iter().take(usize::try_from(limit).unwrap_or(0))
        {
            let currency = crate::store::rows::currency(&currency)?;
            let incoming = credit == account;
            let other = if incoming { debit } else { credit };
            let customer = mstore::pseudonym_of_wallet(
                &mut conn,
                &app2.merchant.pseudonym_key,
                merchant.id,
                other,
            )?;
            entries.push(StatementLine {
                transaction: app2.ledger.codes.code_for(TxnId(id)),
                kind,
                direction: if incoming { "credit" } else { "debit" }.into(),
                amount: Amount::of(Money::from_minor(amount, currency)),
                fee: Amount::of(Money::from_minor(fee, currency)),
                customer,
                memo,
                created_at: iso_time(created_at),
            });
        }
        let next = if more {
            entries.last().map(|e| e.transaction.clone())
        } else {
            None
        };
        Ok(StatementPage { entries, next })
    })
    .await?;
    Ok(HttpResponse::Ok().json(page))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SettlementQuery {
    /// Local days back from today, 1 to 92 (default 7).
    pub days: Option<i64>,
}

/// What one local day's sales came to: what mkoba owes the merchant for it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SettlementDay {
    /// Local date, `YYYY-MM-DD`.
    pub date: String,
    pub payments: i64,
    pub gross: Amount,
    pub fees: Amount,
    pub refunds: Amount,
    /// `gross - fees - refunds`.
    pub net: Amount,
}

#[utoipa::path(get, path = "/api/v1/settlements", tag = "account", params(SettlementQuery),
    responses((status = 200, body = Vec<SettlementDay>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("api_key" = [])))]
#[get("/settlements")]
pub async fn get_settlements(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    query: web::Query<SettlementQuery>,
) -> Result<HttpResponse, ApiError> {
    let merchant = authenticate(&app, &req, &[]).await?;
    let days = query.days.unwrap_or(7);
    if !(1..=SETTLEMENT_DAYS_MAX).contains(&days) {
        return Err(ApiError::InvalidRequest {
            message: format!("days must be between 1 and {SETTLEMENT_DAYS_MAX}"),
        });
    }
    let app2 = Arc::clone(&app);
    let report = blocking(move || {
        let mut conn = checkout(&app2.pool)?;
        let offset = i64::from(app2.config.ledger.rules.utc_offset_seconds) * 1_000_000;
        let day_us = 86_400_000_000_i64;
        let today = (app2.clock.now().0 + offset).div_euclid(day_us);
        let from = (today - days + 1) * day_us - offset;
        let account = merchant.account_id;
        let rows: Vec<(String, i64, i64, i64, i64, String)> =
            with_conn!(&mut *conn, |c| transactions::table
                .filter(
                    transactions::debit_account_id
                        .eq(account)
                        .or(transactions::credit_account_id.eq(account))
                )
                .filter(transactions::phase.eq_any(["posted", "post_pending"]))
                .filter(transactions::created_at.ge(from))
                .select((
                    transactions::kind,
                    transactions::amount_minor,
                    transactions::fee_minor,
                    transactions::credit_account_id,
                    transactions::created_at,
                    transactions::currency,
                ))
                .load(c))?;
        let currency = app2.currency();
        let mut by_day: std::collections::BTreeMap<i64, (i64, i64, i64, i64)> =
            (0..days).map(|d| (today - d, (0, 0, 0, 0))).collect();
        for (kind, amount, fee, credit, created_at, _) in rows {
            let day = (created_at + offset).div_euclid(day_us);
            let Some(tally) = by_day.get_mut(&day) else {
                continue;
            };
            match kind.as_str() {
                "merchant_payment" | "purchase" if credit == account => {
                    tally.0 += 1;
                    tally.1 = tally.1.saturating_add(amount);
                    tally.2 = tally.2.saturating_add(fee);
                }
                "refund" | "reversal" if credit != account => {
                    tally.3 = tally.3.saturating_add(amount);
                }
                _ => {}
            }
        }
        let m = |minor| Amount::of(Money::from_minor(minor, currency));
        Ok(by_day
            .into_iter()
            .rev()
            .map(|(day, (count, gross, fees, refunds))| {
                let date = iso_time(day * day_us).chars().take(10).collect();
                SettlementDay {
                    date,
                    payments: count,
                    gross: m(gross),
                    fees: m(fees),
                    refunds: m(refunds),
                    net: m(gross.saturating_sub(fees).saturating_sub(refunds)),
                }
            })
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(HttpResponse::Ok().json(report))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyInfo {
    pub key_id: String,
    pub label: String,
    pub created_at: String,
    pub revoked: bool,
}

#[utoipa::path(get, path = "/api/v1/keys", tag = "keys",
    responses((status = 200, body = Vec<KeyInfo>),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("api_key" = [])))]
#[get("/keys")]
pub async fn list_keys(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let merchant = authenticate(&app, &req, &[]).await?;
    let app2 = Arc::clone(&app);
    let rows: Vec<(String, String, i64, Option<i64>)> = blocking(move || {
        let mut conn = checkout(&app2.pool)?;
        Ok(with_conn!(&mut *conn, |c| merchant_api_keys::table
            .filter(merchant_api_keys::merchant_id.eq(merchant.id))
            .order(merchant_api_keys::id)
            .limit(100)
            .select((
                merchant_api_keys::key_id,
                merchant_api_keys::label,
                merchant_api_keys::created_at,
                merchant_api_keys::revoked_at
            ))
            .load(c))?)
    })
    .await?;
    let keys: Vec<KeyInfo> = rows
        .into_iter()
        .map(|(key_id, label, created_at, revoked)| KeyInfo {
            key_id,
            label,
            created_at: iso_time(created_at),
            revoked: revoked.is_some(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(keys))
}

#[utoipa::path(delete, path = "/api/v1/keys/{key_id}", tag = "keys",
    params(("key_id" = String, Path, description = "The public part of the key")),
    responses((status = 204, description = "Revoked"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("api_key" = [])))]
#[delete("/keys/{key_id}")]
pub async fn revoke_key(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let merchant = authenticate(&app, &req, &[]).await?;
    let key_id = path.into_inner();
    let app2 = Arc::clone(&app);
    let revoked = blocking(move || {
        let now = app2.clock.now().0;
        crate::merchant::auth::revoke_key(&mut *checkout(&app2.pool)?, merchant.id, &key_id, now)
    })
    .await?;
    if revoked {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound("key"))
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductBody {
    #[schema(min_length = 1, max_length = 40)]
    pub sku: String,
    #[schema(min_length = 1, max_length = 60)]
    pub name: String,
    /// `airtime`, `data`, `article`, `song`, `game` or `software`.
    pub category: String,
    pub price: Amount,
    pub active: bool,
}

const CATEGORIES: [&str; 6] = ["airtime", "data", "article", "song", "game", "software"];

#[utoipa::path(get, path = "/api/v1/products", tag = "catalog",
    responses((status = 200, body = Vec<ProductBody>),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("api_key" = [])))]
#[get("/products")]
pub async fn list_products(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let merchant = authenticate(&app, &req, &[]).await?;
    let app2 = Arc::clone(&app);
    let rows: Vec<(String, String, String, i64, String, bool)> = blocking(move || {
        let mut conn = checkout(&app2.pool)?;
        Ok(with_conn!(&mut *conn, |c| products::table
            .filter(products::merchant_id.eq(merchant.id))
            .order(products::id)
            .limit(500)
            .select((
                products::sku,
                products::name,
                products::category,
                products::price_minor,
                products::currency,
                products::active
            ))
            .load(c))?)
    })
    .await?;
    let mut list = Vec::new();
    for (sku, name, category, price, currency, active) in rows {
        let currency = crate::store::rows::currency(&currency)?;
        list.push(ProductBody {
            sku,
            name,
            category,
            price: Amount::of(Money::from_minor(price, currency)),
            active,
        });
    }
    Ok(HttpResponse::Ok().json(list))
}

/// Creates or updates a product by its SKU (prices go down to one minor unit).
#[utoipa::path(put, path = "/api/v1/products", tag = "catalog", request_body = ProductBody,
    responses((status = 200, body = ProductBody),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody),
        (status = 503, body = ErrorBody)),
    security(("api_key" = [])))]
#[put("/products")]
pub async fn put_product(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let merchant = authenticate(&app, &req, &body).await?;
    let input: ProductBody = parse_body(&body)?;
    let price = parse_money(&app, &input.price, Some(mkoba_ledger::TxnKind::Purchase))?;
    let plain = |s: &str, max: usize| {
        !s.trim().is_empty() && s.chars().count() <= max && !s.chars().any(char::is_control)
    };
    if !plain(&input.sku, 40)
        || !plain(&input.name, 60)
        || !CATEGORIES.contains(&input.category.as_str())
    {
        return Err(ApiError::InvalidRequest {
            message: format!(
                "sku (1-40), name (1-60) and category (one of {}) are required",
                CATEGORIES.join(", ")
            ),
        });
    }
    let app2 = Arc::clone(&app);
    let (sku, name, category, active) = (
        input.sku.clone(),
        input.name.clone(),
        input.category.clone(),
        input.active,
    );
    blocking(move || {
        let mut conn = checkout(&app2.pool)?;
        let updated = with_conn!(&mut *conn, |c| diesel::update(
            products::table
                .filter(products::merchant_id.eq(merchant.id))
                .filter(products::sku.eq(&sku))
        )
        .set((
            products::name.eq(&name),
            products::category.eq(&category),
            products::price_minor.eq(price.minor()),
            products::currency.eq(price.currency().code()),
            products::active.eq(active),
        ))
        .execute(c))?;
        if updated == 0 {
            with_conn!(&mut *conn, |c| diesel::insert_into(products::table)
                .values((
                    products::merchant_id.eq(merchant.id),
                    products::sku.eq(&sku),
                    products::name.eq(&name),
                    products::category.eq(&category),
                    products::price_minor.eq(price.minor()),
                    products::currency.eq(price.currency().code()),
                    products::active.eq(active),
                ))
                .execute(c))?;
        }
        Ok(())
    })
    .await?;
    Ok(HttpResponse::Ok().json(ProductBody {
        price: Amount::of(price),
        ..input
    }))
}
