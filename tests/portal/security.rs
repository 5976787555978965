//! Sign-in, sessions, lockout, CSRF, roles and headers.

use mkoba::portal::session::Role;
use mkoba::store::Backend;
use mkoba_ledger::Tier;

use super::{agent_with_owner, both_backends, journal, server, user, Browser, PAGE_BYTES_MAX};
use crate::http_api::spawn_with;

both_backends!(
    sign_in_sets_a_strict_cookie_and_rotates_the_session,
    wrong_passwords_lock_the_login_with_back_off,
    sessions_end_when_idle_or_too_old_and_at_sign_out,
    forms_without_the_csrf_token_change_nothing,
    every_role_sees_only_its_pages,
    a_password_change_ends_every_other_session,
);

fn sign_in_sets_a_strict_cookie_and_rotates_the_session(backend: Backend) {
    let s = server(backend);
    agent_with_owner(&s, "AG1", 0);
    user(&s, "AG1-T1", Role::TillOperator, Some("AG1"));

    // Not signed in: every page sends you to sign in.
    let mut b = Browser::new(&s);
    let page = b.get("/portal/dashboard");
    assert_eq!(page.status, 303);
    assert_eq!(page.location.as_deref(), Some("/portal/sign-in"));

    // The cookie: HttpOnly, SameSite=Strict, scoped to the portal; not Secure over plain HTTP.
    let page = b.sign_in("ag1"); // logins are case-insensitive
    let cookie = page
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("mkoba_portal="))
        .expect("a session cookie");
    for part in ["HttpOnly", "SameSite=Strict", "Path=/portal"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    let first = b.session().unwrap();
    assert!(first.len() >= 40, "a long random id");
    assert_eq!(b.get("/portal/dashboard").status, 200);

    // Session fixation: signing in again from this browser (as anyone) gets a new id, and the
    // old one is dead everywhere.
    b.sign_in("AG1-T1");
    let second = b.session().unwrap();
    assert_ne!(first, second);
    let mut stale = Browser::new(&s);
    stale.cookies.insert("mkoba_portal".into(), first.clone());
    assert_eq!(stale.get("/portal/dashboard").status, 303);

    // An id an attacker planted is never adopted.
    let mut victim = Browser::new(&s);
    victim.cookies.insert(
        "mkoba_portal".into(),
        "AttackerChosenId1234567890abcdefghij".into(),
    );
    victim.sign_in("AG1");
    assert_ne!(
        victim.session().as_deref(),
        Some("AttackerChosenId1234567890abcdefghij")
    );

    // Behind TLS the cookie is Secure too.
    let tls = spawn_with(backend, |c| {
        c.server.public_url = "https://portal.example".into()
    });
    agent_with_owner(&tls, "AG1", 0);
    let mut b = Browser::new(&tls);
    let page = b.sign_in("AG1");
    assert!(
        page.set_cookies()
            .iter()
            .any(|c| c.starts_with("mkoba_portal=") && c.contains("; Secure")),
        "{:?}",
        page.set_cookies()
    );
}

