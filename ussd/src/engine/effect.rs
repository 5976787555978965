//! What the engine asks the server to do ([`Effect`]) and what the server answers
//! ([`EffectResult`]).
//!
//! The server performs an effect and calls [`crate::engine::handle`] with
//! `Event::Result(answer)` in the same hop. Each effect lists the answers it expects; any other
//! answer, and [`EffectResult::Unavailable`] (database down, timeout), ends the session politely
//! (for [`Effect::Execute`], with a warning that the outcome is unknown). Text the server passes
//! is sanitized and cut to the bounds in [`crate::engine::bounds`].

use mkoba_ledger::{Money, Rejection, Tier, TxnKind};
use serde::{Deserialize, Serialize};

use crate::catalog::Language;

/// A request for the server. PINs travel in effects only: the session state never holds a PIN
/// that is in use (only, between its two entries, a new one being chosen).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Is this typed number a customer? Normalise `msisdn_text` with the market's default
    /// country. Answers: `Recipient`, `RecipientUnknown` (valid number, no wallet),
    /// `InvalidNumber`.
    LookupRecipient { msisdn_text: String },
    /// Find an agent (and store, when `EngineConfig::withdraw_asks_till`). Answers: `Agent`,
    /// `AgentUnknown`.
    LookupAgent {
        agent_code: String,
        till: Option<String>,
    },
    /// Find a merchant by its code. Answers: `Merchant`, `MerchantUnknown`.
    LookupMerchant { code: String },
    /// Price a transaction without moving money: parse `amount_text` with `Money::parse` in the
    /// customer's currency, run the ledger's checks (limits, balance, minimums) and tariff.
    /// Answers: `Quote`, `Rejected` (amount errors by their `AmountError` names).
    Quote {
        kind: TxnKind,
        amount_text: String,
        counterparty: Counterparty,
    },
    /// One page of a catalog category, cheapest first or as the operator likes. Answers:
    /// `Products` (at most `limit` items; `more` if there are items after them).
    ListCatalog {
        category: Category,
        offset: u32,
        limit: u32,
    },
    /// Requests waiting for this customer's approval (agent-started withdrawals, merchant
    /// charges, merchants asking for an allowance). Answers: `Approvals` (empty list if none).
    ListApprovals,
    /// The customer's recent sends that may still be reversed (within the reversal window).
    /// Answers: `RecentSends`.
    ListRecentSends,
    /// Open a tier-0 wallet for the calling number. The PIN was checked here (format, not weak,
    /// entered twice); the server hashes it. Answers: `Registered`, `AlreadyRegistered`.
    Register {
        name: String,
        language: Language,
        pin: Pin,
    },
    /// Verify the PIN, then move money. `step_key` is the ledger idempotency key to use: it is
    /// the same for a repeated hop, so a gateway retry cannot pay twice. Answers: `Done`,
    /// `WrongPin`, `PinLocked`, `Rejected`.
    Execute {
        action: MoneyAction,
        pin: Pin,
        step_key: String,
    },
    /// Verify the PIN and read the wallet's available balance. Answers: `Balance`, `WrongPin`,
    /// `PinLocked`.
    Balance { pin: Pin },
    /// Verify the PIN and read the last transactions (the server chooses how many, up to
    /// `bounds::STATEMENT_ENTRIES_MAX`; the engine pages them). Answers: `Statement`,
    /// `WrongPin`, `PinLocked`.
    MiniStatement { pin: Pin },
    /// Verify the PIN and read the customer's tier limits. Answers: `Limits`, `WrongPin`,
    /// `PinLocked`.
    Limits { pin: Pin },
    /// Verify `old` and set `new` (already checked here: format, not weak, entered twice,
    /// different from `old`); clear the must-change flag. Answers: `PinChanged`, `WrongPin`,
    /// `PinLocked`.
    ChangePin { old: Pin, new: Pin },
    /// Store the customer's language. Answers: `LanguageSet`.
    SetLanguage { language: Language },
    /// The customer's active allowances (not revoked, not expired), in the order to show them;
    /// the engine keeps the first `bounds::ALLOWANCES_MAX` and pages them. Answers:
    /// `Allowances` (empty list if none).
    ListAllowances,
    /// Revoke one of the customer's allowances (`AllowanceItem::id`): its merchant can charge it
    /// no more. No PIN: revoking only reduces risk. Answers: `AllowanceRevoked`, `Rejected`
    /// (`AllowanceNotFound` when it is not this customer's, or is already revoked or expired).
    RevokeAllowance { id: String },
    /// Verify the PIN, then let the merchant (`merchant_code` as typed, looked up already with
    /// `LookupMerchant`) charge this customer's wallet without a PIN: at most `per_charge_max`
    /// a charge (never more than `cap`, checked here), at most `cap` in all, for `days` days
    /// from now (`bounds::ALLOWANCE_DAYS_MIN..=ALLOWANCE_DAYS_MAX`, checked here); `cap` and
    /// `per_charge_max` are in the customer's currency, parsed with `Money::parse`. No money
    /// moves. `step_key` is the idempotency key, as for `Execute` (its tag is `allowance`): a
    /// repeated hop must not grant twice. Answers: `AllowanceGranted`, `WrongPin`, `PinLocked`,
    /// `Rejected`.
    GrantAllowance {
        merchant_code: String,
        cap: Money,
        per_charge_max: Money,
        days: u32,
        pin: Pin,
        step_key: String,
    },
}

