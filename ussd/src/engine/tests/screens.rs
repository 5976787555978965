//! The screen bound, proven by property: every screen of every journey, in every language, with
//! the longest data the server may pass (and longer: the engine must cut it), in any currency,
//! with every hint and every refusal, stays GSM-7 and within 182 septets with its prefix.
//! `Session` checks each screen as it passes (see `check_screen`).

use proptest::prelude::*;

use super::*;

#[derive(Clone)]
pub(crate) enum Who {
    Registered,
    Unregistered,
    MustChangePin,
}

/// A journey as the inputs a customer types after dialling.
pub(crate) struct Script {
    pub name: &'static str,
    pub who: Who,
    pub till: bool,
    pub inputs: Vec<&'static str>,
    /// Ends with the typical world.
    pub ends: bool,
}

impl Script {
    pub fn session(&self, lang: Language, world: World) -> Session {
        self.session_with(lang, world, config())
    }

    pub fn session_with(&self, lang: Language, world: World, mut cfg: EngineConfig) -> Session {
        cfg.withdraw_asks_till = self.till;
        cfg.default_language = lang;
        let profile = match self.who {
            Who::Registered => registered(lang),
            Who::Unregistered => Profile::Unregistered,
            Who::MustChangePin => Profile::Registered {
                name: "Amina Njeri".to_owned(),
                language: lang,
                pin_locked: false,
                must_change_pin: true,
            },
        };
        Session::dial(&profile, cfg, world)
    }
}

pub(crate) fn scripts() -> Vec<Script> {
    let s = |name, inputs: &[&'static str]| Script {
        name,
        who: Who::Registered,
        till: false,
        inputs: inputs.to_vec(),
        ends: true,
    };
    vec![
        s("send", &["1", "0712345678", "100", PIN]),
        s("withdraw", &["2", "AG101", "500", PIN]),
        Script {
            till: true,
            ..s("withdraw at a store", &["2", "AG101", "7", "500", PIN])
        },
        s("airtime for me", &["3", "50", PIN]),
        s("airtime for another", &["4", "1", "0712345678", "50", PIN]),
        s("data bundle", &["4", "2", "1", PIN]),
        s("digital item", &["4", "3", "2", "98", "1", PIN]),
        s("pay merchant", &["5", "M001", "100", PIN]),
        s("balance", &["6", PIN]),
        s("approve", &["7", "1", "1", PIN]),
        s("decline", &["7", "2", "2", PIN]),
        Script {
            ends: false,
            ..s("statement", &["8", "1", PIN, "98"])
        },
        s("change PIN", &["8", "2", "1357", "1357", PIN]),
        s("language", &["8", "3", "3"]),
        s("limits", &["8", "4", PIN]),
        s("cancel last send", &["8", "5", PIN]),
        s("reverse a send", &["8", "6", "1", PIN]),
        Script {
            who: Who::Unregistered,
            ..s("register", &["3", "Amina Njeri", "1357", "1357", "1"])
        },
        Script {
            who: Who::MustChangePin,
            ..s("forced PIN change", &["1357", "1357", PIN, "6", "1357"])
        },
    ]
}

/// Inputs tried at every point of every journey, each from a copy of the session: wrong in
/// every way a customer can be, plus navigation.
const DETOURS: [&str; 9] = ["x", "5555", "12", "98", "0", "00", "9", "", "0799999999"];

/// Characters for generated names: plain, GSM-7 extension (two septets each), accented
/// letters to transliterate, and things to drop.
const NAME_CHARS: &[char] = &[
    'A', 'M', 'W', 'z', ' ', '€', '{', '|', 'é', 'ê', 'Ç', 'ç', 'ñ', 'Ω', '😀', '\n', '…', '-',
];

fn text(min: usize, max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(NAME_CHARS), min..=max)
        .prop_map(|chars| chars.into_iter().collect())
}

fn money() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(bounds::MONEY_MINOR_MAX),
        Just(1_i64),
        1..=bounds::MONEY_MINOR_MAX,
    ]
}

