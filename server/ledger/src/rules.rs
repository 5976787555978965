//! The configurable rules the ledger enforces: limits per KYC tier, minimum amounts, tariffs and
//! commissions, reversal and pending-transfer policy. Values come from configuration (defaults
//! from public Kenyan figures); `validate` proves them coherent before the ledger starts.

use std::collections::BTreeMap;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::model::{Tier, TxnKind};
use crate::money::Currency;

/// Upper bounds on what configuration may set; a config beyond these is refused at start-up.
pub mod bounds {
    /// Largest single amount any currency may allow, in minor units (10^15: a trillion with cents).
    pub const AMOUNT_MAX_MINOR: i64 = 1_000_000_000_000_000;
    pub const BANDS_MAX: usize = 64;
    pub const PENDING_EXPIRY_MAX_SECONDS: i64 = 30 * 86_400;
    pub const REVERSAL_WINDOW_MAX_SECONDS: i64 = 90 * 86_400;
    pub const REFUND_WINDOW_MAX_SECONDS: i64 = 180 * 86_400;
    pub const REVERSAL_ATTEMPTS_MAX: u32 = 10;
    pub const IDEMPOTENCY_KEY_LEN_MAX: usize = 128;
    pub const MEMO_LEN_MAX: usize = 512;
    pub const METADATA_LEN_MAX: usize = 8_192;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierLimits {
    pub per_transaction_minor: i64,
    pub daily_debits_minor: i64,
    pub balance_minor: i64,
}

/// One tariff band: amounts in `[from_minor, to_minor]` (inclusive) cost `fee_minor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Band {
    pub from_minor: i64,
    pub to_minor: i64,
    pub fee_minor: i64,
}

/// A banded tariff. Amounts outside every band cost nothing: a transaction the bands do not
/// price is refused by limits or minimums, not by the tariff.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bands(pub Vec<Band>);

impl Bands {
    pub fn fee_for(&self, amount_minor: i64) -> i64 {
        self.0
            .iter()
            .find(|b| b.from_minor <= amount_minor && amount_minor <= b.to_minor)
            .map_or(0, |b| b.fee_minor)
    }

    /// Bands must be sorted, non-overlapping, with non-negative fees that never fall as the
    /// amount rises (so a partial post never costs more than the reservation covered).
    fn validate(&self, what: &str) -> Result<(), String> {
        if self.0.len() > bounds::BANDS_MAX {
            return Err(format!("{what}: more than {} bands", bounds::BANDS_MAX));
        }
        let mut previous: Option<&Band> = None;
        for band in &self.0 {
            if band.from_minor < 1 || band.to_minor < band.from_minor || band.fee_minor < 0 {
                return Err(format!(
                    "{what}: band {band:?} is not a positive range with a non-negative fee"
                ));
            }
            if band.fee_minor > band.from_minor && what.starts_with("commission") {
                return Err(format!(
                    "{what}: commission {band:?} exceeds the amount it is paid on"
                ));
            }
            if let Some(prev) = previous {
                if band.from_minor <= prev.to_minor {
                    return Err(format!(
                        "{what}: bands {prev:?} and {band:?} overlap or are out of order"
                    ));
                }
                if band.fee_minor < prev.fee_minor {
                    return Err(format!(
                        "{what}: fees must not fall as amounts rise ({prev:?} then {band:?})"
                    ));
                }
            }
            previous = Some(band);
        }
        Ok(())
    }
}

/// A percentage fee with a cap, e.g. merchants pay 0.5% capped at 200.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PercentFee {
    pub basis_points: u32,
    pub cap_minor: i64,
}

