//! My account: the menu, language, limits and cancelling the last send. The mini statement and
//! reversals are in `history`, changing the PIN in `pin`, allowances in `allowances`.

use serde::{Deserialize, Serialize};

use super::exec::{self, Done};
use super::history::{HistoryStep, HistoryWait};
use super::pin::{self, PinStep};
use super::{invalid_choice, pin_failure, typed_pin, unavailable, Change, Next};
use crate::catalog::{self, Language, Msg, Slot};
use crate::engine::effect::{Effect, EffectResult, MoneyAction};
use crate::engine::state::{Step, Wait};
use crate::engine::view::{self, Body, Cx};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum AccountStep {
    Menu,
    Pin(PinStep),
    Language,
    LimitsPin,
    CancelPin,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum AccountWait {
    ChangePin,
    Language(Language),
    Limits,
}

const MENU: [Msg; 7] = [
    Msg::AccStatement,
    Msg::AccChangePin,
    Msg::AccLanguage,
    Msg::AccLimits,
    Msg::AccCancel,
    Msg::AccReverse,
    Msg::AccAllowances,
];

fn go(s: AccountStep) -> Next {
    Next::Go(Step::Account(s))
}

pub(crate) fn input(s: &AccountStep, input: &str, cx: &Cx<'_>) -> Next {
    match s {
        AccountStep::Menu => match view::choice(input, MENU.len()).and_then(|i| MENU.get(i)) {
            Some(Msg::AccStatement) => Next::Go(Step::History(HistoryStep::StatementPin)),
            Some(Msg::AccChangePin) => go(AccountStep::Pin(PinStep::New)),
            Some(Msg::AccLanguage) => go(AccountStep::Language),
            Some(Msg::AccLimits) => go(AccountStep::LimitsPin),
            Some(Msg::AccCancel) => go(AccountStep::CancelPin),
            Some(Msg::AccReverse) => {
                Next::Ask(Effect::ListRecentSends, Wait::History(HistoryWait::Recent))
            }
            Some(Msg::AccAllowances) => Next::Go(super::allowances::menu_step()),
            _ => invalid_choice(cx),
        },
        AccountStep::Pin(p) => pin::input(p, input, cx),
        AccountStep::Language => match view::choice(input, Language::ALL.len()) {
            Some(i) => {
                let language = Language::ALL.get(i).copied().unwrap_or(cx.lang);
                Next::Ask(
                    Effect::SetLanguage { language },
                    Wait::Account(AccountWait::Language(language)),
                )
            }
            None => invalid_choice(cx),
        },
        AccountStep::LimitsPin => match typed_pin(input, cx) {
            Ok(pin) => Next::Ask(Effect::Limits { pin }, Wait::Account(AccountWait::Limits)),
            Err(hint) => Next::Invalid(hint),
        },
        AccountStep::CancelPin => match typed_pin(input, cx) {
            Ok(pin) => exec::ask(MoneyAction::CancelLastSend, pin, Done::Cancel, cx),
            Err(hint) => Next::Invalid(hint),
        },
    }
}

pub(crate) fn result(wait: AccountWait, answer: EffectResult, cx: &Cx<'_>) -> Next {
    match wait {
        AccountWait::ChangePin => pin::result(answer, cx),
        AccountWait::Language(language) => match answer {
            // Said in the language just chosen.
            EffectResult::LanguageSet => Next::With(
                Change::Language(language),
                Box::new(Next::End(catalog::plain(language, Msg::LanguageSet))),
            ),
            _ => unavailable(cx),
        },
        AccountWait::Limits => match answer {
            EffectResult::Limits(info) => {
                let tier = info.tier.index().to_string();
                let amount = cx.money(info.per_transaction);
                let daily = cx.money(info.daily);
                let left = cx.money(info.daily_left);
                let balance = cx.money(info.balance_max);
                Next::End(cx.tf(
                    Msg::LimitsShow,
                    &[
                        (Slot::Tier, &tier),
                        (Slot::Amount, &amount),
                        (Slot::Daily, &daily),
                        (Slot::Left, &left),
                        (Slot::Balance, &balance),
                    ],
                ))
            }
            other => pin_failure(&other, cx),
        },
    }
}

pub(crate) fn render(s: &AccountStep, cx: &Cx<'_>) -> Body {
    match s {
        AccountStep::Menu => Body::nav(view::menu(cx, Some(cx.t(Msg::AccountTitle)), &MENU)),
        AccountStep::Pin(p) => pin::render(p, cx),
        AccountStep::Language => {
            let names: Vec<String> = Language::ALL
                .iter()
                .map(|l| l.native_name().to_owned())
                .collect();
            Body::nav(view::numbered(Some(cx.t(Msg::LanguageTitle)), &names))
        }
        AccountStep::LimitsPin => Body::nav(cx.t(Msg::LimitsPin)),
        AccountStep::CancelPin => Body::nav(cx.t(Msg::CancelPin)),
    }
}
