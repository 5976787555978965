//! Operations: backups restore and reconcile to the cent, metrics move with traffic, and logs of
//! a full journey carry no secret and no full phone number.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use mkoba::store::writer::SystemClock;
use mkoba::store::{Backend, DatabaseUrl};
use mkoba_ledger::{Command, Outcome, Tier, TxnKind};

use crate::support::{test_config, TestDb, TestEnv};

fn balances(app: &mkoba::app::App) -> BTreeMap<i64, (i64, i64)> {
    let report =
        mkoba::store::reconcile::run(&mut mkoba::store::checkout(&app.pool).unwrap()).unwrap();
    assert!(report.balanced(), "{:?}", report.mismatches);
    use diesel::prelude::*;
    use mkoba::store::schema::accounts;
    let mut conn = mkoba::store::checkout(&app.pool).unwrap();
    let rows: Vec<(i64, i64, i64)> = mkoba::with_conn!(&mut *conn, |c| accounts::table
        .select((
            accounts::id,
            accounts::balance_minor,
            accounts::pending_debits_minor
        ))
        .load(c))
    .unwrap();
    rows.into_iter().map(|(id, b, p)| (id, (b, p))).collect()
}

/// Starts a second, independent mkoba on a copy of a backup file: "restore into a fresh database".
fn restored(
    backup: &std::path::Path,
) -> (
    Arc<mkoba::app::App>,
    mkoba::store::writer::WriterThreads,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("restored.db");
    std::fs::copy(backup, &db).unwrap();
    let mut config = test_config(&TestDb::sqlite(), dir.path().to_path_buf());
    config.database.url = mkoba::config::Secret::new(format!("sqlite://{}", db.display()));
    let (app, threads) = mkoba::app::App::start(config, Arc::new(SystemClock)).unwrap();
    (app, threads, dir)
}

