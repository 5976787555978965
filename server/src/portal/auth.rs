//! Signing in and out, changing a password, and an owner's till operators.
//!
//! Passwords are verified on a blocking thread (argon2id is slow on purpose). An unknown login is
//! checked against a dummy hash, so the answer takes as long as for a real one. From
//! `portal.lockout_threshold` wrong passwords in a row the login locks, for longer at each
//! further failure (see `store::record_failure`); while it is locked the password is not even
//! checked. A successful sign-in always starts a brand-new session and ends the one the browser
//! had (session fixation), and the session id only ever travels in the cookie.

use std::sync::{Arc, OnceLock};

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use crate::app::App;
use crate::portal::error::PortalError;
use crate::portal::form::Form;
use crate::portal::session::{self, Principal, Role, PRE_COOKIE, SESSION_COOKIE};
use crate::portal::store::{self, Audit, NewUser};
use crate::portal::view::{self, Layout, Notice};
use crate::secrets::random_token;
use crate::store::{blocking, checkout, StoreError};

const PASSWORD_LEN_MAX: usize = 128;

#[derive(Template)]
#[template(path = "portal/sign_in.html")]
struct SignInPage {
    layout: Layout,
    pre: String,
    login: String,
}

#[derive(Template)]
#[template(path = "portal/password.html")]
struct PasswordPage {
    layout: Layout,
    must_change: bool,
    len_min: usize,
}

#[derive(Template)]
#[template(path = "portal/tills.html")]
struct TillsPage {
    layout: Layout,
    tills: Vec<(String, String)>,
    created: Option<(String, String)>,
}

#[derive(serde::Deserialize)]
struct SignInQuery {
    #[serde(default)]
    expired: Option<String>,
}

fn sign_in_page(
    app: &App,
    req: &HttpRequest,
    status: StatusCode,
    login: &str,
    notice: Option<Notice>,
) -> Result<HttpResponse, PortalError> {
    let pre = session::new_csrf_token();
    let page = SignInPage {
        layout: Layout::public("Sign in").with(notice),
        pre: pre.clone(),
        login: login.chars().take(32).collect(),
    };
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((
            header::SET_COOKIE,
            session::set_cookie(app, req, PRE_COOKIE, Some(&pre)),
        ))
        .body(page.render()?))
}

async fn sign_in_form(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    query: web::Query<SignInQuery>,
) -> Result<HttpResponse, PortalError> {
    if let session::Current::Active(_) = session::current(&app, &req).await? {
        return Ok(view::redirect("/portal/dashboard"));
    }
    let notice = if query.expired.is_some() {
        Notice::problem("Your session ended. Sign in again.")
    } else {
        None
    };
    sign_in_page(&app, &req, StatusCode::OK, "", notice)
}

enum SignIn {
    Ok {
        session_id: String,
        must_change: bool,
    },
    BadCredentials,
    Locked {
        minutes: i64,
    },
}

/// A hash to verify unknown logins against, so they cost what a real check costs.
fn dummy_hash(app: &App) -> Result<String, StoreError> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(hash) = DUMMY.get() {
        return Ok(hash.clone());
    }
    let hash = app
        .hasher
        .hash(&random_token(24))
        .map_err(|e| StoreError::Io(e.to_string()))?;
    Ok(DUMMY.get_or_init(|| hash).clone())
}

fn verify(app: &App, password: &str, hash: &str) -> Result<bool, StoreError> {
    app.hasher
        .verify(password, hash)
        .map_err(|e| StoreError::Corrupt(format!("stored password hash: {e}")))
}

fn minutes_until(until: i64, now: i64) -> i64 {
    (until.saturating_sub(now) + 59_999_999) / 60_000_000
}

