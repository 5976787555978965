//! Creating the owners of accounts — the operator's system accounts, customers, agents,
//! merchants — and changing account status. Each creation writes its rows in one transaction.

use std::collections::BTreeMap;

use diesel::prelude::*;
use mkoba_ledger::{AccountId, AccountKind, AccountStatus, Currency, Tier};
use serde::Serialize;

use crate::store::db::{write_transaction, AnyConnection};
use crate::store::rows::NewAccount;
use crate::store::schema::{accounts, agents, customers, merchants, products, settings};
use crate::store::{now_micros, StoreError};
use crate::with_conn;

fn insert_account(conn: &mut AnyConnection, new: &NewAccount<'_>) -> Result<AccountId, StoreError> {
    let id: i64 = with_conn!(conn, |c| diesel::insert_into(accounts::table)
        .values(new)
        .returning(accounts::id)
        .get_result(c))?;
    Ok(AccountId(id))
}

fn new_account<'a>(
    kind: AccountKind,
    currency: &'a str,
    tier: Tier,
    owner_type: &'a str,
    label: &'a str,
) -> NewAccount<'a> {
    NewAccount {
        kind: kind.as_str(),
        currency,
        status: AccountStatus::Active.as_str(),
        tier: i16::try_from(tier.index()).unwrap_or(0),
        owner_type,
        owner_id: None,
        commission_account_id: None,
        label,
        created_at: now_micros(),
        shard: 0,
    }
}

/// The operator's own accounts for one currency.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct SystemAccounts {
    pub fee_revenue: AccountId,
    pub issuance: AccountId,
    pub suspense: AccountId,
}

/// Finds or creates the fee revenue, e-money issuance and suspense accounts of each currency.
pub fn ensure_system_accounts(
    conn: &mut AnyConnection,
    currencies: &[Currency],
) -> Result<BTreeMap<Currency, SystemAccounts>, StoreError> {
    write_transaction(conn, |conn| {
        let mut out = BTreeMap::new();
        for currency in currencies {
            let code = currency.code();
            let mut ids = [AccountId(0); 3];
            let kinds = [
                AccountKind::FeeRevenue,
                AccountKind::EmoneyIssuance,
                AccountKind::Suspense,
            ];
            for (slot, kind) in ids.iter_mut().zip(kinds) {
                let existing: Option<i64> = with_conn!(&mut *conn, |c| accounts::table
                    .filter(accounts::owner_type.eq("operator"))
                    .filter(accounts::kind.eq(kind.as_str()))
                    .filter(accounts::currency.eq(code))
                    .filter(accounts::shard.eq(0))
                    .select(accounts::id)
                    .get_result(c)
                    .optional())?;
                *slot = match existing {
                    Some(id) => AccountId(id),
                    None => {
                        let label = format!("{} {}", kind.as_str().replace('_', " "), code);
                        insert_account(
                            conn,
                            &new_account(kind, code, Tier::Tier2, "operator", &label),
                        )?
                    }
                };
            }
            let [fee_revenue, issuance, suspense] = ids;
            out.insert(
                *currency,
                SystemAccounts {
                    fee_revenue,
                    issuance,
                    suspense,
                },
            );
        }
        Ok(out)
    })
}

/// The fee revenue accounts of `currency`, shards `0..count`, created as needed; shard 0 is
/// [`SystemAccounts::fee_revenue`]. Each ledger writer thread credits its own shard, so that
/// concurrent batches do not wait on one row (see migration `000012`).
pub fn fee_revenue_shards(
    conn: &mut AnyConnection,
    currency: Currency,
    count: usize,
) -> Result<Vec<AccountId>, StoreError> {
    write_transaction(conn, |conn| {
        let code = currency.code();
        let mut shards = Vec::with_capacity(count);
        for shard in 0..count {
            let shard = i16::try_from(shard)
                .map_err(|_| StoreError::Conflict("too many fee revenue shards".into()))?;
            let kind = AccountKind::FeeRevenue;
            let existing: Option<i64> = with_conn!(&mut *conn, |c| accounts::table
                .filter(accounts::owner_type.eq("operator"))
                .filter(accounts::kind.eq(kind.as_str()))
                .filter(accounts::currency.eq(code))
                .filter(accounts::shard.eq(shard))
                .select(accounts::id)
                .get_result(c)
                .optional())?;
            let id = match existing {
                Some(id) => AccountId(id),
                None => {
                    let label = format!("fee revenue {code} shard {shard}");
                    let mut account = new_account(kind, code, Tier::Tier2, "operator", &label);
                    account.shard = shard;
                    insert_account(conn, &account)?
                }
            };
            shards.push(id);
        }
        Ok(shards)
    })
}

