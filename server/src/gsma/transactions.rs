//! `POST /transactions/type/{type}`, `GET /transactions/{ref}` and `POST
//! /transactions/{ref}/reversals`.
//!
//! Who may debit whom:
//! - `transfer` (customer → customer), `deposit` (agent float → customer) and `withdrawal`
//!   (customer → agent float) are the operator's: a merchant key gets `clientAuthorisationError`.
//! - `merchantpay` by a merchant debits a customer only with the customer's consent: against a
//!   debit mandate the customer granted (`debitParty` key `mandatereference`; no PIN, within the
//!   mandate's limits), or else as a payment request the customer approves with their PIN on
//!   USSD (always asynchronous: `202`, then completed or failed). The credit party, if named, must
//!   be the merchant itself. The operator may post a merchant payment directly.
//! - `disbursement` (merchant → customer): a merchant pays out of its own account only (the
//!   `debitParty`, if named, must be itself); the operator may name any merchant. The customer's
//!   tier limits bind the wallet as for any money received.
//! - Reversals: a merchant refunds (in full or in part) payments it received; the operator
//!   reverses any reversible transaction (or refunds a merchant payment in part).
//!
//! A request without `X-Callback-URL` is answered synchronously (`201`); with one, `202` and a
//! request state at once, then the final representation (or the error object) is PUT to the URL.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use diesel::prelude::*;
use mkoba_ledger::{AllowanceId, Command, Money, Outcome, TxnKind, TxnRequest};
use serde_json::{json, Value};

use crate::app::App;
use crate::gsma::parties::{authenticate, Caller, Holder, Owner, PartyRef, PartyView, Viewer};
use crate::gsma::requests::{self, Final, NewRequest, RequestRow, Reserved};
use crate::gsma::wire::{self, text_field, Echo, ReversalBody, TransactionBody};
use crate::gsma::{
    callback_url, correlation_id, fingerprint, json as answer, parse_body, parse_money, GsmaError,
};
use crate::merchant::store::{self as mstore, Created, NewPaymentRequest};
use crate::sms::templates::Message;
use crate::store::db::write_transaction;
use crate::store::rows::TransactionRow;
use crate::store::schema::customers;
use crate::store::{blocking, checkout, reads, AnyConnection, StoreError};
use crate::with_conn;

/// What a request turns into.
enum Plan {
    /// A ledger command, run now (synchronous) or at once in the background (callback mode).
    Ledger(Command),
    /// A payment request the customer approves on USSD.
    Approval {
        customer: mstore::KnownCustomer,
        amount: Money,
        description: String,
    },
}

/// The ledger key for a request: derived from the caller and its correlation id, so a request
/// finished after a crash can never move money twice.
fn ledger_key(caller: &Caller, correlation: &str) -> String {
    format!("g:{}:{correlation}", caller.key())
}

fn memo_and_metadata(echo: &Echo, correlation: &str) -> (String, String) {
    (
        echo.description_text.clone().unwrap_or_default(),
        json!({ "gsma": correlation }).to_string(),
    )
}

fn submit(
    caller: &Caller,
    correlation: &str,
    echo: &Echo,
    kind: TxnKind,
    debit: &Holder,
    credit: &Holder,
    amount: Money,
) -> Plan {
    let (memo, metadata) = memo_and_metadata(echo, correlation);
    Plan::Ledger(Command::Submit(TxnRequest {
        idempotency_key: ledger_key(caller, correlation),
        kind,
        debit: mkoba_ledger::AccountId(debit.account.id),
        credit: mkoba_ledger::AccountId(credit.account.id),
        amount,
        memo,
        metadata,
        pending_expiry_seconds: None,
    }))
}

fn require_customer(holder: &Holder, side: &str) -> Result<(), GsmaError> {
    if holder.is_customer() {
        Ok(())
    } else {
        Err(GsmaError::transaction_type(format!(
            "the {side} must be a customer wallet for this type"
        )))
    }
}

fn require(holder: &Holder, side: &str, agent: bool) -> Result<(), GsmaError> {
    let ok = match holder.owner {
        Owner::Agent { .. } => agent && holder.account.kind == "agent_float",
        Owner::Merchant { .. } => !agent,
        Owner::Customer { .. } => false,
    };
    if ok {
        Ok(())
    } else {
        let want = if agent {
            "an agent float"
        } else {
            "a merchant account"
        };
        Err(GsmaError::transaction_type(format!(
            "the {side} must be {want} for this type"
        )))
    }
}

