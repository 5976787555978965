//! My account > Allowances: the merchants the customer lets charge the wallet without a PIN.
//! Listed (paged) and each revoked after a confirmation, without a PIN (revoking only reduces
//! risk); a new one takes a merchant code, the total cap, the most per charge and the days it
//! lasts, then one confirmation with the PIN, like a payment. Approving a merchant's request for
//! an allowance is in `approvals`.

use mkoba_ledger::Money;
use serde::{Deserialize, Serialize};

use super::exec::Done;
use super::pay::MerchantRef;
use super::{amount_text, clean, invalid_choice, party_code, typed_pin, unavailable, Next};
use crate::catalog::{self, Msg, Slot};
use crate::engine::bounds::{ALLOWANCES_MAX, ALLOWANCE_DAYS_MAX, ALLOWANCE_DAYS_MIN};
use crate::engine::bounds::{DATE_LEN_MAX, ID_LEN_MAX, MONEY_MINOR_MAX, NAME_LEN_MAX};
use crate::engine::effect::{AllowanceItem, Effect, EffectResult};
use crate::engine::state::{Notice, Step, Wait};
use crate::engine::view::{self, Body, Cx};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum AllowanceStep {
    Menu,
    List {
        items: Vec<AllowanceItem>,
        offset: usize,
    },
    Detail {
        item: AllowanceItem,
    },
    RevokeConfirm {
        item: AllowanceItem,
    },
    Code,
    Cap {
        merchant: MerchantRef,
    },
    PerCharge {
        merchant: MerchantRef,
        cap: Money,
    },
    Days {
        merchant: MerchantRef,
        cap: Money,
        per_charge_max: Money,
    },
    /// What the customer agrees to, shown with the PIN prompt.
    Confirm(Terms),
}

/// A new allowance, as the customer set it up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Terms {
    pub merchant: MerchantRef,
    pub cap: Money,
    pub per_charge_max: Money,
    pub days: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum AllowanceWait {
    List,
    Revoke { name: String },
    Lookup { code: String },
}

const MENU: [Msg; 2] = [Msg::AllowMine, Msg::AllowNew];

/// The Allowances menu, from My account.
pub(crate) fn menu_step() -> Step {
    Step::Allowances(AllowanceStep::Menu)
}

fn go(s: AllowanceStep) -> Next {
    Next::Go(Step::Allowances(s))
}

/// An amount the customer typed, parsed as the ledger would; the refusal's words otherwise.
fn typed_amount(input: &str, cx: &Cx<'_>) -> Result<Money, String> {
    let text = amount_text(input, cx)?;
    Money::parse(&text, cx.cfg.currency, MONEY_MINOR_MAX)
        .map_err(|e| catalog::rejection(cx.lang, e.into()).to_owned())
}

/// Days as typed: digits only, within the bounds.
fn typed_days(input: &str) -> Option<u32> {
    if input.is_empty() || input.len() > 3 || !input.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let days: u32 = input.parse().ok()?;
    (ALLOWANCE_DAYS_MIN..=ALLOWANCE_DAYS_MAX)
        .contains(&days)
        .then_some(days)
}

pub(crate) fn input(s: &AllowanceStep, input: &str, cx: &Cx<'_>) -> Next {
    match s {
        AllowanceStep::Menu => match view::choice(input, MENU.len()).and_then(|i| MENU.get(i)) {
            Some(Msg::AllowMine) => Next::Ask(
                Effect::ListAllowances,
                Wait::Allowances(AllowanceWait::List),
            ),
            Some(Msg::AllowNew) => go(AllowanceStep::Code),
            _ => invalid_choice(cx),
        },
        AllowanceStep::List { items, offset } => {
            let page = list_page(items, *offset, cx);
            if input == view::MORE && page.more {
                return go(AllowanceStep::List {
                    items: items.clone(),
                    offset: offset + page.shown,
                });
            }
            match view::choice(input, page.shown).and_then(|i| items.get(offset + i)) {
                Some(item) => go(AllowanceStep::Detail { item: item.clone() }),
                None => invalid_choice(cx),
            }
        }
        AllowanceStep::Detail { item } => match view::choice(input, 1) {
            Some(_) => go(AllowanceStep::RevokeConfirm { item: item.clone() }),
            None => invalid_choice(cx),
        },
        AllowanceStep::RevokeConfirm { item } => match view::choice(input, 2) {
            Some(0) => Next::Ask(
                Effect::RevokeAllowance {
                    id: item.id.clone(),
                },
                Wait::Allowances(AllowanceWait::Revoke {
                    name: item.merchant.clone(),
                }),
            ),
            Some(_) => Next::Back,
            None => invalid_choice(cx),
        },
        AllowanceStep::Code => match party_code(input) {
            Some(code) => Next::Ask(
                Effect::LookupMerchant { code: code.clone() },
                Wait::Allowances(AllowanceWait::Lookup { code }),
            ),
            None => Next::Invalid(cx.t(Msg::HintCode)),
        },
        AllowanceStep::Cap { merchant } => match typed_amount(input, cx) {
            Ok(cap) => go(AllowanceStep::PerCharge {
                merchant: merchant.clone(),
                cap,
            }),
            Err(hint) => Next::Invalid(hint),
        },
        AllowanceStep::PerCharge { merchant, cap } => match typed_amount(input, cx) {
            Ok(max) if max.minor() > cap.minor() => {
                Next::Invalid(cx.tf(Msg::HintPerCharge, &[(Slot::Amount, &cx.money(*cap))]))
            }
            Ok(per_charge_max) => go(AllowanceStep::Days {
                merchant: merchant.clone(),
                cap: *cap,
                per_charge_max,
            }),
            Err(hint) => Next::Invalid(hint),
        },
        AllowanceStep::Days {
            merchant,
            cap,
            per_charge_max,
        } => match typed_days(input) {
            Some(days) => go(AllowanceStep::Confirm(Terms {
                merchant: merchant.clone(),
                cap: *cap,
                per_charge_max: *per_charge_max,
                days,
            })),
            None => Next::Invalid(days_hint(cx)),
        },
        AllowanceStep::Confirm(terms) => match typed_pin(input, cx) {
            Ok(pin) => Next::Ask(
                Effect::GrantAllowance {
                    merchant_code: terms.merchant.code.clone(),
                    cap: terms.cap,
                    per_charge_max: terms.per_charge_max,
                    days: terms.days,
                    pin,
                    step_key: cx.step_key("allowance"),
                },
                Wait::Exec(Done::Allowance {
                    name: terms.merchant.name.clone(),
                }),
            ),
            Err(hint) => Next::Invalid(hint),
        },
    }
}

