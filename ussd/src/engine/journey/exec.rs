//! Confirming a money movement (or an allowance) with a PIN, and what the customer is told
//! afterwards.

use serde::{Deserialize, Serialize};

use super::{pin_failure, Next};
use crate::catalog::{Msg, Slot};
use crate::engine::bounds::{CODE_LEN_MAX, DATE_LEN_MAX, NAME_LEN_MAX};
use mkoba_ledger::Money;

use crate::engine::effect::{Effect, EffectResult, MoneyAction, Pin, Receipt};
use crate::engine::state::Wait;
use crate::engine::view::{self, Cx};
use crate::gsm::BODY_MAX;

/// What was confirmed, for the words on the final screen. Names are already cleaned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Done {
    Send {
        name: String,
    },
    Withdraw {
        name: String,
    },
    Airtime {
        name: String,
    },
    Product {
        item: String,
    },
    Pay {
        name: String,
    },
    Approve,
    Decline,
    Cancel,
    Reverse,
    /// An allowance granted to this merchant (from a request or set up by the customer): the
    /// answer is `AllowanceGranted`, not a receipt.
    Allowance {
        name: String,
    },
}

/// Asks the server to check `pin` and move the money.
pub(crate) fn ask(action: MoneyAction, pin: Pin, done: Done, cx: &Cx<'_>) -> Next {
    let step_key = cx.step_key(tag(&action));
    Next::Ask(
        Effect::Execute {
            action,
            pin,
            step_key,
        },
        Wait::Exec(done),
    )
}

/// Short, stable names for step keys (and so for ledger idempotency keys).
fn tag(action: &MoneyAction) -> &'static str {
    match action {
        MoneyAction::Send { .. } => "send",
        MoneyAction::Withdraw { .. } => "withdraw",
        MoneyAction::BuyAirtime { .. } => "airtime",
        MoneyAction::BuyProduct { .. } => "product",
        MoneyAction::PayMerchant { .. } => "pay",
        MoneyAction::Approve { .. } => "approve",
        MoneyAction::Decline { .. } => "decline",
        MoneyAction::CancelLastSend => "cancel",
        MoneyAction::Reverse { .. } => "reverse",
    }
}

pub(crate) fn result(done: Done, answer: EffectResult, cx: &Cx<'_>) -> Next {
    let allowance = matches!(done, Done::Allowance { .. });
    match answer {
        EffectResult::Done(receipt) if !allowance => Next::End(done_text(&done, &receipt, cx)),
        EffectResult::AllowanceGranted {
            merchant,
            cap,
            until,
        } if allowance => Next::End(granted_text(&done, &merchant, cap, &until, cx)),
        EffectResult::Rejected(r) => Next::End(crate::catalog::rejection(cx.lang, r).to_owned()),
        EffectResult::WrongPin { .. } | EffectResult::PinLocked => pin_failure(&answer, cx),
        // It may or may not have been done: say so rather than guess.
        _ if allowance => Next::End(cx.t(Msg::AllowanceUnknown)),
        _ => Next::End(cx.t(Msg::OutcomeUnknown)),
    }
}

fn granted_text(done: &Done, merchant: &str, cap: Money, until: &str, cx: &Cx<'_>) -> String {
    let fallback = match done {
        Done::Allowance { name } => name.as_str(),
        _ => "-",
    };
    let name = super::clean(merchant, NAME_LEN_MAX, fallback);
    let until = super::clean(until, DATE_LEN_MAX, "-");
    cx.tf(
        Msg::AllowanceDone,
        &[
            (Slot::Name, &name),
            (Slot::Amount, &cx.money(cap)),
            (Slot::Date, &until),
        ],
    )
}

fn done_text(done: &Done, receipt: &Receipt, cx: &Cx<'_>) -> String {
    let amount = cx.money(receipt.amount);
    let fee = cx.fee(receipt.fee);
    let code = super::clean(&receipt.code, CODE_LEN_MAX, "-");
    let args = |name: &str| {
        vec![
            (Slot::Amount, amount.clone()),
            (Slot::Fee, fee.clone()),
            (Slot::Code, code.clone()),
            (Slot::Name, name.to_owned()),
            (Slot::Item, name.to_owned()),
        ]
    };
    let (msg, args) = match done {
        Done::Send { name } => (Msg::SendDone, args(name)),
        Done::Withdraw { name } => (Msg::WithdrawDone, args(name)),
        Done::Airtime { name } => (Msg::AirtimeDone, args(name)),
        Done::Product { item } => (Msg::ProductDone, args(item)),
        Done::Pay { name } => (Msg::PayDone, args(name)),
        Done::Approve => (Msg::ApprovedDone, args("")),
        Done::Decline => (Msg::DeclinedDone, args("")),
        Done::Cancel => (Msg::CancelDone, args("")),
        Done::Reverse => (Msg::ReverseDone, args("")),
        // Not reached: an allowance is answered with `AllowanceGranted`.
        Done::Allowance { name } => (Msg::ApprovedDone, args(name)),
    };
    let borrowed: Vec<(Slot, &str)> = args.iter().map(|(s, v)| (*s, v.as_str())).collect();
    let mut text = cx.tf(msg, &borrowed);
    // Extra lines only while they fit: with the longest names and amounts the confirmation
    // itself comes first. The cancel hint is time-critical, the balance also comes by SMS.
    if matches!(done, Done::Send { .. }) && cx.cfg.cancel_window_seconds > 0 {
        let seconds = cx.cfg.cancel_window_seconds.to_string();
        append_if_fits(
            &mut text,
            cx.tf(Msg::CancelHint, &[(Slot::Seconds, &seconds)]),
        );
    }
    if let Some(balance) = receipt.new_balance {
        let balance = cx.money(balance);
        append_if_fits(
            &mut text,
            cx.tf(Msg::BalanceLine, &[(Slot::Balance, &balance)]),
        );
    }
    text
}

fn append_if_fits(text: &mut String, line: String) {
    if view::len(text) + 1 + view::len(&line) <= BODY_MAX {
        text.push('\n');
        text.push_str(&line);
    }
}
