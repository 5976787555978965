//! Cash-in, cash-out, customers, statements and a super-agent's float moves, through the pages.

use mkoba::portal::session::Role;
use mkoba::store::parties;
use mkoba::store::Backend;
use mkoba_ledger::{Outcome, Tier, TxnKind};

use super::{agent_with_owner, both_backends, journal, sms_to, user, Browser};
use crate::http_api::{spawn_with, Running};

pub const GATEWAY_TOKEN: &str = "test-ussd-gateway-token-0123456789";
pub const PIN: &str = "4821";

both_backends!(
    cash_in_confirms_the_name_posts_once_and_texts_both_parties,
    cash_in_refusals_are_form_messages_that_move_nothing,
    customer_started_withdrawals_are_paid_out_only_by_their_agent,
    an_agent_started_cash_out_waits_for_the_customer_in_ussd_approvals,
    customers_are_registered_upgraded_and_unlocked_after_an_id_check,
    statements_page_and_export_only_the_agents_own_accounts,
    a_super_agent_moves_float_only_with_its_own_agents,
);

pub fn server(backend: Backend) -> Running {
    spawn_with(backend, |c| {
        c.ussd.gateway_token = mkoba::config::Secret::new(GATEWAY_TOKEN.into());
        c.portal.page_size = 5;
    })
}

/// One Africa's Talking hop (the whole input path in `text`).
pub fn ussd(s: &Running, session: &str, phone: &str, text: &str) -> String {
    let form = serde_urlencoded::to_string([
        ("sessionId", session),
        ("serviceCode", "*384#"),
        ("phoneNumber", phone),
        ("text", text),
    ])
    .unwrap();
    s.runtime.block_on(async {
        s.client
            .post(format!(
                "{}/ussd/africastalking?token={GATEWAY_TOKEN}",
                s.base
            ))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    })
}

/// A registered customer with `PIN` and `minor` in their wallet (cashed in by `float`).
pub fn customer_with_pin(
    s: &Running,
    msisdn: &str,
    tier: Tier,
    float: mkoba_ledger::AccountId,
    minor: i64,
) -> mkoba_ledger::AccountId {
    let wallet = s.env.customer(msisdn, tier);
    let hash = s.env.app.hasher.hash(PIN).unwrap();
    let profile = parties::customer_profile(&mut s.env.conn(), msisdn)
        .unwrap()
        .unwrap();
    parties::set_pin(&mut s.env.conn(), profile.id, &hash).unwrap();
    if minor > 0 {
        let outcome = s.env.submit(TxnKind::Deposit, float, wallet, minor);
        assert!(matches!(outcome, Outcome::Accepted(_)), "{outcome:?}");
    }
    wallet
}

fn cash_in_confirm(b: &mut Browser, phone: &str, amount: &str) -> super::Page {
    b.submit(
        "/portal/cash-in",
        "/portal/cash-in/check",
        &[("phone", phone), ("amount", amount)],
    )
}

