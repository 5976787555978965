//! Balance, approvals, my account, registration and forced PIN change, with the exact English
//! screens.

use super::journeys::{en, expect, MAIN, NAV};
use super::*;

#[test]
fn balance() {
    let mut s = en();
    expect(
        &mut s,
        &[
            ("6", &format!("Enter PIN to see your balance{NAV}")),
            (PIN, "Your balance is KES 893.00."),
        ],
    );
}

#[test]
fn approvals_approve_and_decline() {
    let mut s = en();
    expect(
        &mut s,
        &[
            (
                "7",
                &format!(
                    "Waiting for you:\n1 KES 500.00 cash at Kona Kiosk\n2 KES 10.00 to Habari Daily News\n\
                     3 News Co: allow up to KES 50.00{NAV}"
                ),
            ),
            (
                "1",
                &format!("Withdraw KES 500.00 at Kona Kiosk, fee 29.00?\n1 Approve\n2 Decline{NAV}"),
            ),
            ("1", &format!("Enter PIN to approve{NAV}")),
            (PIN, "Approved. Code QK7ZD3MPWA.\nBalance KES 893.00."),
        ],
    );
    let mut s = en();
    s.run(&["7", "2"]);
    assert_eq!(
        s.screen,
        format!(
            "Pay KES 10.00 to Habari Daily News for September issue, fee 0.00?\n1 Approve\n\
             2 Decline{NAV}"
        )
    );
    s.run(&["2", PIN]);
    assert_eq!(s.screen, "Declined. No money moved.\nBalance KES 893.00.");
    assert!(matches!(
        s.world.log.last(),
        Some(Effect::Execute { action: MoneyAction::Decline { request_id }, .. }) if request_id == "a2"
    ));
    let mut world = World::typical();
    world.approvals.clear();
    let mut s = Session::dial(&registered(Language::En), config(), world);
    s.send("7");
    assert_eq!(
        s.screen,
        format!("Nothing is waiting for your approval.{NAV}")
    );
}

#[test]
fn my_account_menu_and_statement() {
    let mut s = en();
    expect(
        &mut s,
        &[
            (
                "8",
                &format!(
                    "My account\n1 Mini statement\n2 Change PIN\n3 Language\n4 Limits & tier\n\
                     5 Cancel last send\n6 Reverse a send\n7 Allowances{NAV}"
                ),
            ),
            ("1", &format!("Enter PIN to see your statement{NAV}")),
            (
                PIN,
                &format!(
                    "Last transactions:\n10/09 Transfer -100.00 BRIAN O\n11/09 Deposit +200.00 BRIAN O\n\
                     12/09 Transfer -300.00 BRIAN O\n98 More{NAV}"
                ),
            ),
            (
                "98",
                &format!(
                    "Last transactions:\n13/09 Deposit +400.00 BRIAN O\n14/09 Transfer -500.00 BRIAN O{NAV}"
                ),
            ),
        ],
    );
    // Back goes to the first page, and from there to the menu: the PIN prompt is not kept.
    s.send("0");
    assert!(s.screen.starts_with("Last transactions:\n10/09"));
    s.send("0");
    assert!(s.screen.starts_with("My account\n"));
}

#[test]
fn change_pin() {
    let mut s = en();
    s.send("8");
    expect(
        &mut s,
        &[
            ("2", &format!("Enter a new 4-digit PIN{NAV}")),
            (
                "1234",
                &format!("That PIN is too easy to guess.\nEnter a new 4-digit PIN{NAV}"),
            ),
            ("1357", &format!("Enter the new PIN again{NAV}")),
            (
                "1358",
                &format!("The PINs did not match.\nEnter a new 4-digit PIN{NAV}"),
            ),
            ("1357", &format!("Enter the new PIN again{NAV}")),
            ("1357", &format!("Enter your current PIN{NAV}")),
            (
                "1357",
                &format!("Choose a different PIN.\nEnter a new 4-digit PIN{NAV}"),
            ),
            ("2468", &format!("Enter the new PIN again{NAV}")),
            ("2468", &format!("Enter your current PIN{NAV}")),
            (
                "9999",
                &format!("Wrong PIN. 2 tries left.\nEnter your current PIN{NAV}"),
            ),
            (PIN, "Your PIN has been changed."),
        ],
    );
    assert_eq!(s.world.pin, "2468");
    assert_eq!(
        s.world.log.last(),
        Some(&Effect::ChangePin {
            old: Pin::new(PIN),
            new: Pin::new("2468")
        })
    );
}

