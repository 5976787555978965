//! Requests waiting for the customer's approval: an agent who started a cash-out, a merchant who
//! asked to be paid. Listed (paged), then approved or declined with the PIN.

use serde::{Deserialize, Serialize};

use super::exec::{self, Done};
use super::{clean, invalid_choice, typed_pin, unavailable, Next};
use crate::catalog::{Msg, Slot};
use crate::engine::bounds::{APPROVALS_MAX, ID_LEN_MAX, NAME_LEN_MAX};
use crate::engine::effect::{ApprovalKind, ApprovalRequest, EffectResult, MoneyAction};
use crate::engine::state::{Notice, Step};
use crate::engine::view::{self, Body, Cx};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum ApprovalStep {
    List {
        items: Vec<ApprovalRequest>,
        offset: usize,
    },
    Detail {
        item: ApprovalRequest,
    },
    Pin {
        item: ApprovalRequest,
        approve: bool,
    },
}

fn go(s: ApprovalStep) -> Next {
    Next::Go(Step::Approvals(s))
}

pub(crate) fn list_result(answer: EffectResult, cx: &Cx<'_>) -> Next {
    let EffectResult::Approvals(items) = answer else {
        return unavailable(cx);
    };
    let items: Vec<ApprovalRequest> = items
        .into_iter()
        .filter(|a| !a.id.is_empty() && a.id.len() <= ID_LEN_MAX)
        .take(APPROVALS_MAX)
        .map(|a| ApprovalRequest {
            counterparty: clean(&a.counterparty, NAME_LEN_MAX, "-"),
            ..a
        })
        .collect();
    if items.is_empty() {
        return Next::Go(Step::Notice(Notice::Approvals));
    }
    go(ApprovalStep::List { items, offset: 0 })
}

fn list_page(items: &[ApprovalRequest], offset: usize, cx: &Cx<'_>) -> view::Page {
    let lines: Vec<String> = items
        .iter()
        .map(|a| {
            let msg = match a.kind {
                ApprovalKind::Withdrawal => Msg::ApprovalLineCash,
                ApprovalKind::MerchantPayment => Msg::ApprovalLinePay,
            };
            let amount = cx.money(a.amount);
            cx.tf(
                msg,
                &[(Slot::Amount, &amount), (Slot::Name, &a.counterparty)],
            )
        })
        .collect();
    view::page(cx, &cx.t(Msg::ApprovalsTitle), &lines, offset, false, true)
}

pub(crate) fn input(s: &ApprovalStep, input: &str, cx: &Cx<'_>) -> Next {
    match s {
        ApprovalStep::List { items, offset } => {
            let page = list_page(items, *offset, cx);
            if input == view::MORE && page.more {
                return go(ApprovalStep::List {
                    items: items.clone(),
                    offset: offset + page.shown,
                });
            }
            match view::choice(input, page.shown).and_then(|i| items.get(offset + i)) {
                Some(item) => go(ApprovalStep::Detail { item: item.clone() }),
                None => invalid_choice(cx),
            }
        }
        ApprovalStep::Detail { item } => match view::choice(input, 2) {
            Some(i) => go(ApprovalStep::Pin {
                item: item.clone(),
                approve: i == 0,
            }),
            None => invalid_choice(cx),
        },
        ApprovalStep::Pin { item, approve } => match typed_pin(input, cx) {
            Ok(pin) => {
                let request_id = item.id.clone();
                let (action, done) = if *approve {
                    (MoneyAction::Approve { request_id }, Done::Approve)
                } else {
                    (MoneyAction::Decline { request_id }, Done::Decline)
                };
                exec::ask(action, pin, done, cx)
            }
            Err(hint) => Next::Invalid(hint),
        },
    }
}

pub(crate) fn render(s: &ApprovalStep, cx: &Cx<'_>) -> Body {
    let text = match s {
        ApprovalStep::List { items, offset } => list_page(items, *offset, cx).text,
        ApprovalStep::Detail { item } => {
            let msg = match item.kind {
                ApprovalKind::Withdrawal => Msg::ApprovalCash,
                ApprovalKind::MerchantPayment => Msg::ApprovalPay,
            };
            let title = cx.tf(
                msg,
                &[
                    (Slot::Amount, &cx.money(item.amount)),
                    (Slot::Name, &item.counterparty),
                    (Slot::Fee, &cx.fee(item.fee)),
                ],
            );
            view::menu(cx, Some(title), &[Msg::Approve, Msg::Decline])
        }
        ApprovalStep::Pin { approve: true, .. } => cx.t(Msg::ApprovePin),
        ApprovalStep::Pin { approve: false, .. } => cx.t(Msg::DeclinePin),
    };
    Body::nav(text)
}