fn wrong_passwords_lock_the_login_with_back_off(backend: Backend) {
    let s = server(backend);
    agent_with_owner(&s, "AG1", 0);
    let cfg = s.env.app.config.portal.clone();
    assert_eq!((cfg.lockout_threshold, cfg.lockout_base_seconds), (5, 60));
    let mut b = Browser::new(&s);

    for _ in 1..cfg.lockout_threshold {
        let page = b.try_sign_in("AG1", "not-the-password");
        assert_eq!(page.status, 401);
        page.assert_has("Wrong code or password.");
    }
    let page = b.try_sign_in("AG1", "not-the-password");
    assert_eq!(page.status, 429, "the fifth wrong password locks");
    page.assert_has("locked");
    // While locked, even the right password is refused (and not checked).
    let page = b.try_sign_in("AG1", super::PASSWORD);
    assert_eq!(page.status, 429);
    assert!(b.session().is_none());

    // The first lock lasts a minute.
    s.env.clock.advance_seconds(61);
    // One more wrong password locks again, now for twice as long.
    assert_eq!(b.try_sign_in("AG1", "still-wrong").status, 429);
    s.env.clock.advance_seconds(61);
    assert_eq!(
        b.try_sign_in("AG1", super::PASSWORD).status,
        429,
        "the second lock is two minutes"
    );
    s.env.clock.advance_seconds(60);
    b.sign_in("AG1");

    // Success resets the count: four wrong passwords do not lock again.
    let mut other = Browser::new(&s);
    for _ in 1..cfg.lockout_threshold {
        assert_eq!(other.try_sign_in("AG1", "wrong-again").status, 401);
    }
    other.sign_in("AG1");

    // Unknown logins get the same answer as wrong passwords, and are audited.
    let page = other.try_sign_in("NOBODY", "whatever-pass");
    assert_eq!(page.status, 401);
    page.assert_has("Wrong code or password.");
    let audit = mkoba::portal::store::recent_audit(&mut s.env.conn(), 100).unwrap();
    assert!(audit
        .iter()
        .any(|(_, _, login, action, _, outcome)| login == "NOBODY"
            && action == "sign_in"
            && outcome.contains("unknown")));
    assert!(
        audit
            .iter()
            .all(|(_, _, _, _, detail, _)| !detail.contains("not-the-password")),
        "passwords never reach the audit log"
    );
}

fn sessions_end_when_idle_or_too_old_and_at_sign_out(backend: Backend) {
    let s = spawn_with(backend, |c| {
        c.portal.session_idle_seconds = 600;
        c.portal.session_absolute_seconds = 1_500;
    });
    agent_with_owner(&s, "AG1", 0);

    // Idle: 599 s between requests is fine, 601 s is not.
    let mut b = Browser::new(&s);
    b.sign_in("AG1");
    s.env.clock.advance_seconds(599);
    assert_eq!(b.get("/portal/dashboard").status, 200);
    s.env.clock.advance_seconds(601);
    let page = b.get("/portal/dashboard");
    assert_eq!(page.status, 303);
    assert_eq!(page.location.as_deref(), Some("/portal/sign-in?expired=1"));
    b.get("/portal/sign-in?expired=1")
        .assert_has("Your session ended");

    // Absolute: busy all along, still over after 1,500 s.
    let mut b = Browser::new(&s);
    b.sign_in("AG1");
    for _ in 0..3 {
        s.env.clock.advance_seconds(500);
        assert_eq!(b.get("/portal/dashboard").status, 200);
    }
    s.env.clock.advance_seconds(2);
    assert_eq!(b.get("/portal/dashboard").status, 303);

    // Sign-out ends the session on the server, not only in the browser.
    let mut b = Browser::new(&s);
    b.sign_in("AG1");
    let id = b.session().unwrap();
    let page = b.submit("/portal/dashboard", "/portal/sign-out", &[]);
    assert_eq!(page.status, 303);
    assert!(b.session().is_none(), "the cookie is cleared");
    let mut replay = Browser::new(&s);
    replay.cookies.insert("mkoba_portal".into(), id);
    assert_eq!(replay.get("/portal/dashboard").status, 303);
}

