//! Carries out what the USSD engine asks for: lookups, quotes, and — behind the customer's PIN —
//! money movements through the ledger writer, keyed by the engine's `step_key` so that a gateway
//! repeating a hop cannot pay twice.

use std::sync::Arc;

use diesel::prelude::*;
use mkoba_ledger::{
    AccountId, Command, Money, Outcome, Phase, Rejection, TxnId, TxnKind, TxnRequest, VoidReason,
};
use mkoba_ussd::engine::{
    Category, Counterparty, Effect, EffectResult, LimitsInfo, MoneyAction, Product, Quote, Receipt,
    SentItem, StatementEntry,
};

use crate::app::App;
use crate::phone::Msisdn;
use crate::pin::{self, PinCheck};
use crate::sms::localtime::local_date_time;
use crate::sms::notify::mask_name;
use crate::sms::outbox;
use crate::sms::templates::{Language, Message};
use crate::store::parties::{self, CustomerProfile};
use crate::store::schema::{customers, pending_transfers, products, transactions};
use crate::store::{batch, blocking, chain, checkout, reads, StoreError};
use crate::with_conn;

/// Marks a pending transfer that waits for its payer's PIN (an agent-started cash-out, a
/// merchant's payment request): the channel that creates it puts this in its metadata.
pub const APPROVAL_MARKER: &str = r#""approval":"customer""#;
/// Requests listed under Approvals at most.
const APPROVALS_MAX: i64 = 9;

/// Entries a mini statement reads (the engine pages them).
const STATEMENT_ENTRIES: i64 = 10;
/// Recent sends offered for reversal.
const RECENT_SENDS: i64 = 5;

/// The caller of one USSD session.
pub struct Caller {
    pub msisdn: Msisdn,
    pub session_key: String,
}

/// Performs one effect. Store trouble becomes `Unavailable`, which the engine turns into a polite
/// ending (and, after a payment, advice to check SMS and balance).
pub async fn perform(app: &Arc<App>, caller: &Caller, effect: Effect) -> EffectResult {
    match run(app, caller, effect).await {
        Ok(result) => result,
        Err(err) => {
            tracing::warn!(error = %err, caller = %caller.msisdn.masked(), "USSD effect failed");
            EffectResult::Unavailable
        }
    }
}

async fn profile(app: &Arc<App>, msisdn: &Msisdn) -> Result<Option<CustomerProfile>, StoreError> {
    let pool = app.pool.clone();
    let msisdn = msisdn.as_str().to_owned();
    blocking(move || parties::customer_profile(&mut *checkout(&pool)?, &msisdn)).await
}

/// The caller's profile, or `Err(result)` with what to answer when there is none.
async fn registered(
    app: &Arc<App>,
    caller: &Caller,
) -> Result<Result<CustomerProfile, EffectResult>, StoreError> {
    Ok(profile(app, &caller.msisdn)
        .await?
        .ok_or(EffectResult::Rejected(Rejection::AccountNotFound)))
}

/// Checks the PIN; `Err(answer)` for a wrong or locked one.
async fn with_pin(
    app: &Arc<App>,
    customer: &CustomerProfile,
    pin: &str,
) -> Result<Result<(), EffectResult>, StoreError> {
    Ok(match pin::verify(app, customer.id, pin.to_owned()).await? {
        PinCheck::Valid => Ok(()),
        PinCheck::Wrong { attempts_left } => Err(EffectResult::WrongPin { attempts_left }),
        PinCheck::Locked => Err(EffectResult::PinLocked),
    })
}

macro_rules! unwrap_or_answer {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(answer) => return Ok(answer),
        }
    };
}

