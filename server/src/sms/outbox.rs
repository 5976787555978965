//! The outbox table: claim due messages, record what the provider said, take delivery reports.
//!
//! A claim sets `status = 'sending'` and a lease (`claimed_until`). A dispatcher that dies holding
//! a claim simply lets the lease run out; the message is claimed again and re-sent. That is the one
//! case where a message can go twice: the crash fell between the provider's accept and our record.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use serde::Serialize;

use crate::sms::notify::{NewOutboxRow, NotifyConfig};
use crate::sms::parameters::{from_parameters, UnreadableParameters};
use crate::sms::templates::{Language, Message};
use crate::store::cached::cached;
use crate::store::db::{write_transaction, AnyConnection};
use crate::store::schema::sms_outbox;
use crate::store::StoreError;
use crate::with_conn;
use mkoba_ledger::Timestamp;

/// An outbox row as the table holds it: a rendered body, or the parameters of a confirmation
/// (`sms::parameters`); [`OutboxRow::text`] gives its text either way.
#[derive(Clone, Debug, Queryable, Selectable, QueryableByName, Serialize)]
#[diesel(table_name = sms_outbox)]
pub struct OutboxRow {
    pub id: i64,
    pub recipient: String,
    pub body: Option<String>,
    pub params: Option<String>,
    pub template: String,
    pub language: String,
    pub transaction_id: Option<i64>,
    pub promotional: bool,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub claimed_until: Option<i64>,
    pub deadline_at: i64,
    pub provider: Option<String>,
    pub provider_message_id: Option<String>,
    pub last_error: Option<String>,
    /// Counted with a body; `None` for parameters.
    pub segments: Option<i32>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
    pub delivered_at: Option<i64>,
}

impl OutboxRow {
    /// The message's text: its body, or its parameters rendered in its language. An error means
    /// the parameters cannot be read back; the dispatcher fails such a message rather than send
    /// a wrong or empty text.
    pub fn text(&self) -> Result<String, UnreadableParameters> {
        match (&self.body, &self.params) {
            (Some(body), _) => Ok(body.clone()),
            (None, Some(params)) => {
                let language = Language::from_code(&self.language).unwrap_or(Language::En);
                Ok(from_parameters(&self.template, params)?.render(language))
            }
            // The table's CHECK refuses such a row; named all the same.
            (None, None) => Err(UnreadableParameters::Missing),
        }
    }
}

/// Queues one message outside a ledger batch (welcome, PIN reset, replies to inbound SMS).
pub fn enqueue(
    conn: &mut AnyConnection,
    cfg: &NotifyConfig,
    recipient: &str,
    message: &Message,
    language: Language,
    now: Timestamp,
) -> Result<(), StoreError> {
    let row = NewOutboxRow::new(recipient, message, language, None, now, cfg);
    with_conn!(conn, |c| diesel::insert_into(sms_outbox::table)
        .values(&row)
        .execute(c))?;
    Ok(())
}

