//! Rows as diesel reads and writes them, and their conversion to and from ledger types.
//! Text columns that name an enum are decoded strictly: an unknown value is `Corrupt`.

use diesel::prelude::*;
use mkoba_ledger::{
    AccountId, AccountKind, AccountState, AccountStatus, Currency, JournalEntry, Leg, Money,
    PendingState, PendingStatus, Phase, Posting, Receipt, Tier, Timestamp, TxnId, TxnKind,
};

use crate::store::schema::{accounts, pending_transfers, postings, transactions};
use crate::store::StoreError;

pub fn decode<T>(value: Option<T>, what: &str, text: &str) -> Result<T, StoreError> {
    value.ok_or_else(|| StoreError::Corrupt(format!("unknown {what} {text:?}")))
}

pub fn currency(text: &str) -> Result<Currency, StoreError> {
    decode(Currency::from_code(text), "currency", text)
}

#[derive(Clone, Debug, Queryable, Selectable, Identifiable)]
#[diesel(table_name = accounts)]
pub struct AccountRow {
    pub id: i64,
    pub kind: String,
    pub currency: String,
    pub status: String,
    pub tier: i16,
    pub blacklisted: bool,
    pub owner_type: String,
    pub owner_id: Option<i64>,
    pub commission_account_id: Option<i64>,
    pub label: String,
    pub balance_minor: i64,
    pub pending_debits_minor: i64,
    pub pending_credits_minor: i64,
    pub day_number: i64,
    pub day_debits_minor: i64,
    pub created_at: i64,
    /// The newest transaction that touched this account: the head of its chain of postings
    /// (`store::chain`).
    pub last_transaction_id: Option<i64>,
}

impl AccountRow {
    pub fn to_state(&self) -> Result<AccountState, StoreError> {
        let state = AccountState {
            id: AccountId(self.id),
            kind: decode(AccountKind::parse(&self.kind), "account kind", &self.kind)?,
            currency: currency(&self.currency)?,
            status: decode(
                AccountStatus::parse(&self.status),
                "account status",
                &self.status,
            )?,
            tier: decode(Tier::from_index(self.tier), "tier", &self.tier.to_string())?,
            blacklisted: self.blacklisted,
            commission_account: self.commission_account_id.map(AccountId),
            balance_minor: self.balance_minor,
            pending_debits_minor: self.pending_debits_minor,
            pending_credits_minor: self.pending_credits_minor,
            day_number: self.day_number,
            day_debits_minor: self.day_debits_minor,
        };
        // Assert after a read: a stored account outside its floor means the ledger is already
        // wrong, and going on would only spread the damage.
        assert!(
            state.is_within_floor(),
            "account {} is below its floor in the database",
            self.id
        );
        assert!(state.pending_debits_minor >= 0 && state.pending_credits_minor >= 0);
        Ok(state)
    }
}

#[derive(Clone, Debug, Insertable)]
#[diesel(table_name = accounts)]
pub struct NewAccount<'a> {
    pub kind: &'a str,
    pub currency: &'a str,
    pub status: &'a str,
    pub tier: i16,
    pub owner_type: &'a str,
    pub owner_id: Option<i64>,
    pub commission_account_id: Option<i64>,
    pub label: &'a str,
    pub created_at: i64,
    /// Only fee revenue has more than shard 0 (see `parties::fee_revenue_shards`).
    pub shard: i16,
}

#[derive(Clone, Debug, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = transactions, treat_none_as_default_value = false)]
pub struct TransactionRow {
    pub id: i64,
    pub code: String,
    pub idempotency_key: String,
    pub fingerprint: String,
    pub kind: String,
    pub phase: String,
    pub currency: String,
    pub amount_minor: i64,
    pub fee_minor: i64,
    pub commission_minor: i64,
    pub debit_account_id: i64,
    pub credit_account_id: i64,
    pub related_id: Option<i64>,
    pub expires_at: Option<i64>,
    pub memo: String,
    pub metadata: String,
    pub created_at: i64,
}

impl TransactionRow {
    pub fn from_entry(entry: &JournalEntry) -> TransactionRow {
        let r = &entry.receipt;
        TransactionRow {
            id: r.txn_id.0,
            code: r.code.clone(),
            idempotency_key: entry.idempotency_key.clone(),
            fingerprint: entry.fingerprint.clone(),
            kind: r.kind.as_str().to_owned(),
            phase: r.phase.as_str().to_owned(),
            currency: r.amount.currency().code().to_owned(),
            amount_minor: r.amount.minor(),
            fee_minor: r.fee_minor,
            commission_minor: r.commission_minor,
            debit_account_id: r.debit.0,
            credit_account_id: r.credit.0,
            related_id: r.related.map(|t| t.0),
            expires_at: r.expires_at.map(|t| t.0),
            memo: entry.memo.clone(),
            metadata: entry.metadata.clone(),
            created_at: r.created_at.0,
        }
    }

