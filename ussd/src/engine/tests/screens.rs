//! The screen bound, proven by property: every screen of every journey, in every language, with
//! the longest data the server may pass (and longer: the engine must cut it), in any currency,
//! with every hint and every refusal, stays GSM-7 and within 182 septets with its prefix.
//! `Session` checks each screen as it passes (see `check_screen`).

use proptest::prelude::*;

use super::worlds::{big_world, worst_world};
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
    /// The merchant wants an account number.
    pub reference: bool,
    pub inputs: Vec<&'static str>,
    /// Ends with the typical world.
    pub ends: bool,
}

impl Script {
    pub fn session(&self, lang: Language, world: World) -> Session {
        self.session_with(lang, world, config())
    }

    pub fn session_with(&self, lang: Language, mut world: World, mut cfg: EngineConfig) -> Session {
        cfg.withdraw_asks_till = self.till;
        world.needs_reference |= self.reference;
        cfg.default_language = lang;
        let profile = match self.who {
            Who::Registered => Profile::Registered {
                name: world.customer_name.clone(),
                language: lang,
                pin_locked: false,
                must_change_pin: false,
            },
            Who::Unregistered => Profile::Unregistered,
            Who::MustChangePin => Profile::Registered {
                name: world.customer_name.clone(),
                language: lang,
                pin_locked: false,
                must_change_pin: true,
            },
        };
        Session::dial(&profile, cfg, world)
    }
}

/// The approval scripts (`7` first) the worst case walks once for each kind of request: a
/// worst-case request fills a page alone, so the scripts only ever open the first.
pub(crate) fn approval_scripts() -> Vec<Script> {
    scripts()
        .into_iter()
        .filter(|s| s.inputs.first() == Some(&"7"))
        .map(|s| Script {
            inputs: s
                .inputs
                .iter()
                .enumerate()
                .map(|(i, input)| if i == 1 { "1" } else { *input })
                .collect(),
            ..s
        })
        .collect()
}

pub(crate) fn scripts() -> Vec<Script> {
    let s = |name, inputs: &[&'static str]| Script {
        name,
        who: Who::Registered,
        till: false,
        reference: false,
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
        Script {
            reference: true,
            ..s(
                "pay for an account",
                &["5", "M002", "ACC/2024-0000001", "100", PIN],
            )
        },
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
        s(
            "allow a merchant's allowance request",
            &["7", "3", "1", PIN],
        ),
        s("decline an allowance request", &["7", "3", "2", PIN]),
        s("revoke an allowance", &["8", "7", "1", "1", "1", "1"]),
        Script {
            ends: false,
            ..s("keep an allowance", &["8", "7", "1", "2", "1", "2"])
        },
        s(
            "new allowance",
            &["8", "7", "2", "M001", "100", "50", "30", PIN],
        ),
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
const DETOURS: [&str; 12] = [
    "x",
    "5555",
    "12",
    "98",
    "0",
    "00",
    "9",
    "",
    "0799999999",
    "0700000000",
    "AG404",
    "M404",
];

/// The amount a customer would type for the largest amount in `currency`.
pub(super) fn max_amount_text(currency: Currency) -> &'static str {
    if currency.scale() == 0 {
        "99999999999"
    } else {
        "999999999.99"
    }
}

pub(super) fn long_config(currency: Currency) -> EngineConfig {
    let mut cfg = EngineConfig::new(currency);
    cfg.terms = "x".repeat(bounds::TERMS_LEN_MAX);
    cfg.cancel_window_seconds = 3_600;
    cfg
}

/// A name at the registration bound.
const LONGEST_NAME: &str = "Wanjiru Wambui Wairimu Njeriii";

/// Runs `script` in `lang`, trying every detour at every point.
pub(super) fn walk(script: &Script, lang: Language, world: &World) {
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
            "Amina Njeri" => LONGEST_NAME,
            other => other,
        };
        s.send(input);
        if s.ended {
            break;
        }
    }
}

#[test]
fn every_screen_fits_in_the_worst_case() {
    for currency in Currency::ALL {
        let world = worst_world(currency);
        for script in scripts() {
            for lang in Language::ALL {
                walk(&script, lang, &world);
            }
        }
    }
}

/// Each kind of request alone at the top of the list, so that every kind's screens are walked
/// with the worst data.
#[test]
fn every_kind_of_request_fits_in_the_worst_case() {
    for currency in Currency::ALL {
        for (i, kind) in [
            ApprovalKind::Withdrawal,
            ApprovalKind::MerchantPayment,
            ApprovalKind::Allowance,
        ]
        .into_iter()
        .enumerate()
        {
            let mut world = worst_world(currency);
            world.approvals = vec![super::worlds::worst_approval(i, kind, currency)];
            for script in approval_scripts() {
                for lang in Language::ALL {
                    walk(&script, lang, &world);
                }
            }
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
            reference: false,
            inputs: Vec::new(),
            ends: false,
        };
        let mut s = script.session_with(lang, world.clone(), long_config(world.currency));
        for input in inputs {
            s.send(input);
        }
    }
}
