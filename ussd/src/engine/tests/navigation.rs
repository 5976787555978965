//! `0` back, `00` home, `98` more, the invalid-input limit, and the protocol's edges: repeated
//! hops, answers out of turn, the effect budget, stored state.

use super::*;

const NAV: &str = "\n0 Back 00 Home";

fn en() -> Session {
    Session::dial(&registered(Language::En), config(), World::typical())
}

fn state(s: &Session) -> SessionState {
    SessionState::from_json(&s.stored).unwrap()
}

#[test]
fn back_returns_to_each_screen_with_what_was_typed() {
    let mut s = en();
    let mut screens = vec![s.screen.clone()];
    for input in ["1", "0712345678", "100"] {
        screens.push(s.send(input).to_owned());
    }
    let effects = s.world.log.len();
    for expected in screens.iter().rev().skip(1) {
        assert_eq!(s.send("0"), expected);
    }
    // Going back asks the server nothing.
    assert_eq!(s.world.log.len(), effects);
    // The main menu has nowhere to go back to.
    assert_eq!(s.send("0"), format!("Invalid choice.\n{}", screens[0]));
}

#[test]
fn home_from_anywhere_forgets_the_way() {
    let mut s = en();
    s.run(&["8", "6", "1"]);
    assert!(s.screen.starts_with("Reverse KES 100.00"));
    let main = en().screen;
    assert_eq!(s.send("00"), main);
    assert!(state(&s).history.is_empty());
    // Home on an unregistered session is the first registration screen.
    let mut s = Session::dial(&Profile::Unregistered, config(), World::typical());
    let first = s.screen.clone();
    s.run(&["1", "Amina Njeri"]);
    assert_eq!(s.send("00"), first);
}

#[test]
fn more_is_only_a_command_on_lists() {
    let mut s = en();
    s.run(&["1", "0712345678"]);
    // On an amount prompt 98 is an amount.
    s.send("98");
    assert_eq!(
        s.screen,
        format!("Send KES 98.00 to JOHN D***, fee 7.00. Enter PIN to confirm{NAV}")
    );
    // On a menu it is just a wrong choice.
    let mut s = en();
    assert_eq!(s.send("98"), format!("Invalid choice.\n{}", en().screen));
}

#[test]
fn three_invalid_inputs_end_politely_and_a_good_one_resets_the_count() {
    let mut s = en();
    s.send("9");
    s.send("x");
    assert!(!s.ended);
    s.send("1");
    s.send("1");
    s.send("2");
    assert!(!s.ended, "the count starts again on a new screen");
    s.send("3");
    assert!(s.ended);
    assert_eq!(s.screen, "Too many invalid entries. Please dial again.");

    let mut cfg = config();
    cfg.invalid_inputs_max = 1;
    let mut s = Session::dial(&registered(Language::Sw), cfg, World::typical());
    s.send("x");
    assert_eq!(
        s.screen,
        "Majaribio mengi yasiyo sahihi. Tafadhali piga tena."
    );
}

#[test]
fn over_long_input_is_refused_before_anything_else() {
    let mut s = en();
    s.send("1");
    s.send(&"1".repeat(183));
    assert_eq!(s.screen, format!("Invalid entry.\nEnter phone number{NAV}"));
    assert!(s.world.log.is_empty());
}