fn sign_in_blocking(
    app: &App,
    login: &str,
    password: &str,
    old_session: Option<String>,
) -> Result<SignIn, StoreError> {
    let mut conn = checkout(&app.pool)?;
    let now = app.clock.now().0;
    let cfg = &app.config.portal;
    let user = match store::user_by_login(&mut conn, login)? {
        Some(user) => Some(user),
        None => store::adopt_agent_owner(&mut conn, login, now)?,
    };
    let audit = |conn: &mut crate::store::AnyConnection, user_id, outcome: &str| {
        store::audit(
            conn,
            &Audit {
                user_id,
                login,
                action: "sign_in",
                detail: "",
                outcome,
            },
            now,
        )
    };
    let Some(user) = user else {
        let _ = verify(app, password, &dummy_hash(app)?)?;
        audit(&mut conn, None, "refused: unknown login")?;
        return Ok(SignIn::BadCredentials);
    };
    if user.locked_until > now {
        audit(&mut conn, Some(user.id), "refused: locked")?;
        return Ok(SignIn::Locked {
            minutes: minutes_until(user.locked_until, now),
        });
    }
    if !verify(app, password, &user.password_hash)? {
        let until = store::record_failure(
            &mut conn,
            user.id,
            now,
            cfg.lockout_threshold,
            cfg.lockout_base_seconds,
            cfg.lockout_max_seconds,
        )?;
        if until > now {
            tracing::warn!(user = user.id, "portal login locked after wrong passwords");
            audit(
                &mut conn,
                Some(user.id),
                "refused: wrong password, now locked",
            )?;
            return Ok(SignIn::Locked {
                minutes: minutes_until(until, now),
            });
        }
        audit(&mut conn, Some(user.id), "refused: wrong password")?;
        return Ok(SignIn::BadCredentials);
    }
    store::record_success(&mut conn, user.id)?;
    // The browser's old session, whoever it belonged to, ends here: a fixed or stolen id never
    // becomes a signed-in one.
    if let Some(old) = old_session {
        store::delete_session(&mut conn, &session::hash_id(&old))?;
    }
    let absolute_us = cfg.session_absolute_seconds.saturating_mul(1_000_000);
    store::purge_sessions(&mut conn, now.saturating_sub(absolute_us))?;
    let session_id = session::new_session_id();
    let csrf = session::new_csrf_token();
    store::create_session(
        &mut conn,
        &session::hash_id(&session_id),
        user.id,
        &csrf,
        now,
    )?;
    audit(&mut conn, Some(user.id), "ok")?;
    Ok(SignIn::Ok {
        session_id,
        must_change: user.must_change_password,
    })
}

async fn sign_in(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, PortalError> {
    let form = Form::parse(&body);
    let pre_ok = session::cookie(&req, PRE_COOKIE)
        .is_some_and(|pre| session::same_secret(&pre, form.get("pre")));
    if !pre_ok {
        return Err(PortalError::Csrf);
    }
    let login = store::normalize_login(form.get("login"));
    let password = form.raw("password").to_owned();
    if login.is_empty() || login.len() > 32 || password.is_empty() {
        return sign_in_page(
            &app,
            &req,
            StatusCode::UNPROCESSABLE_ENTITY,
            &login,
            Notice::problem("Enter your code and your password."),
        );
    }
    if password.len() > PASSWORD_LEN_MAX {
        return sign_in_page(
            &app,
            &req,
            StatusCode::UNAUTHORIZED,
            &login,
            Notice::problem("Wrong code or password."),
        );
    }
    let old = session::cookie(&req, SESSION_COOKIE);
    let app2 = Arc::clone(&app);
    let login2 = login.clone();
    let result = blocking(move || sign_in_blocking(&app2, &login2, &password, old)).await?;
    match result {
        SignIn::Ok {
            session_id,
            must_change,
        } => {
            let to = if must_change {
                "/portal/password"
            } else {
                "/portal/dashboard"
            };
            Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, to))
                .append_header((
                    header::SET_COOKIE,
                    session::set_cookie(&app, &req, SESSION_COOKIE, Some(&session_id)),
                ))
                .append_header((
                    header::SET_COOKIE,
                    session::set_cookie(&app, &req, PRE_COOKIE, None),
                ))
                .finish())
        }
        SignIn::BadCredentials => sign_in_page(
            &app,
            &req,
            StatusCode::UNAUTHORIZED,
            &login,
            Notice::problem("Wrong code or password."),
        ),
        SignIn::Locked { minutes } => sign_in_page(
            &app,
            &req,
            StatusCode::TOO_MANY_REQUESTS,
            &login,
            Notice::problem(format!(
                "Too many wrong passwords: this login is locked. Try again in {minutes} minute(s), or ask your agent owner or the operator."
            )),
        ),
    }
}

async fn sign_out(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, PortalError> {
    // Signing out needs the CSRF token too, so another site cannot sign people out.
    let (principal, _) = session::require_post(&app, &req, &body, session::ANY).await?;
    end_session(&app, &principal).await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/portal/sign-in"))
        .insert_header((
            header::SET_COOKIE,
            session::set_cookie(&app, &req, SESSION_COOKIE, None),
        ))
        .finish())
}

