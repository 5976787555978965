//! A fake server for the engine: it answers effects from a [`World`] of test data, stores the
//! state as JSON between hops like the real one, and checks every screen it sees.

mod account;
mod allowances;
mod approvals;
mod dialled;
mod hops;
mod journeys;
mod navigation;
mod screens;
mod worlds;

use mkoba_ledger::{Currency, Money, Rejection, Tier, TxnKind};

use super::*;
use crate::gsm::{gsm7_len, SCREEN_MAX};

pub(crate) const PIN: &str = "4821";

/// Everything the fake server knows and answers with.
#[derive(Clone, Debug)]
pub(crate) struct World {
    pub currency: Currency,
    pub pin: String,
    pub attempts_left: u32,
    /// The calling customer's name, as the server passes it in `Profile`.
    pub customer_name: String,
    pub recipient_name: String,
    pub agent_name: String,
    pub merchant_name: String,
    pub needs_reference: bool,
    pub fee: Money,
    pub balance: Money,
    pub code: String,
    pub products: Vec<Product>,
    pub approvals: Vec<ApprovalRequest>,
    /// Active allowances; a revoked one leaves the list.
    pub allowances: Vec<AllowanceItem>,
    /// The `until` date the server gives a newly granted allowance.
    pub until: String,
    pub statement: Vec<StatementEntry>,
    pub recent: Vec<SentItem>,
    pub limits: LimitsInfo,
    /// Quote and Execute answers forced to a refusal.
    pub quote_rejection: Option<Rejection>,
    pub execute_rejection: Option<Rejection>,
    /// The server is down: every effect is answered `Unavailable`.
    pub down: bool,
    /// Every effect asked for, in order.
    pub log: Vec<Effect>,
    /// Each byte decides one answer: a multiple of three replaces it with nonsense.
    pub chaos: Vec<u8>,
}

pub(crate) fn kes(minor: i64) -> Money {
    Money::from_minor(minor, Currency::KES)
}

impl World {
    /// Ordinary data, for exact screen tests.
    pub fn typical() -> World {
        let product = |id: &str, name: &str, minor| Product {
            id: id.to_owned(),
            name: name.to_owned(),
            price: kes(minor),
        };
        World {
            currency: Currency::KES,
            pin: PIN.to_owned(),
            attempts_left: 2,
            customer_name: "Amina Njeri".to_owned(),
            recipient_name: "JOHN D***".to_owned(),
            agent_name: "Mama Mboga Shop".to_owned(),
            merchant_name: "Safari Airtime & Data".to_owned(),
            needs_reference: false,
            fee: kes(700),
            balance: kes(89_300),
            code: "QK7ZD3MPWA".to_owned(),
            products: vec![
                product("p1", "Habari Daily", 1),
                product("p2", "Suzanna (song)", 2_000),
                product("p3", "Bao game", 5_000),
                product("p4", "1GB daily", 5_000),
                product("p5", "5GB weekly", 25_000),
                product("p6", "Office suite", 150_000),
                product("p7", "Kamusi", 10_000),
            ],
            approvals: vec![
                ApprovalRequest {
                    id: "a1".to_owned(),
                    kind: ApprovalKind::Withdrawal,
                    counterparty: "Kona Kiosk".to_owned(),
                    amount: kes(50_000),
                    fee: kes(2_900),
                    per_charge_max: None,
                    until: None,
                    description: None,
                },
                ApprovalRequest {
                    id: "a2".to_owned(),
                    kind: ApprovalKind::MerchantPayment,
                    counterparty: "Habari Daily News".to_owned(),
                    amount: kes(1_000),
                    fee: kes(0),
                    per_charge_max: None,
                    until: None,
                    description: Some("September issue".to_owned()),
                },
                ApprovalRequest {
                    id: "a3".to_owned(),
                    kind: ApprovalKind::Allowance,
                    counterparty: "News Co".to_owned(),
                    amount: kes(5_000),
                    fee: kes(0),
                    per_charge_max: Some(kes(500)),
                    until: Some("17/10".to_owned()),
                    description: None,
                },
            ],
            allowances: vec![
                AllowanceItem {
                    id: "al1".to_owned(),
                    merchant: "Habari Daily News".to_owned(),
                    cap: kes(5_000),
                    spent: kes(1_250),
                    per_charge_max: kes(500),
                    until: "17/10".to_owned(),
                },
                AllowanceItem {
                    id: "al2".to_owned(),
                    merchant: "Bao Games".to_owned(),
                    cap: kes(20_000),
                    spent: kes(0),
                    per_charge_max: kes(2_000),
                    until: "30/09".to_owned(),
                },
            ],
            until: "16/10".to_owned(),
            statement: (0..5)
                .map(|i| StatementEntry {
                    date: format!("1{i}/09"),
                    kind: if i % 2 == 0 {
                        TxnKind::Transfer
                    } else {
                        TxnKind::Deposit
                    },
                    incoming: i % 2 == 1,
                    amount: kes(10_000 * (i + 1)),
                    counterparty: "BRIAN O".to_owned(),
                })
                .collect(),
            recent: vec![SentItem {
                code: "QK7ZD3MPWA".to_owned(),
                to_label: "JOHN D***".to_owned(),
                amount: kes(10_000),
                date: "17/09".to_owned(),
            }],
            limits: LimitsInfo {
                tier: Tier::Tier0,
                per_transaction: kes(15_000_000),
                daily: kes(30_000_000),
                daily_left: kes(29_990_000),
                balance_max: kes(30_000_000),
            },
            quote_rejection: None,
            execute_rejection: None,
            down: false,
            log: Vec::new(),
            chaos: Vec::new(),
        }
    }

