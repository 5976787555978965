//! SMS: providers against real local HTTP stubs, the outbox written with the ledger transaction,
//! dispatch with retries, several dispatchers at once, inbound commands over signed webhooks.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use mkoba::config::{Config, Secret};
use mkoba::sms::dispatcher::Dispatcher;
use mkoba::sms::outbox;
use mkoba::sms::provider::{Provider, SendOutcome};
use mkoba::store::writer::Clock;
use mkoba::store::Backend;
use mkoba_ledger::{Outcome, Tier, TxnKind};
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::support::TestEnv;

pub const SID: &str = "AC0123456789abcdef0123456789abcdef";
pub const TOKEN: &str = "twilio-auth-token-for-tests";
const MESSAGES_PATH: &str = "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json";

pub fn twilio_config(config: &mut Config, base_url: &str) {
    config.sms.provider = "twilio".into();
    config.sms.twilio.base_url = base_url.into();
    config.sms.twilio.account_sid = SID.into();
    config.sms.twilio.auth_token = Secret::new(TOKEN.into());
    config.sms.twilio.from = "MKOBA".into();
    config.sms.request_timeout_ms = 500;
    config.sms.retry_base_ms = 1_000;
    config.server.public_url = "https://mkoba.example.com".into();
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn form(request: &Request) -> BTreeMap<String, String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(&request.body)
        .unwrap()
        .into_iter()
        .collect()
}

fn created(sid: &str) -> ResponseTemplate {
    ResponseTemplate::new(201)
        .set_body_json(json!({ "sid": sid, "status": "queued", "num_segments": "1" }))
}

/// Answers like Twilio: 201 with a fresh message sid each time.
struct UniqueSids(std::sync::atomic::AtomicU64);

impl wiremock::Respond for UniqueSids {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        created(&format!("SM{n:032}")).set_delay(Duration::from_millis(5))
    }
}

fn twilio_error(status: u16, code: i64) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(
        json!({ "code": code, "message": "refused", "more_info": "", "status": status }),
    )
}

fn twilio_provider(base: &str) -> Provider {
    let mut config = Config::default();
    twilio_config(&mut config, base);
    Provider::from_config(
        &config.sms,
        "https://mkoba.example.com/sms/twilio/status".into(),
    )
    .unwrap()
}

#[test]
fn twilio_requests_are_exact_and_errors_are_classified() {
    let rt = runtime();
    rt.block_on(async {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(MESSAGES_PATH))
            .and(header("authorization", "Basic QUMwMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZjp0d2lsaW8tYXV0aC10b2tlbi1mb3ItdGVzdHM="))
            .and(header("content-type", "application/x-www-form-urlencoded"))
            .respond_with(created("SM0001"))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        let provider = twilio_provider(&server.uri());
        let outcome = provider.send(1, "+254700000001", "Hello & welcome +1").await;
        assert_eq!(outcome, SendOutcome::Accepted { provider_message_id: "SM0001".into() });
        let sent = form(&server.received_requests().await.unwrap()[0]);
        assert_eq!(sent.get("To").map(String::as_str), Some("+254700000001"));
        assert_eq!(sent.get("Body").map(String::as_str), Some("Hello & welcome +1"));
        assert_eq!(sent.get("From").map(String::as_str), Some("MKOBA"));
        assert_eq!(sent.get("StatusCallback").map(String::as_str), Some("https://mkoba.example.com/sms/twilio/status"));
        assert_eq!(sent.len(), 4);

        let cases: [(ResponseTemplate, &str); 6] = [
            (twilio_error(400, 21211), "permanent"),
            (twilio_error(400, 21610), "permanent"),
            (twilio_error(400, 21614), "permanent"),
            (twilio_error(429, 20429).insert_header("Retry-After", "7"), "retry 7"),
            (ResponseTemplate::new(500).set_body_string("oops"), "retry"),
            (created("SM9").set_delay(Duration::from_secs(3)), "retry"),
        ];
        for (response, expected) in cases {
            server.reset().await;
            Mock::given(method("POST")).respond_with(response).mount(&server).await;
            let outcome = provider.send(2, "+254700000001", "x").await;
            match (expected, &outcome) {
                ("permanent", SendOutcome::Permanent { .. }) | ("retry", SendOutcome::Retry { .. }) => {}
                ("retry 7", SendOutcome::Retry { after: Some(after), .. }) if *after == Duration::from_secs(7) => {}
                _ => panic!("expected {expected}, got {outcome:?}"),
            }
        }
    });
}

