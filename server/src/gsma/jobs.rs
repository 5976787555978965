//! Background work for the GSMA API: run ledger commands of requests a crash (or a busy ledger)
//! left pending, and finish requests whose customer has answered a payment request or a debit
//! mandate (or let it lapse). Each finished request queues its callback in the same database
//! transaction.

use std::sync::Arc;
use std::time::Duration;

use crate::app::App;
use crate::gsma::requests::{self, Final, RequestRow};
use crate::gsma::transactions::{execute, render};
use crate::gsma::wire::Echo;
use crate::gsma::{mandates, GsmaError};
use crate::merchant::store::{AllowanceRow, PaymentRequestRow};
use crate::store::{blocking, checkout, reads, AnyConnection, StoreError};

fn approval_outcome(
    app: &App,
    conn: &mut AnyConnection,
    row: &RequestRow,
    request: &PaymentRequestRow,
    now: mkoba_ledger::Timestamp,
) -> Result<Final, StoreError> {
    let failed = |e: GsmaError| Final::failed(&e, now);
    Ok(match (request.status.as_str(), request.transaction_id) {
        ("paid", Some(txn)) => {
            let txn = reads::transaction_by_id(conn, txn)?.ok_or_else(|| {
                StoreError::Conflict("paid request without its transaction".into())
            })?;
            let echo: Echo = serde_json::from_str(&row.context).unwrap_or_default();
            let body = render(app, conn, &echo, &txn, false)?;
            Final {
                completed: true,
                object_reference: Some(txn.code),
                response_status: 201,
                body,
            }
        }
        ("declined", _) => failed(GsmaError::declined("The customer declined the payment.")),
        ("expired", _) => failed(GsmaError::declined(
            "The customer did not approve the payment in time.",
        )),
        _ => {
            let rejection = request
                .failure
                .as_deref()
                .and_then(mkoba_ledger::Rejection::from_name);
            failed(rejection.map_or_else(
                || {
                    GsmaError::new(
                        crate::gsma::Category::BusinessRule,
                        "genericError",
                        "payment_failed",
                        "The payment could not be made.",
                    )
                },
                GsmaError::from,
            ))
        }
    })
}

fn mandate_outcome(app: &App, allowance: &AllowanceRow, now: mkoba_ledger::Timestamp) -> Final {
    match allowance.status.as_str() {
        "active" | "revoked" => Final {
            completed: true,
            object_reference: Some(allowance.public_id.clone()),
            response_status: 201,
            body: mandates::representation(app, allowance),
        },
        "declined" => Final::failed(
            &GsmaError::declined("The customer declined the mandate."),
            now,
        ),
        _ => Final::failed(
            &GsmaError::declined("The customer did not grant the mandate in time."),
            now,
        ),
    }
}

/// One round; returns how many requests reached a final state.
pub async fn run_once(app: &Arc<App>) -> Result<usize, StoreError> {
    let limit = app.config.gsma.batch_max;
    let lease_us = i64::try_from(app.config.gsma.request_lease_ms)
        .unwrap_or(30_000)
        .saturating_mul(1_000);
    let app2 = Arc::clone(app);
    let answered = blocking(move || {
        let app = app2;
        let mut conn = checkout(&app.pool)?;
        let now = app.clock.now();
        let deadline = app.config.gsma.callback_deadline_seconds;
        let mut finished = 0;
        for (row, request) in requests::answered_approvals(&mut conn, limit)? {
            let outcome = approval_outcome(&app, &mut conn, &row, &request, now)?;
            requests::finish(&mut conn, &row, &outcome, now, deadline)?;
            finished += 1;
        }
        for (row, allowance) in requests::answered_mandates(&mut conn, limit)? {
            let outcome = mandate_outcome(&app, &allowance, now);
            requests::finish(&mut conn, &row, &outcome, now, deadline)?;
            finished += 1;
        }
        Ok(finished)
    })
    .await?;
    let app2 = Arc::clone(app);
    let now = app.clock.now().0;
    let due = blocking(move || {
        let mut conn = checkout(&app2.pool)?;
        let mut claimed = Vec::new();
        for row in requests::due_commands(&mut conn, now, limit)? {
            if requests::claim(&mut conn, row.id, now, now.saturating_add(lease_us))? {
                claimed.push(row);
            }
        }
        Ok(claimed)
    })
    .await?;
    let mut finished = answered;
    for row in due {
        match execute(app, row).await {
            Ok(row) if row.status != "pending" => finished += 1,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "GSMA request still pending"),
        }
    }
    Ok(finished)
}

/// Runs the jobs until the process ends.
pub fn spawn(app: &Arc<App>) {
    let app = Arc::clone(app);
    tokio::spawn(async move {
        let idle = Duration::from_millis(app.config.gsma.poll_interval_ms);
        loop {
            match run_once(&app).await {
                Ok(0) => tokio::time::sleep(idle).await,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "GSMA jobs round failed");
                    tokio::time::sleep(idle).await;
                }
            }
        }
    });
}
