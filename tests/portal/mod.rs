//! The agent portal over real HTTP: a cookie-keeping client that does not follow redirects, so
//! every 303, cookie and header is seen as a browser would get it.

mod admin;
mod browser;
mod money;
mod security;

use std::collections::BTreeMap;

use mkoba::portal::session::Role;
use mkoba::portal::store::{self as portal_store, NewUser};
use mkoba::store::writer::Clock;
use mkoba::store::Backend;
use mkoba_ledger::AccountId;

use crate::http_api::{spawn_with, Running};

pub const PASSWORD: &str = "correct-horse-9";

/// The page budget the issue sets: under 50 KB with assets.
pub const PAGE_BYTES_MAX: usize = 50_000;

pub fn server(backend: Backend) -> Running {
    spawn_with(backend, |_| {})
}

/// A portal user for `agent` (none for operator admins) with `PASSWORD`.
pub fn user(s: &Running, login: &str, role: Role, agent: Option<&str>) -> i64 {
    let mut conn = s.env.conn();
    let agent_id = agent.map(|code| {
        portal_store::agent_by_code(&mut conn, code)
            .unwrap()
            .expect("agent exists")
            .id
    });
    let hash = s.env.app.hasher.hash(PASSWORD).unwrap();
    portal_store::insert_user(
        &mut conn,
        &NewUser {
            login,
            name: &format!("User {login}"),
            role: role.as_str(),
            agent_id,
            password_hash: &hash,
            must_change_password: false,
            now: s.env.clock.now().0,
        },
    )
    .unwrap()
    .expect("login free")
}

/// A super-agent (float only) holding `float_minor` of issued e-money, with its portal login.
pub fn super_agent(s: &Running, code: &str, float_minor: i64) -> AccountId {
    let created = mkoba::store::parties::create_agent(
        &mut s.env.conn(),
        &mkoba::store::parties::NewAgent {
            code,
            name: "Test Super Agent",
            role: mkoba::store::parties::AgentRole::SuperAgent,
            parent_agent_id: None,
            msisdn: "+254711888888",
            currency: mkoba_ledger::Currency::KES,
            password_hash: "unused",
        },
    )
    .unwrap();
    if float_minor > 0 {
        let outcome = s.env.submit(
            mkoba_ledger::TxnKind::FloatIssuance,
            s.env.system().issuance,
            created.float,
            float_minor,
        );
        assert!(
            matches!(outcome, mkoba_ledger::Outcome::Accepted(_)),
            "{outcome:?}"
        );
    }
    user(s, code, Role::SuperAgent, Some(code));
    created.float
}

/// An agent (float and commission) with its owner's portal login (the agent code).
pub fn agent_with_owner(s: &Running, code: &str, float_minor: i64) -> (AccountId, AccountId) {
    let accounts = s.env.agent(code, float_minor);
    user(s, code, Role::AgentOwner, Some(code));
    accounts
}

pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    /// The value of a form field (`name="…" value="…"`) on this page.
    pub fn field(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no field {name} on the page:\n{}", self.body))
            + marker.len();
        let rest = &self.body[start..];
        rest[..rest.find('"').unwrap()].to_owned()
    }

    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_owned)
            .collect()
    }

    pub fn assert_has(&self, text: &str) {
        assert!(
            self.body.contains(text),
            "the page ({}) should contain {text:?}:\n{}",
            self.status,
            self.body
        );
    }
}

/// A browser: keeps cookies, never follows redirects.
pub struct Browser<'a> {
    pub s: &'a Running,
    client: reqwest::Client,
    pub cookies: BTreeMap<String, String>,
}

impl<'a> Browser<'a> {
    pub fn new(s: &'a Running) -> Browser<'a> {
        Browser {
            s,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
        }
    }

    fn send(&mut self, req: reqwest::RequestBuilder) -> Page {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let req = if cookie.is_empty() {
            req
        } else {
            req.header("cookie", cookie)
        };
        let page = self.s.runtime.block_on(async {
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            let headers = res.headers().clone();
            let location = headers
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            Page {
                status,
                location,
                headers,
                body: res.text().await.unwrap(),
            }
        });
        for set in page.set_cookies() {
            let pair = set.split(';').next().unwrap_or_default();
            let (name, value) = pair.split_once('=').unwrap();
            if set.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        page
    }

    pub fn get(&mut self, path: &str) -> Page {
        let req = self.client.get(format!("{}{path}", self.s.base));
        self.send(req)
    }

    pub fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body = serde_urlencoded::to_string(fields).unwrap();
        let req = self
            .client
            .post(format!("{}{path}", self.s.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        self.send(req)
    }

    /// Posts a form with this session's CSRF token (read from `from`, a page that has it).
    pub fn submit(&mut self, from: &str, path: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self.get(from).field("csrf");
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post(path, &all)
    }

    pub fn try_sign_in(&mut self, login: &str, password: &str) -> Page {
        // A signed-in browser is sent from the sign-in page to the dashboard; fetch the form as
        // a fresh tab would, then post it with every cookie the browser holds (old session too).
        let session = self.cookies.remove("mkoba_portal");
        let form = self.get("/portal/sign-in");
        if let Some(old) = session {
            self.cookies.insert("mkoba_portal".into(), old);
        }
        assert_eq!(form.status, 200, "{}", form.body);
        let pre = form.field("pre");
        self.post(
            "/portal/sign-in",
            &[("pre", &pre), ("login", login), ("password", password)],
        )
    }

    pub fn sign_in(&mut self, login: &str) -> Page {
        let page = self.try_sign_in(login, PASSWORD);
        assert_eq!(page.status, 303, "sign-in as {login}: {}", page.body);
        assert_eq!(page.location.as_deref(), Some("/portal/dashboard"));
        page
    }

    pub fn session(&self) -> Option<String> {
        self.cookies.get("mkoba_portal").cloned()
    }
}

/// Whole-database counts that must not move when a request is refused.
pub fn journal(s: &Running) -> (i64, i64) {
    s.env.journal_size()
}

/// SMS templates queued for a number, newest first.
pub fn sms_to(s: &Running, msisdn: &str) -> Vec<(String, String)> {
    s.env
        .sms_for(msisdn, 50)
        .into_iter()
        .map(|r| {
            let text = r.text().unwrap();
            (r.template, text)
        })
        .collect()
}

macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $(#[test] fn $name() { super::$name(mkoba::store::Backend::Sqlite) })* }
        mod postgres { $(#[test] fn $name() { super::$name(mkoba::store::Backend::Postgres) })* }
    };
}
pub(crate) use both_backends;
