//! Looking back: the mini statement (PIN first, then paged with `98`) and reversing a recent
//! send (choose it, then confirm with the PIN).

use serde::{Deserialize, Serialize};

use super::exec::{self, Done};
use super::{clean, invalid_choice, pin_failure, typed_pin, unavailable, Next};
use crate::catalog::{self, Msg, Slot};
use crate::engine::bounds::{CODE_LEN_MAX, DATE_LEN_MAX, NAME_LEN_MAX};
use crate::engine::bounds::{RECENT_SENDS_MAX, STATEMENT_ENTRIES_MAX, STATEMENT_NAME_LEN_MAX};
use crate::engine::effect::{Effect, EffectResult, MoneyAction, SentItem, StatementEntry};
use crate::engine::state::{Notice, Step, Wait};
use crate::engine::view::{self, Body, Cx};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum HistoryStep {
    StatementPin,
    Statement {
        entries: Vec<StatementEntry>,
        offset: usize,
    },
    Recent {
        items: Vec<SentItem>,
        offset: usize,
    },
    ReverseConfirm {
        item: SentItem,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum HistoryWait {
    Statement,
    Recent,
}

fn go(s: HistoryStep) -> Next {
    Next::Go(Step::History(s))
}

pub(crate) fn input(s: &HistoryStep, input: &str, cx: &Cx<'_>) -> Next {
    match s {
        HistoryStep::StatementPin => match typed_pin(input, cx) {
            Ok(pin) => Next::Ask(
                Effect::MiniStatement { pin },
                Wait::History(HistoryWait::Statement),
            ),
            Err(hint) => Next::Invalid(hint),
        },
        HistoryStep::Statement { entries, offset } => {
            let page = statement_page(entries, *offset, cx);
            if input == view::MORE && page.more {
                go(HistoryStep::Statement {
                    entries: entries.clone(),
                    offset: offset + page.shown,
                })
            } else {
                invalid_choice(cx)
            }
        }
        HistoryStep::Recent { items, offset } => {
            let page = recent_page(items, *offset, cx);
            if input == view::MORE && page.more {
                return go(HistoryStep::Recent {
                    items: items.clone(),
                    offset: offset + page.shown,
                });
            }
            match view::choice(input, page.shown).and_then(|i| items.get(offset + i)) {
                Some(item) => go(HistoryStep::ReverseConfirm { item: item.clone() }),
                None => invalid_choice(cx),
            }
        }
        HistoryStep::ReverseConfirm { item } => match typed_pin(input, cx) {
            Ok(pin) => exec::ask(
                MoneyAction::Reverse {
                    code: item.code.clone(),
                },
                pin,
                Done::Reverse,
                cx,
            ),
            Err(hint) => Next::Invalid(hint),
        },
    }
}

pub(crate) fn result(wait: HistoryWait, answer: EffectResult, cx: &Cx<'_>) -> Next {
    match (wait, answer) {
        (HistoryWait::Statement, EffectResult::Statement(entries)) => {
            let entries: Vec<StatementEntry> = entries
                .into_iter()
                .take(STATEMENT_ENTRIES_MAX)
                .map(|e| StatementEntry {
                    date: clean(&e.date, DATE_LEN_MAX, ""),
                    counterparty: clean(&e.counterparty, STATEMENT_NAME_LEN_MAX, ""),
                    ..e
                })
                .collect();
            // The PIN prompt is done with: the statement takes its place.
            Next::Swap(if entries.is_empty() {
                Step::Notice(Notice::Statement)
            } else {
                Step::History(HistoryStep::Statement { entries, offset: 0 })
            })
        }
        (HistoryWait::Statement, other) => pin_failure(&other, cx),
        (HistoryWait::Recent, EffectResult::RecentSends(items)) => {
            let items: Vec<SentItem> = items
                .into_iter()
                .filter(|i| !i.code.is_empty() && i.code.len() <= CODE_LEN_MAX)
                .take(RECENT_SENDS_MAX)
                .map(|i| SentItem {
                    to_label: clean(&i.to_label, NAME_LEN_MAX, "-"),
                    date: clean(&i.date, DATE_LEN_MAX, ""),
                    ..i
                })
                .collect();
            if items.is_empty() {
                return Next::Go(Step::Notice(Notice::Reverse));
            }
            go(HistoryStep::Recent { items, offset: 0 })
        }
        (HistoryWait::Recent, _) => unavailable(cx),
    }
}

fn statement_page(entries: &[StatementEntry], offset: usize, cx: &Cx<'_>) -> view::Page {
    let lines: Vec<String> = entries
        .iter()
        .map(|e| {
            let sign = if e.incoming { "+" } else { "-" };
            let unsigned = mkoba_ledger::Money::from_minor(
                e.amount.minor().saturating_abs(),
                e.amount.currency(),
            );
            let amount = format!("{sign}{}", cx.fee(unsigned));
            let kind = cx.t(catalog::txn_kind(e.kind));
            cx.tf(
                Msg::StatementLine,
                &[
                    (Slot::Date, &e.date),
                    (Slot::Kind, &kind),
                    (Slot::Amount, &amount),
                    (Slot::Name, &e.counterparty),
                ],
            )
            .trim()
            .to_owned()
        })
        .collect();
    view::page(cx, &cx.t(Msg::StatementTitle), &lines, offset, false, false)
}

fn recent_page(items: &[SentItem], offset: usize, cx: &Cx<'_>) -> view::Page {
    let lines: Vec<String> = items
        .iter()
        .map(|i| {
            let amount = cx.money(i.amount);
            cx.tf(
                Msg::ReverseLine,
                &[
                    (Slot::Amount, &amount),
                    (Slot::Name, &i.to_label),
                    (Slot::Date, &i.date),
                ],
            )
            .trim()
            .to_owned()
        })
        .collect();
    view::page(cx, &cx.t(Msg::ReverseTitle), &lines, offset, false, true)
}

pub(crate) fn render(s: &HistoryStep, cx: &Cx<'_>) -> Body {
    let text = match s {
        HistoryStep::StatementPin => cx.t(Msg::StatementPin),
        HistoryStep::Statement { entries, offset } => statement_page(entries, *offset, cx).text,
        HistoryStep::Recent { items, offset } => recent_page(items, *offset, cx).text,
        HistoryStep::ReverseConfirm { item } => cx.tf(
            Msg::ReverseConfirm,
            &[
                (Slot::Amount, &cx.money(item.amount)),
                (Slot::Name, &item.to_label),
                (Slot::Date, &item.date),
            ],
        ),
    };
    Body::nav(text)
}
