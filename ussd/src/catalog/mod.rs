//! Every word a customer reads on a USSD screen, in English, Swahili and French.
//!
//! Menu logic never holds text: it names a [`Msg`] and fills its `{slots}` with data. Each
//! language is one file with an exhaustive `match` (adding a key fails to compile until every
//! language has it); tests prove every text is GSM-7 and uses exactly the slots English uses.
//! Ledger refusals get friendly words through [`rejection`], also exhaustive, so a new
//! [`Rejection`] variant cannot reach customers unexplained.

mod en;
mod fr;
mod sw;

use mkoba_ledger::{Rejection, TxnKind};
use serde::{Deserialize, Serialize};

/// A language customers can choose. Stored in the database by [`Language::code`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    En,
    Sw,
    Fr,
}

impl Language {
    pub const ALL: [Language; 3] = [Language::En, Language::Sw, Language::Fr];

    /// ISO 639-1 code, as stored in `customers.language`.
    pub const fn code(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Sw => "sw",
            Language::Fr => "fr",
        }
    }

    pub fn from_code(code: &str) -> Option<Language> {
        Language::ALL.into_iter().find(|l| l.code() == code)
    }

    /// The language's name in itself, as shown on language menus whatever the current language.
    pub const fn native_name(self) -> &'static str {
        match self {
            Language::En => "English",
            Language::Sw => "Kiswahili",
            Language::Fr => "Francais",
        }
    }
}