#[test]
fn a_backup_taken_while_serving_restores_and_reconciles_to_the_cent() {
    let env = TestEnv::start(Backend::Sqlite);
    let (float, _) = env.agent("AG1", 100_000_000);
    let wallets: Vec<_> = (0..50)
        .map(|i| env.customer(&format!("+25470050{i:04}"), Tier::Tier1))
        .collect();
    for (i, w) in wallets.iter().enumerate() {
        env.submit(TxnKind::Deposit, float, *w, 10_000 + i as i64);
    }
    let DatabaseUrl::Sqlite(live) = env.db.url.clone() else {
        unreachable!()
    };
    let dir = tempfile::tempdir().unwrap();

    // Back up while the ledger keeps writing.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (stop, app, wallets) = (Arc::clone(&stop), Arc::clone(&env.app), wallets.clone());
        std::thread::spawn(move || {
            let mut n = 0_u64;
            while !stop.load(Ordering::SeqCst) {
                let (a, b) = (wallets[(n % 50) as usize], wallets[((n + 7) % 50) as usize]);
                let request = crate::support::request_with_key(
                    &format!("busy-{n}"),
                    TxnKind::Transfer,
                    a,
                    b,
                    100,
                );
                let _ = app.writer.submit_blocking(Command::Submit(request));
                n += 1;
            }
            n
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(200));
    let during = dir.path().join("during.db");
    mkoba::admin::backup::backup_sqlite(&live, &during, 5_000, false).unwrap();
    stop.store(true, Ordering::SeqCst);
    let written = writer.join().unwrap();
    assert!(written > 0, "the server was writing during the backup");
    let report = mkoba::admin::backup::verify(&during).unwrap();
    assert!(
        report.balanced(),
        "a backup taken mid-traffic is a consistent snapshot: {:?}",
        report.mismatches
    );

    // Once quiet, a backup restored into a fresh database equals the live ledger to the cent.
    let quiet = dir.path().join("quiet.db");
    mkoba::admin::backup::backup_sqlite(&live, &quiet, 5_000, false).unwrap();
    let live_balances = balances(&env.app);
    let (app, _threads, _dir) = restored(&quiet);
    assert_eq!(balances(&app), live_balances);
    // The restored ledger works: it takes new money movements.
    let outcome = app
        .writer
        .submit_blocking(Command::Submit(crate::support::request_with_key(
            "after-restore",
            TxnKind::Transfer,
            wallets[0],
            wallets[1],
            1,
        )))
        .unwrap();
    assert!(matches!(outcome, Outcome::Accepted(_)), "{outcome:?}");
    assert!(dir.path().join("quiet.db").exists());
    // A backup never overwrites.
    assert!(mkoba::admin::backup::backup_sqlite(&live, &quiet, 5_000, false).is_err());
}

fn metric(text: &str, name_and_labels: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name_and_labels))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn metrics_move_as_a_journey_runs() {
    let s = crate::http_api::spawn_with(Backend::Sqlite, |_| {});
    let (float, _) = s.env.agent("AG1", 10_000_000);
    let alice = s.env.customer("+254700100001", Tier::Tier1);
    let scrape = || {
        s.call("GET", "/metrics", None, None)
            .1
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let before = scrape();
    s.env.submit(TxnKind::Deposit, float, alice, 50_000);
    s.env.submit(TxnKind::Transfer, alice, alice, 100); // refused: same_account

    // A retry of an accepted request: the SQLite writer assumed its key new, the journal's
    // unique index found it, and the batch ran again with keys looked up.
    let retried = Command::Submit(s.env.request(TxnKind::Deposit, float, alice, 1_000));
    assert!(matches!(s.env.run(retried.clone()), Outcome::Accepted(_)));
    assert!(matches!(s.env.run(retried), Outcome::Replayed(_)));
    for _ in 0..3 {
        assert_eq!(s.call("GET", "/healthz", None, None).0, 200);
    }
    let after = scrape();
    let moved = |series: &str, by: f64| {
        let (b, a) = (metric(&before, series), metric(&after, series));
        assert!(a >= b + by, "{series}: {b} -> {a}");
    };
    moved(
        r#"mkoba_http_requests_total{dialect="",route="/healthz",status="200"}"#,
        3.0,
    );
    moved(
        r#"mkoba_ledger_transactions_total{kind="deposit",phase="posted"}"#,
        1.0,
    );
    moved(r#"mkoba_ledger_rejections_total{name="same_account"}"#, 1.0);
    moved("mkoba_ledger_batch_size_count", 2.0);
    moved(
        r#"mkoba_ledger_batch_reruns_total{reason="replayed_key"}"#,
        1.0,
    );
    moved("mkoba_ledger_commit_seconds_count", 2.0);
    assert!(
        metric(&after, "mkoba_sms_confirmations_waiting") >= 1.0,
        "the cash-in's confirmation waits for the dispatcher"
    );
    assert!(s.env.expand_confirmations().messages >= 2);
    let expanded = scrape();
    assert!(
        metric(&expanded, r#"mkoba_sms_outbox_depth{status="queued"}"#) >= 2.0,
        "the cash-in's two SMS are queued"
    );
    assert_eq!(metric(&expanded, "mkoba_sms_confirmations_waiting"), 0.0);
    assert!(after.contains(r#"mkoba_db_pool_connections{state="max"} 8"#));
    assert!(after.contains(r#"mkoba_pending_transfers{age="lt_1m"}"#));
}

/// A full journey through the real binary with JSON debug logs: not one line may carry a PIN, a
/// full phone number, a token or the pepper.
#[test]
fn logs_of_a_full_journey_carry_no_secrets_or_phone_numbers() {
    use std::process::{Command as Process, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (pin, new_pin) = ("7391", "8264");
    let merchant_key = "mk_demonews0002_DemoOnlyNeverUseThisKeyInProd002";
    let portal_password = "demo-agent-101";
    let (admin_token, gateway_token, pepper) = (
        "admin-token-3c9f1e7a5b2d4c6e8f0a",
        "gateway-token-9d8c7b6a5f4e3d2c1b0a",
        "pepper-5e4d3c2b1a0f9e8d7c6b",
    );
    let log = dir.path().join("log.jsonl");
    let mut cmd = Process::new(env!("CARGO_BIN_EXE_mkoba"));
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("MKOBA_")) {
        cmd.env_remove(key);
    }
    let mut child = cmd
        .current_dir(dir.path())
        .arg("serve")
        .env_remove("DATABASE_URL")
        .env("MKOBA_SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("MKOBA_LOG__FORMAT", "json")
        .env("MKOBA_LOG__FILTER", "debug")
        .env("MKOBA_SECURITY__ADMIN_TOKEN", admin_token)
        .env("MKOBA_SECURITY__PEPPER", pepper)
        .env("MKOBA_USSD__GATEWAY_TOKEN", gateway_token)
        .env("MKOBA_SECURITY__ARGON2_MEMORY_KIB", "8192")
        .env("MKOBA_SECURITY__ARGON2_ITERATIONS", "1")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::blocking::Client::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while client.get(format!("{base}/healthz")).send().is_err() {
        assert!(std::time::Instant::now() < deadline, "server did not start");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let phone = "+254700300001";
    // One USSD session: the dial, then each input, as Africa's Talking sends them; the last screen.
    let session = |id: &str, inputs: &[&str]| -> String {
        let mut last = String::new();
        for n in 0..=inputs.len() {
            let text = inputs.iter().take(n).copied().collect::<Vec<_>>().join("*");
            last = client
                .post(format!("{base}/ussd/africastalking?token={gateway_token}"))
                .form(&[
                    ("sessionId", id),
                    ("phoneNumber", phone),
                    ("serviceCode", "*384#"),
                    ("text", &text),
                ])
                .send()
                .unwrap()
                .text()
                .unwrap();
        }
        last
    };
    // Register, check the balance, get cash, send money, change the PIN, try a wrong PIN.
    assert!(session("s1", &["1", "Lydia Achieng", pin, pin, "1"]).starts_with("END Welcome"));
    assert!(session("s2", &["6", pin]).starts_with("END"));
    let wallet = (1..=30)
        .find(|id| {
            let account: serde_json::Value = client
                .get(format!("{base}/ops/v1/accounts/{id}"))
                .bearer_auth(admin_token)
                .send()
                .unwrap()
                .json()
                .unwrap();
            account["label"] == "wallet Lydia Achieng"
        })
        .expect("the new customer's wallet");
    let cash_in = serde_json::json!({ "idempotency_key": "log-cash-in", "kind": "deposit", "debit_account_id": 6,
        "credit_account_id": wallet, "amount": "1000", "currency": "KES" });
    let res = client
        .post(format!("{base}/ops/v1/transactions"))
        .bearer_auth(admin_token)
        .json(&cash_in)
        .send()
        .unwrap();
    assert_eq!(
        res.status().as_u16(),
        201,
        "{}",
        res.text().unwrap_or_default()
    );
    assert!(session("s3", &["1", "0700000002", "100", pin]).starts_with("END Sent"));
    assert!(session("s4", &["8", "2", new_pin, new_pin, pin]).contains("changed"));
    assert!(
        session("s5", &["6", "0000"]).contains("Wrong PIN"),
        "a wrong PIN is logged about, never logged"
    );
    // The demo merchant's API key, a wrong one, and portal sign-ins with passwords (refused
    // here for want of the form's CSRF token, so the refusal path is the one logged).
    for key in [
        merchant_key,
        "mk_demonews0002_WrongSecretWrongSecretWrong0002",
    ] {
        let status = client
            .get(format!("{base}/api/v1/balance"))
            .bearer_auth(key)
            .send()
            .unwrap()
            .status()
            .as_u16();
        assert!(status == 200 || status == 401, "{status}");
    }
    for password in [portal_password, "Guess-Password-42"] {
        let status = client
            .post(format!("{base}/portal/sign-in"))
            .form(&[
                ("login", "AG101"),
                ("password", password),
                ("csrf", "forged"),
            ])
            .send()
            .unwrap()
            .status()
            .as_u16();
        assert!(status < 500, "{status}");
    }
    let _ = child.kill();
    let _ = child.wait();

    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() > 20, "the journey should have produced logs");
    let mut with_request_id = 0;
    for line in &lines {
        let json: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        if json["span"]["request_id"].is_string() {
            with_request_id += 1;
        }
    }
    assert!(
        with_request_id >= 10,
        "request lines carry their request id"
    );
    // Long secrets and numbers cannot occur by chance: search the raw text.
    let long = [
        admin_token,
        gateway_token,
        pepper,
        merchant_key,
        "DemoOnlyNeverUseThisKeyInProd002",
        "WrongSecretWrongSecretWrong0002",
        portal_password,
        "Guess-Password-42",
        "254700300001",
        "0700300001",
        "254700000002",
        "0700000002",
    ];
    for secret in long {
        if let Some(line) = lines.iter().find(|l| l.contains(secret)) {
            panic!("the log carries {secret:?}: {line}");
        }
    }
    // A 4-digit PIN can appear by chance inside a timestamp, a latency or a random request id
    // (hex); a logged PIN would be some other text value, so every text value but those is searched.
    fn texts<'a>(value: &'a serde_json::Value, key: &str, out: &mut Vec<&'a str>) {
        match value {
            serde_json::Value::String(s) if !matches!(key, "timestamp" | "request_id") => {
                out.push(s)
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| texts(v, key, out)),
            serde_json::Value::Object(map) => map.iter().for_each(|(k, v)| texts(v, k, out)),
            _ => {}
        }
    }
    for line in &lines {
        let json: serde_json::Value = serde_json::from_str(line).unwrap();
        let mut values = Vec::new();
        texts(&json, "", &mut values);
        for pin in [pin, new_pin] {
            assert!(
                !values.iter().any(|v| v.contains(pin)),
                "the log carries the PIN {pin:?}: {line}"
            );
        }
    }
}

/// Statement export writes every posted leg exactly once, across page boundaries (a page holds
/// 1,000 lines and a send has two legs on the sender's account: principal and fee).
#[test]
fn statement_export_writes_every_leg_once_across_pages() {
    let env = TestEnv::start(Backend::Sqlite);
    let (float, _) = env.agent("AG1", 100_000_000);
    let alice = env.customer("+254700100001", Tier::Tier2);
    let bob = env.customer("+254700100002", Tier::Tier2);
    env.submit(TxnKind::Deposit, float, alice, 20_000_000);
    for _ in 0..700 {
        assert!(matches!(
            env.submit(TxnKind::Transfer, alice, bob, 20_000),
            Outcome::Accepted(_)
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("alice.csv");
    let written = mkoba::admin::reports::export_statement(&env.app, alice.0, &out).unwrap();
    // 1 cash-in + 700 sends × (principal + 7.00 fee).
    assert_eq!(written, 1 + 700 * 2);
    let text = std::fs::read_to_string(&out).unwrap();
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 1_401);
    let mut seen = std::collections::HashSet::new();
    for row in &rows {
        assert!(seen.insert((row[0], row[6])), "leg written twice: {row:?}");
    }
    let total: i64 = rows
        .iter()
        .map(|r| {
            mkoba_ledger::Money::parse(
                r[7].trim_start_matches('-'),
                mkoba_ledger::Currency::KES,
                i64::MAX,
            )
            .unwrap()
            .minor()
                * if r[7].starts_with('-') { -1 } else { 1 }
        })
        .sum();
    assert_eq!(
        total,
        env.balance(alice),
        "the statement sums to the balance"
    );
}

#[test]
fn import_onboards_customers_with_start_pins_and_names_bad_rows() {
    let env = TestEnv::start(Backend::Sqlite);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("customers.csv");
    std::fs::write(&file, "msisdn,name,language,tier\n0722000111,Dana Kip,sw,1\n+254722000112,Eli Otieno,,\nnot-a-number,Foo,en,0\n0722000113,Gita,xx,0\n").unwrap();
    let summary = mkoba::admin::import::customers(&env.app, &file).unwrap();
    assert_eq!(
        (
            summary.created,
            summary.skipped_existing,
            summary.refused.len()
        ),
        (2, 0, 2),
        "{:?}",
        summary.refused
    );
    assert!(summary.refused[0].starts_with("line 4: invalid_phone_number"));
    let again = mkoba::admin::import::customers(&env.app, &file).unwrap();
    assert_eq!(
        (again.created, again.skipped_existing),
        (0, 2),
        "a second import creates nothing"
    );
    let dana = mkoba::store::parties::customer_profile(&mut env.conn(), "+254722000111")
        .unwrap()
        .unwrap();
    assert_eq!(dana.language, "sw");
    let sms = env.sms_for("+254722000111", 5);
    assert_eq!(sms[0].template, "pin_reset");
    let text = sms[0].text().unwrap();
    assert!(text.contains("PIN yako ya muda"), "{text}");
    let (locked, must_change) = mkoba::store::parties::pin_flags(&mut env.conn(), dana.id).unwrap();
    assert_eq!(
        (locked, must_change),
        (false, true),
        "the start PIN must be changed at first use"
    );

    let agents = dir.path().join("agents.csv");
    std::fs::write(&agents, "code,name,msisdn,role,parent\nSA9,Super Nine,0711000009,super_agent,\nAG91,Ninety One,0711000091,agent,SA9\nAG92,Bad Parent,0711000092,agent,NOPE\n").unwrap();
    let credentials = dir.path().join("credentials.csv");
    let summary = mkoba::admin::import::agents(&env.app, &agents, &credentials).unwrap();
    assert_eq!(
        (summary.created, summary.refused.len()),
        (2, 1),
        "{:?}",
        summary.refused
    );
    let written = std::fs::read_to_string(&credentials).unwrap();
    assert_eq!(
        written.lines().count(),
        3,
        "a header and one password per created agent"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&credentials)
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
    }
    assert!(
        mkoba::admin::import::agents(&env.app, &agents, &credentials).is_err(),
        "never overwrites a credentials file"
    );
}

#[test]
fn the_daily_report_counts_the_local_day() {
    let env = TestEnv::start(Backend::Sqlite);
    let (float, _) = env.agent("AG1", 10_000_000);
    let alice = env.customer("+254700100001", Tier::Tier1);
    env.submit(TxnKind::Deposit, float, alice, 100_000);
    env.submit(TxnKind::Transfer, alice, alice, 1); // refused: not counted
    env.submit(TxnKind::Withdrawal, alice, float, 20_000);
    env.clock.advance_seconds(86_400);
    env.submit(TxnKind::Withdrawal, alice, float, 10_000); // the next day
                                                           // The test clock starts at T0: 2026-09-21 14:13 UTC, 17:13 in Nairobi.
    let rows = mkoba::admin::reports::daily_totals(&env.app, "2026-09-21").unwrap();
    let find = |kind: &str| rows.iter().find(|r| r.kind == kind).unwrap();
    assert_eq!(find("deposit").n, 1);
    assert_eq!(
        (
            find("withdrawal").n,
            find("withdrawal").amount,
            find("withdrawal").fees
        ),
        (1, Some(20_000), Some(2_900))
    );
    assert_eq!(find("float_issuance").amount, Some(10_000_000));
    let next = mkoba::admin::reports::daily_totals(&env.app, "2026-09-22").unwrap();
    assert_eq!(next.iter().map(|r| r.n).sum::<i64>(), 1);
}