async fn end_session(app: &Arc<App>, principal: &Principal) -> Result<(), PortalError> {
    let app = Arc::clone(app);
    let (hash, user_id, login) = (
        principal.session_hash.clone(),
        principal.user_id,
        principal.login.clone(),
    );
    blocking(move || {
        let mut conn = checkout(&app.pool)?;
        store::delete_session(&mut conn, &hash)?;
        store::audit(
            &mut conn,
            &Audit {
                user_id: Some(user_id),
                login: &login,
                action: "sign_out",
                detail: "",
                outcome: "ok",
            },
            app.clock.now().0,
        )
    })
    .await?;
    Ok(())
}

async fn password_form(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
) -> Result<HttpResponse, PortalError> {
    let principal = session::require(&app, &req, session::ANY).await?;
    let notice = if principal.must_change_password {
        Notice::problem("Choose your own password before you go on.")
    } else {
        None
    };
    view::html(&PasswordPage {
        layout: Layout::new(&principal, "Change password", "/portal/password").with(notice),
        must_change: principal.must_change_password,
        len_min: app.config.portal.password_len_min,
    })
}

/// Why a new password is refused, if it is.
fn weak_password(
    new: &str,
    confirm: &str,
    current: &str,
    login: &str,
    len_min: usize,
) -> Option<String> {
    if new != confirm {
        return Some("The new password and its confirmation differ.".into());
    }
    if new.chars().count() < len_min || new.len() > PASSWORD_LEN_MAX {
        return Some(format!(
            "The new password must be {len_min} to {PASSWORD_LEN_MAX} characters."
        ));
    }
    if new == current {
        return Some("The new password must differ from the current one.".into());
    }
    if new.to_ascii_uppercase().contains(login) {
        return Some("The new password must not contain your login code.".into());
    }
    None
}

async fn change_password(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, PortalError> {
    let (principal, form) = session::require_post(&app, &req, &body, session::ANY).await?;
    let (current, new, confirm) = (
        form.raw("current").to_owned(),
        form.raw("new").to_owned(),
        form.raw("confirm").to_owned(),
    );
    let refuse = |text: String| {
        view::html_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &PasswordPage {
                layout: Layout::new(&principal, "Change password", "/portal/password")
                    .with(Notice::problem(text)),
                must_change: principal.must_change_password,
                len_min: app.config.portal.password_len_min,
            },
        )
    };
    let len_min = app.config.portal.password_len_min;
    if let Some(problem) = weak_password(&new, &confirm, &current, &principal.login, len_min) {
        return refuse(problem);
    }
    let app2 = Arc::clone(&app);
    let user_id = principal.user_id;
    let login = principal.login.clone();
    let changed: Option<String> = blocking(move || {
        let mut conn = checkout(&app2.pool)?;
        let now = app2.clock.now().0;
        let user = store::user_by_id(&mut conn, user_id)?
            .ok_or_else(|| StoreError::Corrupt("session user missing".into()))?;
        if current.len() > PASSWORD_LEN_MAX || !verify(&app2, &current, &user.password_hash)? {
            let cfg = &app2.config.portal;
            store::record_failure(
                &mut conn,
                user_id,
                now,
                cfg.lockout_threshold,
                cfg.lockout_base_seconds,
                cfg.lockout_max_seconds,
            )?;
            store::audit(
                &mut conn,
                &Audit {
                    user_id: Some(user_id),
                    login: &login,
                    action: "change_password",
                    detail: "",
                    outcome: "refused: wrong current password",
                },
                now,
            )?;
            return Ok(None);
        }
        let hash = app2
            .hasher
            .hash(&new)
            .map_err(|e| StoreError::Io(e.to_string()))?;
        store::set_password(&mut conn, user_id, &hash, false)?;
        // Every browser signed in as this user is signed out; this one gets a fresh session.
        store::delete_sessions_of(&mut conn, user_id)?;
        let session_id = session::new_session_id();
        let csrf = session::new_csrf_token();
        store::create_session(
            &mut conn,
            &session::hash_id(&session_id),
            user_id,
            &csrf,
            now,
        )?;
        store::audit(
            &mut conn,
            &Audit {
                user_id: Some(user_id),
                login: &login,
                action: "change_password",
                detail: "",
                outcome: "ok",
            },
            now,
        )?;
        Ok(Some(session_id))
    })
    .await?;
    match changed {
        None => refuse("The current password is wrong.".into()),
        Some(session_id) => Ok(HttpResponse::SeeOther()
            .insert_header((
                header::LOCATION,
                "/portal/dashboard?notice=password-changed",
            ))
            .insert_header((
                header::SET_COOKIE,
                session::set_cookie(&app, &req, SESSION_COOKIE, Some(&session_id)),
            ))
            .finish()),
    }
}

