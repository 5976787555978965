//! The portal's tables: users, sessions, the audit log and float issuance requests, plus the
//! few scoped reads its pages need. Synchronous diesel, called through `store::blocking`.

use std::collections::HashMap;

use diesel::prelude::*;
use mkoba_ledger::{AccountId, Tier};

use crate::portal::session::AgentInfo;
use crate::store::db::{write_transaction, AnyConnection};
use crate::store::schema::{
    accounts, agents, customers, float_requests, pending_transfers, portal_audit, portal_sessions,
    portal_users, transactions,
};
use crate::store::StoreError;
use crate::with_conn;

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = portal_users)]
pub struct UserRow {
    pub id: i64,
    pub login: String,
    pub name: String,
    pub role: String,
    pub agent_id: Option<i64>,
    pub password_hash: String,
    pub must_change_password: bool,
    pub failed_attempts: i32,
    pub locked_until: i64,
    pub created_at: i64,
}

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = portal_sessions)]
pub struct SessionRow {
    pub id_hash: String,
    pub user_id: i64,
    pub csrf_token: String,
    pub created_at: i64,
    pub last_seen_at: i64,
}

pub struct NewUser<'a> {
    pub login: &'a str,
    pub name: &'a str,
    pub role: &'a str,
    pub agent_id: Option<i64>,
    pub password_hash: &'a str,
    pub must_change_password: bool,
    pub now: i64,
}

/// Logins are case-insensitive for people and stored in capitals (agent codes are).
pub fn normalize_login(text: &str) -> String {
    text.trim().to_ascii_uppercase()
}

pub fn user_by_login(conn: &mut AnyConnection, login: &str) -> Result<Option<UserRow>, StoreError> {
    Ok(with_conn!(conn, |c| portal_users::table
        .filter(portal_users::login.eq(login))
        .select(UserRow::as_select())
        .first(c)
        .optional())?)
}

pub fn user_by_id(conn: &mut AnyConnection, id: i64) -> Result<Option<UserRow>, StoreError> {
    Ok(with_conn!(conn, |c| portal_users::table
        .find(id)
        .select(UserRow::as_select())
        .first(c)
        .optional())?)
}

/// Inserts a user; `Ok(None)` if the login is taken (two first sign-ins at once both succeed).
pub fn insert_user(conn: &mut AnyConnection, new: &NewUser<'_>) -> Result<Option<i64>, StoreError> {
    let id: Option<i64> = with_conn!(conn, |c| diesel::insert_into(portal_users::table)
        .values((
            portal_users::login.eq(new.login),
            portal_users::name.eq(new.name),
            portal_users::role.eq(new.role),
            portal_users::agent_id.eq(new.agent_id),
            portal_users::password_hash.eq(new.password_hash),
            portal_users::must_change_password.eq(new.must_change_password),
            portal_users::created_at.eq(new.now),
        ))
        .on_conflict(portal_users::login)
        .do_nothing()
        .returning(portal_users::id)
        .get_result(c)
        .optional())?;
    Ok(id)
}

/// An agent's owner signing in for the first time: the password the agent was created with
/// (`agents.password_hash`, set by `mkoba admin create-agent` or an import) becomes their portal
/// login. Only argon2 PHC strings are adopted.
pub fn adopt_agent_owner(
    conn: &mut AnyConnection,
    login: &str,
    now: i64,
) -> Result<Option<UserRow>, StoreError> {
    let found: Option<(i64, String, String, String)> = with_conn!(&mut *conn, |c| agents::table
        .filter(agents::code.eq(login))
        .select((
            agents::id,
            agents::name,
            agents::role,
            agents::password_hash
        ))
        .first(c)
        .optional())?;
    let Some((agent_id, name, role, hash)) = found else {
        return Ok(None);
    };
    if !hash.starts_with("$argon2") {
        return Ok(None);
    }
    let role = if role == "super_agent" {
        "super_agent"
    } else {
        "agent_owner"
    };
    insert_user(
        conn,
        &NewUser {
            login,
            name: &name,
            role,
            agent_id: Some(agent_id),
            password_hash: &hash,
            must_change_password: false,
            now,
        },
    )?;
    user_by_login(conn, login)
}

