//! Reliability: short runs of the deterministic simulation (`mkoba-sim`) on both backends, its
//! exact replay from a seed, and proof that its checks catch a ledger changed behind its back.
//! The long runs and the crash harness (`mkoba-crash`) are described in `ops/RELIABILITY.md`.

use std::process::Command;

use crate::support::pg_admin_url;

fn sim(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mkoba-sim"))
        .args(args)
        .output()
        .expect("run mkoba-sim");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// `name=<number>` from a summary line.
fn figure(line: &str, name: &str) -> u64 {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{name}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name}= in {line}"))
}

fn assert_sound_runs(text: &str, seeds: usize, ops: u64) {
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("ok seed=")).collect();
    assert_eq!(lines.len(), seeds, "every seed passes:\n{text}");
    for line in lines {
        assert_eq!(figure(line, "ops"), ops, "{line}");
        assert!(figure(line, "accepted") > ops / 5, "real traffic: {line}");
        assert!(figure(line, "replayed") > 0, "retries replayed: {line}");
        assert!(figure(line, "rejected") > 0, "limits reached: {line}");
        assert!(figure(line, "faults") > 5, "faults injected: {line}");
        assert!(figure(line, "reconciliations") >= 2, "{line}");
        assert!(
            figure(line, "step_checks") >= figure(line, "batches"),
            "{line}"
        );
    }
}

#[test]
fn simulation_on_sqlite_survives_injected_store_faults() {
    let (ok, text) = sim(&["--seeds", "2", "--seed", "101", "--ops", "2500"]);
    assert!(ok, "{text}");
    assert_sound_runs(&text, 2, 2_500);
    assert!(text.contains("database_locked"), "{text}");
    assert!(text.contains("answer_lost_after_commit"), "{text}");
}

#[test]
fn simulation_on_postgres_survives_killed_connections() {
    let url = pg_admin_url();
    let (ok, text) = sim(&[
        "--url",
        &url,
        "--seed",
        "201",
        "--ops",
        "2000",
        "--fault-permille",
        "100",
    ]);
    assert!(ok, "{text}");
    assert_sound_runs(&text, 1, 2_000);
    assert!(text.contains("connection_killed_before_commit"), "{text}");
    assert!(text.contains("connection_killed_between_batches"), "{text}");
}

