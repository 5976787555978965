//! Request states: one row per request that creates something, keyed by the caller's
//! `X-CorrelationID`. The row reserves the correlation id before anything happens (a repeat of
//! the same request gets the same answer, a different request under the same id is refused),
//! carries the ledger command to run (so a request a crash interrupted is finished by the jobs),
//! and, once final, the answer and the callback owed.

use diesel::prelude::*;
use mkoba_ledger::Timestamp;
use serde_json::{json, Map, Value};

use crate::gsma::GsmaError;
use crate::merchant::store::{AllowanceRow, PaymentRequestRow};
use crate::store::db::write_transaction;
use crate::store::schema::{allowances, gsma_callbacks, gsma_requests, payment_requests};
use crate::store::{AnyConnection, StoreError};
use crate::with_conn;

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = gsma_requests)]
pub struct RequestRow {
    pub id: i64,
    pub server_correlation_id: String,
    pub caller: String,
    pub merchant_id: Option<i64>,
    pub correlation_id: Option<String>,
    pub fingerprint: String,
    pub operation: String,
    pub status: String,
    pub command: Option<String>,
    pub context: String,
    pub payment_request_id: Option<i64>,
    pub allowance_id: Option<i64>,
    pub object_reference: Option<String>,
    pub response_status: Option<i32>,
    pub response_body: Option<String>,
    pub callback_url: Option<String>,
    pub claimed_until: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

pub struct NewRequest<'a> {
    pub caller: &'a str,
    pub merchant_id: Option<i64>,
    pub correlation_id: &'a str,
    pub fingerprint: &'a str,
    pub operation: &'a str,
    pub command: Option<String>,
    pub context: String,
    pub callback_url: Option<&'a str>,
    /// The creator works on it at once; others leave it alone until then.
    pub claimed_until: i64,
    pub now: Timestamp,
}

/// What reserving a correlation id found.
pub enum Reserved {
    New(RequestRow),
    /// The same request again: its row, however far it got.
    Repeat(RequestRow),
    /// The correlation id was used for a different request.
    Conflict,
}

fn by_correlation(
    conn: &mut AnyConnection,
    caller: &str,
    correlation_id: &str,
) -> Result<Option<RequestRow>, StoreError> {
    Ok(with_conn!(&mut *conn, |c| gsma_requests::table
        .filter(gsma_requests::caller.eq(caller))
        .filter(gsma_requests::correlation_id.eq(correlation_id))
        .select(RequestRow::as_select())
        .first(c)
        .optional())?)
}

pub fn by_id(conn: &mut AnyConnection, id: i64) -> Result<Option<RequestRow>, StoreError> {
    Ok(with_conn!(&mut *conn, |c| gsma_requests::table
        .find(id)
        .select(RequestRow::as_select())
        .first(c)
        .optional())?)
}

/// A caller's request by its serverCorrelationId.
pub fn by_server_id(
    conn: &mut AnyConnection,
    caller: &str,
    server_id: &str,
) -> Result<Option<RequestRow>, StoreError> {
    Ok(with_conn!(&mut *conn, |c| gsma_requests::table
        .filter(gsma_requests::server_correlation_id.eq(server_id))
        .filter(gsma_requests::caller.eq(caller))
        .select(RequestRow::as_select())
        .first(c)
        .optional())?)
}

