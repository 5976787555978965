//! Attacks that had no test of their own (the others are listed in `ops/RELIABILITY.md`):
//! PIN guessing in parallel and across many numbers, and SQL-looking input in every field an
//! outsider controls.

use std::sync::Arc;

use mkoba::pin::{self, verify_blocking, PinCheck};
use mkoba::store::parties;
use mkoba::store::Backend;
use mkoba_ledger::Tier;
use serde_json::json;

use crate::http_api::spawn_with;
use crate::support::TestEnv;

const PIN: &str = "4821";

fn customer_with_pin(env: &TestEnv, msisdn: &str) -> i64 {
    env.customer(msisdn, Tier::Tier1);
    let profile = parties::customer_profile(&mut env.conn(), msisdn)
        .unwrap()
        .unwrap();
    parties::set_pin(
        &mut env.conn(),
        profile.id,
        &env.app.hasher.hash(PIN).unwrap(),
    )
    .unwrap();
    profile.id
}

fn failures(env: &TestEnv, customer: i64) -> (i32, bool) {
    use diesel::prelude::*;
    use mkoba::store::schema::customers;
    mkoba::with_conn!(&mut *env.conn(), |c| customers::table
        .find(customer)
        .select((customers::pin_failures, customers::pin_locked))
        .first(c))
    .unwrap()
}

/// Twelve sessions send twelve wrong guesses for one wallet's PIN at the same moment. Each wrong
/// guess counts only while the count is under the limit, so exactly three are counted and at
/// most two are answered `Wrong`; every other guess is answered `Locked`, and the wallet is.
fn parallel_guesses_answer_at_most_three_pins(backend: Backend) {
    let env = TestEnv::start(backend);
    let customer = customer_with_pin(&env, "+254700400001");
    let app = Arc::clone(&env.app);
    let barrier = Arc::new(std::sync::Barrier::new(12));
    let handles: Vec<_> = (0..12)
        .map(|i| {
            let (app, barrier) = (Arc::clone(&app), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                verify_blocking(&app, customer, &format!("{:04}", 1000 + i)).unwrap()
            })
        })
        .collect();
    let results: Vec<PinCheck> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        failures(&env, customer),
        (3, true),
        "three guesses counted: {results:?}"
    );
    let wrong = results
        .iter()
        .filter(|r| matches!(r, PinCheck::Wrong { .. }))
        .count();
    assert!(wrong <= 2, "{results:?}");
    assert_eq!(
        results.iter().filter(|r| **r == PinCheck::Locked).count(),
        12 - wrong
    );
    assert_eq!(
        verify_blocking(&app, customer, PIN).unwrap(),
        PinCheck::Locked
    );
    // The lock was announced once, by whichever guess set it.
    let texts = env.sms_for("+254700400001", 10);
    assert_eq!(
        texts.iter().filter(|m| m.template == "pin_locked").count(),
        1,
        "{texts:?}"
    );
}

/// Wrong guess `i` of a test, settled: begun, checked and finished in one go.
fn wrong_guess(env: &TestEnv, customer: i64, i: u32) -> PinCheck {
    verify_blocking(&env.app, customer, &format!("{:04}", 1000 + i)).unwrap()
}

/// A check begun (the hash read) on a wallet that is still open, not yet settled.
fn begun(env: &TestEnv, customer: i64) -> pin::Attempt {
    pin::begin(&env.app, customer)
        .unwrap()
        .expect("an open wallet with a PIN")
}

/// The race a count taken before the check would have left open: the right PIN's check starts
/// while the wallet is open, and three wrong guesses lock it before that check is settled. The
/// right PIN is then refused like any other, and the wallet stays locked.
fn a_right_pin_checked_while_the_wallet_locked_is_refused(backend: Backend) {
    let env = TestEnv::start(backend);
    let customer = customer_with_pin(&env, "+254700400201");
    let right = begun(&env, customer);
    assert!(env.app.hasher.verify(PIN, right.hash()).unwrap());
    assert_eq!(
        (0..3)
            .map(|i| wrong_guess(&env, customer, i))
            .collect::<Vec<_>>(),
        [
            PinCheck::Wrong { attempts_left: 2 },
            PinCheck::Wrong { attempts_left: 1 },
            PinCheck::Locked
        ]
    );
    assert_eq!(
        pin::finish(&env.app, customer, true, &right).unwrap(),
        PinCheck::Locked
    );
    assert_eq!(failures(&env, customer), (3, true));
    // A check begun now reads nothing to hash against: it is refused before any argon2 work.
    assert!(pin::begin(&env.app, customer).unwrap().is_none());
}