/// A PIN on its way to the server's check. `Debug` never shows it, so logging an effect never
/// logs a PIN; the server reads it with [`Pin::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Pin(String);

impl Pin {
    pub fn new(pin: impl Into<String>) -> Pin {
        Pin(pin.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pin(***)")
    }
}

/// Who or what a quoted transaction pays.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Counterparty {
    /// Another customer, by the number typed (the server looked it up already).
    Person { msisdn_text: String },
    /// An agent paying out cash.
    Agent {
        agent_code: String,
        till: Option<String>,
    },
    /// A merchant, with the account number the customer typed if the merchant needs one.
    Merchant {
        code: String,
        reference: Option<String>,
    },
    /// Airtime for the calling number (`None`) or another number.
    Airtime { msisdn_text: Option<String> },
}

/// A money movement the customer confirms with a PIN.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MoneyAction {
    /// Send to another customer, held pending for the cancel window before it is posted.
    Send { msisdn_text: String, amount: Money },
    /// Withdraw at an agent: pending until the agent pays out the cash.
    Withdraw {
        agent_code: String,
        till: Option<String>,
        amount: Money,
    },
    /// Airtime for the calling number (`None`) or another number.
    BuyAirtime {
        msisdn_text: Option<String>,
        amount: Money,
    },
    /// A catalog product for the calling customer, at the price shown (the server refuses if
    /// the price has changed since).
    BuyProduct { product_id: String, price: Money },
    /// Pay a merchant.
    PayMerchant {
        code: String,
        reference: Option<String>,
        amount: Money,
    },
    /// Approve a waiting request (`ApprovalRequest::id`): post its pending transfer, or for an
    /// `ApprovalKind::Allowance` request grant the allowance (answer `AllowanceGranted`, not
    /// `Done`: no money moves).
    Approve { request_id: String },
    /// Decline a waiting request: void its pending transfer, or refuse the allowance asked for.
    /// No money moves. Answers `Done` for every kind (only `new_balance` is shown; for an
    /// allowance the code may be empty).
    Decline { request_id: String },
    /// Void the customer's last send if it is still pending (inside the cancel window).
    /// `PendingNotFound`/`PendingAlreadyPosted`/`PendingExpired` when there is nothing to cancel.
    CancelLastSend,
    /// Reverse a recent send (`SentItem::code`) by the ledger's reversal rules.
    Reverse { code: String },
}

/// Catalog categories on the Buy menu (names as in the `products.category` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Data,
    Article,
    Song,
    Game,
    Software,
}

impl Category {
    pub const ALL: [Category; 5] = [
        Category::Data,
        Category::Article,
        Category::Song,
        Category::Game,
        Category::Software,
    ];

    /// The database name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Category::Data => "data",
            Category::Article => "article",
            Category::Song => "song",
            Category::Game => "game",
            Category::Software => "software",
        }
    }
}