fn forms_without_the_csrf_token_change_nothing(backend: Backend) {
    let s = server(backend);
    let (float, _) = agent_with_owner(&s, "AG1", 10_000_000);
    let wallet = s.env.customer("+254700100001", Tier::Tier1);
    let mut b = Browser::new(&s);
    b.sign_in("AG1");
    let before = (journal(&s), s.env.balance(wallet), s.env.balance(float));

    // Missing, wrong, and another session's token.
    let mut other = Browser::new(&s);
    user(&s, "AG1-T1", Role::TillOperator, Some("AG1"));
    other.sign_in("AG1-T1");
    let foreign = other.get("/portal/cash-in").field("csrf");
    let check = b.get("/portal/cash-in");
    let token = check.field("csrf");
    let fields = [("phone", "0700100001"), ("amount", "100")];
    for csrf in [None, Some("x".repeat(token.len())), Some(foreign)] {
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        if let Some(c) = &csrf {
            all.push(("csrf", c));
        }
        for path in [
            "/portal/cash-in/check",
            "/portal/cash-in",
            "/portal/customers/register",
            "/portal/password",
        ] {
            let page = b.post(path, &all);
            assert_eq!(page.status, 403, "{path} with {csrf:?}");
            page.assert_has("Form expired");
        }
    }
    // Not even a well-formed final cash-in form gets through without it.
    let page = b.post(
        "/portal/cash-in",
        &[
            ("phone", "0700100001"),
            ("amount", "100"),
            ("token", &"A".repeat(32)),
        ],
    );
    assert_eq!(page.status, 403);
    // Sign-out needs it too, so another site cannot sign people out.
    assert_eq!(b.post("/portal/sign-out", &[]).status, 403);
    assert_eq!(b.get("/portal/dashboard").status, 200, "still signed in");
    // The sign-in form's double-submit token: without the cookie, refused.
    let mut fresh = Browser::new(&s);
    let pre = fresh.get("/portal/sign-in").field("pre");
    fresh.cookies.clear();
    let page = fresh.post(
        "/portal/sign-in",
        &[
            ("pre", &pre),
            ("login", "AG1"),
            ("password", super::PASSWORD),
        ],
    );
    assert_eq!(page.status, 403);
    assert!(fresh.session().is_none());

    assert_eq!(
        (journal(&s), s.env.balance(wallet), s.env.balance(float)),
        before,
        "nothing moved"
    );
}

fn every_role_sees_only_its_pages(backend: Backend) {
    let s = server(backend);
    agent_with_owner(&s, "AG1", 0);
    user(&s, "AG1-T1", Role::TillOperator, Some("AG1"));
    super::super_agent(&s, "SA1", 0);
    user(&s, "OPS1", Role::OperatorAdmin, None);

    let pages = [
        "/portal/dashboard",
        "/portal/cash-in",
        "/portal/cash-out",
        "/portal/customers",
        "/portal/statements",
        "/portal/statements.csv",
        "/portal/tills",
        "/portal/agents",
        "/portal/admin",
        "/portal/admin/float",
        "/portal/admin/reconcile",
        "/portal/admin/audit",
        "/portal/password",
    ];
    let allowed: [(&str, &[&str]); 4] = [
        (
            "AG1",
            &[
                "/portal/dashboard",
                "/portal/cash-in",
                "/portal/cash-out",
                "/portal/customers",
                "/portal/statements",
                "/portal/statements.csv",
                "/portal/tills",
                "/portal/password",
            ],
        ),
        (
            "AG1-T1",
            &[
                "/portal/dashboard",
                "/portal/cash-in",
                "/portal/cash-out",
                "/portal/customers",
                "/portal/password",
            ],
        ),
        (
            "SA1",
            &[
                "/portal/dashboard",
                "/portal/statements",
                "/portal/statements.csv",
                "/portal/agents",
                "/portal/password",
            ],
        ),
        (
            "OPS1",
            &[
                "/portal/dashboard",
                "/portal/admin",
                "/portal/admin/float",
                "/portal/admin/reconcile",
                "/portal/admin/audit",
                "/portal/password",
            ],
        ),
    ];
    for (login, ok) in allowed {
        let mut b = Browser::new(&s);
        b.sign_in(login);
        if login == "AG1" {
            // An agent without float is told so on its home page.
            b.get("/portal/dashboard").assert_has("id=\"low-float\"");
        }
        for path in pages {
            let page = b.get(path);
            let expected = if ok.contains(&path) { 200 } else { 403 };
            assert_eq!(page.status, expected, "{login} GET {path}:\n{}", page.body);
            assert!(
                page.body.len() < PAGE_BYTES_MAX,
                "{path} is {} bytes",
                page.body.len()
            );
            if expected == 403 {
                page.assert_has("Not allowed");
            }
        }
        // A valid token does not open another role's forms either.
        let refused = if ok.contains(&"/portal/admin") {
            "/portal/cash-in/check"
        } else {
            "/portal/admin/float"
        };
        let page = b.submit("/portal/dashboard", refused, &[("amount", "10")]);
        assert_eq!(page.status, 403, "{login} POST {refused}");
    }
}

