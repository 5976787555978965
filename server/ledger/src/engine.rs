//! Applies commands to the state of the accounts they touch, one batch at a time.
//!
//! The store loads (and on PostgreSQL locks) every account, pending transfer and earlier
//! transaction a batch names, hands them to a [`Batch`], applies the commands in order, then writes
//! what [`Batch::finish`] returns in one database transaction. Each command is checked in full on
//! copies of the accounts it touches before anything changes, so a rejected command leaves no
//! trace and never fails its neighbours.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::code::TxnCodes;
use crate::command::{
    AccountSnapshot, Command, JournalEntry, Outcome, Receipt, TxnRequest, VoidReason,
};
use crate::model::{
    AccountId, AccountKind, AccountState, AccountStatus, AllowanceId, AllowanceState, Leg,
    PendingState, PendingStatus, Phase, Posting, ReversibleTxn, Timestamp, TxnId, TxnKind,
};
use crate::money::{Currency, Money};
use crate::rejection::Rejection;
use crate::rules::{CurrencyRules, LedgerRules};

/// An earlier transaction that used one of this batch's idempotency keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriorUse {
    pub fingerprint: String,
    pub receipt: Receipt,
}

/// Everything a batch may read, loaded by the store before the batch runs.
#[derive(Clone, Debug, Default)]
pub struct BatchState {
    pub accounts: BTreeMap<AccountId, AccountState>,
    pub pendings: BTreeMap<TxnId, PendingState>,
    pub originals: BTreeMap<TxnId, ReversibleTxn>,
    pub prior_keys: HashMap<String, PriorUse>,
    /// Allowances that `Charge` commands name.
    pub allowances: BTreeMap<AllowanceId, AllowanceState>,
    /// The fee revenue account of each enabled currency.
    pub fee_revenue: BTreeMap<Currency, AccountId>,
}

/// What a finished batch asks the store to write.
#[derive(Clone, Debug, Default)]
pub struct BatchWrites {
    pub entries: Vec<JournalEntry>,
    /// Final state of every account whose balances or counters changed.
    pub accounts: Vec<AccountState>,
    pub new_pendings: Vec<PendingState>,
    /// Pending transfers resolved by this batch: (pending, new status, resolving transaction).
    pub resolved_pendings: Vec<(TxnId, PendingStatus, TxnId)>,
    /// Final state of every allowance charged in this batch.
    pub allowances: Vec<AllowanceState>,
    /// Each accepted charge: (allowance, transaction).
    pub charges: Vec<(AllowanceId, TxnId)>,
}

pub struct Batch<'a> {
    rules: &'a LedgerRules,
    codes: &'a TxnCodes,
    now: Timestamp,
    today: i64,
    state: BatchState,
    initial: BTreeMap<AccountId, AccountState>,
    initial_allowances: BTreeMap<AllowanceId, AllowanceState>,
    writes: BatchWrites,
    accepted_keys: HashMap<String, PriorUse>,
}

type Check<T> = Result<T, Rejection>;