/// Reserves the correlation id (call inside a write transaction when more rows go with it).
pub fn reserve(conn: &mut AnyConnection, new: &NewRequest<'_>) -> Result<Reserved, StoreError> {
    let same = |row: RequestRow| {
        if row.fingerprint == new.fingerprint {
            Reserved::Repeat(row)
        } else {
            Reserved::Conflict
        }
    };
    if let Some(row) = by_correlation(conn, new.caller, new.correlation_id)? {
        return Ok(same(row));
    }
    let server_id = crate::gsma::new_uuid();
    let inserted = with_conn!(&mut *conn, |c| diesel::insert_into(gsma_requests::table)
        .values((
            gsma_requests::server_correlation_id.eq(&server_id),
            gsma_requests::caller.eq(new.caller),
            gsma_requests::merchant_id.eq(new.merchant_id),
            gsma_requests::correlation_id.eq(Some(new.correlation_id)),
            gsma_requests::fingerprint.eq(new.fingerprint),
            gsma_requests::operation.eq(new.operation),
            gsma_requests::status.eq("pending"),
            gsma_requests::command.eq(new.command.as_deref()),
            gsma_requests::context.eq(&new.context),
            gsma_requests::callback_url.eq(new.callback_url),
            gsma_requests::claimed_until.eq(Some(new.claimed_until)),
            gsma_requests::created_at.eq(new.now.0),
            gsma_requests::updated_at.eq(new.now.0),
        ))
        .on_conflict_do_nothing()
        .execute(c))?;
    // Lost a race with the same correlation id: answer as a repeat (or a conflict).
    let row = by_correlation(conn, new.caller, new.correlation_id)?
        .ok_or_else(|| StoreError::Conflict("request state vanished".into()))?;
    Ok(if inserted == 1 {
        Reserved::New(row)
    } else {
        same(row)
    })
}

/// Links what the request created (a payment request, an allowance) and what it is called.
pub fn link(
    conn: &mut AnyConnection,
    id: i64,
    payment_request_id: Option<i64>,
    allowance_id: Option<i64>,
    object_reference: Option<&str>,
) -> Result<(), StoreError> {
    with_conn!(&mut *conn, |c| diesel::update(
        gsma_requests::table.find(id)
    )
    .set((
        gsma_requests::payment_request_id.eq(payment_request_id),
        gsma_requests::allowance_id.eq(allowance_id),
        gsma_requests::object_reference.eq(object_reference),
    ))
    .execute(c))?;
    Ok(())
}

/// Takes a pending request for `lease_until`; `false` if another worker has it or it is final.
pub fn claim(
    conn: &mut AnyConnection,
    id: i64,
    now: i64,
    lease_until: i64,
) -> Result<bool, StoreError> {
    let updated = with_conn!(&mut *conn, |c| diesel::update(
        gsma_requests::table
            .filter(gsma_requests::id.eq(id))
            .filter(gsma_requests::status.eq("pending"))
            .filter(
                gsma_requests::claimed_until
                    .is_null()
                    .or(gsma_requests::claimed_until.lt(now))
            )
    )
    .set(gsma_requests::claimed_until.eq(Some(lease_until)))
    .execute(c))?;
    Ok(updated == 1)
}

/// Requests with a ledger command to run that nobody is working on, oldest first.
pub fn due_commands(
    conn: &mut AnyConnection,
    now: i64,
    limit: i64,
) -> Result<Vec<RequestRow>, StoreError> {
    Ok(with_conn!(&mut *conn, |c| gsma_requests::table
        .filter(gsma_requests::status.eq("pending"))
        .filter(gsma_requests::command.is_not_null())
        .filter(
            gsma_requests::claimed_until
                .is_null()
                .or(gsma_requests::claimed_until.lt(now))
        )
        .order(gsma_requests::id)
        .limit(limit)
        .select(RequestRow::as_select())
        .load(c))?)
}

/// Pending requests whose payment request the customer has answered (or let lapse).
pub fn answered_approvals(
    conn: &mut AnyConnection,
    limit: i64,
) -> Result<Vec<(RequestRow, PaymentRequestRow)>, StoreError> {
    Ok(with_conn!(&mut *conn, |c| gsma_requests::table
        .inner_join(
            payment_requests::table.on(payment_requests::id
                .nullable()
                .eq(gsma_requests::payment_request_id))
        )
        .filter(gsma_requests::status.eq("pending"))
        .filter(payment_requests::status.ne("pending"))
        .order(gsma_requests::id)
        .limit(limit)
        .select((RequestRow::as_select(), PaymentRequestRow::as_select()))
        .load(c))?)
}

/// Pending requests whose mandate the customer has answered (or let lapse).
pub fn answered_mandates(
    conn: &mut AnyConnection,
    limit: i64,
) -> Result<Vec<(RequestRow, AllowanceRow)>, StoreError> {
    Ok(with_conn!(&mut *conn, |c| gsma_requests::table
        .inner_join(allowances::table.on(allowances::id.nullable().eq(gsma_requests::allowance_id)))
        .filter(gsma_requests::status.eq("pending"))
        .filter(allowances::status.ne("requested"))
        .order(gsma_requests::id)
        .limit(limit)
        .select((RequestRow::as_select(), AllowanceRow::as_select()))
        .load(c))?)
}

