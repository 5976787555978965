//! A confirmation kept in the outbox as its parameters, rendered only when it is sent or read.
//!
//! Every confirmed transfer writes two outbox rows inside the ledger writer's transaction, and
//! the writer is the one thread every payment waits for. A rendered confirmation is about 200
//! bytes and the writer rendered it (money grouping, templates, segment counting); its
//! parameters are about 80 bytes and cost one small serialization. The dispatcher, which runs
//! beside the writer and not in its way, renders them before sending (ops/BENCHMARKS.md,
//! session 14).
//!
//! The stored form is a JSON array, so that names with any character survive, and it carries
//! the local date and time as they were when the money moved: what the customer reads does not
//! depend on when the message went out, or on a changed configuration.

use mkoba_ledger::{Currency, Money};
use serde::{Deserialize, Serialize};

use crate::sms::templates::{Confirmation, Message};

/// Longest parameter text the outbox accepts (the column's CHECK says the same).
pub const PARAMETERS_LEN_MAX: usize = 400;

/// Makes a message of one confirmation template.
type MakeMessage = fn(Confirmation) -> Message;

/// The confirmation templates, by their stored name: what a stored row is turned back into.
const CONFIRMATIONS: [(&str, MakeMessage); 13] = [
    ("sent", Message::Sent),
    ("received", Message::Received),
    ("cash_in", Message::CashIn),
    ("agent_cash_in", Message::AgentCashIn),
    ("cash_out", Message::CashOut),
    ("agent_cash_out", Message::AgentCashOut),
    ("merchant_payment", Message::MerchantPayment),
    ("purchase", Message::Purchase),
    ("reversal_credit", Message::ReversalCredit),
    ("reversal_debit", Message::ReversalDebit),
    ("float_received", Message::FloatReceived),
    ("refund", Message::Refund),
    ("sale", Message::Sale),
];

/// A confirmation as stored: every amount in minor units of the one currency.
#[derive(Serialize, Deserialize)]
struct Stored(
    String,      // transaction code
    Currency,    // currency of every amount
    i64,         // amount
    i64,         // fee
    String,      // counterparty
    String,      // counterparty number (masked), empty for merchants
    i64,         // balance after
    String,      // local date
    String,      // local time
    Option<i64>, // daily limit left
);

/// Why a stored row could not be turned back into a message.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum UnreadableParameters {
    #[error("template {0} is not kept as parameters")]
    UnknownTemplate(String),
    #[error("parameters do not parse: {0}")]
    Malformed(String),
    #[error("neither body nor parameters")]
    Missing,
}

/// The parameters of `message`, if it is a confirmation (and they fit the column); `None` means
/// "store it rendered".
pub fn to_parameters(message: &Message) -> Option<String> {
    let c = message.confirmation()?;
    let currency = c.amount.currency();
    let same_currency = [c.fee, c.balance]
        .into_iter()
        .chain(c.daily_remaining)
        .all(|m| m.currency() == currency);
    if !same_currency {
        return None;
    }
    let stored = Stored(
        c.code.clone(),
        currency,
        c.amount.minor(),
        c.fee.minor(),
        c.counterparty.clone(),
        c.counterparty_number.clone(),
        c.balance.minor(),
        c.date.clone(),
        c.time.clone(),
        c.daily_remaining.map(Money::minor),
    );
    let text = serde_json::to_string(&stored).ok()?;
    (text.len() <= PARAMETERS_LEN_MAX).then_some(text)
}

/// The message a row with `template` and `parameters` stands for.
pub fn from_parameters(template: &str, parameters: &str) -> Result<Message, UnreadableParameters> {
    let (_, make) = CONFIRMATIONS
        .iter()
        .find(|(name, _)| *name == template)
        .ok_or_else(|| UnreadableParameters::UnknownTemplate(template.to_owned()))?;
    let Stored(code, currency, amount, fee, counterparty, number, balance, date, time, left) =
        serde_json::from_str(parameters)
            .map_err(|e| UnreadableParameters::Malformed(e.to_string()))?;
    let money = |minor| Money::from_minor(minor, currency);
    Ok(make(Confirmation {
        code,
        amount: money(amount),
        fee: money(fee),
        counterparty,
        counterparty_number: number,
        balance: money(balance),
        date,
        time,
        daily_remaining: left.map(money),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sms::templates::tests::all_messages;
    use crate::sms::templates::Language;

    #[test]
    fn every_confirmation_reads_back_as_the_same_text_in_every_language() {
        let mut kept = 0;
        for message in all_messages() {
            let Some(parameters) = to_parameters(&message) else {
                assert!(
                    message.confirmation().is_none(),
                    "{} is a confirmation but was not kept",
                    message.template()
                );
                continue;
            };
            kept += 1;
            assert!(
                parameters.len() < 120,
                "{}: {parameters}",
                message.template()
            );
            let back = from_parameters(message.template(), &parameters).unwrap();
            assert_eq!(back.template(), message.template());
            for language in Language::ALL {
                assert_eq!(back.render(language), message.render(language));
            }
        }
        assert_eq!(kept, CONFIRMATIONS.len(), "every confirmation template");
    }

    #[test]
    fn names_with_separators_and_quotes_survive() {
        let Some(Message::Sent(mut c)) = all_messages().into_iter().next() else {
            panic!("the first sample is a Sent confirmation");
        };
        c.counterparty = "O'NEIL \"K\" |;, \\ ***".into();
        let message = Message::Sent(c);
        let parameters = to_parameters(&message).unwrap();
        let back = from_parameters("sent", &parameters).unwrap();
        assert_eq!(back.render(Language::En), message.render(Language::En));
    }

    #[test]
    fn unreadable_rows_are_named() {
        assert!(matches!(
            from_parameters("welcome", "[]"),
            Err(UnreadableParameters::UnknownTemplate(t)) if t == "welcome"
        ));
        assert!(matches!(
            from_parameters("sent", "[\"QK7ZD3MPWA\",\"KES\",1]"),
            Err(UnreadableParameters::Malformed(_))
        ));
        assert!(matches!(
            from_parameters(
                "sent",
                "[\"QK7ZD3MPWA\",\"EUR\",1,0,\"A\",\"\",1,\"d\",\"t\",null]"
            ),
            Err(UnreadableParameters::Malformed(_))
        ));
    }
}