prop_compose! {
    /// The largest data the server may send, and more.
    fn big_world()(
        currency in prop::sample::select(&Currency::ALL[..]),
        names in prop::collection::vec(prop_oneof![3 => text(20, 60), 1 => "[A-Z]{30,40}"], 8),
        amounts in prop::collection::vec(money(), 6),
        code in "[A-Z2-9]{10,16}",
        date in "[0-9/]{5,8}",
        attempts_left in 0_u32..200,
        statement_len in 0_usize..14,
        products_len in 0_usize..12,
    ) -> World {
        let m = |i: usize| Money::from_minor(amounts[i % amounts.len()], currency);
        let name = |i: usize| names[i % names.len()].clone();
        let mut world = World::typical();
        world.currency = currency;
        world.attempts_left = attempts_left;
        world.recipient_name = name(0);
        world.agent_name = name(1);
        world.merchant_name = name(2);
        world.fee = m(0);
        world.balance = m(1);
        world.code = code.clone();
        world.products = (0..products_len)
            .map(|i| Product { id: format!("p{i}"), name: name(i + 3), price: m(i) })
            .collect();
        for (i, a) in world.approvals.iter_mut().enumerate() {
            a.counterparty = name(i + 4);
            a.amount = m(i + 2);
            a.fee = m(i + 3);
        }
        world.statement = (0..statement_len)
            .map(|i| StatementEntry {
                date: date.clone(),
                kind: TxnKind::ALL[i % TxnKind::ALL.len()],
                incoming: i % 2 == 0,
                amount: m(i),
                counterparty: name(i),
            })
            .collect();
        world.recent = (0..6)
            .map(|i| SentItem { code: code.chars().take(12).collect(), to_label: name(i), amount: m(i), date: date.clone() })
            .collect();
        world.limits = LimitsInfo {
            tier: Tier::Tier2,
            per_transaction: m(0),
            daily: m(1),
            daily_left: m(2),
            balance_max: m(3),
        };
        world
    }
}

/// The amount a customer would type for the largest amount in `currency`.
fn max_amount_text(currency: Currency) -> &'static str {
    if currency.scale() == 0 {
        "99999999999"
    } else {
        "999999999.99"
    }
}

fn long_config(currency: Currency) -> EngineConfig {
    let mut cfg = EngineConfig::new(currency);
    cfg.terms = "x".repeat(bounds::TERMS_LEN_MAX);
    cfg.cancel_window_seconds = 3_600;
    cfg
}

/// Runs `script` in `lang`, trying every detour at every point.
fn walk(script: &Script, lang: Language, world: &World) {
    let cfg = long_config(world.currency);
    let mut s = script.session_with(lang, world.clone(), cfg);
    for input in &script.inputs {
        for detour in DETOURS {
            let mut copy = s.clone();
            copy.send(detour);
            copy.send(detour);
        }
        let input = match *input {
            "100" | "500" | "50" => max_amount_text(world.currency),
            other => other,
        };
        s.send(input);
        if s.ended {
            break;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn every_screen_fits_with_the_longest_data(world in big_world()) {
        for script in scripts() {
            for lang in Language::ALL {
                walk(&script, lang, &world);
            }
        }
    }

    #[test]
    fn every_refusal_fits(world in big_world(), lang in prop::sample::select(&Language::ALL[..])) {
        let send = &scripts()[0];
        let amount = max_amount_text(world.currency);
        for r in Rejection::ALL {
            let mut w = world.clone();
            w.quote_rejection = Some(*r);
            let mut s = send.session_with(lang, w.clone(), long_config(w.currency));
            s.run(&["1", "0712345678", amount]);
            w.quote_rejection = None;
            w.execute_rejection = Some(*r);
            let mut s = send.session_with(lang, w.clone(), long_config(w.currency));
            s.run(&["1", "0712345678", amount, PIN]);
            prop_assert!(s.ended);
        }
    }
}

/// Whatever a customer may type, including gateway oddities.
const POOL: &[&str] = &[
    "1",
    "2",
    "3",
    "4",
    "5",
    "6",
    "7",
    "8",
    "9",
    "0",
    "00",
    "98",
    PIN,
    "1357",
    "0712345678",
    "0700000000",
    "AG101",
    "AG404",
    "M001",
    "M404",
    "ACC-1",
    "100",
    "0.01",
    "12.505",
    "abc",
    "",
    "*",
    "1*2",
    "Amina Njeri",
    "\u{1F600}",
    "\n\n",
    "99999999999999999999999999999999999",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Random customers against a server that sometimes answers nonsense: the rules hold and
    /// nothing panics.
    #[test]
    fn random_walks_keep_the_rules(
        mut world in big_world(),
        lang in prop::sample::select(&Language::ALL[..]),
        who in 0_usize..3,
        inputs in prop::collection::vec(prop::sample::select(POOL), 1..30),
        chaos in prop::collection::vec(any::<u8>(), 0..30),
        needs_reference in any::<bool>(),
    ) {
        world.chaos = chaos;
        world.needs_reference = needs_reference;
        let script = Script {
            name: "random",
            who: [Who::Registered, Who::Unregistered, Who::MustChangePin][who].clone(),
            till: who == 1,
            inputs: Vec::new(),
            ends: false,
        };
        let mut s = script.session_with(lang, world.clone(), long_config(world.currency));
        for input in inputs {
            s.send(input);
        }
    }
}
