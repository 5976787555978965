//! PIN rules, and the change-PIN screens (also the forced change after a reset).
//!
//! A new PIN is checked here, before the server sees it: the configured number of digits, not
//! guessable (one digit repeated, a run up or down, a pair repeated), typed the same twice, and
//! different from the current one. The current PIN is asked last, so that it is never held in
//! the session state: it goes straight into the `ChangePin` effect.

use serde::{Deserialize, Serialize};

use super::account::{AccountStep, AccountWait};
use super::{pin_failure, typed_pin, unavailable, Change, Next};
use crate::catalog::{Msg, Slot};
use crate::engine::effect::{Effect, EffectResult, Pin};
use crate::engine::state::{PinDraft, Step, Wait};
use crate::engine::view::{Body, Cx};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum PinStep {
    New,
    Again { new: PinDraft },
    Current { new: PinDraft },
}

/// Exactly `len` ASCII digits.
pub(crate) fn well_formed(pin: &str, len: usize) -> bool {
    pin.len() == len && pin.bytes().all(|b| b.is_ascii_digit())
}

/// PINs a thief tries first: `0000`, `1234`, `4321`, `1212`.
pub(crate) fn is_weak(pin: &str) -> bool {
    let digits: Vec<i16> = pin
        .bytes()
        .map(|b| i16::from(b) - i16::from(b'0'))
        .collect();
    let steps: Vec<i16> = digits
        .windows(2)
        .map(|w| match w {
            [a, b] => b - a,
            _ => 0,
        })
        .collect();
    let constant_step = steps.windows(2).all(|w| matches!(w, [a, b] if a == b));
    let run = constant_step && steps.first().is_some_and(|s| (-1..=1).contains(s));
    let pair_repeated = digits.len() % 2 == 0
        && digits
            .chunks(2)
            .all(|c| c == digits.get(..2).unwrap_or_default());
    run || pair_repeated
}

/// A new PIN the customer typed, or the hint to show.
pub(crate) fn check_new(input: &str, cx: &Cx<'_>) -> Result<PinDraft, String> {
    let pin = typed_pin(input, cx)?;
    if is_weak(pin.expose()) {
        return Err(cx.t(Msg::HintPinWeak));
    }
    Ok(PinDraft(pin.expose().to_owned()))
}

fn step(s: PinStep) -> Step {
    Step::Account(AccountStep::Pin(s))
}

pub(crate) fn input(s: &PinStep, input: &str, cx: &Cx<'_>) -> Next {
    match s {
        PinStep::New => match check_new(input, cx) {
            Ok(new) => Next::Go(step(PinStep::Again { new })),
            Err(hint) => Next::Invalid(hint),
        },
        PinStep::Again { new } if input == new.0 => {
            Next::Go(step(PinStep::Current { new: new.clone() }))
        }
        PinStep::Again { .. } => Next::Redo(step(PinStep::New), cx.t(Msg::HintPinMismatch)),
        PinStep::Current { new } => match typed_pin(input, cx) {
            Ok(old) if old.expose() == new.0 => {
                Next::Redo(step(PinStep::New), cx.t(Msg::HintPinSame))
            }
            Ok(old) => Next::Ask(
                Effect::ChangePin {
                    old,
                    new: Pin::new(new.0.clone()),
                },
                Wait::Account(AccountWait::ChangePin),
            ),
            Err(hint) => Next::Invalid(hint),
        },
    }
}

pub(crate) fn result(answer: EffectResult, cx: &Cx<'_>) -> Next {
    match answer {
        // After a forced change the customer carries on to the main menu.
        EffectResult::PinChanged if cx.forced => Next::With(
            Change::PinChanged,
            Box::new(Next::Home(Some(cx.t(Msg::PinChanged)))),
        ),
        EffectResult::PinChanged => Next::End(cx.t(Msg::PinChanged)),
        EffectResult::WrongPin { .. } | EffectResult::PinLocked => pin_failure(&answer, cx),
        _ => unavailable(cx),
    }
}

pub(crate) fn render(s: &PinStep, cx: &Cx<'_>) -> Body {
    let digits = cx.digits();
    let text = match s {
        PinStep::New if cx.forced => cx.tf(Msg::PinForced, &[(Slot::Digits, &digits)]),
        PinStep::New => cx.tf(Msg::PinNew, &[(Slot::Digits, &digits)]),
        PinStep::Again { .. } => cx.t(Msg::PinNewAgain),
        PinStep::Current { .. } => cx.t(Msg::PinCurrent),
    };
    Body::nav(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_pins_are_refused() {
        for pin in [
            "0000", "1111", "1234", "4321", "6789", "9876", "0123", "1212", "9090", "12345",
        ] {
            assert!(is_weak(pin), "{pin}");
        }
        for pin in [
            "4821", "5937", "7264", "1357", "2468", "1122", "0012", "12346",
        ] {
            assert!(!is_weak(pin), "{pin}");
        }
    }

    #[test]
    fn well_formed_is_exact_digits() {
        assert!(well_formed("4821", 4));
        assert!(!well_formed("482", 4));
        assert!(!well_formed("48213", 4));
        assert!(!well_formed("48a1", 4));
        assert!(!well_formed("４８２１", 4));
        assert!(well_formed("482193", 6));
    }
}
