//! The hop budgets, counted (dialling is hop 1), and every journey in every language.

use super::*;

fn en() -> Session {
    Session::dial(&registered(Language::En), config(), World::typical())
}

#[test]
fn send_money_takes_five_hops() {
    let mut s = en();
    s.run(&["1", "0712345678", "100", PIN]);
    assert!(s.ended);
    assert!(s.screen.starts_with("Sent KES 100.00 to JOHN D***"));
    assert_eq!(s.hops, 5);
}

#[test]
fn airtime_for_oneself_takes_four_hops() {
    let mut s = en();
    s.run(&["3", "50", PIN]);
    assert!(s.ended);
    assert!(s
        .screen
        .starts_with("Bought KES 50.00 airtime for your phone"));
    assert_eq!(s.hops, 4);
}

#[test]
fn balance_takes_three_hops() {
    let mut s = en();
    s.run(&["6", PIN]);
    assert!(s.ended);
    assert_eq!(s.screen, "Your balance is KES 893.00.");
    assert_eq!(s.hops, 3);
}

#[test]
fn the_budgets_hold_in_every_language() {
    for lang in Language::ALL {
        for (inputs, hops) in [
            (&["1", "0712345678", "100", PIN][..], 5),
            (&["3", "50", PIN][..], 4),
            (&["6", PIN][..], 3),
        ] {
            let mut s = Session::dial(&registered(lang), config(), World::typical());
            s.run(inputs);
            assert!(s.ended, "{lang:?} {inputs:?}: {}", s.screen);
            assert_eq!(s.hops, hops);
            assert!(matches!(
                s.world.log.last(),
                Some(Effect::Execute { .. } | Effect::Balance { .. })
            ));
        }
    }
}

/// Every journey, in every language: it ends where English ends, every screen within bounds.
#[test]
fn every_journey_in_every_language() {
    for script in super::screens::scripts() {
        let mut ends = Vec::new();
        for lang in Language::ALL {
            let mut s = script.session(lang, World::typical());
            s.run(&script.inputs);
            assert!(
                s.ended || !script.ends,
                "{} in {lang:?} did not end: {}",
                script.name,
                s.screen
            );
            ends.push((s.ended, s.world.log.len()));
        }
        assert!(
            ends.windows(2).all(|w| w[0] == w[1]),
            "{}: {ends:?}",
            script.name
        );
    }
}