fn a_password_change_ends_every_other_session(backend: Backend) {
    let s = server(backend);
    agent_with_owner(&s, "AG1", 0);
    let mut a = Browser::new(&s);
    let mut b = Browser::new(&s);
    a.sign_in("AG1");
    b.sign_in("AG1");
    let old = a.session().unwrap();

    for (new, confirm, current, problem) in [
        ("short", "short", super::PASSWORD, "characters"),
        (
            "a-new-password-1",
            "a-new-password-2",
            super::PASSWORD,
            "differ",
        ),
        (
            "my-ag1-password",
            "my-ag1-password",
            super::PASSWORD,
            "login code",
        ),
        (
            "a-new-password-1",
            "a-new-password-1",
            "wrong-current-pw",
            "current password is wrong",
        ),
    ] {
        let page = a.submit(
            "/portal/password",
            "/portal/password",
            &[("current", current), ("new", new), ("confirm", confirm)],
        );
        assert_eq!(page.status, 422, "{problem}");
        page.assert_has(problem);
    }
    let page = a.submit(
        "/portal/password",
        "/portal/password",
        &[
            ("current", super::PASSWORD),
            ("new", "a-new-password-1"),
            ("confirm", "a-new-password-1"),
        ],
    );
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(
        page.location.as_deref(),
        Some("/portal/dashboard?notice=password-changed")
    );
    assert_ne!(a.session().unwrap(), old, "a fresh session id");
    a.get("/portal/dashboard?notice=password-changed")
        .assert_has("Your password is changed");
    assert_eq!(
        b.get("/portal/dashboard").status,
        303,
        "the other browser is out"
    );
    assert_eq!(
        Browser::new(&s).try_sign_in("AG1", super::PASSWORD).status,
        401
    );
    assert_eq!(
        Browser::new(&s)
            .try_sign_in("AG1", "a-new-password-1")
            .status,
        303
    );
}

