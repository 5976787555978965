//! What each fuzz target checks, shared by the cargo-fuzz targets (`server/fuzz`) and by the
//! corpus replay that CI runs as a normal test (`tests/fuzz_corpora.rs`). Each function takes
//! arbitrary bytes and asserts the properties that must hold for any input; a panic anywhere
//! below is a finding.

use mkoba_ledger::{Currency, Money, Rejection, Tier, TxnKind};
use mkoba_ussd::catalog::Language;
use mkoba_ussd::dialect::{self, UssdResponse};
use mkoba_ussd::engine::{
    self, AllowanceItem, ApprovalKind, ApprovalRequest, Effect, EffectResult, EngineConfig, Event,
    LimitsInfo, Output, Product, Profile, Quote, Receipt, SentItem, SessionState, StatementEntry,
};
use mkoba_ussd::gsm;

use super::targets::{inbound, phone};

/// The USSD gateway dialects: any body, with or without each content type, parses or is refused;
/// what parses renders, and its inputs are consistent.
pub fn ussd_dialects(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for d in dialect::ALL {
        for content_type in [
            None,
            Some("application/x-www-form-urlencoded"),
            Some("application/json"),
            Some("text/plain; charset=utf-8"),
        ] {
            let response = UssdResponse {
                text: "Welcome".into(),
                end: data.first().is_some_and(|b| b & 1 == 1),
            };
            let fallback = d.render_fallback(&response);
            assert!(!fallback.body.is_empty());
            if let Ok(request) = d.parse(content_type, data) {
                assert!(
                    !request.session_id.is_empty(),
                    "{}: empty session id",
                    d.name()
                );
                assert!(!request.msisdn.is_empty(), "{}: empty msisdn", d.name());
                let rendered = d.render(&request, &response);
                assert!(!rendered.body.is_empty());
                // Any previous path, including a prefix of this one, gives some input.
                let half = text.get(..text.len() / 2).unwrap_or("");
                for previous in [None, Some(""), Some(half), Some(text.as_ref())] {
                    let _ = request.latest_input(previous);
                    let _ = request.repeats(previous);
                }
            }
        }
    }
}

