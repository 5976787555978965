//! Cash-in and cash-out at the counter.
//!
//! Both go number → the customer's masked name and the amount to confirm → submit. The confirm
//! form carries a one-time token that becomes the ledger's idempotency key, so a double click or
//! a resubmitted form posts once and shows the same receipt. Paying out a withdrawal the customer
//! started on USSD posts that pending transfer, keyed by its id, so two tills pressing "paid"
//! at once pay once. A cash-out the agent starts waits, as a pending withdrawal marked for the
//! customer's approval, in the customer's USSD Approvals until they enter their PIN.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use mkoba_ledger::{Command, Money, Outcome, Receipt, TxnId, TxnKind, TxnRequest};

use crate::app::App;
use crate::phone::Msisdn;
use crate::portal::error::{friendly, PortalError};
use crate::portal::form::{new_form_token, valid_form_token, Form};
use crate::portal::session::{self, Principal, COUNTER};
use crate::portal::store::{self, CustomerKyc, PendingWithdrawal};
use crate::portal::view::{self, Layout, Notice};
use crate::sms::notify::{mask_name, mask_number};
use crate::store::{batch, blocking, checkout, reads, StoreError};

/// Pending withdrawals listed on the cash-out page at most.
const PENDING_LISTED_MAX: i64 = 100;

#[derive(Template)]
#[template(path = "portal/cash_in.html")]
struct CashInPage {
    layout: Layout,
    phone: String,
    amount: String,
}