/// Counts a wrong password and, from `threshold` failures in a row, locks the login for
/// `base · 2^(failures − threshold)` seconds, at most `max`. Returns the lock's end (0: none).
pub fn record_failure(
    conn: &mut AnyConnection,
    user_id: i64,
    now: i64,
    threshold: u32,
    base_seconds: i64,
    max_seconds: i64,
) -> Result<i64, StoreError> {
    write_transaction(conn, |conn| {
        let failures: i32 = with_conn!(&mut *conn, |c| diesel::update(
            portal_users::table.find(user_id)
        )
        .set(portal_users::failed_attempts.eq(portal_users::failed_attempts + 1))
        .returning(portal_users::failed_attempts)
        .get_result(c))?;
        let failures = u32::try_from(failures).unwrap_or(0);
        if failures < threshold {
            return Ok(0);
        }
        let doublings = (failures - threshold).min(30);
        let seconds = base_seconds
            .saturating_mul(1_i64 << doublings)
            .min(max_seconds);
        let until = now.saturating_add(seconds.saturating_mul(1_000_000));
        with_conn!(&mut *conn, |c| diesel::update(
            portal_users::table.find(user_id)
        )
        .set(portal_users::locked_until.eq(until))
        .execute(c))?;
        Ok(until)
    })
}

pub fn record_success(conn: &mut AnyConnection, user_id: i64) -> Result<(), StoreError> {
    with_conn!(conn, |c| diesel::update(portal_users::table.find(user_id))
        .set((
            portal_users::failed_attempts.eq(0),
            portal_users::locked_until.eq(0),
        ))
        .execute(c))?;
    Ok(())
}

pub fn set_password(
    conn: &mut AnyConnection,
    user_id: i64,
    hash: &str,
    must_change: bool,
) -> Result<(), StoreError> {
    with_conn!(conn, |c| diesel::update(portal_users::table.find(user_id))
        .set((
            portal_users::password_hash.eq(hash),
            portal_users::must_change_password.eq(must_change),
            portal_users::failed_attempts.eq(0),
            portal_users::locked_until.eq(0),
        ))
        .execute(c))?;
    Ok(())
}

pub fn create_session(
    conn: &mut AnyConnection,
    id_hash: &str,
    user_id: i64,
    csrf: &str,
    now: i64,
) -> Result<(), StoreError> {
    with_conn!(conn, |c| diesel::insert_into(portal_sessions::table)
        .values((
            portal_sessions::id_hash.eq(id_hash),
            portal_sessions::user_id.eq(user_id),
            portal_sessions::csrf_token.eq(csrf),
            portal_sessions::created_at.eq(now),
            portal_sessions::last_seen_at.eq(now),
        ))
        .execute(c))?;
    Ok(())
}

pub fn session(
    conn: &mut AnyConnection,
    id_hash: &str,
) -> Result<Option<(SessionRow, UserRow)>, StoreError> {
    Ok(with_conn!(conn, |c| portal_sessions::table
        .inner_join(portal_users::table.on(portal_users::id.eq(portal_sessions::user_id)))
        .filter(portal_sessions::id_hash.eq(id_hash))
        .select((SessionRow::as_select(), UserRow::as_select()))
        .first(c)
        .optional())?)
}

pub fn touch_session(conn: &mut AnyConnection, id_hash: &str, now: i64) -> Result<(), StoreError> {
    with_conn!(conn, |c| diesel::update(
        portal_sessions::table.find(id_hash)
    )
    .set(portal_sessions::last_seen_at.eq(now))
    .execute(c))?;
    Ok(())
}

pub fn delete_session(conn: &mut AnyConnection, id_hash: &str) -> Result<(), StoreError> {
    with_conn!(conn, |c| diesel::delete(
        portal_sessions::table.find(id_hash)
    )
    .execute(c))?;
    Ok(())
}

