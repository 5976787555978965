//! Requests waiting for the customer's approval: an agent who started a cash-out, a merchant who
//! asked to be paid or asked for an allowance. Listed (paged), then approved (allowed) or
//! declined with the PIN.

use serde::{Deserialize, Serialize};

use super::exec::{self, Done};
use super::{clean, invalid_choice, typed_pin, unavailable, Next};
use crate::catalog::{Msg, Slot};
use crate::engine::bounds::{APPROVALS_MAX, DATE_LEN_MAX, DESCRIPTION_LEN_MAX};
use crate::engine::bounds::{ID_LEN_MAX, NAME_LEN_MAX};
use crate::engine::effect::{ApprovalKind, ApprovalRequest, EffectResult, MoneyAction};
use crate::engine::state::{Notice, Step};
use crate::engine::view::{self, Body, Cx};
use crate::gsm;

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
        // An allowance is shown with all its terms or not at all.
        .filter(|a| {
            a.kind != ApprovalKind::Allowance || (a.per_charge_max.is_some() && a.until.is_some())
        })
        .take(APPROVALS_MAX)
        .map(|a| ApprovalRequest {
            counterparty: clean(&a.counterparty, NAME_LEN_MAX, "-"),
            until: a.until.map(|d| clean(&d, DATE_LEN_MAX, "-")),
            description: a
                .description
                .map(|d| gsm::sanitize_field(&d, DESCRIPTION_LEN_MAX))
                .filter(|d| !d.is_empty()),
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
                ApprovalKind::Allowance => Msg::ApprovalLineAllow,
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
                    let done = match item.kind {
                        ApprovalKind::Allowance => Done::Allowance {
                            name: item.counterparty.clone(),
                        },
                        ApprovalKind::Withdrawal | ApprovalKind::MerchantPayment => Done::Approve,
                    };
                    (MoneyAction::Approve { request_id }, done)
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
        ApprovalStep::Detail { item } => detail(item, cx),
        ApprovalStep::Pin { approve: true, .. } => cx.t(Msg::ApprovePin),
        ApprovalStep::Pin { approve: false, .. } => cx.t(Msg::DeclinePin),
    };
    Body::nav(text)
}

/// What the customer is asked to approve, with the two choices.
fn detail(item: &ApprovalRequest, cx: &Cx<'_>) -> String {
    let amount = cx.money(item.amount);
    let fee = cx.fee(item.fee);
    let mut args = vec![
        (Slot::Amount, amount.as_str()),
        (Slot::Name, item.counterparty.as_str()),
        (Slot::Fee, fee.as_str()),
    ];
    let max = item.per_charge_max.map(|m| cx.money(m)).unwrap_or_default();
    let (msg, approve) = match (item.kind, &item.description) {
        (ApprovalKind::Withdrawal, _) => (Msg::ApprovalCash, Msg::Approve),
        (ApprovalKind::MerchantPayment, None) => (Msg::ApprovalPay, Msg::Approve),
        (ApprovalKind::MerchantPayment, Some(description)) => {
            args.push((Slot::Item, description.as_str()));
            (Msg::ApprovalPayFor, Msg::Approve)
        }
        (ApprovalKind::Allowance, _) => {
            args.push((Slot::Max, max.as_str()));
            args.push((Slot::Date, item.until.as_deref().unwrap_or("-")));
            (Msg::ApprovalAllow, Msg::Allow)
        }
    };
    let title = cx.tf(msg, &args);
    view::menu(cx, Some(title), &[approve, Msg::Decline])
}
