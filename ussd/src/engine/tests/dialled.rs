//! Dial shortcuts: inputs carried by the dial string, fed before the first screen is shown.

use super::journeys::{en, NAV};
use super::*;

fn dial(inputs: &[&str]) -> Session {
    Session::dial_with(
        &registered(Language::En),
        config(),
        World::typical(),
        inputs,
    )
}

fn executes(s: &Session) -> usize {
    s.world
        .log
        .iter()
        .filter(|e| matches!(e, Effect::Execute { .. }))
        .count()
}

#[test]
fn a_dialled_payment_opens_at_the_pin_prompt_and_pays_like_the_menu() {
    let mut s = dial(&["5", "M001", "100"]);
    let confirm =
        format!("Pay KES 100.00 to Safari Airtime & Data, fee 7.00. Enter PIN to confirm{NAV}");
    assert_eq!(s.screen, confirm);
    assert!(!s.ended);
    assert_eq!(s.hops, 1, "the whole shortcut is one hop");
    let paid = s.send(PIN).to_owned();

    let mut menu = en();
    menu.run(&["5", "M001", "100", PIN]);
    assert_eq!(paid, menu.screen, "the same receipt as through the menus");
    assert_eq!(
        s.world.log, menu.world.log,
        "the same effects, PIN check included"
    );
    assert_eq!(executes(&s), 1);
}

#[test]
fn a_pin_in_the_dial_string_is_never_used() {
    let s = dial(&["5", "M001", "100", PIN]);
    assert!(s.ended);
    assert_eq!(
        s.screen,
        "For your safety, never type your PIN in a dial code. Dial again and enter it when asked."
    );
    assert_eq!(executes(&s), 0);
    // The balance journey's PIN is the second input: refused the same way.
    let s = dial(&["6", PIN]);
    assert!(s.ended);
    assert!(s.world.log.is_empty(), "{:?}", s.world.log);
}

#[test]
fn a_refused_input_stops_the_shortcut_on_its_hint() {
    let s = dial(&["5", "M404", "100"]);
    assert_eq!(
        s.screen,
        format!("Unknown merchant code.\nEnter merchant code{NAV}")
    );
    let lookups: Vec<_> = s.world.log.iter().collect();
    assert_eq!(
        lookups.len(),
        1,
        "100 was not taken as a merchant code: {lookups:?}"
    );
    assert!(!s.ended);
}

#[test]
fn a_shortcut_ends_where_the_session_ends() {
    let profile = Profile::Registered {
        name: "Amina".to_owned(),
        language: Language::En,
        pin_locked: true,
        must_change_pin: false,
    };
    let s = Session::dial_with(&profile, config(), World::typical(), &["5", "M001", "100"]);
    assert!(s.ended);
    assert!(s.world.log.is_empty());
    assert_eq!(s.screen, catalog::plain(Language::En, Msg::PinLocked));
}

#[test]
fn a_shortcut_goes_through_menus_that_need_no_pin() {
    // My account > Language > Kiswahili, all dialled.
    let s = dial(&["8", "3", "2"]);
    assert_eq!(
        s.world.log,
        vec![Effect::SetLanguage {
            language: Language::Sw
        }]
    );
}
