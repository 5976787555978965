//! What every page shares: the layout (who is signed in, the menu for their role, the CSRF
//! token, a message), and the formatting of money, numbers and times for people.

use actix_web::http::header;
use actix_web::HttpResponse;
use askama::Template;
use mkoba_ledger::{Currency, Money, Timestamp};

use crate::portal::error::PortalError;
use crate::portal::session::{Principal, Role};

pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub active: bool,
}

/// A message at the top of a page: `ok` for success, otherwise a problem to fix.
pub struct Notice {
    pub ok: bool,
    pub text: String,
}

impl Notice {
    pub fn ok(text: impl Into<String>) -> Option<Notice> {
        Some(Notice {
            ok: true,
            text: text.into(),
        })
    }

    pub fn problem(text: impl Into<String>) -> Option<Notice> {
        Some(Notice {
            ok: false,
            text: text.into(),
        })
    }
}

pub struct Layout {
    pub title: String,
    pub signed_in: bool,
    pub user_name: String,
    pub login: String,
    pub role_label: &'static str,
    pub agent_label: String,
    pub csrf: String,
    pub nav: Vec<NavItem>,
    pub notice: Option<Notice>,
}

const MENU: &[(&str, &str, &[Role])] = &[
    ("/portal/dashboard", "Home", crate::portal::session::ANY),
    (
        "/portal/cash-in",
        "Cash-in",
        crate::portal::session::COUNTER,
    ),
    (
        "/portal/cash-out",
        "Cash-out",
        crate::portal::session::COUNTER,
    ),
    (
        "/portal/customers",
        "Customers",
        crate::portal::session::COUNTER,
    ),
    (
        "/portal/statements",
        "Statements",
        crate::portal::session::BOOKS,
    ),
    ("/portal/tills", "Tills", &[Role::AgentOwner]),
    ("/portal/agents", "My agents", &[Role::SuperAgent]),
    ("/portal/admin", "Admin", crate::portal::session::ADMIN),
    (
        "/portal/admin/float",
        "Float",
        crate::portal::session::ADMIN,
    ),
    (
        "/portal/admin/reconcile",
        "Reconcile",
        crate::portal::session::ADMIN,
    ),
    (
        "/portal/admin/audit",
        "Audit log",
        crate::portal::session::ADMIN,
    ),
    ("/portal/password", "Password", crate::portal::session::ANY),
];

impl Layout {
    pub fn new(principal: &Principal, title: &str, active: &str) -> Layout {
        let nav = if principal.must_change_password {
            Vec::new()
        } else {
            MENU.iter()
                .filter(|(_, _, roles)| roles.contains(&principal.role))
                .map(|&(href, label, _)| NavItem {
                    href,
                    label,
                    active: href == active,
                })
                .collect()
        };
        Layout {
            title: title.to_owned(),
            signed_in: true,
            user_name: principal.name.clone(),
            login: principal.login.clone(),
            role_label: principal.role.label(),
            agent_label: principal
                .agent
                .as_ref()
                .map(|a| format!("{} {}", a.code, a.name))
                .unwrap_or_default(),
            csrf: principal.csrf.clone(),
            nav,
            notice: None,
        }
    }

    /// For pages before sign-in.
    pub fn public(title: &str) -> Layout {
        Layout {
            title: title.to_owned(),
            signed_in: false,
            user_name: String::new(),
            login: String::new(),
            role_label: "",
            agent_label: String::new(),
            csrf: String::new(),
            nav: Vec::new(),
            notice: None,
        }
    }

    pub fn with(mut self, notice: Option<Notice>) -> Layout {
        self.notice = notice;
        self
    }
}

pub fn html(page: &impl Template) -> Result<HttpResponse, PortalError> {
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(page.render()?))
}

/// The same page with another status (a refused form answers 422 so tools can tell).
pub fn html_status(
    status: actix_web::http::StatusCode,
    page: &impl Template,
) -> Result<HttpResponse, PortalError> {
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(page.render()?))
}

/// After a POST: see the result with a GET (a reload then repeats nothing).
pub fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}

/// `KES 1,234.00`
pub fn money(minor: i64, currency: Currency) -> String {
    Money::from_minor(minor, currency).to_string()
}

pub fn money_text(minor: i64, currency: &str) -> String {
    match Currency::from_code(currency) {
        Some(c) => money(minor, c),
        None => format!("{currency} {minor}"),
    }
}

/// `21/11/26 14:05` in the operator's time zone.
pub fn when(at: i64, utc_offset_seconds: i32) -> String {
    let (date, time) = crate::sms::localtime::local_date_time(Timestamp(at), utc_offset_seconds);
    format!("{date} {time}")
}

/// The start (microseconds) of today and of this month, in the operator's time zone.
pub fn day_and_month_start(now: Timestamp, utc_offset_seconds: i32) -> (i64, i64) {
    let day = now.day_number(utc_offset_seconds);
    let (_, _, day_of_month) = crate::sms::localtime::civil_from_days(day);
    let offset_us = i64::from(utc_offset_seconds).saturating_mul(1_000_000);
    let start = |d: i64| {
        d.saturating_mul(86_400)
            .saturating_mul(1_000_000)
            .saturating_sub(offset_us)
    };
    (start(day), start(day - (day_of_month - 1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_months_start_at_local_midnight() {
        // 2026-11-21 11:05 UTC is 14:05 in Nairobi.
        let now = Timestamp(1_795_259_100 * 1_000_000);
        let (day, month) = day_and_month_start(now, 3 * 3600);
        assert_eq!(when(day, 3 * 3600), "21/11/26 00:00");
        assert_eq!(when(month, 3 * 3600), "01/11/26 00:00");
        assert_eq!(money(123_456, Currency::KES), "KES 1,234.56");
    }
}