async fn run(app: &Arc<App>, caller: &Caller, effect: Effect) -> Result<EffectResult, StoreError> {
    match effect {
        Effect::LookupRecipient { msisdn_text } => {
            let Ok(number) = Msisdn::parse(&msisdn_text, app.country) else {
                return Ok(EffectResult::InvalidNumber);
            };
            Ok(match profile(app, &number).await? {
                Some(p) => EffectResult::Recipient {
                    masked_name: mask_name(&p.name),
                },
                None => EffectResult::RecipientUnknown,
            })
        }
        Effect::LookupAgent { agent_code, .. } => {
            let pool = app.pool.clone();
            let name =
                blocking(move || parties::agent_name(&mut *checkout(&pool)?, &agent_code)).await?;
            Ok(
                name.map_or(EffectResult::AgentUnknown, |name| EffectResult::Agent {
                    name,
                }),
            )
        }
        Effect::LookupMerchant { code } => {
            let pool = app.pool.clone();
            let found =
                blocking(move || parties::merchant_profile(&mut *checkout(&pool)?, &code)).await?;
            Ok(match found {
                Some((name, needs_reference)) => EffectResult::Merchant {
                    name,
                    needs_reference,
                },
                None => EffectResult::MerchantUnknown,
            })
        }
        Effect::Quote {
            kind,
            amount_text,
            counterparty,
        } => quote(app, caller, kind, &amount_text, &counterparty).await,
        Effect::ListCatalog {
            category,
            offset,
            limit,
        } => list_catalog(app, category, offset, limit).await,
        Effect::ListApprovals => approvals(app, caller).await,
        Effect::ListRecentSends => recent_sends(app, caller).await,
        Effect::Register {
            name,
            language,
            pin,
        } => register(app, caller, &name, language, pin.expose()).await,
        Effect::Execute {
            action,
            pin,
            step_key,
        } => {
            let customer = unwrap_or_answer!(registered(app, caller).await?);
            unwrap_or_answer!(with_pin(app, &customer, pin.expose()).await?);
            execute(app, caller, &customer, action, step_key).await
        }
        Effect::ListAllowances => {
            let customer = unwrap_or_answer!(registered(app, caller).await?);
            crate::ussd::merchant_requests::list_allowances(app, &customer).await
        }
        Effect::RevokeAllowance { id } => {
            let customer = unwrap_or_answer!(registered(app, caller).await?);
            crate::ussd::merchant_requests::revoke_allowance(app, &customer, &id).await
        }
        Effect::GrantAllowance {
            merchant_code,
            cap,
            per_charge_max,
            days,
            pin,
            step_key,
        } => {
            let customer = unwrap_or_answer!(registered(app, caller).await?);
            unwrap_or_answer!(with_pin(app, &customer, pin.expose()).await?);
            let terms = crate::ussd::merchant_requests::Terms {
                merchant_code,
                cap,
                per_charge_max,
                days,
            };
            crate::ussd::merchant_requests::grant_allowance(app, &customer, terms, step_key).await
        }
        Effect::Balance { pin } => {
            let customer = unwrap_or_answer!(registered(app, caller).await?);
            unwrap_or_answer!(with_pin(app, &customer, pin.expose()).await?);
            let state = wallet(app, customer.wallet).await?;
            Ok(EffectResult::Balance {
                available: Money::from_minor(state.available_minor().unwrap_or(0), state.currency),
            })
        }
        Effect::MiniStatement { pin } => {
            let customer = unwrap_or_answer!(registered(app, caller).await?);
            unwrap_or_answer!(with_pin(app, &customer, pin.expose()).await?);
            statement(app, customer.wallet).await
        }
        Effect::Limits { pin } => {
            let customer = unwrap_or_answer!(registered(app, caller).await?);
            unwrap_or_answer!(with_pin(app, &customer, pin.expose()).await?);
            limits(app, customer.wallet).await
        }
        Effect::ChangePin { old, new } => {
            let customer = unwrap_or_answer!(registered(app, caller).await?);
            unwrap_or_answer!(with_pin(app, &customer, old.expose()).await?);
            let app2 = Arc::clone(app);
            let new = new.expose().to_owned();
            blocking(move || {
                let hash = app2
                    .hasher
                    .hash(&new)
                    .map_err(|e| StoreError::Io(e.to_string()))?;
                parties::set_pin(&mut *checkout(&app2.pool)?, customer.id, &hash)
            })
            .await?;
            Ok(EffectResult::PinChanged)
        }
        Effect::SetLanguage { language } => {
            let customer = unwrap_or_answer!(registered(app, caller).await?);
            let pool = app.pool.clone();
            blocking(move || {
                let mut conn = checkout(&pool)?;
                with_conn!(&mut *conn, |c| diesel::update(
                    customers::table.find(customer.id)
                )
                .set(customers::language.eq(language.code()))
                .execute(c))?;
                Ok(())
            })
            .await?;
            Ok(EffectResult::LanguageSet)
        }
    }
}

