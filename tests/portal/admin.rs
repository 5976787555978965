//! The operator admin's pages, the owner's tills, and the audit log.

use diesel::connection::SimpleConnection;
use mkoba::portal::session::Role;
use mkoba::store::Backend;
use mkoba_ledger::{AccountStatus, Tier};

use super::{agent_with_owner, both_backends, journal, server, user, Browser};

both_backends!(
    float_issuance_needs_a_second_admin,
    admins_create_agents_and_merchants_and_freeze_accounts,
    reconciliation_and_the_append_only_audit_log,
    owners_add_till_operators_who_choose_their_own_password,
);

fn float_issuance_needs_a_second_admin(backend: Backend) {
    let s = server(backend);
    let (float, _) = s.env.agent("SA1", 0);
    user(&s, "OPS1", Role::OperatorAdmin, None);
    user(&s, "OPS2", Role::OperatorAdmin, None);
    let mut maker = Browser::new(&s);
    maker.sign_in("OPS1");
    let mut checker = Browser::new(&s);
    checker.sign_in("OPS2");

    for (fields, problem) in [
        (
            vec![("agent", "SA1"), ("amount", "abc"), ("reference", "BANK-1")],
            "as digits",
        ),
        (
            vec![("agent", "SA1"), ("amount", "1000"), ("reference", "x")],
            "reference",
        ),
        (
            vec![
                ("agent", "NOPE"),
                ("amount", "1000"),
                ("reference", "BANK-1"),
            ],
            "No agent",
        ),
    ] {
        let page = maker.submit("/portal/admin/float", "/portal/admin/float", &fields);
        assert_eq!(page.status, 422, "{problem}");
        page.assert_has(problem);
    }
    let page = maker.submit(
        "/portal/admin/float",
        "/portal/admin/float",
        &[
            ("agent", "sa1"),
            ("amount", "250000.50"),
            ("reference", "BANK-REF-77"),
        ],
    );
    assert_eq!(page.status, 200, "{}", page.body);
    page.assert_has("Another admin must approve");
    page.assert_has("waiting for another admin");
    assert_eq!(s.env.balance(float), 0, "recording moves nothing");
    let again = maker.submit(
        "/portal/admin/float",
        "/portal/admin/float",
        &[
            ("agent", "SA1"),
            ("amount", "1"),
            ("reference", "BANK-REF-77"),
        ],
    );
    again.assert_has("already recorded");

    let id: i64 = mkoba::portal::store::float_requests(&mut s.env.conn(), None, 10).unwrap()[0].id;
    let approve = format!("/portal/admin/float/{id}/approve");
    // The maker cannot approve their own request (nor reject it).
    let page = maker.submit("/portal/admin/float", &approve, &[]);
    assert_eq!(page.status, 422);
    page.assert_has("a second admin must approve");
    let page = maker.submit(
        "/portal/admin/float",
        &format!("/portal/admin/float/{id}/reject"),
        &[],
    );
    assert_eq!(page.status, 422);
    assert_eq!(s.env.balance(float), 0);

    // The checker sees the buttons and approves: the float is issued, once.
    let list = checker.get("/portal/admin/float");
    list.assert_has(&format!("id=\"approve-{id}\""));
    let page = checker.submit("/portal/admin/float", &approve, &[]);
    assert_eq!(page.status, 200, "{}", page.body);
    page.assert_has("Approved");
    assert_eq!(s.env.balance(float), 25_000_050);
    let page = checker.submit("/portal/admin/float", &approve, &[]);
    assert_eq!(page.status, 422);
    page.assert_has("already approved");
    assert_eq!(s.env.balance(float), 25_000_050);

    // The same bank reference through the CLI's key is the same issuance, not a second one.
    let replay = s
        .env
        .run(mkoba_ledger::Command::Submit(mkoba_ledger::TxnRequest {
            idempotency_key: "float-issuance:BANK-REF-77".into(),
            kind: mkoba_ledger::TxnKind::FloatIssuance,
            debit: s.env.system().issuance,
            credit: float,
            amount: mkoba_ledger::Money::from_minor(25_000_050, mkoba_ledger::Currency::KES),
            memo: "trust deposit BANK-REF-77".into(),
            metadata: String::new(),
            pending_expiry_seconds: None,
        }));
    assert!(
        matches!(replay, mkoba_ledger::Outcome::Replayed(_)),
        "{replay:?}"
    );

    // A rejected request issues nothing.
    maker.submit(
        "/portal/admin/float",
        "/portal/admin/float",
        &[
            ("agent", "SA1"),
            ("amount", "10"),
            ("reference", "BANK-REF-78"),
        ],
    );
    let id2 = mkoba::portal::store::float_requests(&mut s.env.conn(), None, 10).unwrap()[0].id;
    let page = checker.submit(
        "/portal/admin/float",
        &format!("/portal/admin/float/{id2}/reject"),
        &[],
    );
    page.assert_has("rejected");
    let page = checker.submit(
        "/portal/admin/float",
        &format!("/portal/admin/float/{id2}/approve"),
        &[],
    );
    assert_eq!(page.status, 422);
    assert_eq!(s.env.balance(float), 25_000_050);

    // The schema itself refuses a self-approval.
    let mut conn = s.env.conn();
    let sql = format!(
        "UPDATE float_requests SET status = 'rejected', decided_by = recorded_by WHERE id = {id2}"
    );
    let refused = mkoba::with_conn!(&mut *conn, |c| c.batch_execute(&sql));
    assert!(refused.is_err(), "decided_by = recorded_by must be refused");
    s.env.assert_reconciles();
}