#[test]
fn africas_talking_reads_per_recipient_status_inside_a_201() {
    let rt = runtime();
    rt.block_on(async {
        let server = MockServer::start().await;
        let mut config = Config::default();
        config.sms.provider = "africastalking".into();
        config.sms.africastalking.base_url = server.uri();
        config.sms.africastalking.username = "sandbox".into();
        config.sms.africastalking.api_key = Secret::new("at-api-key".into());
        config.sms.africastalking.from = "MKOBA".into();
        config.sms.request_timeout_ms = 500;
        let provider = Provider::from_config(&config.sms, String::new()).unwrap();
        let body = |code: i64, status: &str| {
            json!({ "SMSMessageData": { "Message": "Sent to 1/1", "Recipients": [
                { "statusCode": code, "number": "+254700000001", "status": status, "cost": "KES 0.8000", "messageId": "ATXid_1" }
            ]}})
        };
        let cases = [
            (ResponseTemplate::new(201).set_body_json(body(101, "Success")), "accepted"),
            (ResponseTemplate::new(201).set_body_json(body(403, "InvalidPhoneNumber")), "permanent"),
            (ResponseTemplate::new(201).set_body_json(body(406, "UserInBlacklist")), "permanent"),
            (ResponseTemplate::new(201).set_body_json(body(500, "InternalServerError")), "retry"),
            (ResponseTemplate::new(201).set_body_json(body(405, "InsufficientBalance")), "retry"),
            (ResponseTemplate::new(503), "retry"),
        ];
        for (response, expected) in cases {
            server.reset().await;
            Mock::given(method("POST"))
                .and(path("/version1/messaging"))
                .and(header("apiKey", "at-api-key"))
                .and(header("accept", "application/json"))
                .respond_with(response)
                .mount(&server)
                .await;
            let outcome = provider.send(1, "+254700000001", "Habari").await;
            match (expected, &outcome) {
                ("accepted", SendOutcome::Accepted { provider_message_id }) => assert_eq!(provider_message_id, "ATXid_1"),
                ("permanent", SendOutcome::Permanent { .. }) | ("retry", SendOutcome::Retry { .. }) => {}
                _ => panic!("expected {expected}, got {outcome:?}"),
            }
            let sent = form(&server.received_requests().await.unwrap()[0]);
            assert_eq!(sent.get("username").map(String::as_str), Some("sandbox"));
            assert_eq!(sent.get("to").map(String::as_str), Some("+254700000001"));
            assert_eq!(sent.get("message").map(String::as_str), Some("Habari"));
            assert_eq!(sent.get("from").map(String::as_str), Some("MKOBA"));
        }
    });
}

fn outbox_rows(env: &TestEnv, recipient: &str) -> Vec<outbox::OutboxRow> {
    env.sms_for(recipient, 100)
}

macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $(#[test] fn $name() { super::$name(mkoba::store::Backend::Sqlite) })* }
        mod postgres { $(#[test] fn $name() { super::$name(mkoba::store::Backend::Postgres) })* }
    };
}

both_backends!(
    confirmations_are_written_with_the_payment_and_only_then,
    dispatch_retries_then_sends_and_stops_on_permanent_errors,
    outcomes_recorded_together_end_as_outcomes_recorded_alone,
    a_slot_is_freed_only_once_its_outcome_is_committed,
    unreadable_parameters_fail_the_message_and_are_never_sent
);

fn confirmations_are_written_with_the_payment_and_only_then(backend: Backend) {
    let env = TestEnv::start(backend);
    let (float, _) = env.agent("AG1", 10_000_000);
    let alice = env.customer("+254700100001", Tier::Tier1);
    let bob = env.customer("+254700100002", Tier::Tier1);
    env.submit(TxnKind::Deposit, float, alice, 100_000);
    let sent = env.submit(TxnKind::Transfer, alice, bob, 50_000);
    let code = sent.receipt().unwrap().code.clone();
    let to_alice = outbox_rows(&env, "+254700100001");
    let to_bob = outbox_rows(&env, "+254700100002");
    assert_eq!(
        to_alice
            .iter()
            .map(|r| r.template.as_str())
            .collect::<Vec<_>>(),
        ["sent", "cash_in"]
    );
    let to_alice_text = to_alice[0].text().unwrap();
    assert!(
        to_alice_text.starts_with(&format!(
            "{code} Confirmed. KES500.00 sent to TEST C*** 0700***002"
        )),
        "{to_alice_text}"
    );
    assert!(
        to_alice_text.contains("Fee KES7.00. Balance KES493.00."),
        "{to_alice_text}"
    );
    assert_eq!(to_bob.len(), 1);
    let to_bob_text = to_bob[0].text().unwrap();
    assert!(to_bob_text.contains("received KES500.00"), "{to_bob_text}");
    assert_eq!(to_bob[0].status, "queued");
    // The ledger writer stored the confirmations as their parameters, not as text; they are
    // rendered when read or sent.
    let stored = stored_rows(&env);
    let kept: Vec<_> = stored
        .iter()
        .filter(|r| r.recipient == "+254700100001" && r.template == "sent")
        .collect();
    assert_eq!(kept.len(), 1);
    assert_eq!((kept[0].body.as_deref(), kept[0].segments), (None, None));
    let params = kept[0].params.as_deref().unwrap();
    assert!(params.len() < 100 && params.contains(&code), "{params}");

    // A rejected payment sends nothing.
    let before = env.outbox_counts();
    assert!(env
        .submit(TxnKind::Transfer, bob, alice, 9_999_999)
        .rejection()
        .is_some());
    assert_eq!(env.outbox_counts(), before);

    // If queueing the confirmation fails, the payment rolls back with it: neither exists.
    let refuse = |table: &str| -> String {
        match backend {
            Backend::Sqlite => format!(
                "CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} \
                 BEGIN SELECT RAISE(ABORT, 'no sms'); END;"
            ),
            Backend::Postgres => format!(
                "CREATE FUNCTION refuse_{table}() RETURNS trigger AS $$ \
                   BEGIN RAISE EXCEPTION 'no sms'; END; $$ LANGUAGE plpgsql; \
                 CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} \
                   FOR EACH ROW EXECUTE FUNCTION refuse_{table}();"
            ),
        }
    };
    let mut conn = env.db.connect();
    mkoba::with_conn!(&mut conn, |c| c
        .batch_execute(&refuse("sms_confirmations_due")))
    .unwrap();
    let journal = env.journal_size();
    let balances = (env.balance(alice), env.balance(bob));
    let result = env
        .app
        .writer
        .submit_blocking(mkoba_ledger::Command::Submit(env.request(
            TxnKind::Transfer,
            alice,
            bob,
            1_000,
        )));
    assert!(
        result.is_err(),
        "the payment must fail with its SMS: {result:?}"
    );
    assert_eq!(env.journal_size(), journal);
    assert_eq!((env.balance(alice), env.balance(bob)), balances);
    env.assert_reconciles();

    // Once queued, a confirmation is never lost: if its messages cannot be written, it waits,
    // the payment stands, and the next expansion makes them.
    let unrefuse = |table: &str| -> String {
        match backend {
            Backend::Sqlite => format!("DROP TRIGGER refuse_{table}"),
            Backend::Postgres => format!("DROP TRIGGER refuse_{table} ON {table}"),
        }
    };
    mkoba::with_conn!(&mut conn, |c| c
        .batch_execute(&unrefuse("sms_confirmations_due")))
    .unwrap();
    mkoba::with_conn!(&mut conn, |c| c.batch_execute(&refuse("sms_outbox"))).unwrap();
    let before = mkoba::sms::outbox::counts(&mut env.conn()).unwrap();
    let paid = env.submit(TxnKind::Transfer, alice, bob, 1_000);
    let paid = paid.receipt().expect("accepted").code.clone();
    let failed = mkoba::sms::due::expand_all(&mut env.conn(), &env.app.notify);
    assert!(failed.is_err(), "{failed:?}");
    assert_eq!(mkoba::sms::due::waiting(&mut env.conn()).unwrap(), 1);
    assert_eq!(mkoba::sms::outbox::counts(&mut env.conn()).unwrap(), before);
    mkoba::with_conn!(&mut conn, |c| c.batch_execute(&unrefuse("sms_outbox"))).unwrap();
    let expanded = env.expand_confirmations();
    assert_eq!((expanded.confirmations, expanded.messages), (1, 2));
    assert_eq!(mkoba::sms::due::waiting(&mut env.conn()).unwrap(), 0);
    let newest = outbox_rows(&env, "+254700100002")[0].text().unwrap();
    assert!(newest.starts_with(&paid), "{newest}");
    env.assert_reconciles();
}

fn dispatch_retries_then_sends_and_stops_on_permanent_errors(backend: Backend) {
    let rt = runtime();
    let server = rt.block_on(MockServer::start());
    let env = TestEnv::start_with(backend, |c| twilio_config(c, &server.uri()));
    let (float, _) = env.agent("AG1", 10_000_000);
    let alice = env.customer("+254700100001", Tier::Tier1);
    let bob = env.customer("+254700100002", Tier::Tier1);
    let dispatcher = Dispatcher::new(
        env.app.pool.clone(),
        Arc::clone(&env.app.sms),
        env.app.config.sms.clone(),
        env.app.notify.clone(),
        env.clock.clone() as Arc<dyn Clock>,
    );
    // Set-up messages (the agent's float) go out first, so the rest of the story starts clean.
    rt.block_on(async {
        Mock::given(method("POST"))
            .respond_with(created("SM0"))
            .mount(&server)
            .await;
        dispatcher.dispatch_once().await.unwrap();
        server.reset().await;
        // Alice's first message is rate limited, then accepted; Bob's number is refused for good.
        Mock::given(method("POST"))
            .and(wiremock::matchers::body_string_contains(
                "To=%2B254700100001",
            ))
            .respond_with(twilio_error(429, 20429).insert_header("Retry-After", "5"))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(wiremock::matchers::body_string_contains(
                "To=%2B254700100002",
            ))
            .respond_with(twilio_error(400, 21610))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(created("SM1"))
            .mount(&server)
            .await;
    });
    assert!(matches!(
        env.submit(TxnKind::Deposit, float, alice, 100_000),
        Outcome::Accepted(_)
    ));
    assert_eq!(
        rt.block_on(dispatcher.dispatch_once()).unwrap(),
        2,
        "the customer's and the agent's"
    );
    let row = &outbox_rows(&env, "+254700100001")[0];
    assert_eq!(
        (row.status.as_str(), row.attempts),
        ("queued", 1),
        "{row:?}"
    );
    assert!(
        row.next_attempt_at >= env.clock.now().0 + 5_000_000,
        "Retry-After is honoured"
    );
    assert_eq!(
        rt.block_on(dispatcher.dispatch_once()).unwrap(),
        0,
        "not due yet"
    );
    env.clock.advance_seconds(6);
    assert_eq!(rt.block_on(dispatcher.dispatch_once()).unwrap(), 1);
    let row = &outbox_rows(&env, "+254700100001")[0];
    assert_eq!(
        (row.status.as_str(), row.provider_message_id.as_deref()),
        ("sent", Some("SM1"))
    );

    env.submit(TxnKind::Deposit, float, bob, 100_000);
    rt.block_on(dispatcher.dispatch_once()).unwrap();
    let row = &outbox_rows(&env, "+254700100002")[0];
    assert_eq!(row.status, "failed");
    assert!(
        row.last_error
            .as_deref()
            .unwrap_or_default()
            .contains("21610"),
        "{row:?}"
    );

    // A provider that is down past the deadline: the message is given up and recorded.
    env.submit(TxnKind::Transfer, alice, bob, 100);
    rt.block_on(async {
        server.reset().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(503))
            .mount(&server)
            .await;
    });
    env.clock
        .advance_seconds(env.app.config.sms.deadline_seconds + 1);
    rt.block_on(dispatcher.dispatch_once()).unwrap();
    let counts = env.outbox_counts();
    assert_eq!(counts.get("queued"), None, "{counts:?}");
    // Bob's refused cash-in message, and the send's two messages that outlived the deadline.
    assert_eq!(counts.get("failed"), Some(&3), "{counts:?}");
}

