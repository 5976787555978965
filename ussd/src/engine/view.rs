//! Drawing screens: the context every journey draws with, menus, paged lists, and the last guard
//! that keeps every screen GSM-7 and within the limit.

use mkoba_ledger::Money;

use super::config::EngineConfig;
use crate::catalog::{self, Language, Msg, Slot};
use crate::gsm::{self, BODY_MAX};

/// What customers type to navigate (labelled by `Msg::NavBack`, `NavHome`, `NavMore`).
pub(crate) const BACK: &str = "0";
pub(crate) const HOME: &str = "00";
pub(crate) const MORE: &str = "98";

/// What a journey needs to draw a screen or build an effect.
pub(crate) struct Cx<'a> {
    pub lang: Language,
    pub cfg: &'a EngineConfig,
    pub session_id: &'a str,
    pub opened: Option<u64>,
    pub exec_seq: u32,
    /// The customer must change the PIN first (no home, no other menus).
    pub forced: bool,
    pub name: &'a str,
}

impl Cx<'_> {
    pub fn t(&self, msg: Msg) -> String {
        catalog::plain(self.lang, msg)
    }

    pub fn tf(&self, msg: Msg, args: &[(Slot, &str)]) -> String {
        catalog::text(self.lang, msg, args)
    }

    /// `KES 1,250.00`.
    pub fn money(&self, m: Money) -> String {
        m.to_string()
    }

    /// `1,250.00`: fees, next to an amount that already names the currency.
    pub fn fee(&self, m: Money) -> String {
        m.to_grouped_string()
    }

    pub fn digits(&self) -> String {
        self.cfg.pin_len().to_string()
    }

    /// The ledger idempotency key for the money movement being confirmed: the same session and
    /// the same point in it give the same key, so a repeated hop replays instead of paying again.
    pub fn step_key(&self, tag: &str) -> String {
        match self.opened {
            Some(opened) => step_key(opened, self.session_id, self.exec_seq, tag),
            None => format!("ussd:{}:{}:{}", self.session_id, self.exec_seq, tag),
        }
    }
}

/// `ussd:<opened>:<session>:<seq>:<tag>`, the opening second first in eight hex digits: keys of
/// sessions opened later sort later, so the ledger's unique index on keys takes new USSD keys
/// among those of the sessions open now, a range at its end as wide as they are many, rather
/// than in a random page of an index as large as the journal (ops/BENCHMARKS.md, session 15).
/// The session key still makes each key unique; the time only orders them. The sequence number
/// is hex to keep within the ledger's 128 characters. Public so that `mkoba-bench` makes the
/// same keys.
pub fn step_key(opened: u64, session_id: &str, exec_seq: u32, tag: &str) -> String {
    let opened = opened.min(u64::from(u32::MAX));
    format!("ussd:{opened:08x}:{session_id}:{exec_seq:x}:{tag}")
}

/// A screen's text before the hint and the navigation line; `nav` says whether `0 Back` /
/// `00 Home` apply to it.
pub(crate) struct Body {
    pub text: String,
    pub nav: bool,
}

impl Body {
    pub fn nav(text: String) -> Body {
        Body { text, nav: true }
    }
}

/// `1 Send money` lines under an optional title.
pub(crate) fn menu(cx: &Cx<'_>, title: Option<String>, items: &[Msg]) -> String {
    let lines = items.iter().map(|m| cx.t(*m)).collect::<Vec<_>>();
    numbered(title, &lines)
}

pub(crate) fn numbered(title: Option<String>, items: &[String]) -> String {
    let mut lines: Vec<String> = title.into_iter().collect();
    lines.extend(items.iter().enumerate().map(|(i, s)| item(i + 1, s)));
    lines.join("\n")
}

fn item(n: usize, label: &str) -> String {
    format!("{n} {label}")
}

/// The number a customer typed to pick one of `count` items, as an index.
pub(crate) fn choice(input: &str, count: usize) -> Option<usize> {
    if input.is_empty() || input.starts_with('0') || !input.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: usize = input.parse().ok()?;
    (1..=count).contains(&n).then(|| n - 1)
}

/// Room kept free on paged lists for a hint (`Invalid choice.`), so that a hint never changes
/// which items a page shows.
pub(crate) const LIST_HINT_RESERVE: usize = 24;

/// The navigation line for a screen, if any.
pub(crate) fn nav_line(lang: Language, back: bool, home: bool) -> Option<String> {
    let labels: Vec<String> = [(back, Msg::NavBack), (home, Msg::NavHome)]
        .into_iter()
        .filter(|(on, _)| *on)
        .map(|(_, m)| catalog::plain(lang, m))
        .collect();
    (!labels.is_empty()).then(|| labels.join(" "))
}

/// One page of a list: its text (title, numbered items, `98 More` if more follow) and how many
/// items it shows.
pub(crate) struct Page {
    pub text: String,
    pub shown: usize,
    pub more: bool,
}

/// Lays out as many of `lines[offset..]` as fit one screen (at most
/// [`super::bounds::PAGE_ITEMS_MAX`]), leaving room for a hint and the navigation line. At
/// least one item is always shown, so paging always moves on. `more_beyond` says the server has
/// items after `lines`.
pub(crate) fn page(
    cx: &Cx<'_>,
    title: &str,
    lines: &[String],
    offset: usize,
    more_beyond: bool,
    numbered_items: bool,
) -> Page {
    let rest = lines.get(offset..).unwrap_or_default();
    let nav = nav_line(cx.lang, true, true).unwrap_or_default();
    let budget = BODY_MAX
        .saturating_sub(LIST_HINT_RESERVE)
        .saturating_sub(len(&nav) + 1);
    let build = |k: usize| {
        let more = k < rest.len() || more_beyond;
        let mut out = vec![title.to_owned()];
        for (i, line) in rest.iter().take(k).enumerate() {
            out.push(if numbered_items {
                item(i + 1, line)
            } else {
                line.clone()
            });
        }
        if more {
            out.push(cx.t(Msg::NavMore));
        }
        Page {
            text: out.join("\n"),
            shown: k,
            more,
        }
    };
    let most = rest.len().min(super::bounds::PAGE_ITEMS_MAX);
    let mut best = build(most.min(1));
    for k in 2..=most {
        let candidate = build(k);
        if len(&candidate.text) > budget {
            break;
        }
        best = candidate;
    }
    best
}

/// GSM-7 length, counting anything outside GSM-7 as one (the guard sanitizes later).
pub(crate) fn len(text: &str) -> usize {
    text.chars().map(|c| gsm::char_len(c).unwrap_or(1)).sum()
}

/// The last guard on every screen: GSM-7 only and at most [`BODY_MAX`]. Data is bounded and the
/// screens are proven to fit, so this never cuts anything; if it ever does, the customer still
/// gets a screen the gateway accepts, and tests notice.
pub(crate) fn finish(text: &str) -> String {
    let clean = gsm::sanitize(text);
    let cut = gsm::truncate(&clean, BODY_MAX);
    #[cfg(test)]
    if cut != text {
        overflow::record(text);
    }
    cut.to_owned()
}

#[cfg(test)]
pub(crate) mod overflow {
    use std::cell::RefCell;

    thread_local! {
        static CUT: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    }

    pub(crate) fn record(text: &str) {
        CUT.with(|c| c.borrow_mut().push(text.to_owned()));
    }

    /// Screens this thread had to cut since the last call.
    pub(crate) fn take() -> Vec<String> {
        CUT.with(|c| std::mem::take(&mut *c.borrow_mut()))
    }
}