/// One answer the server could give to `effect`, picked by `pick`, with fuzzed text in it.
fn answer(effect: &Effect, pick: u8, text: &str) -> EffectResult {
    let kes = |minor: i64| Money::from_minor(minor, Currency::KES);
    let amount = kes(i64::from(pick) * 137);
    match pick % 4 {
        0 => return EffectResult::Unavailable,
        1 => return EffectResult::Rejected(Rejection::InsufficientFunds),
        _ => {}
    }
    match effect {
        Effect::LookupRecipient { .. } => match pick % 3 {
            0 => EffectResult::RecipientUnknown,
            1 => EffectResult::InvalidNumber,
            _ => EffectResult::Recipient {
                masked_name: text.to_owned(),
            },
        },
        Effect::LookupAgent { .. } => EffectResult::Agent {
            name: text.to_owned(),
        },
        Effect::LookupMerchant { .. } => EffectResult::Merchant {
            name: text.to_owned(),
            needs_reference: pick & 8 == 8,
        },
        Effect::Quote { .. } => EffectResult::Quote(Quote {
            amount,
            fee: kes(7),
            total: amount.checked_add(kes(7)).unwrap_or(amount),
            counterparty_label: text.to_owned(),
        }),
        Effect::ListCatalog { .. } => EffectResult::Products {
            items: (0..pick % 5)
                .map(|i| Product {
                    id: format!("p{i}"),
                    name: text.to_owned(),
                    price: kes(i64::from(i) * 50 + 1),
                })
                .collect(),
            more: pick & 16 == 16,
        },
        Effect::ListApprovals => EffectResult::Approvals(
            (0..pick % 4)
                .map(|i| ApprovalRequest {
                    id: format!("a{i}"),
                    kind: match i % 3 {
                        0 => ApprovalKind::Withdrawal,
                        1 => ApprovalKind::MerchantPayment,
                        _ => ApprovalKind::Allowance,
                    },
                    counterparty: text.to_owned(),
                    amount,
                    fee: kes(0),
                    per_charge_max: (i % 3 == 2).then(|| kes(50)),
                    until: (i % 3 == 2).then(|| "17/10".to_owned()),
                    description: (i % 2 == 0).then(|| text.to_owned()),
                })
                .collect(),
        ),
        Effect::ListRecentSends => EffectResult::RecentSends(
            (0..pick % 4)
                .map(|i| SentItem {
                    code: format!("QK7ZD3MPW{i}"),
                    to_label: text.to_owned(),
                    amount,
                    date: "17/09".into(),
                })
                .collect(),
        ),
        Effect::Register { .. } => EffectResult::Registered,
        Effect::Execute { .. } => match pick % 3 {
            0 => EffectResult::WrongPin { attempts_left: 1 },
            1 => EffectResult::PinLocked,
            _ => EffectResult::Done(Receipt {
                code: "QK7ZD3MPWA".into(),
                amount,
                fee: kes(7),
                new_balance: Some(kes(1_000)),
            }),
        },
        Effect::Balance { .. } => EffectResult::Balance { available: amount },
        Effect::MiniStatement { .. } => EffectResult::Statement(
            (0..pick % 6)
                .map(|i| StatementEntry {
                    date: "17/09".into(),
                    kind: TxnKind::Transfer,
                    incoming: i % 2 == 0,
                    amount,
                    counterparty: text.to_owned(),
                })
                .collect(),
        ),
        Effect::Limits { .. } => EffectResult::Limits(LimitsInfo {
            tier: Tier::Tier1,
            per_transaction: kes(7_000_000),
            daily: kes(15_000_000),
            daily_left: amount,
            balance_max: kes(30_000_000),
        }),
        Effect::ChangePin { .. } => EffectResult::PinChanged,
        Effect::SetLanguage { .. } => EffectResult::LanguageSet,
        Effect::ListAllowances => EffectResult::Allowances(
            (0..pick % 4)
                .map(|i| AllowanceItem {
                    id: format!("al{i}"),
                    merchant: text.to_owned(),
                    cap: kes(5_000),
                    spent: amount,
                    per_charge_max: kes(50),
                    until: "17/10".into(),
                })
                .collect(),
        ),
        Effect::RevokeAllowance { .. } => EffectResult::AllowanceRevoked,
        Effect::GrantAllowance { cap, .. } => EffectResult::AllowanceGranted {
            merchant: text.to_owned(),
            cap: *cap,
            until: "17/10".into(),
        },
    }
}