/// The server's answer to an effect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EffectResult {
    /// `LookupRecipient`: a customer, with the masked name to show (`JOHN D***`).
    Recipient {
        masked_name: String,
    },
    RecipientUnknown,
    InvalidNumber,
    /// `LookupAgent`: the agent's (or store's) display name.
    Agent {
        name: String,
    },
    AgentUnknown,
    /// `LookupMerchant`: whether the merchant wants an account number with each payment.
    Merchant {
        name: String,
        needs_reference: bool,
    },
    MerchantUnknown,
    /// `Quote`.
    Quote(Quote),
    /// `ListCatalog`.
    Products {
        items: Vec<Product>,
        more: bool,
    },
    /// `ListApprovals`.
    Approvals(Vec<ApprovalRequest>),
    /// `ListRecentSends`.
    RecentSends(Vec<SentItem>),
    /// `Register`.
    Registered,
    AlreadyRegistered,
    /// `Execute`: the money moved (or, for a pending send or withdrawal, was reserved).
    Done(Receipt),
    /// `GrantAllowance`, or `Execute` approving an `ApprovalKind::Allowance` request: the
    /// allowance is in force. No money moved. `merchant` is the merchant's display name, `cap`
    /// the most it may charge in all, `until` the last day it may charge, as short date text
    /// in the customer's time zone (`17/10`, cut to `bounds::DATE_LEN_MAX`).
    AllowanceGranted {
        merchant: String,
        cap: Money,
        until: String,
    },
    /// `ListAllowances`.
    Allowances(Vec<AllowanceItem>),
    /// `RevokeAllowance`: revoked; the merchant can charge it no more.
    AllowanceRevoked,
    /// `Balance`.
    Balance {
        available: Money,
    },
    /// `MiniStatement`, newest first.
    Statement(Vec<StatementEntry>),
    /// `Limits`.
    Limits(LimitsInfo),
    /// `ChangePin`.
    PinChanged,
    /// `SetLanguage`.
    LanguageSet,
    /// Any PIN-checked effect: the PIN was wrong and the customer may try again.
    WrongPin {
        attempts_left: u32,
    },
    /// Any PIN-checked effect: too many wrong PINs; the PIN is now locked.
    PinLocked,
    /// `Quote`, `Execute`, `GrantAllowance` or `RevokeAllowance`: the ledger refused.
    Rejected(Rejection),
    /// The server could not perform the effect (store down, timeout).
    Unavailable,
}

/// A priced transaction. `total` is what leaves the wallet (amount plus fee).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    pub amount: Money,
    pub fee: Money,
    pub total: Money,
    /// Who is paid, as the customer should see it: masked name, agent or merchant name, or the
    /// airtime number.
    pub counterparty_label: String,
}

/// What a completed money movement left behind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The ledger's transaction code (`QK7ZD3MPWA`).
    pub code: String,
    pub amount: Money,
    pub fee: Money,
    /// The wallet's available balance afterwards, if the server has it at hand.
    pub new_balance: Option<Money>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    /// Opaque id for `MoneyAction::BuyProduct` (at most `bounds::ID_LEN_MAX`).
    pub id: String,
    pub name: String,
    pub price: Money,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApprovalKind {
    /// An agent started a cash-out for this customer.
    Withdrawal,
    /// A merchant asked to be paid.
    MerchantPayment,
    /// A merchant asked for an allowance: to charge this customer without a PIN, within a cap,
    /// a per-charge maximum and a date.
    Allowance,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRequest {
    /// Opaque id for `MoneyAction::Approve`/`Decline`.
    pub id: String,
    pub kind: ApprovalKind,
    /// The agent or merchant name.
    pub counterparty: String,
    /// What would be paid; for an `Allowance`, its cap (the most it may charge in all).
    pub amount: Money,
    /// Zero for an `Allowance`.
    pub fee: Money,
    /// `Allowance` only, and required there (a request without it is not shown): the most one
    /// charge may take.
    #[serde(default)]
    pub per_charge_max: Option<Money>,
    /// `Allowance` only, and required there: the last day it may charge, as short date text
    /// like `StatementEntry::date` (`17/10`).
    #[serde(default)]
    pub until: Option<String>,
    /// `MerchantPayment`: what the merchant says it is for (`Daily news`), shown on the
    /// request's screen; cut to `bounds::DESCRIPTION_LEN_MAX`. Optional.
    #[serde(default)]
    pub description: Option<String>,
}

/// An active allowance, as `ListAllowances` lists it. Amounts are in the customer's currency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowanceItem {
    /// Opaque id for `RevokeAllowance` (at most `bounds::ID_LEN_MAX`).
    pub id: String,
    /// The merchant's display name.
    pub merchant: String,
    /// The most it may charge in all.
    pub cap: Money,
    /// What it has charged so far.
    pub spent: Money,
    /// The most one charge may take.
    pub per_charge_max: Money,
    /// The last day it may charge, as short date text like `StatementEntry::date` (`17/10`).
    pub until: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementEntry {
    /// Short date in the customer's time zone (`17/09`).
    pub date: String,
    pub kind: TxnKind,
    /// Money in (`true`) or out of the wallet.
    pub incoming: bool,
    /// Unsigned amount.
    pub amount: Money,
    /// The other party's short or masked name; may be empty.
    pub counterparty: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentItem {
    /// The send's transaction code, for `MoneyAction::Reverse`.
    pub code: String,
    pub to_label: String,
    pub amount: Money,
    pub date: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitsInfo {
    pub tier: Tier,
    pub per_transaction: Money,
    pub daily: Money,
    pub daily_left: Money,
    pub balance_max: Money,
}