    pub fn kind(&self) -> Result<TxnKind, StoreError> {
        decode(TxnKind::parse(&self.kind), "transaction kind", &self.kind)
    }

    pub fn phase(&self) -> Result<Phase, StoreError> {
        decode(Phase::parse(&self.phase), "phase", &self.phase)
    }

    pub fn to_receipt(&self) -> Result<Receipt, StoreError> {
        Ok(Receipt {
            txn_id: TxnId(self.id),
            code: self.code.clone(),
            kind: self.kind()?,
            phase: self.phase()?,
            amount: Money::from_minor(self.amount_minor, currency(&self.currency)?),
            fee_minor: self.fee_minor,
            commission_minor: self.commission_minor,
            debit: AccountId(self.debit_account_id),
            credit: AccountId(self.credit_account_id),
            related: self.related_id.map(TxnId),
            created_at: Timestamp(self.created_at),
            expires_at: self.expires_at.map(Timestamp),
        })
    }
}

#[derive(Clone, Debug, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = postings, treat_none_as_default_value = false)]
pub struct PostingRow {
    pub transaction_id: i64,
    pub seq: i16,
    pub leg: String,
    pub debit_account_id: i64,
    pub credit_account_id: i64,
    pub amount_minor: i64,
    pub reservation: bool,
    /// The previous transaction that touched the debit account, and the credit account: each
    /// account's postings form a chain newest first (`store::chain`). Set by the writer.
    pub debit_prev_txn: Option<i64>,
    pub credit_prev_txn: Option<i64>,
}

impl PostingRow {
    pub fn to_posting(&self) -> Result<Posting, StoreError> {
        Ok(Posting {
            leg: decode(Leg::parse(&self.leg), "leg", &self.leg)?,
            debit: AccountId(self.debit_account_id),
            credit: AccountId(self.credit_account_id),
            amount_minor: self.amount_minor,
        })
    }

    pub fn rows_for(entry: &JournalEntry) -> Vec<PostingRow> {
        let id = entry.receipt.txn_id.0;
        let posted = entry.postings.iter().map(|p| (p, false));
        let reserved = entry.reservations.iter().map(|p| (p, true));
        posted
            .chain(reserved)
            .zip(0_i16..)
            .map(|((p, reservation), seq)| PostingRow {
                transaction_id: id,
                seq,
                leg: p.leg.as_str().to_owned(),
                debit_account_id: p.debit.0,
                credit_account_id: p.credit.0,
                amount_minor: p.amount_minor,
                reservation,
                debit_prev_txn: None,
                credit_prev_txn: None,
            })
            .collect()
    }
}

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = pending_transfers)]
pub struct PendingRow {
    pub transaction_id: i64,
    pub kind: String,
    pub currency: String,
    pub debit_account_id: i64,
    pub credit_account_id: i64,
    pub amount_minor: i64,
    pub expires_at: i64,
    pub status: String,
    pub day_number: i64,
    pub resolved_by: Option<i64>,
}

impl PendingRow {
    pub fn from_state(p: &PendingState) -> PendingRow {
        PendingRow {
            transaction_id: p.txn_id.0,
            kind: p.kind.as_str().to_owned(),
            currency: p.currency.code().to_owned(),
            debit_account_id: p.debit.0,
            credit_account_id: p.credit.0,
            amount_minor: p.amount_minor,
            expires_at: p.expires_at.0,
            status: p.status.as_str().to_owned(),
            day_number: p.day_number,
            resolved_by: None,
        }
    }

    pub fn to_state(&self, reserved: Vec<Posting>) -> Result<PendingState, StoreError> {
        Ok(PendingState {
            txn_id: TxnId(self.transaction_id),
            kind: decode(TxnKind::parse(&self.kind), "transaction kind", &self.kind)?,
            currency: currency(&self.currency)?,
            debit: AccountId(self.debit_account_id),
            credit: AccountId(self.credit_account_id),
            amount_minor: self.amount_minor,
            reserved,
            expires_at: Timestamp(self.expires_at),
            status: decode(
                PendingStatus::parse(&self.status),
                "pending status",
                &self.status,
            )?,
            day_number: self.day_number,
        })
    }
}