struct Input {
    kind: String,
    correlation: String,
    echo: Echo,
    amount: String,
    currency: String,
    debit: PartyRef,
    credit: PartyRef,
}

fn plan(
    app: &App,
    conn: &mut AnyConnection,
    caller: &Caller,
    input: &Input,
) -> Result<Plan, GsmaError> {
    let kind = match input.kind.as_str() {
        "transfer" => TxnKind::Transfer,
        "deposit" => TxnKind::Deposit,
        "withdrawal" => TxnKind::Withdrawal,
        "merchantpay" => TxnKind::MerchantPayment,
        "disbursement" => TxnKind::Disbursement,
        _ => {
            return Err(GsmaError::transaction_type(
                "supported types: transfer, merchantpay, disbursement, deposit, withdrawal",
            ))
        }
    };
    let amount = parse_money(app, &input.amount, &input.currency, Some(kind))?;
    let merchant = match caller {
        Caller::Operator => {
            let debit = input.debit.resolve(app, conn, caller, "debitParty")?;
            let credit = input.credit.resolve(app, conn, caller, "creditParty")?;
            match kind {
                TxnKind::Transfer => {
                    require_customer(&debit, "debitParty")?;
                    require_customer(&credit, "creditParty")?;
                }
                TxnKind::Deposit => {
                    require(&debit, "debitParty", true)?;
                    require_customer(&credit, "creditParty")?;
                }
                TxnKind::Withdrawal => {
                    require_customer(&debit, "debitParty")?;
                    require(&credit, "creditParty", true)?;
                }
                TxnKind::Disbursement => {
                    require(&debit, "debitParty", false)?;
                    require_customer(&credit, "creditParty")?;
                }
                _ => {
                    require_customer(&debit, "debitParty")?;
                    require(&credit, "creditParty", false)?;
                }
            }
            return Ok(submit(
                caller,
                &input.correlation,
                &input.echo,
                kind,
                &debit,
                &credit,
                amount,
            ));
        }
        Caller::Merchant(m) => m,
    };
    if kind == TxnKind::Disbursement {
        let debit = if input.debit.is_empty() {
            None
        } else {
            Some(input.debit.resolve(app, conn, caller, "debitParty")?)
        };
        if debit.as_ref().is_some_and(|d| !d.is_own(caller)) {
            return Err(GsmaError::not_entitled(
                "a merchant may only disburse from its own account",
            ));
        }
        let credit = input.credit.resolve(app, conn, caller, "creditParty")?;
        require_customer(&credit, "creditParty")?;
        let (memo, metadata) = memo_and_metadata(&input.echo, &input.correlation);
        return Ok(Plan::Ledger(Command::Submit(TxnRequest {
            idempotency_key: ledger_key(caller, &input.correlation),
            kind,
            debit: mkoba_ledger::AccountId(merchant.account_id),
            credit: mkoba_ledger::AccountId(credit.account.id),
            amount,
            memo,
            metadata,
            pending_expiry_seconds: None,
        })));
    }
    if kind != TxnKind::MerchantPayment {
        return Err(GsmaError::not_entitled(
            "a merchant may initiate merchantpay only; transfers, deposits and withdrawals are the operator's",
        ));
    }
    if !input.credit.is_empty() {
        let credit = input.credit.resolve(app, conn, caller, "creditParty")?;
        if !credit.is_own(caller) {
            return Err(GsmaError::not_entitled(
                "a merchant may only be paid into its own account",
            ));
        }
    }
    if let Some(reference) = &input.debit.mandate {
        let Some(allowance) =
            mstore::allowance(conn, reference)?.filter(|a| a.merchant_id == merchant.id)
        else {
            return Err(GsmaError::not_found("debit mandate"));
        };
        if !input.debit.is_empty() {
            let payer = input.debit.resolve(app, conn, caller, "debitParty")?;
            if payer.account.id != allowance.wallet_account_id {
                return Err(GsmaError::not_found("debit mandate for that debit party"));
            }
        }
        if matches!(
            allowance.status.as_str(),
            "requested" | "declined" | "lapsed"
        ) {
            return Err(GsmaError::new(
                crate::gsma::Category::BusinessRule,
                "noMandateAuthority",
                "allowance_not_granted",
                "The customer has not granted this debit mandate.",
            ));
        }
        let (memo, metadata) = memo_and_metadata(&input.echo, &input.correlation);
        let amount = parse_money(app, &input.amount, &input.currency, Some(TxnKind::Purchase))?;
        let mut meta: Value = serde_json::from_str(&metadata).unwrap_or_else(|_| json!({}));
        if let Some(map) = meta.as_object_mut() {
            map.insert("allowance".into(), json!(allowance.public_id));
        }
        return Ok(Plan::Ledger(Command::Charge {
            idempotency_key: ledger_key(caller, &input.correlation),
            allowance: AllowanceId(allowance.id),
            amount,
            memo: if memo.is_empty() {
                "Mandate payment".into()
            } else {
                memo
            },
            metadata: meta.to_string(),
        }));
    }
    let payer = input.debit.resolve(app, conn, caller, "debitParty")?;
    let Some(customer_id) = payer.customer_id() else {
        return Err(GsmaError::transaction_type(
            "the debitParty of a merchantpay must be a customer",
        ));
    };
    let language: String = with_conn!(&mut *conn, |c| customers::table
        .find(customer_id)
        .select(customers::language)
        .first(c))
    .map_err(StoreError::from)?;
    let msisdn = match &payer.owner {
        Owner::Customer { msisdn, .. } => msisdn.clone(),
        Owner::Merchant { .. } | Owner::Agent { .. } => String::new(),
    };
    let customer = mstore::KnownCustomer {
        id: customer_id,
        wallet: mkoba_ledger::AccountId(payer.account.id),
        pseudonym: mstore::pseudonym(conn, &app.merchant.pseudonym_key, merchant.id, customer_id)?,
        msisdn,
        language,
    };
    let description = crate::merchant::api::validate_description(
        input.echo.description_text.as_deref().unwrap_or("Payment"),
    )?;
    Ok(Plan::Approval {
        customer,
        amount,
        description,
    })
}

