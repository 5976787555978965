//! Buying: airtime for oneself (four hops from dialling: menu, amount, confirmation, done) or
//! another number, data bundles, and digital items by category from the catalog, paged with
//! `98`. Prices may be as low as one minor unit.

use mkoba_ledger::TxnKind;
use serde::{Deserialize, Serialize};

use super::exec::{self, Done};
use super::{amount_text, clean, invalid_choice, phone_text, quote_answer, typed_pin};
use super::{unavailable, Next};
use crate::catalog::{Msg, Slot};
use crate::engine::bounds::{ID_LEN_MAX, NAME_LEN_MAX, PAGE_ITEMS_MAX, PRODUCT_NAME_LEN_MAX};
use crate::engine::effect::{Category, Counterparty, Effect, EffectResult, MoneyAction};
use crate::engine::effect::{Product, Quote};
use crate::engine::state::{Notice, Step, Wait};
use crate::engine::view::{self, Body, Cx};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum AirtimeFor {
    Own,
    Other { msisdn: String, label: String },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum BuyStep {
    Menu,
    AirtimeNumber,
    AirtimeAmount {
        target: AirtimeFor,
    },
    AirtimeConfirm {
        target: AirtimeFor,
        quote: Quote,
    },
    Categories,
    /// Catalog items fetched from `start`; the screen shows them from `skip` on.
    Products {
        category: Category,
        start: u32,
        items: Vec<Product>,
        skip: usize,
        more: bool,
    },
    ProductConfirm {
        product: Product,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum BuyWait {
    Lookup { msisdn: String },
    Quote { target: AirtimeFor },
    Catalog { category: Category, start: u32 },
}

const MENU: [Msg; 3] = [Msg::BuyAirtimeOther, Msg::BuyData, Msg::BuyDigital];

fn go(s: BuyStep) -> Next {
    Next::Go(Step::Buy(s))
}

fn catalog(category: Category, start: u32, cx: &Cx<'_>) -> Next {
    Next::Ask(
        Effect::ListCatalog {
            category,
            offset: start,
            limit: cx.cfg.page_size(),
        },
        Wait::Buy(BuyWait::Catalog { category, start }),
    )
}

/// The categories offered, without repeats, at most five (one screen).
fn categories(cx: &Cx<'_>) -> Vec<Category> {
    let mut out: Vec<Category> = Vec::new();
    for c in &cx.cfg.digital_categories {
        if !out.contains(c) && out.len() < Category::ALL.len() {
            out.push(*c);
        }
    }
    out
}

pub(crate) fn input(s: &BuyStep, input: &str, cx: &Cx<'_>) -> Next {
    match s {
        BuyStep::Menu => match view::choice(input, MENU.len()) {
            Some(0) => go(BuyStep::AirtimeNumber),
            Some(1) => catalog(Category::Data, 0, cx),
            Some(_) => go(BuyStep::Categories),
            None => invalid_choice(cx),
        },
        BuyStep::AirtimeNumber => match phone_text(input) {
            Some(msisdn) => Next::Ask(
                Effect::LookupRecipient {
                    msisdn_text: msisdn.clone(),
                },
                Wait::Buy(BuyWait::Lookup { msisdn }),
            ),
            None => Next::Invalid(cx.t(Msg::HintNumber)),
        },
        BuyStep::AirtimeAmount { target } => match amount_text(input, cx) {
            Ok(amount_text) => Next::Ask(
                Effect::Quote {
                    kind: TxnKind::Purchase,
                    amount_text,
                    counterparty: Counterparty::Airtime {
                        msisdn_text: number(target),
                    },
                },
                Wait::Buy(BuyWait::Quote {
                    target: target.clone(),
                }),
            ),
            Err(hint) => Next::Invalid(hint),
        },
        BuyStep::AirtimeConfirm { target, quote } => match typed_pin(input, cx) {
            Ok(pin) => exec::ask(
                MoneyAction::BuyAirtime {
                    msisdn_text: number(target),
                    amount: quote.amount,
                },
                pin,
                Done::Airtime {
                    name: label(target, cx),
                },
                cx,
            ),
            Err(hint) => Next::Invalid(hint),
        },
        BuyStep::Categories => match view::choice(input, categories(cx).len()) {
            Some(i) => match categories(cx).get(i) {
                Some(c) => catalog(*c, 0, cx),
                None => invalid_choice(cx),
            },
            None => invalid_choice(cx),
        },
        BuyStep::Products {
            category,
            start,
            items,
            skip,
            more,
        } => {
            let page = products_page(*category, items, *skip, *more, cx);
            if input == view::MORE && page.more {
                let next_skip = skip.saturating_add(page.shown);
                if next_skip < items.len() {
                    return go(BuyStep::Products {
                        category: *category,
                        start: *start,
                        items: items.clone(),
                        skip: next_skip,
                        more: *more,
                    });
                }
                let fetched = u32::try_from(items.len()).unwrap_or(u32::MAX);
                return catalog(*category, start.saturating_add(fetched), cx);
            }
            match view::choice(input, page.shown).and_then(|i| items.get(skip + i)) {
                Some(product) => go(BuyStep::ProductConfirm {
                    product: product.clone(),
                }),
                None => invalid_choice(cx),
            }
        }
        BuyStep::ProductConfirm { product } => match typed_pin(input, cx) {
            Ok(pin) => exec::ask(
                MoneyAction::BuyProduct {
                    product_id: product.id.clone(),
                    price: product.price,
                },
                pin,
                Done::Product {
                    item: product.name.clone(),
                },
                cx,
            ),
            Err(hint) => Next::Invalid(hint),
        },
    }
}

fn number(target: &AirtimeFor) -> Option<String> {
    match target {
        AirtimeFor::Own => None,
        AirtimeFor::Other { msisdn, .. } => Some(msisdn.clone()),
    }
}

fn label(target: &AirtimeFor, cx: &Cx<'_>) -> String {
    match target {
        AirtimeFor::Own => cx.t(Msg::YourPhone),
        AirtimeFor::Other { label, .. } => label.clone(),
    }
}

pub(crate) fn result(wait: BuyWait, answer: EffectResult, cx: &Cx<'_>) -> Next {
    match wait {
        BuyWait::Lookup { msisdn } => {
            // Airtime can go to any valid number, customer or not.
            let label = match answer {
                EffectResult::Recipient { masked_name } => {
                    clean(&masked_name, NAME_LEN_MAX, &msisdn)
                }
                EffectResult::RecipientUnknown => clean(&msisdn, NAME_LEN_MAX, ""),
                EffectResult::InvalidNumber => return Next::Invalid(cx.t(Msg::HintNumber)),
                _ => return unavailable(cx),
            };
            go(BuyStep::AirtimeAmount {
                target: AirtimeFor::Other { msisdn, label },
            })
        }
        BuyWait::Quote { target } => quote_answer(answer, &label(&target, cx), cx, |quote| {
            go(BuyStep::AirtimeConfirm { target, quote })
        }),
        BuyWait::Catalog { category, start } => match answer {
            EffectResult::Products { items, more } => {
                let items: Vec<Product> = items
                    .into_iter()
                    .filter(|p| !p.id.is_empty() && p.id.len() <= ID_LEN_MAX)
                    .take(PAGE_ITEMS_MAX)
                    .map(|p| Product {
                        name: clean(&p.name, PRODUCT_NAME_LEN_MAX, &p.id),
                        ..p
                    })
                    .collect();
                if items.is_empty() {
                    return Next::Go(Step::Notice(Notice::Products));
                }
                go(BuyStep::Products {
                    category,
                    start,
                    items,
                    skip: 0,
                    more,
                })
            }
            _ => unavailable(cx),
        },
    }
}

fn category_name(c: Category) -> Msg {
    match c {
        Category::Data => Msg::CatData,
        Category::Article => Msg::CatArticle,
        Category::Song => Msg::CatSong,
        Category::Game => Msg::CatGame,
        Category::Software => Msg::CatSoftware,
    }
}

fn products_page(
    category: Category,
    items: &[Product],
    skip: usize,
    more: bool,
    cx: &Cx<'_>,
) -> view::Page {
    let lines: Vec<String> = items
        .iter()
        .map(|p| {
            let price = cx.money(p.price);
            cx.tf(
                Msg::ProductLine,
                &[(Slot::Item, &p.name), (Slot::Amount, &price)],
            )
        })
        .collect();
    view::page(cx, &cx.t(category_name(category)), &lines, skip, more, true)
}

pub(crate) fn render(s: &BuyStep, cx: &Cx<'_>) -> Body {
    let currency = cx.cfg.currency.code();
    let text = match s {
        BuyStep::Menu => view::menu(cx, Some(cx.t(Msg::BuyTitle)), &MENU),
        BuyStep::AirtimeNumber => cx.t(Msg::AirtimeNumber),
        BuyStep::AirtimeAmount { target } => cx.tf(
            Msg::AirtimeAmount,
            &[(Slot::Name, &label(target, cx)), (Slot::Currency, currency)],
        ),
        BuyStep::AirtimeConfirm { target, quote } => cx.tf(
            Msg::AirtimeConfirm,
            &[
                (Slot::Amount, &cx.money(quote.amount)),
                (Slot::Name, &label(target, cx)),
                (Slot::Fee, &cx.fee(quote.fee)),
            ],
        ),
        BuyStep::Categories => {
            let names: Vec<Msg> = categories(cx).into_iter().map(category_name).collect();
            view::menu(cx, Some(cx.t(Msg::CategoriesTitle)), &names)
        }
        BuyStep::Products {
            category,
            items,
            skip,
            more,
            ..
        } => products_page(*category, items, *skip, *more, cx).text,
        BuyStep::ProductConfirm { product } => cx.tf(
            Msg::ProductConfirm,
            &[
                (Slot::Item, &product.name),
                (Slot::Amount, &cx.money(product.price)),
            ],
        ),
    };
    Body::nav(text)
}