/// Two dispatchers (as two processes would run) over one PostgreSQL never send a message twice.
#[test]
fn postgres_two_dispatchers_send_each_message_once() {
    let rt = runtime();
    let server = rt.block_on(MockServer::start());
    rt.block_on(
        Mock::given(method("POST"))
            .respond_with(UniqueSids(0.into()))
            .mount(&server),
    );
    let env = TestEnv::start_with(Backend::Postgres, |c| {
        twilio_config(c, &server.uri());
        c.sms.dispatch_batch_max = 20;
    });
    let (float, _) = env.agent("AG1", 100_000_000);
    let wallets: Vec<_> = (0..100)
        .map(|i| env.customer(&format!("+2547003{i:05}"), Tier::Tier1))
        .collect();
    for w in &wallets {
        env.submit(TxnKind::Deposit, float, *w, 10_000);
    }
    // The confirmations wait: the two dispatchers expand them side by side as well.
    assert_eq!(
        mkoba::sms::due::waiting(&mut env.conn()).unwrap(),
        1 + 100,
        "the agent's float, then each cash-in"
    );
    assert!(mkoba::sms::outbox::counts(&mut env.conn())
        .unwrap()
        .is_empty());
    let make = || {
        Dispatcher::new(
            env.app.pool.clone(),
            Arc::clone(&env.app.sms),
            env.app.config.sms.clone(),
            env.app.notify.clone(),
            env.clock.clone() as Arc<dyn Clock>,
        )
    };
    let (a, b) = (make(), make());
    rt.block_on(async {
        loop {
            let (x, y) = tokio::join!(a.dispatch_once(), b.dispatch_once());
            if x.unwrap() + y.unwrap() == 0 {
                break;
            }
        }
    });
    assert_eq!(mkoba::sms::due::waiting(&mut env.conn()).unwrap(), 0);
    let requests = rt.block_on(server.received_requests()).unwrap();
    assert_eq!(
        requests.len(),
        1 + 200,
        "each message (the float's, then a customer's and an agent's per cash-in) sent once"
    );
    let mut seen = std::collections::HashSet::new();
    for r in &requests {
        let f = form(r);
        assert!(
            seen.insert((f["To"].clone(), f["Body"].clone())),
            "sent twice: {f:?}"
        );
    }
    assert_eq!(env.outbox_counts().get("sent"), Some(&201));
}

/// Posts a Twilio-signed form to the running server, as Twilio would.
fn signed_post(
    s: &crate::http_api::Running,
    path: &str,
    params: &[(&str, &str)],
    valid: bool,
) -> u16 {
    let owned: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let url = format!("https://mkoba.example.com{path}");
    let signature = if valid {
        mkoba::sms::provider::twilio::signature(TOKEN, &url, &owned)
    } else {
        "bogus".into()
    };
    s.runtime.block_on(async {
        s.client
            .post(format!("{}{path}", s.base))
            .header("X-Twilio-Signature", signature)
            .form(&owned)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    })
}

#[test]
fn inbound_commands_answer_by_sms_and_expose_fake_codes() {
    let s =
        crate::http_api::spawn_with(Backend::Sqlite, |c| twilio_config(c, "http://127.0.0.1:9"));
    let (float, _) = s.env.agent("AG1", 10_000_000);
    let alice = s.env.customer("+254700100001", Tier::Tier1);
    let bob = s.env.customer("+254700100002", Tier::Tier1);
    s.env.submit(TxnKind::Deposit, float, alice, 100_000);
    let code = s
        .env
        .submit(TxnKind::Transfer, alice, bob, 20_000)
        .receipt()
        .unwrap()
        .code
        .clone();
    // The transfer's messages are made, as a dispatcher round would, before anyone texts in.
    s.env.expand_confirmations();
    let last = |to: &str| outbox_rows(&s.env, to)[0].text().unwrap();
    let text = |from: &str, body: &str| {
        signed_post(
            &s,
            "/sms/twilio/inbound",
            &[
                ("From", from),
                ("To", "MKOBA"),
                ("Body", body),
                ("MessageSid", "SM1"),
            ],
            true,
        )
    };

    assert_eq!(
        signed_post(
            &s,
            "/sms/twilio/inbound",
            &[("From", "+254700100001"), ("Body", "BAL")],
            false
        ),
        403
    );
    assert_eq!(text("+254700100001", "bal"), 200);
    assert!(
        last("+254700100001").starts_with("mkoba: balance KES793.00"),
        "{}",
        last("+254700100001")
    );
    assert_eq!(text("0700100002", &format!("CHECK {code}")), 200);
    assert!(
        last("+254700100002").contains("is GENUINE: KES200.00"),
        "{}",
        last("+254700100002")
    );
    assert_eq!(text("+254700100009", &format!("check {code}")), 200);
    assert!(
        last("+254700100009").contains("genuine transaction code, but you are not a party"),
        "{}",
        last("+254700100009")
    );
    assert_eq!(text("+254700100002", "CHECK QK7ZD3MPWA"), 200);
    assert!(
        last("+254700100002").contains("is NOT a real transaction"),
        "{}",
        last("+254700100002")
    );
    assert_eq!(text("+254700100002", "SALIO"), 200);
    assert!(
        last("+254700100002").starts_with("mkoba: balance"),
        "registered customers are answered in their language"
    );
    assert_eq!(text("+254700100009", "MSAADA"), 200);
    assert!(
        last("+254700100009").starts_with("mkoba SMS: SALIO"),
        "an unknown sender is answered in the keyword's language"
    );
    assert_eq!(text("+254700100001", "STOP"), 200);
    assert!(last("+254700100001").contains("no longer get offers"));
    assert_eq!(text("+254700100009", "hello?"), 200);
    assert!(last("+254700100009").starts_with("mkoba SMS: BAL"));

    // Delivery status callbacks move messages to their final state.
    let sent = outbox_rows(&s.env, "+254700100002")
        .into_iter()
        .find(|r| r.template == "received")
        .unwrap();
    let mut conn = s.env.conn();
    mkoba::with_conn!(&mut *conn, |c| c.batch_execute(&format!(
        "UPDATE sms_outbox SET status = 'sent', provider = 'twilio', provider_message_id = 'SMdeliv' WHERE id = {}",
        sent.id
    )))
    .unwrap();
    let status = [
        ("MessageSid", "SMdeliv"),
        ("MessageStatus", "delivered"),
        ("AccountSid", SID),
    ];
    assert_eq!(signed_post(&s, "/sms/twilio/status", &status, false), 403);
    assert_eq!(signed_post(&s, "/sms/twilio/status", &status, true), 204);
    let row = outbox_rows(&s.env, "+254700100002")
        .into_iter()
        .find(|r| r.id == sent.id)
        .unwrap();
    assert_eq!(row.status, "delivered");
    assert!(row.delivered_at.is_some());
}