/// Claims up to `limit` messages that are due (or whose claim lapsed) until `lease_until`.
pub fn claim_due(
    conn: &mut AnyConnection,
    now: i64,
    lease_until: i64,
    limit: i64,
) -> Result<Vec<OutboxRow>, StoreError> {
    match conn {
        AnyConnection::Postgres(c) => {
            // SKIP LOCKED lets several dispatchers claim disjoint rows without waiting on each other.
            let rows = diesel::sql_query(
                "UPDATE sms_outbox SET status = 'sending', claimed_until = $1 \
                 WHERE id IN (SELECT id FROM sms_outbox \
                   WHERE (status = 'queued' AND next_attempt_at <= $2) \
                      OR (status = 'sending' AND claimed_until < $2) \
                   ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
                 RETURNING *",
            )
            .bind::<BigInt, _>(lease_until)
            .bind::<BigInt, _>(now)
            .bind::<BigInt, _>(limit)
            .load::<OutboxRow>(c)?;
            Ok(rows)
        }
        AnyConnection::Sqlite(_) => write_transaction(conn, |conn| {
            // BEGIN IMMEDIATE holds the database's write lock: no other process can claim
            // meanwhile. The ledger writer waits for that lock too: rows are rendered (by the
            // dispatcher) only once it is released.
            let due = sms_outbox::status
                .eq("queued")
                .and(sms_outbox::next_attempt_at.le(now))
                .or(sms_outbox::status
                    .eq("sending")
                    .and(sms_outbox::claimed_until.lt(now)));
            // The partial index `sms_outbox_due` holds only open messages; SQLite uses it only when
            // the query repeats the index's own condition word for word (literals, not parameters).
            // Without it every claim scans the whole outbox, sent history included, under the
            // write lock.
            let open =
                diesel::dsl::sql::<diesel::sql_types::Bool>("status IN ('queued', 'sending')");
            let ids: Vec<i64> = with_conn!(&mut *conn, |c| sms_outbox::table
                .filter(open)
                .filter(due)
                .order(sms_outbox::next_attempt_at)
                .limit(limit)
                .select(sms_outbox::id)
                .load(c))?;
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            with_conn!(&mut *conn, |c| diesel::update(
                sms_outbox::table.filter(sms_outbox::id.eq_any(&ids))
            )
            .set((
                sms_outbox::status.eq("sending"),
                sms_outbox::claimed_until.eq(Some(lease_until))
            ))
            .execute(c))?;
            Ok(with_conn!(&mut *conn, |c| sms_outbox::table
                .filter(sms_outbox::id.eq_any(&ids))
                .order(sms_outbox::next_attempt_at)
                .select(OutboxRow::as_select())
                .load(c))?)
        }),
    }
}

/// What became of one attempt, to be written back to the row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attempt {
    Sent {
        provider: String,
        provider_message_id: String,
        delivered: bool,
    },
    RetryAt {
        at: i64,
        error: String,
    },
    Failed {
        error: String,
    },
}

fn truncated(error: &str) -> String {
    error.chars().take(500).collect()
}

pub fn record(
    conn: &mut AnyConnection,
    id: i64,
    attempt: &Attempt,
    now: i64,
) -> Result<(), StoreError> {
    let row = sms_outbox::table
        .filter(sms_outbox::id.eq(id))
        .filter(sms_outbox::status.eq("sending"));
    with_conn!(conn, |c| match attempt {
        Attempt::Sent {
            provider,
            provider_message_id,
            delivered,
        } => cached(
            diesel::update(row)
                .set((
                    sms_outbox::status.eq(if *delivered { "delivered" } else { "sent" }),
                    sms_outbox::attempts.eq(sms_outbox::attempts + 1),
                    sms_outbox::provider.eq(Some(provider)),
                    sms_outbox::provider_message_id.eq(Some(provider_message_id)),
                    sms_outbox::sent_at.eq(Some(now)),
                    sms_outbox::delivered_at.eq(if *delivered { Some(now) } else { None }),
                    sms_outbox::claimed_until.eq(None::<i64>),
                ))
                .returning(sms_outbox::id)
        )
        .load::<i64>(c)
        .map(|updated| updated.len()),
        Attempt::RetryAt { at, error } => diesel::update(row)
            .set((
                sms_outbox::status.eq("queued"),
                sms_outbox::attempts.eq(sms_outbox::attempts + 1),
                sms_outbox::next_attempt_at.eq(*at),
                sms_outbox::last_error.eq(Some(truncated(error))),
                sms_outbox::claimed_until.eq(None::<i64>),
            ))
            .execute(c),
        Attempt::Failed { error } => diesel::update(row)
            .set((
                sms_outbox::status.eq("failed"),
                sms_outbox::attempts.eq(sms_outbox::attempts + 1),
                sms_outbox::last_error.eq(Some(truncated(error))),
                sms_outbox::claimed_until.eq(None::<i64>),
            ))
            .execute(c),
    })?;
    Ok(())
}