#[test]
fn a_repeated_pin_hop_replays_with_the_same_key() {
    let mut s = en();
    s.run(&["1", "0712345678", "100"]);
    // The gateway sends the PIN hop twice and the server had not stored the first answer.
    let before = s.clone();
    s.send(PIN);
    let mut again = before.clone();
    again.send(PIN);
    let key = |s: &Session| match s.world.log.last() {
        Some(Effect::Execute { step_key, .. }) => step_key.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(key(&s), key(&again));
    // Another session gets another key.
    let turn = start(
        "africastalking:ATUid_other",
        OPENED,
        &registered(Language::En),
        &config(),
    );
    let mut other = before.clone();
    other.stored = turn.state.to_json().unwrap();
    other.run(&["1", "0712345678", "100", PIN]);
    assert_ne!(key(&s), key(&other));
}

#[test]
fn a_second_payment_in_one_session_gets_a_new_key() {
    // After a refused execution the customer may go home and pay again in the same session.
    let mut st = start("hubtel:abc", OPENED, &registered(Language::En), &config()).state;
    st.step = Step::Send(super::super::journey::send::SendStep::Recipient);
    let mut world = World::typical();
    world.execute_rejection = Some(Rejection::InsufficientFunds);
    let mut keys = Vec::new();
    for _ in 0..2 {
        let mut s = Session {
            cfg: config(),
            world: world.clone(),
            stored: st.to_json().unwrap(),
            screen: String::new(),
            ended: false,
            hops: 1,
        };
        s.run(&["0712345678", "100", PIN]);
        assert_eq!(s.screen, "You do not have enough money for this.");
        if let Some(Effect::Execute { step_key, .. }) = s.world.log.last() {
            keys.push(step_key.clone());
        }
        st.exec_seq = state(&s).exec_seq;
    }
    assert_eq!(
        keys,
        [
            "ussd:6a1b2c3d:hubtel:abc:0:send",
            "ussd:6a1b2c3d:hubtel:abc:1:send"
        ]
    );
}

#[test]
fn step_keys_sort_by_when_the_session_opened_and_fit_the_ledger() {
    // A later session's key sorts after an earlier one's whatever the gateway's session ids.
    let earlier = crate::engine::step_key(OPENED, "hubtel:zzz", 7, "send");
    let later = crate::engine::step_key(OPENED + 1, "africastalking:AAA", 0, "send");
    assert!(earlier < later, "{earlier} / {later}");
    // Fixed-width time: 9 seconds and 16 seconds later still sort in order.
    assert!(
        crate::engine::step_key(9, "a", 0, "send") < crate::engine::step_key(16, "a", 0, "send")
    );
    // The longest key the engine can make fits the ledger's keys.
    let session = "k".repeat(SESSION_KEY_LEN_MAX);
    let longest = [
        "send",
        "withdraw",
        "airtime",
        "product",
        "pay",
        "approve",
        "allowance",
    ]
    .iter()
    .map(|tag| crate::engine::step_key(u64::MAX, &session, u32::MAX, tag).len())
    .max()
    .unwrap();
    assert_eq!(longest, crate::engine::STEP_KEY_LEN_MAX);
    // The longest session key a gateway can give is accepted.
    let gateway_key = format!(
        "africastalking:{}",
        "k".repeat(crate::dialect::SESSION_ID_LEN_MAX)
    );
    let turn = start(&gateway_key, OPENED, &registered(Language::En), &config());
    assert!(matches!(turn.output, Output::Screen { end: false, .. }));
}

#[test]
fn a_session_stored_before_keys_carried_time_keeps_its_key_form() {
    // State saved by the previous version has no `opened`: a repeated hop of its payment must
    // give the key the first attempt used, or the payment would be made twice.
    let mut s = en();
    s.run(&["1", "0712345678", "100"]);
    assert!(s.stored.contains(&format!("\"opened\":{OPENED}")));
    s.stored = s.stored.replace(&format!(",\"opened\":{OPENED}"), "");
    assert_eq!(state(&s).opened, None);
    s.run(&[PIN]);
    match s.world.log.last() {
        Some(Effect::Execute { step_key, .. }) => {
            assert_eq!(step_key, "ussd:africastalking:ATUid_test:0:send");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn ended_sessions_stay_ended() {
    let mut s = en();
    s.run(&["6", PIN]);
    let end = s.screen.clone();
    let asked = s.world.log.len();
    assert_eq!(s.send("1"), end);
    assert!(s.ended);
    assert_eq!(s.world.log.len(), asked);
    let turn = handle(
        state(&s),
        Event::Result(EffectResult::Unavailable),
        &config(),
    );
    assert_eq!(
        turn.output,
        Output::Screen {
            text: end,
            end: true
        }
    );
}

#[test]
fn answers_out_of_turn_end_the_session() {
    let s = en();
    let turn = handle(
        state(&s),
        Event::Result(EffectResult::Registered),
        &config(),
    );
    assert_eq!(
        turn.output,
        Output::Screen {
            text: "Service unavailable. Please try again later.".to_owned(),
            end: true
        }
    );
    // The wrong kind of answer to an effect that was asked for, too.
    let turn = handle(state(&s), Event::Input("6".to_owned()), &config());
    let turn = handle(turn.state, Event::Input(PIN.to_owned()), &config());
    assert!(matches!(
        turn.output,
        Output::Effect(Effect::Balance { .. })
    ));
    let turn = handle(
        turn.state,
        Event::Result(EffectResult::PinChanged),
        &config(),
    );
    assert!(matches!(turn.output, Output::Screen { end: true, .. }));
}

#[test]
fn an_input_for_state_left_awaiting_forgets_the_lost_effect() {
    let s = en();
    let turn = handle(state(&s), Event::Input("7".to_owned()), &config());
    assert!(turn.state.is_awaiting());
    let turn = handle(turn.state, Event::Input("6".to_owned()), &config());
    assert!(!turn.state.is_awaiting());
    assert_eq!(
        turn.output,
        Output::Screen {
            text: format!("Enter PIN to see your balance{NAV}"),
            end: false
        }
    );
}

#[test]
fn effects_per_hop_are_bounded() {
    let s = en();
    let mut st = state(&s);
    st.effects_this_hop = config().effects_per_hop_max;
    let turn = handle(st.clone(), Event::Input("7".to_owned()), &config());
    // A new input starts a new hop's budget.
    assert!(matches!(turn.output, Output::Effect(Effect::ListApprovals)));
    st.step = Step::BalancePin;
    st.awaiting = Some(super::super::state::Wait::Balance);
    let turn = handle(
        st,
        Event::Result(EffectResult::WrongPin { attempts_left: 1 }),
        &config(),
    );
    assert!(matches!(turn.output, Output::Screen { end: false, .. }));
    let mut st = turn.state;
    st.effects_this_hop = config().effects_per_hop_max;
    st.step = Step::Main;
    st.awaiting = Some(super::super::state::Wait::ApprovalList);
    let turn = handle(
        st,
        Event::Result(EffectResult::Approvals(Vec::new())),
        &config(),
    );
    assert!(matches!(turn.output, Output::Screen { end: false, .. }));
}

#[test]
fn bad_session_keys_and_bad_state_are_refused() {
    for key in ["", "has space", &"k".repeat(SESSION_KEY_LEN_MAX + 1)] {
        let turn = start(key, OPENED, &registered(Language::En), &config());
        assert!(
            matches!(turn.output, Output::Screen { end: true, .. }),
            "{key:?}"
        );
    }
    assert!(SessionState::from_json("{").is_err());
    assert!(SessionState::from_json("null").is_err());
    let s = en();
    let json = s.stored.replacen("\"v\":1", "\"v\":2", 1);
    assert_eq!(SessionState::from_json(&json), Err(StateError::Version(2)));
}

#[test]
fn stored_state_never_holds_a_pin_in_use() {
    let mut s = en();
    for input in ["1", "0712345678", "100", "1111", PIN] {
        s.send(input);
        assert!(
            !s.stored.contains(PIN) && !s.stored.contains("1111"),
            "{}",
            s.stored
        );
    }
    // While a new PIN is chosen, it is held, and not printed in debug output.
    let mut s = en();
    s.run(&["8", "2", "1357"]);
    assert!(s.stored.contains("1357"));
    assert!(!format!("{:?}", state(&s)).contains("1357"));
    s.run(&["1357", PIN]);
    assert!(s.ended);
}
