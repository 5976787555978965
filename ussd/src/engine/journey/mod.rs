//! The journeys: each module owns its screens ([`Step`] variants), what it waits for ([`Wait`]
//! variants), how it reads input, how it takes an effect's answer, and how it draws.

pub(crate) mod account;
pub(crate) mod allowances;
pub(crate) mod approvals;
pub(crate) mod buy;
pub(crate) mod exec;
pub(crate) mod history;
mod main_menu;
pub(crate) mod pay;
pub(crate) mod pin;
pub(crate) mod register;
pub(crate) mod send;
pub(crate) mod withdraw;

use super::effect::{Effect, EffectResult, Pin};
use super::state::{Step, Wait};
use super::view::{Body, Cx};
use crate::catalog::{Language, Msg, Slot};
use crate::gsm;

/// What a journey wants done after an input or an answer.
pub(crate) enum Next {
    /// Show a new screen; the current one goes on the history for `0`.
    Go(Step),
    /// Show a new screen in place of the current one (a PIN prompt, once its answer is shown,
    /// is not worth going back to).
    Swap(Step),
    /// Back to the previous screen (`0`).
    Back,
    /// Home (`00`), with an optional hint above it.
    Home(Option<String>),
    /// The input was not acceptable: show the same screen with a hint. Counts toward the limit.
    Invalid(String),
    /// Start a part of the journey again with a hint (PINs that did not match). Counts.
    Redo(Step, String),
    /// Show the same screen with a hint, without counting (a wrong PIN: the server counts those).
    Again(String),
    /// Ask the server for something.
    Ask(Effect, Wait),
    /// Close the session with this text.
    End(String),
    /// Change the session, then do the rest.
    With(Change, Box<Next>),
}

pub(crate) enum Change {
    Language(Language),
    PinChanged,
}

pub(crate) fn input(step: &Step, input: &str, cx: &Cx<'_>) -> Next {
    match step {
        // `handle` answers ended sessions before any input reaches a journey.
        Step::Ended { text } => Next::End(text.clone()),
        Step::Register(s) => register::input(s, input, cx),
        Step::Main => main_menu::input(input, cx),
        Step::BalancePin => main_menu::balance_input(input, cx),
        Step::Send(s) => send::input(s, input, cx),
        Step::Withdraw(s) => withdraw::input(s, input, cx),
        Step::Buy(s) => buy::input(s, input, cx),
        Step::Pay(s) => pay::input(s, input, cx),
        Step::Approvals(s) => approvals::input(s, input, cx),
        Step::Account(s) => account::input(s, input, cx),
        Step::History(s) => history::input(s, input, cx),
        Step::Allowances(s) => allowances::input(s, input, cx),
        Step::Notice(_) => invalid_choice(cx),
    }
}

pub(crate) fn result(wait: Wait, answer: EffectResult, cx: &Cx<'_>) -> Next {
    match wait {
        Wait::Register(w) => register::result(w, answer, cx),
        Wait::Balance => main_menu::balance_result(answer, cx),
        Wait::ApprovalList => approvals::list_result(answer, cx),
        Wait::Send(w) => send::result(w, answer, cx),
        Wait::Withdraw(w) => withdraw::result(w, answer, cx),
        Wait::Buy(w) => buy::result(w, answer, cx),
        Wait::Pay(w) => pay::result(w, answer, cx),
        Wait::Account(w) => account::result(w, answer, cx),
        Wait::History(w) => history::result(w, answer, cx),
        Wait::Allowances(w) => allowances::result(w, answer, cx),
        Wait::Exec(done) => exec::result(done, answer, cx),
    }
}

pub(crate) fn render(step: &Step, cx: &Cx<'_>) -> Body {
    match step {
        Step::Ended { text } => Body {
            text: text.clone(),
            nav: false,
        },
        Step::Register(s) => register::render(s, cx),
        Step::Main => main_menu::render(cx),
        Step::BalancePin => Body::nav(cx.t(Msg::BalancePin)),
        Step::Send(s) => send::render(s, cx),
        Step::Withdraw(s) => withdraw::render(s, cx),
        Step::Buy(s) => buy::render(s, cx),
        Step::Pay(s) => pay::render(s, cx),
        Step::Approvals(s) => approvals::render(s, cx),
        Step::Account(s) => account::render(s, cx),
        Step::History(s) => history::render(s, cx),
        Step::Allowances(s) => allowances::render(s, cx),
        Step::Notice(n) => Body::nav(cx.t(n.msg())),
    }
}