    fn receipt(&self, amount: Money) -> EffectResult {
        EffectResult::Done(Receipt {
            code: self.code.clone(),
            amount,
            fee: self.fee,
            new_balance: Some(self.balance),
        })
    }

    fn pin_check(&self, pin: &str) -> Option<EffectResult> {
        if pin == self.pin {
            None
        } else if self.attempts_left == 0 {
            Some(EffectResult::PinLocked)
        } else {
            Some(EffectResult::WrongPin {
                attempts_left: self.attempts_left,
            })
        }
    }

    pub fn answer(&mut self, effect: &Effect) -> EffectResult {
        self.log.push(effect.clone());
        if self.down {
            return EffectResult::Unavailable;
        }
        if !self.chaos.is_empty() {
            let byte = self.chaos.remove(0);
            if byte % 3 == 0 {
                return self.nonsense(byte);
            }
        }
        self.sensible(effect)
    }

    /// Any answer at all, right or wrong for the effect.
    fn nonsense(&self, byte: u8) -> EffectResult {
        let n = usize::from(byte / 3);
        let answers = [
            EffectResult::Unavailable,
            EffectResult::WrongPin {
                attempts_left: u32::from(byte),
            },
            EffectResult::PinLocked,
            EffectResult::Rejected(Rejection::ALL[n % Rejection::ALL.len()]),
            EffectResult::Registered,
            EffectResult::AlreadyRegistered,
            EffectResult::LanguageSet,
            EffectResult::PinChanged,
            EffectResult::RecipientUnknown,
            EffectResult::InvalidNumber,
            EffectResult::AgentUnknown,
            EffectResult::MerchantUnknown,
            EffectResult::Products {
                items: Vec::new(),
                more: true,
            },
            EffectResult::Approvals(Vec::new()),
            EffectResult::Statement(Vec::new()),
            EffectResult::RecentSends(Vec::new()),
            EffectResult::Allowances(Vec::new()),
            EffectResult::AllowanceRevoked,
            EffectResult::AllowanceGranted {
                merchant: self.merchant_name.clone(),
                cap: self.balance,
                until: self.until.clone(),
            },
            self.receipt(self.balance),
            EffectResult::Balance {
                available: self.balance,
            },
        ];
        answers[n % answers.len()].clone()
    }