/// The answer for a request row: its final answer when synchronous and done, else its state.
pub fn respond(row: &RequestRow, now: mkoba_ledger::Timestamp) -> HttpResponse {
    if row.callback_url.is_none() && row.status != "pending" {
        if let (Some(status), Some(body)) = (row.response_status, row.response_body.as_deref()) {
            let status = u16::try_from(status)
                .ok()
                .and_then(|s| StatusCode::from_u16(s).ok())
                .unwrap_or(StatusCode::OK);
            let body: Value = serde_json::from_str(body).unwrap_or(Value::Null);
            return answer(status, now, &body);
        }
    }
    answer(StatusCode::ACCEPTED, now, &requests::state(row))
}

/// Runs a request's ledger command and records how it ended. A store failure leaves it pending
/// for the jobs (the ledger key makes the retry safe).
pub async fn execute(app: &Arc<App>, row: RequestRow) -> Result<RequestRow, GsmaError> {
    let now = app.clock.now();
    let command: Option<Command> = row
        .command
        .as_deref()
        .and_then(|c| serde_json::from_str(c).ok());
    let Some(command) = command else {
        let error = GsmaError::new(
            crate::gsma::Category::Internal,
            "genericError",
            "internal_error",
            "The request could not be read back.",
        );
        let app2 = Arc::clone(app);
        let deadline = app.config.gsma.callback_deadline_seconds;
        return Ok(blocking(move || {
            requests::finish(
                &mut *checkout(&app2.pool)?,
                &row,
                &Final::failed(&error, now),
                now,
                deadline,
            )
        })
        .await?);
    };
    let notify = match &command {
        Command::Charge { amount, .. } => {
            amount.minor() >= app.config.merchant_api.small_charge_minor
        }
        Command::Submit(_)
        | Command::PostPending { .. }
        | Command::VoidPending { .. }
        | Command::Reverse { .. }
        | Command::Refund { .. } => true,
    };
    let outcome = app.writer.submit_with(command, notify).await?;
    let app2 = Arc::clone(app);
    Ok(blocking(move || {
        let app = app2;
        let mut conn = checkout(&app.pool)?;
        let now = app.clock.now();
        let echo: Echo = serde_json::from_str(&row.context).unwrap_or_default();
        let outcome = match outcome {
            Outcome::Accepted(r) | Outcome::Replayed(r) => {
                let txn = reads::transaction_by_id(&mut conn, r.txn_id.0)?
                    .ok_or_else(|| StoreError::Conflict("accepted transaction missing".into()))?;
                let body = render(&app, &mut conn, &echo, &txn, row.operation == "reversal")?;
                Final {
                    completed: true,
                    object_reference: Some(txn.code),
                    response_status: 201,
                    body,
                }
            }
            Outcome::Rejected(rejection) => Final::failed(&GsmaError::from(rejection), now),
        };
        requests::finish(
            &mut conn,
            &row,
            &outcome,
            now,
            app.config.gsma.callback_deadline_seconds,
        )
    })
    .await?)
}

