//! What each SMS says, in English, Swahili and French.
//!
//! Every text stays inside the GSM-7 alphabet (French avoids ç, ê, ô, which would switch the
//! whole message to UCS-2 and cut a segment from 160 characters to 70). Confirmations lead with the
//! transaction code, as customers expect, and carry the amount, the masked counterparty, the fee,
//! the new balance and the local date and time. Optional details (the day's remaining limit) are
//! added only when they still fit one 160-character segment.

use mkoba_ledger::Money;

/// One language list for every channel: the customer's choice drives USSD and SMS alike.
pub use mkoba_ussd::catalog::Language;

/// A money confirmation: who, how much, what it cost, where the balance stands.
#[derive(Clone, Debug)]
pub struct Confirmation {
    pub code: String,
    pub amount: Money,
    pub fee: Money,
    /// Masked registered name (`JOHN D***`) or the agent's or merchant's name.
    pub counterparty: String,
    /// Masked number (`0712***678`); empty for merchants.
    pub counterparty_number: String,
    pub balance: Money,
    /// Local `dd/mm/yy` and `HH:MM`.
    pub date: String,
    pub time: String,
    pub daily_remaining: Option<Money>,
}

/// Every event that sends an SMS.
#[derive(Clone, Debug)]
pub enum Message {
    Sent(Confirmation),
    Received(Confirmation),
    /// To the customer who handed cash to an agent.
    CashIn(Confirmation),
    /// To the agent who took the cash.
    AgentCashIn(Confirmation),
    /// To the customer who took cash from an agent.
    CashOut(Confirmation),
    /// To the agent who paid out.
    AgentCashOut(Confirmation),
    MerchantPayment(Confirmation),
    Purchase(Confirmation),
    /// To the party whose money came back.
    ReversalCredit(Confirmation),
    /// To the party the money was taken back from.
    ReversalDebit(Confirmation),
    FloatReceived(Confirmation),
    LowFloat {
        available: Money,
    },
    Welcome {
        name: String,
    },
    /// A one-time start PIN after an agent checked ID; it must be changed on first use.
    PinReset {
        pin: String,
    },
    PinLocked,
    Help,
    Balance {
        balance: Money,
        available: Money,
        date: String,
        time: String,
    },
    CheckGenuine {
        code: String,
        detail: Option<(Money, String, String)>,
    },
    CheckUnknown {
        code: String,
    },
    PromotionsOff,
    PromotionsOn,
    NotRegistered,
    /// To the customer a merchant refunded.
    Refund(Confirmation),
    /// To a merchant with a phone number: what a sale brought in. It names no customer.
    Sale(Confirmation),
    /// A merchant asks to be paid; the customer answers in USSD Approvals.
    PaymentRequest {
        merchant: String,
        amount: Money,
    },
    /// A merchant asks for an allowance; the customer answers in USSD Approvals.
    AllowanceRequest {
        merchant: String,
        cap: Money,
    },
    /// One message for a day's small allowance charges, instead of one per charge.
    ChargeSummary {
        count: u32,
        total: Money,
        date: String,
    },
}