impl<'a> Batch<'a> {
    pub fn new(
        rules: &'a LedgerRules,
        codes: &'a TxnCodes,
        now: Timestamp,
        state: BatchState,
    ) -> Batch<'a> {
        let initial = state.accounts.clone();
        let initial_allowances = state.allowances.clone();
        Batch {
            rules,
            codes,
            now,
            today: now.day_number(rules.utc_offset_seconds),
            state,
            initial,
            initial_allowances,
            writes: BatchWrites::default(),
            accepted_keys: HashMap::new(),
        }
    }

    /// Applies one command. `id` is the identifier the transaction gets if it is accepted; the
    /// store allocates one per command, and a rejected command leaves a gap.
    pub fn apply(&mut self, command: &Command, id: TxnId) -> Outcome {
        match self.try_apply(command, id) {
            Ok(outcome) => outcome,
            Err(rejection) => Outcome::Rejected(rejection),
        }
    }

    fn try_apply(&mut self, command: &Command, id: TxnId) -> Check<Outcome> {
        let key = command.idempotency_key();
        self.check_key(key)?;
        let fingerprint = command.fingerprint();
        let prior = self
            .accepted_keys
            .get(key)
            .or_else(|| self.state.prior_keys.get(key));
        if let Some(prior) = prior {
            return if prior.fingerprint == fingerprint {
                Ok(Outcome::Replayed(prior.receipt.clone()))
            } else {
                Err(Rejection::IdempotencyKeyReused)
            };
        }
        let entry = match command {
            Command::Submit(request) => self.submit(request, id)?,
            Command::PostPending {
                pending,
                amount_minor,
                ..
            } => self.post_pending(*pending, *amount_minor, id)?,
            Command::VoidPending {
                pending, reason, ..
            } => self.void_pending(*pending, *reason, id)?,
            Command::Reverse { original, memo, .. } => self.reverse(*original, memo, id)?,
            Command::Refund {
                original,
                amount_minor,
                memo,
                ..
            } => self.refund(*original, *amount_minor, memo, id)?,
            Command::Charge {
                allowance,
                amount,
                memo,
                metadata,
                ..
            } => self.charge(*allowance, *amount, memo, metadata, id)?,
        };
        let receipt = entry.receipt.clone();
        self.accepted_keys.insert(
            key.to_owned(),
            PriorUse {
                fingerprint: fingerprint.clone(),
                receipt: receipt.clone(),
            },
        );
        let after = [receipt.debit, receipt.credit]
            .iter()
            .filter_map(|id| self.snapshot(*id))
            .collect();
        self.writes.entries.push(JournalEntry {
            idempotency_key: key.to_owned(),
            fingerprint,
            after,
            ..entry
        });
        Ok(Outcome::Accepted(receipt))
    }

    fn snapshot(&self, id: AccountId) -> Option<AccountSnapshot> {
        let account = self.state.accounts.get(&id)?;
        let daily_remaining_minor = match account.kind {
            AccountKind::CustomerWallet => {
                self.rules.currencies.get(&account.currency).map(|rules| {
                    let limit = rules.tier(account.tier).daily_debits_minor;
                    limit.saturating_sub(account.debits_on(self.today)).max(0)
                })
            }
            _ => None,
        };
        Some(AccountSnapshot {
            account: id,
            balance_minor: account.balance_minor,
            available_minor: account.available_minor().unwrap_or(0),
            daily_remaining_minor,
        })
    }

    fn check_key(&self, key: &str) -> Check<()> {
        let printable = key.bytes().all(|b| b.is_ascii_graphic());
        if key.is_empty() || key.len() > self.rules.idempotency_key_len_max || !printable {
            return Err(Rejection::IdempotencyKeyInvalid);
        }
        Ok(())
    }

    fn currency_rules(&self, currency: Currency) -> Check<&'a CurrencyRules> {
        self.rules
            .currencies
            .get(&currency)
            .ok_or(Rejection::CurrencyNotEnabled)
    }

    fn account(&self, id: AccountId) -> Check<&AccountState> {
        self.state
            .accounts
            .get(&id)
            .ok_or(Rejection::AccountNotFound)
    }

    fn usable_account(&self, id: AccountId, currency: Currency) -> Check<&AccountState> {
        let account = self.account(id)?;
        match account.status {
            AccountStatus::Active => {}
            AccountStatus::Frozen => return Err(Rejection::AccountFrozen),
            AccountStatus::Closed => return Err(Rejection::AccountClosed),
        }
        if account.currency != currency {
            return Err(Rejection::CurrencyMismatch);
        }
        Ok(account)
    }

    fn fee_revenue(&self, currency: Currency) -> Check<AccountId> {
        self.state
            .fee_revenue
            .get(&currency)
            .copied()
            .ok_or(Rejection::CurrencyNotEnabled)
    }

    fn submit(&mut self, request: &TxnRequest, id: TxnId) -> Check<JournalEntry> {
        if request.memo.len() > self.rules.memo_len_max {
            return Err(Rejection::MemoTooLong);
        }
        if request.metadata.len() > self.rules.metadata_len_max {
            return Err(Rejection::MetadataTooLong);
        }
        let currency = request.amount.currency();
        let rules = self.currency_rules(currency)?;
        let amount = request.amount.minor();
        if amount <= 0 {
            return Err(Rejection::AmountNotPositive);
        }
        if amount > rules.amount_max_for(request.kind) {
            return Err(Rejection::AmountExceedsMaximum);
        }
        if amount < rules.minimum_for(request.kind) {
            return Err(Rejection::BelowMinimumAmount);
        }
        if request.kind == TxnKind::Reversal {
            return Err(Rejection::ReversalNotAllowed);
        }
        if request.debit == request.credit {
            return Err(Rejection::SameAccount);
        }
        let debit = self.usable_account(request.debit, currency)?.clone();
        let credit = self.usable_account(request.credit, currency)?.clone();
        let (debit_kinds, credit_kinds) = request.kind.allowed_accounts();
        let allowed = |kinds: Option<&[AccountKind]>, kind| kinds.is_none_or(|k| k.contains(&kind));
        if !allowed(debit_kinds, debit.kind) || !allowed(credit_kinds, credit.kind) {
            return Err(Rejection::AccountKindNotAllowed);
        }
        let expires_at = match request.pending_expiry_seconds {
            None => None,
            Some(seconds) if (1..=self.rules.pending.expiry_max_seconds).contains(&seconds) => {
                Some(self.now.saturating_add_seconds(seconds))
            }
            Some(_) => return Err(Rejection::ExpiryInvalid),
        };
        self.check_limits(request.kind, &debit, &credit, amount, rules)?;

        let legs = self.legs(request.kind, &debit, &credit, amount, rules)?;
        let mut stage = Stage::new(&self.state.accounts, self.today);
        let (phase, postings, reservations) = match expires_at {
            None => {
                stage.post_all(&legs)?;
                (Phase::Posted, legs, Vec::new())
            }
            Some(_) => {
                // Only what the payer owes is reserved; what others pay (merchant fees,
                // commissions) is worked out when the transfer is posted.
                let reserved: Vec<Posting> =
                    legs.into_iter().filter(|p| p.debit == debit.id).collect();
                stage.reserve_all(&reserved)?;
                (Phase::Pending, Vec::new(), reserved)
            }
        };
        if debit.kind == AccountKind::CustomerWallet {
            stage.count_daily_debit(debit.id, amount)?;
        }
        stage.check_floors()?;
        let changes = stage.into_changes();
        self.state.accounts.extend(changes);

        let fee_minor = sum_leg(&postings, Leg::Fee) + sum_leg(&reservations, Leg::Fee);
        let receipt = Receipt {
            txn_id: id,
            code: self.codes.code_for(id),
            kind: request.kind,
            phase,
            amount: request.amount,
            fee_minor,
            commission_minor: sum_leg(&postings, Leg::Commission),
            debit: debit.id,
            credit: credit.id,
            related: None,
            created_at: self.now,
            expires_at,
        };
        if let Some(expires_at) = expires_at {
            let pending = PendingState {
                txn_id: id,
                kind: request.kind,
                currency,
                debit: debit.id,
                credit: credit.id,
                amount_minor: amount,
                reserved: reservations.clone(),
                expires_at,
                status: PendingStatus::Open,
                day_number: self.today,
            };
            self.state.pendings.insert(id, pending.clone());
            self.writes.new_pendings.push(pending);
        }
        Ok(JournalEntry {
            receipt,
            idempotency_key: String::new(),
            fingerprint: String::new(),
            memo: request.memo.clone(),
            metadata: request.metadata.clone(),
            postings,
            reservations,
            after: Vec::new(),
        })
    }

    /// Tier limits bind customer wallets on either side; operator adjustments are exempt.
    fn check_limits(
        &self,
        kind: TxnKind,
        debit: &AccountState,
        credit: &AccountState,
        amount: i64,
        rules: &CurrencyRules,
    ) -> Check<()> {
        if kind == TxnKind::Adjustment {
            return Ok(());
        }
        for side in [debit, credit] {
            if side.kind == AccountKind::CustomerWallet
                && amount > rules.tier(side.tier).per_transaction_minor
            {
                return Err(Rejection::ExceedsTransactionLimit);
            }
        }
        if debit.kind == AccountKind::CustomerWallet {
            let limit = rules.tier(debit.tier).daily_debits_minor;
            let after = debit
                .debits_on(self.today)
                .checked_add(amount)
                .ok_or(Rejection::AmountOverflow)?;
            if after > limit {
                return Err(Rejection::ExceedsDailyLimit);
            }
        }
        if credit.kind == AccountKind::CustomerWallet {
            let limit = rules.tier(credit.tier).balance_minor;
            let after = credit
                .balance_minor
                .checked_add(credit.pending_credits_minor)
                .and_then(|b| b.checked_add(amount))
                .ok_or(Rejection::AmountOverflow)?;
            if after > limit {
                return Err(Rejection::ExceedsBalanceLimit);
            }
        }
        Ok(())
    }

    /// The principal and the tariff legs (fees to revenue, commissions from it) of a transaction.
    fn legs(
        &self,
        kind: TxnKind,
        debit: &AccountState,
        credit: &AccountState,
        amount: i64,
        rules: &CurrencyRules,
    ) -> Check<Vec<Posting>> {
        let mut legs = vec![Posting {
            leg: Leg::Principal,
            debit: debit.id,
            credit: credit.id,
            amount_minor: amount,
        }];
        let tariffs = &rules.tariffs;
        let revenue = self.fee_revenue(debit.currency)?;
        let (fee, commission) = match kind {
            TxnKind::Transfer => (Some((debit.id, tariffs.send.fee_for(amount))), None),
            TxnKind::Withdrawal => (
                Some((debit.id, tariffs.withdraw.fee_for(amount))),
                Some((credit, tariffs.commission_withdrawal.fee_for(amount))),
            ),
            TxnKind::Deposit => (
                None,
                Some((debit, tariffs.commission_deposit.fee_for(amount))),
            ),
            TxnKind::MerchantPayment | TxnKind::Purchase => {
                (Some((credit.id, tariffs.merchant.fee_for(amount))), None)
            }
            TxnKind::Fee
            | TxnKind::Commission
            | TxnKind::Reversal
            | TxnKind::Refund
            | TxnKind::Disbursement
            | TxnKind::FloatIssuance
            | TxnKind::FloatTransfer
            | TxnKind::Adjustment => (None, None),
        };
        if let Some((payer, fee)) = fee {
            if fee > 0 {
                legs.push(Posting {
                    leg: Leg::Fee,
                    debit: payer,
                    credit: revenue,
                    amount_minor: fee,
                });
            }
        }
        if let Some((agent_float, commission)) = commission {
            // An agent float without a commission account (a super-agent's) earns nothing.
            if let (Some(to), true) = (agent_float.commission_account, commission > 0) {
                legs.push(Posting {
                    leg: Leg::Commission,
                    debit: revenue,
                    credit: to,
                    amount_minor: commission,
                });
            }
        }
        Ok(legs)
    }

    fn open_pending(&self, pending: TxnId) -> Check<PendingState> {
        let state = self
            .state
            .pendings
            .get(&pending)
            .ok_or(Rejection::PendingNotFound)?;
        match state.status {
            PendingStatus::Open => Ok(state.clone()),
            PendingStatus::Posted => Err(Rejection::PendingAlreadyPosted),
            PendingStatus::Voided => Err(Rejection::PendingAlreadyVoided),
            PendingStatus::Expired => Err(Rejection::PendingExpired),
        }
    }

    /// Releases a reservation and gives back today's limit for whatever will not be posted.
    fn release(&self, stage: &mut Stage, pending: &PendingState, posted_minor: i64) -> Check<()> {
        stage.release_all(&pending.reserved)?;
        if pending.day_number == self.today {
            if let Some(payer) = self.state.accounts.get(&pending.debit) {
                if payer.kind == AccountKind::CustomerWallet {
                    stage.count_daily_debit(
                        pending.debit,
                        posted_minor.saturating_sub(pending.amount_minor),
                    )?;
                }
            }
        }
        Ok(())
    }

    fn post_pending(
        &mut self,
        pending_id: TxnId,
        amount_minor: Option<i64>,
        id: TxnId,
    ) -> Check<JournalEntry> {
        let pending = self.open_pending(pending_id)?;
        if self.now >= pending.expires_at {
            return Err(Rejection::PendingExpired);
        }
        let amount = amount_minor.unwrap_or(pending.amount_minor);
        if amount <= 0 {
            return Err(Rejection::AmountNotPositive);
        }
        if amount > pending.amount_minor {
            return Err(Rejection::PostExceedsPending);
        }
        let rules = self.currency_rules(pending.currency)?;
        let debit = self
            .usable_account(pending.debit, pending.currency)?
            .clone();
        let credit = self
            .usable_account(pending.credit, pending.currency)?
            .clone();
        let legs = self.legs(pending.kind, &debit, &credit, amount, rules)?;

        let mut stage = Stage::new(&self.state.accounts, self.today);
        self.release(&mut stage, &pending, amount)?;
        stage.post_all(&legs)?;
        stage.check_floors()?;
        let changes = stage.into_changes();
        self.state.accounts.extend(changes);
        self.resolve(pending_id, PendingStatus::Posted, id);

        let receipt = Receipt {
            txn_id: id,
            code: self.codes.code_for(id),
            kind: pending.kind,
            phase: Phase::PostPending,
            amount: Money::from_minor(amount, pending.currency),
            fee_minor: sum_leg(&legs, Leg::Fee),
            commission_minor: sum_leg(&legs, Leg::Commission),
            debit: pending.debit,
            credit: pending.credit,
            related: Some(pending_id),
            created_at: self.now,
            expires_at: None,
        };
        Ok(entry_without_text(receipt, legs))
    }

    fn void_pending(
        &mut self,
        pending_id: TxnId,
        reason: VoidReason,
        id: TxnId,
    ) -> Check<JournalEntry> {
        let pending = self.open_pending(pending_id)?;
        let status = match reason {
            VoidReason::Cancelled => PendingStatus::Voided,
            // The sweeper may only expire what has actually run out.
            VoidReason::Expired if self.now >= pending.expires_at => PendingStatus::Expired,
            VoidReason::Expired => return Err(Rejection::ExpiryInvalid),
        };
        let mut stage = Stage::new(&self.state.accounts, self.today);
        self.release(&mut stage, &pending, 0)?;
        stage.check_floors()?;
        let changes = stage.into_changes();
        self.state.accounts.extend(changes);
        self.resolve(pending_id, status, id);
        let receipt = Receipt {
            txn_id: id,
            code: self.codes.code_for(id),
            kind: pending.kind,
            phase: Phase::VoidPending,
            amount: Money::from_minor(pending.amount_minor, pending.currency),
            fee_minor: 0,
            commission_minor: 0,
            debit: pending.debit,
            credit: pending.credit,
            related: Some(pending_id),
            created_at: self.now,
            expires_at: None,
        };
        Ok(entry_without_text(receipt, Vec::new()))
    }

    fn resolve(&mut self, pending_id: TxnId, status: PendingStatus, by: TxnId) {
        if let Some(p) = self.state.pendings.get_mut(&pending_id) {
            p.status = status;
        }
        self.writes.resolved_pendings.push((pending_id, status, by));
    }

    fn reverse(&mut self, original_id: TxnId, memo: &str, id: TxnId) -> Check<JournalEntry> {
        if memo.len() > self.rules.memo_len_max {
            return Err(Rejection::MemoTooLong);
        }
        let original = self
            .state
            .originals
            .get(&original_id)
            .ok_or(Rejection::TransactionNotFound)?
            .clone();
        let moved_money = matches!(original.phase, Phase::Posted | Phase::PostPending);
        if !original.kind.reversible() || !moved_money {
            return Err(Rejection::ReversalNotAllowed);
        }
        let deadline = original
            .created_at
            .saturating_add_seconds(self.rules.reversal.window_seconds);
        if self.now > deadline {
            return Err(Rejection::ReversalWindowClosed);
        }
        if original.reversal_count >= self.rules.reversal.attempts_max {
            return Err(Rejection::ReversalAttemptsExhausted);
        }
        let payer = self
            .usable_account(original.payer, original.currency)?
            .clone();
        let payee = self
            .usable_account(original.payee, original.currency)?
            .clone();
        if payer.blacklisted || payee.blacklisted {
            return Err(Rejection::AccountBlacklisted);
        }
        // Only what the payee still holds, and never more than is left of the original.
        let outstanding = original
            .amount_minor
            .saturating_sub(original.reversed_minor);
        let holds = payee.available_minor().unwrap_or(0).max(0);
        let amount = outstanding.min(holds);
        if amount <= 0 {
            return Err(Rejection::ReversalNothingRecoverable);
        }
        let legs = vec![Posting {
            leg: Leg::Principal,
            debit: payee.id,
            credit: payer.id,
            amount_minor: amount,
        }];
        let mut stage = Stage::new(&self.state.accounts, self.today);
        stage.post_all(&legs)?;
        stage.check_floors()?;
        let changes = stage.into_changes();
        self.state.accounts.extend(changes);
        if let Some(o) = self.state.originals.get_mut(&original_id) {
            o.reversed_minor = o.reversed_minor.saturating_add(amount);
            o.reversal_count = o.reversal_count.saturating_add(1);
        }
        let receipt = Receipt {
            txn_id: id,
            code: self.codes.code_for(id),
            kind: TxnKind::Reversal,
            phase: Phase::Posted,
            amount: Money::from_minor(amount, original.currency),
            fee_minor: 0,
            commission_minor: 0,
            debit: payee.id,
            credit: payer.id,
            related: Some(original_id),
            created_at: self.now,
            expires_at: None,
        };
        let mut entry = entry_without_text(receipt, legs);
        entry.memo = memo.to_owned();
        Ok(entry)
    }

    fn refund(
        &mut self,
        original_id: TxnId,
        requested_minor: Option<i64>,
        memo: &str,
        id: TxnId,
    ) -> Check<JournalEntry> {
        if memo.len() > self.rules.memo_len_max {
            return Err(Rejection::MemoTooLong);
        }
        let original = self
            .state
            .originals
            .get(&original_id)
            .ok_or(Rejection::TransactionNotFound)?
            .clone();
        let merchant_paid = matches!(original.kind, TxnKind::MerchantPayment | TxnKind::Purchase);
        let moved_money = matches!(original.phase, Phase::Posted | Phase::PostPending);
        if !merchant_paid || !moved_money {
            return Err(Rejection::RefundNotAllowed);
        }
        let deadline = original
            .created_at
            .saturating_add_seconds(self.rules.refund.window_seconds);
        if self.now > deadline {
            return Err(Rejection::RefundWindowClosed);
        }
        // Reversals and earlier refunds both count against the original amount.
        let outstanding = original
            .amount_minor
            .saturating_sub(original.reversed_minor);
        let amount = requested_minor.unwrap_or(outstanding);
        if requested_minor.is_some_and(|a| a <= 0) {
            return Err(Rejection::AmountNotPositive);
        }
        if amount <= 0 || amount > outstanding {
            return Err(Rejection::RefundExceedsPayment);
        }
        let customer = self
            .usable_account(original.payer, original.currency)?
            .clone();
        let merchant = self
            .usable_account(original.payee, original.currency)?
            .clone();
        // A refund gives the customer's own money back: tier limits do not apply, the merchant's
        // floor does (an empty merchant account is refused as insufficient funds).
        let legs = vec![Posting {
            leg: Leg::Principal,
            debit: merchant.id,
            credit: customer.id,
            amount_minor: amount,
        }];
        let mut stage = Stage::new(&self.state.accounts, self.today);
        stage.post_all(&legs)?;
        stage.check_floors()?;
        let changes = stage.into_changes();
        self.state.accounts.extend(changes);
        if let Some(o) = self.state.originals.get_mut(&original_id) {
            o.reversed_minor = o.reversed_minor.saturating_add(amount);
        }
        let receipt = Receipt {
            txn_id: id,
            code: self.codes.code_for(id),
            kind: TxnKind::Refund,
            phase: Phase::Posted,
            amount: Money::from_minor(amount, original.currency),
            fee_minor: 0,
            commission_minor: 0,
            debit: merchant.id,
            credit: customer.id,
            related: Some(original_id),
            created_at: self.now,
            expires_at: None,
        };
        let mut entry = entry_without_text(receipt, legs);
        entry.memo = memo.to_owned();
        Ok(entry)
    }

    /// A purchase under an allowance: its terms first, then every check a purchase gets.
    fn charge(
        &mut self,
        allowance_id: AllowanceId,
        amount: Money,
        memo: &str,
        metadata: &str,
        id: TxnId,
    ) -> Check<JournalEntry> {
        let allowance = self
            .state
            .allowances
            .get(&allowance_id)
            .ok_or(Rejection::AllowanceNotFound)?
            .clone();
        if !allowance.active {
            return Err(Rejection::AllowanceRevoked);
        }
        if self.now >= allowance.expires_at {
            return Err(Rejection::AllowanceExpired);
        }
        if amount.currency() != allowance.currency {
            return Err(Rejection::CurrencyMismatch);
        }
        if amount.minor() > allowance.per_charge_max_minor {
            return Err(Rejection::AllowancePerChargeExceeded);
        }
        let spent = allowance
            .spent_minor
            .checked_add(amount.minor())
            .ok_or(Rejection::AmountOverflow)?;
        if spent > allowance.cap_minor {
            return Err(Rejection::AllowanceCapExceeded);
        }
        let request = TxnRequest {
            idempotency_key: String::new(),
            kind: TxnKind::Purchase,
            debit: allowance.wallet,
            credit: allowance.merchant,
            amount,
            memo: memo.to_owned(),
            metadata: metadata.to_owned(),
            pending_expiry_seconds: None,
        };
        let entry = self.submit(&request, id)?;
        if let Some(a) = self.state.allowances.get_mut(&allowance_id) {
            a.spent_minor = spent;
        }
        self.writes.charges.push((allowance_id, id));
        Ok(entry)
    }

    /// Ends the batch: asserts the batch-level invariants (these hold in release builds too: a
    /// crash is better than a wrong balance) and returns what must be written.
    pub fn finish(mut self) -> BatchWrites {
        let mut balance_delta: i128 = 0;
        let mut pending_debit_delta: i128 = 0;
        let mut pending_credit_delta: i128 = 0;
        for (id, now) in &self.state.accounts {
            let Some(before) = self.initial.get(id) else {
                continue;
            };
            if now == before {
                continue;
            }
            balance_delta += i128::from(now.balance_minor) - i128::from(before.balance_minor);
            pending_debit_delta +=
                i128::from(now.pending_debits_minor) - i128::from(before.pending_debits_minor);
            pending_credit_delta +=
                i128::from(now.pending_credits_minor) - i128::from(before.pending_credits_minor);
            assert!(
                now.pending_debits_minor >= 0 && now.pending_credits_minor >= 0,
                "negative pending on {id:?}"
            );
            assert!(
                now.is_within_floor() || !before.is_within_floor(),
                "account {id:?} pushed below its floor"
            );
            self.writes.accounts.push(now.clone());
        }
        assert_eq!(balance_delta, 0, "batch does not balance");
        for (id, now) in &self.state.allowances {
            let Some(before) = self.initial_allowances.get(id) else {
                continue;
            };
            if now == before {
                continue;
            }
            assert!(
                now.spent_minor >= before.spent_minor && now.spent_minor <= now.cap_minor,
                "allowance {id:?} spent outside its cap"
            );
            self.writes.allowances.push(now.clone());
        }
        assert_eq!(
            pending_debit_delta, pending_credit_delta,
            "batch reservations do not balance"
        );
        for entry in &self.writes.entries {
            for posting in entry.postings.iter().chain(&entry.reservations) {
                assert!(
                    posting.amount_minor > 0,
                    "non-positive posting in {:?}",
                    entry.receipt.txn_id
                );
                let currencies: BTreeSet<Currency> = [posting.debit, posting.credit]
                    .iter()
                    .filter_map(|a| self.state.accounts.get(a).map(|s| s.currency))
                    .collect();
                assert!(
                    currencies.len() == 1 && currencies.contains(&entry.receipt.amount.currency()),
                    "posting mixes currencies in {:?}",
                    entry.receipt.txn_id
                );
            }
        }
        self.writes
    }
}