async fn wallet(app: &Arc<App>, id: AccountId) -> Result<mkoba_ledger::AccountState, StoreError> {
    let pool = app.pool.clone();
    blocking(move || {
        reads::account(&mut *checkout(&pool)?, id.0)?
            .map(|(_, s)| s)
            .ok_or_else(|| StoreError::Corrupt("wallet missing".into()))
    })
    .await
}

/// Where a counterparty's money goes, and how to show it.
async fn counterparty_account(
    app: &Arc<App>,
    counterparty: &Counterparty,
) -> Result<Option<(AccountId, String)>, StoreError> {
    let pool = app.pool.clone();
    let airtime = app.config.ussd.airtime_merchant.clone();
    let country = app.country;
    let counterparty = counterparty.clone();
    blocking(move || {
        let mut conn = checkout(&pool)?;
        Ok(match counterparty {
            Counterparty::Person { msisdn_text } => {
                let Ok(number) = Msisdn::parse(&msisdn_text, country) else {
                    return Ok(None);
                };
                parties::customer_profile(&mut conn, number.as_str())?
                    .map(|p| (p.wallet, mask_name(&p.name)))
            }
            Counterparty::Agent { agent_code, .. } => {
                let name = parties::agent_name(&mut conn, &agent_code)?;
                parties::agent_by_code(&mut conn, &agent_code)?
                    .zip(name)
                    .map(|((_, float, _), name)| (float, name))
            }
            Counterparty::Merchant { code, .. } => {
                let name = parties::merchant_name(&mut conn, &code)?;
                parties::merchant_by_code(&mut conn, &code)?
                    .zip(name)
                    .map(|((_, account), name)| (account, name))
            }
            Counterparty::Airtime { msisdn_text } => {
                let label = match msisdn_text {
                    Some(text) => match Msisdn::parse(&text, country) {
                        Ok(n) => n.as_str().to_owned(),
                        Err(_) => return Ok(None),
                    },
                    None => String::new(),
                };
                parties::merchant_by_code(&mut conn, &airtime)?.map(|(_, account)| (account, label))
            }
        })
    })
    .await
}

fn parse_amount(app: &App, text: &str, kind: TxnKind) -> Result<Money, Rejection> {
    crate::http::ledger_api::parse_amount(
        app,
        text,
        app.config.ledger.default_currency.code(),
        Some(kind),
    )
}

/// What leaves the customer's wallet on top of the amount: the fees the payer owes.
fn payer_fee(kind: TxnKind, receipt: &mkoba_ledger::Receipt) -> i64 {
    match kind {
        TxnKind::Transfer | TxnKind::Withdrawal => receipt.fee_minor,
        _ => 0,
    }
}

