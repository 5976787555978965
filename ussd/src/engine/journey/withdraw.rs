//! Withdraw cash at an agent: agent number (and store number if configured), amount, one
//! confirmation with the PIN. The withdrawal waits, reserved, until the agent hands over the
//! cash.

use mkoba_ledger::TxnKind;
use serde::{Deserialize, Serialize};

use super::exec::{self, Done};
use super::{amount_text, clean, party_code, quote_answer, typed_pin, unavailable, Next};
use crate::catalog::{Msg, Slot};
use crate::engine::bounds::{NAME_LEN_MAX, TILL_LEN_MAX};
use crate::engine::effect::{Counterparty, Effect, EffectResult, MoneyAction, Quote};
use crate::engine::state::{Step, Wait};
use crate::engine::view::{Body, Cx};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AgentRef {
    pub code: String,
    pub till: Option<String>,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum WithdrawStep {
    Agent,
    Till { code: String },
    Amount { agent: AgentRef },
    Confirm { agent: AgentRef, quote: Quote },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum WithdrawWait {
    Lookup { code: String, till: Option<String> },
    Quote { agent: AgentRef },
}

fn lookup(code: String, till: Option<String>) -> Next {
    Next::Ask(
        Effect::LookupAgent {
            agent_code: code.clone(),
            till: till.clone(),
        },
        Wait::Withdraw(WithdrawWait::Lookup { code, till }),
    )
}

pub(crate) fn input(s: &WithdrawStep, input: &str, cx: &Cx<'_>) -> Next {
    match s {
        WithdrawStep::Agent => match party_code(input) {
            Some(code) if cx.cfg.withdraw_asks_till => {
                Next::Go(Step::Withdraw(WithdrawStep::Till { code }))
            }
            Some(code) => lookup(code, None),
            None => Next::Invalid(cx.t(Msg::HintCode)),
        },
        WithdrawStep::Till { code } => {
            let ok = (1..=TILL_LEN_MAX).contains(&input.len())
                && input.bytes().all(|b| b.is_ascii_alphanumeric());
            if ok {
                lookup(code.clone(), Some(input.to_owned()))
            } else {
                Next::Invalid(cx.t(Msg::HintTill))
            }
        }
        WithdrawStep::Amount { agent } => match amount_text(input, cx) {
            Ok(amount_text) => Next::Ask(
                Effect::Quote {
                    kind: TxnKind::Withdrawal,
                    amount_text,
                    counterparty: Counterparty::Agent {
                        agent_code: agent.code.clone(),
                        till: agent.till.clone(),
                    },
                },
                Wait::Withdraw(WithdrawWait::Quote {
                    agent: agent.clone(),
                }),
            ),
            Err(hint) => Next::Invalid(hint),
        },
        WithdrawStep::Confirm { agent, quote } => match typed_pin(input, cx) {
            Ok(pin) => exec::ask(
                MoneyAction::Withdraw {
                    agent_code: agent.code.clone(),
                    till: agent.till.clone(),
                    amount: quote.amount,
                },
                pin,
                Done::Withdraw {
                    name: agent.name.clone(),
                },
                cx,
            ),
            Err(hint) => Next::Invalid(hint),
        },
    }
}

pub(crate) fn result(wait: WithdrawWait, answer: EffectResult, cx: &Cx<'_>) -> Next {
    match wait {
        WithdrawWait::Lookup { code, till } => match answer {
            EffectResult::Agent { name } => {
                let name = clean(&name, NAME_LEN_MAX, &code);
                Next::Go(Step::Withdraw(WithdrawStep::Amount {
                    agent: AgentRef { code, till, name },
                }))
            }
            EffectResult::AgentUnknown => Next::Invalid(cx.t(Msg::HintAgent)),
            _ => unavailable(cx),
        },
        WithdrawWait::Quote { agent } => {
            let label = agent.name.clone();
            quote_answer(answer, &label, cx, |quote| {
                Next::Go(Step::Withdraw(WithdrawStep::Confirm { agent, quote }))
            })
        }
    }
}

pub(crate) fn render(s: &WithdrawStep, cx: &Cx<'_>) -> Body {
    let currency = cx.cfg.currency.code();
    let text = match s {
        WithdrawStep::Agent => cx.t(Msg::WithdrawAgent),
        WithdrawStep::Till { .. } => cx.t(Msg::WithdrawTill),
        WithdrawStep::Amount { agent } => cx.tf(
            Msg::WithdrawAmount,
            &[(Slot::Name, &agent.name), (Slot::Currency, currency)],
        ),
        WithdrawStep::Confirm { agent, quote } => cx.tf(
            Msg::WithdrawConfirm,
            &[
                (Slot::Amount, &cx.money(quote.amount)),
                (Slot::Name, &agent.name),
                (Slot::Fee, &cx.fee(quote.fee)),
            ],
        ),
    };
    Body::nav(text)
}