/// A transaction (or reversal) as the request's caller sees it.
pub fn render(
    app: &App,
    conn: &mut AnyConnection,
    echo: &Echo,
    txn: &TransactionRow,
    reversal: bool,
) -> Result<Value, StoreError> {
    let viewer = echo.viewer.unwrap_or(Viewer {
        merchant_id: None,
        merchant_account: None,
    });
    let mut view = PartyView::new(app, viewer);
    if reversal {
        wire::reversal(conn, &mut view, &app.ledger.codes, txn, Some(echo))
    } else {
        wire::transaction(conn, &mut view, &app.ledger.codes, txn, Some(echo))
    }
}

/// Reserves the correlation id with the command, then runs it now or in the background.
#[allow(clippy::too_many_arguments)]
async fn run_ledger(
    app: &Arc<App>,
    caller: &Caller,
    correlation: String,
    callback: Option<String>,
    print: String,
    operation: &'static str,
    command: Command,
    echo: &Echo,
) -> Result<HttpResponse, GsmaError> {
    let app2 = Arc::clone(app);
    let caller_key = caller.key();
    let merchant_id = caller.merchant().map(|m| m.id);
    let command_text = serde_json::to_string(&command)
        .map_err(|e| StoreError::Conflict(format!("command encoding: {e}")))?;
    let context = serde_json::to_string(echo)
        .map_err(|e| StoreError::Conflict(format!("context encoding: {e}")))?;
    let lease_ms = i64::try_from(app.config.gsma.request_lease_ms).unwrap_or(30_000);
    let reserved = blocking(move || {
        let now = app2.clock.now();
        requests::reserve(
            &mut *checkout(&app2.pool)?,
            &NewRequest {
                caller: &caller_key,
                merchant_id,
                correlation_id: &correlation,
                fingerprint: &print,
                operation,
                command: Some(command_text),
                context,
                callback_url: callback.as_deref(),
                claimed_until: now.0.saturating_add(lease_ms.saturating_mul(1_000)),
                now,
            },
        )
    })
    .await?;
    let now = app.clock.now();
    match reserved {
        Reserved::Conflict => Err(GsmaError::duplicate()),
        Reserved::Repeat(row) => Ok(respond(&row, now)),
        Reserved::New(row) if row.callback_url.is_some() => {
            let answer = respond(&row, now);
            let app3 = Arc::clone(app);
            actix_web::rt::spawn(async move {
                if let Err(e) = execute(&app3, row).await {
                    tracing::warn!(error = %e, "GSMA request left for the jobs to finish");
                }
            });
            Ok(answer)
        }
        Reserved::New(row) => {
            let row = execute(app, row).await?;
            Ok(respond(&row, app.clock.now()))
        }
    }
}

fn text_fields(kind: &str, viewer: Viewer, input: &TransactionBody) -> Result<Echo, GsmaError> {
    Ok(Echo {
        viewer: Some(viewer),
        kind: kind.to_owned(),
        sub_type: text_field(input.sub_type.as_deref(), "subType", 256)?,
        description_text: text_field(input.description_text.as_deref(), "descriptionText", 160)?,
        requesting_organisation_transaction_reference: text_field(
            input
                .requesting_organisation_transaction_reference
                .as_deref(),
            "requestingOrganisationTransactionReference",
            256,
        )?,
    })
}