#[derive(Clone, Debug)]
pub struct NewCustomer<'a> {
    pub msisdn: &'a str,
    pub name: &'a str,
    pub language: &'a str,
    pub currency: Currency,
    pub tier: Tier,
    pub pin_hash: Option<&'a str>,
    pub id_document: Option<&'a str>,
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct CreatedCustomer {
    pub customer_id: i64,
    pub wallet: AccountId,
}

pub fn create_customer(
    conn: &mut AnyConnection,
    new: &NewCustomer<'_>,
) -> Result<CreatedCustomer, StoreError> {
    write_transaction(conn, |conn| {
        let label = format!("wallet {}", new.name);
        let wallet = insert_account(
            conn,
            &new_account(
                AccountKind::CustomerWallet,
                new.currency.code(),
                new.tier,
                "customer",
                &label,
            ),
        )?;
        let customer_id: i64 = with_conn!(&mut *conn, |c| diesel::insert_into(customers::table)
            .values((
                customers::msisdn.eq(new.msisdn),
                customers::name.eq(new.name),
                customers::language.eq(new.language),
                customers::wallet_account_id.eq(wallet.0),
                customers::pin_hash.eq(new.pin_hash),
                customers::id_document.eq(new.id_document),
                customers::created_at.eq(now_micros()),
            ))
            .returning(customers::id)
            .get_result(c))?;
        set_owner(conn, wallet, customer_id)?;
        Ok(CreatedCustomer {
            customer_id,
            wallet,
        })
    })
}

fn set_owner(
    conn: &mut AnyConnection,
    account: AccountId,
    owner_id: i64,
) -> Result<(), StoreError> {
    with_conn!(conn, |c| diesel::update(accounts::table.find(account.0))
        .set(accounts::owner_id.eq(Some(owner_id)))
        .execute(c))?;
    Ok(())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum AgentRole {
    Agent,
    SuperAgent,
}

impl AgentRole {
    pub const fn as_str(self) -> &'static str {
        match self {
            AgentRole::Agent => "agent",
            AgentRole::SuperAgent => "super_agent",
        }
    }
}

#[derive(Clone, Debug)]
pub struct NewAgent<'a> {
    pub code: &'a str,
    pub name: &'a str,
    pub role: AgentRole,
    pub parent_agent_id: Option<i64>,
    pub msisdn: &'a str,
    pub currency: Currency,
    pub password_hash: &'a str,
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct CreatedAgent {
    pub agent_id: i64,
    pub float: AccountId,
    pub commission: Option<AccountId>,
}

