//! `POST /quotations`, `GET /requeststates/{serverCorrelationId}` and `GET /heartbeat`.
//!
//! A quotation is the ledger's dry run of the transaction it quotes (the real rules on a
//! snapshot: fee, limits, funds), so it says what the transaction would be charged now; nothing
//! is reserved and quotes are not stored. For a merchant quoting a `merchantpay` the fee comes
//! from the tariff alone: a dry run against the customer's wallet would tell the merchant whether
//! the customer can afford it.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use mkoba_ledger::{Command, Money, Outcome, TxnKind};
use serde_json::{json, Value};

use crate::app::App;
use crate::gsma::parties::{authenticate, Caller, PartyRef, PartyView};
use crate::gsma::requests;
use crate::gsma::wire::QuotationBody;
use crate::gsma::{
    date_time, is_uuid, json as answer, new_uuid, optional_correlation_id, parse_body, parse_money,
    GsmaError,
};
use crate::store::{batch, blocking, checkout, AnyConnection, StoreError};

struct Quote {
    kind: &'static str,
    amount: Money,
    fee: Money,
    /// Whether the fee comes off what the receiver gets (merchant payments) rather than on top.
    fee_from_receiver: bool,
    debit: Value,
    credit: Value,
}

fn quote(
    app: &App,
    conn: &mut AnyConnection,
    caller: &Caller,
    input: &QuotationBody,
) -> Result<Quote, GsmaError> {
    let amount_text = input
        .request_amount
        .as_deref()
        .ok_or_else(|| GsmaError::missing("requestAmount"))?;
    let currency = input
        .request_currency
        .as_deref()
        .ok_or_else(|| GsmaError::missing("requestCurrency"))?;
    let default_kind = match caller {
        Caller::Operator => "transfer",
        Caller::Merchant(_) => "merchantpay",
    };
    let (name, kind) = match input.kind.as_deref().unwrap_or(default_kind) {
        "transfer" => ("transfer", TxnKind::Transfer),
        "deposit" => ("deposit", TxnKind::Deposit),
        "withdrawal" => ("withdrawal", TxnKind::Withdrawal),
        "merchantpay" => ("merchantpay", TxnKind::MerchantPayment),
        _ => {
            return Err(GsmaError::transaction_type(
                "quotations are for transfer, merchantpay, deposit and withdrawal",
            ))
        }
    };
    let amount = parse_money(app, amount_text, currency, Some(kind))?;
    let debit_ref = PartyRef::of(input.debit_party.as_deref());
    let credit_ref = PartyRef::of(input.credit_party.as_deref());
    let mut view = PartyView::new(app, caller.viewer());
    if let Caller::Merchant(m) = caller {
        if kind != TxnKind::MerchantPayment {
            return Err(GsmaError::not_entitled(
                "a merchant may quote merchantpay only",
            ));
        }
        let payer = debit_ref.resolve(app, conn, caller, "debitParty")?;
        if !payer.is_customer() {
            return Err(GsmaError::transaction_type(
                "the debitParty must be a customer",
            ));
        }
        if !credit_ref.is_empty()
            && !credit_ref
                .resolve(app, conn, caller, "creditParty")?
                .is_own(caller)
        {
            return Err(GsmaError::not_entitled(
                "a merchant may only be paid into its own account",
            ));
        }
        let rules = app
            .ledger
            .rules
            .currencies
            .get(&amount.currency())
            .ok_or_else(|| GsmaError::from(mkoba_ledger::Rejection::CurrencyNotEnabled))?;
        let fee = rules.tariffs.merchant.fee_for(amount.minor());
        return Ok(Quote {
            kind: name,
            amount,
            fee: Money::from_minor(fee, amount.currency()),
            fee_from_receiver: true,
            debit: view.party(conn, payer.account.id)?,
            credit: view.party(conn, m.account_id)?,
        });
    }
    let debit = debit_ref.resolve(app, conn, caller, "debitParty")?;
    let credit = credit_ref.resolve(app, conn, caller, "creditParty")?;
    let command = Command::Submit(mkoba_ledger::TxnRequest {
        idempotency_key: format!("gsma-quote:{}", new_uuid()),
        kind,
        debit: mkoba_ledger::AccountId(debit.account.id),
        credit: mkoba_ledger::AccountId(credit.account.id),
        amount,
        memo: String::new(),
        metadata: String::new(),
        pending_expiry_seconds: None,
    });
    let receipt = match batch::dry_run(conn, &app.ledger, app.clock.now(), &command)? {
        Outcome::Accepted(r) | Outcome::Replayed(r) => r,
        Outcome::Rejected(r) => return Err(GsmaError::from(r)),
    };
    Ok(Quote {
        kind: name,
        amount,
        fee: Money::from_minor(receipt.fee_minor, amount.currency()),
        fee_from_receiver: kind == TxnKind::MerchantPayment,
        debit: view.party(conn, debit.account.id)?,
        credit: view.party(conn, credit.account.id)?,
    })
}