/// Ends every session of a user (after a password change, all other browsers are signed out).
pub fn delete_sessions_of(conn: &mut AnyConnection, user_id: i64) -> Result<(), StoreError> {
    with_conn!(conn, |c| diesel::delete(
        portal_sessions::table.filter(portal_sessions::user_id.eq(user_id))
    )
    .execute(c))?;
    Ok(())
}

/// Deletes sessions past the absolute timeout (run at each sign-in: cheap, keeps the table small).
pub fn purge_sessions(conn: &mut AnyConnection, created_before: i64) -> Result<(), StoreError> {
    with_conn!(conn, |c| diesel::delete(
        portal_sessions::table.filter(portal_sessions::created_at.lt(created_before))
    )
    .execute(c))?;
    Ok(())
}

type AgentTuple = (i64, String, String, i64, Option<i64>);

fn agent_info((id, code, name, float, commission): AgentTuple) -> AgentInfo {
    AgentInfo {
        id,
        code,
        name,
        float: AccountId(float),
        commission: commission.map(AccountId),
    }
}

pub fn agent(conn: &mut AnyConnection, id: i64) -> Result<Option<AgentInfo>, StoreError> {
    let row: Option<AgentTuple> = with_conn!(conn, |c| agents::table
        .find(id)
        .select((
            agents::id,
            agents::code,
            agents::name,
            agents::float_account_id,
            agents::commission_account_id
        ))
        .first(c)
        .optional())?;
    Ok(row.map(agent_info))
}

pub fn agent_by_code(
    conn: &mut AnyConnection,
    code: &str,
) -> Result<Option<AgentInfo>, StoreError> {
    let row: Option<AgentTuple> = with_conn!(conn, |c| agents::table
        .filter(agents::code.eq(code))
        .select((
            agents::id,
            agents::code,
            agents::name,
            agents::float_account_id,
            agents::commission_account_id
        ))
        .first(c)
        .optional())?;
    Ok(row.map(agent_info))
}

/// The agents a super-agent supplies with float.
pub fn child_agents(conn: &mut AnyConnection, parent: i64) -> Result<Vec<AgentInfo>, StoreError> {
    let rows: Vec<AgentTuple> = with_conn!(conn, |c| agents::table
        .filter(agents::parent_agent_id.eq(parent))
        .order(agents::code)
        .limit(500)
        .select((
            agents::id,
            agents::code,
            agents::name,
            agents::float_account_id,
            agents::commission_account_id
        ))
        .load(c))?;
    Ok(rows.into_iter().map(agent_info).collect())
}

/// Till operators of an agent: (login, name).
pub fn tills_of(
    conn: &mut AnyConnection,
    agent_id: i64,
) -> Result<Vec<(String, String)>, StoreError> {
    Ok(with_conn!(conn, |c| portal_users::table
        .filter(portal_users::agent_id.eq(agent_id))
        .filter(portal_users::role.eq("till_operator"))
        .order(portal_users::login)
        .limit(500)
        .select((portal_users::login, portal_users::name))
        .load(c))?)
}

/// One line of the audit log to append.
pub struct Audit<'a> {
    pub user_id: Option<i64>,
    pub login: &'a str,
    pub action: &'a str,
    pub detail: &'a str,
    pub outcome: &'a str,
}

