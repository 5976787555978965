//! The agent portal (`/portal`): the web app agents, super-agents and the operator's staff use.
//!
//! Server-rendered HTML (askama templates under `server/templates/portal/`), no JavaScript, one
//! small stylesheet, so it works on a cheap phone over a slow link. Security in brief:
//! - sessions are random ids in an HttpOnly, SameSite=Strict cookie (Secure over TLS), stored
//!   hashed, replaced at every sign-in, with idle and absolute timeouts (`session.rs`);
//! - every state-changing form carries the session's CSRF token; the sign-in form, which has no
//!   session yet, a double-submit cookie (`session.rs`, `auth.rs`);
//! - passwords are argon2id with the pepper, verified off the async threads, with a lockout that
//!   backs off exponentially (`auth.rs`);
//! - every query is scoped to the signed-in agent (a till operator acts for its agent); roles
//!   gate every page; admin and money actions go to an append-only audit log (`store.rs`);
//! - money moves only through the ledger writer, each form carrying a one-time token that is the
//!   ledger's idempotency key, so a double click or a resubmitted form posts once.

pub mod admin;
pub mod auth;
pub mod cash;
pub mod customers;
pub mod dashboard;
pub mod demo;
pub mod error;
pub mod float;
pub mod form;
pub mod session;
pub mod statements;
pub mod store;
pub mod view;

use actix_web::http::header;
use actix_web::{web, HttpResponse};

pub use session::Role;

/// The stylesheet: one small file, cached, so pages stay a few kilobytes.
const STYLESHEET: &str = include_str!("../../templates/portal/portal.css");

/// Content Security Policy: nothing but our own stylesheet and forms; never framed.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                       frame-ancestors 'none'; base-uri 'none'";

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(STYLESHEET)
}

/// A tiny icon, so browsers do not ask for `/favicon.ico` and log a 404 on every page.
const ICON: &str = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 16 16\"><rect width=\"16\" height=\"16\" rx=\"3\" fill=\"#14532d\"/><path d=\"M3 12V4l5 5 5-5v8\" stroke=\"#fff\" stroke-width=\"2\" fill=\"none\"/></svg>";

async fn icon() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(ICON)
}

async fn index(
    app: web::Data<std::sync::Arc<crate::app::App>>,
    req: actix_web::HttpRequest,
) -> Result<HttpResponse, error::PortalError> {
    match session::current(&app, &req).await? {
        session::Current::Active(_) => Ok(view::redirect("/portal/dashboard")),
        session::Current::Expired | session::Current::None => Ok(view::redirect("/portal/sign-in")),
    }
}

async fn not_found() -> Result<HttpResponse, error::PortalError> {
    Err(error::PortalError::NotFound)
}

/// Mounts the portal under `/portal`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    use actix_web::middleware::DefaultHeaders;
    let headers = DefaultHeaders::new()
        .add((header::CONTENT_SECURITY_POLICY, CSP))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "no-referrer"))
        .add((
            header::HeaderName::from_static("permissions-policy"),
            "camera=(), microphone=(), geolocation=()",
        ))
        .add((header::CACHE_CONTROL, "no-store"));
    cfg.service(
        web::scope("/portal")
            .wrap(headers)
            .route("", web::get().to(index))
            .route("/", web::get().to(index))
            .route("/portal.css", web::get().to(stylesheet))
            .route("/favicon.svg", web::get().to(icon))
            .configure(auth::routes)
            .configure(dashboard::routes)
            .configure(cash::routes)
            .configure(customers::routes)
            .configure(statements::routes)
            .configure(float::routes)
            .configure(admin::routes)
            .default_service(web::to(not_found)),
    );
}