async fn quote(
    app: &Arc<App>,
    caller: &Caller,
    kind: TxnKind,
    amount_text: &str,
    counterparty: &Counterparty,
) -> Result<EffectResult, StoreError> {
    let customer = unwrap_or_answer!(registered(app, caller).await?);
    let amount = match parse_amount(app, amount_text, kind) {
        Ok(m) => m,
        Err(r) => return Ok(EffectResult::Rejected(r)),
    };
    let Some((credit, label)) = counterparty_account(app, counterparty).await? else {
        return Ok(EffectResult::Rejected(Rejection::AccountNotFound));
    };
    let request = TxnRequest {
        idempotency_key: format!("quote:{}", caller.session_key),
        kind,
        debit: customer.wallet,
        credit,
        amount,
        memo: String::new(),
        metadata: String::new(),
        pending_expiry_seconds: None,
    };
    let app2 = Arc::clone(app);
    let now = app.clock.now();
    let outcome = blocking(move || {
        batch::dry_run(
            &mut *checkout(&app2.pool)?,
            &app2.ledger,
            now,
            &Command::Submit(request),
        )
    })
    .await?;
    Ok(match outcome {
        Outcome::Accepted(r) | Outcome::Replayed(r) => {
            let fee = Money::from_minor(payer_fee(kind, &r), amount.currency());
            let total = amount.checked_add(fee).unwrap_or(amount);
            EffectResult::Quote(Quote {
                amount,
                fee,
                total,
                counterparty_label: label,
            })
        }
        Outcome::Rejected(r) => EffectResult::Rejected(r),
    })
}

async fn list_catalog(
    app: &Arc<App>,
    category: Category,
    offset: u32,
    limit: u32,
) -> Result<EffectResult, StoreError> {
    let pool = app.pool.clone();
    let currency = app.config.ledger.default_currency;
    let rows: Vec<(i64, String, i64)> = blocking(move || {
        let mut conn = checkout(&pool)?;
        Ok(with_conn!(&mut *conn, |c| products::table
            .filter(products::category.eq(category.as_str()))
            .filter(products::active.eq(true))
            .filter(products::currency.eq(currency.code()))
            .order((products::price_minor, products::id))
            .offset(i64::from(offset))
            .limit(i64::from(limit) + 1)
            .select((products::id, products::name, products::price_minor))
            .load(c))?)
    })
    .await?;
    let more = rows.len() > usize::try_from(limit).unwrap_or(0);
    let items = rows
        .into_iter()
        .take(usize::try_from(limit).unwrap_or(0))
        .map(|(id, name, price)| Product {
            id: id.to_string(),
            name,
            price: Money::from_minor(price, currency),
        })
        .collect();
    Ok(EffectResult::Products { items, more })
}

async fn recent_sends(app: &Arc<App>, caller: &Caller) -> Result<EffectResult, StoreError> {
    let Some(customer) = profile(app, &caller.msisdn).await? else {
        return Ok(EffectResult::RecentSends(Vec::new()));
    };
    let since = app
        .clock
        .now()
        .saturating_add_seconds(-app.config.ledger.rules.reversal.window_seconds)
        .0;
    let app2 = Arc::clone(app);
    blocking(move || {
        let mut conn = checkout(&app2.pool)?;
        // Newest first along the wallet's chain (`store::chain`), back to the window's start.
        let wallet = customer.wallet.0;
        let wanted = usize::try_from(RECENT_SENDS).unwrap_or(0);
        let start = chain::head(&mut conn, wallet)?;
        let mut rows: Vec<(i64, String, i64, String, i64, i64)> = Vec::new();
        chain::each_round(
            &mut conn,
            wallet,
            start,
            Some(since),
            RECENT_SENDS,
            chain::WALK_STEPS_MAX,
            |conn, walked| {
                let ids: Vec<i64> = walked.iter().map(|t| t.id).collect();
                let mut found: Vec<(i64, String, i64, String, i64, i64)> =
                    with_conn!(&mut *conn, |c| transactions::table
                        .filter(transactions::id.eq_any(&ids))
                        .filter(transactions::debit_account_id.eq(wallet))
                        .filter(transactions::kind.eq(TxnKind::Transfer.as_str()))
                        .filter(
                            transactions::phase
                                .eq_any([Phase::Posted.as_str(), Phase::PostPending.as_str()])
                        )
                        .filter(transactions::created_at.ge(since))
                        .select((
                            transactions::id,
                            transactions::code,
                            transactions::amount_minor,
                            transactions::currency,
                            transactions::credit_account_id,
                            transactions::created_at
                        ))
                        .load(c))?;
                found.sort_by_key(|row| std::cmp::Reverse(row.0));
                rows.extend(found);
                Ok(rows.len() < wanted)
            },
        )?;
        rows.truncate(wanted);
        let rows = rows
            .into_iter()
            .map(|(_, code, amount, currency, credit, at)| (code, amount, currency, credit, at));
        let mut items = Vec::new();
        for (code, amount, currency, credit, at) in rows {
            let currency = crate::store::rows::currency(&currency)?;
            let to_label = parties::customer_name_by_wallet(&mut conn, credit)?
                .map_or_else(|| "***".into(), |n| mask_name(&n));
            let (date, _) =
                local_date_time(mkoba_ledger::Timestamp(at), app2.notify.utc_offset_seconds);
            items.push(SentItem {
                code,
                to_label,
                amount: Money::from_minor(amount, currency),
                date: date.chars().take(5).collect(),
            });
        }
        Ok(EffectResult::RecentSends(items))
    })
    .await
}