macro_rules! keys {
    ($($(#[$meta:meta])* $key:ident,)*) => {
        /// A text on a screen. The comment on each group says where it appears.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Msg {
            $($(#[$meta])* $key,)*
        }

        impl Msg {
            pub const ALL: &'static [Msg] = &[$(Msg::$key,)*];
        }
    };
}

keys! {
    // Navigation labels, with the digits customers type.
    NavBack, NavHome, NavMore,
    // Main menu.
    MainTitle, MenuSend, MenuWithdraw, MenuAirtime, MenuBuy, MenuPay, MenuBalance,
    MenuApprovals, MenuAccount,
    // Hints shown above a screen that is asked again.
    HintChoice, HintInvalid, HintName, HintPinDigits, HintPinWeak, HintPinMismatch, HintPinSame,
    HintNumber, HintNotCustomer, HintAmount, HintWrongPin, HintAgent, HintTill, HintMerchant,
    HintCode, HintReference, HintPerCharge, HintDays,
    // Registration.
    RegWelcome, RegName, RegPin, RegPinAgain, RegTerms, RegDone, RegDeclined, RegAlready,
    Accept, Decline, Approve,
    // Send money.
    SendRecipient, SendAmount, SendConfirm, SendDone, CancelHint, BalanceLine,
    // Withdraw cash.
    WithdrawAgent, WithdrawTill, WithdrawAmount, WithdrawConfirm, WithdrawDone,
    // Airtime.
    AirtimeNumber, AirtimeAmount, YourPhone, AirtimeConfirm, AirtimeDone,
    // Buy menu and catalog.
    BuyTitle, BuyAirtimeOther, BuyData, BuyDigital, CategoriesTitle, CatData, CatArticle,
    CatSong, CatGame, CatSoftware, ProductLine, ProductsEmpty, ProductConfirm, ProductDone,
    // Pay merchant.
    PayCode, PayReference, PayAmount, PayConfirm, PayConfirmRef, PayDone,
    // Balance.
    BalancePin, BalanceShow,
    // Approvals.
    ApprovalsTitle, ApprovalsEmpty, ApprovalLineCash, ApprovalLinePay, ApprovalCash, ApprovalPay,
    ApprovePin, DeclinePin, ApprovedDone, DeclinedDone,
    ApprovalLineAllow, ApprovalAllow, ApprovalPayFor, Allow,
    // Allowances: granted (from Approvals or My account), unknown outcome.
    AllowanceDone, AllowanceUnknown,
    // My account.
    AccountTitle, AccStatement, AccChangePin, AccLanguage, AccLimits, AccCancel, AccReverse,
    StatementPin, StatementTitle, StatementLine, StatementEmpty,
    KindDeposit, KindWithdrawal, KindTransfer, KindMerchantPayment, KindPurchase, KindFee,
    KindCommission, KindReversal, KindRefund, KindFloat, KindAdjustment,
    PinNew, PinForced, PinNewAgain, PinCurrent, PinChanged, LanguageTitle, LanguageSet,
    LimitsPin, LimitsShow, CancelPin, CancelDone,
    ReverseTitle, ReverseLine, ReverseEmpty, ReverseConfirm, ReverseDone,
    // My account > Allowances.
    AccAllowances, AllowancesTitle, AllowMine, AllowNew, AllowListTitle, AllowancesEmpty,
    AllowanceLine, AllowanceDetail, Revoke, RevokeConfirm, Keep, RevokeDone,
    AllowCap, AllowPerCharge, AllowDays, AllowConfirm,
    // Endings.
    PinLocked, TooManyInvalid, Unavailable, OutcomeUnknown, DialledPin,
}

/// A `{slot}` in a text, filled with data when the screen is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Slot {
    Amount,
    Balance,
    Code,
    Count,
    Currency,
    Daily,
    Date,
    Days,
    Digits,
    Fee,
    Item,
    Kind,
    Left,
    Max,
    Name,
    Reference,
    Seconds,
    Spent,
    Terms,
    Tier,
}

impl Slot {
    pub const ALL: [Slot; 20] = [
        Slot::Amount,
        Slot::Balance,
        Slot::Code,
        Slot::Count,
        Slot::Currency,
        Slot::Daily,
        Slot::Date,
        Slot::Days,
        Slot::Digits,
        Slot::Fee,
        Slot::Item,
        Slot::Kind,
        Slot::Left,
        Slot::Max,
        Slot::Name,
        Slot::Reference,
        Slot::Seconds,
        Slot::Spent,
        Slot::Terms,
        Slot::Tier,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Slot::Amount => "amount",
            Slot::Balance => "balance",
            Slot::Code => "code",
            Slot::Count => "count",
            Slot::Currency => "currency",
            Slot::Daily => "daily",
            Slot::Date => "date",
            Slot::Days => "days",
            Slot::Digits => "digits",
            Slot::Fee => "fee",
            Slot::Item => "item",
            Slot::Kind => "kind",
            Slot::Left => "left",
            Slot::Max => "max",
            Slot::Name => "name",
            Slot::Reference => "reference",
            Slot::Seconds => "seconds",
            Slot::Spent => "spent",
            Slot::Terms => "terms",
            Slot::Tier => "tier",
        }
    }

    fn from_name(name: &str) -> Option<Slot> {
        Slot::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// The text of `msg` in `lang`, with its `{slots}` unfilled.
pub fn template(lang: Language, msg: Msg) -> &'static str {
    match lang {
        Language::En => en::text(msg),
        Language::Sw => sw::text(msg),
        Language::Fr => fr::text(msg),
    }
}

/// The text of `msg` in `lang` with its slots filled from `args`; a slot without a value is left
/// empty (tests prove no text names a slot its callers do not fill).
pub fn text(lang: Language, msg: Msg, args: &[(Slot, &str)]) -> String {
    fill(template(lang, msg), args)
}

/// A text without slots.
pub fn plain(lang: Language, msg: Msg) -> String {
    template(lang, msg).to_owned()
}

/// What a customer is told when the ledger refuses with `r`.
pub fn rejection(lang: Language, r: Rejection) -> &'static str {
    match lang {
        Language::En => en::rejection(r),
        Language::Sw => sw::rejection(r),
        Language::Fr => fr::rejection(r),
    }
}

/// The statement label of a transaction kind.
pub fn txn_kind(kind: TxnKind) -> Msg {
    match kind {
        TxnKind::Deposit => Msg::KindDeposit,
        TxnKind::Withdrawal => Msg::KindWithdrawal,
        TxnKind::Transfer => Msg::KindTransfer,
        TxnKind::MerchantPayment => Msg::KindMerchantPayment,
        TxnKind::Purchase => Msg::KindPurchase,
        TxnKind::Fee => Msg::KindFee,
        TxnKind::Commission => Msg::KindCommission,
        TxnKind::Reversal => Msg::KindReversal,
        TxnKind::Refund => Msg::KindRefund,
        TxnKind::Disbursement => Msg::KindMerchantPayment,
        TxnKind::FloatIssuance | TxnKind::FloatTransfer => Msg::KindFloat,
        TxnKind::Adjustment => Msg::KindAdjustment,
    }
}

/// The slots a template names, in order of appearance.
pub fn slots_of(template: &str) -> Vec<Result<Slot, String>> {
    let mut found = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let after = rest.get(start + 1..).unwrap_or_default();
        let Some(end) = after.find('}') else { break };
        let name = after.get(..end).unwrap_or_default();
        found.push(Slot::from_name(name).ok_or_else(|| name.to_owned()));
        rest = after.get(end + 1..).unwrap_or_default();
    }
    found
}

fn fill(template: &str, args: &[(Slot, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(rest.get(..start).unwrap_or_default());
        let after = rest.get(start + 1..).unwrap_or_default();
        let Some(end) = after.find('}') else {
            out.push_str(rest.get(start..).unwrap_or_default());
            return out;
        };
        let name = after.get(..end).unwrap_or_default();
        if let Some((_, value)) = args.iter().find(|(slot, _)| slot.name() == name) {
            out.push_str(value);
        }
        rest = after.get(end + 1..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests;
