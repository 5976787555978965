//! Delivers callbacks: claim due rows with a lease (several processes never send one at the same
//! time), PUT the final representation (or error object) to the caller's `X-Callback-URL` with
//! its `X-CorrelationID`, and retry failures with backoff until the deadline. A merchant's
//! callbacks are signed like its webhooks (`Mkoba-Signature: t=…,v1=…`) when it has a signing
//! secret. A caller that answers 2xx has the callback.

use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::BigInt;

use crate::app::App;
use crate::merchant::webhooks::{signature, SIGNATURE_HEADER};
use crate::sms::dispatcher::backoff_ms;
use crate::store::db::write_transaction;
use crate::store::schema::{gsma_callbacks, merchants};
use crate::store::{blocking, checkout, AnyConnection, StoreError};
use crate::with_conn;

#[derive(Clone, Debug, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = gsma_callbacks)]
pub struct CallbackRow {
    pub id: i64,
    pub merchant_id: Option<i64>,
    pub url: String,
    pub correlation_id: Option<String>,
    pub payload: String,
    pub attempts: i32,
    pub deadline_at: i64,
}

fn claim(
    conn: &mut AnyConnection,
    now: i64,
    lease_until: i64,
    limit: i64,
) -> Result<Vec<CallbackRow>, StoreError> {
    match conn {
        AnyConnection::Postgres(c) => Ok(diesel::sql_query(
            "UPDATE gsma_callbacks SET claimed_until = $1 \
             WHERE id IN (SELECT id FROM gsma_callbacks \
               WHERE status = 'queued' AND next_attempt_at <= $2 \
                 AND (claimed_until IS NULL OR claimed_until < $2) \
               ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
             RETURNING id, merchant_id, url, correlation_id, payload, attempts, deadline_at",
        )
        .bind::<BigInt, _>(lease_until)
        .bind::<BigInt, _>(now)
        .bind::<BigInt, _>(limit)
        .load::<CallbackRow>(c)?),
        AnyConnection::Sqlite(_) => write_transaction(conn, |conn| {
            let due = gsma_callbacks::status
                .eq("queued")
                .and(gsma_callbacks::next_attempt_at.le(now))
                .and(
                    gsma_callbacks::claimed_until
                        .is_null()
                        .or(gsma_callbacks::claimed_until.lt(now)),
                );
            let ids: Vec<i64> = with_conn!(&mut *conn, |c| gsma_callbacks::table
                .filter(due)
                .order(gsma_callbacks::next_attempt_at)
                .limit(limit)
                .select(gsma_callbacks::id)
                .load(c))?;
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            with_conn!(&mut *conn, |c| diesel::update(
                gsma_callbacks::table.filter(gsma_callbacks::id.eq_any(&ids))
            )
            .set(gsma_callbacks::claimed_until.eq(Some(lease_until)))
            .execute(c))?;
            Ok(with_conn!(&mut *conn, |c| gsma_callbacks::table
                .filter(gsma_callbacks::id.eq_any(&ids))
                .select(CallbackRow::as_select())
                .load(c))?)
        }),
    }
}

enum Delivery {
    Delivered,
    Failed {
        error: String,
        retry_after: Option<Duration>,
    },
}