/// Records many attempts (`(id, attempt, when)`) in one transaction: one commit, so one sync to
/// disk, for all of them. Each row ends exactly as `record` would leave it (and, as there, a row no
/// longer `sending` is left alone). PostgreSQL takes them in one statement (one round trip);
/// SQLite, in-process, one statement per row.
pub fn record_all(
    conn: &mut AnyConnection,
    outcomes: &[(i64, Attempt, i64)],
) -> Result<(), StoreError> {
    if outcomes.is_empty() {
        return Ok(());
    }
    match conn {
        AnyConnection::Postgres(c) => {
            use diesel::sql_types::{Array, Nullable};
            let mut ids = Vec::with_capacity(outcomes.len());
            let mut statuses = Vec::with_capacity(outcomes.len());
            let mut ats = Vec::with_capacity(outcomes.len());
            let mut next_attempts = Vec::with_capacity(outcomes.len());
            let mut providers = Vec::with_capacity(outcomes.len());
            let mut message_ids = Vec::with_capacity(outcomes.len());
            let mut errors = Vec::with_capacity(outcomes.len());
            for (id, attempt, at) in outcomes {
                let (status, next, provider, message_id, error) = match attempt {
                    Attempt::Sent {
                        provider,
                        provider_message_id,
                        delivered,
                    } => (
                        if *delivered { "delivered" } else { "sent" },
                        None,
                        Some(provider.clone()),
                        Some(provider_message_id.clone()),
                        None,
                    ),
                    Attempt::RetryAt { at, error } => {
                        ("queued", Some(*at), None, None, Some(truncated(error)))
                    }
                    Attempt::Failed { error } => {
                        ("failed", None, None, None, Some(truncated(error)))
                    }
                };
                ids.push(*id);
                statuses.push(status);
                ats.push(*at);
                next_attempts.push(next);
                providers.push(provider);
                message_ids.push(message_id);
                errors.push(error);
            }
            diesel::sql_query(
                "UPDATE sms_outbox AS o SET \
                   status = v.status, \
                   attempts = o.attempts + 1, \
                   next_attempt_at = COALESCE(v.next_attempt_at, o.next_attempt_at), \
                   provider = COALESCE(v.provider, o.provider), \
                   provider_message_id = COALESCE(v.provider_message_id, o.provider_message_id), \
                   sent_at = CASE WHEN v.status IN ('sent', 'delivered') THEN v.at ELSE o.sent_at END, \
                   delivered_at = CASE WHEN v.status = 'delivered' THEN v.at \
                     WHEN v.status = 'sent' THEN NULL ELSE o.delivered_at END, \
                   last_error = COALESCE(v.last_error, o.last_error), \
                   claimed_until = NULL \
                 FROM unnest($1, $2, $3, $4, $5, $6, $7) \
                   AS v(id, status, at, next_attempt_at, provider, provider_message_id, last_error) \
                 WHERE o.id = v.id AND o.status = 'sending'",
            )
            .bind::<Array<BigInt>, _>(ids)
            .bind::<Array<Text>, _>(statuses)
            .bind::<Array<BigInt>, _>(ats)
            .bind::<Array<Nullable<BigInt>>, _>(next_attempts)
            .bind::<Array<Nullable<Text>>, _>(providers)
            .bind::<Array<Nullable<Text>>, _>(message_ids)
            .bind::<Array<Nullable<Text>>, _>(errors)
            .execute(c)?;
            Ok(())
        }
        AnyConnection::Sqlite(_) => write_transaction(conn, |conn| {
            for (id, attempt, now) in outcomes {
                record(conn, *id, attempt, *now)?;
            }
            Ok(())
        }),
    }
}