/// Open pending transfers the caller pays that wait for the caller's approval.
async fn approvals(app: &Arc<App>, caller: &Caller) -> Result<EffectResult, StoreError> {
    use mkoba_ussd::engine::{ApprovalKind, ApprovalRequest};
    let Some(customer) = profile(app, &caller.msisdn).await? else {
        return Ok(EffectResult::Approvals(Vec::new()));
    };
    let app2 = Arc::clone(app);
    let requests = blocking(move || {
        let mut conn = checkout(&app2.pool)?;
        let rows: Vec<(i64, String, i64, i64, String, i64)> =
            with_conn!(&mut *conn, |c| pending_transfers::table
                .inner_join(
                    transactions::table.on(transactions::id.eq(pending_transfers::transaction_id))
                )
                .filter(pending_transfers::debit_account_id.eq(customer.wallet.0))
                .filter(pending_transfers::status.eq("open"))
                .filter(transactions::metadata.like(format!("%{APPROVAL_MARKER}%")))
                .order(pending_transfers::transaction_id)
                .limit(APPROVALS_MAX)
                .select((
                    pending_transfers::transaction_id,
                    pending_transfers::kind,
                    pending_transfers::amount_minor,
                    pending_transfers::credit_account_id,
                    pending_transfers::currency,
                    transactions::fee_minor,
                ))
                .load(c))?;
        let mut requests = Vec::new();
        for (id, kind, amount, credit, currency, fee) in rows {
            let currency = crate::store::rows::currency(&currency)?;
            let kind = if kind == TxnKind::Withdrawal.as_str() {
                ApprovalKind::Withdrawal
            } else {
                ApprovalKind::MerchantPayment
            };
            let counterparty =
                parties::owner_name(&mut conn, credit)?.unwrap_or_else(|| "mkoba".into());
            requests.push(ApprovalRequest {
                id: id.to_string(),
                kind,
                counterparty,
                amount: Money::from_minor(amount, currency),
                fee: Money::from_minor(fee, currency),
                per_charge_max: None,
                until: None,
                description: None,
            });
        }
        Ok(requests)
    })
    .await?;
    let mut requests = requests;
    requests.extend(crate::ussd::merchant_requests::pending_for(app, customer.id).await?);
    Ok(EffectResult::Approvals(requests))
}