/// A "check these details" page: what will happen, and the button that makes it happen.
#[derive(Template)]
#[template(path = "portal/confirm.html")]
pub struct ConfirmPage {
    pub layout: Layout,
    pub facts: Vec<(&'static str, String)>,
    pub action: &'static str,
    pub hidden: Vec<(&'static str, String)>,
    pub button: &'static str,
    pub back: &'static str,
}

#[derive(Template)]
#[template(path = "portal/receipt.html")]
pub struct ReceiptPage {
    pub layout: Layout,
    pub code: String,
    pub facts: Vec<(&'static str, String)>,
    pub again: &'static str,
}

#[derive(Template)]
#[template(path = "portal/cash_out.html")]
struct CashOutPage {
    layout: Layout,
    waiting: Vec<PendingView>,
    approvals: Vec<PendingView>,
    phone: String,
    amount: String,
}

struct PendingView {
    id: i64,
    customer: String,
    amount: String,
    fee: String,
    expires: String,
}

/// A customer and an amount that passed every check the portal can make before the ledger.
struct Checked {
    msisdn: Msisdn,
    customer: CustomerKyc,
    amount: Money,
}

impl Checked {
    fn who(&self, app: &App) -> String {
        format!(
            "{} ({})",
            mask_name(&self.customer.name),
            mask_number(self.msisdn.as_str(), app.country)
        )
    }
}

/// Reads the number and the amount; `Ok(Err(text))` says what to fix.
async fn check(
    app: &Arc<App>,
    phone: &str,
    amount: &str,
    kind: TxnKind,
) -> Result<Result<Checked, String>, PortalError> {
    let Ok(msisdn) = Msisdn::parse(phone, app.country) else {
        return Ok(Err(
            "Enter the customer's phone number, for example 0712 345 678.".into(),
        ));
    };
    let currency = app.config.ledger.default_currency;
    let amount =
        match crate::http::ledger_api::parse_amount(app, amount, currency.code(), Some(kind)) {
            Ok(m) => m,
            Err(r) => return Ok(Err(friendly(r).into())),
        };
    let pool = app.pool.clone();
    let number = msisdn.as_str().to_owned();
    let customer = blocking(move || store::customer_kyc(&mut *checkout(&pool)?, &number)).await?;
    let Some(customer) = customer else {
        return Ok(Err(
            "No mkoba customer has this number. Check it with the customer, or register them under Customers.".into(),
        ));
    };
    Ok(Ok(Checked {
        msisdn,
        customer,
        amount,
    }))
}

fn request(
    key: String,
    kind: TxnKind,
    debit: mkoba_ledger::AccountId,
    credit: mkoba_ledger::AccountId,
    amount: Money,
    metadata: serde_json::Value,
    pending_expiry_seconds: Option<i64>,
) -> Command {
    Command::Submit(TxnRequest {
        idempotency_key: key,
        kind,
        debit,
        credit,
        amount,
        memo: String::new(),
        metadata: metadata.to_string(),
        pending_expiry_seconds,
    })
}

/// What the ledger would answer now, without moving anything (for the confirm page).
async fn dry_run(app: &Arc<App>, command: Command) -> Result<Outcome, PortalError> {
    let app = Arc::clone(app);
    let now = app.clock.now();
    Ok(
        blocking(move || batch::dry_run(&mut *checkout(&app.pool)?, &app.ledger, now, &command))
            .await?,
    )
}

fn metadata(principal: &Principal, agent_code: &str) -> serde_json::Value {
    serde_json::json!({ "channel": "portal", "agent": agent_code, "login": principal.login })
}

async fn float_available(app: &Arc<App>, principal: &Principal) -> Result<String, PortalError> {
    let float = principal.agent()?.float;
    let pool = app.pool.clone();
    let state = blocking(move || {
        reads::account(&mut *checkout(&pool)?, float.0)?
            .map(|(_, s)| s)
            .ok_or_else(|| StoreError::Corrupt("agent float missing".into()))
    })
    .await?;
    Ok(view::money(
        state.available_minor().unwrap_or(0),
        state.currency,
    ))
}

fn cash_in_form(
    principal: &Principal,
    status: StatusCode,
    form: &Form,
    notice: Option<Notice>,
) -> Result<HttpResponse, PortalError> {
    view::html_status(
        status,
        &CashInPage {
            layout: Layout::new(principal, "Cash-in", "/portal/cash-in").with(notice),
            phone: form.get("phone").chars().take(32).collect(),
            amount: form.get("amount").chars().take(32).collect(),
        },
    )
}

async fn cash_in_page(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
) -> Result<HttpResponse, PortalError> {
    let principal = session::require(&app, &req, COUNTER).await?;
    cash_in_form(&principal, StatusCode::OK, &Form::default(), None)
}

async fn cash_in_check(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, PortalError> {
    let (principal, form) = session::require_post(&app, &req, &body, COUNTER).await?;
    let agent = principal.agent()?.clone();
    let refuse = |text: String| {
        cash_in_form(
            &principal,
            StatusCode::UNPROCESSABLE_ENTITY,
            &form,
            Notice::problem(text),
        )
    };
    let checked = match check(
        &app,
        form.get("phone"),
        form.get("amount"),
        TxnKind::Deposit,
    )
    .await?
    {
        Ok(c) => c,
        Err(text) => return refuse(text),
    };
    let token = new_form_token(app.clock.now());
    let command = request(
        format!("portal-quote:{token}"),
        TxnKind::Deposit,
        agent.float,
        checked.customer.wallet,
        checked.amount,
        metadata(&principal, &agent.code),
        None,
    );
    if let Outcome::Rejected(r) = dry_run(&app, command).await? {
        return refuse(friendly(r).into());
    }
    view::html(&ConfirmPage {
        layout: Layout::new(&principal, "Confirm cash-in", "/portal/cash-in"),
        facts: vec![
            ("Customer", checked.who(&app)),
            ("Amount to deposit", checked.amount.to_string()),
            (
                "Check",
                "Ask the customer to confirm their name before you take the cash.".into(),
            ),
        ],
        action: "/portal/cash-in",
        hidden: vec![
            ("phone", checked.msisdn.as_str().to_owned()),
            ("amount", checked.amount.to_plain_string()),
            ("token", token),
        ],
        button: "Confirm cash-in",
        back: "/portal/cash-in",
    })
}

async fn cash_in(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, PortalError> {
    let (principal, form) = session::require_post(&app, &req, &body, COUNTER).await?;
    let agent = principal.agent()?.clone();
    let token = form.get("token");
    if !valid_form_token(token) {
        return cash_in_form(
            &principal,
            StatusCode::UNPROCESSABLE_ENTITY,
            &form,
            Notice::problem("This form is not valid any more. Check the details again."),
        );
    }
    let checked = match check(
        &app,
        form.get("phone"),
        form.get("amount"),
        TxnKind::Deposit,
    )
    .await?
    {
        Ok(c) => c,
        Err(text) => {
            return cash_in_form(
                &principal,
                StatusCode::UNPROCESSABLE_ENTITY,
                &form,
                Notice::problem(text),
            )
        }
    };
    let command = request(
        format!("portal-cash-in:{}:{token}", principal.user_id),
        TxnKind::Deposit,
        agent.float,
        checked.customer.wallet,
        checked.amount,
        metadata(&principal, &agent.code),
        None,
    );
    let outcome = app.writer.submit(command).await?;
    let (receipt, replayed) = match outcome {
        Outcome::Accepted(r) => (r, false),
        Outcome::Replayed(r) => (r, true),
        Outcome::Rejected(r) => {
            return cash_in_form(
                &principal,
                StatusCode::UNPROCESSABLE_ENTITY,
                &form,
                Notice::problem(friendly(r)),
            )
        }
    };
    let mut facts = vec![
        ("Customer", checked.who(&app)),
        ("Deposited", receipt.amount.to_string()),
        (
            "Commission earned",
            Money::from_minor(receipt.commission_minor, receipt.amount.currency()).to_string(),
        ),
        (
            "Float available now",
            float_available(&app, &principal).await?,
        ),
    ];
    facts.push(("SMS", "Confirmations go to the customer and to you.".into()));
    let notice = if replayed {
        Notice::ok("Already done: this form was submitted before, and the cash-in was made once.")
    } else {
        Notice::ok("Cash-in done. Hand the customer their receipt code.")
    };
    receipt_page(
        &principal,
        "Cash-in receipt",
        "/portal/cash-in",
        &receipt,
        facts,
        notice,
    )
}

pub fn receipt_page(
    principal: &Principal,
    title: &str,
    again: &'static str,
    receipt: &Receipt,
    facts: Vec<(&'static str, String)>,
    notice: Option<Notice>,
) -> Result<HttpResponse, PortalError> {
    view::html(&ReceiptPage {
        layout: Layout::new(principal, title, again).with(notice),
        code: receipt.code.clone(),
        facts,
        again,
    })
}

fn pending_view(app: &App, p: &PendingWithdrawal) -> PendingView {
    PendingView {
        id: p.id,
        customer: format!(
            "{} ({})",
            mask_name(&p.customer_name),
            mask_number(&p.customer_msisdn, app.country)
        ),
        amount: view::money_text(p.amount_minor, &p.currency),
        fee: view::money_text(p.fee_minor, &p.currency),
        expires: view::when(p.expires_at, app.config.ledger.rules.utc_offset_seconds),
    }
}

async fn cash_out_view(
    app: &Arc<App>,
    principal: &Principal,
    status: StatusCode,
    form: &Form,
    notice: Option<Notice>,
) -> Result<HttpResponse, PortalError> {
    let float = principal.agent()?.float;
    let pool = app.pool.clone();
    let pending = blocking(move || {
        store::pending_withdrawals(&mut *checkout(&pool)?, float, None, PENDING_LISTED_MAX)
    })
    .await?;
    let (approvals, waiting): (Vec<_>, Vec<_>) = pending.iter().partition(|p| p.awaiting_customer);
    view::html_status(
        status,
        &CashOutPage {
            layout: Layout::new(principal, "Cash-out", "/portal/cash-out").with(notice),
            waiting: waiting.into_iter().map(|p| pending_view(app, p)).collect(),
            approvals: approvals
                .into_iter()
                .map(|p| pending_view(app, p))
                .collect(),
            phone: form.get("phone").chars().take(32).collect(),
            amount: form.get("amount").chars().take(32).collect(),
        },
    )
}

async fn cash_out_page(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
) -> Result<HttpResponse, PortalError> {
    let principal = session::require(&app, &req, COUNTER).await?;
    cash_out_view(&app, &principal, StatusCode::OK, &Form::default(), None).await
}

/// The agent paid the cash for a withdrawal the customer started: post it.
async fn pay_out(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, PortalError> {
    let (principal, form) = session::require_post(&app, &req, &body, COUNTER).await?;
    let float = principal.agent()?.float;
    let id = req
        .match_info()
        .get("id")
        .and_then(|t| t.parse::<i64>().ok())
        .unwrap_or(0);
    let pool = app.pool.clone();
    let found =
        blocking(move || store::pending_withdrawals(&mut *checkout(&pool)?, float, Some(id), 1))
            .await?;
    // Only a withdrawal into this agent's float, and one the customer started (one the agent
    // started is the customer's to approve, not the agent's).
    let Some(pending) = found.into_iter().next().filter(|p| !p.awaiting_customer) else {
        // It may have been paid already (a second click): the ledger's replay answers that.
        let replay = Command::PostPending {
            idempotency_key: format!("portal-pay:{id}"),
            pending: TxnId(id),
            amount_minor: None,
        };
        let prior = blocking({
            let pool = app.pool.clone();
            let key = replay.idempotency_key().to_owned();
            move || reads::transaction_by_key(&mut *checkout(&pool)?, &key)
        })
        .await?;
        if let Some(prior) = prior.filter(|t| t.credit_account_id == float.0) {
            let receipt = prior.to_receipt()?;
            return receipt_page(
                &principal,
                "Cash-out receipt",
                "/portal/cash-out",
                &receipt,
                vec![("Paid out", receipt.amount.to_string())],
                Notice::ok("Already done: this withdrawal was paid out once."),
            );
        }
        return cash_out_view(
            &app,
            &principal,
            StatusCode::NOT_FOUND,
            &form,
            Notice::problem(friendly(mkoba_ledger::Rejection::PendingNotFound)),
        )
        .await;
    };
    let command = Command::PostPending {
        idempotency_key: format!("portal-pay:{}", pending.id),
        pending: TxnId(pending.id),
        amount_minor: None,
    };
    let (receipt, replayed) = match app.writer.submit(command).await? {
        Outcome::Accepted(r) => (r, false),
        Outcome::Replayed(r) => (r, true),
        Outcome::Rejected(r) => {
            return cash_out_view(
                &app,
                &principal,
                StatusCode::UNPROCESSABLE_ENTITY,
                &form,
                Notice::problem(friendly(r)),
            )
            .await
        }
    };
    let p = pending_view(&app, &pending);
    let facts = vec![
        ("Customer", p.customer),
        ("Pay the customer", receipt.amount.to_string()),
        (
            "Commission earned",
            Money::from_minor(receipt.commission_minor, receipt.amount.currency()).to_string(),
        ),
        (
            "Float available now",
            float_available(&app, &principal).await?,
        ),
    ];
    let notice = if replayed {
        Notice::ok("Already done: this withdrawal was paid out once.")
    } else {
        Notice::ok("Cash-out posted. Hand the customer the cash.")
    };
    receipt_page(
        &principal,
        "Cash-out receipt",
        "/portal/cash-out",
        &receipt,
        facts,
        notice,
    )
}

async fn cash_out_check(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, PortalError> {
    let (principal, form) = session::require_post(&app, &req, &body, COUNTER).await?;
    let agent = principal.agent()?.clone();
    let checked = match check(
        &app,
        form.get("phone"),
        form.get("amount"),
        TxnKind::Withdrawal,
    )
    .await?
    {
        Ok(c) => c,
        Err(text) => {
            return cash_out_view(
                &app,
                &principal,
                StatusCode::UNPROCESSABLE_ENTITY,
                &form,
                Notice::problem(text),
            )
            .await
        }
    };
    let token = new_form_token(app.clock.now());
    let command = request(
        format!("portal-quote:{token}"),
        TxnKind::Withdrawal,
        checked.customer.wallet,
        agent.float,
        checked.amount,
        metadata(&principal, &agent.code),
        Some(app.config.portal.cash_out_approval_seconds),
    );
    let fee = match dry_run(&app, command).await? {
        Outcome::Accepted(r) | Outcome::Replayed(r) => {
            Money::from_minor(r.fee_minor, r.amount.currency())
        }
        Outcome::Rejected(r) => {
            return cash_out_view(
                &app,
                &principal,
                StatusCode::UNPROCESSABLE_ENTITY,
                &form,
                Notice::problem(friendly(r)),
            )
            .await
        }
    };
    let code = app.config.ussd.service_code.clone();
    view::html(&ConfirmPage {
        layout: Layout::new(&principal, "Confirm cash-out", "/portal/cash-out"),
        facts: vec![
            ("Customer", checked.who(&app)),
            ("Cash to pay out", checked.amount.to_string()),
            ("Fee the customer pays", fee.to_string()),
            (
                "Next",
                format!(
                    "The customer approves on their phone: dial {code}, choose Approvals and enter their PIN. Pay the cash only after it shows as paid."
                ),
            ),
        ],
        action: "/portal/cash-out/start",
        hidden: vec![
            ("phone", checked.msisdn.as_str().to_owned()),
            ("amount", checked.amount.to_plain_string()),
            ("token", token),
        ],
        button: "Send to the customer for approval",
        back: "/portal/cash-out",
    })
}

/// The agent starts a cash-out: a pending withdrawal the customer approves in USSD Approvals.
async fn cash_out_start(
    app: web::Data<Arc<App>>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, PortalError> {
    let (principal, form) = session::require_post(&app, &req, &body, COUNTER).await?;
    let agent = principal.agent()?.clone();
    let token = form.get("token");
    if !valid_form_token(token) {
        return cash_out_view(
            &app,
            &principal,
            StatusCode::UNPROCESSABLE_ENTITY,
            &form,
            Notice::problem("This form is not valid any more. Check the details again."),
        )
        .await;
    }
    let checked = match check(
        &app,
        form.get("phone"),
        form.get("amount"),
        TxnKind::Withdrawal,
    )
    .await?
    {
        Ok(c) => c,
        Err(text) => {
            return cash_out_view(
                &app,
                &principal,
                StatusCode::UNPROCESSABLE_ENTITY,
                &form,
                Notice::problem(text),
            )
            .await
        }
    };
    // The marker puts it in the customer's USSD Approvals (see `ussd::effects::APPROVAL_MARKER`).
    let mut meta = metadata(&principal, &agent.code);
    if let Some(map) = meta.as_object_mut() {
        map.insert("approval".into(), "customer".into());
    }
    let command = request(
        format!("portal-cash-out:{}:{token}", principal.user_id),
        TxnKind::Withdrawal,
        checked.customer.wallet,
        agent.float,
        checked.amount,
        meta,
        Some(app.config.portal.cash_out_approval_seconds),
    );
    let notice = match app.writer.submit(command).await? {
        Outcome::Accepted(_) | Outcome::Replayed(_) => Notice::ok(format!(
            "Sent: {} must approve {} with their PIN (dial {}, Approvals). It is listed below until then.",
            checked.who(&app),
            checked.amount,
            app.config.ussd.service_code
        )),
        Outcome::Rejected(r) => {
            return cash_out_view(
                &app,
                &principal,
                StatusCode::UNPROCESSABLE_ENTITY,
                &form,
                Notice::problem(friendly(r)),
            )
            .await
        }
    };
    cash_out_view(&app, &principal, StatusCode::OK, &Form::default(), notice).await
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/cash-in", web::get().to(cash_in_page))
        .route("/cash-in/check", web::post().to(cash_in_check))
        .route("/cash-in", web::post().to(cash_in))
        .route("/cash-out", web::get().to(cash_out_page))
        .route("/cash-out/check", web::post().to(cash_out_check))
        .route("/cash-out/start", web::post().to(cash_out_start))
        .route("/cash-out/{id}/pay", web::post().to(pay_out));
}
