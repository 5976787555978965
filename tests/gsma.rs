//! The GSMA Mobile Money API v1.2 end to end on both backends: real HTTP, the real ledger, USSD
//! approvals, callbacks received by a real local HTTP server, and schemathesis running the GSMA's
//! own OpenAPI file against the served API.

use std::sync::{Arc, Mutex};

use actix_web::{web, App as ActixApp, HttpRequest, HttpResponse, HttpServer};
use mkoba::merchant::auth::hmac_hex;
use mkoba::store::Backend;
use mkoba_ledger::{Currency, Money, Tier, TxnKind};
use serde_json::{json, Value};

use crate::http_api::{spawn_with, Running};

const GATEWAY_TOKEN: &str = "test-ussd-gateway-token-0123456789";
const ADMIN: &str = "test-admin-token-0123456789abcdef";
const PIN: &str = "4821";
const PHONE: &str = "+254700666001";
const PHONE2: &str = "+254700666002";
const UNREGISTERED: &str = "+254700666999";
const M: &str = "/gsma/v1.2/mm";

/// (X-CorrelationID, Mkoba-Signature, body) of each callback received.
type Received = Arc<Mutex<Vec<(String, String, String)>>>;

struct World {
    s: Running,
    token: String,
    signing_secret: String,
    wallet: mkoba_ledger::AccountId,
    wallet2: mkoba_ledger::AccountId,
    float: mkoba_ledger::AccountId,
    merchant_account: mkoba_ledger::AccountId,
    callbacks: Received,
    callback_url: String,
}