fn cash_in_confirms_the_name_posts_once_and_texts_both_parties(backend: Backend) {
    let s = server(backend);
    let (float, commission) = agent_with_owner(&s, "AG1", 10_000_000);
    user(&s, "AG1-T1", Role::TillOperator, Some("AG1"));
    let wallet = s.env.customer("+254700100001", Tier::Tier1);
    let mut b = Browser::new(&s);
    b.sign_in("AG1-T1");

    let confirm = cash_in_confirm(&mut b, "0700 100 001", "1,000");
    assert_eq!(
        confirm.status, 422,
        "a thousands separator is not an amount"
    );
    confirm.assert_has("as digits");
    confirm.assert_has("value=\"0700 100 001\""); // what was typed is kept

    let confirm = cash_in_confirm(&mut b, "0700 100 001", "1000");
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    confirm.assert_has("TEST C***"); // the masked name to check with the customer
    confirm.assert_has("0700***001");
    confirm.assert_has("KES 1,000.00");
    assert!(
        !confirm.body.contains("Test Customer"),
        "the full name never shows"
    );
    assert_eq!(s.env.balance(wallet), 0, "checking moves nothing");

    let fields = [
        ("csrf", confirm.field("csrf")),
        ("phone", confirm.field("phone")),
        ("amount", confirm.field("amount")),
        ("token", confirm.field("token")),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let before = journal(&s);
    let receipt = b.post("/portal/cash-in", &fields);
    assert_eq!(receipt.status, 200, "{}", receipt.body);
    receipt.assert_has("Cash-in done");
    let code = {
        let start = receipt.body.find("id=\"code\">").unwrap() + 10;
        receipt.body[start..start + 10].to_owned()
    };
    // A double click, or the form resubmitted after a reload: the same receipt, posted once.
    let again = b.post("/portal/cash-in", &fields);
    assert_eq!(again.status, 200);
    again.assert_has("Already done");
    again.assert_has(&code);
    assert_eq!(s.env.balance(wallet), 100_000);
    assert_eq!(s.env.balance(float), 10_000_000 - 100_000);
    assert_eq!(
        s.env.balance(commission),
        1_500,
        "commission on a 1,000 cash-in"
    );
    assert_eq!(journal(&s).0, before.0 + 1, "one transaction");

    // Both parties are texted, with the code.
    let customer = sms_to(&s, "+254700100001");
    assert!(
        customer
            .iter()
            .any(|(t, body)| t == "cash_in" && body.contains(&code)),
        "{customer:?}"
    );
    let agent = sms_to(&s, "+254711999999");
    assert!(
        agent
            .iter()
            .any(|(t, body)| t == "agent_cash_in" && body.contains(&code)),
        "{agent:?}"
    );

    // The same form token for a different amount is refused, not posted.
    let mut changed = fields.clone();
    changed[2] = ("amount", "999");
    let refused = b.post("/portal/cash-in", &changed);
    assert_eq!(refused.status, 422);
    refused.assert_has("already used for a different transaction");
    assert_eq!(s.env.balance(wallet), 100_000);

    // The dashboard counts it, and the owner sees the commission it earned.
    let home = b.get("/portal/dashboard");
    home.assert_has("1 · KES 1,000.00");
    assert!(
        !home.body.contains("id=\"low-float\""),
        "KES 99,000 of float is plenty"
    );
    let mut owner = Browser::new(&s);
    owner.sign_in("AG1");
    let home = owner.get("/portal/dashboard");
    home.assert_has("id=\"commission-today\">KES 15.00<");
    s.env.assert_reconciles();
}

fn cash_in_refusals_are_form_messages_that_move_nothing(backend: Backend) {
    let s = server(backend);
    let (float, _) = agent_with_owner(&s, "AG1", 5_000_000); // KES 50,000 of float
    s.env.customer("+254700100001", Tier::Tier0);
    s.env.customer("+254700100002", Tier::Tier1);
    // A tier-0 customer already holding 95,000 of the 100,000 their tier allows.
    let (big, _) = s.env.agent("AG9", 20_000_000);
    let full = s.env.customer("+254700100003", Tier::Tier0);
    for _ in 0..5 {
        s.env.submit(TxnKind::Deposit, big, full, 1_900_000);
    }
    let mut b = Browser::new(&s);
    b.sign_in("AG1");
    let before = (journal(&s), s.env.balance(float));

    for (phone, amount, message) in [
        ("0700100002", "60000", "Not enough money"), // more than the float holds
        ("0700100001", "40000", "per-transaction limit"), // tier 0: 20,000 per transaction
        ("0700100002", "5", "below the minimum"),
        ("0700100002", "12.345", "Too many decimal places"),
        ("0700100002", "-5", "more than zero"),
        ("0700100002", "", "Enter an amount"),
        ("0700100009", "100", "No mkoba customer has this number"),
        ("12", "100", "phone number, for example"),
    ] {
        let page = cash_in_confirm(&mut b, phone, amount);
        assert_eq!(page.status, 422, "{phone} {amount}: {}", page.body);
        page.assert_has(message);
    }
    let page = cash_in_confirm(&mut b, "0700100003", "6000");
    assert_eq!(page.status, 422);
    page.assert_has("balance over the limit");

    // A forged final form (valid CSRF, made-up token, straight to submit) is still checked.
    let page = b.submit(
        "/portal/cash-in",
        "/portal/cash-in",
        &[
            ("phone", "0700100002"),
            ("amount", "60000"),
            ("token", &"Q".repeat(32)),
        ],
    );
    assert_eq!(page.status, 422);
    page.assert_has("Not enough money");
    let page = b.submit(
        "/portal/cash-in",
        "/portal/cash-in",
        &[
            ("phone", "0700100002"),
            ("amount", "100"),
            ("token", "short:token"),
        ],
    );
    assert_eq!(page.status, 422);
    page.assert_has("not valid any more");

    // A frozen float: refused by the ledger, shown as a message.
    parties::set_status(
        &mut s.env.conn(),
        float,
        mkoba_ledger::AccountStatus::Frozen,
    )
    .unwrap();
    let page = cash_in_confirm(&mut b, "0700100002", "100");
    assert_eq!(page.status, 422);
    page.assert_has("frozen");

    assert_eq!((journal(&s), s.env.balance(float)), before, "nothing moved");
}

fn customer_started_withdrawals_are_paid_out_only_by_their_agent(backend: Backend) {
    let s = server(backend);
    let (float, commission) = agent_with_owner(&s, "AG1", 10_000_000);
    agent_with_owner(&s, "AG2", 10_000_000);
    user(&s, "AG1-T1", Role::TillOperator, Some("AG1"));
    let jane = "+254700100001";
    let wallet = customer_with_pin(&s, jane, Tier::Tier1, float, 500_000);

    // Jane starts a withdrawal of 500 at AG1 on her phone.
    ussd(&s, "w1", jane, "");
    assert!(ussd(&s, "w1", jane, "2").contains("agent"));
    ussd(&s, "w1", jane, "2*AG1");
    ussd(&s, "w1", jane, "2*AG1*500");
    let done = ussd(&s, "w1", jane, &format!("2*AG1*500*{PIN}"));
    assert!(done.starts_with("END "), "{done}");
    let pending: i64 = {
        use diesel::prelude::*;
        use mkoba::store::schema::pending_transfers;
        let mut conn = s.env.conn();
        mkoba::with_conn!(&mut *conn, |c| pending_transfers::table
            .filter(pending_transfers::status.eq("open"))
            .select(pending_transfers::transaction_id)
            .first(c))
        .unwrap()
    };
    let held = s.env.available(wallet);

    // AG2 neither sees it nor can pay it.
    let mut other = Browser::new(&s);
    other.sign_in("AG2");
    let list = other.get("/portal/cash-out");
    list.assert_has("None right now");
    let page = other.submit(
        "/portal/cash-out",
        &format!("/portal/cash-out/{pending}/pay"),
        &[],
    );
    assert_eq!(page.status, 404, "{}", page.body);
    page.assert_has("not waiting at this agent");

    // AG1's till sees it, masked, and pays it out.
    let mut b = Browser::new(&s);
    b.sign_in("AG1-T1");
    let list = b.get("/portal/cash-out");
    list.assert_has("TEST C***");
    list.assert_has("KES 500.00");
    list.assert_has(&format!("/portal/cash-out/{pending}/pay"));
    b.get("/portal/dashboard").assert_has("id=\"waiting\">1<");
    let csrf = list.field("csrf");
    let path = format!("/portal/cash-out/{pending}/pay");
    let receipt = b.post(&path, &[("csrf", &csrf)]);
    assert_eq!(receipt.status, 200, "{}", receipt.body);
    receipt.assert_has("Cash-out posted");
    // Pressed twice: paid once.
    let again = b.post(&path, &[("csrf", &csrf)]);
    assert_eq!(again.status, 200, "{}", again.body);
    again.assert_has("Already done");
    assert_eq!(s.env.balance(wallet), 500_000 - 50_000 - 2_900);
    assert_eq!(s.env.available(wallet), held);
    assert_eq!(
        s.env.balance(commission),
        3_500 + 800,
        "cash-in (5,000) and cash-out (500) commissions"
    );
    assert!(sms_to(&s, jane).iter().any(|(t, _)| t == "cash_out"));
    b.get("/portal/cash-out").assert_has("None right now");
    s.env.assert_reconciles();
}

fn an_agent_started_cash_out_waits_for_the_customer_in_ussd_approvals(backend: Backend) {
    let s = server(backend);
    let (float, _) = agent_with_owner(&s, "AG1", 10_000_000);
    let jane = "+254700100001";
    let wallet = customer_with_pin(&s, jane, Tier::Tier1, float, 500_000);
    let mut b = Browser::new(&s);
    b.sign_in("AG1");

    let confirm = b.submit(
        "/portal/cash-out",
        "/portal/cash-out/check",
        &[("phone", "0700100001"), ("amount", "300")],
    );
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    confirm.assert_has("TEST C***");
    confirm.assert_has("KES 29.00"); // the fee the customer pays
    let fields = [
        ("csrf", confirm.field("csrf")),
        ("phone", confirm.field("phone")),
        ("amount", confirm.field("amount")),
        ("token", confirm.field("token")),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let sent = b.post("/portal/cash-out/start", &fields);
    assert_eq!(sent.status, 200, "{}", sent.body);
    sent.assert_has("must approve");
    sent.assert_has("id=\"approvals\"");
    // Sent twice: one request.
    b.post("/portal/cash-out/start", &fields);
    assert_eq!(
        s.env.balance(wallet),
        500_000,
        "nothing moves before the PIN"
    );
    assert_eq!(
        s.env.available(wallet),
        500_000 - 30_000 - 2_900,
        "reserved once"
    );

    // The agent cannot post it: only the customer approves.
    let id = sent
        .body
        .find("Waiting for the customer")
        .map(|_| ())
        .and_then(|()| {
            use diesel::prelude::*;
            use mkoba::store::schema::pending_transfers;
            let mut conn = s.env.conn();
            mkoba::with_conn!(&mut *conn, |c| pending_transfers::table
                .filter(pending_transfers::status.eq("open"))
                .select(pending_transfers::transaction_id)
                .first::<i64>(c))
            .ok()
        })
        .unwrap();
    let page = b.submit(
        "/portal/cash-out",
        &format!("/portal/cash-out/{id}/pay"),
        &[],
    );
    assert_eq!(page.status, 404);

    // Jane approves it in USSD menu 7 with her PIN.
    ussd(&s, "a1", jane, "");
    let list = ussd(&s, "a1", jane, "7");
    assert!(list.contains("Test Agent"), "{list}");
    ussd(&s, "a1", jane, "7*1");
    assert!(ussd(&s, "a1", jane, "7*1*1").contains("PIN"));
    let done = ussd(&s, "a1", jane, &format!("7*1*1*{PIN}"));
    assert!(done.starts_with("END "), "{done}");
    assert_eq!(s.env.balance(wallet), 500_000 - 30_000 - 2_900);
    assert_eq!(s.env.balance(float), 10_000_000 - 500_000 + 30_000);
    b.get("/portal/cash-out").assert_has("None right now");
    assert!(!b.get("/portal/cash-out").body.contains("id=\"approvals\""));
    s.env.assert_reconciles();
}

fn customers_are_registered_upgraded_and_unlocked_after_an_id_check(backend: Backend) {
    let s = server(backend);
    let (float, _) = agent_with_owner(&s, "AG1", 10_000_000);
    let mut b = Browser::new(&s);
    b.sign_in("AG1");
    let tier_of = |msisdn: &str| {
        mkoba::portal::store::customer_kyc(&mut s.env.conn(), msisdn)
            .unwrap()
            .unwrap()
            .tier
    };

    // A new customer: tier 1 at once, welcome and start PIN by SMS.
    let page = b.submit(
        "/portal/customers",
        "/portal/customers/register",
        &[
            ("phone", "0700200001"),
            ("name", "Grace  Akinyi"),
            ("id_document", "a 1234 567"),
            ("language", "sw"),
        ],
    );
    assert_eq!(page.status, 200, "{}", page.body);
    page.assert_has("GRACE A***");
    assert_eq!(tier_of("+254700200001"), Tier::Tier1);
    let texts = sms_to(&s, "+254700200001");
    let templates: Vec<&str> = texts.iter().map(|(t, _)| t.as_str()).collect();
    assert!(
        templates.contains(&"welcome") && templates.contains(&"pin_reset"),
        "{templates:?}"
    );
    let (locked, must_change) = {
        let profile = parties::customer_profile(&mut s.env.conn(), "+254700200001")
            .unwrap()
            .unwrap();
        parties::pin_flags(&mut s.env.conn(), profile.id).unwrap()
    };
    assert!(
        !locked && must_change,
        "the start PIN must be changed at first use"
    );
    let page = b.submit(
        "/portal/customers",
        "/portal/customers/register",
        &[
            ("phone", "0700200001"),
            ("name", "Grace Akinyi"),
            ("id_document", "A1234567"),
        ],
    );
    assert_eq!(page.status, 422);
    page.assert_has("already registered");

    // A USSD self-registration (tier 0) moves to tier 1 with an ID.
    let jane = "+254700100001";
    customer_with_pin(&s, jane, Tier::Tier0, float, 0);
    for (fields, problem) in [
        (
            vec![
                ("phone", "0700100001"),
                ("name", "J"),
                ("id_document", "B7654321"),
            ],
            "name as on the ID",
        ),
        (
            vec![
                ("phone", "0700100001"),
                ("name", "Jane Doe"),
                ("id_document", "<b>"),
            ],
            "ID document number",
        ),
        (
            vec![
                ("phone", "nope"),
                ("name", "Jane Doe"),
                ("id_document", "B7654321"),
            ],
            "phone number",
        ),
    ] {
        let page = b.submit("/portal/customers", "/portal/customers/register", &fields);
        assert_eq!(page.status, 422);
        page.assert_has(problem);
    }
    let page = b.submit(
        "/portal/customers",
        "/portal/customers/register",
        &[
            ("phone", "0700100001"),
            ("name", "Jane Doe"),
            ("id_document", "B7654321"),
        ],
    );
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(tier_of(jane), Tier::Tier1);

    // Upgrade: the same ID again, and only upwards.
    let upgrade = |b: &mut Browser, id: &str, tier: &str| {
        b.submit(
            "/portal/customers",
            "/portal/customers/tier",
            &[("phone", "0700100001"), ("id_document", id), ("tier", tier)],
        )
    };
    upgrade(&mut b, "X0000000", "2").assert_has("differs from the one on file");
    upgrade(&mut b, "B7654321", "1").assert_has("already at tier 1");
    let page = upgrade(&mut b, "b7654321", "2");
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(tier_of(jane), Tier::Tier2);

    // Reset PIN: only a locked one, only with the ID on file.
    let reset = |b: &mut Browser, id: &str| {
        b.submit(
            "/portal/customers",
            "/portal/customers/reset-pin",
            &[("phone", "0700100001"), ("id_document", id)],
        )
    };
    reset(&mut b, "B7654321").assert_has("not locked");
    let profile = parties::customer_profile(&mut s.env.conn(), jane)
        .unwrap()
        .unwrap();
    for _ in 0..3 {
        mkoba::pin::verify_blocking(&s.env.app, profile.id, "0000").unwrap();
    }
    assert_eq!(
        parties::pin_flags(&mut s.env.conn(), profile.id).unwrap(),
        (true, false)
    );
    let page = reset(&mut b, "C1111111");
    assert_eq!(page.status, 422);
    page.assert_has("does not match");
    // What was typed is still in that form, to correct rather than retype.
    page.assert_has(r#"id="p-phone" name="phone" value="0700100001""#);
    page.assert_has(r#"id="p-id" name="id_document" value="C1111111""#);
    page.assert_has(r#"id="t-phone" name="phone" value="""#);
    let page = reset(&mut b, "B7654321");
    assert_eq!(page.status, 200, "{}", page.body);
    page.assert_has("unlocked");
    assert_eq!(
        parties::pin_flags(&mut s.env.conn(), profile.id).unwrap(),
        (false, true)
    );
    let texts = sms_to(&s, jane);
    let start = texts
        .iter()
        .find(|(t, _)| t == "pin_reset")
        .expect("a start PIN by SMS");
    assert!(start.1.chars().filter(char::is_ascii_digit).count() >= 4);

    // Every step is in the audit log, without the full number.
    let audit = mkoba::portal::store::recent_audit(&mut s.env.conn(), 100).unwrap();
    let actions: Vec<&str> = audit.iter().map(|r| r.3.as_str()).collect();
    for action in ["register_customer", "upgrade_tier", "reset_pin"] {
        assert!(actions.contains(&action), "{actions:?}");
    }
    assert!(
        audit.iter().all(|r| !r.4.contains("0700100001")),
        "numbers are masked in the log"
    );
}

fn statements_page_and_export_only_the_agents_own_accounts(backend: Backend) {
    let s = server(backend);
    let (float, _) = agent_with_owner(&s, "AG1", 10_000_000);
    user(&s, "AG1-T1", Role::TillOperator, Some("AG1"));
    let (other_float, _) = agent_with_owner(&s, "AG2", 1_000_000);
    let wallet = s.env.customer("+254700100001", Tier::Tier1);
    for i in 0..7 {
        s.env
            .submit(TxnKind::Deposit, float, wallet, 10_000 + i * 100);
    }
    s.env.submit(TxnKind::Deposit, other_float, wallet, 77_700);
    let mut b = Browser::new(&s);
    b.sign_in("AG1");

    // Page size 5: newest first, then "Older".
    let first = b.get("/portal/statements");
    assert_eq!(first.status, 200);
    first.assert_has("TEST C***");
    first.assert_has("106.00");
    assert!(
        !first.body.contains("777.00"),
        "another agent's cash-in never shows"
    );
    let rows = |p: &super::Page| p.body.matches("<tr><td>").count();
    assert_eq!(rows(&first), 5);
    let older = {
        let start = first
            .body
            .find("id=\"older\"")
            .map(|_| first.body.find("before=").unwrap() + 7)
            .unwrap();
        first.body[start..].split('"').next().unwrap().to_owned()
    };
    let second = b.get(&format!("/portal/statements?account=float&before={older}"));
    assert_eq!(
        rows(&second),
        3,
        "2 more cash-ins and the float issuance:\n{}",
        second.body
    );
    assert!(!second.body.contains("id=\"older\""));

    let commission = b.get("/portal/statements?account=commission");
    assert_eq!(rows(&commission), 5);
    commission.assert_has("deposit (commission)");

    // CSV: every line, with a header.
    let csv = b.get("/portal/statements.csv?account=float");
    assert_eq!(csv.status, 200);
    assert!(csv.header("content-type").starts_with("text/csv"));
    assert!(csv
        .header("content-disposition")
        .contains("statement-AG1-float.csv"));
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(
        lines[0],
        "transaction_id,code,time,kind,phase,leg,counterparty,amount,currency,memo"
    );
    assert_eq!(lines.len(), 1 + 8);
    assert!(
        lines
            .iter()
            .any(|l| l.contains(",deposit,posted,principal,TEST C***,-106.00,KES,")),
        "{lines:?}"
    );

    // No way to name anyone else's account.
    for path in [
        "/portal/statements?account=42",
        "/portal/statements.csv?account=wallet",
    ] {
        assert_eq!(b.get(path).status, 404, "{path}");
    }
    let mut till = Browser::new(&s);
    till.sign_in("AG1-T1");
    assert_eq!(till.get("/portal/statements").status, 403);
    assert_eq!(till.get("/portal/statements.csv").status, 403);
}

fn a_super_agent_moves_float_only_with_its_own_agents(backend: Backend) {
    let s = server(backend);
    let sa_float = super::super_agent(&s, "SA1", 5_000_000);
    let (mine, _) = s.env.agent("AG1", 1_000_000);
    let (theirs, _) = s.env.agent("AG2", 1_000_000);
    {
        use diesel::prelude::*;
        use mkoba::store::schema::agents;
        let mut conn = s.env.conn();
        let sa = mkoba::portal::store::agent_by_code(&mut conn, "SA1")
            .unwrap()
            .unwrap()
            .id;
        mkoba::with_conn!(&mut *conn, |c| diesel::update(
            agents::table.filter(agents::code.eq("AG1"))
        )
        .set(agents::parent_agent_id.eq(Some(sa)))
        .execute(c))
        .unwrap();
    }
    let mut b = Browser::new(&s);
    b.sign_in("SA1");
    let page = b.get("/portal/agents");
    page.assert_has("AG1");
    assert!(!page.body.contains("AG2"), "only its own agents");

    let move_float = |b: &mut Browser, agent: &str, direction: &str, amount: &str| {
        let confirm = b.submit(
            "/portal/agents",
            "/portal/agents/check",
            &[
                ("agent", agent),
                ("direction", direction),
                ("amount", amount),
            ],
        );
        if confirm.status != 200 {
            return confirm;
        }
        let fields = [
            ("csrf", confirm.field("csrf")),
            ("agent", confirm.field("agent")),
            ("direction", confirm.field("direction")),
            ("amount", confirm.field("amount")),
            ("token", confirm.field("token")),
        ];
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let done = b.post("/portal/agents/move", &fields);
        let twice = b.post("/portal/agents/move", &fields);
        assert_eq!(
            twice.status, done.status,
            "a resubmitted move answers the same"
        );
        done
    };
    let page = move_float(&mut b, "AG1", "to", "2000");
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(
        (s.env.balance(sa_float), s.env.balance(mine)),
        (4_800_000, 1_200_000)
    );
    let page = move_float(&mut b, "AG1", "from", "500");
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(
        (s.env.balance(sa_float), s.env.balance(mine)),
        (4_850_000, 1_150_000)
    );

    let page = move_float(&mut b, "AG2", "to", "100");
    assert_eq!(page.status, 422);
    page.assert_has("not one of yours");
    let page = move_float(&mut b, "AG1", "from", "20000");
    assert_eq!(page.status, 422);
    page.assert_has("Not enough money");
    assert_eq!(s.env.balance(theirs), 1_000_000);
    assert_eq!(s.env.balance(mine), 1_150_000);
    let audit = mkoba::portal::store::recent_audit(&mut s.env.conn(), 50).unwrap();
    assert!(audit.iter().any(|r| r.3 == "move_float" && r.5 == "ok"));
    // A super-agent does not serve customers over the counter.
    assert_eq!(b.get("/portal/cash-in").status, 403);
}
