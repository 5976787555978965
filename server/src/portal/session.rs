//! Sessions, roles and the guards every page goes through.
//!
//! The cookie carries 43 random characters (about 250 bits); the database keeps only their
//! SHA-256, so neither a leaked table nor a log line can open a session. A session ends when it
//! has been idle or alive too long (`portal.session_idle_seconds`, `…_absolute_seconds`), at
//! sign-out, and when its user signs in again from the same browser (the id is never reused).

use std::sync::Arc;

use actix_web::http::header;
use actix_web::HttpRequest;
use mkoba_ledger::AccountId;
use sha2::{Digest, Sha256};

use crate::app::App;
use crate::portal::error::PortalError;
use crate::portal::form::Form;
use crate::portal::store::{self, SessionRow, UserRow};
use crate::secrets::random_token;
use crate::store::{blocking, checkout, StoreError};

pub const SESSION_COOKIE: &str = "mkoba_portal";
/// The sign-in form's double-submit token: the form has no session to carry a CSRF token yet.
pub const PRE_COOKIE: &str = "mkoba_portal_pre";
const SESSION_ID_LEN: usize = 43;
pub const CSRF_LEN: usize = 40;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Serves customers at one of an agent's tills: cash-in, cash-out, customers.
    TillOperator,
    /// Runs the agent business: everything a till does, plus statements and tills.
    AgentOwner,
    /// Holds float for its agents and moves it to and from them.
    SuperAgent,
    /// The operator's staff: agents, merchants, float issuance, freezes, reconciliation.
    OperatorAdmin,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::TillOperator,
        Role::AgentOwner,
        Role::SuperAgent,
        Role::OperatorAdmin,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Role::TillOperator => "till_operator",
            Role::AgentOwner => "agent_owner",
            Role::SuperAgent => "super_agent",
            Role::OperatorAdmin => "operator_admin",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text)
    }

    pub const fn label(self) -> &'static str {
        match self {
            Role::TillOperator => "Till operator",
            Role::AgentOwner => "Agent owner",
            Role::SuperAgent => "Super-agent",
            Role::OperatorAdmin => "Operator admin",
        }
    }
}

/// Roles that serve customers over the counter.
pub const COUNTER: &[Role] = &[Role::TillOperator, Role::AgentOwner];
/// Roles that read their own agent's books.
pub const BOOKS: &[Role] = &[Role::AgentOwner, Role::SuperAgent];
pub const ADMIN: &[Role] = &[Role::OperatorAdmin];
pub const ANY: &[Role] = &Role::ALL;

/// The agent a signed-in user acts for.
#[derive(Clone, Debug)]
pub struct AgentInfo {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub float: AccountId,
    pub commission: Option<AccountId>,
}

/// The signed-in user of this request.
#[derive(Clone, Debug)]
pub struct Principal {
    pub user_id: i64,
    pub login: String,
    pub name: String,
    pub role: Role,
    pub agent: Option<AgentInfo>,
    pub csrf: String,
    pub must_change_password: bool,
    pub session_hash: String,
}

impl Principal {
    /// The agent this user acts for; every counter and books page needs one.
    pub fn agent(&self) -> Result<&AgentInfo, PortalError> {
        self.agent.as_ref().ok_or(PortalError::Forbidden)
    }
}

pub enum Current {
    None,
    /// There was a session, and it timed out (the sign-in page says so).
    Expired,
    Active(Box<Principal>),
}

pub fn hash_id(id: &str) -> String {
    let digest = Sha256::digest(id.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn new_session_id() -> String {
    random_token(SESSION_ID_LEN)
}

pub fn new_csrf_token() -> String {
    random_token(CSRF_LEN)
}

/// Compares two secrets in time that depends only on their lengths.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0_u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A cookie value we could have issued: our alphabet, a sane length. Anything else is ignored
/// before it reaches the database.
fn plausible_token(value: &str) -> bool {
    (20..=64).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_alphanumeric())
}

pub fn cookie(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| plausible_token(v))
}

/// Whether cookies must be `Secure`: the portal is reached over TLS (directly or, as the public
/// URL says, behind a TLS-terminating proxy).
fn over_tls(app: &App, req: &HttpRequest) -> bool {
    req.connection_info().scheme() == "https" || app.config.public_url().starts_with("https://")
}