/// A right PIN settles against the count as it stands after its check: one wrong guess counted
/// in between is cleared with it; a begun wrong guess settled after the lock changes nothing.
fn a_right_pin_clears_the_count_only_while_under_the_limit(backend: Backend) {
    let env = TestEnv::start(backend);
    let customer = customer_with_pin(&env, "+254700400202");
    let right = begun(&env, customer);
    let late_wrong = begun(&env, customer);
    assert_eq!(
        wrong_guess(&env, customer, 1),
        PinCheck::Wrong { attempts_left: 2 }
    );
    assert_eq!(failures(&env, customer), (1, false));
    assert_eq!(
        pin::finish(&env.app, customer, true, &right).unwrap(),
        PinCheck::Valid
    );
    assert_eq!(
        failures(&env, customer),
        (0, false),
        "the right PIN clears the count"
    );
    // Lock it, then settle the wrong guess begun while it was open: still three, still one SMS.
    for i in 2..5 {
        wrong_guess(&env, customer, i);
    }
    assert_eq!(failures(&env, customer), (3, true));
    assert_eq!(
        pin::finish(&env.app, customer, false, &late_wrong).unwrap(),
        PinCheck::Locked
    );
    assert_eq!(failures(&env, customer), (3, true));
    let texts = env.sms_for("+254700400202", 10);
    assert_eq!(
        texts.iter().filter(|m| m.template == "pin_locked").count(),
        1,
        "{texts:?}"
    );
}

/// An attacker holding the gateway token sprays common PINs over many numbers and many
/// sessions: every number locks after its third wrong PIN, wherever the guesses came from, and
/// from then on even the right PIN is refused.
fn spraying_pins_over_many_numbers_locks_each_after_three(backend: Backend) {
    let env = TestEnv::start(backend);
    let customers: Vec<i64> = (0..8)
        .map(|i| customer_with_pin(&env, &format!("+2547004001{i:02}")))
        .collect();
    let common = ["0000", "1234", "1111", "2580", "9999"];
    let mut checked = 0;
    for guess in common {
        for customer in &customers {
            match verify_blocking(&env.app, *customer, guess).unwrap() {
                PinCheck::Valid => panic!("{guess} is not the PIN"),
                PinCheck::Wrong { .. } => checked += 1,
                PinCheck::Locked => {}
            }
        }
    }
    assert_eq!(
        checked,
        2 * customers.len(),
        "two wrong PINs per number, then the lock"
    );
    for customer in &customers {
        assert_eq!(failures(&env, *customer), (3, true));
        assert_eq!(
            verify_blocking(&env.app, *customer, PIN).unwrap(),
            PinCheck::Locked
        );
    }
}

const SQL: [&str; 6] = [
    "' OR '1'='1",
    "'; DROP TABLE transactions; --",
    "1; DELETE FROM accounts",
    "\" OR \"\"=\"",
    "x' UNION SELECT pin_hash FROM customers --",
    "%'; UPDATE accounts SET balance_minor=1e9 --",
];