async fn deliver(app: &App, client: &reqwest::Client, callback: &CallbackRow) -> Delivery {
    let secret = match callback.merchant_id {
        None => None,
        Some(merchant_id) => {
            let pool = app.pool.clone();
            blocking(move || {
                Ok(with_conn!(&mut *checkout(&pool)?, |c| merchants::table
                    .filter(merchants::id.eq(merchant_id))
                    .select(merchants::signing_secret)
                    .first::<Option<String>>(c))?)
            })
            .await
            .ok()
            .flatten()
        }
    };
    let now = app.clock.now();
    let mut request = client
        .put(&callback.url)
        .header("content-type", "application/json")
        .header("X-Date", crate::gsma::date_time(now));
    if let Some(id) = &callback.correlation_id {
        request = request.header("X-CorrelationID", id.as_str());
    }
    if let Some(secret) = secret {
        let t = now.0 / 1_000_000;
        request = request.header(SIGNATURE_HEADER, signature(&secret, t, &callback.payload));
    }
    match request.body(callback.payload.clone()).send().await {
        Ok(response) if response.status().is_success() => Delivery::Delivered,
        Ok(response) => Delivery::Failed {
            error: format!("HTTP {}", response.status().as_u16()),
            retry_after: response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs),
        },
        Err(e) => Delivery::Failed {
            error: if e.is_timeout() {
                "timeout".into()
            } else {
                "connection failed".into()
            },
            retry_after: None,
        },
    }
}

/// One round: claim, deliver, record. Returns how many callbacks were attempted.
pub async fn dispatch_once(app: &Arc<App>, client: &reqwest::Client) -> Result<usize, StoreError> {
    let cfg = &app.config.gsma;
    let now = app.clock.now().0;
    let lease = now.saturating_add(
        i64::try_from(cfg.callback_timeout_ms)
            .unwrap_or(60_000)
            .saturating_mul(3_000),
    );
    let limit = cfg.batch_max;
    let pool = app.pool.clone();
    let due = blocking(move || claim(&mut *checkout(&pool)?, now, lease, limit)).await?;
    let count = due.len();
    for callback in due {
        let outcome = deliver(app, client, &callback).await;
        let now = app.clock.now().0;
        let pool = app.pool.clone();
        let (base, max) = (cfg.callback_retry_base_ms, cfg.callback_retry_max_ms);
        blocking(move || {
            let mut conn = checkout(&pool)?;
            let row = gsma_callbacks::table.filter(gsma_callbacks::id.eq(callback.id));
            let attempts = callback.attempts.saturating_add(1);
            match outcome {
                Delivery::Delivered => with_conn!(&mut *conn, |c| diesel::update(row)
                    .set((
                        gsma_callbacks::status.eq("delivered"),
                        gsma_callbacks::attempts.eq(attempts),
                        gsma_callbacks::delivered_at.eq(Some(now)),
                        gsma_callbacks::claimed_until.eq(None::<i64>),
                    ))
                    .execute(c))?,
                Delivery::Failed { error, retry_after } => {
                    let wait = backoff_ms(attempts, base, max, retry_after);
                    let next = now.saturating_add(
                        i64::try_from(wait)
                            .unwrap_or(i64::MAX / 1_000)
                            .saturating_mul(1_000),
                    );
                    let status = if next > callback.deadline_at {
                        "failed"
                    } else {
                        "queued"
                    };
                    let error: String = error.chars().take(500).collect();
                    with_conn!(&mut *conn, |c| diesel::update(row)
                        .set((
                            gsma_callbacks::status.eq(status),
                            gsma_callbacks::attempts.eq(attempts),
                            gsma_callbacks::next_attempt_at.eq(next),
                            gsma_callbacks::last_error.eq(Some(&error)),
                            gsma_callbacks::claimed_until.eq(None::<i64>),
                        ))
                        .execute(c))?
                }
            };
            Ok(())
        })
        .await?;
    }
    Ok(count)
}

/// Runs the callback dispatcher until the process ends.
pub fn spawn(app: &Arc<App>) {
    let app = Arc::clone(app);
    tokio::spawn(async move {
        let client = match reqwest::Client::builder()
            .timeout(Duration::from_millis(app.config.gsma.callback_timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .build()
        {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "GSMA callback client could not start");
                return;
            }
        };
        let idle = Duration::from_millis(app.config.gsma.poll_interval_ms);
        loop {
            match dispatch_once(&app, &client).await {
                Ok(0) => tokio::time::sleep(idle).await,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "GSMA callback round failed");
                    tokio::time::sleep(idle).await;
                }
            }
        }
    });
}
