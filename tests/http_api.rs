//! The HTTP service, served for real on a loopback port and called with a real client.

use std::net::TcpListener;

use mkoba::http::error::rejection_status;
use mkoba::store::Backend;
use mkoba_ledger::{Rejection, Tier, TxnKind};
use serde_json::{json, Value};

use crate::support::TestEnv;

const TOKEN: &str = "test-admin-token-0123456789abcdef";

pub struct Running {
    pub env: TestEnv,
    pub base: String,
    pub client: reqwest::Client,
    pub runtime: tokio::runtime::Runtime,
}

fn spawn(backend: Backend) -> Running {
    spawn_with(backend, |_| {})
}

/// The real server on a loopback port, over a fresh database, with adjusted configuration.
pub fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut mkoba::config::Config)) -> Running {
    let env = TestEnv::start_with(backend, adjust);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = {
        let _guard = runtime.enter();
        mkoba::http::serve(env.app.clone(), listener).unwrap()
    };
    runtime.spawn(server);
    Running {
        env,
        base,
        client: reqwest::Client::new(),
        runtime,
    }
}

impl Running {
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> (u16, Value) {
        self.runtime.block_on(async {
            let url = format!("{}{path}", self.base);
            let mut req = match method {
                "FORM" => self.client.post(url),
                "GET" => self.client.get(url),
                _ => self.client.post(url),
            };
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            if let Some(b) = body {
                req = req.json(&b);
            }
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            let text = res.text().await.unwrap();
            (
                status,
                serde_json::from_str(&text).unwrap_or(Value::String(text)),
            )
        })
    }

    pub fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call("POST", path, Some(body), Some(TOKEN))
    }
}

#[test]
fn health_and_readiness_answer() {
    let s = spawn(Backend::Sqlite);
    assert_eq!(
        s.call("GET", "/healthz", None, None),
        (200, json!({ "status": "ok" }))
    );
    let (status, body) = s.call("GET", "/readyz", None, None);
    assert_eq!(status, 200);
    assert_eq!(body["migrations"], "current");
}

#[test]
fn postgres_health_and_readiness_answer() {
    let s = spawn(Backend::Postgres);
    assert_eq!(s.call("GET", "/healthz", None, None).0, 200);
    assert_eq!(s.call("GET", "/readyz", None, None).0, 200);
}

#[test]
fn the_ledger_api_needs_the_token() {
    let s = spawn(Backend::Sqlite);
    for token in [
        None,
        Some("wrong"),
        Some("test-admin-token-0123456789abcdeX"),
    ] {
        let (status, body) = s.call("GET", "/ops/v1/accounts/1", None, token);
        assert_eq!(status, 401);
        assert_eq!(body["error"], "unauthorized");
    }
}

#[test]
fn every_bad_amount_gets_its_named_rejection_and_writes_nothing() {
    let s = spawn(Backend::Sqlite);
    let (float, _) = s.env.agent("AG1", 1_000_000);
    let alice = s.env.customer("+254700100001", Tier::Tier1);
    let before = s.env.journal_size();
    let cases = [
        ("12.505", "amount_too_precise"),
        ("-5", "amount_negative"),
        ("1e3", "amount_invalid"),
        ("NaN", "amount_invalid"),
        ("", "amount_empty"),
        ("250000.01", "amount_exceeds_maximum"),
        ("0", "amount_not_positive"),
    ];
    for (amount, name) in cases {
        let (status, body) = s.post(
            "/ops/v1/transactions",
            json!({ "idempotency_key": format!("bad-{amount}"), "kind": "deposit", "debit_account_id": float.0,
                    "credit_account_id": alice.0, "amount": amount, "currency": "KES" }),
        );
        assert_eq!(
            (status, body["error"].as_str()),
            (422, Some(name)),
            "amount {amount:?}: {body}"
        );
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let (status, body) = s.post(
        "/ops/v1/transactions",
        json!({ "idempotency_key": "bad-ccy", "kind": "deposit", "debit_account_id": float.0,
                "credit_account_id": alice.0, "amount": "10", "currency": "XXX" }),
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (422, Some("currency_not_enabled"))
    );
    assert_eq!(
        s.env.journal_size(),
        before,
        "no rejected request wrote anything"
    );
    assert_eq!(s.env.balance(alice), 0);
}

#[test]
fn transactions_post_replay_and_refuse_key_reuse() {
    let s = spawn(Backend::Sqlite);
    let (float, _) = s.env.agent("AG1", 1_000_000);
    let alice = s.env.customer("+254700100001", Tier::Tier1);
    let body = json!({ "idempotency_key": "cash-1", "kind": "deposit", "debit_account_id": float.0,
                       "credit_account_id": alice.0, "amount": "12.50", "currency": "KES", "memo": "counter 1",
                       "metadata": { "till": 3 } });
    let (status, first) = s.post("/ops/v1/transactions", body.clone());
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["amount"], "12.50");
    assert_eq!(first["replayed"], false);
    let (status, again) = s.post("/ops/v1/transactions", body.clone());
    assert_eq!(status, 200);
    assert_eq!(again["replayed"], true);
    assert_eq!(again["code"], first["code"]);
    let mut changed = body;
    changed["amount"] = json!("12.51");
    let (status, refused) = s.post("/ops/v1/transactions", changed);
    assert_eq!(
        (status, refused["error"].as_str()),
        (409, Some("idempotency_key_reused"))
    );
    assert_eq!(s.env.balance(alice), 1_250);

    let (status, account) = s.call(
        "GET",
        &format!("/ops/v1/accounts/{}", alice.0),
        None,
        Some(TOKEN),
    );
    assert_eq!(status, 200);
    assert_eq!(account["balance"], "12.50");
    let (status, statement) = s.call(
        "GET",
        &format!("/ops/v1/accounts/{}/statement?limit=5", alice.0),
        None,
        Some(TOKEN),
    );
    assert_eq!(status, 200);
    assert_eq!(statement["lines"][0]["amount_minor"], 1_250);
    let id = first["transaction_id"].as_i64().unwrap();
    let (status, fetched) = s.call(
        "GET",
        &format!("/ops/v1/transactions/{id}"),
        None,
        Some(TOKEN),
    );
    assert_eq!((status, &fetched["code"]), (200, &first["code"]));
}