    fn sensible(&mut self, effect: &Effect) -> EffectResult {
        match effect {
            Effect::LookupRecipient { msisdn_text } => match msisdn_text.as_str() {
                "0700000000" => EffectResult::RecipientUnknown,
                "0799999999" => EffectResult::InvalidNumber,
                _ => EffectResult::Recipient {
                    masked_name: self.recipient_name.clone(),
                },
            },
            Effect::LookupAgent { agent_code, .. } if agent_code == "AG404" => {
                EffectResult::AgentUnknown
            }
            Effect::LookupAgent { .. } => EffectResult::Agent {
                name: self.agent_name.clone(),
            },
            Effect::LookupMerchant { code } if code == "M404" => EffectResult::MerchantUnknown,
            Effect::LookupMerchant { .. } => EffectResult::Merchant {
                name: self.merchant_name.clone(),
                needs_reference: self.needs_reference,
            },
            Effect::Quote {
                amount_text,
                counterparty,
                ..
            } => {
                if let Some(r) = self.quote_rejection {
                    return EffectResult::Rejected(r);
                }
                match Money::parse(amount_text, self.currency, bounds::MONEY_MINOR_MAX) {
                    Ok(amount) => EffectResult::Quote(Quote {
                        amount,
                        fee: self.fee,
                        total: amount.checked_add(self.fee).unwrap_or(amount),
                        counterparty_label: match counterparty {
                            Counterparty::Person { .. } => self.recipient_name.clone(),
                            Counterparty::Agent { .. } => self.agent_name.clone(),
                            Counterparty::Merchant { .. } => self.merchant_name.clone(),
                            Counterparty::Airtime { msisdn_text } => {
                                msisdn_text.clone().unwrap_or_default()
                            }
                        },
                    }),
                    Err(e) => EffectResult::Rejected(e.into()),
                }
            }
            Effect::ListCatalog { offset, limit, .. } => {
                let start = (*offset as usize).min(self.products.len());
                let end = (start + *limit as usize).min(self.products.len());
                EffectResult::Products {
                    items: self.products[start..end].to_vec(),
                    more: end < self.products.len(),
                }
            }
            Effect::ListApprovals => EffectResult::Approvals(self.approvals.clone()),
            Effect::ListRecentSends => EffectResult::RecentSends(self.recent.clone()),
            Effect::Register { .. } => EffectResult::Registered,
            Effect::Execute { action, pin, .. } => {
                if let Some(failure) = self.pin_check(pin.expose()) {
                    return failure;
                }
                if let Some(r) = self.execute_rejection {
                    return EffectResult::Rejected(r);
                }
                if let MoneyAction::Approve { request_id } = action {
                    let request = self.approvals.iter().find(|a| &a.id == request_id);
                    if let Some(a) = request.filter(|a| a.kind == ApprovalKind::Allowance) {
                        return EffectResult::AllowanceGranted {
                            merchant: a.counterparty.clone(),
                            cap: a.amount,
                            until: a.until.clone().unwrap_or_default(),
                        };
                    }
                }
                let amount = match action {
                    MoneyAction::Send { amount, .. }
                    | MoneyAction::Withdraw { amount, .. }
                    | MoneyAction::BuyAirtime { amount, .. }
                    | MoneyAction::PayMerchant { amount, .. } => *amount,
                    MoneyAction::BuyProduct { price, .. } => *price,
                    _ => kes(10_000),
                };
                self.receipt(amount)
            }
            Effect::Balance { pin } => {
                self.pin_check(pin.expose())
                    .unwrap_or(EffectResult::Balance {
                        available: self.balance,
                    })
            }
            Effect::MiniStatement { pin } => self
                .pin_check(pin.expose())
                .unwrap_or(EffectResult::Statement(self.statement.clone())),
            Effect::Limits { pin } => self
                .pin_check(pin.expose())
                .unwrap_or(EffectResult::Limits(self.limits.clone())),
            Effect::ChangePin { old, new } => match self.pin_check(old.expose()) {
                Some(failure) => failure,
                None => {
                    self.pin = new.expose().to_owned();
                    EffectResult::PinChanged
                }
            },
            Effect::SetLanguage { .. } => EffectResult::LanguageSet,
            Effect::ListAllowances => EffectResult::Allowances(self.allowances.clone()),
            Effect::RevokeAllowance { id } => {
                let before = self.allowances.len();
                self.allowances.retain(|a| &a.id != id);
                if self.allowances.len() < before {
                    EffectResult::AllowanceRevoked
                } else {
                    EffectResult::Rejected(Rejection::AllowanceNotFound)
                }
            }
            Effect::GrantAllowance { cap, pin, .. } => {
                if let Some(failure) = self.pin_check(pin.expose()) {
                    return failure;
                }
                if let Some(r) = self.execute_rejection {
                    return EffectResult::Rejected(r);
                }
                EffectResult::AllowanceGranted {
                    merchant: self.merchant_name.clone(),
                    cap: *cap,
                    until: self.until.clone(),
                }
            }
        }
    }
}

pub(crate) fn registered(language: Language) -> Profile {
    Profile::Registered {
        name: "Amina Njeri".to_owned(),
        language,
        pin_locked: false,
        must_change_pin: false,
    }
}

pub(crate) fn config() -> EngineConfig {
    EngineConfig::new(Currency::KES)
}

/// The server's clock when the test sessions open (seconds): every step key carries it.
pub(crate) const OPENED: u64 = 0x6a1b_2c3d;