fn sum_leg(postings: &[Posting], leg: Leg) -> i64 {
    postings
        .iter()
        .filter(|p| p.leg == leg)
        .map(|p| p.amount_minor)
        .sum()
}

fn entry_without_text(receipt: Receipt, postings: Vec<Posting>) -> JournalEntry {
    JournalEntry {
        receipt,
        idempotency_key: String::new(),
        fingerprint: String::new(),
        memo: String::new(),
        metadata: String::new(),
        postings,
        reservations: Vec::new(),
        after: Vec::new(),
    }
}

/// Copies of the accounts one command touches, changed freely and kept only if every check passes.
struct Stage<'s> {
    source: &'s BTreeMap<AccountId, AccountState>,
    accounts: BTreeMap<AccountId, AccountState>,
    today: i64,
}

impl<'s> Stage<'s> {
    fn new(source: &'s BTreeMap<AccountId, AccountState>, today: i64) -> Stage<'s> {
        Stage {
            source,
            accounts: BTreeMap::new(),
            today,
        }
    }

    fn account(&mut self, id: AccountId) -> Check<&mut AccountState> {
        if !self.accounts.contains_key(&id) {
            let copy = self
                .source
                .get(&id)
                .ok_or(Rejection::AccountNotFound)?
                .clone();
            self.accounts.insert(id, copy);
        }
        self.accounts.get_mut(&id).ok_or(Rejection::AccountNotFound)
    }

    fn post_all(&mut self, postings: &[Posting]) -> Check<()> {
        for p in postings {
            self.apply(p, |a, amount, is_debit| {
                a.balance_minor = if is_debit {
                    a.balance_minor.checked_sub(amount)
                } else {
                    a.balance_minor.checked_add(amount)
                }
                .ok_or(Rejection::AmountOverflow)?;
                Ok(())
            })?;
        }
        Ok(())
    }

    fn reserve_all(&mut self, postings: &[Posting]) -> Check<()> {
        self.adjust_pending(postings, true)
    }

    fn release_all(&mut self, postings: &[Posting]) -> Check<()> {
        self.adjust_pending(postings, false)
    }

    fn adjust_pending(&mut self, postings: &[Posting], reserve: bool) -> Check<()> {
        for p in postings {
            self.apply(p, |a, amount, is_debit| {
                let counter = if is_debit {
                    &mut a.pending_debits_minor
                } else {
                    &mut a.pending_credits_minor
                };
                let next = if reserve {
                    counter.checked_add(amount)
                } else {
                    counter.checked_sub(amount)
                };
                *counter = next.filter(|v| *v >= 0).ok_or(Rejection::AmountOverflow)?;
                Ok(())
            })?;
        }
        Ok(())
    }

    /// Applies `change` to the debit side, then the credit side, of one posting.
    fn apply(
        &mut self,
        posting: &Posting,
        change: impl Fn(&mut AccountState, i64, bool) -> Check<()>,
    ) -> Check<()> {
        if posting.amount_minor <= 0 {
            return Err(Rejection::AmountNotPositive);
        }
        for (id, is_debit) in [(posting.debit, true), (posting.credit, false)] {
            change(self.account(id)?, posting.amount_minor, is_debit)?;
        }
        Ok(())
    }

    fn count_daily_debit(&mut self, id: AccountId, delta: i64) -> Check<()> {
        let today = self.today;
        let account = self.account(id)?;
        let base = account.debits_on(today);
        account.day_number = today;
        account.day_debits_minor = base
            .checked_add(delta)
            .ok_or(Rejection::AmountOverflow)?
            .max(0);
        Ok(())
    }

    /// Every floor-bound account whose spendable money went down must still be at or above zero.
    fn check_floors(&self) -> Check<()> {
        for (id, staged) in &self.accounts {
            let before = self.source.get(id).and_then(AccountState::available_minor);
            let decreased = staged.available_minor() < before;
            if decreased && !staged.is_within_floor() {
                return Err(Rejection::InsufficientFunds);
            }
        }
        Ok(())
    }

    fn into_changes(self) -> BTreeMap<AccountId, AccountState> {
        self.accounts
    }
}
