//! Worlds of test data at and beyond the bounds the server must keep to.

use proptest::prelude::*;

use super::*;

/// Characters for generated names: plain, GSM-7 extension (two septets each), accented
/// letters to transliterate, and things to drop.
const NAME_CHARS: &[char] = &[
    'A', 'M', 'W', 'z', ' ', '€', '{', '|', 'é', 'ê', 'Ç', 'ç', 'ñ', 'Ω', '😀', '\n', '…', '-',
];

pub(super) fn text(min: usize, max: usize) -> impl Strategy<Value = String> {
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
    pub(super) fn big_world()(
        currency in prop::sample::select(&Currency::ALL[..]),
        names in prop::collection::vec(prop_oneof![3 => text(20, 60), 1 => "[A-Z]{30,40}"], 8),
        amounts in prop::collection::vec(money(), 6),
        code in "[A-Z2-9]{10,16}",
        date in "[0-9/]{5,8}",
        attempts_left in 0_u32..200,
        statement_len in 0_usize..14,
        products_len in 0_usize..12,
        allowances_len in 0_usize..13,
    ) -> World {
        let m = |i: usize| Money::from_minor(amounts[i % amounts.len()], currency);
        let name = |i: usize| names[i % names.len()].clone();
        let mut world = World::typical();
        world.currency = currency;
        world.attempts_left = attempts_left;
        world.recipient_name = name(0);
        world.customer_name = name(7);
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
            if a.kind == ApprovalKind::Allowance {
                a.per_charge_max = Some(m(i + 4));
                a.until = Some(date.clone());
            } else {
                a.description = Some(name(i + 5));
            }
        }
        world.allowances = (0..allowances_len)
            .map(|i| AllowanceItem {
                id: format!("al{i}"),
                merchant: name(i + 1),
                cap: m(i),
                spent: m(i + 1),
                per_charge_max: m(i + 2),
                until: date.clone(),
            })
            .collect();
        world.until = date.clone();
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

/// Every text at its bound (and beyond, to be cut), every amount the largest, in `currency`.
pub(super) fn worst_world(currency: Currency) -> World {
    let long = "W".repeat(40);
    let max = Money::from_minor(bounds::MONEY_MINOR_MAX, currency);
    let mut world = World::typical();
    world.currency = currency;
    world.attempts_left = 99;
    world.recipient_name = long.clone();
    world.customer_name = long.clone();
    world.agent_name = long.clone();
    world.merchant_name = long.clone();
    world.fee = max;
    world.balance = max;
    world.code = long.clone();
    world.products = (0..12)
        .map(|i| Product {
            id: format!("p{i}"),
            name: long.clone(),
            price: max,
        })
        .collect();
    world.approvals = (0..12)
        .map(|i| worst_approval(i, worst_kind(i), currency))
        .collect();
    world.allowances = (0..12)
        .map(|i| AllowanceItem {
            id: format!("al{i}"),
            merchant: long.clone(),
            cap: max,
            spent: max,
            per_charge_max: max,
            until: long.clone(),
        })
        .collect();
    world.until = long.clone();
    world.statement = (0..12)
        .map(|i| StatementEntry {
            date: long.clone(),
            kind: TxnKind::ALL[i % TxnKind::ALL.len()],
            incoming: false,
            amount: max,
            counterparty: long.clone(),
        })
        .collect();
    world.recent = (0..6)
        .map(|i| SentItem {
            code: format!("C{i}"),
            to_label: long.clone(),
            amount: max,
            date: long.clone(),
        })
        .collect();
    world.limits = LimitsInfo {
        tier: Tier::Tier2,
        per_transaction: max,
        daily: max,
        daily_left: max,
        balance_max: max,
    };
    world
}

/// The kinds of request in turn, so that lists mix them.
pub(super) fn worst_kind(i: usize) -> ApprovalKind {
    [
        ApprovalKind::Withdrawal,
        ApprovalKind::MerchantPayment,
        ApprovalKind::Allowance,
    ][i % 3]
}

/// A request of `kind` with every text beyond its bound and every amount the largest.
pub(super) fn worst_approval(i: usize, kind: ApprovalKind, currency: Currency) -> ApprovalRequest {
    let long = "W".repeat(40);
    let max = Money::from_minor(bounds::MONEY_MINOR_MAX, currency);
    let allowance = kind == ApprovalKind::Allowance;
    ApprovalRequest {
        id: format!("a{i}"),
        kind,
        counterparty: long.clone(),
        amount: max,
        fee: if allowance {
            Money::zero(currency)
        } else {
            max
        },
        per_charge_max: allowance.then_some(max),
        until: allowance.then(|| long.clone()),
        description: (!allowance).then(|| long.clone()),
    }
}
