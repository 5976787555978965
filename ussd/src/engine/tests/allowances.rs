//! Allowances: approving a merchant's request, listing, revoking and setting one up in My
//! account, with the exact English screens.

use super::journeys::{en, expect, NAV};
use super::screens::{long_config, max_amount_text, walk, Script, Who};
use super::worlds::worst_world;
use super::*;

const MENU: &str = "Allowances\n1 My allowances\n2 New allowance";
const CONFIRM: &str =
    "Allow Safari Airtime & Data\nTotal KES 100.00\nMax KES 20.00 per charge\n30 days\nEnter PIN to confirm";

fn world_with(allowances: Vec<AllowanceItem>) -> World {
    let mut world = World::typical();
    world.allowances = allowances;
    world
}

fn allowance(i: usize) -> AllowanceItem {
    AllowanceItem {
        id: format!("al{i}"),
        merchant: format!("Merchant number {i} of Mombasa"),
        cap: kes(10_000 + i as i64),
        spent: kes(0),
        per_charge_max: kes(1_000),
        until: "17/10".to_owned(),
    }
}

fn grants(s: &Session) -> Vec<&Effect> {
    s.world
        .log
        .iter()
        .filter(|e| matches!(e, Effect::GrantAllowance { .. }))
        .collect()
}

#[test]
fn listing_and_revoking_an_allowance() {
    let mut s = en();
    assert!(s.send("8").contains("\n7 Allowances\n"));
    expect(
        &mut s,
        &[
            ("7", &format!("{MENU}{NAV}")),
            (
                "1",
                &format!(
                    "Your allowances:\n1 Habari Daily News KES 50.00 until 17/10\n\
                     2 Bao Games KES 200.00 until 30/09{NAV}"
                ),
            ),
            (
                "2",
                &format!(
                    "Bao Games\nUsed KES 0.00 of KES 200.00\nMax KES 20.00 per charge\n\
                     Until 30/09\n1 Revoke{NAV}"
                ),
            ),
            (
                "1",
                &format!(
                    "Revoke the allowance for Bao Games? It will not be able to charge you \
                     again.\n1 Revoke\n2 Keep it{NAV}"
                ),
            ),
            ("1", "Revoked. Bao Games can no longer charge you."),
        ],
    );
    assert!(s.ended);
    assert_eq!(
        s.world.log.last(),
        Some(&Effect::RevokeAllowance {
            id: "al2".to_owned()
        })
    );
    assert_eq!(s.world.allowances.len(), 1);
    // No PIN was asked for, and nothing else was.
    assert_eq!(
        s.world.log,
        vec![
            Effect::ListAllowances,
            Effect::RevokeAllowance {
                id: "al2".to_owned()
            }
        ]
    );
}

#[test]
fn keeping_an_allowance_goes_back_to_it() {
    let mut s = en();
    s.run(&["8", "7", "1", "1", "1"]);
    assert!(s
        .screen
        .starts_with("Revoke the allowance for Habari Daily News?"));
    assert_eq!(
        s.send("2"),
        format!(
            "Habari Daily News\nUsed KES 12.50 of KES 50.00\nMax KES 5.00 per charge\n\
             Until 17/10\n1 Revoke{NAV}"
        )
    );
    assert_eq!(
        s.send("3"),
        format!(
            "Invalid choice.\nHabari Daily News\nUsed KES 12.50 of KES 50.00\n\
             Max KES 5.00 per charge\nUntil 17/10\n1 Revoke{NAV}"
        )
    );
    assert!(!s.ended);
    assert!(!s
        .world
        .log
        .iter()
        .any(|e| matches!(e, Effect::RevokeAllowance { .. })));
    assert_eq!(s.world.allowances.len(), 2);
}

#[test]
fn revoking_an_allowance_that_is_gone_says_so() {
    let mut s = en();
    s.run(&["8", "7", "1", "1", "1"]);
    // Expired or revoked elsewhere while the customer was reading.
    s.world.allowances.clear();
    assert_eq!(s.send("1"), "This allowance was not found.");
    assert!(s.ended);
}

#[test]
fn no_allowances_is_a_notice_with_a_way_back() {
    let mut s = Session::dial(&registered(Language::En), config(), world_with(Vec::new()));
    s.run(&["8", "7", "1"]);
    assert_eq!(s.screen, format!("You have no active allowances.{NAV}"));
    assert!(!s.ended);
    assert_eq!(s.send("0"), format!("{MENU}{NAV}"));
    let mut s = Session::dial(&registered(Language::Sw), config(), world_with(Vec::new()));
    s.run(&["8", "7", "1"]);
    assert_eq!(
        s.screen,
        "Huna ruhusa yoyote inayotumika.\n0 Nyuma 00 Mwanzo"
    );
}