/// The screen takes a PIN, the current one or a new one. Exhaustive on purpose: a new screen
/// must say whether a dial string may feed it (see [`crate::engine::dialled`]).
pub(crate) fn asks_for_pin(step: &Step) -> bool {
    use account::AccountStep as A;
    use allowances::AllowanceStep as L;
    use approvals::ApprovalStep as P;
    use buy::BuyStep as B;
    use history::HistoryStep as H;
    use register::RegStep as R;
    match step {
        Step::BalancePin => true,
        Step::Ended { .. } | Step::Main | Step::Notice(_) => false,
        Step::Register(s) => match s {
            R::Pin { .. } | R::PinAgain { .. } => true,
            R::Language | R::Name | R::Terms { .. } => false,
        },
        Step::Send(s) => matches!(s, send::SendStep::Confirm { .. }),
        Step::Withdraw(s) => matches!(s, withdraw::WithdrawStep::Confirm { .. }),
        Step::Pay(s) => matches!(s, pay::PayStep::Confirm { .. }),
        Step::Buy(s) => match s {
            B::AirtimeConfirm { .. } | B::ProductConfirm { .. } => true,
            B::Menu | B::AirtimeNumber | B::AirtimeAmount { .. } | B::Categories => false,
            B::Products { .. } => false,
        },
        Step::Approvals(s) => match s {
            P::Pin { .. } => true,
            P::List { .. } | P::Detail { .. } => false,
        },
        Step::Account(s) => match s {
            A::Pin(_) | A::LimitsPin | A::CancelPin => true,
            A::Menu | A::Language => false,
        },
        Step::History(s) => match s {
            H::StatementPin | H::ReverseConfirm { .. } => true,
            H::Statement { .. } | H::Recent { .. } => false,
        },
        Step::Allowances(s) => match s {
            L::Confirm(_) => true,
            L::Menu | L::List { .. } | L::Detail { .. } | L::RevokeConfirm { .. } => false,
            L::Code | L::Cap { .. } | L::PerCharge { .. } | L::Days { .. } => false,
        },
    }
}

pub(crate) fn register_start() -> Step {
    Step::Register(register::RegStep::Language)
}

pub(crate) fn forced_pin_step() -> Step {
    Step::Account(account::AccountStep::Pin(pin::PinStep::New))
}

pub(crate) fn invalid_choice(cx: &Cx<'_>) -> Next {
    Next::Invalid(cx.t(Msg::HintChoice))
}

/// The session ends: the server could not do what was asked, or answered out of turn.
pub(crate) fn unavailable(cx: &Cx<'_>) -> Next {
    Next::End(cx.t(Msg::Unavailable))
}

/// What every PIN-checked effect may answer besides its own result.
pub(crate) fn pin_failure(answer: &EffectResult, cx: &Cx<'_>) -> Next {
    match answer {
        EffectResult::WrongPin { attempts_left } => {
            let left = (*attempts_left).min(super::bounds::ATTEMPTS_SHOWN_MAX);
            Next::Again(cx.tf(Msg::HintWrongPin, &[(Slot::Count, &left.to_string())]))
        }
        EffectResult::PinLocked => Next::End(cx.t(Msg::PinLocked)),
        _ => unavailable(cx),
    }
}

/// A typed PIN in the configured format, or the hint to show.
pub(crate) fn typed_pin(input: &str, cx: &Cx<'_>) -> Result<Pin, String> {
    if pin::well_formed(input, cx.cfg.pin_len()) {
        Ok(Pin::new(input))
    } else {
        Err(cx.tf(Msg::HintPinDigits, &[(Slot::Digits, &cx.digits())]))
    }
}