/// An agent gets a float and a commission account; a super-agent only a float (it earns from
/// the float business it runs, not per-transaction commission).
pub fn create_agent(
    conn: &mut AnyConnection,
    new: &NewAgent<'_>,
) -> Result<CreatedAgent, StoreError> {
    write_transaction(conn, |conn| {
        let code = new.currency.code();
        let commission = match new.role {
            AgentRole::Agent => {
                let label = format!("commission {}", new.code);
                Some(insert_account(
                    conn,
                    &new_account(
                        AccountKind::AgentCommission,
                        code,
                        Tier::Tier2,
                        "agent",
                        &label,
                    ),
                )?)
            }
            AgentRole::SuperAgent => None,
        };
        let label = format!("float {}", new.code);
        let mut float_account =
            new_account(AccountKind::AgentFloat, code, Tier::Tier2, "agent", &label);
        float_account.commission_account_id = commission.map(|c| c.0);
        let float = insert_account(conn, &float_account)?;
        let agent_id: i64 = with_conn!(&mut *conn, |c| diesel::insert_into(agents::table)
            .values((
                agents::code.eq(new.code),
                agents::name.eq(new.name),
                agents::role.eq(new.role.as_str()),
                agents::parent_agent_id.eq(new.parent_agent_id),
                agents::msisdn.eq(new.msisdn),
                agents::float_account_id.eq(float.0),
                agents::commission_account_id.eq(commission.map(|c| c.0)),
                agents::password_hash.eq(new.password_hash),
                agents::created_at.eq(now_micros()),
            ))
            .returning(agents::id)
            .get_result(c))?;
        set_owner(conn, float, agent_id)?;
        if let Some(commission) = commission {
            set_owner(conn, commission, agent_id)?;
        }
        Ok(CreatedAgent {
            agent_id,
            float,
            commission,
        })
    })
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct CreatedMerchant {
    pub merchant_id: i64,
    pub account: AccountId,
}

pub fn create_merchant(
    conn: &mut AnyConnection,
    code: &str,
    name: &str,
    currency: Currency,
) -> Result<CreatedMerchant, StoreError> {
    write_transaction(conn, |conn| {
        let label = format!("merchant {code}");
        let account = insert_account(
            conn,
            &new_account(
                AccountKind::Merchant,
                currency.code(),
                Tier::Tier2,
                "merchant",
                &label,
            ),
        )?;
        let merchant_id: i64 = with_conn!(&mut *conn, |c| diesel::insert_into(merchants::table)
            .values((
                merchants::code.eq(code),
                merchants::name.eq(name),
                merchants::account_id.eq(account.0),
                merchants::created_at.eq(now_micros()),
            ))
            .returning(merchants::id)
            .get_result(c))?;
        set_owner(conn, account, merchant_id)?;
        Ok(CreatedMerchant {
            merchant_id,
            account,
        })
    })
}

#[derive(Clone, Debug)]
pub struct NewProduct<'a> {
    pub merchant_id: i64,
    pub sku: &'a str,
    pub name: &'a str,
    pub category: &'a str,
    pub price_minor: i64,
    pub currency: Currency,
}

pub fn create_product(conn: &mut AnyConnection, new: &NewProduct<'_>) -> Result<i64, StoreError> {
    Ok(with_conn!(conn, |c| diesel::insert_into(products::table)
        .values((
            products::merchant_id.eq(new.merchant_id),
            products::sku.eq(new.sku),
            products::name.eq(new.name),
            products::category.eq(new.category),
            products::price_minor.eq(new.price_minor),
            products::currency.eq(new.currency.code()),
            products::active.eq(true),
        ))
        .returning(products::id)
        .get_result(c))?)
}

/// Freezes, unfreezes or closes an account. Returns false if no such account exists.
/// Runs as a write transaction so that, on PostgreSQL, it waits for any batch holding the row.
pub fn set_status(
    conn: &mut AnyConnection,
    account: AccountId,
    status: AccountStatus,
) -> Result<bool, StoreError> {
    write_transaction(conn, |conn| {
        let n = with_conn!(conn, |c| diesel::update(accounts::table.find(account.0))
            .set(accounts::status.eq(status.as_str()))
            .execute(c))?;
        Ok(n == 1)
    })
}

pub fn set_blacklisted(
    conn: &mut AnyConnection,
    account: AccountId,
    blacklisted: bool,
) -> Result<bool, StoreError> {
    write_transaction(conn, |conn| {
        let n = with_conn!(conn, |c| diesel::update(accounts::table.find(account.0))
            .set(accounts::blacklisted.eq(blacklisted))
            .execute(c))?;
        Ok(n == 1)
    })
}

pub fn setting(conn: &mut AnyConnection, name: &str) -> Result<Option<String>, StoreError> {
    Ok(with_conn!(conn, |c| settings::table
        .find(name)
        .select(settings::value)
        .get_result(c)
        .optional())?)
}

pub fn put_setting(conn: &mut AnyConnection, name: &str, value: &str) -> Result<(), StoreError> {
    with_conn!(conn, |c| diesel::insert_into(settings::table)
        .values((settings::name.eq(name), settings::value.eq(value)))
        .execute(c))?;
    Ok(())
}

/// Looks up a customer's wallet by E.164 number.
pub fn customer_by_msisdn(
    conn: &mut AnyConnection,
    msisdn: &str,
) -> Result<Option<(i64, String, AccountId)>, StoreError> {
    let row: Option<(i64, String, i64)> = with_conn!(conn, |c| customers::table
        .filter(customers::msisdn.eq(msisdn))
        .select((customers::id, customers::name, customers::wallet_account_id))
        .get_result(c)
        .optional())?;
    Ok(row.map(|(id, name, wallet)| (id, name, AccountId(wallet))))
}