impl Message {
    /// The stable name stored beside each outbox row.
    pub fn template(&self) -> &'static str {
        match self {
            Message::Sent(_) => "sent",
            Message::Received(_) => "received",
            Message::CashIn(_) => "cash_in",
            Message::AgentCashIn(_) => "agent_cash_in",
            Message::CashOut(_) => "cash_out",
            Message::AgentCashOut(_) => "agent_cash_out",
            Message::MerchantPayment(_) => "merchant_payment",
            Message::Purchase(_) => "purchase",
            Message::ReversalCredit(_) => "reversal_credit",
            Message::ReversalDebit(_) => "reversal_debit",
            Message::FloatReceived(_) => "float_received",
            Message::LowFloat { .. } => "low_float",
            Message::Welcome { .. } => "welcome",
            Message::PinReset { .. } => "pin_reset",
            Message::PinLocked => "pin_locked",
            Message::Help => "help",
            Message::Balance { .. } => "balance",
            Message::CheckGenuine { .. } => "check_genuine",
            Message::CheckUnknown { .. } => "check_unknown",
            Message::PromotionsOff => "promotions_off",
            Message::PromotionsOn => "promotions_on",
            Message::NotRegistered => "not_registered",
            Message::Refund(_) => "refund",
            Message::Sale(_) => "sale",
            Message::PaymentRequest { .. } => "payment_request",
            Message::AllowanceRequest { .. } => "allowance_request",
            Message::ChargeSummary { .. } => "charge_summary",
        }
    }

    /// The confirmation this message carries, for the messages that confirm money moving.
    pub fn confirmation(&self) -> Option<&Confirmation> {
        match self {
            Message::Sent(c)
            | Message::Received(c)
            | Message::CashIn(c)
            | Message::AgentCashIn(c)
            | Message::CashOut(c)
            | Message::AgentCashOut(c)
            | Message::MerchantPayment(c)
            | Message::Purchase(c)
            | Message::ReversalCredit(c)
            | Message::ReversalDebit(c)
            | Message::FloatReceived(c)
            | Message::Refund(c)
            | Message::Sale(c) => Some(c),
            Message::LowFloat { .. }
            | Message::Welcome { .. }
            | Message::PinReset { .. }
            | Message::PinLocked
            | Message::Help
            | Message::Balance { .. }
            | Message::CheckGenuine { .. }
            | Message::CheckUnknown { .. }
            | Message::PromotionsOff
            | Message::PromotionsOn
            | Message::NotRegistered
            | Message::PaymentRequest { .. }
            | Message::AllowanceRequest { .. }
            | Message::ChargeSummary { .. } => None,
        }
    }

    pub fn render(&self, language: Language) -> String {
        let (main, tail) = self.parts(language);
        match tail {
            Some(tail) if crate::sms::encoding::fits_one_segment(&format!("{main}{tail}")) => {
                format!("{main}{tail}")
            }
            _ => main,
        }
    }

    fn parts(&self, l: Language) -> (String, Option<String>) {
        use Language::{En, Fr, Sw};
        let m = |money: &Money| format!("{}{}", money.currency(), money.to_grouped_string());
        let confirmation =
            |c: &Confirmation, en: &str, sw: &str, fr: &str| -> (String, Option<String>) {
                let who = if c.counterparty_number.is_empty() {
                    c.counterparty.clone()
                } else {
                    format!("{} {}", c.counterparty, c.counterparty_number)
                };
                let pick = match l {
                    En => en,
                    Sw => sw,
                    Fr => fr,
                };
                let body = fill(
                    pick,
                    &[
                        ("{amt}", &m(&c.amount)),
                        ("{who}", &who),
                        ("{date}", &c.date),
                        ("{time}", &c.time),
                        ("{fee}", &m(&c.fee)),
                        ("{bal}", &m(&c.balance)),
                    ],
                );
                let main = format!("{} {body}", c.code);
                let tail = c.daily_remaining.map(|left| match l {
                    En => format!(" Daily limit left {}.", m(&left)),
                    Sw => format!(" Kikomo cha leo {}.", m(&left)),
                    Fr => format!(" Limite du jour {}.", m(&left)),
                });
                (main, tail)
            };
        let plain = |en: String, sw: String, fr: String| -> (String, Option<String>) {
            (
                match l {
                    En => en,
                    Sw => sw,
                    Fr => fr,
                },
                None,
            )
        };
        match self {
            Message::Sent(c) => confirmation(
                c,
                "Confirmed. {amt} sent to {who} on {date} at {time}. Fee {fee}. Balance {bal}.",
                "Imethibitishwa. {amt} imetumwa kwa {who} {date} saa {time}. Ada {fee}. Salio {bal}.",
                "Confirmé. {amt} envoyé à {who} le {date} à {time}. Frais {fee}. Solde {bal}.",
            ),
            Message::Received(c) => confirmation(
                c,
                "Confirmed. You have received {amt} from {who} on {date} at {time}. New balance {bal}.",
                "Imethibitishwa. Umepokea {amt} kutoka kwa {who} {date} saa {time}. Salio jipya {bal}.",
                "Confirmé. {amt} de {who} crédité le {date} à {time}. Nouveau solde {bal}.",
            ),
            Message::CashIn(c) => confirmation(
                c,
                "Confirmed. On {date} at {time} you gave {amt} cash to {who}. New balance {bal}.",
                "Imethibitishwa. {date} saa {time} umeweka {amt} kwa wakala {who}. Salio jipya {bal}.",
                "Confirmé. Le {date} à {time} vous avez déposé {amt} chez {who}. Nouveau solde {bal}.",
            ),
            Message::AgentCashIn(c) => confirmation(
                c,
                "Confirmed. Cash-in of {amt} for {who} on {date} at {time}. Float balance {bal}.",
                "Imethibitishwa. Umeweka {amt} kwa {who} {date} saa {time}. Salio la float {bal}.",
                "Confirmé. Versement de {amt} pour {who} le {date} à {time}. Solde float {bal}.",
            ),
            Message::CashOut(c) => confirmation(
                c,
                "Confirmed. On {date} at {time} you withdrew {amt} from {who}. Fee {fee}. Balance {bal}.",
                "Imethibitishwa. {date} saa {time} umetoa {amt} kwa wakala {who}. Ada {fee}. Salio {bal}.",
                "Confirmé. Le {date} à {time} vous avez retiré {amt} chez {who}. Frais {fee}. Solde {bal}.",
            ),
            Message::AgentCashOut(c) => confirmation(
                c,
                "Confirmed. Give {amt} cash to {who}. {date} {time}. Float balance {bal}.",
                "Imethibitishwa. Mpe {who} pesa taslimu {amt}. {date} {time}. Salio la float {bal}.",
                "Confirmé. Remettez {amt} en espèces à {who}. {date} {time}. Solde float {bal}.",
            ),
            Message::MerchantPayment(c) => confirmation(
                c,
                "Confirmed. {amt} paid to {who} on {date} at {time}. Balance {bal}.",
                "Imethibitishwa. {amt} imelipwa kwa {who} {date} saa {time}. Salio {bal}.",
                "Confirmé. {amt} payé à {who} le {date} à {time}. Solde {bal}.",
            ),
            Message::Purchase(c) => confirmation(
                c,
                "Confirmed. You bought {amt} from {who} on {date} at {time}. Balance {bal}.",
                "Imethibitishwa. Umenunua {amt} kutoka {who} {date} saa {time}. Salio {bal}.",
                "Confirmé. Achat de {amt} chez {who} le {date} à {time}. Solde {bal}.",
            ),
            Message::ReversalCredit(c) => confirmation(
                c,
                "Confirmed. {amt} reversed from {who} to you on {date} at {time}. New balance {bal}.",
                "Imethibitishwa. {amt} imerudishwa kutoka {who} {date} saa {time}. Salio jipya {bal}.",
                "Confirmé. {amt} de {who} vous a été rendu le {date} à {time}. Nouveau solde {bal}.",
            ),
            Message::ReversalDebit(c) => confirmation(
                c,
                "Confirmed. {amt} sent to you by {who} was reversed on {date} at {time}. Balance {bal}.",
                "Imethibitishwa. {amt} uliyotumiwa na {who} imerudishwa {date} saa {time}. Salio {bal}.",
                "Confirmé. {amt} versé par {who} a été annulé le {date} à {time}. Solde {bal}.",
            ),
            Message::FloatReceived(c) => confirmation(
                c,
                "Confirmed. Float of {amt} received from {who} on {date} at {time}. Float balance {bal}.",
                "Imethibitishwa. Float ya {amt} imepokelewa kutoka {who} {date} saa {time}. Salio {bal}.",
                "Confirmé. Float de {amt} versé par {who} le {date} à {time}. Solde float {bal}.",
            ),
            Message::LowFloat { available } => plain(
                format!("mkoba: your float is low ({}). Buy float from your super-agent to keep serving customers.", m(available)),
                format!("mkoba: float yako iko chini ({}). Nunua float kwa wakala mkuu ili uendelee kuhudumia wateja.", m(available)),
                format!("mkoba: votre float est bas ({}). Achetez du float chez votre super-agent pour continuer.", m(available)),
            ),
            Message::Welcome { name } => plain(
                format!("Welcome to mkoba, {name}! Dial *384# to send, pay and buy. Never share your PIN. Real messages come only from MKOBA."),
                format!("Karibu mkoba, {name}! Piga *384# kutuma, kulipa na kununua. Usimpe mtu PIN yako. Ujumbe halali hutoka MKOBA tu."),
                format!("Bienvenue sur mkoba, {name}! Composez *384# pour envoyer, payer, acheter. Ne donnez jamais votre PIN."),
            ),
            Message::PinReset { pin } => plain(
                format!("mkoba: your one-time start PIN is {pin}. Dial *384# and change it now. Nobody from mkoba will ever ask for it."),
                format!("mkoba: PIN yako ya muda ni {pin}. Piga *384# uibadilishe sasa. Hakuna mtu wa mkoba atakayekuuliza."),
                format!("mkoba: votre PIN provisoire est {pin}. Composez *384# et changez-le. Personne de mkoba ne le demandera."),
            ),
            Message::Refund(c) => confirmation(
                c,
                "Confirmed. {amt} refunded to you by {who} on {date} at {time}. New balance {bal}.",
                "Imethibitishwa. {amt} umerejeshewa na {who} {date} saa {time}. Salio jipya {bal}.",
                "Confirmé. {amt} remboursé par {who} le {date} à {time}. Nouveau solde {bal}.",
            ),
            Message::Sale(c) => confirmation(
                c,
                "Confirmed. You received {amt} on {date} at {time}. mkoba fee {fee}. New balance {bal}.",
                "Imethibitishwa. Umepokea {amt} {date} saa {time}. Ada ya mkoba {fee}. Salio jipya {bal}.",
                "Confirmé. Vous avez encaissé {amt} le {date} à {time}. Frais mkoba {fee}. Nouveau solde {bal}.",
            ),
            Message::PaymentRequest { merchant, amount } => plain(
                format!("mkoba: {merchant} asks you to pay {}. To pay or decline, dial *384# and choose 7 Approvals. Ignore it and nothing is paid.", m(amount)),
                format!("mkoba: {merchant} anaomba ulipe {}. Kulipa au kukataa, piga *384# uchague 7 Idhini. Ukipuuza, hakuna malipo.", m(amount)),
                format!("mkoba: {merchant} vous demande de payer {}. Pour payer ou refuser, composez *384#, choix 7 Approbations.", m(amount)),
            ),
            Message::AllowanceRequest { merchant, cap } => plain(
                format!("mkoba: {merchant} asks to charge you up to {} without a PIN each time. Dial *384#, choose 7 Approvals to allow or decline.", m(cap)),
                format!("mkoba: {merchant} anaomba kukutoza hadi {} bila PIN kila mara. Piga *384#, chagua 7 Idhini kukubali au kukataa.", m(cap)),
                format!("mkoba: {merchant} demande à débiter jusqu'à {} sans PIN. Composez *384#, choix 7 Approbations pour accepter.", m(cap)),
            ),
            Message::ChargeSummary { count, total, date } => plain(
                format!("mkoba: on {date} you paid {} in {count} small charges under your allowances. See them under My account on *384#.", m(total)),
                format!("mkoba: {date} ulilipa {} kwa malipo madogo {count} ya ruhusa zako. Yaone kwenye Akaunti yangu *384#.", m(total)),
                format!("mkoba: le {date} vous avez payé {} en {count} petits achats autorisés. Détails dans Mon compte sur *384#.", m(total)),
            ),
            Message::PinLocked => plain(
                "mkoba: too many wrong PINs. Your wallet is locked; visit an agent with your ID to reset your PIN.".into(),
                "mkoba: PIN imekosewa mara nyingi. Pochi yako imefungwa; tembelea wakala na kitambulisho ili kuweka PIN mpya.".into(),
                "mkoba: trop de PIN erronés. Portefeuille bloqué; allez chez un agent avec votre pièce d'identité.".into(),
            ),
            Message::Help => plain(
                "mkoba SMS: BAL for balance, CHECK <code> to verify a message, STOP/START for offers. Dial *384# for everything else.".into(),
                "mkoba SMS: SALIO kwa salio, ANGALIA <code> kuthibitisha ujumbe, STOP/START kwa matangazo. Piga *384# kwa mengine.".into(),
                "mkoba SMS: SOLDE pour le solde, VERIFIER <code> pour un message, STOP/START pour les offres. Composez *384#.".into(),
            ),
            Message::Balance { balance, available, date, time } => plain(
                format!("mkoba: balance {} (available {}) on {date} at {time}.", m(balance), m(available)),
                format!("mkoba: salio {} (linalotumika {}) {date} saa {time}.", m(balance), m(available)),
                format!("mkoba: solde {} (disponible {}) le {date} à {time}.", m(balance), m(available)),
            ),
            Message::CheckGenuine { code, detail: Some((amount, date, time)) } => plain(
                format!("mkoba: {code} is GENUINE: {} on {date} at {time}.", m(amount)),
                format!("mkoba: {code} ni HALALI: {} {date} saa {time}.", m(amount)),
                format!("mkoba: {code} est AUTHENTIQUE: {} le {date} à {time}.", m(amount)),
            ),
            Message::CheckGenuine { code, detail: None } => plain(
                format!("mkoba: {code} is a genuine transaction code, but you are not a party to it."),
                format!("mkoba: {code} ni namba halali ya muamala, lakini wewe si mhusika wake."),
                format!("mkoba: {code} est un code authentique, mais il ne vous concerne pas."),
            ),
            Message::CheckUnknown { code } => plain(
                format!("mkoba: {code} is NOT a real transaction. Do not send any money back. Report it to an agent."),
                format!("mkoba: {code} SI muamala halali. Usirudishe pesa yoyote. Ripoti kwa wakala."),
                format!("mkoba: {code} n'est PAS une vraie transaction. Ne renvoyez aucun argent. Signalez-le."),
            ),
            Message::PromotionsOff => plain(
                "mkoba: you will no longer get offers. Payment confirmations still arrive. Send START to resume.".into(),
                "mkoba: hutapokea matangazo tena. Uthibitisho wa malipo utaendelea kuja. Tuma START kurejesha.".into(),
                "mkoba: vous ne recevrez plus d'offres. Les confirmations de paiement continuent. START pour reprendre.".into(),
            ),
            Message::PromotionsOn => plain(
                "mkoba: offers are on again. Send STOP to turn them off.".into(),
                "mkoba: matangazo yamerejeshwa. Tuma STOP kuyazima.".into(),
                "mkoba: les offres sont réactivées. Envoyez STOP pour les couper.".into(),
            ),
            Message::NotRegistered => plain(
                "mkoba: this number has no wallet. Dial *384# to register for free.".into(),
                "mkoba: namba hii haina pochi. Piga *384# kujisajili bure.".into(),
                "mkoba: ce numéro n'a pas de portefeuille. Composez *384# pour vous inscrire.".into(),
            ),
        }
    }
}