/// Server text for a screen: GSM-7, one line, cut to `max`; `fallback` if nothing is left.
pub(crate) fn clean(text: &str, max: usize, fallback: &str) -> String {
    let out = gsm::sanitize_field(text, max);
    if out.is_empty() {
        gsm::sanitize_field(fallback, max)
    } else {
        out
    }
}

/// A phone number as typed: an optional `+`, then 6 to 15 digits (spaces ignored).
pub(crate) fn phone_text(input: &str) -> Option<String> {
    use super::bounds::{PHONE_TEXT_LEN_MAX, PHONE_TEXT_LEN_MIN};
    let compact: String = input.chars().filter(|c| *c != ' ').collect();
    let digits = compact.strip_prefix('+').unwrap_or(&compact);
    let ok = (PHONE_TEXT_LEN_MIN..PHONE_TEXT_LEN_MAX).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit());
    ok.then_some(compact)
}

/// An agent or merchant code: 3 to 20 letters and digits.
pub(crate) fn party_code(input: &str) -> Option<String> {
    use super::bounds::{PARTY_CODE_LEN_MAX, PARTY_CODE_LEN_MIN};
    let ok = (PARTY_CODE_LEN_MIN..=PARTY_CODE_LEN_MAX).contains(&input.len())
        && input.bytes().all(|b| b.is_ascii_alphanumeric());
    ok.then(|| input.to_owned())
}

/// Amount text goes to the server as typed (it parses with `Money::parse` and names what is
/// wrong); only empty or absurdly long text is refused here.
pub(crate) fn amount_text(input: &str, cx: &Cx<'_>) -> Result<String, String> {
    if input.is_empty() || input.len() > super::bounds::AMOUNT_TEXT_LEN_MAX {
        Err(cx.t(Msg::HintAmount))
    } else {
        Ok(input.to_owned())
    }
}

/// The answer to a `Quote`: the quote (label cleaned) goes to `next`; an amount the customer
/// can fix is asked again with the reason; any other refusal ends the session with it.
pub(crate) fn quote_answer(
    answer: EffectResult,
    fallback_label: &str,
    cx: &Cx<'_>,
    next: impl FnOnce(super::effect::Quote) -> Next,
) -> Next {
    match answer {
        EffectResult::Quote(mut quote) => {
            quote.counterparty_label = clean(
                &quote.counterparty_label,
                super::bounds::NAME_LEN_MAX,
                fallback_label,
            );
            next(quote)
        }
        EffectResult::Rejected(r) => {
            let reason = crate::catalog::rejection(cx.lang, r).to_owned();
            if customer_can_fix(r) {
                Next::Invalid(reason)
            } else {
                Next::End(reason)
            }
        }
        _ => unavailable(cx),
    }
}

/// Refusals a different amount may cure: the amount prompt is shown again with the reason.
fn customer_can_fix(r: mkoba_ledger::Rejection) -> bool {
    use mkoba_ledger::Rejection::*;
    match r {
        AmountEmpty
        | AmountInvalid
        | AmountNegative
        | AmountNotPositive
        | AmountTooPrecise
        | AmountExceedsMaximum
        | AmountOverflow
        | BelowMinimumAmount
        | InsufficientFunds
        | ExceedsTransactionLimit
        | ExceedsDailyLimit
        | ExceedsBalanceLimit => true,
        CurrencyMismatch
        | CurrencyNotEnabled
        | AccountNotFound
        | AccountFrozen
        | AccountClosed
        | AccountKindNotAllowed
        | SameAccount
        | IdempotencyKeyInvalid
        | IdempotencyKeyReused
        | MemoTooLong
        | MetadataTooLong
        | ExpiryInvalid
        | PendingNotFound
        | PendingAlreadyPosted
        | PendingAlreadyVoided
        | PendingExpired
        | PostExceedsPending
        | TransactionNotFound
        | ReversalNotAllowed
        | ReversalWindowClosed
        | ReversalAttemptsExhausted
        | ReversalNothingRecoverable
        | AccountBlacklisted
        | RefundNotAllowed
        | RefundWindowClosed
        | RefundExceedsPayment
        | AllowanceNotFound
        | AllowanceRevoked
        | AllowanceExpired
        | AllowancePerChargeExceeded
        | AllowanceCapExceeded => false,
    }
}