impl PercentFee {
    /// Rounds half-up to the minor unit: the rate is applied through `rust_decimal`, with the
    /// rounding rule stated, never through floats.
    pub fn fee_for(&self, amount_minor: i64) -> i64 {
        let raw =
            Decimal::from(amount_minor) * Decimal::from(self.basis_points) / Decimal::from(10_000);
        let rounded = raw.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
        i64::try_from(rounded).map_or(self.cap_minor, |fee| fee.min(self.cap_minor))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tariffs {
    /// Paid by the sender of a customer-to-customer transfer.
    pub send: Bands,
    /// Paid by the customer withdrawing cash at an agent.
    pub withdraw: Bands,
    /// Paid by the merchant on merchant payments and purchases.
    pub merchant: PercentFee,
    /// Earned by the agent on a cash-in, paid from fee revenue.
    pub commission_deposit: Bands,
    /// Earned by the agent on a cash-out, paid from fee revenue.
    pub commission_withdrawal: Bands,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrencyRules {
    /// Largest amount of any customer-facing transaction.
    pub amount_max_minor: i64,
    /// Largest amount of the operator's own movements (float issuance and transfers,
    /// adjustments, fees, commissions), which run far above any customer's.
    pub operator_amount_max_minor: i64,
    /// Limits for tier 0, 1 and 2, in that order.
    pub tiers: [TierLimits; 3],
    /// Smallest amount per kind of transaction; kinds not listed need at least one minor unit.
    pub minimums_minor: BTreeMap<TxnKind, i64>,
    pub tariffs: Tariffs,
}

impl CurrencyRules {
    pub fn tier(&self, tier: Tier) -> &TierLimits {
        let [tier0, tier1, tier2] = &self.tiers;
        match tier {
            Tier::Tier0 => tier0,
            Tier::Tier1 => tier1,
            Tier::Tier2 => tier2,
        }
    }

    pub fn amount_max_for(&self, kind: TxnKind) -> i64 {
        match kind {
            TxnKind::FloatIssuance
            | TxnKind::FloatTransfer
            | TxnKind::Adjustment
            | TxnKind::Fee
            | TxnKind::Commission => self.operator_amount_max_minor,
            TxnKind::Deposit
            | TxnKind::Withdrawal
            | TxnKind::Transfer
            | TxnKind::MerchantPayment
            | TxnKind::Purchase
            | TxnKind::Reversal
            | TxnKind::Refund
            | TxnKind::Disbursement => self.amount_max_minor,
        }
    }

    pub fn minimum_for(&self, kind: TxnKind) -> i64 {
        self.minimums_minor.get(&kind).copied().unwrap_or(1).max(1)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReversalRules {
    pub window_seconds: i64,
    pub attempts_max: u32,
}

/// How long a merchant may refund a payment (in full or in parts).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundRules {
    pub window_seconds: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingRules {
    pub expiry_max_seconds: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerRules {
    pub currencies: BTreeMap<Currency, CurrencyRules>,
    pub reversal: ReversalRules,
    pub refund: RefundRules,
    pub pending: PendingRules,
    /// The operator's offset from UTC, so "daily" limits reset at local midnight.
    pub utc_offset_seconds: i32,
    pub idempotency_key_len_max: usize,
    pub memo_len_max: usize,
    pub metadata_len_max: usize,
}

impl LedgerRules {
    pub fn validate(&self) -> Result<(), String> {
        if self.currencies.is_empty() {
            return Err("at least one currency must be enabled".into());
        }
        for (currency, rules) in &self.currencies {
            let name = currency.code();
            if !(1..=bounds::AMOUNT_MAX_MINOR).contains(&rules.amount_max_minor) {
                return Err(format!(
                    "{name}: amount maximum must be between 1 and {}",
                    bounds::AMOUNT_MAX_MINOR
                ));
            }
            if !(1..=bounds::AMOUNT_MAX_MINOR).contains(&rules.operator_amount_max_minor) {
                return Err(format!(
                    "{name}: operator amount maximum must be between 1 and {}",
                    bounds::AMOUNT_MAX_MINOR
                ));
            }
            for (i, tier) in rules.tiers.iter().enumerate() {
                for (what, value) in [
                    ("per-transaction", tier.per_transaction_minor),
                    ("daily", tier.daily_debits_minor),
                    ("balance", tier.balance_minor),
                ] {
                    if !(1..=bounds::AMOUNT_MAX_MINOR).contains(&value) {
                        return Err(format!("{name}: tier {i} {what} limit out of range"));
                    }
                }
            }
            for (kind, min) in &rules.minimums_minor {
                if *min < 1 || *min > rules.amount_max_minor {
                    return Err(format!("{name}: minimum for {kind} out of range"));
                }
            }
            let t = &rules.tariffs;
            t.send.validate(&format!("{name} send"))?;
            t.withdraw.validate(&format!("{name} withdraw"))?;
            t.commission_deposit
                .validate(&format!("commission {name} deposit"))?;
            t.commission_withdrawal
                .validate(&format!("commission {name} withdrawal"))?;
            if t.merchant.basis_points >= 10_000 || t.merchant.cap_minor < 0 {
                return Err(format!(
                    "{name}: merchant fee must be below 100% with a non-negative cap"
                ));
            }
        }
        if !(60..=bounds::REVERSAL_WINDOW_MAX_SECONDS).contains(&self.reversal.window_seconds) {
            return Err("reversal window out of range".into());
        }
        if !(60..=bounds::REFUND_WINDOW_MAX_SECONDS).contains(&self.refund.window_seconds) {
            return Err("refund window out of range".into());
        }
        if !(1..=bounds::REVERSAL_ATTEMPTS_MAX).contains(&self.reversal.attempts_max) {
            return Err("reversal attempts out of range".into());
        }
        if !(1..=bounds::PENDING_EXPIRY_MAX_SECONDS).contains(&self.pending.expiry_max_seconds) {
            return Err("pending expiry maximum out of range".into());
        }
        if !(-14 * 3600..=14 * 3600).contains(&self.utc_offset_seconds) {
            return Err("UTC offset out of range".into());
        }
        let lengths = [
            (
                "idempotency key",
                self.idempotency_key_len_max,
                bounds::IDEMPOTENCY_KEY_LEN_MAX,
            ),
            ("memo", self.memo_len_max, bounds::MEMO_LEN_MAX),
            ("metadata", self.metadata_len_max, bounds::METADATA_LEN_MAX),
        ];
        for (what, value, max) in lengths {
            if value == 0 || value > max {
                return Err(format!("{what} length limit must be between 1 and {max}"));
            }
        }
        Ok(())
    }

    /// Kenyan defaults (public 2023–2025 figures) for KES; see `shared/reference/domain.md`.
    pub fn kenya_defaults() -> LedgerRules {
        const fn ksh(whole: i64) -> i64 {
            whole * 100
        }
        let bands = |rows: &[(i64, i64, i64)]| {
            Bands(
                rows.iter()
                    .map(|&(from, to, fee)| Band {
                        from_minor: ksh(from),
                        to_minor: ksh(to),
                        fee_minor: ksh(fee),
                    })
                    .collect(),
            )
        };
        // Bands are contiguous at cent precision: 1.00–49.99 is free, 50.00–100.99 and so on,
        // so an amount with cents never falls between two bands.
        let contiguous = |rows: &[(i64, i64, i64)]| {
            let mut b = bands(rows);
            for band in &mut b.0 {
                band.to_minor += 99;
            }
            b
        };
        let send = contiguous(&[
            (1, 100, 0),
            (101, 500, 7),
            (501, 1_000, 13),
            (1_001, 1_500, 23),
            (1_501, 2_500, 33),
            (2_501, 3_500, 53),
            (3_501, 5_000, 57),
            (5_001, 7_500, 78),
            (7_501, 10_000, 90),
            (10_001, 15_000, 100),
            (15_001, 20_000, 105),
            (20_001, 35_000, 108),
            (35_001, 50_000, 108),
            (50_001, 250_000, 108),
        ]);
        let withdraw = contiguous(&[
            (50, 100, 11),
            (101, 2_500, 29),
            (2_501, 3_500, 52),
            (3_501, 5_000, 69),
            (5_001, 7_500, 87),
            (7_501, 10_000, 115),
            (10_001, 15_000, 167),
            (15_001, 20_000, 185),
            (20_001, 35_000, 197),
            (35_001, 50_000, 278),
            (50_001, 250_000, 309),
        ]);
        let commission = contiguous(&[
            (50, 100, 4),
            (101, 500, 8),
            (501, 2_500, 15),
            (2_501, 10_000, 35),
            (10_001, 50_000, 80),
            (50_001, 250_000, 150),
        ]);
        let kes = CurrencyRules {
            amount_max_minor: ksh(250_000),
            operator_amount_max_minor: ksh(100_000_000),
            tiers: [
                TierLimits {
                    per_transaction_minor: ksh(20_000),
                    daily_debits_minor: ksh(50_000),
                    balance_minor: ksh(100_000),
                },
                TierLimits {
                    per_transaction_minor: ksh(150_000),
                    daily_debits_minor: ksh(300_000),
                    balance_minor: ksh(300_000),
                },
                TierLimits {
                    per_transaction_minor: ksh(250_000),
                    daily_debits_minor: ksh(500_000),
                    balance_minor: ksh(500_000),
                },
            ],
            minimums_minor: BTreeMap::from([
                (TxnKind::Withdrawal, ksh(50)),
                (TxnKind::Deposit, ksh(10)),
            ]),
            tariffs: Tariffs {
                send,
                withdraw,
                merchant: PercentFee {
                    basis_points: 50,
                    cap_minor: ksh(200),
                },
                commission_deposit: commission.clone(),
                commission_withdrawal: commission,
            },
        };
        LedgerRules {
            currencies: BTreeMap::from([(Currency::KES, kes)]),
            reversal: ReversalRules {
                window_seconds: 24 * 3600,
                attempts_max: 3,
            },
            refund: RefundRules {
                window_seconds: 30 * 86_400,
            },
            pending: PendingRules {
                expiry_max_seconds: 7 * 86_400,
            },
            utc_offset_seconds: 3 * 3600,
            // The hard bound: USSD step keys carry the gateway's session id and reach it
            // (`mkoba_ussd::engine::STEP_KEY_LEN_MAX`; the server refuses a smaller setting).
            idempotency_key_len_max: bounds::IDEMPOTENCY_KEY_LEN_MAX,
            memo_len_max: 140,
            metadata_len_max: 2_048,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kenya_defaults_are_valid_and_priced_as_published() {
        let rules = LedgerRules::kenya_defaults();
        assert_eq!(rules.validate(), Ok(()));
        let kes = &rules.currencies[&Currency::KES];
        assert_eq!(kes.tariffs.send.fee_for(10_000), 0); // 100.00 is free
        assert_eq!(kes.tariffs.send.fee_for(10_001), 0); // 100.01 still in the free band
        assert_eq!(kes.tariffs.send.fee_for(10_100), 700); // 101.00 costs 7
        assert_eq!(kes.tariffs.withdraw.fee_for(5_000), 1_100);
        assert_eq!(kes.tariffs.withdraw.fee_for(25_000_000), 30_900);
        assert_eq!(kes.minimum_for(TxnKind::Withdrawal), 5_000);
        assert_eq!(kes.minimum_for(TxnKind::Transfer), 1);
    }

    #[test]
    fn merchant_percentage_rounds_half_up_and_caps() {
        let fee = PercentFee {
            basis_points: 50,
            cap_minor: 20_000,
        };
        assert_eq!(fee.fee_for(100), 1); // 0.5 rounds up
        assert_eq!(fee.fee_for(99), 0); // 0.495 rounds down
        assert_eq!(fee.fee_for(1_000_000), 5_000);
        assert_eq!(fee.fee_for(10_000_000_000), 20_000);
    }

    #[test]
    fn incoherent_rules_are_refused() {
        let mut rules = LedgerRules::kenya_defaults();
        if let Some(kes) = rules.currencies.get_mut(&Currency::KES) {
            kes.tariffs.send.0.swap(0, 1);
        }
        assert!(rules.validate().is_err());

        let mut rules = LedgerRules::kenya_defaults();
        rules.reversal.attempts_max = 0;
        assert!(rules.validate().is_err());

        let mut rules = LedgerRules::kenya_defaults();
        rules.memo_len_max = 100_000;
        assert!(rules.validate().is_err());
    }
}