async fn register(
    app: &Arc<App>,
    caller: &Caller,
    name: &str,
    language: Language,
    pin: &str,
) -> Result<EffectResult, StoreError> {
    let app2 = Arc::clone(app);
    let (msisdn, name, pin) = (
        caller.msisdn.as_str().to_owned(),
        name.to_owned(),
        pin.to_owned(),
    );
    blocking(move || {
        let mut conn = checkout(&app2.pool)?;
        if parties::customer_profile(&mut conn, &msisdn)?.is_some() {
            return Ok(EffectResult::AlreadyRegistered);
        }
        let hash = app2
            .hasher
            .hash(&pin)
            .map_err(|e| StoreError::Io(e.to_string()))?;
        let new = parties::NewCustomer {
            msisdn: &msisdn,
            name: &name,
            language: language.code(),
            currency: app2.config.ledger.default_currency,
            tier: mkoba_ledger::Tier::Tier0,
            pin_hash: Some(&hash),
            id_document: None,
        };
        parties::create_customer(&mut conn, &new)?;
        let welcome = Message::Welcome {
            name: mkoba_ussd::gsm::sanitize_field(&name, 30),
        };
        outbox::enqueue(
            &mut conn,
            &app2.notify,
            &msisdn,
            &welcome,
            language,
            app2.clock.now(),
        )?;
        Ok(EffectResult::Registered)
    })
    .await
}

async fn statement(app: &Arc<App>, wallet_id: AccountId) -> Result<EffectResult, StoreError> {
    let app2 = Arc::clone(app);
    blocking(move || {
        let lines = reads::statement(
            &mut *checkout(&app2.pool)?,
            wallet_id.0,
            None,
            STATEMENT_ENTRIES * 2,
        )?;
        let entries = lines
            .into_iter()
            .filter(|l| l.leg == "principal")
            .take(usize::try_from(STATEMENT_ENTRIES).unwrap_or(10))
            .filter_map(|l| {
                let currency = crate::store::rows::currency(&l.currency).ok()?;
                let kind = TxnKind::parse(&l.kind)?;
                let (date, _) = local_date_time(
                    mkoba_ledger::Timestamp(l.created_at),
                    app2.notify.utc_offset_seconds,
                );
                Some(StatementEntry {
                    date: date.chars().take(5).collect(),
                    kind,
                    incoming: l.amount_minor > 0,
                    amount: Money::from_minor(l.amount_minor.abs(), currency),
                    counterparty: l.code,
                })
            })
            .collect();
        Ok(EffectResult::Statement(entries))
    })
    .await
}

async fn limits(app: &Arc<App>, wallet_id: AccountId) -> Result<EffectResult, StoreError> {
    let state = wallet(app, wallet_id).await?;
    let Some(rules) = app.ledger.rules.currencies.get(&state.currency) else {
        return Ok(EffectResult::Rejected(Rejection::CurrencyNotEnabled));
    };
    let tier = rules.tier(state.tier);
    let today = app
        .clock
        .now()
        .day_number(app.ledger.rules.utc_offset_seconds);
    let money = |m: i64| Money::from_minor(m, state.currency);
    Ok(EffectResult::Limits(LimitsInfo {
        tier: state.tier,
        per_transaction: money(tier.per_transaction_minor),
        daily: money(tier.daily_debits_minor),
        daily_left: money(
            tier.daily_debits_minor
                .saturating_sub(state.debits_on(today))
                .max(0),
        ),
        balance_max: money(tier.balance_minor),
    }))
}

/// A pending transfer this customer pays that waits for their approval, if `id` names one still
/// open: a customer can approve or decline only requests addressed to them.
async fn awaiting_approval(
    app: &Arc<App>,
    wallet_id: AccountId,
    id: i64,
) -> Result<Option<TxnId>, StoreError> {
    let pool = app.pool.clone();
    blocking(move || {
        let mut conn = checkout(&pool)?;
        let found: Option<(i64, String)> = with_conn!(&mut *conn, |c| pending_transfers::table
            .inner_join(
                transactions::table.on(transactions::id.eq(pending_transfers::transaction_id))
            )
            .filter(pending_transfers::transaction_id.eq(id))
            .filter(pending_transfers::debit_account_id.eq(wallet_id.0))
            .filter(pending_transfers::status.eq("open"))
            .select((pending_transfers::transaction_id, transactions::metadata))
            .get_result(c)
            .optional())?;
        Ok(found
            .filter(|(_, metadata)| metadata.contains(APPROVAL_MARKER))
            .map(|(id, _)| TxnId(id)))
    })
    .await
}