#[test]
fn pending_and_reversal_endpoints_work() {
    let s = spawn(Backend::Sqlite);
    let (float, _) = s.env.agent("AG1", 10_000_000);
    let alice = s.env.customer("+254700100001", Tier::Tier1);
    let bob = s.env.customer("+254700100002", Tier::Tier1);
    s.env.submit(TxnKind::Deposit, float, alice, 100_000);
    let (status, hold) = s.post(
        "/ops/v1/transactions",
        json!({ "idempotency_key": "hold-1", "kind": "transfer", "debit_account_id": alice.0, "credit_account_id": bob.0,
                "amount": "300", "currency": "KES", "pending_expiry_seconds": 25 }),
    );
    assert_eq!(
        (status, hold["phase"].as_str()),
        (201, Some("pending")),
        "{hold}"
    );
    let id = hold["transaction_id"].as_i64().unwrap();
    let (status, posted) = s.post(
        &format!("/ops/v1/pending/{id}/post"),
        json!({ "idempotency_key": "post-1", "amount": "100" }),
    );
    assert_eq!(
        (status, posted["amount"].as_str()),
        (201, Some("100.00")),
        "{posted}"
    );
    let (status, body) = s.post(
        &format!("/ops/v1/pending/{id}/void"),
        json!({ "idempotency_key": "void-1" }),
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("pending_already_posted"))
    );
    let post_id = posted["transaction_id"].as_i64().unwrap();
    let (status, body) = s.post(
        &format!("/ops/v1/transactions/{post_id}/reversals"),
        json!({ "idempotency_key": "rev-1" }),
    );
    assert_eq!(
        (status, body["kind"].as_str()),
        (201, Some("reversal")),
        "{body}"
    );
    assert_eq!(s.env.balance(bob), 0);
    s.env.assert_reconciles();
}

#[test]
fn malformed_requests_get_named_errors_not_crashes() {
    let s = spawn(Backend::Sqlite);
    let (status, body) = s.post("/ops/v1/transactions", json!({ "idempotency_key": 5 }));
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let (status, body) = s.call("GET", "/ops/v1/accounts/not-a-number", None, Some(TOKEN));
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let (status, body) = s.call("GET", "/no/such/route", None, None);
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));
    let (status, body) = s.call("GET", "/ops/v1/accounts/424242", None, Some(TOKEN));
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));
}

#[test]
fn every_rejection_maps_to_a_client_error() {
    for rejection in Rejection::ALL {
        let status = rejection_status(*rejection).as_u16();
        assert!(
            (400..500).contains(&status),
            "{} -> {status}",
            rejection.name()
        );
    }
}

/// The database goes away under a running server: clients get `503 store_unavailable` with
/// `Retry-After`, never a wrong answer; once it is back, retrying with the same key posts once.
#[test]
fn a_database_outage_answers_503_and_a_retry_posts_exactly_once() {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    let s = spawn_with(Backend::Postgres, |c| c.database.connect_timeout_ms = 500);
    let (float, _) = s.env.agent("AG1", 1_000_000);
    let alice = s.env.customer("+254700100001", Tier::Tier1);
    let mkoba::store::DatabaseUrl::Postgres(url) = s.env.db.url.clone() else {
        unreachable!()
    };
    let name = url.rsplit('/').next().unwrap().to_owned();
    let mut admin = diesel::PgConnection::establish(&crate::support::pg_admin_url()).unwrap();
    // The database disappears: every connection is cut and new ones cannot find it. (A
    // connection limit would not do: the tests connect as a superuser, whom limits do not bind.)
    let away = format!("{name}_away");
    let mut cut = |from: &str, to: &str| {
        for _ in 0..100 {
            let kill = format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{from}' AND pid <> pg_backend_pid()");
            admin.batch_execute(&kill).unwrap();
            if admin
                .batch_execute(&format!("ALTER DATABASE {from} RENAME TO {to}"))
                .is_ok()
            {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!("could not rename {from}");
    };
    cut(&name, &away);

    let body = json!({ "idempotency_key": "outage-1", "kind": "deposit", "debit_account_id": float.0,
                       "credit_account_id": alice.0, "amount": "100", "currency": "KES" });
    let (status, answer) = s.post("/ops/v1/transactions", body.clone());
    assert_eq!(
        (status, answer["error"].as_str()),
        (503, Some("store_unavailable")),
        "{answer}"
    );
    let (status, ready) = s.call("GET", "/readyz", None, None);
    assert_eq!(
        (status, ready["database"].as_str()),
        (503, Some("unreachable")),
        "{ready}"
    );

    cut(&away, &name);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let first = loop {
        let (status, answer) = s.post("/ops/v1/transactions", body.clone());
        if status != 503 {
            break (status, answer);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the server never recovered"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(first.0, 201, "{}", first.1);
    let (status, again) = s.post("/ops/v1/transactions", body);
    assert_eq!((status, again["replayed"].as_bool()), (200, Some(true)));
    assert_eq!(s.env.balance(alice), 10_000, "posted exactly once");
    assert_eq!(s.call("GET", "/readyz", None, None).0, 200);
    s.env.assert_reconciles();
}