/// Queue messages, kill the server with SIGKILL while it dispatches, start it again: every message
/// is delivered, and only the few in flight at the kill can go twice.
#[test]
fn a_killed_dispatcher_loses_nothing() {
    use std::process::{Command, Stdio};
    const MESSAGES: usize = 60;
    const CONCURRENCY: usize = 4;
    let rt = runtime();
    let server = rt.block_on(MockServer::start());
    rt.block_on(
        Mock::given(method("POST"))
            .respond_with(SlowUniqueSids(0.into()))
            .mount(&server),
    );
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data/mkoba.db");
    let mkoba = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mkoba"));
        for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("MKOBA_")) {
            cmd.env_remove(key);
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        cmd.current_dir(dir.path())
            .args(args)
            .env_remove("DATABASE_URL")
            .env("MKOBA_SERVER__BIND", format!("127.0.0.1:{port}"))
            .env("MKOBA_DEMO__SEED_ON_FIRST_START", "false")
            .env("MKOBA_LOG__FILTER", "warn")
            .env("MKOBA_SMS__PROVIDER", "twilio")
            .env("MKOBA_SMS__TWILIO__BASE_URL", server.uri())
            .env("MKOBA_SMS__TWILIO__ACCOUNT_SID", SID)
            .env("MKOBA_SMS__TWILIO__AUTH_TOKEN", TOKEN)
            .env("MKOBA_SMS__TWILIO__FROM", "MKOBA")
            .env(
                "MKOBA_SMS__DISPATCH_CONCURRENCY_MAX",
                CONCURRENCY.to_string(),
            )
            .env("MKOBA_SMS__DISPATCH_LEASE_MS", "1000")
            .env("MKOBA_SMS__REQUEST_TIMEOUT_MS", "900")
            .env("MKOBA_SMS__DISPATCH_POLL_INTERVAL_MS", "50")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd
    };
    assert!(mkoba(&["migrate"]).status().unwrap().success());
    let options = mkoba::store::ConnectionOptions {
        url: mkoba::store::DatabaseUrl::Sqlite(db.clone()),
        busy_timeout_ms: 5_000,
        statement_timeout_ms: 30_000,
        sqlite_mmap_kib: mkoba::store::db::SQLITE_MMAP_KIB_DEFAULT,
    };
    let cfg = mkoba::sms::notify::NotifyConfig {
        low_float_minor: 0,
        utc_offset_seconds: 0,
        default_language: mkoba::sms::templates::Language::En,
        deadline_seconds: 3_600,
        country: phonenumber::country::Id::KE,
    };
    {
        let mut conn = options.connect().unwrap();
        let now = mkoba_ledger::Timestamp(mkoba::store::now_micros());
        for i in 0..MESSAGES {
            let message = mkoba::sms::templates::Message::PinReset {
                pin: format!("{i:06}"),
            };
            outbox::enqueue(
                &mut conn,
                &cfg,
                "+254700100001",
                &message,
                mkoba::sms::templates::Language::En,
                now,
            )
            .unwrap();
        }
    }
    let received = || {
        rt.block_on(server.received_requests())
            .unwrap_or_default()
            .len()
    };
    let mut first = mkoba(&["serve"]).spawn().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while received() < MESSAGES / 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "dispatch never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    first.kill().unwrap(); // SIGKILL: no shutdown hook runs
    first.wait().unwrap();
    let at_kill = received();
    assert!(
        at_kill < MESSAGES,
        "the kill must land mid-dispatch ({at_kill} of {MESSAGES} sent)"
    );

    let mut second = mkoba(&["serve"]).spawn().unwrap();
    let all_sent = || {
        let mut conn = options.connect().unwrap();
        outbox::counts(&mut conn).unwrap().get("sent").copied() == Some(MESSAGES as i64)
    };
    while !all_sent() {
        assert!(
            std::time::Instant::now() < deadline + Duration::from_secs(60),
            "not every message was sent after the restart"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    second.kill().unwrap();
    second.wait().unwrap();

    let mut per_body: BTreeMap<String, usize> = BTreeMap::new();
    for request in rt.block_on(server.received_requests()).unwrap() {
        *per_body.entry(form(&request)["Body"].clone()).or_default() += 1;
    }
    assert_eq!(
        per_body.len(),
        MESSAGES,
        "every queued message reached the provider"
    );
    let duplicates: usize = per_body.values().map(|n| n - 1).sum();
    assert!(
        duplicates <= CONCURRENCY,
        "only messages in flight at the kill may repeat: {duplicates}"
    );
    eprintln!("crash test: {at_kill} sent before the kill, {duplicates} sent twice, all {MESSAGES} delivered");
}

/// Like `UniqueSids`, slow enough that a kill lands mid-dispatch.
struct SlowUniqueSids(std::sync::atomic::AtomicU64);

impl wiremock::Respond for SlowUniqueSids {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        created(&format!("SM{n:032}")).set_delay(Duration::from_millis(100))
    }
}