/// A `Set-Cookie` value; `value: None` deletes the cookie.
pub fn set_cookie(app: &App, req: &HttpRequest, name: &str, value: Option<&str>) -> String {
    let secure = if over_tls(app, req) { "; Secure" } else { "" };
    match value {
        Some(v) => format!("{name}={v}; Path=/portal; HttpOnly; SameSite=Strict{secure}"),
        None => format!("{name}=; Path=/portal; Max-Age=0; HttpOnly; SameSite=Strict{secure}"),
    }
}

fn agent_info(
    conn: &mut crate::store::AnyConnection,
    user: &UserRow,
) -> Result<Option<AgentInfo>, StoreError> {
    match user.agent_id {
        Some(id) => store::agent(conn, id),
        None => Ok(None),
    }
}

fn principal(
    conn: &mut crate::store::AnyConnection,
    session: SessionRow,
    user: UserRow,
) -> Result<Principal, StoreError> {
    let role = Role::parse(&user.role)
        .ok_or_else(|| StoreError::Corrupt(format!("portal user role {:?}", user.role)))?;
    let agent = agent_info(conn, &user)?;
    if role != Role::OperatorAdmin && agent.is_none() {
        return Err(StoreError::Corrupt(format!(
            "portal user {} has no agent",
            user.id
        )));
    }
    Ok(Principal {
        user_id: user.id,
        login: user.login,
        name: user.name,
        role,
        agent,
        csrf: session.csrf_token,
        must_change_password: user.must_change_password,
        session_hash: session.id_hash,
    })
}

/// The session this request carries, if any; ends it if it has timed out, and marks it used.
pub async fn current(app: &Arc<App>, req: &HttpRequest) -> Result<Current, PortalError> {
    let Some(id) = cookie(req, SESSION_COOKIE) else {
        return Ok(Current::None);
    };
    let app = Arc::clone(app);
    let current = blocking(move || {
        let mut conn = checkout(&app.pool)?;
        let hash = hash_id(&id);
        let Some((session, user)) = store::session(&mut conn, &hash)? else {
            return Ok(Current::None);
        };
        let now = app.clock.now().0;
        let portal = &app.config.portal;
        let idle_us = portal.session_idle_seconds.saturating_mul(1_000_000);
        let absolute_us = portal.session_absolute_seconds.saturating_mul(1_000_000);
        if now.saturating_sub(session.last_seen_at) > idle_us
            || now.saturating_sub(session.created_at) > absolute_us
        {
            store::delete_session(&mut conn, &hash)?;
            return Ok(Current::Expired);
        }
        store::touch_session(&mut conn, &hash, now)?;
        Ok(Current::Active(Box::new(principal(
            &mut conn, session, user,
        )?)))
    })
    .await?;
    Ok(current)
}

/// The signed-in user, if their role may see this page. Users who must change their password
/// are sent to do that first.
pub async fn require(
    app: &Arc<App>,
    req: &HttpRequest,
    roles: &[Role],
) -> Result<Principal, PortalError> {
    let principal = match current(app, req).await? {
        Current::Active(p) => *p,
        Current::Expired => return Err(PortalError::SignIn { expired: true }),
        Current::None => return Err(PortalError::SignIn { expired: false }),
    };
    // Until they choose their own password, users can do only that (or sign out).
    if principal.must_change_password
        && !matches!(req.path(), "/portal/password" | "/portal/sign-out")
    {
        return Err(PortalError::Redirect("/portal/password"));
    }
    if !roles.contains(&principal.role) {
        tracing::warn!(
            user = principal.user_id,
            role = principal.role.as_str(),
            path = req.path(),
            "portal page refused to this role"
        );
        return Err(PortalError::Forbidden);
    }
    Ok(principal)
}

/// `require`, plus the form's CSRF token checked against the session's. Every state-changing
/// request goes through here.
pub async fn require_post(
    app: &Arc<App>,
    req: &HttpRequest,
    body: &[u8],
    roles: &[Role],
) -> Result<(Principal, Form), PortalError> {
    let principal = require(app, req, roles).await?;
    let form = Form::parse(body);
    if !same_secret(form.get("csrf"), &principal.csrf) {
        tracing::warn!(
            user = principal.user_id,
            path = req.path(),
            "portal form refused: missing or wrong CSRF token"
        );
        return Err(PortalError::Csrf);
    }
    Ok((principal, form))
}