/// The menu engine: a session driven by fuzzed inputs (lines of the input), with the server's
/// answers also chosen and filled by the input. Every screen is GSM-7 and fits one USSD screen;
/// the state always stores and reads back.
pub fn ussd_engine(data: &[u8]) {
    let Some((&head, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let mut lines = text.split('\n');
    let name = lines.next().unwrap_or("");
    let language = Language::ALL
        .get(usize::from(head % 3))
        .copied()
        .unwrap_or(Language::En);
    let profile = match head % 5 {
        0 => Profile::Unregistered,
        n => Profile::Registered {
            name: name.to_owned(),
            language,
            pin_locked: n == 1,
            must_change_pin: n == 2,
        },
    };
    let cfg = EngineConfig::new(Currency::KES);
    // Any clock reading, the far future included, must still give keys the ledger takes.
    let opened = u64::from(head).wrapping_mul(0x0123_4567_89ab_cdef);
    let mut turn = engine::start("africastalking:ATUid_fuzz", opened, &profile, &cfg);
    let mut picks = rest.iter().copied().cycle().skip(1);
    let mut inputs = 0;
    loop {
        let mut round_trips = 0;
        loop {
            match turn.output {
                Output::Effect(effect) => {
                    if let Effect::Execute { step_key, .. }
                    | Effect::GrantAllowance { step_key, .. } = &effect
                    {
                        assert!(
                            step_key.len() <= engine::STEP_KEY_LEN_MAX,
                            "step key too long: {step_key}"
                        );
                    }
                    round_trips += 1;
                    assert!(round_trips <= 16, "runaway effects");
                    let result = answer(&effect, picks.next().unwrap_or(0), name);
                    turn = engine::handle(turn.state, Event::Result(result), &cfg);
                }
                Output::Screen { text, end } => {
                    let len = gsm::gsm7_len(&text);
                    assert!(len.is_some(), "not GSM-7: {text:?}");
                    assert!(
                        len.unwrap_or(0) + 4 <= gsm::SCREEN_MAX,
                        "too long: {text:?}"
                    );
                    assert_eq!(end, turn.state.is_ended());
                    let json = turn.state.to_json();
                    assert!(json.is_ok(), "state does not store");
                    let back = SessionState::from_json(&json.unwrap_or_default());
                    assert!(
                        back.as_ref().is_ok_and(|s| *s == turn.state),
                        "state round trip"
                    );
                    if end {
                        return;
                    }
                    break;
                }
            }
        }
        let Some(input) = lines.next() else { return };
        inputs += 1;
        if inputs > 64 {
            return;
        }
        turn = engine::handle(turn.state, Event::Input(input.to_owned()), &cfg);
    }
}

/// Stored session states come from the database: any text reads back or is refused.
pub fn ussd_state(data: &[u8]) {
    if let Ok(state) = SessionState::from_json(&String::from_utf8_lossy(data)) {
        let cfg = EngineConfig::new(Currency::KES);
        let turn = engine::handle(state, Event::Input("1".into()), &cfg);
        assert!(turn.state.to_json().is_ok());
    }
}

/// Amounts: any text parses to a positive amount within the maximum in every currency, or is
/// refused by name; what parses prints back to the same amount.
pub fn money_parse(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for currency in Currency::ALL {
        for max in [1, 100, 7_000_000, i64::MAX] {
            match Money::parse(&text, currency, max) {
                Ok(money) => {
                    assert!(
                        money.minor() > 0 && money.minor() <= max,
                        "{text:?} -> {money:?}"
                    );
                    assert_eq!(money.currency(), currency);
                    let printed = money.to_plain_string();
                    let again = Money::parse(&printed, currency, max);
                    assert_eq!(again, Ok(money), "{text:?} printed as {printed:?}");
                    let _ = money.to_grouped_string();
                }
                Err(e) => assert!(!e.to_string().is_empty()),
            }
        }
    }
}

/// Phone numbers: what parses is E.164, parses again to itself, and masks to the same length.
pub fn phone_parse(data: &[u8]) {
    // The first byte picks the market's default country.
    let Some((&head, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let countries = ["KE", "UG", "TZ", "GH", "NG", "RW"];
    let country = countries.get(usize::from(head) % countries.len());
    for country in country.into_iter() {
        let Some(id) = phone::country_id(country) else {
            continue;
        };
        if let Ok(number) = phone::Msisdn::parse(&text, id) {
            let e164 = number.as_str();
            assert!(e164.starts_with('+'), "{text:?} -> {e164}");
            assert!(e164.bytes().skip(1).all(|b| b.is_ascii_digit()), "{e164}");
            // libphonenumber allows national numbers of up to 17 digits.
            assert!(e164.len() <= 1 + 3 + 17, "{e164}");
            assert_eq!(phone::Msisdn::parse(e164, id).as_ref(), Ok(&number));
            let masked = number.masked();
            assert_eq!(masked.chars().count(), e164.chars().count());
            assert_ne!(masked, e164, "masking hides something");
        }
    }
    let _ = phone::mask(&text);
}

/// Inbound SMS: any text is a command; a CHECK code is one upper-cased word with no ASCII
/// punctuation at either end.
pub fn sms_inbound(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (command, _) = inbound::parse(&text);
    if let inbound::Inbound::Check(code) = command {
        assert!(!code.is_empty());
        // Upper-casing may lengthen a character (ß is SS), at most threefold.
        assert!(code.chars().count() <= 3 * inbound::INBOUND_TEXT_MAX);
        assert_eq!(code.to_uppercase(), code, "{text:?}");
        assert!(
            !code.chars().any(char::is_whitespace),
            "{text:?} -> {code:?}"
        );
        for end in [code.chars().next(), code.chars().last()]
            .into_iter()
            .flatten()
        {
            assert!(
                !end.is_ascii() || end.is_ascii_alphanumeric(),
                "{text:?} -> {code:?}"
            );
        }
    }
}
