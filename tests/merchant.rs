//! The merchant API end to end on both backends: real HTTP, the real ledger, USSD approvals, and
//! signed webhooks received by a real local HTTP server.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::{web, App as ActixApp, HttpRequest, HttpResponse, HttpServer};
use mkoba::merchant::auth::hmac_hex;
use mkoba::store::Backend;
use mkoba_ledger::{Tier, TxnKind};
use serde_json::{json, Value};

use crate::http_api::{spawn_with, Running};

const GATEWAY_TOKEN: &str = "test-ussd-gateway-token-0123456789";
const PIN: &str = "4821";
const PHONE: &str = "+254700555001";

/// A merchant with credentials, a funded customer with a PIN, and a webhook receiver.
struct World {
    s: Running,
    token: String,
    key_id: String,
    signing_secret: String,
    wallet: mkoba_ledger::AccountId,
    merchant_account: mkoba_ledger::AccountId,
    hooks: Arc<Mutex<Vec<(String, String)>>>,
    hook_url: String,
    /// How many upcoming webhook deliveries the receiver answers with a 500.
    fail_next: Arc<AtomicUsize>,
}

fn world(backend: Backend) -> World {
    world_with(backend, |_| {})
}

fn world_with(backend: Backend, adjust: impl FnOnce(&mut mkoba::config::Config)) -> World {
    let s = spawn_with(backend, |c| {
        c.ussd.gateway_token = mkoba::config::Secret::new(GATEWAY_TOKEN.into());
        c.merchant_api.rate_per_second = 1_000;
        c.merchant_api.rate_burst = 1_000;
        adjust(c);
    });
    let merchant_account = s.env.merchant("NEWS");
    let wallet = s.env.customer(PHONE, Tier::Tier1);
    let (float, _) = s.env.agent("AG1", 10_000_000);
    let funded = s.env.submit(TxnKind::Deposit, float, wallet, 1_000_000);
    assert!(matches!(funded, mkoba_ledger::Outcome::Accepted(_)));
    let app = &s.env.app;
    let mut conn = s.env.conn();
    let (customer_id, _, _) = mkoba::store::parties::customer_by_msisdn(&mut conn, PHONE)
        .unwrap()
        .unwrap();
    mkoba::store::parties::set_pin(&mut conn, customer_id, &app.hasher.hash(PIN).unwrap()).unwrap();
    let (merchant_id, _) = mkoba::store::parties::merchant_by_code(&mut conn, "NEWS")
        .unwrap()
        .unwrap();
    let key = mkoba::merchant::auth::issue_key(
        &mut conn,
        &app.merchant.api_key_hash_key,
        merchant_id,
        "test",
        0,
    )
    .unwrap();
    let signing_secret = "whsec_test_signing_secret".to_owned();
    mkoba::merchant::store::set_signing(&mut conn, merchant_id, &signing_secret, false).unwrap();
    drop(conn);

    // The merchant's webhook endpoint: a real HTTP server on loopback recording what it gets.
    let hooks: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hook_url = format!("http://{}/hooks", listener.local_addr().unwrap());
    let seen = Arc::clone(&hooks);
    let fail_next: Arc<AtomicUsize> = Arc::default();
    let failing = Arc::clone(&fail_next);
    let receiver = {
        let _guard = s.runtime.enter();
        HttpServer::new(move || {
            let seen = Arc::clone(&seen);
            let failing = Arc::clone(&failing);
            ActixApp::new().route(
                "/hooks",
                web::post().to(move |req: HttpRequest, body: String| {
                    let seen = Arc::clone(&seen);
                    let failing = Arc::clone(&failing);
                    async move {
                        let fail = failing
                            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                            .is_ok();
                        if fail {
                            return HttpResponse::InternalServerError().finish();
                        }
                        let signature = req
                            .headers()
                            .get("mkoba-signature")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_owned();
                        seen.lock().unwrap().push((signature, body));
                        HttpResponse::Ok().finish()
                    }
                }),
            )
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run()
    };
    s.runtime.spawn(receiver);
    World {
        s,
        token: key.token,
        key_id: key.key_id,
        signing_secret,
        wallet,
        merchant_account,
        hooks,
        hook_url,
        fail_next,
    }
}

impl World {
    fn api(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        key: Option<&str>,
    ) -> (u16, Value) {
        self.api_with(method, path, body, key, &[])
    }

    fn api_with(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        key: Option<&str>,
        headers: &[(&str, String)],
    ) -> (u16, Value) {
        self.s.runtime.block_on(async {
            let url = format!("{}{path}", self.s.base);
            let mut req = match method {
                "GET" => self.s.client.get(url),
                "PUT" => self.s.client.put(url),
                _ => self.s.client.post(url),
            };
            req = req.header("authorization", format!("Bearer {}", self.token));
            if let Some(key) = key {
                req = req.header("idempotency-key", key);
            }
            for (name, value) in headers {
                req = req.header(*name, value.as_str());
            }
            if let Some(body) = body {
                req = req
                    .header("content-type", "application/json")
                    .body(body.to_string());
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

    /// Approve (or decline) the first waiting request over USSD with the PIN.
    fn ussd_answer(&self, session: &str, approve: bool) -> Vec<String> {
        self.ussd(session, &["7", "1", if approve { "1" } else { "2" }, PIN])
    }

    /// Dials, then sends each input in turn; returns every screen, the first menu included.
    fn ussd(&self, session: &str, inputs: &[&str]) -> Vec<String> {
        let mut path: Vec<&str> = Vec::new();
        let mut screens = Vec::new();
        for input in std::iter::once("").chain(inputs.iter().copied()) {
            if !input.is_empty() {
                path.push(input);
            }
            let form = serde_urlencoded::to_string([
                ("sessionId", session),
                ("serviceCode", "*384#"),
                ("phoneNumber", PHONE),
                ("networkCode", "63902"),
                ("text", &path.join("*")),
            ])
            .unwrap();
            let body = self.s.runtime.block_on(async {
                self.s
                    .client
                    .post(format!(
                        "{}/ussd/africastalking?token={GATEWAY_TOKEN}",
                        self.s.base
                    ))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(form)
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap()
            });
            screens.push(body);
        }
        screens
    }

    fn deliver_webhooks(&self) -> usize {
        let client = reqwest::Client::new();
        self.s
            .runtime
            .block_on(mkoba::merchant::webhooks::dispatch_once(
                &self.s.env.app,
                &client,
            ))
            .unwrap()
    }
}

fn payment_request_approved_over_ussd_is_paid_signed_and_on_the_statement(backend: Backend) {
    let w = world(backend);
    let (status, _) = w.api(
        "PUT",
        "/api/v1/webhook",
        Some(json!({ "url": w.hook_url, "events": ["payment_request.paid", "payment.received"] })),
        None,
    );
    assert_eq!(status, 200);
    let request = json!({
        "customer": { "phone_number": PHONE },
        "amount": { "value": "12.50", "currency": "KES" },
        "description": "Week pass"
    });
    let (status, created) = w.api(
        "POST",
        "/api/v1/payment-requests",
        Some(request.clone()),
        Some("pr-1"),
    );
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["status"], "pending");
    let pseudonym = created["customer"].as_str().unwrap().to_owned();
    assert!(pseudonym.starts_with("cus_"));
    assert!(
        !created.to_string().contains("700555001"),
        "no phone number leaks: {created}"
    );
    let (status, again) = w.api(
        "POST",
        "/api/v1/payment-requests",
        Some(request),
        Some("pr-1"),
    );
    assert_eq!(
        (status, &again["id"]),
        (200, &created["id"]),
        "same key, same request"
    );
    let prompts = w.s.env.sms_for(PHONE, 10);
    assert!(
        prompts.iter().any(|m| m.template == "payment_request"),
        "the customer is told to dial"
    );

    let before = w.s.env.balance(w.wallet);
    let screens = w.ussd_answer("pr-session-1", true);
    assert!(screens[1].contains("Test Merchant"), "{screens:?}");
    assert!(screens[4].starts_with("END "), "{screens:?}");
    assert_eq!(w.s.env.balance(w.wallet), before - 1_250);
    assert!(w.s.env.balance(w.merchant_account) > 0);
    // Approving again cannot pay twice.
    let again = w.ussd_answer("pr-session-2", true);
    assert!(
        !again[1].contains("12.50"),
        "nothing left to approve: {again:?}"
    );
    assert_eq!(w.s.env.balance(w.wallet), before - 1_250);

    let id = created["id"].as_str().unwrap();
    let (status, paid) = w.api("GET", &format!("/api/v1/payment-requests/{id}"), None, None);
    assert_eq!(
        (status, paid["status"].as_str()),
        (200, Some("paid")),
        "{paid}"
    );
    let code = paid["transaction"].as_str().unwrap().to_owned();

    assert!(w.deliver_webhooks() >= 2);
    let hooks = w.hooks.lock().unwrap().clone();
    let types: Vec<String> = hooks
        .iter()
        .map(|(_, body)| {
            serde_json::from_str::<Value>(body).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(
        types.contains(&"payment_request.paid".to_owned()),
        "{types:?}"
    );
    assert!(types.contains(&"payment.received".to_owned()), "{types:?}");
    for (signature, body) in &hooks {
        let (t, v1) = signature.split_once(",v1=").unwrap();
        let t = t.strip_prefix("t=").unwrap();
        let expected = hmac_hex(
            w.signing_secret.as_bytes(),
            &[t.as_bytes(), b".", body.as_bytes()],
        );
        assert_eq!(
            v1, expected,
            "every webhook is signed with the merchant's secret"
        );
        assert!(
            body.contains(&pseudonym) && !body.contains("700555001"),
            "{body}"
        );
    }

    let (status, payment) = w.api("GET", &format!("/api/v1/payments/{code}"), None, None);
    assert_eq!(status, 200, "{payment}");
    assert_eq!(payment["customer"], pseudonym);
    let statement =
        mkoba::store::reads::statement(&mut w.s.env.conn(), w.wallet.0, None, 5).unwrap();
    assert!(
        statement.iter().any(|l| l.code == code),
        "the customer's statement shows it"
    );
    w.s.env.assert_reconciles();
}

fn an_allowance_of_50_takes_100_charges_of_half_a_shilling_and_refuses_the_101st(backend: Backend) {
    let w = world(backend);
    let (status, allowance) = w.api(
        "POST",
        "/api/v1/allowances",
        Some(json!({
            "customer": { "phone_number": PHONE },
            "cap": { "value": "50.00", "currency": "KES" },
            "per_charge_max": { "value": "1.00", "currency": "KES" },
            "valid_days": 30,
            "description": "Articles"
        })),
        Some("al-1"),
    );
    assert_eq!(
        (status, allowance["status"].as_str()),
        (201, Some("requested")),
        "{allowance}"
    );
    let id = allowance["id"].as_str().unwrap().to_owned();
    let charge = |key: &str, value: &str| {
        w.api(
            "POST",
            &format!("/api/v1/allowances/{id}/charges"),
            Some(json!({ "amount": { "value": value, "currency": "KES" }, "description": "Article" })),
            Some(key),
        )
    };
    let (status, refused) = charge("early", "0.50");
    assert_eq!(
        (status, refused["error"].as_str()),
        (409, Some("allowance_not_granted")),
        "not granted yet: {refused}"
    );
    let screens = w.ussd_answer("al-session", true);
    assert!(screens[4].starts_with("END "), "{screens:?}");

    let before = w.s.env.balance(w.wallet);
    for i in 0..100 {
        let (status, body) = charge(&format!("c-{i}"), "0.50");
        assert_eq!(status, 201, "charge {i}: {body}");
    }
    let (status, replay) = charge("c-99", "0.50");
    assert_eq!(
        (status, replay["replayed"].as_bool()),
        (200, Some(true)),
        "a retry is not a new charge"
    );
    let (status, refused) = charge("c-100", "0.50");
    assert_eq!(
        (status, refused["error"].as_str()),
        (422, Some("allowance_cap_exceeded")),
        "{refused}"
    );
    let (status, refused) = charge("big", "1.50");
    assert_eq!(
        (status, refused["error"].as_str()),
        (422, Some("allowance_per_charge_exceeded"))
    );
    assert_eq!(
        w.s.env.balance(w.wallet),
        before - 5_000,
        "exactly 100 x 0.50 left the wallet"
    );
    let (_, state) = w.api("GET", &format!("/api/v1/allowances/{id}"), None, None);
    assert_eq!(state["remaining"]["value"], "0.00", "{state}");
    let per_charge_sms =
        w.s.env
            .sms_for(PHONE, 500)
            .into_iter()
            .filter(|m| m.template == "purchase")
            .count();
    assert_eq!(
        per_charge_sms, 0,
        "small charges are summed up daily, not texted one by one"
    );
    w.s.env.clock.advance_seconds(86_400);
    let (_, summaries) = mkoba::merchant::jobs::run_once(&w.s.env.app).unwrap();
    assert_eq!(summaries, 1, "one summary SMS for the day");
    w.s.env.assert_reconciles();
}

fn refunds_full_and_partial_never_exceed_the_payment(backend: Backend) {
    let w = world(backend);
    let (_, created) = w.api(
        "POST",
        "/api/v1/payment-requests",
        Some(json!({ "customer": { "phone_number": PHONE }, "amount": { "value": "100", "currency": "KES" }, "description": "Game credits" })),
        Some("pr-r"),
    );
    w.ussd_answer("refund-session", true);
    let id = created["id"].as_str().unwrap();
    let (_, paid) = w.api("GET", &format!("/api/v1/payment-requests/{id}"), None, None);
    let code = paid["transaction"].as_str().unwrap().to_owned();
    let before = w.s.env.balance(w.wallet);
    let refund = |key: &str, body: Value| {
        w.api(
            "POST",
            &format!("/api/v1/payments/{code}/refunds"),
            Some(body),
            Some(key),
        )
    };
    let (status, part) = refund(
        "r-1",
        json!({ "amount": { "value": "30", "currency": "KES" }, "reason": "partial" }),
    );
    assert_eq!(status, 201, "{part}");
    assert_eq!(part["refund_of"], code);
    let (status, too_much) = refund(
        "r-2",
        json!({ "amount": { "value": "80", "currency": "KES" } }),
    );
    assert_eq!(
        (status, too_much["error"].as_str()),
        (422, Some("refund_exceeds_payment"))
    );
    // The merchant kept nothing of the fee mkoba took, so it holds less than the rest of the
    // payment: a refund is paid from the merchant's balance and never overdraws it.
    let (status, short) = refund("r-3", json!({}));
    assert_eq!(
        (status, short["error"].as_str()),
        (422, Some("insufficient_funds")),
        "{short}"
    );
    let other = w.s.env.customer("+254700555002", Tier::Tier1);
    let (float, _) = w.s.env.agent("AG2", 1_000_000);
    w.s.env.submit(TxnKind::Deposit, float, other, 50_000);
    let sale =
        w.s.env
            .submit(TxnKind::MerchantPayment, other, w.merchant_account, 20_000);
    assert!(matches!(sale, mkoba_ledger::Outcome::Accepted(_)));
    let (status, rest) = refund("r-3", json!({}));
    assert_eq!(
        (status, rest["amount"]["value"].as_str()),
        (201, Some("70.00")),
        "{rest}"
    );
    let (status, nothing) = refund("r-4", json!({}));
    assert_eq!(
        (status, nothing["error"].as_str()),
        (422, Some("refund_exceeds_payment"))
    );
    assert_eq!(w.s.env.balance(w.wallet), before + 10_000);
    let (_, payment) = w.api("GET", &format!("/api/v1/payments/{code}"), None, None);
    assert_eq!(payment["refunded"]["value"], "100.00");
    let (status, _) = w.api(
        "POST",
        "/api/v1/payments/QQQQQQQQQQ/refunds",
        Some(json!({})),
        Some("r-5"),
    );
    assert_eq!(status, 404, "someone else's or no payment");
    w.s.env.assert_reconciles();
}

fn forged_replayed_and_revoked_requests_are_refused(backend: Backend) {
    let w = world(backend);
    let body = json!({ "customer": { "pseudonym": "cus_000000000000000000000000" }, "amount": { "value": "1", "currency": "KES" }, "description": "x" });
    let sign = |secret: &str, t: i64, text: &str| {
        format!(
            "v1={}",
            hmac_hex(
                secret.as_bytes(),
                &[
                    b"POST\n/api/v1/payment-requests\n",
                    t.to_string().as_bytes(),
                    b"\n",
                    text.as_bytes()
                ]
            )
        )
    };
    let now = w.s.env.app.clock.now().0 / 1_000_000;
    let text = body.to_string();
    let good = [
        ("mkoba-timestamp", now.to_string()),
        ("mkoba-signature", sign(&w.signing_secret, now, &text)),
    ];
    let (status, answer) = w.api_with(
        "POST",
        "/api/v1/payment-requests",
        Some(body.clone()),
        Some("s-1"),
        &good,
    );
    assert_eq!(
        (status, answer["error"].as_str()),
        (404, Some("customer_not_found")),
        "a good signature passes: {answer}"
    );
    let (status, answer) = w.api_with(
        "POST",
        "/api/v1/payment-requests",
        Some(body.clone()),
        Some("s-1"),
        &good,
    );
    assert_eq!(
        (status, answer["error"].as_str()),
        (409, Some("request_replayed"))
    );
    let forged = [
        ("mkoba-timestamp", now.to_string()),
        ("mkoba-signature", sign("not-the-secret", now, &text)),
    ];
    let (status, answer) = w.api_with(
        "POST",
        "/api/v1/payment-requests",
        Some(body.clone()),
        Some("s-2"),
        &forged,
    );
    assert_eq!(
        (status, answer["error"].as_str()),
        (403, Some("invalid_signature"))
    );
    let old = now - 301;
    let stale = [
        ("mkoba-timestamp", old.to_string()),
        ("mkoba-signature", sign(&w.signing_secret, old, &text)),
    ];
    let (status, answer) = w.api_with(
        "POST",
        "/api/v1/payment-requests",
        Some(body.clone()),
        Some("s-3"),
        &stale,
    );
    assert_eq!(
        (status, answer["error"].as_str()),
        (401, Some("timestamp_out_of_window"))
    );

    let (status, _) = w.api("GET", "/api/v1/balance", None, None);
    assert_eq!(status, 200);
    let merchant_id = mkoba::store::parties::merchant_by_code(&mut w.s.env.conn(), "NEWS")
        .unwrap()
        .unwrap()
        .0;
    assert!(
        mkoba::merchant::auth::revoke_key(&mut w.s.env.conn(), merchant_id, &w.key_id, 1).unwrap()
    );
    let (status, answer) = w.api("GET", "/api/v1/balance", None, None);
    assert_eq!(
        (status, answer["error"].as_str()),
        (401, Some("api_key_revoked"))
    );
    // The same key id with one character of the secret changed (never to itself).
    let mut forged_key = w.token.clone();
    let last = forged_key.pop();
    forged_key.push(if last == Some('x') { 'y' } else { 'x' });
    let w2 = World {
        token: forged_key,
        ..w
    };
    let (status, answer) = w2.api("GET", "/api/v1/balance", None, None);
    assert_eq!(
        (status, answer["error"].as_str()),
        (401, Some("unauthorized"))
    );
}

fn allowances_granted_listed_and_revoked_on_ussd(backend: Backend) {
    let w = world(backend);
    let screens = w.ussd("grant", &["8", "7", "2", "NEWS", "20", "0.50", "30", PIN]);
    let granted = screens.last().unwrap();
    assert!(
        granted.starts_with("END ") && granted.contains("20.00"),
        "{screens:?}"
    );
    let merchant_id = mkoba::store::parties::merchant_by_code(&mut w.s.env.conn(), "NEWS")
        .unwrap()
        .unwrap()
        .0;
    let rows =
        mkoba::merchant::store::allowances_of_merchant(&mut w.s.env.conn(), merchant_id, None, 10)
            .unwrap();
    assert_eq!(rows.len(), 1, "granted once");
    assert_eq!(
        (
            rows[0].status.as_str(),
            rows[0].cap_minor,
            rows[0].per_charge_max_minor
        ),
        ("active", 2_000, 50)
    );
    let id = rows[0].public_id.clone();
    let charge = |key: &str| {
        w.api(
            "POST",
            &format!("/api/v1/allowances/{id}/charges"),
            Some(json!({ "amount": { "value": "0.50", "currency": "KES" }, "description": "Article" })),
            Some(key),
        )
    };
    assert_eq!(charge("u-1").0, 201, "the merchant may charge it at once");
    let listed = w.ussd("list", &["8", "7", "1"]);
    assert!(listed[3].contains("Test Merchant"), "{listed:?}");
    let revoked = w.ussd("revoke", &["8", "7", "1", "1", "1", "1"]);
    assert!(revoked.last().unwrap().starts_with("END "), "{revoked:?}");
    let (status, refused) = charge("u-2");
    assert_eq!(
        (status, refused["error"].as_str()),
        (409, Some("allowance_revoked")),
        "{refused}"
    );
    let empty = w.ussd("list-again", &["8", "7", "1"]);
    assert!(!empty[3].contains("Test Merchant"), "{empty:?}");
}

fn declined_and_expired_requests_tell_the_merchant_and_webhooks_retry(backend: Backend) {
    let w = world(backend);
    let events = [
        "payment_request.declined",
        "payment_request.expired",
        "allowance.lapsed",
    ];
    let (status, _) = w.api(
        "PUT",
        "/api/v1/webhook",
        Some(json!({ "url": w.hook_url, "events": events })),
        None,
    );
    assert_eq!(status, 200);
    let ask = |key: &str| {
        w.api(
            "POST",
            "/api/v1/payment-requests",
            Some(json!({ "customer": { "phone_number": PHONE }, "amount": { "value": "5", "currency": "KES" }, "description": "Song", "expires_in_seconds": 120 })),
            Some(key),
        )
    };
    let (_, first) = ask("d-1");
    let before = w.s.env.balance(w.wallet);
    let screens = w.ussd_answer("decline", false);
    assert!(screens.last().unwrap().starts_with("END "), "{screens:?}");
    assert_eq!(
        w.s.env.balance(w.wallet),
        before,
        "declining moves no money"
    );
    let (_, second) = ask("d-2");
    w.s.env.clock.advance_seconds(121);
    let (lapsed, _) = mkoba::merchant::jobs::run_once(&w.s.env.app).unwrap();
    assert_eq!(lapsed, 1);
    let status_of = |r: &Value| {
        let id = r["id"].as_str().unwrap();
        w.api("GET", &format!("/api/v1/payment-requests/{id}"), None, None)
            .1["status"]
            .clone()
    };
    assert_eq!(status_of(&first), "declined");
    assert_eq!(status_of(&second), "expired");
    let late = w.ussd_answer("too-late", true);
    assert!(
        !late[1].contains("5.00"),
        "an expired request is not offered: {late:?}"
    );
    assert_eq!(w.s.env.balance(w.wallet), before);

    // The receiver fails the first delivery: the event stays queued and goes out on a retry.
    w.fail_next.store(1, Ordering::SeqCst);
    assert_eq!(w.deliver_webhooks(), 2);
    assert_eq!(
        w.hooks.lock().unwrap().len(),
        1,
        "one delivered, one failed"
    );
    assert_eq!(
        w.deliver_webhooks(),
        0,
        "the failed one waits for its backoff"
    );
    w.s.env.clock.advance_seconds(3_600);
    assert_eq!(w.deliver_webhooks(), 1);
    let types: Vec<String> = w
        .hooks
        .lock()
        .unwrap()
        .iter()
        .map(|(_, b)| {
            serde_json::from_str::<Value>(b).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(types.len(), 2);
    assert!(
        types.contains(&"payment_request.declined".into())
            && types.contains(&"payment_request.expired".into()),
        "{types:?}"
    );
    assert_eq!(w.deliver_webhooks(), 0, "each event delivered once");
}

fn records_keys_catalog_and_rate_limits(backend: Backend) {
    let w = world(backend);
    let (status, product) = w.api(
        "PUT",
        "/api/v1/products",
        Some(json!({ "sku": "ART-1", "name": "One article", "category": "article", "price": { "value": "0.01", "currency": "KES" }, "active": true })),
        None,
    );
    assert_eq!(
        (status, product["price"]["value"].as_str()),
        (200, Some("0.01")),
        "{product}"
    );
    let (_, list) = w.api("GET", "/api/v1/products", None, None);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let (status, bad) = w.api("PUT", "/api/v1/products", Some(json!({ "sku": "X", "name": "x", "category": "cars", "price": { "value": "1", "currency": "KES" }, "active": true })), None);
    assert_eq!(
        (status, bad["error"].as_str()),
        (400, Some("invalid_request"))
    );

    let sale = w.s.env.submit(
        TxnKind::MerchantPayment,
        w.wallet,
        w.merchant_account,
        10_000,
    );
    assert!(matches!(sale, mkoba_ledger::Outcome::Accepted(_)));
    let (status, page) = w.api("GET", "/api/v1/statement?limit=1", None, None);
    assert_eq!(status, 200, "{page}");
    let line = &page["entries"][0];
    assert_eq!(
        (line["direction"].as_str(), line["amount"]["value"].as_str()),
        (Some("credit"), Some("100.00"))
    );
    assert!(line["customer"].as_str().unwrap().starts_with("cus_"));
    assert!(!page.to_string().contains("700555001"));
    let (_, days) = w.api("GET", "/api/v1/settlements?days=2", None, None);
    let today = &days[0];
    assert_eq!(today["payments"], 1);
    assert_eq!(today["gross"]["value"], "100.00");
    assert_eq!(
        today["net"]["value"].as_str().unwrap(),
        mkoba_ledger::Money::from_minor(
            10_000
                - w.s.env.app.ledger.rules.currencies[&mkoba_ledger::Currency::KES]
                    .tariffs
                    .merchant
                    .fee_for(10_000),
            mkoba_ledger::Currency::KES
        )
        .to_plain_string()
    );
    // A merchant that gave a phone number gets an SMS receipt of the sale, naming no customer.
    // (Parties are read when a confirmation becomes its messages, within a dispatcher round of
    // the payment: the first sale's are made before anyone could change the number.)
    w.s.env.expand_confirmations();
    let mut conn = w.s.env.db.connect();
    mkoba::with_conn!(&mut conn, |c| {
        diesel::connection::SimpleConnection::batch_execute(
            c,
            "UPDATE merchants SET msisdn = '+254711000777' WHERE code = 'NEWS'",
        )
    })
    .unwrap();
    let second = w.s.env.submit(
        TxnKind::MerchantPayment,
        w.wallet,
        w.merchant_account,
        5_000,
    );
    assert!(matches!(second, mkoba_ledger::Outcome::Accepted(_)));
    let receipts = w.s.env.sms_for("+254711000777", 5);
    assert_eq!(
        receipts.len(),
        1,
        "one receipt, for the sale after the number was set"
    );
    assert_eq!(receipts[0].template, "sale");
    let receipt = receipts[0].text().unwrap();
    assert!(receipt.contains("50.00"), "{receipt}");
    assert!(
        !receipt.contains("0700") && !receipt.contains("***"),
        "{receipt}"
    );
    let (status, _) = w.api("GET", "/api/v1/statement?limit=1000", None, None);
    assert_eq!(status, 400);

    let (_, keys) = w.api("GET", "/api/v1/keys", None, None);
    assert_eq!(keys[0]["key_id"], w.key_id);
    assert!(
        !keys.to_string().contains(&w.token),
        "a key's secret is never shown again"
    );

    let limited = world_with(backend, |c| {
        c.merchant_api.rate_per_second = 1;
        c.merchant_api.rate_burst = 2;
    });
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(limited.api("GET", "/api/v1/balance", None, None).0);
    }
    assert_eq!(statuses, vec![200, 200, 429, 429], "a burst of 2 per key");
}

macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $(#[test] fn $name() { super::$name(mkoba::store::Backend::Sqlite) })* }
        mod postgres { $(#[test] fn $name() { super::$name(mkoba::store::Backend::Postgres) })* }
    };
}

both_backends!(
    payment_request_approved_over_ussd_is_paid_signed_and_on_the_statement,
    an_allowance_of_50_takes_100_charges_of_half_a_shilling_and_refuses_the_101st,
    refunds_full_and_partial_never_exceed_the_payment,
    forged_replayed_and_revoked_requests_are_refused,
    allowances_granted_listed_and_revoked_on_ussd,
    declined_and_expired_requests_tell_the_merchant_and_webhooks_retry,
    records_keys_catalog_and_rate_limits,
);

#[test]
fn the_openapi_document_is_served_without_a_key() {
    let w = world(Backend::Sqlite);
    let (status, doc) = w.s.call("GET", "/api/v1/openapi.json", None, None);
    assert_eq!(status, 200);
    assert_eq!(
        doc["openapi"].as_str().map(|v| v.starts_with("3.")),
        Some(true)
    );
    assert!(doc["paths"]["/api/v1/allowances/{id}/charges"]["post"].is_object());
}

/// schemathesis's `st`: `SCHEMATHESIS_BIN`, or installed once from PyPI into a virtualenv under
/// the target directory.
pub(crate) fn schemathesis_bin() -> std::path::PathBuf {
    if let Ok(bin) = std::env::var("SCHEMATHESIS_BIN") {
        return bin.into();
    }
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("schemathesis");
    let bin = dir.join("bin/schemathesis");
    if !bin.is_file() {
        let made = std::process::Command::new("python3")
            .args(["-m", "venv"])
            .arg(&dir)
            .status()
            .expect("python3 must be available to install schemathesis");
        assert!(made.success(), "python3 -m venv failed");
        let installed = std::process::Command::new(dir.join("bin/pip"))
            .args(["install", "--quiet", "schemathesis>=4,<5"])
            .status()
            .expect("pip");
        assert!(installed.success(), "installing schemathesis failed");
    }
    bin
}

/// schemathesis generates requests from the served OpenAPI document and checks every answer:
/// no 5xx, and every response valid against the document's own schemas.
#[test]
fn schemathesis_finds_no_server_error_and_no_response_off_its_schema() {
    let w = world(Backend::Sqlite);
    // Something to find: a payment, a request and an allowance to look up.
    let sale = w.s.env.submit(
        TxnKind::MerchantPayment,
        w.wallet,
        w.merchant_account,
        10_000,
    );
    assert!(matches!(sale, mkoba_ledger::Outcome::Accepted(_)));
    let base = w.s.base.clone();
    let report = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(schemathesis_bin())
        .arg("run")
        .arg(format!("{base}/api/v1/openapi.json"))
        .args(["--url", &base])
        .args(["--header", &format!("Authorization: Bearer {}", w.token)])
        .args(["--checks", "not_a_server_error,response_schema_conformance"])
        .args(["--max-examples", "25", "--seed", "20261121", "--no-color"])
        // Its stateful phase would revoke the very key it tests with.
        .args(["--exclude-method", "DELETE"])
        .env("SCHEMATHESIS_HOOKS", "")
        .current_dir(report.path())
        .output()
        .expect("run schemathesis");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{text}"
    );
    assert!(
        text.contains("passed"),
        "schemathesis ran no operations:\n{text}"
    );
    assert!(
        !text.contains("Authentication failed"),
        "schemathesis could not get past authentication:\n{text}"
    );
}