#[test]
fn long_allowance_lists_page_and_keep_ten() {
    let world = world_with((0..12).map(allowance).collect());
    let mut s = Session::dial(&registered(Language::En), config(), world);
    s.run(&["8", "7", "1"]);
    assert_eq!(
        s.screen,
        format!(
            "Your allowances:\n1 Merchant number 0 of Mombasa KES 100.00 until 17/10\n\
             2 Merchant number 1 of Mombasa KES 100.01 until 17/10\n98 More{NAV}"
        )
    );
    let mut pages = 1;
    while s.screen.contains("98 More") {
        s.send("98");
        pages += 1;
    }
    assert_eq!(pages, 5);
    assert!(s.screen.contains("Merchant number 9 of Mombasa"));
    assert!(!s.screen.contains("Merchant number 10"));
    // Back to the second page; its first item is the third allowance.
    s.run(&["0", "0", "0"]);
    assert!(s.screen.contains("1 Merchant number 2 of Mombasa"));
    s.run(&["1", "1", "1"]);
    assert_eq!(
        s.world.log.last(),
        Some(&Effect::RevokeAllowance {
            id: "al2".to_owned()
        })
    );
}

#[test]
fn a_new_allowance() {
    let mut s = en();
    s.run(&["8", "7"]);
    expect(
        &mut s,
        &[
            ("2", &format!("Enter merchant code{NAV}")),
            (
                "M001",
                &format!(
                    "Allow Safari Airtime & Data to charge you\nEnter the total limit (KES){NAV}"
                ),
            ),
            ("100", &format!("Enter the most for one charge (KES){NAV}")),
            ("20", &format!("For how many days? Up to 90{NAV}")),
            ("30", &format!("{CONFIRM}{NAV}")),
            (
                PIN,
                "Safari Airtime & Data can now charge you up to KES 100.00 until 16/10. Revoke it \
                 any time in My account.",
            ),
        ],
    );
    assert!(s.ended);
    assert_eq!(
        s.world.log.last(),
        Some(&Effect::GrantAllowance {
            merchant_code: "M001".to_owned(),
            cap: kes(10_000),
            per_charge_max: kes(2_000),
            days: 30,
            pin: Pin::new(PIN),
            step_key: "ussd:6a1b2c3d:africastalking:ATUid_test:0:allowance".to_owned(),
        })
    );
    // The PIN went to the server in the effect and nowhere else.
    assert!(!s.stored.contains(PIN));
    let Some(Effect::GrantAllowance { pin, .. }) = s.world.log.last() else {
        panic!("no grant")
    };
    assert_eq!(format!("{pin:?}"), "Pin(***)");
}

#[test]
fn a_new_allowance_refuses_a_charge_above_the_cap_and_asks_again() {
    let mut s = en();
    s.run(&["8", "7", "2", "M001", "100"]);
    assert_eq!(
        s.send("150"),
        format!(
            "It cannot be more than the total, KES 100.00.\n\
             Enter the most for one charge (KES){NAV}"
        )
    );
    assert_eq!(
        s.send("12.505"),
        format!("Too many decimal places in the amount.\nEnter the most for one charge (KES){NAV}")
    );
    // As much as the cap is fine.
    assert_eq!(s.send("100"), format!("For how many days? Up to 90{NAV}"));
    // The cap itself is checked like any amount.
    let mut s = en();
    s.run(&["8", "7", "2", "M001"]);
    assert!(s.send("0").starts_with("Enter merchant code"), "0 is back");
    s.send("M001");
    assert!(s
        .send("-5")
        .starts_with("The amount cannot be negative.\nAllow Safari"));
    assert!(s
        .send("abc")
        .starts_with("Enter the amount in numbers, e.g. 150 or 150.50.\nAllow Safari"));
    assert!(!s.ended);
    s.send("1.2.3");
    assert!(s.ended, "the third invalid entry ends the session");
    assert!(grants(&s).is_empty());
}

#[test]
fn a_new_allowance_lasts_1_to_90_days() {
    let hint = format!("Enter 1 to 90 days.\nFor how many days? Up to 90{NAV}");
    let mut s = en();
    s.run(&["8", "7", "2", "M001", "100", "20"]);
    assert_eq!(s.send("91"), hint);
    assert_eq!(s.send("x"), hint);
    assert_eq!(
        s.send("90"),
        format!("{}{NAV}", CONFIRM.replace("30 days", "90 days"))
    );
    let mut s = en();
    s.run(&["8", "7", "2", "M001", "100", "20"]);
    assert_eq!(s.send("00000"), hint);
    assert_eq!(
        s.send("1"),
        format!("{}{NAV}", CONFIRM.replace("30 days", "1 days"))
    );
    s.send(PIN);
    assert!(matches!(
        s.world.log.last(),
        Some(Effect::GrantAllowance { days: 1, .. })
    ));
}

