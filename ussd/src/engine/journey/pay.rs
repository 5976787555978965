//! Pay a merchant: merchant code, the account number if the merchant wants one, amount, one
//! confirmation with the PIN.

use mkoba_ledger::TxnKind;
use serde::{Deserialize, Serialize};

use super::exec::{self, Done};
use super::{amount_text, clean, party_code, quote_answer, typed_pin, unavailable, Next};
use crate::catalog::{Msg, Slot};
use crate::engine::bounds::{NAME_LEN_MAX, REFERENCE_LEN_MAX};
use crate::engine::effect::{Counterparty, Effect, EffectResult, MoneyAction, Quote};
use crate::engine::state::{Step, Wait};
use crate::engine::view::{Body, Cx};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct MerchantRef {
    pub code: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum PayStep {
    Code,
    Reference {
        merchant: MerchantRef,
    },
    Amount {
        merchant: MerchantRef,
        reference: Option<String>,
    },
    Confirm {
        merchant: MerchantRef,
        reference: Option<String>,
        quote: Quote,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum PayWait {
    Lookup {
        code: String,
    },
    Quote {
        merchant: MerchantRef,
        reference: Option<String>,
    },
}

/// An account number as typed: 1 to 16 letters, digits, spaces or `-/.`.
fn reference(input: &str) -> Option<String> {
    let ok = (1..=REFERENCE_LEN_MAX).contains(&input.len())
        && input
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b' ' | b'-' | b'/' | b'.'));
    ok.then(|| input.to_owned())
}

pub(crate) fn input(s: &PayStep, input: &str, cx: &Cx<'_>) -> Next {
    match s {
        PayStep::Code => match party_code(input) {
            Some(code) => Next::Ask(
                Effect::LookupMerchant { code: code.clone() },
                Wait::Pay(PayWait::Lookup { code }),
            ),
            None => Next::Invalid(cx.t(Msg::HintCode)),
        },
        PayStep::Reference { merchant } => match reference(input) {
            Some(reference) => Next::Go(Step::Pay(PayStep::Amount {
                merchant: merchant.clone(),
                reference: Some(reference),
            })),
            None => Next::Invalid(cx.t(Msg::HintReference)),
        },
        PayStep::Amount {
            merchant,
            reference,
        } => match amount_text(input, cx) {
            Ok(amount_text) => Next::Ask(
                Effect::Quote {
                    kind: TxnKind::MerchantPayment,
                    amount_text,
                    counterparty: Counterparty::Merchant {
                        code: merchant.code.clone(),
                        reference: reference.clone(),
                    },
                },
                Wait::Pay(PayWait::Quote {
                    merchant: merchant.clone(),
                    reference: reference.clone(),
                }),
            ),
            Err(hint) => Next::Invalid(hint),
        },
        PayStep::Confirm {
            merchant,
            reference,
            quote,
        } => match typed_pin(input, cx) {
            Ok(pin) => exec::ask(
                MoneyAction::PayMerchant {
                    code: merchant.code.clone(),
                    reference: reference.clone(),
                    amount: quote.amount,
                },
                pin,
                Done::Pay {
                    name: merchant.name.clone(),
                },
                cx,
            ),
            Err(hint) => Next::Invalid(hint),
        },
    }
}

pub(crate) fn result(wait: PayWait, answer: EffectResult, cx: &Cx<'_>) -> Next {
    match wait {
        PayWait::Lookup { code } => match answer {
            EffectResult::Merchant {
                name,
                needs_reference,
            } => {
                let name = clean(&name, NAME_LEN_MAX, &code);
                let merchant = MerchantRef { code, name };
                Next::Go(Step::Pay(if needs_reference {
                    PayStep::Reference { merchant }
                } else {
                    PayStep::Amount {
                        merchant,
                        reference: None,
                    }
                }))
            }
            EffectResult::MerchantUnknown => Next::Invalid(cx.t(Msg::HintMerchant)),
            _ => unavailable(cx),
        },
        PayWait::Quote {
            merchant,
            reference,
        } => {
            let label = merchant.name.clone();
            quote_answer(answer, &label, cx, |quote| {
                Next::Go(Step::Pay(PayStep::Confirm {
                    merchant,
                    reference,
                    quote,
                }))
            })
        }
    }
}

pub(crate) fn render(s: &PayStep, cx: &Cx<'_>) -> Body {
    let currency = cx.cfg.currency.code();
    let text = match s {
        PayStep::Code => cx.t(Msg::PayCode),
        PayStep::Reference { merchant } => {
            cx.tf(Msg::PayReference, &[(Slot::Name, &merchant.name)])
        }
        PayStep::Amount { merchant, .. } => cx.tf(
            Msg::PayAmount,
            &[(Slot::Name, &merchant.name), (Slot::Currency, currency)],
        ),
        PayStep::Confirm {
            merchant,
            reference,
            quote,
        } => {
            let amount = cx.money(quote.amount);
            let fee = cx.fee(quote.fee);
            let mut args = vec![
                (Slot::Amount, amount.as_str()),
                (Slot::Name, merchant.name.as_str()),
                (Slot::Fee, fee.as_str()),
            ];
            let msg = match reference {
                Some(r) => {
                    args.push((Slot::Reference, r.as_str()));
                    Msg::PayConfirmRef
                }
                None => Msg::PayConfirm,
            };
            cx.tf(msg, &args)
        }
    };
    Body::nav(text)
}