pub fn agent_by_code(
    conn: &mut AnyConnection,
    code: &str,
) -> Result<Option<(i64, AccountId, Option<AccountId>)>, StoreError> {
    let row: Option<(i64, i64, Option<i64>)> = with_conn!(conn, |c| agents::table
        .filter(agents::code.eq(code))
        .select((
            agents::id,
            agents::float_account_id,
            agents::commission_account_id
        ))
        .get_result(c)
        .optional())?;
    Ok(row.map(|(id, float, commission)| (id, AccountId(float), commission.map(AccountId))))
}

pub fn merchant_by_code(
    conn: &mut AnyConnection,
    code: &str,
) -> Result<Option<(i64, AccountId)>, StoreError> {
    let row: Option<(i64, i64)> = with_conn!(conn, |c| merchants::table
        .filter(merchants::code.eq(code))
        .select((merchants::id, merchants::account_id))
        .get_result(c)
        .optional())?;
    Ok(row.map(|(id, account)| (id, AccountId(account))))
}

pub fn product_exists(
    conn: &mut AnyConnection,
    merchant_id: i64,
    sku: &str,
) -> Result<bool, StoreError> {
    let found: Option<i64> = with_conn!(conn, |c| products::table
        .filter(products::merchant_id.eq(merchant_id))
        .filter(products::sku.eq(sku))
        .select(products::id)
        .get_result(c)
        .optional())?;
    Ok(found.is_some())
}

/// What inbound SMS and USSD need to know about a registered customer.
#[derive(Clone, Debug)]
pub struct CustomerProfile {
    pub id: i64,
    pub name: String,
    pub language: String,
    pub wallet: AccountId,
    pub promotions_opt_out: bool,
}

pub fn customer_profile(
    conn: &mut AnyConnection,
    msisdn: &str,
) -> Result<Option<CustomerProfile>, StoreError> {
    let row: Option<(i64, String, String, i64, bool)> = with_conn!(conn, |c| customers::table
        .filter(customers::msisdn.eq(msisdn))
        .select((
            customers::id,
            customers::name,
            customers::language,
            customers::wallet_account_id,
            customers::sms_promotions_opt_out
        ))
        .get_result(c)
        .optional())?;
    Ok(row.map(
        |(id, name, language, wallet, promotions_opt_out)| CustomerProfile {
            id,
            name,
            language,
            wallet: AccountId(wallet),
            promotions_opt_out,
        },
    ))
}

pub fn set_promotions_opt_out(
    conn: &mut AnyConnection,
    customer_id: i64,
    opt_out: bool,
) -> Result<(), StoreError> {
    with_conn!(conn, |c| diesel::update(customers::table.find(customer_id))
        .set(customers::sms_promotions_opt_out.eq(opt_out))
        .execute(c))?;
    Ok(())
}

pub fn agent_name(conn: &mut AnyConnection, code: &str) -> Result<Option<String>, StoreError> {
    Ok(with_conn!(conn, |c| agents::table
        .filter(agents::code.eq(code))
        .select(agents::name)
        .get_result(c)
        .optional())?)
}

pub fn merchant_name(conn: &mut AnyConnection, code: &str) -> Result<Option<String>, StoreError> {
    Ok(merchant_profile(conn, code)?.map(|(name, _)| name))
}

/// A merchant's name and whether it needs the customer's account number with each payment.
pub fn merchant_profile(
    conn: &mut AnyConnection,
    code: &str,
) -> Result<Option<(String, bool)>, StoreError> {
    Ok(with_conn!(conn, |c| merchants::table
        .filter(merchants::code.eq(code))
        .select((merchants::name, merchants::requires_reference))
        .get_result(c)
        .optional())?)
}

pub fn set_requires_reference(
    conn: &mut AnyConnection,
    code: &str,
    required: bool,
) -> Result<bool, StoreError> {
    let n = with_conn!(conn, |c| diesel::update(
        merchants::table.filter(merchants::code.eq(code))
    )
    .set(merchants::requires_reference.eq(required))
    .execute(c))?;
    Ok(n == 1)
}

pub fn customer_name_by_wallet(
    conn: &mut AnyConnection,
    wallet: i64,
) -> Result<Option<String>, StoreError> {
    Ok(with_conn!(conn, |c| customers::table
        .filter(customers::wallet_account_id.eq(wallet))
        .select(customers::name)
        .get_result(c)
        .optional())?)
}

