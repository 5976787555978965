//! Send money: number, amount, one confirmation that also takes the PIN. Five hops from
//! dialling: menu, number prompt, amount prompt, confirmation, done.

use mkoba_ledger::TxnKind;
use serde::{Deserialize, Serialize};

use super::exec::{self, Done};
use super::{amount_text, clean, phone_text, quote_answer, typed_pin, unavailable, Next};
use crate::catalog::{Msg, Slot};
use crate::engine::bounds::NAME_LEN_MAX;
use crate::engine::effect::{Counterparty, Effect, EffectResult, MoneyAction, Quote};
use crate::engine::state::{Step, Wait};
use crate::engine::view::{Body, Cx};

/// A recipient: the number as typed and the masked name the server found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Party {
    pub msisdn: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum SendStep {
    Recipient,
    Amount { to: Party },
    Confirm { to: Party, quote: Quote },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum SendWait {
    Lookup { msisdn: String },
    Quote { to: Party },
}

pub(crate) fn input(s: &SendStep, input: &str, cx: &Cx<'_>) -> Next {
    match s {
        SendStep::Recipient => match phone_text(input) {
            Some(msisdn) => Next::Ask(
                Effect::LookupRecipient {
                    msisdn_text: msisdn.clone(),
                },
                Wait::Send(SendWait::Lookup { msisdn }),
            ),
            None => Next::Invalid(cx.t(Msg::HintNumber)),
        },
        SendStep::Amount { to } => match amount_text(input, cx) {
            Ok(amount_text) => Next::Ask(
                Effect::Quote {
                    kind: TxnKind::Transfer,
                    amount_text,
                    counterparty: Counterparty::Person {
                        msisdn_text: to.msisdn.clone(),
                    },
                },
                Wait::Send(SendWait::Quote { to: to.clone() }),
            ),
            Err(hint) => Next::Invalid(hint),
        },
        SendStep::Confirm { to, quote } => match typed_pin(input, cx) {
            Ok(pin) => exec::ask(
                MoneyAction::Send {
                    msisdn_text: to.msisdn.clone(),
                    amount: quote.amount,
                },
                pin,
                Done::Send {
                    name: to.name.clone(),
                },
                cx,
            ),
            Err(hint) => Next::Invalid(hint),
        },
    }
}

pub(crate) fn result(wait: SendWait, answer: EffectResult, cx: &Cx<'_>) -> Next {
    match wait {
        SendWait::Lookup { msisdn } => match answer {
            EffectResult::Recipient { masked_name } => {
                let name = clean(&masked_name, NAME_LEN_MAX, &msisdn);
                Next::Go(Step::Send(SendStep::Amount {
                    to: Party { msisdn, name },
                }))
            }
            EffectResult::RecipientUnknown => Next::Invalid(cx.t(Msg::HintNotCustomer)),
            EffectResult::InvalidNumber => Next::Invalid(cx.t(Msg::HintNumber)),
            _ => unavailable(cx),
        },
        SendWait::Quote { to } => {
            let label = to.name.clone();
            quote_answer(answer, &label, cx, |quote| {
                Next::Go(Step::Send(SendStep::Confirm { to, quote }))
            })
        }
    }
}

pub(crate) fn render(s: &SendStep, cx: &Cx<'_>) -> Body {
    let currency = cx.cfg.currency.code();
    let text = match s {
        SendStep::Recipient => cx.t(Msg::SendRecipient),
        SendStep::Amount { to } => cx.tf(
            Msg::SendAmount,
            &[(Slot::Name, &to.name), (Slot::Currency, currency)],
        ),
        SendStep::Confirm { to, quote } => cx.tf(
            Msg::SendConfirm,
            &[
                (Slot::Amount, &cx.money(quote.amount)),
                (Slot::Name, &to.name),
                (Slot::Fee, &cx.fee(quote.fee)),
            ],
        ),
    };
    Body::nav(text)
}
