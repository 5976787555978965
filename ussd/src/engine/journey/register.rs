//! Opening a wallet from the phone: language, name, PIN twice, terms. The result is a tier-0
//! wallet; the customer dials again to use it.

use serde::{Deserialize, Serialize};

use super::{invalid_choice, pin, unavailable, Change, Next};
use crate::catalog::{Language, Msg, Slot};
use crate::engine::bounds::{NAME_LEN_MAX, REGISTER_NAME_LEN_MIN, TERMS_LEN_MAX};
use crate::engine::effect::{Effect, EffectResult, Pin};
use crate::engine::state::{PinDraft, Step, Wait};
use crate::engine::view::{self, Body, Cx};
use crate::gsm;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum RegStep {
    Language,
    Name,
    Pin { name: String },
    PinAgain { name: String, pin: PinDraft },
    Terms { name: String, pin: PinDraft },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum RegWait {
    Register { name: String },
}

fn step(s: RegStep) -> Step {
    Step::Register(s)
}

pub(crate) fn input(s: &RegStep, input: &str, cx: &Cx<'_>) -> Next {
    match s {
        RegStep::Language => match view::choice(input, Language::ALL.len()) {
            Some(i) => {
                let lang = Language::ALL.get(i).copied().unwrap_or(cx.lang);
                Next::With(
                    Change::Language(lang),
                    Box::new(Next::Go(step(RegStep::Name))),
                )
            }
            None => invalid_choice(cx),
        },
        RegStep::Name => match name(input) {
            Some(name) => Next::Go(step(RegStep::Pin { name })),
            None => Next::Invalid(cx.t(Msg::HintName)),
        },
        RegStep::Pin { name } => match pin::check_new(input, cx) {
            Ok(pin) => Next::Go(step(RegStep::PinAgain {
                name: name.clone(),
                pin,
            })),
            Err(hint) => Next::Invalid(hint),
        },
        RegStep::PinAgain { name, pin } if input == pin.0 => Next::Go(step(RegStep::Terms {
            name: name.clone(),
            pin: pin.clone(),
        })),
        RegStep::PinAgain { name, .. } => Next::Redo(
            step(RegStep::Pin { name: name.clone() }),
            cx.t(Msg::HintPinMismatch),
        ),
        RegStep::Terms { name, pin } => match view::choice(input, 2) {
            Some(0) => Next::Ask(
                Effect::Register {
                    name: name.clone(),
                    language: cx.lang,
                    pin: Pin::new(pin.0.clone()),
                },
                Wait::Register(RegWait::Register { name: name.clone() }),
            ),
            Some(_) => Next::End(cx.t(Msg::RegDeclined)),
            None => invalid_choice(cx),
        },
    }
}

/// A name as customers type it: 2 to 30 characters after cleaning, letters with spaces,
/// hyphens, apostrophes and dots, at least two letters.
fn name(input: &str) -> Option<String> {
    if input.chars().count() > NAME_LEN_MAX {
        return None;
    }
    let clean = gsm::sanitize_field(input, NAME_LEN_MAX);
    let letters = clean.chars().filter(|c| c.is_alphabetic()).count();
    let allowed = clean
        .chars()
        .all(|c| c.is_alphabetic() || matches!(c, ' ' | '-' | '\'' | '.'));
    (allowed && letters >= REGISTER_NAME_LEN_MIN).then_some(clean)
}

pub(crate) fn result(wait: RegWait, answer: EffectResult, cx: &Cx<'_>) -> Next {
    let RegWait::Register { name } = wait;
    match answer {
        EffectResult::Registered => Next::End(cx.tf(Msg::RegDone, &[(Slot::Name, &name)])),
        EffectResult::AlreadyRegistered => Next::End(cx.t(Msg::RegAlready)),
        _ => unavailable(cx),
    }
}

pub(crate) fn render(s: &RegStep, cx: &Cx<'_>) -> Body {
    let text = match s {
        RegStep::Language => {
            let names: Vec<String> = Language::ALL
                .iter()
                .map(|l| l.native_name().to_owned())
                .collect();
            view::numbered(Some(cx.t(Msg::RegWelcome)), &names)
        }
        RegStep::Name => cx.t(Msg::RegName),
        RegStep::Pin { .. } => cx.tf(Msg::RegPin, &[(Slot::Digits, &cx.digits())]),
        RegStep::PinAgain { .. } => cx.t(Msg::RegPinAgain),
        RegStep::Terms { name, .. } => {
            let terms = gsm::sanitize_field(&cx.cfg.terms, TERMS_LEN_MAX);
            let title = cx.tf(Msg::RegTerms, &[(Slot::Name, name), (Slot::Terms, &terms)]);
            view::menu(cx, Some(title), &[Msg::Accept, Msg::Decline])
        }
    };
    Body::nav(text)
}