/// A provider's delivery report. `status` is already mapped to ours (`delivered`,
/// `undelivered`, `failed`, or `sent` for intermediate states). Returns whether a message matched.
pub fn delivery_report(
    conn: &mut AnyConnection,
    provider: &str,
    provider_message_id: &str,
    status: &str,
    error: Option<&str>,
    now: i64,
) -> Result<bool, StoreError> {
    let row = sms_outbox::table
        .filter(sms_outbox::provider.eq(provider))
        .filter(sms_outbox::provider_message_id.eq(provider_message_id))
        // A late "sent" must not overwrite a final state.
        .filter(sms_outbox::status.eq_any(["sent", "sending", "queued"]));
    let delivered_at = if status == "delivered" {
        Some(now)
    } else {
        None
    };
    let n = with_conn!(conn, |c| diesel::update(row)
        .set((
            sms_outbox::status.eq(status),
            sms_outbox::delivered_at.eq(delivered_at),
            sms_outbox::last_error.eq(error.map(truncated)),
        ))
        .execute(c))?;
    Ok(n > 0)
}

/// Rows [`for_recipient`] looks through, newest first.
pub const RECENT_ROWS_SCANNED: i64 = 100_000;

/// The newest messages to one number among the last [`RECENT_ROWS_SCANNED`] rows, newest first:
/// for the development inbox and tests. There is no index by number on purpose: every transfer
/// writes two outbox rows, and an index on a random key costs the ledger a random page for each.
pub fn for_recipient(
    conn: &mut AnyConnection,
    recipient: &str,
    limit: i64,
) -> Result<Vec<OutboxRow>, StoreError> {
    Ok(with_conn!(conn, |c| {
        let newest: Option<i64> = sms_outbox::table
            .select(diesel::dsl::max(sms_outbox::id))
            .get_result(c)?;
        let oldest = newest.unwrap_or(0).saturating_sub(RECENT_ROWS_SCANNED);
        sms_outbox::table
            .filter(sms_outbox::id.gt(oldest))
            .filter(sms_outbox::recipient.eq(recipient))
            .order(sms_outbox::id.desc())
            .limit(limit)
            .select(OutboxRow::as_select())
            .load(c)
    })?)
}

#[derive(QueryableByName)]
struct StatusCount {
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Messages per status, for tests, metrics and the operator.
pub fn counts(
    conn: &mut AnyConnection,
) -> Result<std::collections::BTreeMap<String, i64>, StoreError> {
    let rows: Vec<StatusCount> = with_conn!(conn, |c| diesel::sql_query(
        "SELECT status, COUNT(*) AS n FROM sms_outbox GROUP BY status"
    )
    .load(c))?;
    Ok(rows.into_iter().map(|r| (r.status, r.n)).collect())
}

/// Queues a copy of message `id` to go out again (the original stays as history). Returns the new
/// message's id, or `None` if there is no such message.
pub fn resend(
    conn: &mut AnyConnection,
    cfg: &NotifyConfig,
    id: i64,
    now: Timestamp,
) -> Result<Option<i64>, StoreError> {
    let original: Option<OutboxRow> = with_conn!(&mut *conn, |c| sms_outbox::table
        .find(id)
        .select(OutboxRow::as_select())
        .get_result(c)
        .optional())?;
    let Some(original) = original else {
        return Ok(None);
    };
    let copy = NewOutboxRow {
        recipient: original.recipient,
        body: original.body,
        params: original.params,
        template: original.template,
        language: original.language,
        transaction_id: original.transaction_id,
        promotional: original.promotional,
        status: "queued".into(),
        next_attempt_at: now.0,
        deadline_at: now.saturating_add_seconds(cfg.deadline_seconds).0,
        segments: original.segments,
        created_at: now.0,
    };
    let new_id: i64 = with_conn!(&mut *conn, |c| diesel::insert_into(sms_outbox::table)
        .values(&copy)
        .returning(sms_outbox::id)
        .get_result(c))?;
    Ok(Some(new_id))
}