pub async fn quotation(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, GsmaError> {
    let app: Arc<App> = Arc::clone(&app);
    let caller = authenticate(&app, &req, &body).await?;
    let _correlation = optional_correlation_id(&req)?;
    let input: QuotationBody = parse_body(&body)?;
    let app2 = Arc::clone(&app);
    let q = blocking(move || {
        let mut conn = checkout(&app2.pool)?;
        Ok(quote(&app2, &mut conn, &caller, &input).map(|q| (q, input.sub_type)))
    })
    .await??;
    let (q, sub_type) = q;
    let now = app.clock.now();
    let currency = q.amount.currency().code();
    let receiving = if q.fee_from_receiver {
        q.amount.minor().saturating_sub(q.fee.minor()).max(0)
    } else {
        q.amount.minor()
    };
    let mut body = json!({
        "quotationReference": new_uuid(),
        "quotationStatus": "completed",
        "type": q.kind,
        "creditParty": q.credit,
        "debitParty": q.debit,
        "requestAmount": q.amount.to_plain_string(),
        "requestCurrency": currency,
        "creationDate": date_time(now),
        "quotes": [{
            "quoteId": new_uuid(),
            "sendingAmount": q.amount.to_plain_string(),
            "sendingCurrency": currency,
            "receivingAmount": Money::from_minor(receiving, q.amount.currency()).to_plain_string(),
            "receivingCurrency": currency,
            "fees": [{ "feeType": "transactionFee", "feeAmount": q.fee.to_plain_string(), "feeCurrency": currency }],
            "quoteExpiryTime": date_time(now.saturating_add_seconds(app.config.gsma.quote_ttl_seconds)),
            "receivingServiceProvider": "mkoba",
        }],
    });
    if let (Some(map), Some(sub)) = (body.as_object_mut(), sub_type) {
        let sub: String = sub.chars().take(256).collect();
        map.insert("subType".into(), json!(sub));
    }
    Ok(answer(StatusCode::CREATED, now, &body))
}

pub async fn request_state(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, GsmaError> {
    let app: Arc<App> = Arc::clone(&app);
    let caller = authenticate(&app, &req, &[]).await?;
    let id = path.into_inner().to_ascii_lowercase();
    if !is_uuid(&id) {
        return Err(GsmaError::format("serverCorrelationId must be a UUID"));
    }
    let app2 = Arc::clone(&app);
    let key = caller.key();
    let row = blocking(move || requests::by_server_id(&mut *checkout(&app2.pool)?, &key, &id))
        .await?
        .ok_or_else(|| GsmaError::not_found("request state"))?;
    Ok(answer(
        StatusCode::OK,
        app.clock.now(),
        &requests::state(&row),
    ))
}

/// Whether mkoba can take requests now: the database answers. No key needed (it says nothing
/// about anyone).
pub async fn heartbeat(app: web::Data<Arc<App>>) -> HttpResponse {
    let pool = app.pool.clone();
    let up = blocking(move || -> Result<bool, StoreError> {
        let mut conn = checkout(&pool)?;
        crate::store::db::migrations_current(&mut conn)
    })
    .await;
    let status = match up {
        Ok(true) => "available",
        Ok(false) => "degraded",
        Err(e) => {
            tracing::warn!(error = %e, "GSMA heartbeat: database unreachable");
            "unavailable"
        }
    };
    answer(
        StatusCode::OK,
        app.clock.now(),
        &json!({ "serviceStatus": status }),
    )
}