async fn tills(app: web::Data<Arc<App>>, req: HttpRequest) -> Result<HttpResponse, PortalError> {
    let principal = session::require(&app, &req, &[Role::AgentOwner]).await?;
    tills_page(&app, &principal, None, None).await
}

async fn tills_page(
    app: &Arc<App>,
    principal: &Principal,
    notice: Option<Notice>,
    created: Option<(String, String)>,
) -> Result<HttpResponse, PortalError> {
    let agent_id = principal.agent()?.id;
    let pool = app.pool.clone();
    let tills = blocking(move || store::tills_of(&mut *checkout(&pool)?, agent_id)).await?;
    view::html(&TillsPage {
        layout: Layout::new(principal, "Tills", "/portal/tills").with(notice),
        tills,
        created,
    })
}

/// An owner adds a till operator: the login is the agent code and a number, the one-time
/// password is shown once and must be changed at first sign-in.
async fn add_till(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, PortalError> {
    let (principal, form) = session::require_post(&app, &req, &body, &[Role::AgentOwner]).await?;
    let name = form.get("name").to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        return tills_page(
            &app,
            &principal,
            Notice::problem("Enter the till operator's name (up to 100 characters)."),
            None,
        )
        .await;
    }
    let agent = principal.agent()?.clone();
    let app2 = Arc::clone(&app);
    let (user_id, owner) = (principal.user_id, principal.login.clone());
    let created = blocking(move || {
        let mut conn = checkout(&app2.pool)?;
        let now = app2.clock.now().0;
        let password = random_token(12);
        let hash = app2
            .hasher
            .hash(&password)
            .map_err(|e| StoreError::Io(e.to_string()))?;
        for n in 1..=99 {
            let login = format!("{}-T{n}", agent.code);
            let new = NewUser {
                login: &login,
                name: &name,
                role: Role::TillOperator.as_str(),
                agent_id: Some(agent.id),
                password_hash: &hash,
                must_change_password: true,
                now,
            };
            if store::insert_user(&mut conn, &new)?.is_some() {
                store::audit(
                    &mut conn,
                    &Audit {
                        user_id: Some(user_id),
                        login: &owner,
                        action: "add_till",
                        detail: &login,
                        outcome: "ok",
                    },
                    now,
                )?;
                return Ok(Some((login, password)));
            }
        }
        Ok(None)
    })
    .await?;
    match created {
        Some(created) => {
            tills_page(
                &app,
                &principal,
                Notice::ok("Till operator added. Give them the login and one-time password below; they choose their own at first sign-in."),
                Some(created),
            )
            .await
        }
        None => {
            tills_page(
                &app,
                &principal,
                Notice::problem("This agent has as many tills as allowed (99)."),
                None,
            )
            .await
        }
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/sign-in", web::get().to(sign_in_form))
        .route("/sign-in", web::post().to(sign_in))
        .route("/sign-out", web::post().to(sign_out))
        .route("/password", web::get().to(password_form))
        .route("/password", web::post().to(change_password))
        .route("/tills", web::get().to(tills))
        .route("/tills", web::post().to(add_till));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_passwords_are_refused_with_a_reason() {
        assert!(weak_password("a-long-secret", "a-long-secreX", "", "AG101", 10).is_some());
        assert!(weak_password("short", "short", "", "AG101", 10).is_some());
        assert!(weak_password("my-ag101-password", "my-ag101-password", "", "AG101", 10).is_some());
        assert!(weak_password(
            "same-as-before",
            "same-as-before",
            "same-as-before",
            "AG101",
            10
        )
        .is_some());
        assert_eq!(
            weak_password("a-long-secret", "a-long-secret", "old", "AG101", 10),
            None
        );
        assert_eq!(minutes_until(61_000_000, 0), 2);
        assert_eq!(minutes_until(60_000_000, 0), 1);
    }
}