fn admins_create_agents_and_merchants_and_freeze_accounts(backend: Backend) {
    let s = server(backend);
    user(&s, "OPS1", Role::OperatorAdmin, None);
    super::super_agent(&s, "SA1", 0);
    let mut admin = Browser::new(&s);
    admin.sign_in("OPS1");

    for (fields, problem) in [
        (
            vec![
                ("code", "A"),
                ("name", "Shop"),
                ("phone", "0711000201"),
                ("role", "agent"),
            ],
            "3 to 20",
        ),
        (
            vec![
                ("code", "AG201"),
                ("name", "Shop"),
                ("phone", "12"),
                ("role", "agent"),
            ],
            "phone",
        ),
        (
            vec![
                ("code", "AG201"),
                ("name", "Shop"),
                ("phone", "0711000201"),
                ("role", "boss"),
            ],
            "Choose agent",
        ),
        (
            vec![
                ("code", "SA1"),
                ("name", "Shop"),
                ("phone", "0711000201"),
                ("role", "agent"),
            ],
            "taken",
        ),
        (
            vec![
                ("code", "AG201"),
                ("name", "Shop"),
                ("phone", "0711000201"),
                ("role", "agent"),
                ("parent", "NOPE"),
            ],
            "parent",
        ),
    ] {
        let page = admin.submit("/portal/admin", "/portal/admin/agents", &fields);
        assert_eq!(page.status, 422, "{problem}: {}", page.body);
        page.assert_has(problem);
    }
    let page = admin.submit(
        "/portal/admin",
        "/portal/admin/agents",
        &[
            ("code", "ag201"),
            ("name", "Duka La Mama"),
            ("phone", "0711000201"),
            ("role", "agent"),
            ("parent", "SA1"),
        ],
    );
    assert_eq!(page.status, 200, "{}", page.body);
    let password = {
        let start = page.body.find("id=\"new-password\">").unwrap() + 18;
        page.body[start..].split('<').next().unwrap().to_owned()
    };
    assert_eq!(password.len(), 12);

    // The new owner signs in with it and must choose their own password first.
    let mut owner = Browser::new(&s);
    let page = owner.try_sign_in("AG201", &password);
    assert_eq!(page.status, 303);
    assert_eq!(page.location.as_deref(), Some("/portal/password"));
    let page = owner.get("/portal/cash-in");
    assert_eq!(page.status, 303, "nothing else until then");
    assert_eq!(page.location.as_deref(), Some("/portal/password"));
    let page = owner.submit(
        "/portal/password",
        "/portal/password",
        &[
            ("current", &password),
            ("new", "duka-la-mama-1"),
            ("confirm", "duka-la-mama-1"),
        ],
    );
    assert_eq!(page.status, 303, "{}", page.body);
    owner
        .get("/portal/dashboard")
        .assert_has("AG201 Duka La Mama");
    // The super-agent sees its new agent.
    let mut sa = Browser::new(&s);
    sa.sign_in("SA1");
    sa.get("/portal/agents").assert_has("AG201");

    let page = admin.submit(
        "/portal/admin",
        "/portal/admin/merchants",
        &[("code", "M900"), ("name", "Soko Fresh")],
    );
    assert_eq!(page.status, 200, "{}", page.body);
    page.assert_has("Merchant M900 created");
    assert!(
        mkoba::store::parties::merchant_by_code(&mut s.env.conn(), "M900")
            .unwrap()
            .is_some()
    );
    let page = admin.submit(
        "/portal/admin",
        "/portal/admin/merchants",
        &[("code", "M900"), ("name", "Again")],
    );
    assert_eq!(page.status, 422);

    // Freeze by agent code; cash-in there is then refused with a message; unfreeze by id.
    let (float, _) = s.env.agent("AG1", 1_000_000);
    user(&s, "AG1", Role::AgentOwner, Some("AG1"));
    s.env.customer("+254700100001", Tier::Tier1);
    let page = admin.submit(
        "/portal/admin",
        "/portal/admin/accounts/status",
        &[("account", "ag1"), ("action", "freeze")],
    );
    assert_eq!(page.status, 200, "{}", page.body);
    page.assert_has("is now frozen");
    let mut agent = Browser::new(&s);
    agent.sign_in("AG1");
    let refused = agent.submit(
        "/portal/cash-in",
        "/portal/cash-in/check",
        &[("phone", "0700100001"), ("amount", "100")],
    );
    assert_eq!(refused.status, 422);
    refused.assert_has("frozen");
    let page = admin.submit(
        "/portal/admin",
        "/portal/admin/accounts/status",
        &[("account", &float.0.to_string()), ("action", "unfreeze")],
    );
    page.assert_has("is now active");
    let ok = agent.submit(
        "/portal/cash-in",
        "/portal/cash-in/check",
        &[("phone", "0700100001"), ("amount", "100")],
    );
    assert_eq!(ok.status, 200, "{}", ok.body);
    // Customers by number; the operator's own accounts are off limits.
    admin
        .submit(
            "/portal/admin",
            "/portal/admin/accounts/status",
            &[("account", "0700100001"), ("action", "freeze")],
        )
        .assert_has("is now frozen");
    let issuance = s.env.system().issuance.0.to_string();
    let page = admin.submit(
        "/portal/admin",
        "/portal/admin/accounts/status",
        &[("account", &issuance), ("action", "freeze")],
    );
    assert_eq!(page.status, 422);
    page.assert_has("own accounts cannot be frozen");
    let page = admin.submit(
        "/portal/admin",
        "/portal/admin/accounts/status",
        &[("account", "NOSUCH"), ("action", "freeze")],
    );
    assert_eq!(page.status, 422);
    assert_eq!(
        mkoba::store::reads::account(&mut s.env.conn(), s.env.system().issuance.0)
            .unwrap()
            .unwrap()
            .1
            .status,
        AccountStatus::Active
    );
}