fn clip(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

pub fn audit(conn: &mut AnyConnection, entry: &Audit<'_>, now: i64) -> Result<(), StoreError> {
    with_conn!(conn, |c| diesel::insert_into(portal_audit::table)
        .values((
            portal_audit::at.eq(now),
            portal_audit::user_id.eq(entry.user_id),
            portal_audit::login.eq(clip(entry.login, 64)),
            portal_audit::action.eq(clip(entry.action, 64)),
            portal_audit::detail.eq(clip(entry.detail, 1024)),
            portal_audit::outcome.eq(clip(entry.outcome, 128)),
        ))
        .execute(c))?;
    Ok(())
}

/// (id, at, login, action, detail, outcome)
pub type AuditRow = (i64, i64, String, String, String, String);

pub fn recent_audit(conn: &mut AnyConnection, limit: i64) -> Result<Vec<AuditRow>, StoreError> {
    Ok(with_conn!(conn, |c| portal_audit::table
        .order(portal_audit::id.desc())
        .limit(limit)
        .select((
            portal_audit::id,
            portal_audit::at,
            portal_audit::login,
            portal_audit::action,
            portal_audit::detail,
            portal_audit::outcome
        ))
        .load(c))?)
}

/// A customer as the counter sees them.
#[derive(Clone, Debug)]
pub struct CustomerKyc {
    pub id: i64,
    pub name: String,
    pub language: String,
    pub wallet: AccountId,
    pub tier: Tier,
    pub id_document: Option<String>,
    pub pin_locked: bool,
}

pub fn customer_kyc(
    conn: &mut AnyConnection,
    msisdn: &str,
) -> Result<Option<CustomerKyc>, StoreError> {
    type Row = (i64, String, String, i64, Option<String>, bool, i16);
    let row: Option<Row> = with_conn!(conn, |c| customers::table
        .inner_join(accounts::table.on(accounts::id.eq(customers::wallet_account_id)))
        .filter(customers::msisdn.eq(msisdn))
        .select((
            customers::id,
            customers::name,
            customers::language,
            customers::wallet_account_id,
            customers::id_document,
            customers::pin_locked,
            accounts::tier
        ))
        .first(c)
        .optional())?;
    row.map(
        |(id, name, language, wallet, id_document, pin_locked, tier)| {
            Ok(CustomerKyc {
                id,
                name,
                language,
                wallet: AccountId(wallet),
                tier: Tier::from_index(tier)
                    .ok_or_else(|| StoreError::Corrupt(format!("tier {tier}")))?,
                id_document,
                pin_locked,
            })
        },
    )
    .transpose()
}

/// Records the ID an agent checked and the KYC tier it supports. A write transaction, so on
/// PostgreSQL it waits for any ledger batch holding the wallet row.
pub fn set_kyc(
    conn: &mut AnyConnection,
    customer_id: i64,
    wallet: AccountId,
    id_document: &str,
    tier: Tier,
) -> Result<(), StoreError> {
    let tier = i16::try_from(tier.index()).unwrap_or(0);
    write_transaction(conn, |conn| {
        with_conn!(&mut *conn, |c| diesel::update(
            customers::table.find(customer_id)
        )
        .set(customers::id_document.eq(Some(id_document)))
        .execute(c))?;
        with_conn!(&mut *conn, |c| diesel::update(
            accounts::table.find(wallet.0)
        )
        .set(accounts::tier.eq(tier))
        .execute(c))?;
        Ok(())
    })
}

/// An open pending withdrawal paying into an agent's float.
#[derive(Clone, Debug)]
pub struct PendingWithdrawal {
    pub id: i64,
    pub amount_minor: i64,
    pub fee_minor: i64,
    pub currency: String,
    pub customer_name: String,
    pub customer_msisdn: String,
    pub expires_at: i64,
    /// Started by the agent and waiting for the customer's PIN (rather than started by the
    /// customer and waiting for the agent's cash).
    pub awaiting_customer: bool,
}

type PendingTuple = (i64, i64, i64, String, i64, String, String, String);

/// Open withdrawals into `float`; `only` narrows to one pending transfer (for the pay button).
pub fn pending_withdrawals(
    conn: &mut AnyConnection,
    float: AccountId,
    only: Option<i64>,
    limit: i64,
) -> Result<Vec<PendingWithdrawal>, StoreError> {
    let rows: Vec<PendingTuple> = with_conn!(conn, |c| {
        let mut query = pending_transfers::table
            .inner_join(
                transactions::table.on(transactions::id.eq(pending_transfers::transaction_id)),
            )
            .inner_join(
                customers::table
                    .on(customers::wallet_account_id.eq(pending_transfers::debit_account_id)),
            )
            .filter(pending_transfers::credit_account_id.eq(float.0))
            .filter(pending_transfers::kind.eq(mkoba_ledger::TxnKind::Withdrawal.as_str()))
            .filter(pending_transfers::status.eq("open"))
            .into_boxed();
        if let Some(id) = only {
            query = query.filter(pending_transfers::transaction_id.eq(id));
        }
        query
            .order(pending_transfers::transaction_id)
            .limit(limit)
            .select((
                pending_transfers::transaction_id,
                pending_transfers::amount_minor,
                transactions::fee_minor,
                pending_transfers::currency,
                pending_transfers::expires_at,
                transactions::metadata,
                customers::name,
                customers::msisdn,
            ))
            .load(c)
    })?;
    Ok(rows
        .into_iter()
        .map(
            |(id, amount_minor, fee_minor, currency, expires_at, metadata, name, msisdn)| {
                PendingWithdrawal {
                    id,
                    amount_minor,
                    fee_minor,
                    currency,
                    customer_name: name,
                    customer_msisdn: msisdn,
                    expires_at,
                    awaiting_customer: metadata.contains(crate::ussd::effects::APPROVAL_MARKER),
                }
            },
        )
        .collect())
}

/// Count and sum of posted transactions of `kind` on `float` since `since` (microseconds): the
/// dashboard's cash-ins (the float pays) and cash-outs (the float receives).
pub fn totals_since(
    conn: &mut AnyConnection,
    float: AccountId,
    kind: mkoba_ledger::TxnKind,
    float_pays: bool,
    since: i64,
) -> Result<(i64, i64), StoreError> {
    let phases = [
        mkoba_ledger::Phase::Posted.as_str(),
        mkoba_ledger::Phase::PostPending.as_str(),
    ];
    // Along the float's chain (`store::chain`), back to `since`.
    let start = crate::store::chain::head(conn, float.0)?;
    let mut amounts: Vec<i64> = Vec::new();
    crate::store::chain::each_round(
        conn,
        float.0,
        start,
        Some(since),
        64,
        crate::store::chain::WALK_STEPS_MAX,
        |conn, walked| {
            let ids: Vec<i64> = walked.iter().map(|t| t.id).collect();
            let found: Vec<i64> = with_conn!(&mut *conn, |c| {
                let q = transactions::table
                    .filter(transactions::id.eq_any(&ids))
                    .filter(transactions::kind.eq(kind.as_str()))
                    .filter(transactions::phase.eq_any(phases))
                    .filter(transactions::created_at.ge(since))
                    .into_boxed();
                let q = if float_pays {
                    q.filter(transactions::debit_account_id.eq(float.0))
                } else {
                    q.filter(transactions::credit_account_id.eq(float.0))
                };
                q.select(transactions::amount_minor).load::<i64>(c)
            })?;
            amounts.extend(found);
            Ok(true)
        },
    )?;
    let count = i64::try_from(amounts.len()).unwrap_or(i64::MAX);
    Ok((
        count,
        amounts.iter().fold(0_i64, |a, b| a.saturating_add(*b)),
    ))
}

/// Commission credited to `account` since `since` (microseconds).
pub fn credited_since(
    conn: &mut AnyConnection,
    account: AccountId,
    since: i64,
) -> Result<i64, StoreError> {
    crate::store::reads::credited_since(conn, account.0, since)
}

/// The customers owning these wallets, by wallet id: (name, msisdn).
pub fn wallet_owners(
    conn: &mut AnyConnection,
    wallets: &[i64],
) -> Result<HashMap<i64, (String, String)>, StoreError> {
    let rows: Vec<(i64, String, String)> = with_conn!(conn, |c| customers::table
        .filter(customers::wallet_account_id.eq_any(wallets))
        .select((
            customers::wallet_account_id,
            customers::name,
            customers::msisdn
        ))
        .load(c))?;
    Ok(rows
        .into_iter()
        .map(|(wallet, name, msisdn)| (wallet, (name, msisdn)))
        .collect())
}

#[derive(Clone, Debug)]
pub struct FloatRequest {
    pub id: i64,
    pub agent_code: String,
    pub agent_float: AccountId,
    pub amount_minor: i64,
    pub currency: String,
    pub trust_reference: String,
    pub status: String,
    pub recorded_by: i64,
    pub recorded_at: i64,
    pub decided_by: Option<i64>,
}

type RequestTuple = (
    i64,
    String,
    i64,
    i64,
    String,
    String,
    String,
    i64,
    i64,
    Option<i64>,
);

fn float_request(
    (id, code, float, amount, currency, reference, status, by, at, decided): RequestTuple,
) -> FloatRequest {
    FloatRequest {
        id,
        agent_code: code,
        agent_float: AccountId(float),
        amount_minor: amount,
        currency,
        trust_reference: reference,
        status,
        recorded_by: by,
        recorded_at: at,
        decided_by: decided,
    }
}

/// Float requests, newest first; `only` narrows to one.
pub fn float_requests(
    conn: &mut AnyConnection,
    only: Option<i64>,
    limit: i64,
) -> Result<Vec<FloatRequest>, StoreError> {
    let rows: Vec<RequestTuple> = with_conn!(conn, |c| {
        let mut query = float_requests::table
            .inner_join(agents::table.on(agents::id.eq(float_requests::agent_id)))
            .into_boxed();
        if let Some(id) = only {
            query = query.filter(float_requests::id.eq(id));
        }
        query
            .order(float_requests::id.desc())
            .limit(limit)
            .select((
                float_requests::id,
                agents::code,
                agents::float_account_id,
                float_requests::amount_minor,
                float_requests::currency,
                float_requests::trust_reference,
                float_requests::status,
                float_requests::recorded_by,
                float_requests::recorded_at,
                float_requests::decided_by,
            ))
            .load(c)
    })?;
    Ok(rows.into_iter().map(float_request).collect())
}

/// Records a request; `Ok(None)` if the trust reference was already recorded.
pub fn record_float_request(
    conn: &mut AnyConnection,
    agent_id: i64,
    amount_minor: i64,
    currency: &str,
    trust_reference: &str,
    recorded_by: i64,
    now: i64,
) -> Result<Option<i64>, StoreError> {
    Ok(with_conn!(conn, |c| diesel::insert_into(
        float_requests::table
    )
    .values((
        float_requests::agent_id.eq(agent_id),
        float_requests::amount_minor.eq(amount_minor),
        float_requests::currency.eq(currency),
        float_requests::trust_reference.eq(trust_reference),
        float_requests::status.eq("pending"),
        float_requests::recorded_by.eq(recorded_by),
        float_requests::recorded_at.eq(now),
    ))
    .on_conflict(float_requests::trust_reference)
    .do_nothing()
    .returning(float_requests::id)
    .get_result(c)
    .optional())?)
}

/// Closes a pending request as approved (with its ledger transaction) or rejected. Returns
/// false if it was no longer pending (another admin decided first).
pub fn decide_float_request(
    conn: &mut AnyConnection,
    id: i64,
    status: &str,
    decided_by: i64,
    transaction_id: Option<i64>,
    now: i64,
) -> Result<bool, StoreError> {
    let n = with_conn!(conn, |c| diesel::update(
        float_requests::table
            .find(id)
            .filter(float_requests::status.eq("pending"))
    )
    .set((
        float_requests::status.eq(status),
        float_requests::decided_by.eq(Some(decided_by)),
        float_requests::decided_at.eq(Some(now)),
        float_requests::transaction_id.eq(transaction_id),
    ))
    .execute(c))?;
    Ok(n == 1)
}

/// The login of a portal user, for showing who recorded what.
pub fn logins(conn: &mut AnyConnection, ids: &[i64]) -> Result<HashMap<i64, String>, StoreError> {
    let rows: Vec<(i64, String)> = with_conn!(conn, |c| portal_users::table
        .filter(portal_users::id.eq_any(ids))
        .select((portal_users::id, portal_users::login))
        .load(c))?;
    Ok(rows.into_iter().collect())
}