#[test]
fn language_limits_cancel_and_reverse() {
    let mut s = en();
    s.run(&["8", "3"]);
    assert_eq!(
        s.screen,
        format!("Choose language\n1 English\n2 Kiswahili\n3 Francais{NAV}")
    );
    s.send("2");
    assert_eq!(s.screen, "Lugha imebadilishwa.");
    assert_eq!(
        SessionState::from_json(&s.stored).unwrap().language(),
        Language::Sw
    );

    let mut s = en();
    s.run(&["8", "4"]);
    assert_eq!(s.screen, format!("Enter PIN to see your limits{NAV}"));
    s.send(PIN);
    assert_eq!(
        s.screen,
        "Tier 0\nPer transaction: KES 150,000.00\nDaily: KES 300,000.00, KES 299,900.00 left\n\
         Max balance: KES 300,000.00"
    );

    let mut s = en();
    s.run(&["8", "5"]);
    assert_eq!(s.screen, format!("Enter PIN to cancel your last send{NAV}"));
    s.send(PIN);
    assert_eq!(
        s.screen,
        "Cancelled. KES 100.00 is back in your wallet. Code QK7ZD3MPWA.\nBalance KES 893.00."
    );
    s = en();
    s.world.execute_rejection = Some(Rejection::PendingAlreadyPosted);
    s.run(&["8", "5", PIN]);
    assert_eq!(s.screen, "This was already completed.");

    let mut s = en();
    s.run(&["8", "6"]);
    assert_eq!(
        s.screen,
        format!("Which send to reverse?\n1 KES 100.00 to JOHN D*** 17/09{NAV}")
    );
    s.send("1");
    assert_eq!(
        s.screen,
        format!("Reverse KES 100.00 sent to JOHN D*** on 17/09? Enter PIN to confirm{NAV}")
    );
    s.world.execute_rejection = Some(Rejection::ReversalWindowClosed);
    s.send(PIN);
    assert_eq!(s.screen, "The time to reverse this has passed.");
    assert!(matches!(
        s.world.log.last(),
        Some(Effect::Execute { action: MoneyAction::Reverse { code }, .. }) if code == "QK7ZD3MPWA"
    ));
}

#[test]
fn registration() {
    let mut s = Session::dial(&Profile::Unregistered, config(), World::typical());
    assert_eq!(
        s.screen,
        "Welcome to mkoba. Open a free wallet.\nChoose language:\n1 English\n2 Kiswahili\n3 Francais"
    );
    expect(
        &mut s,
        &[
            ("1", &format!("Enter your full name{NAV}")),
            (
                "A",
                &format!("Enter 2 to 30 letters.\nEnter your full name{NAV}"),
            ),
            ("Zoë  Wanjiru", &format!("Create a 4-digit PIN{NAV}")),
            (
                "0000",
                &format!("That PIN is too easy to guess.\nCreate a 4-digit PIN{NAV}"),
            ),
            ("1357", &format!("Enter the PIN again{NAV}")),
            (
                "1375",
                &format!("The PINs did not match.\nCreate a 4-digit PIN{NAV}"),
            ),
            ("1357", &format!("Enter the PIN again{NAV}")),
            (
                "1357",
                &format!(
                    "Open a wallet for Zoe Wanjiru? You accept the terms at mkoba.africa/terms.\n\
                     1 Accept\n2 Decline{NAV}"
                ),
            ),
            (
                "1",
                "Welcome Zoe Wanjiru! Your mkoba wallet is ready. Dial again to use it.",
            ),
        ],
    );
    assert_eq!(
        s.world.log.last(),
        Some(&Effect::Register {
            name: "Zoe Wanjiru".to_owned(),
            language: Language::En,
            pin: Pin::new("1357")
        })
    );
    let mut s = Session::dial(&Profile::Unregistered, config(), World::typical());
    s.run(&["2", "Baraka Otieno", "1357", "1357"]);
    assert!(s.screen.starts_with("Fungua pochi kwa jina Baraka Otieno?"));
    s.send("2");
    assert_eq!(
        s.screen,
        "Hakuna pochi iliyofunguliwa. Piga tena wakati wowote."
    );
    assert!(!s
        .world
        .log
        .iter()
        .any(|e| matches!(e, Effect::Register { .. })));
}