fn reconciliation_and_the_append_only_audit_log(backend: Backend) {
    let s = server(backend);
    agent_with_owner(&s, "AG1", 2_000_000);
    user(&s, "OPS1", Role::OperatorAdmin, None);
    let mut admin = Browser::new(&s);
    admin.sign_in("OPS1");
    let before = journal(&s);
    let page = admin.get("/portal/admin/reconcile");
    assert_eq!(page.status, 200);
    page.assert_has("BALANCED");
    page.assert_has("KES 20,000.00"); // the agent float, in the trial balance
    assert_eq!(
        journal(&s),
        before,
        "reconciling writes nothing to the ledger"
    );

    let audit = admin.get("/portal/admin/audit");
    audit.assert_has("reconcile");
    audit.assert_has("balanced");
    audit.assert_has("sign_in");

    // The log cannot be edited or emptied, on either database.
    let mut conn = s.env.conn();
    for sql in [
        "UPDATE portal_audit SET outcome = 'ok'",
        "DELETE FROM portal_audit",
    ] {
        let refused = mkoba::with_conn!(&mut *conn, |c| c.batch_execute(sql));
        assert!(refused.is_err(), "{sql} must be refused");
    }
    let rows = mkoba::portal::store::recent_audit(&mut conn, 100).unwrap();
    let actions: Vec<&str> = rows.iter().map(|r| r.3.as_str()).collect();
    assert_eq!(
        actions,
        ["reconcile", "sign_in"],
        "newest first, nothing lost"
    );
}

fn owners_add_till_operators_who_choose_their_own_password(backend: Backend) {
    let s = server(backend);
    agent_with_owner(&s, "AG1", 0);
    agent_with_owner(&s, "AG2", 0);
    user(&s, "AG2-T1", Role::TillOperator, Some("AG2"));
    let mut owner = Browser::new(&s);
    owner.sign_in("AG1");
    let page = owner.submit("/portal/tills", "/portal/tills", &[("name", "")]);
    assert_eq!(page.status, 200);
    page.assert_has("Enter the till operator");
    let page = owner.submit("/portal/tills", "/portal/tills", &[("name", "Wanjiku")]);
    page.assert_has("id=\"new-login\">AG1-T1<");
    let password = {
        let start = page.body.find("id=\"new-password\">").unwrap() + 18;
        page.body[start..].split('<').next().unwrap().to_owned()
    };
    // Only its own tills are listed.
    let list = owner.get("/portal/tills");
    list.assert_has("AG1-T1");
    assert!(!list.body.contains("AG2-T1"));

    let mut till = Browser::new(&s);
    let page = till.try_sign_in("ag1-t1", &password);
    assert_eq!(page.location.as_deref(), Some("/portal/password"));
    let page = till.submit(
        "/portal/password",
        "/portal/password",
        &[
            ("current", &password),
            ("new", "wanjiku-till-1"),
            ("confirm", "wanjiku-till-1"),
        ],
    );
    assert_eq!(page.status, 303);
    let home = till.get("/portal/dashboard");
    home.assert_has("Till operator");
    home.assert_has("AG1 Test Agent");
    assert_eq!(till.get("/portal/tills").status, 403);
}
