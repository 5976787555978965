//! USSD end to end: what gateways really send, over HTTP, against the real server and ledger.

use mkoba::store::Backend;
use mkoba_ledger::{Tier, TxnKind};
use serde_json::{json, Value};

use crate::http_api::{spawn_with, Running};

const GATEWAY_TOKEN: &str = "test-ussd-gateway-token-0123456789";
const PIN: &str = "4821";

fn server(backend: Backend) -> Running {
    spawn_with(backend, |c| {
        c.ussd.gateway_token = mkoba::config::Secret::new(GATEWAY_TOKEN.into())
    })
}

/// Posts raw bytes to a USSD endpoint; returns (HTTP status, body).
fn post_raw(s: &Running, path: &str, content_type: &str, body: Vec<u8>) -> (u16, String) {
    s.runtime.block_on(async {
        let res = s
            .client
            .post(format!("{}{path}", s.base))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    })
}

/// An Africa's Talking session: every hop carries the whole input path joined by `*`.
struct At<'a> {
    s: &'a Running,
    session: String,
    phone: String,
    path: Vec<String>,
    hops: usize,
}

impl<'a> At<'a> {
    fn dial(s: &'a Running, phone: &str, session: &str) -> (At<'a>, String) {
        At::dial_with(s, phone, session, &[])
    }

    /// Dials a shortcut: `*384*44135*5*M001#` arrives as the first hop's text `5*M001`.
    fn dial_with(s: &'a Running, phone: &str, session: &str, inputs: &[&str]) -> (At<'a>, String) {
        let mut at = At {
            s,
            session: session.into(),
            phone: phone.into(),
            path: inputs.iter().map(|i| (*i).to_owned()).collect(),
            hops: 0,
        };
        let screen = at.post();
        (at, screen)
    }

    fn post(&mut self) -> String {
        self.hops += 1;
        let form = serde_urlencoded::to_string([
            ("sessionId", self.session.as_str()),
            ("serviceCode", "*384*44135#"),
            ("phoneNumber", self.phone.as_str()),
            ("networkCode", "63902"),
            ("text", &self.path.join("*")),
        ])
        .unwrap();
        assert!(
            form.contains("%2B254"),
            "phone numbers arrive URL-encoded as %2B: {form}"
        );
        let (status, body) = post_raw(
            self.s,
            &format!("/ussd/africastalking?token={GATEWAY_TOKEN}"),
            "application/x-www-form-urlencoded",
            form.into_bytes(),
        );
        assert_eq!(status, 200, "{body}");
        assert!(
            body.starts_with("CON ") || body.starts_with("END "),
            "{body}"
        );
        assert!(body.chars().count() <= 182, "screen too long: {body}");
        body
    }

    fn send(&mut self, input: &str) -> String {
        self.path.push(input.into());
        self.post()
    }

    /// The gateway repeats the last hop (a retry after a timeout).
    fn repeat(&mut self) -> String {
        self.post()
    }
}

fn available(s: &Running, account: mkoba_ledger::AccountId) -> i64 {
    s.env.available(account)
}

fn customer_wallet(s: &Running, msisdn: &str) -> mkoba_ledger::AccountId {
    mkoba::store::parties::customer_by_msisdn(&mut s.env.conn(), msisdn)
        .unwrap()
        .expect("registered")
        .2
}

fn sms_to(s: &Running, msisdn: &str) -> Vec<String> {
    s.env
        .sms_for(msisdn, 50)
        .into_iter()
        .map(|r| r.template)
        .collect()
}

macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $(#[test] fn $name() { super::$name(mkoba::store::Backend::Sqlite) })* }
        mod postgres { $(#[test] fn $name() { super::$name(mkoba::store::Backend::Postgres) })* }
    };
}

both_backends!(
    a_customer_registers_sends_cancels_withdraws_and_checks,
    three_wrong_pins_lock_the_wallet,
    buying_paying_account_settings_reversal_and_approvals,
    a_dial_shortcut_pays_in_two_hops_and_never_takes_a_dialled_pin,
);

/// A customer with a PIN and KES 1,000.00, and a merchant `M001`.
fn payer_and_merchant(
    s: &Running,
    msisdn: &str,
) -> (mkoba_ledger::AccountId, mkoba_ledger::AccountId) {
    let (float, _) = s.env.agent("AG1", 10_000_000);
    let wallet = s.env.customer(msisdn, Tier::Tier1);
    s.env.submit(TxnKind::Deposit, float, wallet, 100_000);
    let hash = s.env.app.hasher.hash(PIN).unwrap();
    let customer = mkoba::store::parties::customer_profile(&mut s.env.conn(), msisdn)
        .unwrap()
        .unwrap();
    mkoba::store::parties::set_pin(&mut s.env.conn(), customer.id, &hash).unwrap();
    let merchant = mkoba::store::parties::create_merchant(
        &mut s.env.conn(),
        "M001",
        "Safari Airtime",
        mkoba_ledger::Currency::KES,
    )
    .unwrap();
    (wallet, merchant.account)
}

fn a_dial_shortcut_pays_in_two_hops_and_never_takes_a_dialled_pin(backend: Backend) {
    let s = server(backend);
    let phone = "+254700300001";
    let (wallet, merchant) = payer_and_merchant(&s, phone);

    // *384*44135*5*M001*120#: Pay, merchant M001, KES 120, straight to the PIN prompt. The
    // session id is as long as a gateway's may be: the payment's key carries it.
    let session = format!("ATUid_{}", "0123456789abcdef".repeat(5));
    let session = &session[..mkoba_ussd::dialect::SESSION_ID_LEN_MAX];
    let opened = s.env.app.clock.now().0 / 1_000_000;
    let (mut at, confirm) = At::dial_with(&s, phone, session, &["5", "M001", "120"]);
    assert!(
        confirm.starts_with("CON Pay KES 120.00 to Safari Airtime")
            && confirm.contains("Enter PIN"),
        "{confirm}"
    );
    assert_eq!(s.env.balance(merchant), 0, "nothing moves before the PIN");
    let paid = at.send(PIN);
    assert!(
        paid.starts_with("END Paid KES 120.00 to Safari Airtime"),
        "{paid}"
    );
    assert_eq!(at.hops, 2);
    assert_eq!(
        s.env.balance(merchant),
        12_000 - 60,
        "paid, less the merchant's 0.5%"
    );
    let after = available(&s, wallet);
    assert!(after <= 100_000 - 12_000, "the payer paid: {after}");
    // The gateway repeating the PIN hop gets the same receipt and pays nothing more.
    assert_eq!(at.repeat(), paid);
    assert_eq!(available(&s, wallet), after);
    // The ledger key leads with the second the session opened, so keys sort by time.
    let keys: Vec<String> = (opened..=s.env.app.clock.now().0 / 1_000_000)
        .map(|second| format!("ussd:{second:08x}:africastalking:{session}:0:pay"))
        .filter(|key| {
            mkoba::store::reads::transaction_by_key(&mut s.env.conn(), key)
                .unwrap()
                .is_some()
        })
        .collect();
    assert_eq!(keys.len(), 1, "one payment under a time-ordered key");

    // The PIN typed into the dial string is refused, and nothing moves.
    let (at, refused) = At::dial_with(&s, phone, "ATUid_pin", &["5", "M001", "120", PIN]);
    assert!(refused.starts_with("END For your safety"), "{refused}");
    assert_eq!(at.hops, 1);
    assert_eq!(available(&s, wallet), after);

    // A dialled input that is refused stops the shortcut on its hint.
    let (_, hint) = At::dial_with(&s, phone, "ATUid_bad", &["5", "M404", "120"]);
    assert!(hint.starts_with("CON Unknown merchant code."), "{hint}");
    assert!(hint.contains("Enter merchant code"), "{hint}");
}

#[test]
fn hubtel_dial_shortcut_reaches_the_pin_prompt() {
    let s = server(Backend::Sqlite);
    let (wallet, merchant) = payer_and_merchant(&s, "+254700300002");
    let hop = |kind: &str, message: &str| {
        json_hop(
            &s,
            "hubtel",
            json!({ "Type": kind, "Message": message, "ServiceCode": "714", "ClientState": "",
            "Mobile": "254700300002", "SessionId": "hubtel-short" }),
        )
    };
    let confirm = hop("initiation", "*714*5*M001*120#");
    assert_eq!(confirm["Type"], "Response", "{confirm}");
    assert!(
        confirm["Message"].as_str().unwrap().contains("Enter PIN"),
        "{confirm}"
    );
    let paid = hop("response", PIN);
    assert_eq!(paid["Type"], "Release", "{paid}");
    assert!(
        paid["Message"]
            .as_str()
            .unwrap()
            .starts_with("Paid KES 120.00"),
        "{paid}"
    );
    assert_eq!(s.env.balance(merchant), 12_000 - 60);
    assert!(available(&s, wallet) <= 100_000 - 12_000);
}

fn a_customer_registers_sends_cancels_withdraws_and_checks(backend: Backend) {
    let s = server(backend);
    let (float, _) = s.env.agent("AG1", 10_000_000);
    let bob = s.env.customer("+254700100002", Tier::Tier1);
    let jane = "+254700200001";

    // Register: language, name, PIN twice, terms.
    let (mut at, screen) = At::dial(&s, jane, "ATUid_reg");
    assert!(screen.starts_with("CON Welcome to mkoba"), "{screen}");
    assert!(at.send("1").contains("Enter your full name"));
    assert!(at.send("Jane Wanjiku").contains("Create a 4-digit PIN"));
    assert!(
        at.send("1234").contains("too easy to guess"),
        "weak PINs are refused"
    );
    assert!(at.send(PIN).contains("Enter the PIN again"));
    assert!(at.send(PIN).contains("accept the terms"));
    let done = at.send("1");
    assert!(done.starts_with("END Welcome Jane Wanjiku!"), "{done}");
    let wallet = customer_wallet(&s, jane);
    assert!(sms_to(&s, jane).contains(&"welcome".to_owned()));

    // Cash-in at an agent (the operator's API stands in for the portal).
    s.env.submit(TxnKind::Deposit, float, wallet, 500_000);

    // Send in five hops counting the dial; the confirmation asks for the PIN.
    let (mut at, menu) = At::dial(&s, jane, "ATUid_send1");
    assert!(menu.starts_with("CON Hi Jane"), "{menu}");
    assert!(at.send("1").contains("Enter phone number"));
    let amount_screen = at.send("0700100002");
    assert!(
        amount_screen.contains("TEST C***"),
        "the recipient's masked name: {amount_screen}"
    );
    let confirm = at.send("1000");
    assert!(
        confirm.contains("Send KES 1,000.00 to TEST C***, fee 13.00. Enter PIN"),
        "{confirm}"
    );
    let sent = at.send(PIN);
    assert!(
        sent.starts_with("END Sent KES 1,000.00 to TEST C***"),
        "{sent}"
    );
    assert_eq!(at.hops, 5);
    assert_eq!(
        available(&s, wallet),
        500_000 - 100_000 - 1_300,
        "held during the cancel window"
    );
    assert_eq!(s.env.balance(bob), 0);

    // The gateway repeats the PIN hop: same answer, no second payment.
    assert_eq!(at.repeat(), sent);
    assert_eq!(available(&s, wallet), 500_000 - 100_000 - 1_300);

    // Cancel last send, from My account.
    let (mut at, _) = At::dial(&s, jane, "ATUid_cancel");
    assert!(at.send("8").contains("Cancel last send"));
    assert!(at.send("5").contains("Enter PIN to cancel"));
    let cancelled = at.send(PIN);
    assert!(
        cancelled.starts_with("END Cancelled. KES 1,000.00 is back"),
        "{cancelled}"
    );
    assert_eq!(available(&s, wallet), 500_000);

    // Send again; once the window closes it posts.
    let (mut at, _) = At::dial(&s, jane, "ATUid_send2");
    at.send("1");
    at.send("0700100002");
    at.send("200");
    assert!(at.send(PIN).starts_with("END Sent KES 200.00"));
    s.env
        .clock
        .advance_seconds(s.env.app.config.ussd.cancel_window_seconds);
    assert_eq!(
        s.runtime
            .block_on(s.env.app.post_closed_sends(100))
            .unwrap(),
        1
    );
    assert_eq!(s.env.balance(bob), 20_000);
    assert!(sms_to(&s, "+254700100002").contains(&"received".to_owned()));

    // Withdraw at an agent: held until the agent pays out.
    let (mut at, _) = At::dial(&s, jane, "ATUid_withdraw");
    assert!(at.send("2").contains("Enter agent number"));
    assert!(at.send("AG1").contains("Withdraw at Test Agent"));
    let confirm = at.send("500");
    assert!(
        confirm.contains("Withdraw KES 500.00 at Test Agent, fee 29.00"),
        "{confirm}"
    );
    let withdrawn = at.send(PIN);
    assert!(withdrawn.starts_with("END "), "{withdrawn}");
    assert_eq!(
        available(&s, wallet),
        500_000 - 20_000 - 700 - 50_000 - 2_900
    );

    // Balance in three hops.
    let (mut at, _) = At::dial(&s, jane, "ATUid_balance");
    assert!(at.send("6").contains("Enter PIN to see your balance"));
    let balance = at.send(PIN);
    assert!(
        balance.starts_with("END Your balance is KES 4,264.00"),
        "{balance}"
    );
    assert_eq!(at.hops, 3);

    // Mini statement.
    let (mut at, _) = At::dial(&s, jane, "ATUid_statement");
    at.send("8");
    assert!(at.send("1").contains("Enter PIN to see your statement"));
    let statement = at.send(PIN);
    assert!(
        statement.contains("Last transactions") && statement.contains("Deposit"),
        "{statement}"
    );
    s.env.assert_reconciles();
}

fn three_wrong_pins_lock_the_wallet(backend: Backend) {
    let s = server(backend);
    let (float, _) = s.env.agent("AG1", 10_000_000);
    let jane = "+254700200001";
    let (mut at, _) = At::dial(&s, jane, "ATUid_r");
    for input in ["1", "Jane Wanjiku", PIN, PIN, "1"] {
        at.send(input);
    }
    let wallet = customer_wallet(&s, jane);
    s.env.submit(TxnKind::Deposit, float, wallet, 100_000);

    // Wrong PINs count across sessions, not just within one.
    let (mut at, _) = At::dial(&s, jane, "ATUid_w1");
    at.send("6");
    assert!(at.send("1111").contains("Wrong PIN. 2 tries left."));
    let (mut at, _) = At::dial(&s, jane, "ATUid_w2");
    at.send("6");
    assert!(at.send("2222").contains("Wrong PIN. 1 tries left."));
    let locked = at.send("3333");
    assert!(locked.starts_with("END "), "{locked}");
    let (at, screen) = At::dial(&s, jane, "ATUid_w3");
    assert!(
        screen.starts_with("END ") && screen.contains("agent"),
        "a locked wallet is sent to an agent: {screen}"
    );
    assert_eq!(at.hops, 1);
    // Even the right PIN does nothing now, until an agent resets it.
    let customer = mkoba::store::parties::customer_profile(&mut s.env.conn(), jane)
        .unwrap()
        .unwrap();
    assert_eq!(
        mkoba::pin::verify_blocking(&s.env.app, customer.id, PIN).unwrap(),
        mkoba::pin::PinCheck::Locked
    );
    assert!(sms_to(&s, jane).contains(&"pin_locked".to_owned()));
    assert_eq!(available(&s, wallet), 100_000);

    // After an ID check, a reset gives a one-time PIN that must be changed before anything else.
    let start_pin = "6083";
    mkoba::store::parties::reset_pin(
        &mut s.env.conn(),
        customer.id,
        &s.env.app.hasher.hash(start_pin).unwrap(),
    )
    .unwrap();
    let (mut at, screen) = At::dial(&s, jane, "ATUid_reset");
    assert!(screen.contains("change your PIN first"), "{screen}");
    at.send("5937");
    at.send("5937");
    let changed = at.send(start_pin);
    assert!(
        changed.starts_with("CON Your PIN has been changed.") && changed.contains("Send money"),
        "{changed}"
    );
    at.send("6");
    assert!(at
        .send("5937")
        .starts_with("END Your balance is KES 1,000.00."));
}

fn json_hop(s: &Running, dialect: &str, body: Value) -> Value {
    let (status, text) = post_raw(
        s,
        &format!("/ussd/{dialect}?token={GATEWAY_TOKEN}"),
        "application/json",
        body.to_string().into_bytes(),
    );
    assert_eq!(status, 200);
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{dialect} answered non-JSON {text:?}: {e}"))
}

#[test]
fn hubtel_and_arkesel_reach_the_balance() {
    let s = server(Backend::Sqlite);
    let (float, _) = s.env.agent("AG1", 10_000_000);
    let wallet = s.env.customer("+233246912184", Tier::Tier1);
    s.env.submit(TxnKind::Deposit, float, wallet, 123_400);
    let hash = s.env.app.hasher.hash(PIN).unwrap();
    let customer = mkoba::store::parties::customer_profile(&mut s.env.conn(), "+233246912184")
        .unwrap()
        .unwrap();
    mkoba::store::parties::set_pin(&mut s.env.conn(), customer.id, &hash).unwrap();

    let hubtel = |kind: &str, message: &str, seq: u32, state: &str| {
        json_hop(
            &s,
            "hubtel",
            json!({ "Sequence": seq.to_string(), "Type": kind, "Message": message, "ServiceCode": "714",
            "Operator": "mtn", "ClientState": state, "Mobile": "233246912184", "SessionId": "8d44-hubtel" }),
        )
    };
    let first = hubtel("initiation", "*714#", 1, "");
    assert_eq!(first["Type"], "Response", "{first}");
    assert!(first["Message"].as_str().unwrap().contains("My balance"));
    let state = first["ClientState"].as_str().unwrap_or("").to_owned();
    let pin = hubtel("response", "6", 2, &state);
    assert!(
        pin["Message"].as_str().unwrap().contains("Enter PIN"),
        "{pin}"
    );
    let balance = hubtel(
        "response",
        PIN,
        3,
        pin["ClientState"].as_str().unwrap_or(""),
    );
    assert_eq!(balance["Type"], "Release");
    assert!(
        balance["Message"].as_str().unwrap().contains("1,234.00"),
        "{balance}"
    );

    let arkesel = |new: bool, data: &str| {
        json_hop(
            &s,
            "arkesel",
            json!({ "sessionID": "ark-1", "userID": "mkoba", "newSession": new,
            "msisdn": "233246912184", "userData": data, "network": "MTN" }),
        )
    };
    let menu = arkesel(true, "*714#");
    assert_eq!(menu["continueSession"], true);
    assert_eq!(menu["msisdn"], "233246912184");
    assert!(arkesel(false, "6")["message"]
        .as_str()
        .unwrap()
        .contains("Enter PIN"));
    let balance = arkesel(false, PIN);
    assert_eq!(balance["continueSession"], false);
    assert!(
        balance["message"].as_str().unwrap().contains("1,234.00"),
        "{balance}"
    );
}

#[test]
fn garbage_in_always_gets_a_well_formed_end() {
    let s = server(Backend::Sqlite);
    let form = "application/x-www-form-urlencoded";
    let huge = vec![b'a'; 200_000];
    let cases: Vec<(String, &str, Vec<u8>)> = vec![
        (
            format!("/ussd/africastalking?token={GATEWAY_TOKEN}"),
            form,
            vec![0xff, 0xfe, 0x00, 0x13],
        ),
        (
            format!("/ussd/africastalking?token={GATEWAY_TOKEN}"),
            form,
            huge.clone(),
        ),
        (
            format!("/ussd/africastalking?token={GATEWAY_TOKEN}"),
            form,
            b"text=1*2".to_vec(),
        ),
        (
            format!("/ussd/africastalking?token={GATEWAY_TOKEN}"),
            "application/json",
            b"{}".to_vec(),
        ),
        (
            format!("/ussd/africastalking?token={GATEWAY_TOKEN}"),
            form,
            b"sessionId=x&phoneNumber=not-a-number&text=".to_vec(),
        ),
        (
            "/ussd/africastalking?token=wrong".to_owned(),
            form,
            b"sessionId=x&phoneNumber=%2B254700100001&text=".to_vec(),
        ),
        (
            format!("/ussd/hubtel?token={GATEWAY_TOKEN}"),
            "application/json",
            b"[1,2,3]".to_vec(),
        ),
        (
            format!("/ussd/hubtel?token={GATEWAY_TOKEN}"),
            "text/plain",
            b"hello".to_vec(),
        ),
        (
            format!("/ussd/arkesel?token={GATEWAY_TOKEN}"),
            "application/json",
            huge,
        ),
        (
            format!("/ussd/arkesel?token={GATEWAY_TOKEN}"),
            "application/json",
            br#"{"sessionID":5}"#.to_vec(),
        ),
        (
            format!("/ussd/nosuchgateway?token={GATEWAY_TOKEN}"),
            form,
            b"x".to_vec(),
        ),
    ];
    for (path, content_type, body) in cases {
        let (status, text) = post_raw(&s, &path, content_type, body);
        assert_eq!(
            status, 200,
            "{path}: a gateway must never see an error status ({text})"
        );
        let ended = text.starts_with("END ")
            || serde_json::from_str::<Value>(&text)
                .is_ok_and(|v| v["Type"] == "Release" || v["continueSession"] == false);
        assert!(ended, "{path}: {text}");
    }
}

fn buying_paying_account_settings_reversal_and_approvals(backend: Backend) {
    use mkoba::store::parties;
    let s = server(backend);
    let (float, _) = s.env.agent("AG1", 10_000_000);
    let bob = s.env.customer("+254700100002", Tier::Tier1);
    let airtime = parties::create_merchant(
        &mut s.env.conn(),
        "M001",
        "Safari Airtime",
        mkoba_ledger::Currency::KES,
    )
    .unwrap();
    let news = parties::create_merchant(
        &mut s.env.conn(),
        "M002",
        "Habari Daily",
        mkoba_ledger::Currency::KES,
    )
    .unwrap();
    let product = parties::NewProduct {
        merchant_id: news.merchant_id,
        sku: "ART-1",
        name: "Today's article",
        category: "article",
        price_minor: 5,
        currency: mkoba_ledger::Currency::KES,
    };
    parties::create_product(&mut s.env.conn(), &product).unwrap();
    let jane = "+254700200001";
    let (mut at, _) = At::dial(&s, jane, "ATUid_reg");
    for input in ["1", "Jane Wanjiku", PIN, PIN, "1"] {
        at.send(input);
    }
    let wallet = customer_wallet(&s, jane);
    s.env.submit(TxnKind::Deposit, float, wallet, 500_000);

    // Airtime for oneself in four hops.
    let (mut at, _) = At::dial(&s, jane, "ATUid_air");
    assert!(at.send("3").contains("Enter amount"));
    let confirm = at.send("50");
    assert!(
        confirm.contains("Buy KES 50.00 airtime for your phone"),
        "{confirm}"
    );
    assert!(at.send(PIN).starts_with("END Bought KES 50.00 airtime"));
    assert_eq!(at.hops, 4);
    assert_eq!(
        s.env.balance(airtime.account),
        5_000 - 25,
        "the merchant is paid, less its 0.5%"
    );

    // A one-cent-sized digital item from the catalog.
    let (mut at, _) = At::dial(&s, jane, "ATUid_art");
    at.send("4");
    let categories = at.send("3");
    assert!(categories.contains("1 Articles"), "{categories}");
    let products = at.send("1");
    assert!(
        products.contains("Today's article") && products.contains("0.05"),
        "{products}"
    );
    assert!(at.send("1").contains("Enter PIN"));
    assert!(at
        .send(PIN)
        .starts_with("END Bought Today's article for KES 0.05"));
    assert_eq!(s.env.balance(news.account), 5);

    // Pay a merchant by code.
    let (mut at, _) = At::dial(&s, jane, "ATUid_pay");
    assert!(at.send("5").contains("Enter merchant code"));
    assert!(at.send("M002").contains("Pay Habari Daily"));
    assert!(at.send("120").contains("Enter PIN"));
    assert!(at
        .send(PIN)
        .starts_with("END Paid KES 120.00 to Habari Daily"));

    // A biller asks for the customer's account number and records it with the payment.
    let water = parties::create_merchant(
        &mut s.env.conn(),
        "M003",
        "Maji Water",
        mkoba_ledger::Currency::KES,
    )
    .unwrap();
    assert!(parties::set_requires_reference(&mut s.env.conn(), "M003", true).unwrap());
    let (mut at, _) = At::dial(&s, jane, "ATUid_bill");
    at.send("5");
    assert!(at.send("M003").contains("Enter account number"));
    at.send("ACC7788");
    let confirm = at.send("250");
    assert!(confirm.contains("for account ACC7788"), "{confirm}");
    assert!(at
        .send(PIN)
        .starts_with("END Paid KES 250.00 to Maji Water"));
    assert_eq!(
        s.env.balance(water.account),
        25_000 - 125,
        "paid, less the merchant's 0.5%"
    );
    let line =
        &mkoba::store::reads::statement(&mut s.env.conn(), water.account.0, None, 1).unwrap()[0];
    assert_eq!(
        line.memo, "ACC7788",
        "the account number travels with the payment"
    );

    // Limits and tier.
    let (mut at, _) = At::dial(&s, jane, "ATUid_lim");
    at.send("8");
    assert!(at.send("4").contains("Enter PIN to see your limits"));
    let limits = at.send(PIN);
    assert!(
        limits.contains("20,000.00") && limits.contains("100,000.00"),
        "tier 0 limits: {limits}"
    );

    // Change PIN: new twice, then the current one.
    let new_pin = "5937";
    let (mut at, _) = At::dial(&s, jane, "ATUid_chg");
    at.send("8");
    assert!(at.send("2").contains("new 4-digit PIN"));
    assert!(at.send(new_pin).contains("again"));
    assert!(at.send(new_pin).contains("current PIN"));
    assert!(at.send(PIN).starts_with("END Your PIN has been changed."));

    // Swahili from now on, on USSD and in SMS.
    let (mut at, _) = At::dial(&s, jane, "ATUid_lang");
    at.send("8");
    at.send("3");
    at.send("2");
    let (mut at, menu) = At::dial(&s, jane, "ATUid_sw");
    assert!(
        menu.contains("Tuma pesa"),
        "the menu is in Swahili now: {menu}"
    );
    at.send("1");
    at.send("0700100002");
    at.send("300");
    assert!(at.send(new_pin).starts_with("END "), "the new PIN works");
    s.env
        .clock
        .advance_seconds(s.env.app.config.ussd.cancel_window_seconds);
    s.runtime.block_on(s.env.app.post_closed_sends(10)).unwrap();
    assert_eq!(s.env.balance(bob), 30_000);
    let sent_sms = s.env.sms_for(jane, 1);
    let text = sent_sms[0].text().unwrap();
    assert!(
        text.contains("Imethibitishwa"),
        "SMS in the customer's language: {text}"
    );

    // Reverse that send from My account: it comes back from Bob.
    let (mut at, _) = At::dial(&s, jane, "ATUid_rev");
    at.send("8");
    let list = at.send("6");
    assert!(list.contains("TEST C***"), "{list}");
    let confirm = at.send("1");
    assert!(confirm.contains("PIN"), "{confirm}");
    let reversed = at.send(new_pin);
    assert!(reversed.starts_with("END "), "{reversed}");
    assert_eq!(s.env.balance(bob), 0, "reversed in full: Bob still held it");

    // An agent-started cash-out waits in Approvals until the customer approves it with the PIN.
    let (status, body) = s.post(
        "/ops/v1/transactions",
        json!({ "idempotency_key": "agent-cashout-1", "kind": "withdrawal", "debit_account_id": wallet.0,
                "credit_account_id": float.0, "amount": "100", "currency": "KES", "pending_expiry_seconds": 600,
                "metadata": { "approval": "customer", "agent": "AG1" } }),
    );
    assert_eq!(status, 201, "{body}");
    let before = s.env.balance(wallet);
    let (mut at, _) = At::dial(&s, jane, "ATUid_appr");
    let waiting = at.send("7");
    assert!(waiting.contains("Test Agent"), "{waiting}");
    let detail = at.send("1");
    assert!(detail.contains("KES 100.00"), "{detail}");
    assert!(at.send("1").contains("PIN"));
    assert!(at.send(new_pin).starts_with("END "));
    assert_eq!(
        s.env.balance(wallet),
        before - 10_000 - 1_100,
        "approved: the withdrawal posted with its fee"
    );
    s.env.assert_reconciles();
}

/// A second, independent mkoba process on the same database (for multi-process tests).
struct OtherProcess {
    base: String,
    _app: std::sync::Arc<mkoba::app::App>,
    _threads: mkoba::store::writer::WriterThreads,
    _data: tempfile::TempDir,
}

fn other_process(s: &Running, adjust: impl FnOnce(&mut mkoba::config::Config)) -> OtherProcess {
    let data = tempfile::tempdir().unwrap();
    let mut config = crate::support::test_config(&s.env.db, data.path().to_path_buf());
    config.ussd.gateway_token = mkoba::config::Secret::new(GATEWAY_TOKEN.into());
    adjust(&mut config);
    let clock: std::sync::Arc<dyn mkoba::store::writer::Clock> = s.env.clock.clone();
    let (app, threads) = mkoba::app::App::start(config, clock).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = {
        let _guard = s.runtime.enter();
        mkoba::http::serve(app.clone(), listener).unwrap()
    };
    s.runtime.spawn(server);
    OtherProcess {
        base,
        _app: app,
        _threads: threads,
        _data: data,
    }
}

#[test]
fn one_session_can_hop_between_processes_and_the_allowlist_holds() {
    let s = server(Backend::Postgres);
    let (float, _) = s.env.agent("AG1", 10_000_000);
    let bob = s.env.customer("+254700100002", Tier::Tier1);
    let other = other_process(&s, |_| {});
    let jane = "+254700200001";
    let (mut at, _) = At::dial(&s, jane, "ATUid_reg");
    for input in ["1", "Jane Wanjiku", PIN, PIN, "1"] {
        at.send(input);
    }
    let wallet = customer_wallet(&s, jane);
    s.env.submit(TxnKind::Deposit, float, wallet, 100_000);

    // Each hop of one send goes to the other process than the last: the session lives in the
    // database, not in either process.
    let hop = |base: &str, text: &str| -> String {
        let form = serde_urlencoded::to_string([
            ("sessionId", "ATUid_split"),
            ("serviceCode", "*384#"),
            ("phoneNumber", jane),
            ("networkCode", "63902"),
            ("text", text),
        ])
        .unwrap();
        s.runtime.block_on(async {
            s.client
                .post(format!("{base}/ussd/africastalking?token={GATEWAY_TOKEN}"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        })
    };
    assert!(hop(&s.base, "").contains("Send money"));
    assert!(hop(&other.base, "1").contains("Enter phone number"));
    assert!(hop(&s.base, "1*0700100002").contains("TEST C***"));
    assert!(hop(&other.base, "1*0700100002*300").contains("Enter PIN"));
    // Abandoned here, before the PIN: nothing is held or moved.
    assert_eq!(available(&s, wallet), 100_000);
    assert!(hop(&s.base, &format!("1*0700100002*300*{PIN}")).starts_with("END Sent KES 300.00"));
    assert_eq!(available(&s, wallet), 100_000 - 30_000 - 700);
    s.env
        .clock
        .advance_seconds(s.env.app.config.ussd.cancel_window_seconds);
    s.runtime.block_on(s.env.app.post_closed_sends(10)).unwrap();
    assert_eq!(s.env.balance(bob), 30_000);

    // A process whose allowlist does not include this caller answers only a polite END.
    let guarded = other_process(&s, |c| c.ussd.ip_allowlist = vec!["10.9.8.7".into()]);
    let refused = hop(&guarded.base, "");
    assert!(
        refused.starts_with("END ") && !refused.contains("Send money"),
        "{refused}"
    );
    let allowed = other_process(&s, |c| c.ussd.ip_allowlist = vec!["127.0.0.1".into()]);
    assert!(hop(&allowed.base, "").starts_with("CON "));
}

mod session_writer {
    //! The session writer commits the saves of concurrent hops together: every save lands, the
    //! last write of a session wins, and one bad row fails alone.

    use mkoba::store::Backend;
    use mkoba::ussd::session::{self, SessionRow};

    use crate::support::{TestEnv, T0};

    fn row(id: &str, hops: i32, state: String) -> SessionRow {
        SessionRow {
            id: id.to_owned(),
            msisdn: "+254700100002".to_owned(),
            state,
            last_path: format!("1*{hops}"),
            last_reply: format!("screen {hops}"),
            last_end: hops % 2 == 0,
            hops,
            updated_at: T0.0,
            expires_at: T0.0 + 300_000_000,
        }
    }

    fn concurrent_saves_land_and_a_bad_row_fails_alone(backend: Backend) {
        let env = TestEnv::start(backend);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let results: Vec<(String, bool)> = runtime.block_on(async {
            let mut tasks = tokio::task::JoinSet::new();
            for i in 0..300 {
                let writer = env.app.sessions.clone();
                // Every tenth save breaks the table's length check on the state.
                let state = if i % 10 == 7 {
                    "x".repeat(20_000)
                } else {
                    format!("{{\"n\":{i}}}")
                };
                let id = format!("test:s{i}");
                tasks.spawn(async move {
                    let ok = writer.save(row(&id, i, state)).await.is_ok();
                    (id, ok)
                });
            }
            let mut out = Vec::new();
            while let Some(r) = tasks.join_next().await {
                out.push(r.unwrap());
            }
            out
        });
        assert_eq!(results.len(), 300);
        let mut conn = env.conn();
        for (id, ok) in &results {
            let i: i32 = id.trim_start_matches("test:s").parse().unwrap();
            let stored = session::load(&mut conn, id, T0.0).unwrap();
            if i % 10 == 7 {
                assert!(!ok, "{id}: an over-long state must be refused");
                assert!(stored.is_none(), "{id}");
            } else {
                assert!(ok, "{id}: a good row must not fail with a bad one");
                let stored = stored.unwrap_or_else(|| panic!("{id} was not saved"));
                assert_eq!(stored.hops, i);
                assert_eq!(stored.state, format!("{{\"n\":{i}}}"));
                assert_eq!(stored.last_end, i % 2 == 0);
            }
        }

        // Rewrites of one session from many tasks: it ends as one of them, whole; then a delete
        // removes it, and a save after the delete brings it back.
        runtime.block_on(async {
            let mut tasks = tokio::task::JoinSet::new();
            for i in 0..50 {
                let writer = env.app.sessions.clone();
                tasks.spawn(async move { writer.save(row("test:same", i, format!("v{i}"))).await });
            }
            while let Some(r) = tasks.join_next().await {
                r.unwrap().unwrap();
            }
        });
        let same = session::load(&mut conn, "test:same", T0.0)
            .unwrap()
            .unwrap();
        assert_eq!(
            same.state,
            format!("v{}", same.hops),
            "one write, not a mix of two"
        );
        runtime.block_on(async {
            env.app.sessions.delete("test:same".into()).await.unwrap();
        });
        assert!(session::load(&mut conn, "test:same", T0.0)
            .unwrap()
            .is_none());
        runtime.block_on(async {
            let writer = &env.app.sessions;
            let (a, b) = tokio::join!(
                writer.delete("test:s1".into()),
                writer.save(row("test:same", 3, "v3".into()))
            );
            a.unwrap();
            b.unwrap();
        });
        assert!(session::load(&mut conn, "test:s1", T0.0).unwrap().is_none());
        assert_eq!(
            session::load(&mut conn, "test:same", T0.0)
                .unwrap()
                .unwrap()
                .hops,
            3
        );
    }

    #[test]
    fn sqlite_concurrent_saves_land_and_a_bad_row_fails_alone() {
        concurrent_saves_land_and_a_bad_row_fails_alone(Backend::Sqlite);
    }

    #[test]
    fn postgres_concurrent_saves_land_and_a_bad_row_fails_alone() {
        concurrent_saves_land_and_a_bad_row_fails_alone(Backend::Postgres);
    }
}