#[test]
fn forced_pin_change_comes_first_then_the_main_menu() {
    let profile = Profile::Registered {
        name: "Amina Njeri".to_owned(),
        language: Language::En,
        pin_locked: false,
        must_change_pin: true,
    };
    let mut s = Session::dial(&profile, config(), World::typical());
    assert_eq!(
        s.screen,
        "Please change your PIN first. Enter a new 4-digit PIN"
    );
    // No way round it: home is not offered and does not work.
    assert_eq!(
        s.send("00"),
        "The PIN must be 4 digits.\nPlease change your PIN first. Enter a new 4-digit PIN"
    );
    s.run(&["1357", "1357"]);
    assert_eq!(s.screen, "Enter your current PIN\n0 Back");
    s.send(PIN);
    assert_eq!(s.screen, format!("Your PIN has been changed.\n{MAIN}"));
    s.run(&["6", "1357"]);
    assert_eq!(s.screen, "Your balance is KES 893.00.");
}

#[test]
fn a_locked_pin_is_told_at_once() {
    let profile = Profile::Registered {
        name: "Amina Njeri".to_owned(),
        language: Language::Fr,
        pin_locked: true,
        must_change_pin: true,
    };
    let s = Session::dial(&profile, config(), World::typical());
    assert_eq!(
        s.screen,
        "Votre PIN est bloqué. Allez chez un agent mkoba avec votre pièce d'identité."
    );
    assert!(s.ended);
}

#[test]
fn long_lists_page_with_98_and_number_each_page_from_one() {
    let mut world = World::typical();
    world.approvals = (0..7)
        .map(|i| ApprovalRequest {
            id: format!("a{i}"),
            kind: ApprovalKind::Withdrawal,
            counterparty: format!("Agent number {i} of Kisumu"),
            amount: kes(100_000 + i),
            fee: kes(2_900),
            per_charge_max: None,
            until: None,
            description: None,
        })
        .collect();
    let mut s = Session::dial(&registered(Language::En), config(), world);
    s.send("7");
    assert_eq!(
        s.screen,
        format!(
            "Waiting for you:\n1 KES 1,000.00 cash at Agent number 0 of Kisumu\n\
             2 KES 1,000.01 cash at Agent number 1 of Kisumu\n98 More{NAV}"
        )
    );
    s.send("98");
    assert!(s
        .screen
        .starts_with("Waiting for you:\n1 KES 1,000.02 cash at Agent number 2"));
    s.send("98");
    s.send("98");
    assert!(s
        .screen
        .starts_with("Waiting for you:\n1 KES 1,000.06 cash at Agent number 6"));
    assert!(!s.screen.contains("98 More"));
    s.send("0");
    s.send("1");
    assert!(s
        .screen
        .starts_with("Withdraw KES 1,000.04 at Agent number 4 of Kisumu"));
    s.run(&["1", PIN]);
    assert!(matches!(
        s.world.log.last(),
        Some(Effect::Execute { action: MoneyAction::Approve { request_id }, .. }) if request_id == "a4"
    ));
}

#[test]
fn empty_histories_say_so() {
    let mut world = World::typical();
    world.statement.clear();
    world.recent.clear();
    let mut s = Session::dial(&registered(Language::En), config(), world.clone());
    s.run(&["8", "1", PIN]);
    assert_eq!(s.screen, format!("No transactions yet.{NAV}"));
    let mut s = Session::dial(&registered(Language::En), config(), world);
    s.run(&["8", "6"]);
    assert_eq!(s.screen, format!("No recent send can be reversed.{NAV}"));
}

#[test]
fn a_lost_answer_to_a_payment_is_not_guessed() {
    let mut s = en();
    s.run(&["1", "0712345678", "100"]);
    let state = SessionState::from_json(&s.stored).unwrap();
    let turn = handle(state, Event::Input(PIN.to_owned()), &config());
    assert!(matches!(
        turn.output,
        Output::Effect(Effect::Execute { .. })
    ));
    let turn = handle(
        turn.state,
        Event::Result(EffectResult::Unavailable),
        &config(),
    );
    assert_eq!(
        turn.output,
        Output::Screen {
            text:
                "We could not confirm this transaction. Check your SMS and balance before trying \
                   again."
                    .to_owned(),
            end: true
        }
    );
}
