//! Requests waiting for approval, of all three kinds: a merchant's allowance request and a
//! payment request with its description, with the exact screens; answers of the wrong kind.

use super::journeys::{en, expect, NAV};
use super::*;

#[test]
fn approving_a_merchants_allowance_request() {
    let mut s = en();
    expect(
        &mut s,
        &[
            (
                "7",
                &format!(
                    "Waiting for you:\n1 KES 500.00 cash at Kona Kiosk\n\
                     2 KES 10.00 to Habari Daily News\n3 News Co: allow up to KES 50.00{NAV}"
                ),
            ),
            (
                "3",
                &format!(
                    "Let News Co charge you?\nTotal KES 50.00\nMax KES 5.00 per charge\n\
                     Until 17/10\n1 Allow\n2 Decline{NAV}"
                ),
            ),
            ("1", &format!("Enter PIN to approve{NAV}")),
            (
                "1111",
                &format!("Wrong PIN. 2 tries left.\nEnter PIN to approve{NAV}"),
            ),
            (
                PIN,
                "News Co can now charge you up to KES 50.00 until 17/10. Revoke it any time in \
                 My account.",
            ),
        ],
    );
    assert!(matches!(
        s.world.log.last(),
        Some(Effect::Execute { action: MoneyAction::Approve { request_id }, step_key, .. })
            if request_id == "a3" && step_key == "ussd:6a1b2c3d:africastalking:ATUid_test:0:approve"
    ));
    // Declining it moves no money either.
    let mut s = en();
    s.run(&["7", "3", "2", PIN]);
    assert_eq!(s.screen, "Declined. No money moved.\nBalance KES 893.00.");
    assert!(matches!(
        s.world.log.last(),
        Some(Effect::Execute { action: MoneyAction::Decline { request_id }, .. }) if request_id == "a3"
    ));
}

#[test]
fn approval_screens_in_swahili_and_french() {
    let mut s = Session::dial(&registered(Language::Sw), config(), World::typical());
    s.run(&["7", "3"]);
    assert_eq!(
        s.screen,
        "Ruhusu News Co akutoze?\nJumla KES 50.00\nKila malipo hadi KES 5.00\nHadi 17/10\n\
         1 Ruhusu\n2 Kataa\n0 Nyuma 00 Mwanzo"
    );
    let mut s = Session::dial(&registered(Language::Fr), config(), World::typical());
    s.run(&["7", "2"]);
    assert_eq!(
        s.screen,
        "Payer KES 10.00 à Habari Daily News pour September issue, frais 0.00?\n1 Approuver\n\
         2 Refuser\n0 Retour 00 Accueil"
    );
    s.run(&["0", "3", "1", PIN]);
    assert_eq!(
        s.screen,
        "News Co peut vous prélever KES 50.00 au plus, jusqu'au 17/10. Révocable dans Mon compte."
    );
}

#[test]
fn requests_are_cleaned_and_an_allowance_without_its_terms_is_not_shown() {
    let mut world = World::typical();
    world.approvals[1].description =
        Some("Ω\u{1F600} Daily\nnews for the whole of September".to_owned());
    world.approvals[2].until = Some("17/10/2026".to_owned());
    let mut incomplete = world.approvals[2].clone();
    incomplete.id = "a4".to_owned();
    incomplete.per_charge_max = None;
    world.approvals.push(incomplete);
    let mut s = Session::dial(&registered(Language::En), config(), world);
    s.send("7");
    assert!(!s.screen.contains("4 "), "{}", s.screen);
    s.send("2");
    assert_eq!(
        s.screen,
        format!(
            "Pay KES 10.00 to Habari Daily News for Ω Daily news for the who, fee 0.00?\n\
             1 Approve\n2 Decline{NAV}"
        )
    );
    s.run(&["0", "3"]);
    assert!(s.screen.contains("\nUntil 17/10\n"), "{}", s.screen);
    // An empty description is no description.
    let mut world = World::typical();
    world.approvals[1].description = Some("\u{1F600}".to_owned());
    let mut s = Session::dial(&registered(Language::En), config(), world);
    s.run(&["7", "2"]);
    assert!(s
        .screen
        .starts_with("Pay KES 10.00 to Habari Daily News, fee 0.00?"));
}

#[test]
fn answers_of_the_wrong_kind_are_not_taken_as_success() {
    // A receipt for an allowance, and an allowance for a payment: neither is guessed at.
    let mut s = en();
    s.run(&["8", "7", "2", "M001", "100", "20", "30"]);
    let state = SessionState::from_json(&s.stored).unwrap();
    let turn = handle(state, Event::Input(PIN.to_owned()), &config());
    assert!(matches!(
        turn.output,
        Output::Effect(Effect::GrantAllowance { .. })
    ));
    let receipt = Receipt {
        code: "QK7ZD3MPWA".to_owned(),
        amount: kes(100),
        fee: kes(0),
        new_balance: None,
    };
    let turn = handle(
        turn.state,
        Event::Result(EffectResult::Done(receipt)),
        &config(),
    );
    assert!(matches!(
        turn.output,
        Output::Screen { text, end: true } if text.starts_with("We could not confirm this allowance.")
    ));

    let mut s = en();
    s.run(&["7", "1", "1"]);
    let state = SessionState::from_json(&s.stored).unwrap();
    let turn = handle(state, Event::Input(PIN.to_owned()), &config());
    let granted = EffectResult::AllowanceGranted {
        merchant: "Kona Kiosk".to_owned(),
        cap: kes(100),
        until: "17/10".to_owned(),
    };
    let turn = handle(turn.state, Event::Result(granted), &config());
    assert!(matches!(
        turn.output,
        Output::Screen { text, end: true } if text.starts_with("We could not confirm this transaction.")
    ));
}