pub async fn create(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, GsmaError> {
    let app: Arc<App> = Arc::clone(&app);
    let caller = authenticate(&app, &req, &body).await?;
    let kind = path.into_inner();
    let correlation = correlation_id(&req)?;
    let callback = callback_url(&req)?;
    let body_in: TransactionBody = parse_body(&body)?;
    let print = fingerprint(&req, &body);
    let echo = text_fields(&kind, caller.viewer(), &body_in)?;
    let input = Input {
        kind,
        correlation: correlation.clone(),
        echo: echo.clone(),
        amount: body_in
            .amount
            .clone()
            .ok_or_else(|| GsmaError::missing("amount"))?,
        currency: body_in
            .currency
            .clone()
            .ok_or_else(|| GsmaError::missing("currency"))?,
        debit: PartyRef::of(body_in.debit_party.as_deref()),
        credit: PartyRef::of(body_in.credit_party.as_deref()),
    };
    let app2 = Arc::clone(&app);
    let caller2 = caller.clone();
    let planned = blocking(move || {
        let mut conn = checkout(&app2.pool)?;
        Ok(plan(&app2, &mut conn, &caller2, &input))
    })
    .await??;
    match planned {
        Plan::Ledger(command) => {
            let operation = match echo.kind.as_str() {
                "transfer" => "transfer",
                "deposit" => "deposit",
                "withdrawal" => "withdrawal",
                _ => "merchantpay",
            };
            run_ledger(
                &app,
                &caller,
                correlation,
                callback,
                print,
                operation,
                command,
                &echo,
            )
            .await
        }
        Plan::Approval {
            customer,
            amount,
            description,
        } => {
            approval(
                &app,
                &caller,
                correlation,
                callback,
                print,
                echo,
                customer,
                amount,
                description,
            )
            .await
        }
    }
}

/// A merchant payment the customer approves: the request state and the payment request are
/// written together; the jobs finish the request when the customer answers (or does not).
#[allow(clippy::too_many_arguments)]
async fn approval(
    app: &Arc<App>,
    caller: &Caller,
    correlation: String,
    callback: Option<String>,
    print: String,
    echo: Echo,
    customer: mstore::KnownCustomer,
    amount: Money,
    description: String,
) -> Result<HttpResponse, GsmaError> {
    let Some(merchant) = caller.merchant().cloned() else {
        return Err(GsmaError::not_entitled(
            "only merchants ask customers to approve",
        ));
    };
    let app2 = Arc::clone(app);
    let caller_key = caller.key();
    let context = serde_json::to_string(&echo)
        .map_err(|e| StoreError::Conflict(format!("context encoding: {e}")))?;
    let reserved = blocking(move || {
        let app = app2;
        let mut conn = checkout(&app.pool)?;
        let now = app.clock.now();
        write_transaction(&mut conn, |conn| {
            let reserved = requests::reserve(
                conn,
                &NewRequest {
                    caller: &caller_key,
                    merchant_id: Some(merchant.id),
                    correlation_id: &correlation,
                    fingerprint: &print,
                    operation: "merchantpay",
                    command: None,
                    context,
                    callback_url: callback.as_deref(),
                    // Nothing to run: the jobs look at it when the customer answers.
                    claimed_until: 0,
                    now,
                },
            )?;
            let Reserved::New(row) = reserved else {
                return Ok(reserved);
            };
            let key = format!("gsma:{correlation}");
            let created = mstore::create_payment_request(
                conn,
                &NewPaymentRequest {
                    merchant_id: merchant.id,
                    customer_id: customer.id,
                    idempotency_key: &key,
                    fingerprint: &print,
                    amount,
                    description: &description,
                    now_us: now.0,
                    expires_at_us: now
                        .saturating_add_seconds(app.config.merchant_api.payment_request_ttl_seconds)
                        .0,
                },
            )?;
            let request = match created {
                Created::New(r) => {
                    let prompt = Message::PaymentRequest {
                        merchant: crate::merchant::api::short(&merchant.name),
                        amount,
                    };
                    crate::merchant::api::queue_sms(&app, conn, &customer, &prompt, now)?;
                    r
                }
                Created::Existing(r) => r,
                Created::Conflict => {
                    return Err(StoreError::Conflict("payment request key reused".into()))
                }
            };
            requests::link(conn, row.id, Some(request.id), None, None)?;
            let row = requests::by_id(conn, row.id)?
                .ok_or_else(|| StoreError::Conflict("request state vanished".into()))?;
            Ok(Reserved::New(row))
        })
    })
    .await?;
    let now = app.clock.now();
    match reserved {
        Reserved::Conflict => Err(GsmaError::duplicate()),
        Reserved::Repeat(row) | Reserved::New(row) => Ok(respond(&row, now)),
    }
}

/// A transaction the caller may see: any for the operator, its own for a merchant.
fn visible(
    app: &App,
    conn: &mut AnyConnection,
    caller: &Caller,
    reference: &str,
) -> Result<Option<TransactionRow>, StoreError> {
    let Some(id) = app.ledger.codes.id_for(reference) else {
        return Ok(None);
    };
    let row = reads::transaction_by_id(conn, id.0)?;
    Ok(row.filter(|t| match caller.merchant() {
        None => true,
        Some(m) => t.debit_account_id == m.account_id || t.credit_account_id == m.account_id,
    }))
}

pub async fn view(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, GsmaError> {
    let app: Arc<App> = Arc::clone(&app);
    let caller = authenticate(&app, &req, &[]).await?;
    let reference = path.into_inner();
    let app2 = Arc::clone(&app);
    let found = blocking(move || {
        let mut conn = checkout(&app2.pool)?;
        let Some(txn) = visible(&app2, &mut conn, &caller, &reference)? else {
            return Ok(None);
        };
        let mut view = PartyView::new(&app2, caller.viewer());
        wire::transaction(&mut conn, &mut view, &app2.ledger.codes, &txn, None).map(Some)
    })
    .await?;
    let body = found.ok_or_else(|| GsmaError::not_found("transaction"))?;
    Ok(answer(StatusCode::OK, app.clock.now(), &body))
}

pub async fn reverse(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, GsmaError> {
    let app: Arc<App> = Arc::clone(&app);
    let caller = authenticate(&app, &req, &body).await?;
    let reference = path.into_inner();
    let correlation = correlation_id(&req)?;
    let callback = callback_url(&req)?;
    let input: ReversalBody = parse_body(&body)?;
    match input.kind.as_deref() {
        Some("reversal" | "adjustment") => {}
        Some(_) => return Err(GsmaError::format("type must be reversal or adjustment")),
        None => return Err(GsmaError::missing("type")),
    }
    let print = fingerprint(&req, &body);
    let echo = Echo {
        viewer: Some(caller.viewer()),
        kind: "reversal".into(),
        sub_type: None,
        description_text: text_field(input.description_text.as_deref(), "descriptionText", 160)?,
        requesting_organisation_transaction_reference: text_field(
            input
                .requesting_organisation_transaction_reference
                .as_deref(),
            "requestingOrganisationTransactionReference",
            256,
        )?,
    };
    let app2 = Arc::clone(&app);
    let caller2 = caller.clone();
    let key = ledger_key(&caller, &correlation);
    let memo = echo.description_text.clone().unwrap_or_default();
    let command = blocking(move || {
        let app = app2;
        let mut conn = checkout(&app.pool)?;
        let Some(original) = visible(&app, &mut conn, &caller2, &reference)? else {
            return Ok(Err(GsmaError::not_found("transaction")));
        };
        let payment = matches!(original.kind.as_str(), "merchant_payment" | "purchase");
        let amount = match (&input.amount, &input.currency) {
            (Some(a), c) => {
                let currency = c.clone().unwrap_or_else(|| original.currency.clone());
                if currency != original.currency {
                    return Ok(Err(GsmaError::from(
                        mkoba_ledger::Rejection::CurrencyMismatch,
                    )));
                }
                match parse_money(&app, a, &currency, Some(TxnKind::Refund)) {
                    Ok(m) => Some(m.minor()),
                    Err(e) => return Ok(Err(e)),
                }
            }
            (None, _) => None,
        };
        let txn_id = mkoba_ledger::TxnId(original.id);
        Ok(match caller2.merchant() {
            Some(m) if payment && original.credit_account_id == m.account_id => {
                Ok(Command::Refund {
                    idempotency_key: key,
                    original: txn_id,
                    amount_minor: amount,
                    memo,
                })
            }
            Some(_) => Err(GsmaError::transaction_type(
                "a merchant may reverse (refund) only payments it received",
            )),
            None if payment && amount.is_some_and(|a| a != original.amount_minor) => {
                Ok(Command::Refund {
                    idempotency_key: key,
                    original: txn_id,
                    amount_minor: amount,
                    memo,
                })
            }
            None if amount.is_some_and(|a| a != original.amount_minor) => Err(GsmaError::new(
                crate::gsma::Category::BusinessRule,
                "underPaymentNotAllowed",
                "partial_reversal_not_allowed",
                "Only merchant payments can be reversed in part.",
            )),
            None => Ok(Command::Reverse {
                idempotency_key: key,
                original: txn_id,
                memo,
            }),
        })
    })
    .await??;
    run_ledger(
        &app,
        &caller,
        correlation,
        callback,
        print,
        "reversal",
        command,
        &echo,
    )
    .await
}