/// Sets a new PIN hash, clearing wrong-try counts, the lock and the must-change flag.
pub fn set_pin(
    conn: &mut AnyConnection,
    customer_id: i64,
    pin_hash: &str,
) -> Result<(), StoreError> {
    with_conn!(conn, |c| diesel::update(customers::table.find(customer_id))
        .set((
            customers::pin_hash.eq(Some(pin_hash)),
            customers::pin_failures.eq(0),
            customers::pin_locked.eq(false),
            customers::pin_must_change.eq(false),
        ))
        .execute(c))?;
    Ok(())
}

/// An active product's merchant account, name and price.
pub fn product_for_sale(
    conn: &mut AnyConnection,
    id: i64,
) -> Result<Option<(AccountId, String, i64)>, StoreError> {
    let row: Option<(i64, String, i64)> = with_conn!(conn, |c| products::table
        .inner_join(merchants::table)
        .filter(products::id.eq(id))
        .filter(products::active.eq(true))
        .select((merchants::account_id, products::name, products::price_minor))
        .get_result(c)
        .optional())?;
    Ok(row.map(|(account, name, price)| (AccountId(account), name, price)))
}

/// Whether a customer's PIN is locked or must be changed, for the USSD profile.
pub fn pin_flags(conn: &mut AnyConnection, customer_id: i64) -> Result<(bool, bool), StoreError> {
    Ok(with_conn!(conn, |c| customers::table
        .find(customer_id)
        .select((customers::pin_locked, customers::pin_must_change))
        .get_result(c))?)
}

/// The display name of whoever owns an account: agent, merchant or customer (masked elsewhere).
pub fn owner_name(conn: &mut AnyConnection, account: i64) -> Result<Option<String>, StoreError> {
    let agent: Option<String> = with_conn!(&mut *conn, |c| agents::table
        .filter(agents::float_account_id.eq(account))
        .select(agents::name)
        .get_result(c)
        .optional())?;
    if agent.is_some() {
        return Ok(agent);
    }
    let merchant: Option<String> = with_conn!(&mut *conn, |c| merchants::table
        .filter(merchants::account_id.eq(account))
        .select(merchants::name)
        .get_result(c)
        .optional())?;
    Ok(merchant)
}

/// Stores a setting unless one of that name exists (two processes starting at once both succeed).
pub fn put_setting_if_absent(
    conn: &mut AnyConnection,
    name: &str,
    value: &str,
) -> Result<(), StoreError> {
    with_conn!(conn, |c| diesel::insert_into(settings::table)
        .values((settings::name.eq(name), settings::value.eq(value)))
        .on_conflict(settings::name)
        .do_nothing()
        .execute(c))?;
    Ok(())
}

/// Gives a customer a one-time start PIN (after an agent or operator checked their ID): unlocks
/// the wallet, clears wrong tries, and forces a change at first use.
pub fn reset_pin(
    conn: &mut AnyConnection,
    customer_id: i64,
    pin_hash: &str,
) -> Result<(), StoreError> {
    set_pin(conn, customer_id, pin_hash)?;
    with_conn!(conn, |c| diesel::update(customers::table.find(customer_id))
        .set(customers::pin_must_change.eq(true))
        .execute(c))?;
    Ok(())
}

/// Opens `count` customer wallets in one transaction (benchmarks and load tests), with numbers
/// `prefix` + a zero-padded index. Returns the wallets in order.
pub fn bulk_customers(
    conn: &mut AnyConnection,
    count: usize,
    prefix: &str,
    currency: Currency,
    tier: Tier,
) -> Result<Vec<AccountId>, StoreError> {
    write_transaction(conn, |conn| {
        let mut wallets = Vec::with_capacity(count);
        for i in 0..count {
            let msisdn = format!("{prefix}{i:06}");
            let label = format!("wallet {msisdn}");
            let wallet = insert_account(
                conn,
                &new_account(
                    AccountKind::CustomerWallet,
                    currency.code(),
                    tier,
                    "customer",
                    &label,
                ),
            )?;
            with_conn!(&mut *conn, |c| diesel::insert_into(customers::table)
                .values((
                    customers::msisdn.eq(&msisdn),
                    customers::name.eq("Bench Customer"),
                    customers::language.eq("en"),
                    customers::wallet_account_id.eq(wallet.0),
                    customers::created_at.eq(now_micros()),
                ))
                .execute(c))?;
            wallets.push(wallet);
        }
        Ok(wallets)
    })
}