#[test]
fn security_headers_are_on_every_portal_response() {
    let s = server(Backend::Sqlite);
    agent_with_owner(&s, "AG1", 0);
    let mut b = Browser::new(&s);
    let mut pages = vec![("/portal/sign-in", b.get("/portal/sign-in"))];
    b.sign_in("AG1");
    for path in [
        "/portal/dashboard",
        "/portal/admin",
        "/portal/nowhere",
        "/portal/portal.css",
    ] {
        pages.push((path, b.get(path)));
    }
    pages.push(("POST without token", b.post("/portal/cash-in/check", &[])));
    let statuses: Vec<u16> = pages.iter().map(|(_, p)| p.status).collect();
    assert_eq!(statuses, [200, 200, 403, 404, 200, 403]);
    for (path, page) in &pages {
        let csp = page.header("content-security-policy");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(page.header("x-frame-options"), "DENY", "{path}");
        assert_eq!(page.header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(page.header("referrer-policy"), "no-referrer", "{path}");
        assert!(page.body.len() < PAGE_BYTES_MAX, "{path}");
        if *path != "/portal/portal.css" {
            assert_eq!(page.header("cache-control"), "no-store", "{path}");
            assert!(
                page.header("content-type").starts_with("text/html"),
                "{path}"
            );
            assert!(!page.body.contains("<script"), "{path}: no JavaScript");
            assert!(
                page.body.contains("width=device-width"),
                "{path}: phone viewport"
            );
        }
    }
    // The stylesheet plus the largest page still fit the budget together.
    let css = pages
        .iter()
        .find(|(p, _)| *p == "/portal/portal.css")
        .unwrap()
        .1
        .body
        .len();
    assert!(css < 5_000, "stylesheet {css} bytes");
}

#[test]
fn first_sign_in_adopts_the_password_an_agent_was_created_with() {
    let s = server(Backend::Sqlite);
    let hash = s.env.app.hasher.hash("created-by-cli-1").unwrap();
    mkoba::store::parties::create_agent(
        &mut s.env.conn(),
        &mkoba::store::parties::NewAgent {
            code: "AG9",
            name: "Cli Agent",
            role: mkoba::store::parties::AgentRole::Agent,
            parent_agent_id: None,
            msisdn: "+254711000009",
            currency: mkoba_ledger::Currency::KES,
            password_hash: &hash,
        },
    )
    .unwrap();
    let mut b = Browser::new(&s);
    assert_eq!(b.try_sign_in("AG9", "wrong-password").status, 401);
    let page = b.try_sign_in("AG9", "created-by-cli-1");
    assert_eq!(page.status, 303, "{}", page.body);
    let home = b.get("/portal/dashboard");
    home.assert_has("Agent owner");
    home.assert_has("AG9 Cli Agent");
    let user = mkoba::portal::store::user_by_login(&mut s.env.conn(), "AG9")
        .unwrap()
        .unwrap();
    assert_eq!(user.role, "agent_owner");
}

#[test]
fn the_demo_world_has_a_portal_login_for_every_role() {
    let s = server(Backend::Sqlite);
    assert!(mkoba::demo::seed(&s.env.app).unwrap(), "seeded");
    assert!(
        !mkoba::demo::seed(&s.env.app).unwrap(),
        "seeding twice adds nothing"
    );
    let roles: Vec<Role> = mkoba::portal::demo::USERS.iter().map(|u| u.role).collect();
    for role in Role::ALL {
        assert!(roles.contains(&role), "a demo login for {role:?}");
    }
    for demo in &mkoba::portal::demo::USERS {
        let mut b = Browser::new(&s);
        let page = b.try_sign_in(demo.login, demo.password);
        assert_eq!(page.status, 303, "{}: {}", demo.login, page.body);
        let home = b.get("/portal/dashboard");
        assert_eq!(home.status, 200);
        home.assert_has(demo.role.label());
    }
    // The demo agent's counter works on the seeded world: AG101 sees its float.
    let mut b = Browser::new(&s);
    b.try_sign_in("AG101-T1", "demo-till-101");
    b.get("/portal/dashboard").assert_has("KES 194,500.00");
}

#[test]
fn portal_limits_are_bounded_at_start_up() {
    let load = |key: &str, value: &str| {
        mkoba::config::Config::load(None, [(format!("MKOBA_PORTAL__{key}"), value.to_owned())])
    };
    assert!(load("SESSION_IDLE_SECONDS", "900").is_ok());
    for (key, value) in [
        ("SESSION_IDLE_SECONDS", "10"),
        ("SESSION_ABSOLUTE_SECONDS", "60"), // shorter than the idle timeout
        ("LOCKOUT_THRESHOLD", "0"),
        ("LOCKOUT_MAX_SECONDS", "30"), // below the base
        ("PASSWORD_LEN_MIN", "4"),
        ("PAGE_SIZE", "100000"),
        ("CSV_ROWS_MAX", "0"),
        ("CASH_OUT_APPROVAL_SECONDS", "99999999"),
    ] {
        let refused = load(key, value);
        assert!(refused.is_err(), "portal.{key} = {value} must be refused");
        assert!(refused.unwrap_err().contains("portal."), "{key}");
    }
}