#[test]
fn simulation_replays_exactly_from_its_seed() {
    let run = || {
        let (ok, text) = sim(&["--seed", "303", "--ops", "1200"]);
        assert!(ok, "{text}");
        let line = text
            .lines()
            .find(|l| l.starts_with("ok seed=303"))
            .unwrap_or_else(|| panic!("{text}"))
            .to_owned();
        // Everything but the wall-clock time is the same on every run of a seed.
        line.split(" seconds=").next().unwrap().to_owned()
    };
    let (first, second) = (run(), run());
    assert!(first.contains("digest="), "{first}");
    assert_eq!(first, second);
    let (_, other) = sim(&["--seed", "304", "--ops", "1200"]);
    let other_digest = other
        .split("digest=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    let digest = first
        .split("digest=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    assert_ne!(digest, other_digest, "another seed, another history");
}

#[test]
fn simulation_catches_a_balance_changed_behind_the_ledger_and_names_the_seed() {
    let (ok, text) = sim(&["--seed", "404", "--ops", "1000", "--corrupt-at-step", "40"]);
    assert!(!ok, "a corrupted store must fail the run:\n{text}");
    assert!(text.contains("FAILED seed=404"), "{text}");
    assert!(text.contains("differs"), "{text}");
    assert!(text.contains("at step 40"), "{text}");
    assert!(
        text.contains("replay: cargo run --release --bin mkoba-sim -- --url sqlite --seed 404"),
        "{text}"
    );
}

mod sms_faults {
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use mkoba::sms::dispatcher::Dispatcher;
    use mkoba::sms::outbox;
    use mkoba::sms::templates::{Language, Message};
    use mkoba::store::writer::Clock;
    use mkoba::store::Backend;
    use serde_json::json;
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, Request, ResponseTemplate};

    use crate::sms::twilio_config;
    use crate::support::TestEnv;

    /// A provider that fails every other call — in turn a 500, a 429 with `Retry-After`, and a
    /// reply slower than mkoba's request timeout — and answers 503 to everything while `down`.
    /// A message counts as delivered only when the stub answered 201 in time.
    struct Flaky {
        calls: AtomicU64,
        down: Arc<AtomicBool>,
        delivered: Arc<Mutex<BTreeMap<(String, String), u32>>>,
        failures: Arc<Mutex<BTreeMap<&'static str, u64>>>,
    }

    impl wiremock::Respond for Flaky {
        fn respond(&self, request: &Request) -> ResponseTemplate {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            let fail = |kind: &'static str| {
                *self.failures.lock().unwrap().entry(kind).or_default() += 1;
            };
            if self.down.load(Ordering::SeqCst) {
                fail("503_down");
                return ResponseTemplate::new(503);
            }
            match n % 6 {
                0 => {
                    fail("500");
                    ResponseTemplate::new(500)
                }
                2 => {
                    fail("429_retry_after");
                    ResponseTemplate::new(429)
                        .insert_header("Retry-After", "3")
                        .set_body_json(
                            json!({ "code": 20429, "message": "Too Many Requests", "status": 429 }),
                        )
                }
                4 => {
                    fail("timeout");
                    ResponseTemplate::new(504).set_delay(Duration::from_millis(800))
                }
                _ => {
                    let form: BTreeMap<String, String> =
                        serde_urlencoded::from_bytes::<Vec<(String, String)>>(&request.body)
                            .unwrap()
                            .into_iter()
                            .collect();
                    let key = (form["To"].clone(), form["Body"].clone());
                    *self.delivered.lock().unwrap().entry(key).or_default() += 1;
                    ResponseTemplate::new(201).set_body_json(
                        json!({ "sid": format!("SM{n:032}"), "status": "queued", "num_segments": "1" }),
                    )
                }
            }
        }
    }

    fn provider_faults_lose_nothing_and_send_each_message_once(backend: Backend) {
        const MESSAGES: usize = 48;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let server = rt.block_on(MockServer::start());
        let down = Arc::new(AtomicBool::new(false));
        let delivered = Arc::new(Mutex::new(BTreeMap::new()));
        let failures = Arc::new(Mutex::new(BTreeMap::new()));
        rt.block_on(
            Mock::given(method("POST"))
                .respond_with(Flaky {
                    calls: AtomicU64::new(0),
                    down: Arc::clone(&down),
                    delivered: Arc::clone(&delivered),
                    failures: Arc::clone(&failures),
                })
                .mount(&server),
        );
        let env = TestEnv::start_with(backend, |c| {
            twilio_config(c, &server.uri());
            c.sms.dispatch_concurrency_max = 8;
            c.sms.retry_max_ms = 20_000;
        });
        {
            let mut conn = env.conn();
            for i in 0..MESSAGES {
                let message = Message::PinReset {
                    pin: format!("{:06}", 100_000 + i),
                };
                let to = format!("+2547001{:05}", i % 7);
                outbox::enqueue(
                    &mut conn,
                    &env.app.notify,
                    &to,
                    &message,
                    Language::En,
                    env.clock.now(),
                )
                .unwrap();
            }
        }
        let dispatcher = Dispatcher::new(
            env.app.pool.clone(),
            Arc::clone(&env.app.sms),
            env.app.config.sms.clone(),
            env.app.notify.clone(),
            env.clock.clone() as Arc<dyn Clock>,
        );
        // One round per simulated second. The provider is fully down from second 5 to second 65.
        let mut sent = 0;
        let mut calls_while_down = 0;
        for second in 0..900 {
            down.store((5..65).contains(&second), Ordering::SeqCst);
            let before = failures
                .lock()
                .unwrap()
                .get("503_down")
                .copied()
                .unwrap_or(0);
            rt.block_on(dispatcher.dispatch_once()).unwrap();
            calls_while_down += failures
                .lock()
                .unwrap()
                .get("503_down")
                .copied()
                .unwrap_or(0)
                - before;
            env.clock.advance_seconds(1);
            let counts = env.outbox_counts();
            sent = counts.get("sent").copied().unwrap_or(0);
            assert_eq!(counts.get("failed"), None, "nothing given up: {counts:?}");
            if usize::try_from(sent).unwrap() == MESSAGES && second > 65 {
                break;
            }
        }
        assert_eq!(
            usize::try_from(sent).unwrap(),
            MESSAGES,
            "every message sent"
        );
        let delivered = delivered.lock().unwrap();
        assert_eq!(
            delivered.len(),
            MESSAGES,
            "every message reached the provider"
        );
        assert!(
            delivered.values().all(|n| *n == 1),
            "none twice: {delivered:?}"
        );
        let failures = failures.lock().unwrap();
        for kind in ["500", "429_retry_after", "timeout", "503_down"] {
            assert!(
                failures.get(kind).copied().unwrap_or(0) > 0,
                "{kind} injected: {failures:?}"
            );
        }
        assert!(calls_while_down > 0, "the outage was felt");
        let rows: Vec<outbox::OutboxRow> = (0..7)
            .flat_map(|i| env.sms_for(&format!("+2547001{i:05}"), 100))
            .collect();
        assert_eq!(rows.len(), MESSAGES);
        assert!(
            rows.iter().all(|r| r.provider_message_id.is_some()),
            "{rows:?}"
        );
        assert!(
            rows.iter().any(|r| r.attempts > 2),
            "retried through the outage"
        );
        println!("SMS faults ({backend:?}): {MESSAGES} messages, failures injected {failures:?}, all sent once");
    }

    #[test]
    fn sqlite_provider_faults_lose_nothing_and_send_each_message_once() {
        provider_faults_lose_nothing_and_send_each_message_once(Backend::Sqlite);
    }

    #[test]
    fn postgres_provider_faults_lose_nothing_and_send_each_message_once() {
        provider_faults_lose_nothing_and_send_each_message_once(Backend::Postgres);
    }
}