/// SQL-looking text in every field an outsider types: the operator API's keys, memos, paths and
/// query strings, the USSD gateway fields and menu inputs. All of it is data: stored verbatim or
/// refused by name, never a server error, and every table is intact afterwards.
fn sql_looking_input_is_only_ever_data(backend: Backend) {
    let s = spawn_with(backend, |_| {});
    let (float, _) = s.env.agent("AG1", 10_000_000);
    let wallet = s.env.customer("+254700400200", Tier::Tier1);
    let gateway = s.env.app.ussd_token.expose().to_owned();
    for (i, text) in SQL.iter().enumerate() {
        // Keys are printable ASCII without spaces: a spaced one is refused by name.
        let spaced = json!({ "idempotency_key": text, "kind": "deposit", "debit_account_id": float.0,
            "credit_account_id": wallet.0, "amount": "10.00", "currency": "KES" });
        let (status, refused) = s.post("/ops/v1/transactions", spaced);
        if text.contains(' ') {
            assert_eq!(
                (status, &refused["error"]),
                (422, &json!("idempotency_key_invalid"))
            );
        }
        let key = format!("{}-{i}", text.replace(' ', "_"));
        let body = json!({ "idempotency_key": key, "kind": "deposit", "debit_account_id": float.0,
            "credit_account_id": wallet.0, "amount": "10.00", "currency": "KES", "memo": text,
            "metadata": { "note": text } });
        let (status, receipt) = s.post("/ops/v1/transactions", body.clone());
        assert_eq!(status, 201, "{text}: {receipt}");
        let (again, replay) = s.post("/ops/v1/transactions", body);
        assert_eq!(
            (again, &replay["transaction_id"]),
            (200, &receipt["transaction_id"]),
            "{text}"
        );
        let encoded: String = text.bytes().map(|b| format!("%{b:02X}")).collect();
        for path in [
            format!("/ops/v1/accounts/{encoded}"),
            format!("/ops/v1/transactions/{encoded}"),
            format!(
                "/ops/v1/accounts/{}/statement?before={encoded}&limit={encoded}",
                wallet.0
            ),
        ] {
            let (status, answer) = s.call(
                "GET",
                &path,
                None,
                Some("test-admin-token-0123456789abcdef"),
            );
            assert!((400..500).contains(&status), "{path}: {status} {answer}");
        }
        // The gateway's own fields, and menu input: a polite END or the menu, never an error.
        for form in [
            vec![
                ("sessionId", text.to_string()),
                ("phoneNumber", "+254700400200".into()),
                ("text", text.to_string()),
            ],
            vec![
                ("sessionId", format!("s{i}")),
                ("phoneNumber", text.to_string()),
                ("text", String::new()),
            ],
            vec![
                ("sessionId", format!("r{i}")),
                ("phoneNumber", "+254700400300".into()),
                ("text", format!("1*{text}")),
            ],
        ] {
            let (status, reply) = s.runtime.block_on(async {
                let res = s
                    .client
                    .post(format!("{}/ussd/africastalking?token={gateway}", s.base))
                    .form(&form)
                    .send()
                    .await
                    .unwrap();
                (res.status().as_u16(), res.text().await.unwrap())
            });
            assert_eq!(status, 200, "{form:?}");
            assert!(
                reply.starts_with("CON ") || reply.starts_with("END "),
                "{reply}"
            );
        }
    }
    // Every row is where it should be: one deposit per payload, balances reconcile.
    let mut conn = s.env.conn();
    let report = mkoba::store::reconcile::run(&mut conn).unwrap();
    assert!(report.balanced(), "{:?}", report.mismatches);
    let spaceless = SQL.iter().filter(|t| !t.contains(' ')).count() as i64;
    assert_eq!(
        s.env.available(wallet),
        1_000 * (SQL.len() as i64 + spaceless)
    );
    for (i, text) in SQL.iter().enumerate() {
        let key = format!("{}-{i}", text.replace(' ', "_"));
        let stored = mkoba::store::reads::transaction_by_key(&mut conn, &key).unwrap();
        assert!(stored.is_some(), "{key} stored verbatim as a key");
    }
}

macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $(#[test] fn $name() { super::$name(mkoba::store::Backend::Sqlite) })* }
        mod postgres { $(#[test] fn $name() { super::$name(mkoba::store::Backend::Postgres) })* }
    };
}

both_backends!(
    parallel_guesses_answer_at_most_three_pins,
    a_right_pin_checked_while_the_wallet_locked_is_refused,
    a_right_pin_clears_the_count_only_while_under_the_limit,
    spraying_pins_over_many_numbers_locks_each_after_three,
    sql_looking_input_is_only_ever_data,
);