fn days_hint(cx: &Cx<'_>) -> String {
    cx.tf(
        Msg::HintDays,
        &[
            (Slot::Count, &ALLOWANCE_DAYS_MIN.to_string()),
            (Slot::Days, &ALLOWANCE_DAYS_MAX.to_string()),
        ],
    )
}

pub(crate) fn result(wait: AllowanceWait, answer: EffectResult, cx: &Cx<'_>) -> Next {
    match (wait, answer) {
        (AllowanceWait::List, EffectResult::Allowances(items)) => {
            let items: Vec<AllowanceItem> = items
                .into_iter()
                .filter(|a| !a.id.is_empty() && a.id.len() <= ID_LEN_MAX)
                .take(ALLOWANCES_MAX)
                .map(|a| AllowanceItem {
                    merchant: clean(&a.merchant, NAME_LEN_MAX, "-"),
                    until: clean(&a.until, DATE_LEN_MAX, "-"),
                    ..a
                })
                .collect();
            if items.is_empty() {
                return Next::Go(Step::Notice(Notice::Allowances));
            }
            go(AllowanceStep::List { items, offset: 0 })
        }
        (AllowanceWait::Revoke { name }, EffectResult::AllowanceRevoked) => {
            Next::End(cx.tf(Msg::RevokeDone, &[(Slot::Name, &name)]))
        }
        (AllowanceWait::Revoke { .. }, EffectResult::Rejected(r)) => {
            Next::End(catalog::rejection(cx.lang, r).to_owned())
        }
        (AllowanceWait::Lookup { code }, EffectResult::Merchant { name, .. }) => {
            let name = clean(&name, NAME_LEN_MAX, &code);
            go(AllowanceStep::Cap {
                merchant: MerchantRef { code, name },
            })
        }
        (AllowanceWait::Lookup { .. }, EffectResult::MerchantUnknown) => {
            Next::Invalid(cx.t(Msg::HintMerchant))
        }
        _ => unavailable(cx),
    }
}

fn list_page(items: &[AllowanceItem], offset: usize, cx: &Cx<'_>) -> view::Page {
    let lines: Vec<String> = items
        .iter()
        .map(|a| {
            cx.tf(
                Msg::AllowanceLine,
                &[
                    (Slot::Name, &a.merchant),
                    (Slot::Amount, &cx.money(a.cap)),
                    (Slot::Date, &a.until),
                ],
            )
        })
        .collect();
    view::page(cx, &cx.t(Msg::AllowListTitle), &lines, offset, false, true)
}

pub(crate) fn render(s: &AllowanceStep, cx: &Cx<'_>) -> Body {
    let currency = cx.cfg.currency.code();
    let text = match s {
        AllowanceStep::Menu => view::menu(cx, Some(cx.t(Msg::AllowancesTitle)), &MENU),
        AllowanceStep::List { items, offset } => list_page(items, *offset, cx).text,
        AllowanceStep::Detail { item } => {
            let title = cx.tf(
                Msg::AllowanceDetail,
                &[
                    (Slot::Name, &item.merchant),
                    (Slot::Spent, &cx.money(item.spent)),
                    (Slot::Amount, &cx.money(item.cap)),
                    (Slot::Max, &cx.money(item.per_charge_max)),
                    (Slot::Date, &item.until),
                ],
            );
            view::menu(cx, Some(title), &[Msg::Revoke])
        }
        AllowanceStep::RevokeConfirm { item } => {
            let title = cx.tf(Msg::RevokeConfirm, &[(Slot::Name, &item.merchant)]);
            view::menu(cx, Some(title), &[Msg::Revoke, Msg::Keep])
        }
        AllowanceStep::Code => cx.t(Msg::PayCode),
        AllowanceStep::Cap { merchant } => cx.tf(
            Msg::AllowCap,
            &[(Slot::Name, &merchant.name), (Slot::Currency, currency)],
        ),
        AllowanceStep::PerCharge { .. } => {
            cx.tf(Msg::AllowPerCharge, &[(Slot::Currency, currency)])
        }
        AllowanceStep::Days { .. } => cx.tf(
            Msg::AllowDays,
            &[(Slot::Days, &ALLOWANCE_DAYS_MAX.to_string())],
        ),
        AllowanceStep::Confirm(terms) => cx.tf(
            Msg::AllowConfirm,
            &[
                (Slot::Name, &terms.merchant.name),
                (Slot::Amount, &cx.money(terms.cap)),
                (Slot::Max, &cx.money(terms.per_charge_max)),
                (Slot::Days, &terms.days.to_string()),
            ],
        ),
    };
    Body::nav(text)
}
