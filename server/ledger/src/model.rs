//! The ledger's nouns: accounts, transactions, postings and pending transfers.

use serde::{Deserialize, Serialize};

use crate::money::Currency;

/// Microseconds since the Unix epoch, UTC. The ledger never reads a clock: callers pass `now`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub const MICROS_PER_SECOND: i64 = 1_000_000;

    pub fn saturating_add_seconds(self, seconds: i64) -> Timestamp {
        Timestamp(
            self.0
                .saturating_add(seconds.saturating_mul(Self::MICROS_PER_SECOND)),
        )
    }

    /// Whole seconds since the epoch; 0 for an instant before it. For keys and tokens that
    /// lead with their time.
    pub fn unix_seconds(self) -> u64 {
        u64::try_from(self.0.div_euclid(Self::MICROS_PER_SECOND)).unwrap_or(0)
    }

    /// The calendar day (days since the epoch) in the operator's time zone, for daily limits.
    pub fn day_number(self, utc_offset_seconds: i32) -> i64 {
        let local_seconds =
            self.0.div_euclid(Self::MICROS_PER_SECOND) + i64::from(utc_offset_seconds);
        local_seconds.div_euclid(86_400)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AccountId(pub i64);

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TxnId(pub i64);

macro_rules! named_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($variant:ident => $text:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The stable text stored in the database and shown in APIs.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }

            pub fn parse(text: &str) -> Option<$name> {
                match text { $($text => Some($name::$variant),)* _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

named_enum! {
    /// What an account is for; decides its floor and which transactions may touch it.
    pub enum AccountKind {
        CustomerWallet => "customer_wallet",
        AgentFloat => "agent_float",
        AgentCommission => "agent_commission",
        Merchant => "merchant",
        FeeRevenue => "fee_revenue",
        EmoneyIssuance => "emoney_issuance",
        Suspense => "suspense",
    }
}

impl AccountKind {
    /// Accounts that hold someone's e-money may never go below zero, counting pending debits.
    /// The issuance account mirrors the trust bank account (its balance is the negative of all
    /// e-money in circulation); fee revenue pays commissions before it earns fees; suspense
    /// parks corrections. Those three are the operator's own and have no floor.
    pub const fn has_floor(self) -> bool {
        match self {
            AccountKind::CustomerWallet
            | AccountKind::AgentFloat
            | AccountKind::AgentCommission
            | AccountKind::Merchant => true,
            AccountKind::FeeRevenue | AccountKind::EmoneyIssuance | AccountKind::Suspense => false,
        }
    }
}

named_enum! {
    pub enum AccountStatus {
        Active => "active",
        Frozen => "frozen",
        Closed => "closed",
    }
}

named_enum! {
    /// KYC tier of a customer: 0 self-registered, 1 ID checked by an agent, 2 full.
    pub enum Tier {
        Tier0 => "tier0",
        Tier1 => "tier1",
        Tier2 => "tier2",
    }
}

impl Tier {
    pub const fn index(self) -> usize {
        match self {
            Tier::Tier0 => 0,
            Tier::Tier1 => 1,
            Tier::Tier2 => 2,
        }
    }

    pub const fn from_index(index: i16) -> Option<Tier> {
        match index {
            0 => Some(Tier::Tier0),
            1 => Some(Tier::Tier1),
            2 => Some(Tier::Tier2),
            _ => None,
        }
    }
}

named_enum! {
    pub enum TxnKind {
        Deposit => "deposit",
        Withdrawal => "withdrawal",
        Transfer => "transfer",
        MerchantPayment => "merchant_payment",
        Purchase => "purchase",
        Fee => "fee",
        Commission => "commission",
        Reversal => "reversal",
        FloatIssuance => "float_issuance",
        FloatTransfer => "float_transfer",
        Adjustment => "adjustment",
        Refund => "refund",
        Disbursement => "disbursement",
    }
}

impl TxnKind {
    /// The account kinds a kind of transaction may debit and credit; `None` means any kind.
    pub fn allowed_accounts(
        self,
    ) -> (
        Option<&'static [AccountKind]>,
        Option<&'static [AccountKind]>,
    ) {
        use AccountKind as K;
        const WALLET: &[K] = &[K::CustomerWallet];
        const FLOAT: &[K] = &[K::AgentFloat];
        match self {
            TxnKind::Deposit => (Some(FLOAT), Some(WALLET)),
            TxnKind::Withdrawal => (Some(WALLET), Some(FLOAT)),
            TxnKind::Transfer => (Some(WALLET), Some(WALLET)),
            TxnKind::MerchantPayment | TxnKind::Purchase => (Some(WALLET), Some(&[K::Merchant])),
            // A merchant paying a customer out (salaries, prizes, cash back): the customer's
            // tier limits bind the wallet as for any money received.
            TxnKind::Disbursement => (Some(&[K::Merchant]), Some(WALLET)),
            TxnKind::Fee => (None, Some(&[K::FeeRevenue])),
            TxnKind::Commission => (Some(&[K::FeeRevenue]), Some(&[K::AgentCommission])),
            TxnKind::FloatIssuance => (Some(&[K::EmoneyIssuance]), Some(FLOAT)),
            TxnKind::FloatTransfer => (Some(FLOAT), Some(FLOAT)),
            // Reversals are built by the ledger from the original, never submitted directly.
            TxnKind::Reversal => (Some(&[]), Some(&[])),
            TxnKind::Adjustment => (None, None),
            // Refunds are built by the ledger from the original payment, like reversals.
            TxnKind::Refund => (Some(&[]), Some(&[])),
        }
    }

    /// Whether a reversal may correct this kind of transaction.
    pub const fn reversible(self) -> bool {
        matches!(
            self,
            TxnKind::Deposit | TxnKind::Transfer | TxnKind::MerchantPayment | TxnKind::Purchase
        )
    }
}

named_enum! {
    /// What a journal entry did: moved money, reserved it, or resolved a reservation.
    pub enum Phase {
        Posted => "posted",
        Pending => "pending",
        PostPending => "post_pending",
        VoidPending => "void_pending",
    }
}

named_enum! {
    /// Why a posting exists inside its transaction.
    pub enum Leg {
        Principal => "principal",
        Fee => "fee",
        Commission => "commission",
    }
}

named_enum! {
    pub enum PendingStatus {
        Open => "open",
        Posted => "posted",
        Voided => "voided",
        Expired => "expired",
    }
}

/// One movement of money inside a transaction: `amount_minor` leaves `debit` and reaches `credit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posting {
    pub leg: Leg,
    pub debit: AccountId,
    pub credit: AccountId,
    pub amount_minor: i64,
}

/// The mutable state of an account as the ledger sees it inside one batch.
///
/// Balances are credit-normal: `balance_minor` is credits minus debits, so a wallet holding money
/// is positive and the issuance account (the operator's mirror of the trust bank) is negative.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountState {
    pub id: AccountId,
    pub kind: AccountKind,
    pub currency: Currency,
    pub status: AccountStatus,
    pub tier: Tier,
    pub blacklisted: bool,
    /// Where this agent float's commissions are paid, if it is an agent float.
    pub commission_account: Option<AccountId>,
    pub balance_minor: i64,
    pub pending_debits_minor: i64,
    pub pending_credits_minor: i64,
    /// Day number (see `Timestamp::day_number`) that `day_debits_minor` counts for.
    pub day_number: i64,
    pub day_debits_minor: i64,
}

impl AccountState {
    /// What the owner can spend now: posted balance less what pending debits reserve.
    pub fn available_minor(&self) -> Option<i64> {
        self.balance_minor.checked_sub(self.pending_debits_minor)
    }

    pub fn is_within_floor(&self) -> bool {
        !self.kind.has_floor() || self.available_minor().is_some_and(|a| a >= 0)
    }

    /// Outgoing value already counted today, as of `today`.
    pub fn debits_on(&self, today: i64) -> i64 {
        if self.day_number == today {
            self.day_debits_minor
        } else {
            0
        }
    }
}

/// A reservation made by a pending transfer, and what became of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingState {
    pub txn_id: TxnId,
    pub kind: TxnKind,
    pub currency: Currency,
    pub debit: AccountId,
    pub credit: AccountId,
    pub amount_minor: i64,
    /// The payer-side legs reserved beside the principal (fees the payer owes).
    pub reserved: Vec<Posting>,
    pub expires_at: Timestamp,
    pub status: PendingStatus,
    pub day_number: i64,
}

/// What the ledger needs to know about an earlier transaction to reverse it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReversibleTxn {
    pub txn_id: TxnId,
    pub kind: TxnKind,
    pub phase: Phase,
    pub currency: Currency,
    /// The account that paid the principal (the sender) and the one that received it.
    pub payer: AccountId,
    pub payee: AccountId,
    pub amount_minor: i64,
    pub created_at: Timestamp,
    /// Principal already returned by earlier reversals, and how many there were.
    pub reversed_minor: i64,
    pub reversal_count: u32,
}

/// A customer's standing permission for one merchant to charge their wallet without a PIN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AllowanceId(pub i64);

/// What the ledger needs to know about an allowance to let a charge through, and what charges
/// have used up. The cap and the per-charge maximum are in the allowance's currency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowanceState {
    pub id: AllowanceId,
    pub wallet: AccountId,
    pub merchant: AccountId,
    pub currency: Currency,
    pub cap_minor: i64,
    pub spent_minor: i64,
    pub per_charge_max_minor: i64,
    pub expires_at: Timestamp,
    /// `false` once the customer revoked it; charges are then refused.
    pub active: bool,
}