/// One USSD session against the fake server. Every screen is checked against the limit and the
/// alphabet, and no screen may have been cut by the last guard.
#[derive(Clone)]
pub(crate) struct Session {
    pub cfg: EngineConfig,
    pub world: World,
    /// The stored state as JSON, as the server keeps it.
    pub stored: String,
    pub screen: String,
    pub ended: bool,
    pub hops: usize,
}

impl Session {
    /// Dials: hop 1.
    pub fn dial(profile: &Profile, cfg: EngineConfig, world: World) -> Session {
        let turn = start("africastalking:ATUid_test", OPENED, profile, &cfg);
        let mut session = Session {
            cfg,
            world,
            stored: String::new(),
            screen: String::new(),
            ended: false,
            hops: 1,
        };
        session.finish(turn);
        session
    }

    /// One hop: the input, then as many effect round-trips as the engine asks for.
    pub fn send(&mut self, input: &str) -> &str {
        let state = SessionState::from_json(&self.stored).expect("stored state reads back");
        self.hops += 1;
        // Every input that reaches a PIN check must have been typed on a screen that says it
        // takes a PIN: `dialled` relies on that to keep PINs out of dial strings.
        let takes_pin = super::journey::asks_for_pin(&state.step);
        let logged = self.world.log.len();
        let turn = handle(state, Event::Input(input.to_owned()), &self.cfg);
        self.finish(turn);
        let checked = self.world.log[logged..]
            .iter()
            .flat_map(pins_in)
            .any(|p| p == input);
        assert!(
            !checked || takes_pin,
            "input {input:?} reached a PIN check from a screen not marked as taking a PIN"
        );
        &self.screen
    }

    /// Dials with inputs in the dial string (`*384*44135*5*M001*100#`): hop 1 only.
    pub fn dial_with(
        profile: &Profile,
        cfg: EngineConfig,
        world: World,
        inputs: &[&str],
    ) -> Session {
        let mut session = Session::dial(profile, cfg, world);
        for input in inputs {
            let state = SessionState::from_json(&session.stored).expect("stored state reads back");
            match dialled(state, input, &session.cfg) {
                Dialled::Fed(turn) => session.finish(turn),
                Dialled::Stop(_) => break,
            }
        }
        session
    }

    /// Runs a whole script of inputs, returning the last screen.
    pub fn run(&mut self, inputs: &[&str]) -> &str {
        for input in inputs {
            self.send(input);
        }
        &self.screen
    }

    fn finish(&mut self, mut turn: Turn) {
        let mut round_trips = 0;
        loop {
            match turn.output {
                Output::Effect(effect) => {
                    round_trips += 1;
                    assert!(round_trips <= 8, "runaway effects");
                    let answer = self.world.answer(&effect);
                    turn = handle(turn.state, Event::Result(answer), &self.cfg);
                }
                Output::Screen { text, end } => {
                    check_screen(&text);
                    assert!(!turn.state.is_awaiting());
                    self.stored = turn.state.to_json().expect("state stores");
                    self.screen = text;
                    self.ended = end;
                    assert_eq!(end, turn.state.is_ended());
                    return;
                }
            }
        }
    }
}

/// The PINs an effect carries to the server.
pub(crate) fn pins_in(effect: &Effect) -> Vec<&str> {
    match effect {
        Effect::Register { pin, .. }
        | Effect::Execute { pin, .. }
        | Effect::Balance { pin }
        | Effect::MiniStatement { pin }
        | Effect::Limits { pin }
        | Effect::GrantAllowance { pin, .. } => vec![pin.expose()],
        Effect::ChangePin { old, new } => vec![old.expose(), new.expose()],
        Effect::LookupRecipient { .. }
        | Effect::LookupAgent { .. }
        | Effect::LookupMerchant { .. }
        | Effect::Quote { .. }
        | Effect::ListCatalog { .. }
        | Effect::ListApprovals
        | Effect::ListRecentSends
        | Effect::SetLanguage { .. }
        | Effect::ListAllowances
        | Effect::RevokeAllowance { .. } => Vec::new(),
    }
}

/// The screen rules: GSM-7, at most 182 septets with a four-character prefix, never cut.
pub(crate) fn check_screen(text: &str) {
    let len = gsm7_len(text).unwrap_or_else(|| panic!("not GSM-7: {text:?}"));
    assert!(len + 4 <= SCREEN_MAX, "{} septets: {text:?}", len + 4);
    let cut = super::view::overflow::take();
    assert!(cut.is_empty(), "screens were cut: {cut:#?}");
    assert!(!text.trim().is_empty(), "empty screen");
}