/// How a request ended.
pub struct Final {
    pub completed: bool,
    pub object_reference: Option<String>,
    pub response_status: u16,
    pub body: Value,
}

impl Final {
    pub fn failed(error: &GsmaError, now: Timestamp) -> Final {
        Final {
            completed: false,
            object_reference: None,
            response_status: error.status().as_u16(),
            body: error.body(now),
        }
    }
}

/// Records the final state once (a second finisher changes nothing) and, in the same database
/// transaction, queues the callback the caller asked for. Returns the row as it now stands.
pub fn finish(
    conn: &mut AnyConnection,
    row: &RequestRow,
    outcome: &Final,
    now: Timestamp,
    callback_deadline_seconds: i64,
) -> Result<RequestRow, StoreError> {
    let body = outcome.body.to_string();
    write_transaction(conn, |conn| {
        let updated = with_conn!(&mut *conn, |c| diesel::update(
            gsma_requests::table
                .filter(gsma_requests::id.eq(row.id))
                .filter(gsma_requests::status.eq("pending"))
        )
        .set((
            gsma_requests::status.eq(if outcome.completed {
                "completed"
            } else {
                "failed"
            }),
            gsma_requests::object_reference.eq(outcome
                .object_reference
                .as_deref()
                .or(row.object_reference.as_deref())),
            gsma_requests::response_status.eq(Some(i32::from(outcome.response_status))),
            gsma_requests::response_body.eq(Some(&body)),
            gsma_requests::claimed_until.eq(None::<i64>),
            gsma_requests::updated_at.eq(now.0),
        ))
        .execute(c))?;
        if let (1, Some(url)) = (updated, row.callback_url.as_deref()) {
            with_conn!(&mut *conn, |c| diesel::insert_into(gsma_callbacks::table)
                .values((
                    gsma_callbacks::request_id.eq(row.id),
                    gsma_callbacks::merchant_id.eq(row.merchant_id),
                    gsma_callbacks::url.eq(url),
                    gsma_callbacks::correlation_id.eq(row.correlation_id.as_deref()),
                    gsma_callbacks::payload.eq(&body),
                    gsma_callbacks::status.eq("queued"),
                    gsma_callbacks::next_attempt_at.eq(now.0),
                    gsma_callbacks::deadline_at
                        .eq(now.saturating_add_seconds(callback_deadline_seconds).0),
                    gsma_callbacks::created_at.eq(now.0),
                ))
                .execute(c))?;
        }
        by_id(conn, row.id)?.ok_or_else(|| StoreError::Conflict("request state vanished".into()))
    })
}

/// The spec's `requestStateObject` for a request.
pub fn state(row: &RequestRow) -> Value {
    let mut map = Map::new();
    map.insert(
        "serverCorrelationId".into(),
        json!(row.server_correlation_id),
    );
    map.insert("status".into(), json!(row.status));
    map.insert(
        "notificationMethod".into(),
        json!(if row.callback_url.is_some() {
            "callback"
        } else {
            "polling"
        }),
    );
    if let Some(reference) = &row.object_reference {
        map.insert("objectReference".into(), json!(reference));
    }
    match row.status.as_str() {
        "pending" => {
            let reason = match (row.payment_request_id, row.allowance_id) {
                (Some(_), _) => "Waiting for the customer to approve with their PIN.",
                (None, Some(_)) => "Waiting for the customer to grant the mandate with their PIN.",
                (None, None) => "Being processed.",
            };
            map.insert("pendingReason".into(), json!(reason));
        }
        "failed" => {
            let error = row
                .response_body
                .as_deref()
                .and_then(|b| serde_json::from_str::<Value>(b).ok())
                .filter(|v| v.get("errorCategory").is_some());
            if let Some(error) = error {
                map.insert("error".into(), error);
            }
        }
        _ => {}
    }
    Value::Object(map)
}
