//! The main menu, and the balance (three hops from dialling: menu, PIN, balance).

use super::account::AccountStep;
use super::buy::{AirtimeFor, BuyStep};
use super::pay::PayStep;
use super::send::SendStep;
use super::withdraw::WithdrawStep;
use super::{invalid_choice, pin_failure, typed_pin, Next};
use crate::catalog::{Msg, Slot};
use crate::engine::effect::{Effect, EffectResult};
use crate::engine::state::{Step, Wait};
use crate::engine::view::{self, Body, Cx};

/// In menu order. Airtime for oneself and the balance sit here, not in sub-menus, to keep them
/// within their hop budgets (four and three hops).
const ITEMS: [Msg; 8] = [
    Msg::MenuSend,
    Msg::MenuWithdraw,
    Msg::MenuAirtime,
    Msg::MenuBuy,
    Msg::MenuPay,
    Msg::MenuBalance,
    Msg::MenuApprovals,
    Msg::MenuAccount,
];

pub(crate) fn input(input: &str, cx: &Cx<'_>) -> Next {
    let Some(i) = view::choice(input, ITEMS.len()) else {
        return invalid_choice(cx);
    };
    match ITEMS.get(i) {
        Some(Msg::MenuSend) => Next::Go(Step::Send(SendStep::Recipient)),
        Some(Msg::MenuWithdraw) => Next::Go(Step::Withdraw(WithdrawStep::Agent)),
        Some(Msg::MenuAirtime) => Next::Go(Step::Buy(BuyStep::AirtimeAmount {
            target: AirtimeFor::Own,
        })),
        Some(Msg::MenuBuy) => Next::Go(Step::Buy(BuyStep::Menu)),
        Some(Msg::MenuPay) => Next::Go(Step::Pay(PayStep::Code)),
        Some(Msg::MenuBalance) => Next::Go(Step::BalancePin),
        Some(Msg::MenuApprovals) => Next::Ask(Effect::ListApprovals, Wait::ApprovalList),
        Some(Msg::MenuAccount) => Next::Go(Step::Account(AccountStep::Menu)),
        _ => invalid_choice(cx),
    }
}

pub(crate) fn render(cx: &Cx<'_>) -> Body {
    let title = cx
        .tf(Msg::MainTitle, &[(Slot::Name, cx.name)])
        .trim_end()
        .to_owned();
    Body {
        text: view::menu(cx, Some(title), &ITEMS),
        nav: false,
    }
}

pub(crate) fn balance_input(input: &str, cx: &Cx<'_>) -> Next {
    match typed_pin(input, cx) {
        Ok(pin) => Next::Ask(Effect::Balance { pin }, Wait::Balance),
        Err(hint) => Next::Invalid(hint),
    }
}

pub(crate) fn balance_result(answer: EffectResult, cx: &Cx<'_>) -> Next {
    match answer {
        EffectResult::Balance { available } => {
            let balance = cx.money(available);
            Next::End(cx.tf(Msg::BalanceShow, &[(Slot::Balance, &balance)]))
        }
        other => pin_failure(&other, cx),
    }
}
