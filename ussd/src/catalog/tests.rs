use std::collections::BTreeSet;

use super::*;
use crate::gsm::gsm7_len;

fn slot_names(template: &str) -> BTreeSet<String> {
    slots_of(template)
        .into_iter()
        .map(|s| match s {
            Ok(slot) => slot.name().to_owned(),
            Err(unknown) => panic!("unknown slot {{{unknown}}} in {template:?}"),
        })
        .collect()
}

#[test]
fn every_text_is_gsm7_and_uses_the_slots_english_uses() {
    for msg in Msg::ALL {
        let english = slot_names(template(Language::En, *msg));
        for lang in Language::ALL {
            let text = template(lang, *msg);
            assert!(!text.trim().is_empty(), "{lang:?} {msg:?} is empty");
            assert!(
                gsm7_len(text).is_some(),
                "{lang:?} {msg:?} is not GSM-7: {text:?}"
            );
            assert_eq!(slot_names(text), english, "{lang:?} {msg:?}");
            assert_eq!(text.trim(), text, "{lang:?} {msg:?} has stray spaces");
        }
    }
}

#[test]
fn every_refusal_has_short_gsm7_words_in_every_language() {
    for r in Rejection::ALL {
        for lang in Language::ALL {
            let text = rejection(lang, *r);
            let len = gsm7_len(text).unwrap_or_else(|| panic!("{lang:?} {r:?}: {text:?}"));
            // Shown above an amount prompt: a short line or two.
            assert!((10..=80).contains(&len), "{lang:?} {r:?}: {len}");
            assert!(slots_of(text).is_empty(), "{lang:?} {r:?}");
        }
    }
}

#[test]
fn navigation_labels_carry_the_digits_to_type() {
    for lang in Language::ALL {
        assert!(template(lang, Msg::NavBack).starts_with("0 "));
        assert!(template(lang, Msg::NavHome).starts_with("00 "));
        assert!(template(lang, Msg::NavMore).starts_with("98 "));
    }
    assert_eq!(template(Language::Sw, Msg::NavBack), "0 Nyuma");
    assert_eq!(template(Language::Sw, Msg::NavHome), "00 Mwanzo");
    assert_eq!(template(Language::Sw, Msg::NavMore), "98 Zaidi");
    assert_eq!(template(Language::Fr, Msg::NavBack), "0 Retour");
    assert_eq!(template(Language::Fr, Msg::NavHome), "00 Accueil");
    assert_eq!(template(Language::Fr, Msg::NavMore), "98 Plus");
}

#[test]
fn the_list_hint_fits_the_room_lists_keep_for_it() {
    for lang in Language::ALL {
        let hint = template(lang, Msg::HintChoice);
        let len = gsm7_len(hint).unwrap_or(usize::MAX) + 1;
        assert!(
            len <= crate::engine::view::LIST_HINT_RESERVE,
            "{lang:?}: {hint:?}"
        );
    }
}

#[test]
fn languages_round_trip_and_name_themselves_in_gsm7() {
    for lang in Language::ALL {
        assert_eq!(Language::from_code(lang.code()), Some(lang));
        assert!(gsm7_len(lang.native_name()).is_some());
        let json = serde_json::to_string(&lang).unwrap();
        assert_eq!(json, format!("\"{}\"", lang.code()));
    }
    assert_eq!(Language::from_code("de"), None);
}

#[test]
fn filling_slots() {
    assert_eq!(
        text(
            Language::En,
            Msg::SendAmount,
            &[(Slot::Name, "JOHN D***"), (Slot::Currency, "KES")]
        ),
        "Send to JOHN D***\nEnter amount (KES)"
    );
    assert_eq!(
        fill("a {name} b {missing} c {", &[(Slot::Name, "N")]),
        "a N b  c {"
    );
    assert_eq!(fill("{amount}{amount}", &[(Slot::Amount, "1")]), "11");
    // A value that looks like a slot is not filled again.
    assert_eq!(
        fill("{name}", &[(Slot::Name, "{fee}"), (Slot::Fee, "x")]),
        "{fee}"
    );
}

#[test]
fn every_transaction_kind_has_a_label() {
    for kind in TxnKind::ALL {
        for lang in Language::ALL {
            assert!(!template(lang, txn_kind(*kind)).is_empty());
        }
    }
}