fn world(backend: Backend) -> World {
    let s = spawn_with(backend, |c| {
        c.ussd.gateway_token = mkoba::config::Secret::new(GATEWAY_TOKEN.into());
        c.merchant_api.rate_per_second = 1_000;
        c.merchant_api.rate_burst = 1_000;
    });
    let merchant_account = s.env.merchant("NEWS");
    let wallet = s.env.customer(PHONE, Tier::Tier1);
    let wallet2 = s.env.customer(PHONE2, Tier::Tier1);
    let (float, _) = s.env.agent("AG1", 10_000_000);
    for w in [wallet, wallet2] {
        let funded = s.env.submit(TxnKind::Deposit, float, w, 500_000);
        assert!(matches!(funded, mkoba_ledger::Outcome::Accepted(_)));
    }
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
    let signing_secret = "whsec_gsma_signing_secret".to_owned();
    mkoba::merchant::store::set_signing(&mut conn, merchant_id, &signing_secret, false).unwrap();
    drop(conn);

    // The caller's callback endpoint: a real HTTP server on loopback recording each PUT.
    let callbacks: Received = Arc::default();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let callback_url = format!("http://{}/callbacks", listener.local_addr().unwrap());
    let seen = Arc::clone(&callbacks);
    let receiver = {
        let _guard = s.runtime.enter();
        HttpServer::new(move || {
            let seen = Arc::clone(&seen);
            ActixApp::new().route(
                "/callbacks",
                web::put().to(move |req: HttpRequest, body: String| {
                    let seen = Arc::clone(&seen);
                    async move {
                        let h = |n: &str| {
                            req.headers()
                                .get(n)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("")
                                .to_owned()
                        };
                        seen.lock().unwrap().push((
                            h("x-correlationid"),
                            h("mkoba-signature"),
                            body,
                        ));
                        HttpResponse::NoContent().finish()
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
        signing_secret,
        wallet,
        wallet2,
        float,
        merchant_account,
        callbacks,
        callback_url,
    }
}

fn uuid(n: u32) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

enum Who {
    Operator,
    Merchant,
    Nobody,
}

impl World {
    fn call(
        &self,
        who: Who,
        method: &str,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, String)],
    ) -> (u16, Value) {
        self.s.runtime.block_on(async {
            let url = format!("{}{M}{path}", self.s.base);
            let mut req = match method {
                "GET" => self.s.client.get(url),
                _ => self.s.client.post(url),
            };
            match who {
                Who::Operator => req = req.bearer_auth(ADMIN),
                Who::Merchant => req = req.bearer_auth(&self.token),
                Who::Nobody => {}
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

    fn get(&self, who: Who, path: &str) -> (u16, Value) {
        self.call(who, "GET", path, None, &[])
    }

    fn post(&self, who: Who, path: &str, body: Value, correlation: &str) -> (u16, Value) {
        self.call(
            who,
            "POST",
            path,
            Some(body),
            &[("X-CorrelationID", correlation.to_owned())],
        )
    }

    fn post_async(&self, who: Who, path: &str, body: Value, correlation: &str) -> (u16, Value) {
        self.call(
            who,
            "POST",
            path,
            Some(body),
            &[
                ("X-CorrelationID", correlation.to_owned()),
                ("X-Callback-URL", self.callback_url.clone()),
            ],
        )
    }

    /// Approve (or decline) the first waiting request over USSD with the PIN.
    fn ussd_answer(&self, session: &str, approve: bool) -> Vec<String> {
        let mut path: Vec<&str> = Vec::new();
        let mut screens = Vec::new();
        for input in ["", "7", "1", if approve { "1" } else { "2" }, PIN] {
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
            screens.push(self.s.runtime.block_on(async {
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
            }));
        }
        screens
    }

    fn run_jobs(&self) -> usize {
        self.s
            .runtime
            .block_on(mkoba::gsma::jobs::run_once(&self.s.env.app))
            .unwrap()
    }

    fn deliver_callbacks(&self) -> usize {
        let client = reqwest::Client::new();
        self.s
            .runtime
            .block_on(mkoba::gsma::callbacks::dispatch_once(
                &self.s.env.app,
                &client,
            ))
            .unwrap()
    }

    /// Waits (a few seconds at most) for a request state to leave `pending`.
    fn settled(&self, who: fn() -> Who, server_id: &str) -> Value {
        for _ in 0..100 {
            let (status, state) = self.get(who(), &format!("/requeststates/{server_id}"));
            assert_eq!(status, 200, "{state}");
            if state["status"] != "pending" {
                return state;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("request {server_id} stayed pending");
    }

    fn kes(&self, minor: i64) -> String {
        Money::from_minor(minor, Currency::KES).to_plain_string()
    }
}

fn assert_error(body: &Value, category: &str, code: &str) {
    assert_eq!(body["errorCategory"], category, "{body}");
    assert_eq!(body["errorCode"], code, "{body}");
    assert!(body["errorDateTime"].as_str().is_some(), "{body}");
    assert!(body["errordescription"].as_str().is_some(), "{body}");
}

fn no_number(body: &Value) {
    let text = body.to_string();
    assert!(
        !text.contains("700666001")
            && !text.contains("700666002")
            && !text.contains("Test Customer"),
        "a merchant sees no customer's number or name: {text}"
    );
}

fn send_fee(w: &World, minor: i64) -> i64 {
    w.s.env.app.ledger.rules.currencies[&Currency::KES]
        .tariffs
        .send
        .fee_for(minor)
}

fn operator_moves_money_synchronously_and_correlation_ids_are_idempotency_keys(backend: Backend) {
    let w = world(backend);
    let transfer = json!({
        "amount": "12.5", "currency": "KES",
        "debitParty": [{ "key": "msisdn", "value": PHONE }],
        "creditParty": [{ "key": "msisdn", "value": PHONE2 }],
        "descriptionText": "Rent share",
    });
    let (before1, before2) = (w.s.env.balance(w.wallet), w.s.env.balance(w.wallet2));
    let (status, done) = w.post(
        Who::Operator,
        "/transactions/type/transfer",
        transfer.clone(),
        &uuid(1),
    );
    assert_eq!(status, 201, "{done}");
    assert_eq!(done["transactionStatus"], "completed");
    assert_eq!(done["type"], "transfer");
    assert_eq!(
        done["amount"], "12.50",
        "major units at the currency's scale"
    );
    assert_eq!(done["currency"], "KES");
    assert_eq!(
        done["debitParty"][0],
        json!({ "key": "msisdn", "value": PHONE })
    );
    assert_eq!(done["descriptionText"], "Rent share");
    let fee = send_fee(&w, 1_250);
    if fee > 0 {
        assert_eq!(done["fees"][0]["feeAmount"], w.kes(fee));
    }
    assert_eq!(w.s.env.balance(w.wallet), before1 - 1_250 - fee);
    assert_eq!(w.s.env.balance(w.wallet2), before2 + 1_250);

    // The same correlation id and body: the same answer, no second transfer.
    let (status, again) = w.post(
        Who::Operator,
        "/transactions/type/transfer",
        transfer.clone(),
        &uuid(1),
    );
    assert_eq!((status, &again), (201, &done));
    assert_eq!(w.s.env.balance(w.wallet2), before2 + 1_250);
    // The same correlation id for a different request is refused.
    let mut other = transfer.clone();
    other["amount"] = json!("13");
    let (status, refused) = w.post(
        Who::Operator,
        "/transactions/type/transfer",
        other,
        &uuid(1),
    );
    assert_eq!(status, 400, "{refused}");
    assert_error(&refused, "businessRule", "duplicateRequest");

    let reference = done["transactionReference"].as_str().unwrap();
    let (status, seen) = w.get(Who::Operator, &format!("/transactions/{reference}"));
    assert_eq!(
        (status, seen["type"].as_str(), seen["amount"].as_str()),
        (200, Some("transfer"), Some("12.50")),
        "{seen}"
    );

    let deposit = json!({ "amount": "100", "currency": "KES",
        "debitParty": [{ "key": "walletid", "value": w.float.0.to_string() }],
        "creditParty": [{ "key": "msisdn", "value": PHONE2 }] });
    let (status, cash_in) = w.post(
        Who::Operator,
        "/transactions/type/deposit",
        deposit,
        &uuid(2),
    );
    assert_eq!(
        (status, cash_in["amount"].as_str()),
        (201, Some("100.00")),
        "{cash_in}"
    );
    let withdrawal = json!({ "amount": "50.00", "currency": "KES",
        "debitParty": [{ "key": "msisdn", "value": PHONE2 }],
        "creditParty": [{ "key": "walletid", "value": w.float.0.to_string() }] });
    let (status, cash_out) = w.post(
        Who::Operator,
        "/transactions/type/withdrawal",
        withdrawal,
        &uuid(3),
    );
    assert_eq!(
        (status, cash_out["type"].as_str()),
        (201, Some("withdrawal")),
        "{cash_out}"
    );

    // Errors come in the spec's error object, named.
    let mut broke = transfer.clone();
    broke["amount"] = json!("99999");
    let (status, e) = w.post(
        Who::Operator,
        "/transactions/type/transfer",
        broke,
        &uuid(4),
    );
    assert_eq!(status, 400, "{e}");
    assert!(
        [
            "insufficientFunds",
            "greaterThanTransactionMaxValue",
            "dailyValueLimitExceeded"
        ]
        .contains(&e["errorCode"].as_str().unwrap()),
        "{e}"
    );
    let mut precise = transfer.clone();
    precise["amount"] = json!("12.505");
    let (status, e) = w.post(
        Who::Operator,
        "/transactions/type/transfer",
        precise,
        &uuid(5),
    );
    assert_eq!(status, 400);
    assert_error(&e, "validation", "formatError");
    assert_eq!(e["errorParameters"][0]["value"], "amount_too_precise");
    let (status, e) = w.call(
        Who::Operator,
        "POST",
        "/transactions/type/transfer",
        Some(transfer.clone()),
        &[],
    );
    assert_eq!(status, 400);
    assert_error(&e, "validation", "mandatoryValueNotSupplied");
    let (status, e) = w.post(
        Who::Merchant,
        "/transactions/type/transfer",
        transfer.clone(),
        &uuid(6),
    );
    assert_eq!(status, 401, "{e}");
    assert_error(&e, "authorisation", "clientAuthorisationError");
    let (status, e) = w.post(
        Who::Nobody,
        "/transactions/type/transfer",
        transfer.clone(),
        &uuid(7),
    );
    assert_eq!(status, 401);
    assert_error(&e, "authorisation", "clientAuthorisationError");
    let mut unknown = transfer;
    unknown["creditParty"] = json!([{ "key": "msisdn", "value": UNREGISTERED }]);
    let (status, e) = w.post(
        Who::Operator,
        "/transactions/type/transfer",
        unknown,
        &uuid(8),
    );
    assert_eq!(status, 404);
    assert_error(&e, "identification", "identifierError");
    let (status, e) = w.post(
        Who::Operator,
        "/transactions/type/billpay",
        json!({ "amount": "1", "currency": "KES" }),
        &uuid(9),
    );
    assert_eq!(status, 400);
    assert_error(&e, "businessRule", "transactionTypeError");
    w.s.env.assert_reconciles();
}

fn merchant_payment_approved_on_ussd_is_finished_asynchronously_with_a_signed_callback(
    backend: Backend,
) {
    let w = world(backend);
    let pay = json!({ "amount": "20", "currency": "KES",
        "debitParty": [{ "key": "msisdn", "value": PHONE }],
        "descriptionText": "Month pass" });
    let (status, state) = w.post_async(
        Who::Merchant,
        "/transactions/type/merchantpay",
        pay.clone(),
        &uuid(10),
    );
    assert_eq!(status, 202, "{state}");
    assert_eq!(
        (
            state["status"].as_str(),
            state["notificationMethod"].as_str()
        ),
        (Some("pending"), Some("callback"))
    );
    let server_id = state["serverCorrelationId"].as_str().unwrap().to_owned();
    let (status, again) = w.post_async(
        Who::Merchant,
        "/transactions/type/merchantpay",
        pay,
        &uuid(10),
    );
    assert_eq!(
        (status, &again["serverCorrelationId"]),
        (202, &state["serverCorrelationId"]),
        "a repeat is the same request"
    );
    assert_eq!(
        w.run_jobs(),
        0,
        "nothing to finish before the customer answers"
    );

    let before = w.s.env.balance(w.wallet);
    let screens = w.ussd_answer("gsma-pay", true);
    assert!(screens[4].starts_with("END "), "{screens:?}");
    assert_eq!(w.s.env.balance(w.wallet), before - 2_000);
    assert_eq!(w.run_jobs(), 1);
    let (_, done) = w.get(Who::Merchant, &format!("/requeststates/{server_id}"));
    assert_eq!(done["status"], "completed", "{done}");
    let reference = done["objectReference"].as_str().unwrap().to_owned();

    assert_eq!(w.deliver_callbacks(), 1);
    assert_eq!(w.deliver_callbacks(), 0, "delivered once");
    let (correlation, signature, body) = w.callbacks.lock().unwrap()[0].clone();
    assert_eq!(correlation, uuid(10));
    let (t, v1) = signature.split_once(",v1=").unwrap();
    let t = t.strip_prefix("t=").unwrap();
    assert_eq!(
        v1,
        hmac_hex(
            w.signing_secret.as_bytes(),
            &[t.as_bytes(), b".", body.as_bytes()]
        )
    );
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["transactionReference"], reference.as_str());
    assert_eq!(
        (body["type"].as_str(), body["amount"].as_str()),
        (Some("merchantpay"), Some("20.00"))
    );
    let payer = body["debitParty"][0]["value"].as_str().unwrap();
    assert!(payer.starts_with("cus_"), "{body}");
    assert_eq!(
        body["creditParty"][0]["value"],
        w.merchant_account.0.to_string()
    );
    no_number(&body);

    let (status, seen) = w.get(Who::Merchant, &format!("/transactions/{reference}"));
    assert_eq!(status, 200);
    no_number(&seen);

    // Polling mode, declined: the request fails with the spec's error.
    let (status, polled) = w.post(Who::Merchant, "/transactions/type/merchantpay",
        json!({ "amount": "3", "currency": "KES", "debitParty": [{ "key": "walletid", "value": payer }] }), &uuid(11));
    assert_eq!(
        (status, polled["notificationMethod"].as_str()),
        (202, Some("polling")),
        "{polled}"
    );
    w.ussd_answer("gsma-decline", false);
    assert_eq!(w.run_jobs(), 1);
    let (_, failed) = w.get(
        Who::Merchant,
        &format!(
            "/requeststates/{}",
            polled["serverCorrelationId"].as_str().unwrap()
        ),
    );
    assert_eq!(failed["status"], "failed");
    assert_error(&failed["error"], "authorisation", "requestDeclined");
    assert_eq!(w.deliver_callbacks(), 0, "no callback was asked for");
    // The operator cannot see a merchant's request state.
    let (status, _) = w.get(Who::Operator, &format!("/requeststates/{server_id}"));
    assert_eq!(status, 404);
    w.s.env.assert_reconciles();
}

fn debit_mandates_map_onto_allowances_and_pay_sync_and_async(backend: Backend) {
    let w = world(backend);
    let today = mkoba::gsma::date_of(mkoba::store::writer::Clock::now(&*w.s.env.clock));
    let mandate = json!({ "amountLimit": "0.50", "currency": "KES", "numberOfPayments": 3,
        "startDate": today, "payee": [{ "key": "walletid", "value": w.merchant_account.0.to_string() }] });
    let (status, state) = w.post(
        Who::Merchant,
        &format!("/accounts/msisdn/{PHONE}/debitmandates"),
        mandate.clone(),
        &uuid(20),
    );
    assert_eq!(status, 202, "{state}");
    let reference = state["objectReference"].as_str().unwrap().to_owned();
    assert!(reference.starts_with("al_"));
    let path = format!("/accounts/msisdn/{PHONE}/debitmandates/{reference}");
    let (status, shown) = w.get(Who::Merchant, &path);
    assert_eq!(
        (
            status,
            shown["mandateStatus"].as_str(),
            shown["amountLimit"].as_str()
        ),
        (200, Some("inactive"), Some("0.50")),
        "{shown}"
    );
    let (status, e) = w.post(
        Who::Operator,
        &format!("/accounts/msisdn/{PHONE}/debitmandates"),
        mandate,
        &uuid(21),
    );
    assert_eq!(status, 401);
    assert_error(&e, "authorisation", "clientAuthorisationError");

    let charge = |amount: &str, n: u32, callback: bool| {
        let body = json!({ "amount": amount, "currency": "KES", "debitParty": [{ "key": "mandatereference", "value": reference }] });
        if callback {
            w.post_async(
                Who::Merchant,
                "/transactions/type/merchantpay",
                body,
                &uuid(n),
            )
        } else {
            w.post(
                Who::Merchant,
                "/transactions/type/merchantpay",
                body,
                &uuid(n),
            )
        }
    };
    let (status, e) = charge("0.50", 22, false);
    assert_eq!(status, 400, "not granted yet: {e}");
    assert_error(&e, "businessRule", "noMandateAuthority");

    let screens = w.ussd_answer("gsma-mandate", true);
    assert!(screens[4].starts_with("END "), "{screens:?}");
    assert_eq!(w.run_jobs(), 1);
    let (_, granted) = w.get(
        Who::Merchant,
        &format!(
            "/requeststates/{}",
            state["serverCorrelationId"].as_str().unwrap()
        ),
    );
    assert_eq!(granted["status"], "completed", "{granted}");
    let (_, shown) = w.get(Who::Merchant, &path);
    assert_eq!(shown["mandateStatus"], "active");

    let before = w.s.env.balance(w.wallet);
    let (status, paid) = charge("0.50", 23, false);
    assert_eq!(
        (status, paid["transactionStatus"].as_str()),
        (201, Some("completed")),
        "{paid}"
    );
    no_number(&paid);
    let (status, e) = charge("0.60", 24, false);
    assert_eq!(status, 400);
    assert_error(&e, "businessRule", "noMandateAuthority");
    let (status, state) = charge("0.50", 25, true);
    assert_eq!(status, 202, "{state}");
    let server_id = state["serverCorrelationId"].as_str().unwrap().to_owned();
    let done = w.settled(|| Who::Merchant, &server_id);
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(w.deliver_callbacks(), 1);
    let body: Value = serde_json::from_str(&w.callbacks.lock().unwrap()[0].2).unwrap();
    assert_eq!(body["transactionReference"], done["objectReference"]);
    let (status, _) = charge("0.50", 26, false);
    assert_eq!(status, 201);
    let (status, e) = charge("0.50", 27, false);
    assert_eq!(status, 400, "three payments of 0.50 and no more: {e}");
    assert_error(&e, "businessRule", "noMandateAuthority");
    assert_eq!(w.s.env.balance(w.wallet), before - 150);
    w.s.env.assert_reconciles();
}

fn reversals_refund_and_accounts_keep_customers_private(backend: Backend) {
    let w = world(backend);
    let sale = w.s.env.submit(
        TxnKind::MerchantPayment,
        w.wallet,
        w.merchant_account,
        10_000,
    );
    let code = sale.receipt().unwrap().code.clone();
    let (status, refund) = w.post(
        Who::Merchant,
        &format!("/transactions/{code}/reversals"),
        json!({ "type": "reversal", "amount": "30", "currency": "KES" }),
        &uuid(30),
    );
    assert_eq!(status, 201, "{refund}");
    assert_eq!(
        (refund["type"].as_str(), refund["amount"].as_str()),
        (Some("reversal"), Some("30.00"))
    );
    assert_eq!(refund["originalTransactionReference"], code.as_str());
    no_number(&refund);
    let (status, e) = w.post(
        Who::Merchant,
        &format!("/transactions/{code}/reversals"),
        json!({ "type": "reversal", "amount": "80" }),
        &uuid(31),
    );
    assert_eq!(status, 400);
    assert_error(&e, "businessRule", "overPaymentNotAllowed");
    let transfer =
        w.s.env
            .submit(TxnKind::Transfer, w.wallet, w.wallet2, 1_000);
    let other = transfer.receipt().unwrap().code.clone();
    let (status, e) = w.post(
        Who::Merchant,
        &format!("/transactions/{other}/reversals"),
        json!({ "type": "reversal" }),
        &uuid(32),
    );
    assert_eq!(
        status, 404,
        "a merchant cannot see others' transactions: {e}"
    );
    let (status, _) = w.get(Who::Merchant, &format!("/transactions/{other}"));
    assert_eq!(status, 404);
    let (status, reversed) = w.post(
        Who::Operator,
        &format!("/transactions/{other}/reversals"),
        json!({ "type": "reversal" }),
        &uuid(33),
    );
    assert_eq!(
        (status, reversed["amount"].as_str()),
        (201, Some("10.00")),
        "{reversed}"
    );

    // A merchant reads its own account; of a customer only the status.
    let own = format!("/accounts/walletid/{}", w.merchant_account.0);
    let (status, balance) = w.get(Who::Merchant, &format!("{own}/balance"));
    assert_eq!(status, 200, "{balance}");
    assert_eq!(
        balance["currentBalance"],
        w.kes(w.s.env.balance(w.merchant_account))
    );
    let (status, lines) = w.get(Who::Merchant, &format!("{own}/statemententries?limit=10"));
    assert_eq!(status, 200, "{lines}");
    assert!(lines.as_array().unwrap().len() >= 2, "{lines}");
    assert!(lines.to_string().contains("cus_"), "{lines}");
    no_number(&lines);
    let (_, name) = w.get(Who::Merchant, &format!("{own}/accountname"));
    assert_eq!(name["name"]["fullName"], "Test Merchant");
    for what in ["balance", "statemententries", "accountname"] {
        let (status, e) = w.get(Who::Merchant, &format!("/accounts/msisdn/{PHONE}/{what}"));
        assert_eq!(status, 401, "{what}: {e}");
        assert_error(&e, "authorisation", "clientAuthorisationError");
    }
    let (status, st) = w.get(Who::Merchant, &format!("/accounts/msisdn/{PHONE}/status"));
    assert_eq!(
        (status, st["accountStatus"].as_str()),
        (200, Some("available"))
    );
    no_number(&st);
    let (_, st) = w.get(
        Who::Merchant,
        &format!("/accounts/msisdn/{UNREGISTERED}/status"),
    );
    assert_eq!(st["accountStatus"], "unregistered");
    let (status, _) = w.get(
        Who::Merchant,
        &format!("/accounts/walletid/{}/status", w.wallet.0),
    );
    assert_eq!(
        status, 404,
        "a merchant addresses customers by number or pseudonym, not by id"
    );
    let (status, e) = w.get(Who::Merchant, "/accounts/iban/GB00/status");
    assert_eq!(status, 400);
    assert_error(&e, "validation", "formatError");

    // The operator sees everything, amounts at the currency's scale.
    let (_, name) = w.get(
        Who::Operator,
        &format!("/accounts/msisdn/{PHONE}/accountname"),
    );
    assert_eq!(name["name"]["fullName"], "Test Customer");
    let (_, balance) = w.get(Who::Operator, &format!("/accounts/msisdn/{PHONE}/balance"));
    assert_eq!(balance["currentBalance"], w.kes(w.s.env.balance(w.wallet)));
    assert_eq!(balance["currency"], "KES");
    let (status, lines) = w.get(
        Who::Operator,
        &format!("/accounts/msisdn/{PHONE}/statemententries?limit=2&offset=1"),
    );
    assert_eq!(
        (status, lines.as_array().unwrap().len()),
        (200, 2),
        "{lines}"
    );
    let (status, e) = w.get(
        Who::Operator,
        &format!("/accounts/msisdn/{PHONE}/statemententries?limit=100000"),
    );
    assert_eq!(status, 400);
    assert_error(&e, "validation", "formatError");
    w.s.env.assert_reconciles();
}

fn quotations_use_the_ledger_dry_run_and_heartbeat_answers(backend: Backend) {
    let w = world(backend);
    let before = w.s.env.journal_size();
    let (status, q) = w.call(
        Who::Operator,
        "POST",
        "/quotations",
        Some(json!({
        "requestAmount": "250", "requestCurrency": "KES", "type": "transfer",
        "debitParty": [{ "key": "msisdn", "value": PHONE }],
        "creditParty": [{ "key": "msisdn", "value": PHONE2 }] })),
        &[],
    );
    assert_eq!(status, 201, "{q}");
    assert_eq!(
        q["quotes"][0]["fees"][0]["feeAmount"],
        w.kes(send_fee(&w, 25_000))
    );
    assert_eq!(q["quotes"][0]["receivingAmount"], "250.00");
    assert_eq!(w.s.env.journal_size(), before, "a quote moves nothing");
    let (status, e) = w.call(
        Who::Operator,
        "POST",
        "/quotations",
        Some(json!({
        "requestAmount": "1000000", "requestCurrency": "KES", "type": "transfer",
        "debitParty": [{ "key": "msisdn", "value": PHONE }],
        "creditParty": [{ "key": "msisdn", "value": PHONE2 }] })),
        &[],
    );
    assert_eq!(
        status, 400,
        "the dry run refuses what the ledger would: {e}"
    );
    let (status, q) = w.call(
        Who::Merchant,
        "POST",
        "/quotations",
        Some(json!({
        "requestAmount": "100", "requestCurrency": "KES",
        "debitParty": [{ "key": "msisdn", "value": PHONE }],
        "creditParty": [{ "key": "walletid", "value": w.merchant_account.0.to_string() }] })),
        &[],
    );
    assert_eq!(status, 201, "{q}");
    let fee = w.s.env.app.ledger.rules.currencies[&Currency::KES]
        .tariffs
        .merchant
        .fee_for(10_000);
    assert_eq!(q["quotes"][0]["receivingAmount"], w.kes(10_000 - fee));
    assert_eq!(q["type"], "merchantpay");
    no_number(&q);
    let (status, hb) = w.get(Who::Nobody, "/heartbeat");
    assert_eq!(
        (status, hb["serviceStatus"].as_str()),
        (200, Some("available"))
    );
    let (status, e) = w.get(Who::Operator, &format!("/requeststates/{}", uuid(99)));
    assert_eq!(status, 404);
    assert_error(&e, "identification", "identifierError");
}

fn merchants_disburse_from_their_own_account_only(backend: Backend) {
    let w = world(backend);
    let sale = w.s.env.submit(
        TxnKind::MerchantPayment,
        w.wallet,
        w.merchant_account,
        100_000,
    );
    assert!(matches!(sale, mkoba_ledger::Outcome::Accepted(_)));
    let held = w.s.env.balance(w.merchant_account);
    let before = w.s.env.balance(w.wallet2);
    let payout = json!({
        "amount": "25.00", "currency": "KES",
        "creditParty": [{ "key": "msisdn", "value": PHONE2 }],
        "descriptionText": "Prize",
    });
    let (status, done) = w.post(
        Who::Merchant,
        "/transactions/type/disbursement",
        payout.clone(),
        &uuid(70),
    );
    assert_eq!(status, 201, "{done}");
    assert_eq!(
        (done["type"].as_str(), done["amount"].as_str()),
        (Some("disbursement"), Some("25.00"))
    );
    no_number(&done);
    assert_eq!(w.s.env.balance(w.wallet2), before + 2_500);
    assert_eq!(w.s.env.balance(w.merchant_account), held - 2_500);
    let (status, _) = w.post(
        Who::Merchant,
        "/transactions/type/disbursement",
        payout.clone(),
        &uuid(70),
    );
    assert_eq!(status, 201, "the same correlation id answers again");
    assert_eq!(w.s.env.balance(w.wallet2), before + 2_500, "and pays once");

    // Not from someone else's account, and not more than the merchant holds.
    let other = w.s.env.merchant("OTHER");
    let mut foreign = payout.clone();
    foreign["debitParty"] = json!([{ "key": "walletid", "value": other.0.to_string() }]);
    let (status, e) = w.post(
        Who::Merchant,
        "/transactions/type/disbursement",
        foreign,
        &uuid(71),
    );
    assert!(matches!(status, 401 | 404), "{status} {e}");
    let mut too_much = payout;
    too_much["amount"] = json!("5000.00");
    let (status, e) = w.post(
        Who::Merchant,
        "/transactions/type/disbursement",
        too_much,
        &uuid(72),
    );
    assert_eq!(status, 400, "{e}");
    assert_eq!(w.s.env.balance(w.wallet2), before + 2_500);
    w.s.env.assert_reconciles();
}

macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $(#[test] fn $name() { super::$name(mkoba::store::Backend::Sqlite) })* }
        mod postgres { $(#[test] fn $name() { super::$name(mkoba::store::Backend::Postgres) })* }
    };
}

both_backends!(
    operator_moves_money_synchronously_and_correlation_ids_are_idempotency_keys,
    merchant_payment_approved_on_ussd_is_finished_asynchronously_with_a_signed_callback,
    debit_mandates_map_onto_allowances_and_pay_sync_and_async,
    reversals_refund_and_accounts_keep_customers_private,
    quotations_use_the_ledger_dry_run_and_heartbeat_answers,
    merchants_disburse_from_their_own_account_only,
);

/// The GSMA's own OpenAPI file, beside the checkout (`../shared/specs/`).
fn gsma_spec() -> std::path::PathBuf {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/specs/gsma-mobile-money-api-1.2.0.yaml");
    assert!(
        path.is_file(),
        "the GSMA spec must be at {}",
        path.display()
    );
    path
}

const OPERATIONS: &[&str] = &[
    "transactionstypetransactionTypePUT",
    "transactionsTransactionReferenceGET",
    "transactionsTransactionReferenceReversalsPOST",
    "accountsIdentifierTypeIdentifierBalanceGET",
    "accountsIdentifierTypeIdentifierStatemententriesGET",
    "accountsIdentifierTypeIdentifierAccountnameGET",
    "accountsIdentifierTypeIdentifierStatusGET",
    "accountsIdentifierTypeIdentifierDebitmandatesPOST",
    "accountsIdentifierTypeIdentifierDebitmandatesDebitMandateReferenceGET",
    "quotationsPOST",
    "requeststatesServerCorrelationIdGET",
    "heartbeatGET",
];

fn schemathesis(w: &World, token: &str) -> String {
    let report = tempfile::tempdir().unwrap();
    let mut command = std::process::Command::new(crate::merchant::schemathesis_bin());
    command
        .arg("run")
        .arg(gsma_spec())
        .args(["--url", &format!("{}{M}", w.s.base)])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--checks", "not_a_server_error,response_schema_conformance"])
        .args(["--max-examples", "40", "--seed", "20261121", "--no-color"])
        // The examples and coverage phases crash inside schemathesis/Hypothesis while drawing the
        // spec's untyped `amountLimit` (a generator error, not a finding); fuzzing draws from
        // every schema of every selected operation.
        .args(["--phases", "fuzzing"])
        .args(["--workers", "2"]);
    for op in OPERATIONS {
        command.args(["--include-operation-id", op]);
    }
    let output = command
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
    text
}

/// schemathesis generates requests from the GSMA's own spec file for every implemented operation
/// and checks each answer: no 5xx, and every response valid against the spec's schemas. Once as
/// the operator and once as a merchant.
#[test]
fn schemathesis_on_the_gsma_spec_finds_no_server_error_and_no_response_off_its_schema() {
    let w = world(Backend::Sqlite);
    let sale = w.s.env.submit(
        TxnKind::MerchantPayment,
        w.wallet,
        w.merchant_account,
        10_000,
    );
    assert!(matches!(sale, mkoba_ledger::Outcome::Accepted(_)));
    for token in [ADMIN.to_owned(), w.token.clone()] {
        let text = schemathesis(&w, &token);
        assert!(
            text.contains("passed"),
            "schemathesis ran no operations:\n{text}"
        );
        assert!(
            text.contains(&format!("Tested: {}", OPERATIONS.len())),
            "schemathesis did not select the implemented operations:\n{text}"
        );
        eprintln!("{text}");
    }
    w.s.env.assert_reconciles();
}