/// Prism's `prism` command: `PRISM_BIN`, or installed once from npm under the target directory.
fn prism_bin() -> std::path::PathBuf {
    if let Ok(bin) = std::env::var("PRISM_BIN") {
        return bin.into();
    }
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("prism");
    let bin = dir.join("node_modules/.bin/prism");
    if !bin.is_file() {
        std::fs::create_dir_all(&dir).unwrap();
        let status = std::process::Command::new("npm")
            .args([
                "install",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                "--prefix",
            ])
            .arg(&dir)
            .arg("@stoplight/prism-cli@5")
            .status()
            .expect("npm must be available to install Prism");
        assert!(status.success(), "installing @stoplight/prism-cli failed");
    }
    bin
}

/// Our real outgoing Twilio requests, checked by Prism against Twilio's own OpenAPI description.
#[test]
fn twilio_requests_conform_to_twilios_own_openapi() {
    let spec = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/specs/twilio_api_v2010.json");
    assert!(
        spec.is_file(),
        "Twilio's OpenAPI must be at {}",
        spec.display()
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = tempfile::NamedTempFile::new().unwrap();
    let prism = std::process::Command::new(prism_bin())
        .args([
            "mock",
            "--host",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "--errors",
        ])
        .arg(&spec)
        .stdout(log.reopen().unwrap())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    /// Stops Prism however the test ends.
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut prism = Kill(prism);
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            prism.0.try_wait().unwrap().is_none(),
            "prism exited: {}",
            std::fs::read_to_string(log.path()).unwrap_or_default()
        );
        assert!(std::time::Instant::now() < deadline, "prism did not start");
        std::thread::sleep(Duration::from_millis(200));
    }
    let base = format!("http://127.0.0.1:{port}");
    let mut config = Config::default();
    twilio_config(&mut config, &base);
    // Prism validates each request against Twilio's whole spec: on a loaded two-core machine
    // its first answer has taken more than the default 10 s.
    config.sms.request_timeout_ms = 60_000;
    let mut with_service = config.clone();
    with_service.sms.twilio.messaging_service_sid = "MG0123456789abcdef0123456789abcdef".into();
    let rt = runtime();
    let bodies = [
        "QK7ZD3MPWA Confirmed. KES500.00 sent to TEST C*** 0700***002 on 21/11/26 at 14:05. Fee KES7.00. Balance KES493.00.".to_owned(),
        "Confirmé. Versement reçu — ünïcödé ✓".to_owned(),
        "x".repeat(1_600),
    ];
    for config in [&config, &with_service] {
        let provider = Provider::from_config(
            &config.sms,
            "https://mkoba.example.com/sms/twilio/status".into(),
        )
        .unwrap();
        let Provider::Twilio(twilio) = &provider else {
            panic!("twilio expected")
        };
        for body in &bodies {
            let status = rt.block_on(async {
                twilio
                    .request("+254700100001", body)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            });
            assert_eq!(
                status,
                201,
                "Prism refused our request for a {}-character body",
                body.chars().count()
            );
            let outcome = rt.block_on(provider.send(1, "+254700100001", body));
            assert!(
                matches!(outcome, SendOutcome::Accepted { .. }),
                "{outcome:?}"
            );
        }
    }
    // Prism does validate: a request without `To` is refused.
    let status = rt.block_on(async {
        reqwest::Client::new()
            .post(format!("{base}{MESSAGES_PATH}"))
            .basic_auth(SID, Some(TOKEN))
            .form(&[("From", "MKOBA"), ("Body", "no recipient")])
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    assert_eq!(status, 422);
}

#[test]
fn development_inbox_low_float_warning_and_africas_talking_reports() {
    let s = crate::http_api::spawn_with(Backend::Sqlite, |c| {
        c.sms.low_float_minor = 900_000;
        c.sms.africastalking.delivery_token = Secret::new("at-delivery-token-0123456789".into());
    });
    let (float, _) = s.env.agent("AG1", 1_000_000);
    let alice = s.env.customer("+254700100001", Tier::Tier1);
    // 10,000.00 of float; a 2,000.00 cash-in takes it under the 9,000.00 threshold: one warning.
    s.env.submit(TxnKind::Deposit, float, alice, 200_000);
    s.env.submit(TxnKind::Deposit, float, alice, 1_000);
    let agent = outbox_rows(&s.env, "+254711999999");
    let warnings: Vec<_> = agent.iter().filter(|r| r.template == "low_float").collect();
    assert_eq!(
        warnings.len(),
        1,
        "warned once, as the float crosses the threshold"
    );
    let warning = warnings[0].text().unwrap();
    assert!(warning.contains("KES8,000.00"), "{warning}");

    // The development provider's inbox shows what a number "received".
    let (status, inbox) = s.call("GET", "/dev/sms/0700100001", None, None);
    assert_eq!(status, 200);
    let bodies: Vec<&str> = inbox["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies.len(), 2);
    assert!(
        bodies.iter().all(|b| b.contains("cash to Test Agent")),
        "{bodies:?}"
    );

    // Africa's Talking delivery reports need the secret path token.
    let row = outbox_rows(&s.env, "+254700100001")[0].clone();
    let mut conn = s.env.conn();
    mkoba::with_conn!(&mut *conn, |c| c.batch_execute(&format!(
        "UPDATE sms_outbox SET status = 'sent', provider = 'africastalking', provider_message_id = 'ATXid_9' WHERE id = {}",
        row.id
    )))
    .unwrap();
    let report = |token: &str| {
        s.runtime.block_on(async {
            s.client
                .post(format!("{}/sms/africastalking/delivery/{token}", s.base))
                .form(&[
                    ("id", "ATXid_9"),
                    ("status", "Failed"),
                    ("failureReason", "UserInBlacklist"),
                    ("phoneNumber", "+254700100001"),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    };
    assert_eq!(report("wrong-token"), 404);
    assert_eq!(outbox_rows(&s.env, "+254700100001")[0].status, "sent");
    assert_eq!(report("at-delivery-token-0123456789"), 200);
    let row = outbox_rows(&s.env, "+254700100001")[0].clone();
    assert_eq!(
        (row.status.as_str(), row.last_error.as_deref()),
        ("failed", Some("UserInBlacklist"))
    );
}

fn enqueue_welcomes(env: &TestEnv, count: usize) {
    let now = env.clock.now();
    let mut conn = env.conn();
    for i in 0..count {
        outbox::enqueue(
            &mut conn,
            &env.app.notify,
            &format!("+2547005{i:05}"),
            &mkoba::sms::templates::Message::Welcome {
                name: format!("Customer {i}"),
            },
            mkoba::sms::templates::Language::En,
            now,
        )
        .unwrap();
    }
}

/// `record_all` (one commit for many outcomes) leaves each row exactly as `record` (a commit
/// each) does, for every kind of outcome, and likewise leaves alone a row no longer `sending`.
fn outcomes_recorded_together_end_as_outcomes_recorded_alone(backend: Backend) {
    use outbox::Attempt;
    let env = TestEnv::start(backend);
    enqueue_welcomes(&env, 10);
    let now = env.clock.now().0;
    let claimed = outbox::claim_due(&mut env.conn(), now, now + 60_000_000, 100).unwrap();
    assert_eq!(claimed.len(), 10);
    let attempt = |i: usize| match i {
        0 => Attempt::Sent {
            provider: "twilio".into(),
            provider_message_id: "SM0".into(),
            delivered: false,
        },
        1 => Attempt::Sent {
            provider: "development".into(),
            provider_message_id: "DEV1".into(),
            delivered: true,
        },
        2 => Attempt::RetryAt {
            at: now + 5_000_000,
            error: "twilio 429 code 20429: slow down".into(),
        },
        3 => Attempt::Failed {
            error: "x".repeat(700),
        },
        _ => Attempt::Failed {
            error: "twilio 400 code 21610: unsubscribed".into(),
        },
    };
    let (alone, together) = claimed.split_at(5);
    let at = now + 1_000;
    for (i, row) in alone.iter().enumerate() {
        outbox::record(&mut env.conn(), row.id, &attempt(i), at).unwrap();
    }
    let outcomes: Vec<_> = together
        .iter()
        .enumerate()
        .map(|(i, row)| (row.id, attempt(i), at))
        .collect();
    outbox::record_all(&mut env.conn(), &outcomes).unwrap();
    outbox::record_all(&mut env.conn(), &[]).unwrap();
    let load = |id: i64| claimed_row(&env, id);
    let state = |r: &outbox::OutboxRow| {
        (
            r.status.clone(),
            r.attempts,
            r.next_attempt_at,
            r.claimed_until,
            r.provider.clone(),
            r.provider_message_id.clone(),
            r.last_error.clone(),
            r.sent_at,
            r.delivered_at,
        )
    };
    for (a, b) in alone.iter().zip(together) {
        assert_eq!(state(&load(a.id)), state(&load(b.id)));
    }
    let statuses: Vec<String> = together.iter().map(|r| load(r.id).status).collect();
    assert_eq!(
        statuses,
        ["sent", "delivered", "queued", "failed", "failed"],
        "each row keeps its own outcome"
    );
    assert_eq!(load(together[3].id).last_error.map(|e| e.len()), Some(500));
    // A second record of the same rows (no longer claimed) changes nothing, as with `record`.
    let before: Vec<_> = together.iter().map(|r| state(&load(r.id))).collect();
    let again: Vec<_> = together
        .iter()
        .map(|r| (r.id, attempt(3), at + 1))
        .collect();
    outbox::record_all(&mut env.conn(), &again).unwrap();
    let after: Vec<_> = together.iter().map(|r| state(&load(r.id))).collect();
    assert_eq!(before, after);
}

fn stored_rows(env: &TestEnv) -> Vec<outbox::OutboxRow> {
    use diesel::prelude::*;
    use mkoba::store::schema::sms_outbox;
    env.expand_confirmations();
    mkoba::with_conn!(&mut *env.conn(), |c| sms_outbox::table
        .order(sms_outbox::id)
        .select(outbox::OutboxRow::as_select())
        .load(c))
    .unwrap()
}

/// A confirmation whose stored parameters cannot be read back is failed with the reason and
/// never sent; the others go out, rendered; a copy queued by `resend` renders the same text.
fn unreadable_parameters_fail_the_message_and_are_never_sent(backend: Backend) {
    let rt = runtime();
    let server = rt.block_on(MockServer::start());
    let env = TestEnv::start_with(backend, |c| twilio_config(c, &server.uri()));
    let (float, _) = env.agent("AG1", 10_000_000);
    let alice = env.customer("+254700100001", Tier::Tier1);
    let bob = env.customer("+254700100002", Tier::Tier1);
    env.submit(TxnKind::Deposit, float, alice, 100_000);
    env.submit(TxnKind::Transfer, alice, bob, 50_000);
    let rows = stored_rows(&env);
    let sent = rows.iter().find(|r| r.template == "sent").unwrap();
    let received = rows.iter().find(|r| r.template == "received").unwrap();
    assert!(sent.params.is_some() && received.params.is_some());
    let expected = outbox_rows(&env, "+254700100002")[0].text().unwrap();
    let corrupt = format!(
        "UPDATE sms_outbox SET params = '[\"{}\"]' WHERE id = {}",
        "QK7ZD3MPWA", sent.id
    );
    mkoba::with_conn!(&mut *env.conn(), |c| c.batch_execute(&corrupt)).unwrap();
    rt.block_on(async {
        Mock::given(method("POST"))
            .respond_with(created("SM1"))
            .mount(&server)
            .await;
    });
    let dispatcher = Dispatcher::new(
        env.app.pool.clone(),
        Arc::clone(&env.app.sms),
        env.app.config.sms.clone(),
        env.app.notify.clone(),
        env.clock.clone() as Arc<dyn Clock>,
    );
    rt.block_on(dispatcher.dispatch_once()).unwrap();
    let handed: Vec<BTreeMap<String, String>> = rt
        .block_on(server.received_requests())
        .unwrap()
        .iter()
        .map(form)
        .collect();
    assert!(
        handed.iter().any(|f| f["Body"] == expected),
        "Bob's confirmation went out rendered: {handed:?}"
    );
    assert!(
        handed
            .iter()
            .all(|f| !f["Body"].is_empty() && !f["Body"].contains("QK7ZD3MPWA")),
        "nothing empty or unreadable was sent: {handed:?}"
    );
    let failed = claimed_row(&env, sent.id);
    assert_eq!(failed.status, "failed");
    assert!(
        failed
            .last_error
            .as_deref()
            .unwrap_or_default()
            .starts_with("unreadable parameters: parameters do not parse"),
        "{failed:?}"
    );
    assert_eq!(claimed_row(&env, received.id).status, "sent");
    let now = env.clock.now();
    let copy = outbox::resend(&mut env.conn(), &env.app.notify, received.id, now)
        .unwrap()
        .unwrap();
    let copy = claimed_row(&env, copy);
    assert_eq!(
        (copy.status.as_str(), copy.text().unwrap().as_str()),
        ("queued", expected.as_str())
    );
}

fn claimed_row(env: &TestEnv, id: i64) -> outbox::OutboxRow {
    use diesel::prelude::*;
    use mkoba::store::schema::sms_outbox;
    mkoba::with_conn!(&mut *env.conn(), |c| sms_outbox::table
        .find(id)
        .select(outbox::OutboxRow::as_select())
        .first(c))
    .unwrap()
}

/// Answers like Twilio at once, and notes at each request how many messages it has been handed
/// whose outcome is not committed yet (this one included).
struct WatchesUnrecorded {
    conn: std::sync::Mutex<mkoba::store::AnyConnection>,
    received: std::sync::atomic::AtomicI64,
    unrecorded_max: Arc<std::sync::atomic::AtomicI64>,
}

impl wiremock::Respond for WatchesUnrecorded {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        use std::sync::atomic::Ordering;
        let n = self.received.fetch_add(1, Ordering::SeqCst) + 1;
        let recorded = outbox::counts(&mut self.conn.lock().unwrap())
            .unwrap()
            .get("sent")
            .copied()
            .unwrap_or(0);
        self.unrecorded_max
            .fetch_max(n - recorded, Ordering::SeqCst);
        created(&format!("SM{n:032}"))
    }
}

/// Outcomes are committed in groups, but a message keeps its concurrency slot until its own is
/// committed: however slow the commits, no more than `dispatch_concurrency_max` messages are ever
/// out at the provider unrecorded (what a crash could send twice), even as the production loop
/// overlaps one round's last sends with the next round.
fn a_slot_is_freed_only_once_its_outcome_is_committed(backend: Backend) {
    const MESSAGES: i64 = 150;
    const CONCURRENCY: usize = 4;
    let rt = runtime();
    let server = rt.block_on(MockServer::start());
    let env = TestEnv::start_with(backend, |c| {
        twilio_config(c, &server.uri());
        c.sms.dispatch_concurrency_max = CONCURRENCY;
        c.sms.dispatch_batch_max = 20;
        c.sms.dispatch_poll_interval_ms = 10;
    });
    let unrecorded_max = Arc::new(std::sync::atomic::AtomicI64::new(0));
    rt.block_on(
        Mock::given(method("POST"))
            .respond_with(WatchesUnrecorded {
                conn: std::sync::Mutex::new(env.db.connect()),
                received: 0.into(),
                unrecorded_max: Arc::clone(&unrecorded_max),
            })
            .mount(&server),
    );
    enqueue_welcomes(&env, MESSAGES as usize);
    rt.block_on(async {
        Dispatcher::new(
            env.app.pool.clone(),
            Arc::clone(&env.app.sms),
            env.app.config.sms.clone(),
            env.app.notify.clone(),
            env.clock.clone() as Arc<dyn Clock>,
        )
        .spawn();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let counts = env.outbox_counts();
            if counts.get("sent") == Some(&MESSAGES) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "not drained: {counts:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    let requests = rt.block_on(server.received_requests()).unwrap();
    // The dispatcher runs on until its runtime goes: end it before the database does.
    rt.shutdown_timeout(Duration::from_secs(5));
    assert_eq!(requests.len() as i64, MESSAGES, "each message sent once");
    let most = unrecorded_max.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        (1..=CONCURRENCY as i64).contains(&most),
        "{most} messages were out unrecorded at once"
    );
}