/// `template` with each `{name}` of `values` replaced, in one pass (every confirmation SMS is
/// rendered inside the ledger batch that creates it). Unknown `{…}` stay as they are.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let (before, from_brace) = rest.split_at(open);
        out.push_str(before);
        match values.iter().find(|(key, _)| from_brace.starts_with(key)) {
            Some((key, value)) => {
                out.push_str(value);
                rest = from_brace.get(key.len()..).unwrap_or("");
            }
            None => {
                out.push('{');
                rest = from_brace.get(1..).unwrap_or("");
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn fill_replaces_each_placeholder_once_and_keeps_unknown_braces() {
        let out = super::fill(
            "{a} sent {b} to {a}; {c} {b",
            &[("{a}", "X"), ("{b}", "{a}")],
        );
        assert_eq!(out, "X sent {a} to X; {c} {b");
        assert_eq!(super::fill("", &[("{a}", "X")]), "");
        assert_eq!(super::fill("no braces", &[]), "no braces");
    }
    use crate::sms::encoding::{measure, Encoding};
    use mkoba_ledger::Currency;

    /// The longest realistic figures: a tier-1 customer's largest send, a balance near the tier-2
    /// cap, the longest masked name the masking produces, a masked national number.
    fn worst_case() -> Confirmation {
        Confirmation {
            code: "QK7ZD3MPWA".into(),
            amount: Money::from_minor(15_000_000, Currency::KES),
            fee: Money::from_minor(10_800, Currency::KES),
            counterparty: "MAXIMILIANO W***".into(),
            counterparty_number: "0712***678".into(),
            balance: Money::from_minor(49_999_999, Currency::KES),
            date: "28/11/26".into(),
            time: "23:59".into(),
            daily_remaining: Some(Money::from_minor(49_999_999, Currency::KES)),
        }
    }

    fn agent_like() -> Confirmation {
        let mut c = worst_case();
        c.counterparty = "Mama Mboga Shop Kibe".into();
        c.counterparty_number = String::new();
        c
    }

    /// One sample of every message, at its longest.
    pub(crate) fn all_messages() -> Vec<Message> {
        let c = worst_case;
        let mut agent = c();
        agent.counterparty = "Mama Mboga Shop Kibe".into(); // agents' names are cut to 20
        agent.counterparty_number = String::new();
        vec![
            Message::Sent(c()),
            Message::Received(c()),
            Message::CashIn(agent.clone()),
            Message::AgentCashIn(c()),
            Message::CashOut(agent.clone()),
            Message::AgentCashOut(c()),
            Message::MerchantPayment(agent.clone()),
            Message::Purchase(agent.clone()),
            Message::ReversalCredit(c()),
            Message::ReversalDebit(c()),
            Message::FloatReceived(agent),
            Message::LowFloat {
                available: Money::from_minor(49_999_999, Currency::KES),
            },
            Message::Welcome {
                name: "Maximiliano Wanjiru".into(),
            },
            Message::PinReset {
                pin: "483920".into(),
            },
            Message::PinLocked,
            Message::Help,
            Message::Balance {
                balance: Money::from_minor(49_999_999, Currency::KES),
                available: Money::from_minor(49_999_999, Currency::KES),
                date: "28/11/26".into(),
                time: "23:59".into(),
            },
            Message::CheckGenuine {
                code: "QK7ZD3MPWA".into(),
                detail: Some((
                    Money::from_minor(15_000_000, Currency::KES),
                    "28/11/26".into(),
                    "23:59".into(),
                )),
            },
            Message::CheckGenuine {
                code: "QK7ZD3MPWA".into(),
                detail: None,
            },
            Message::CheckUnknown {
                code: "QK7ZD3MPWA".into(),
            },
            Message::PromotionsOff,
            Message::PromotionsOn,
            Message::NotRegistered,
            Message::Refund(agent_like()),
            Message::Sale(c()),
            Message::PaymentRequest {
                merchant: "Mama Mboga Shop Kibe".into(),
                amount: Money::from_minor(49_999_999, Currency::KES),
            },
            Message::AllowanceRequest {
                merchant: "Mama Mboga Shop Kibe".into(),
                cap: Money::from_minor(49_999_999, Currency::KES),
            },
            Message::ChargeSummary {
                count: 99_999,
                total: Money::from_minor(49_999_999, Currency::KES),
                date: "28/11/26".into(),
            },
        ]
    }

    #[test]
    fn every_message_fits_one_gsm7_segment_in_every_language() {
        for message in all_messages() {
            for language in Language::ALL {
                let text = message.render(language);
                let length = measure(&text);
                assert_eq!(
                    length.encoding,
                    Encoding::Gsm7,
                    "{} {language:?} is not GSM-7: {text}",
                    message.template()
                );
                assert_eq!(
                    length.segments,
                    1,
                    "{} {language:?} is {} septets: {text}",
                    message.template(),
                    length.units
                );
            }
        }
    }

    #[test]
    fn confirmations_carry_code_amount_counterparty_fee_and_balance() {
        let text = Message::Sent(worst_case()).render(Language::En);
        for part in [
            "QK7ZD3MPWA",
            "KES150,000.00",
            "MAXIMILIANO W***",
            "0712***678",
            "KES108.00",
            "KES499,999.99",
            "28/11/26",
            "23:59",
        ] {
            assert!(text.contains(part), "{part} missing from {text}");
        }
        let mut small = worst_case();
        small.amount = Money::from_minor(10_000, Currency::KES);
        small.balance = Money::from_minor(5_000, Currency::KES);
        small.daily_remaining = Some(Money::from_minor(4_990_000, Currency::KES));
        let text = Message::Sent(small).render(Language::En);
        assert!(text.contains("Daily limit left KES49,900.00"), "{text}");
        let sw = Message::Received(worst_case()).render(Language::Sw);
        assert!(
            sw.starts_with("QK7ZD3MPWA Imethibitishwa. Umepokea KES150,000.00"),
            "{sw}"
        );
    }
}