async fn last_open_send(app: &Arc<App>, wallet_id: AccountId) -> Result<Option<TxnId>, StoreError> {
    let pool = app.pool.clone();
    blocking(move || {
        let mut conn = checkout(&pool)?;
        let found: Option<i64> = with_conn!(&mut *conn, |c| pending_transfers::table
            .filter(pending_transfers::debit_account_id.eq(wallet_id.0))
            .filter(pending_transfers::kind.eq(TxnKind::Transfer.as_str()))
            .filter(pending_transfers::status.eq("open"))
            .order(pending_transfers::transaction_id.desc())
            .select(pending_transfers::transaction_id)
            .first(c)
            .optional())?;
        Ok(found.map(TxnId))
    })
    .await
}

fn submit_request(
    key: String,
    kind: TxnKind,
    debit: AccountId,
    credit: AccountId,
    amount: Money,
    memo: String,
    pending: Option<i64>,
) -> Command {
    Command::Submit(TxnRequest {
        idempotency_key: key,
        kind,
        debit,
        credit,
        amount,
        memo,
        metadata: r#"{"channel":"ussd"}"#.into(),
        pending_expiry_seconds: pending,
    })
}

async fn execute(
    app: &Arc<App>,
    caller: &Caller,
    customer: &CustomerProfile,
    action: MoneyAction,
    step_key: String,
) -> Result<EffectResult, StoreError> {
    let wallet_id = customer.wallet;
    let command = match action {
        MoneyAction::Send {
            msisdn_text,
            amount,
        } => {
            let Some((to, _)) =
                counterparty_account(app, &Counterparty::Person { msisdn_text }).await?
            else {
                return Ok(EffectResult::Rejected(Rejection::AccountNotFound));
            };
            // Held for the cancel window, then posted by the sweeper; the expiry is only a
            // backstop that returns the money if posting never happens.
            let hold = app.config.ussd.cancel_window_seconds + 3_600;
            submit_request(
                step_key,
                TxnKind::Transfer,
                wallet_id,
                to,
                amount,
                String::new(),
                Some(hold),
            )
        }
        MoneyAction::Withdraw {
            agent_code,
            till,
            amount,
        } => {
            let Some((float, _)) =
                counterparty_account(app, &Counterparty::Agent { agent_code, till }).await?
            else {
                return Ok(EffectResult::Rejected(Rejection::AccountNotFound));
            };
            let expiry = app.config.ussd.withdrawal_expiry_seconds;
            submit_request(
                step_key,
                TxnKind::Withdrawal,
                wallet_id,
                float,
                amount,
                String::new(),
                Some(expiry),
            )
        }
        MoneyAction::BuyAirtime {
            msisdn_text,
            amount,
        } => {
            let target = msisdn_text
                .clone()
                .unwrap_or_else(|| caller.msisdn.as_str().to_owned());
            let Some((merchant, _)) =
                counterparty_account(app, &Counterparty::Airtime { msisdn_text }).await?
            else {
                return Ok(EffectResult::Rejected(Rejection::AccountNotFound));
            };
            submit_request(
                step_key,
                TxnKind::Purchase,
                wallet_id,
                merchant,
                amount,
                format!("airtime {target}"),
                None,
            )
        }
        MoneyAction::BuyProduct { product_id, price } => {
            let Ok(id) = product_id.parse::<i64>() else {
                return Ok(EffectResult::Unavailable);
            };
            let pool = app.pool.clone();
            let product =
                blocking(move || parties::product_for_sale(&mut *checkout(&pool)?, id)).await?;
            // The customer confirmed a price; if it changed since, nothing is charged.
            let Some((account, name, price_minor)) =
                product.filter(|(_, _, p)| *p == price.minor())
            else {
                return Ok(EffectResult::Unavailable);
            };
            submit_request(
                step_key,
                TxnKind::Purchase,
                wallet_id,
                account,
                Money::from_minor(price_minor, price.currency()),
                name,
                None,
            )
        }
        MoneyAction::PayMerchant {
            code,
            reference,
            amount,
        } => {
            let memo = reference.clone().unwrap_or_default();
            let Some((merchant, _)) =
                counterparty_account(app, &Counterparty::Merchant { code, reference }).await?
            else {
                return Ok(EffectResult::Rejected(Rejection::AccountNotFound));
            };
            submit_request(
                step_key,
                TxnKind::MerchantPayment,
                wallet_id,
                merchant,
                amount,
                memo,
                None,
            )
        }
        MoneyAction::Approve { request_id }
            if crate::ussd::merchant_requests::is_merchant_request(&request_id) =>
        {
            return crate::ussd::merchant_requests::answer(
                app,
                customer,
                &request_id,
                true,
                step_key,
            )
            .await;
        }
        MoneyAction::Decline { request_id }
            if crate::ussd::merchant_requests::is_merchant_request(&request_id) =>
        {
            return crate::ussd::merchant_requests::answer(
                app,
                customer,
                &request_id,
                false,
                step_key,
            )
            .await;
        }
        MoneyAction::Approve { request_id } | MoneyAction::Decline { request_id }
            if request_id.parse::<i64>().is_err() =>
        {
            return Ok(EffectResult::Rejected(Rejection::PendingNotFound));
        }
        MoneyAction::Approve { request_id } => {
            let id = request_id.parse::<i64>().unwrap_or(0);
            let Some(pending) = awaiting_approval(app, wallet_id, id).await? else {
                return Ok(EffectResult::Rejected(Rejection::PendingNotFound));
            };
            Command::PostPending {
                idempotency_key: step_key,
                pending,
                amount_minor: None,
            }
        }
        MoneyAction::Decline { request_id } => {
            let id = request_id.parse::<i64>().unwrap_or(0);
            let Some(pending) = awaiting_approval(app, wallet_id, id).await? else {
                return Ok(EffectResult::Rejected(Rejection::PendingNotFound));
            };
            Command::VoidPending {
                idempotency_key: step_key,
                pending,
                reason: VoidReason::Cancelled,
            }
        }
        MoneyAction::CancelLastSend => {
            let Some(pending) = last_open_send(app, wallet_id).await? else {
                return Ok(EffectResult::Rejected(Rejection::PendingNotFound));
            };
            Command::VoidPending {
                idempotency_key: step_key,
                pending,
                reason: VoidReason::Cancelled,
            }
        }
        MoneyAction::Reverse { code } => {
            let Some(id) = app.ledger.codes.id_for(&code) else {
                return Ok(EffectResult::Rejected(Rejection::TransactionNotFound));
            };
            let pool = app.pool.clone();
            let txn =
                blocking(move || reads::transaction_by_id(&mut *checkout(&pool)?, id.0)).await?;
            // Only the sender may ask, and only for their own sends.
            let own = txn.filter(|t| {
                t.code == code
                    && t.debit_account_id == wallet_id.0
                    && t.kind == TxnKind::Transfer.as_str()
            });
            let Some(txn) = own else {
                return Ok(EffectResult::Rejected(Rejection::TransactionNotFound));
            };
            Command::Reverse {
                idempotency_key: step_key,
                original: TxnId(txn.id),
                memo: "requested on USSD".into(),
            }
        }
    };
    let outcome = app.writer.submit(command).await?;
    let receipt = match outcome {
        Outcome::Accepted(r) | Outcome::Replayed(r) => r,
        Outcome::Rejected(r) => return Ok(EffectResult::Rejected(r)),
    };
    let state = wallet(app, wallet_id).await?;
    let fee = Money::from_minor(payer_fee(receipt.kind, &receipt), receipt.amount.currency());
    Ok(EffectResult::Done(Receipt {
        code: receipt.code,
        amount: receipt.amount,
        fee,
        new_balance: Some(Money::from_minor(
            state.available_minor().unwrap_or(0),
            state.currency,
        )),
    }))
}