#[test]
fn a_new_allowance_wrong_pin_then_right_pin_uses_one_key() {
    let mut s = en();
    s.run(&["8", "7", "2", "M001", "100", "20", "30"]);
    assert_eq!(
        s.send("1111"),
        format!("Wrong PIN. 2 tries left.\n{CONFIRM}{NAV}")
    );
    assert_eq!(
        s.send("12"),
        format!("The PIN must be 4 digits.\n{CONFIRM}{NAV}")
    );
    s.send(PIN);
    assert!(s
        .screen
        .starts_with("Safari Airtime & Data can now charge you"));
    let keys: Vec<&str> = grants(&s)
        .iter()
        .map(|e| match e {
            Effect::GrantAllowance { step_key, .. } => step_key.as_str(),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(keys.len(), 2);
    assert!(keys
        .iter()
        .all(|k| *k == "ussd:6a1b2c3d:africastalking:ATUid_test:0:allowance"));
}

#[test]
fn a_new_allowance_with_a_locked_pin_ends() {
    let mut s = en();
    s.world.attempts_left = 0;
    s.run(&["8", "7", "2", "M001", "100", "20", "30", "1111"]);
    assert_eq!(
        s.screen,
        "Your PIN is locked. Visit an mkoba agent with your ID to reset it."
    );
    assert!(s.ended);
}

#[test]
fn a_new_allowance_for_an_unknown_merchant_asks_again() {
    let mut s = en();
    s.run(&["8", "7", "2"]);
    assert_eq!(
        s.send("M404"),
        format!("Unknown merchant code.\nEnter merchant code{NAV}")
    );
    assert_eq!(
        s.send("M!"),
        format!("Invalid code.\nEnter merchant code{NAV}")
    );
    assert!(s
        .send("M001")
        .starts_with("Allow Safari Airtime & Data to charge you"));
    assert_eq!(
        s.world.log,
        vec![
            Effect::LookupMerchant {
                code: "M404".to_owned()
            },
            Effect::LookupMerchant {
                code: "M001".to_owned()
            }
        ]
    );
}

#[test]
fn a_new_allowance_the_ledger_refuses_is_explained() {
    let mut s = en();
    s.world.execute_rejection = Some(Rejection::AccountFrozen);
    s.run(&["8", "7", "2", "M001", "100", "20", "30", PIN]);
    assert_eq!(
        s.screen,
        "This account is frozen. Please call customer care."
    );
    assert!(s.ended);
}

/// Each effect of the allowance journeys, with the server down when it is asked for.
#[test]
fn the_server_down_at_each_effect() {
    let unavailable = "Service unavailable. Please try again later.";
    let unknown =
        "We could not confirm this allowance. Check My account > Allowances before trying again.";
    for (inputs, screen, effect) in [
        (&["8", "7", "1"][..], unavailable, "ListAllowances"),
        (
            &["8", "7", "1", "1", "1", "1"][..],
            unavailable,
            "RevokeAllowance",
        ),
        (&["8", "7", "2", "M001"][..], unavailable, "LookupMerchant"),
        (
            &["8", "7", "2", "M001", "100", "20", "30", PIN][..],
            unknown,
            "GrantAllowance",
        ),
        (&["7"][..], unavailable, "ListApprovals"),
        (&["7", "3", "1", PIN][..], unknown, "Execute"),
    ] {
        let mut s = en();
        let (last, before) = inputs.split_last().unwrap();
        s.run(before);
        assert!(!s.ended);
        s.world.down = true;
        s.send(last);
        assert_eq!(s.screen, screen, "{inputs:?}");
        assert!(s.ended);
        let asked = format!("{:?}", s.world.log.last().unwrap());
        assert!(asked.starts_with(effect), "{asked}");
    }
}

#[test]
fn every_allowance_hint_fits_in_the_worst_case() {
    for currency in Currency::ALL {
        let world = worst_world(currency);
        let max = max_amount_text(currency);
        let below = if currency.scale() == 0 {
            "99999999998"
        } else {
            "999999999.98"
        };
        for lang in Language::ALL {
            let script = Script {
                name: "per charge above the cap",
                who: Who::Registered,
                till: false,
                reference: false,
                inputs: Vec::new(),
                ends: false,
            };
            let mut s = script.session_with(lang, world.clone(), long_config(currency));
            s.run(&["8", "7", "2", "M001", below, max]);
            let hint = catalog::text(
                lang,
                Msg::HintPerCharge,
                &[(
                    catalog::Slot::Amount,
                    &Money::from_minor(bounds::MONEY_MINOR_MAX - 1, currency).to_string(),
                )],
            );
            assert!(s.screen.starts_with(&hint), "{lang:?}: {}", s.screen);
            // Every wrong PIN and refusal on the confirmation, too.
            s.run(&["1", "90"]);
            assert!(s.screen.contains(
                catalog::text(lang, Msg::AllowConfirm, &[])
                    .lines()
                    .last()
                    .unwrap()
            ));
            let mut wrong = s.clone();
            wrong.run(&["1111", "12"]);
            for r in Rejection::ALL {
                let mut refused = s.clone();
                refused.world.execute_rejection = Some(*r);
                refused.send(PIN);
                assert!(refused.ended);
            }
            // And the list, its pages and each screen of revoking, from the worst list.
            walk(
                &Script {
                    inputs: vec!["8", "7", "1", "98", "1", "1", "2", "1", "1"],
                    ..script
                },
                lang,
                &world,
            );
        }
    }
}
