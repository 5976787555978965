//! The whole-ledger invariants, checked from what the store reports.
//!
//! The store sums the journal per account (posted postings, and reservations of open pending
//! transfers); this module compares those sums with the balances kept on the accounts and checks
//! the global rules. `mkoba admin reconcile` prints the result and exits non-zero on a mismatch.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::{AccountId, AccountKind};
use crate::money::Currency;

/// One account as stored, with the journal's own view of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AccountLine {
    pub id: AccountId,
    pub kind: AccountKind,
    pub currency: Currency,
    pub balance_minor: i64,
    pub pending_debits_minor: i64,
    pub pending_credits_minor: i64,
    /// Credits minus debits of every posted posting on this account.
    pub journal_balance_minor: i64,
    pub journal_pending_debits_minor: i64,
    pub journal_pending_credits_minor: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CurrencyTotals {
    pub accounts: u64,
    /// Sum of every account's balance: zero in a double-entry ledger.
    pub balance_sum_minor: i128,
    /// E-money held by customers, agents, merchants and the operator's own accounts.
    pub emoney_in_circulation_minor: i128,
    /// The issuance account's balance, negated: what the trust bank account should hold.
    pub issued_minor: i128,
    pub pending_debits_minor: i128,
    pub pending_credits_minor: i128,
    pub by_kind_minor: BTreeMap<AccountKind, i128>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub currencies: BTreeMap<Currency, CurrencyTotals>,
    pub mismatches: Vec<String>,
}

impl Report {
    pub fn balanced(&self) -> bool {
        self.mismatches.is_empty()
    }
}

pub fn reconcile(lines: &[AccountLine]) -> Report {
    let mut report = Report::default();
    for line in lines {
        let totals = report.currencies.entry(line.currency).or_default();
        totals.accounts += 1;
        let balance = i128::from(line.balance_minor);
        totals.balance_sum_minor += balance;
        totals.pending_debits_minor += i128::from(line.pending_debits_minor);
        totals.pending_credits_minor += i128::from(line.pending_credits_minor);
        *totals.by_kind_minor.entry(line.kind).or_default() += balance;
        if line.kind == AccountKind::EmoneyIssuance {
            totals.issued_minor -= balance;
        } else {
            totals.emoney_in_circulation_minor += balance;
        }
        let id = line.id.0;
        if line.balance_minor != line.journal_balance_minor {
            report.mismatches.push(format!(
                "account {id}: balance {} but the journal sums to {}",
                line.balance_minor, line.journal_balance_minor
            ));
        }
        if line.pending_debits_minor != line.journal_pending_debits_minor
            || line.pending_credits_minor != line.journal_pending_credits_minor
        {
            report.mismatches.push(format!(
                "account {id}: pending {}/{} but open reservations sum to {}/{}",
                line.pending_debits_minor,
                line.pending_credits_minor,
                line.journal_pending_debits_minor,
                line.journal_pending_credits_minor
            ));
        }
        let available = line.balance_minor.checked_sub(line.pending_debits_minor);
        if line.kind.has_floor() && available.is_none_or(|a| a < 0) {
            report.mismatches.push(format!(
                "account {id} ({}): {} available, below its floor of zero",
                line.kind, line.balance_minor
            ));
        }
    }
    for (currency, totals) in &report.currencies {
        if totals.balance_sum_minor != 0 {
            report.mismatches.push(format!(
                "{currency}: balances sum to {}, not zero",
                totals.balance_sum_minor
            ));
        }
        if totals.emoney_in_circulation_minor != totals.issued_minor {
            report.mismatches.push(format!(
                "{currency}: {} e-money in circulation but {} issued",
                totals.emoney_in_circulation_minor, totals.issued_minor
            ));
        }
        if totals.pending_debits_minor != totals.pending_credits_minor {
            report.mismatches.push(format!(
                "{currency}: pending debits {} differ from pending credits {}",
                totals.pending_debits_minor, totals.pending_credits_minor
            ));
        }
    }
    report
}
