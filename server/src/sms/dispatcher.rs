//! Sends what the outbox holds. Each round first turns waiting confirmations into messages
//! (`sms::due`), then claims due messages (a lease, so several processes can
//! dispatch at once without sending a message twice), sends them with bounded concurrency, and
//! records the outcomes, several to a commit. Failures retry with exponential backoff and jitter,
//! honouring the provider's `Retry-After`, until the message's deadline; permanent refusals stop
//! at once.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::task::{JoinHandle, JoinSet};

use crate::config::SmsConfig;
use crate::sms::due;
use crate::sms::notify::NotifyConfig;
use crate::sms::outbox::{self, Attempt, OutboxRow};
use crate::sms::provider::{Provider, SendOutcome};
use crate::store::writer::Clock;
use crate::store::{checkout, Pool, StoreError};

pub struct Dispatcher {
    pool: Pool,
    provider: Arc<Provider>,
    config: SmsConfig,
    /// How waiting confirmations become messages.
    notify: Arc<NotifyConfig>,
    clock: Arc<dyn Clock>,
    /// `dispatch_concurrency_max` slots, shared by every round of this dispatcher (rounds
    /// overlap: see `spawn`). A message holds one from its send until its outcome is committed.
    slots: Arc<Semaphore>,
    /// One commit of outcomes under way at a time, whichever round they come from: what finishes
    /// meanwhile waits and goes in the next, so groups grow with the load. On PostgreSQL at
    /// concurrency 64 this cost 116-133 us of server CPU per message against 185-196 with four
    /// commits side by side (smaller groups), and dispatched faster (`mkoba-bench sms`); SQLite
    /// has one writer anyway.
    commits: Arc<Semaphore>,
}

/// When to try again after `attempts` failures: doubling from the base, capped, with "equal
/// jitter" (half fixed, half random) so that a provider outage does not end in a thundering herd.
pub fn backoff_ms(attempts: i32, base_ms: u64, max_ms: u64, retry_after: Option<Duration>) -> u64 {
    let exponent = u32::try_from(attempts.clamp(0, 30)).unwrap_or(30);
    let ceiling = base_ms
        .saturating_mul(1_u64 << exponent.min(20))
        .min(max_ms);
    let jittered = ceiling / 2 + rand::thread_rng().gen_range(0..=ceiling / 2);
    let asked = retry_after.map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    jittered.max(asked).min(max_ms.max(asked))
}

/// A claimed batch whose messages have each been handed a slot; the last of them may still be in
/// flight, and their outcomes not yet committed.
struct Round {
    count: usize,
    /// Until when the round's claim holds: from then on its unrecorded messages are due again.
    lease_until: i64,
    sends: JoinSet<()>,
    recorder: Option<JoinHandle<()>>,
}

impl Round {
    /// Waits until every message of the round has been sent and its outcome committed.
    async fn finish(mut self) -> Result<(), StoreError> {
        while self.sends.join_next().await.is_some() {}
        match self.recorder.take() {
            Some(recorder) => recorder.await.map_err(|e| StoreError::Io(e.to_string())),
            None => Ok(()),
        }
    }
}

impl Dispatcher {
    pub fn new(
        pool: Pool,
        provider: Arc<Provider>,
        config: SmsConfig,
        notify: NotifyConfig,
        clock: Arc<dyn Clock>,
    ) -> Dispatcher {
        let slots = Arc::new(Semaphore::new(config.dispatch_concurrency_max));
        Dispatcher {
            pool,
            provider,
            config,
            notify: Arc::new(notify),
            clock,
            slots,
            commits: Arc::new(Semaphore::new(1)),
        }
    }

    fn micros(ms: u64) -> i64 {
        i64::try_from(ms)
            .unwrap_or(i64::MAX / 1_000)
            .saturating_mul(1_000)
    }

    /// One round: claim, send, record. Returns how many messages were attempted, all of them
    /// recorded by the time it returns.
    pub async fn dispatch_once(&self) -> Result<usize, StoreError> {
        let round = self.start_round(self.clock.now().0).await?;
        let count = round.count;
        round.finish().await?;
        Ok(count)
    }

    /// Claims a batch and hands each message a slot as one frees up; returns once the last one
    /// has started.
    ///
    /// Outcomes are committed in groups: whatever finished while the previous commit was under
    /// way goes in the next (one sync to disk for many messages, where one each made the disk the
    /// limit). A message keeps its slot until its outcome is committed, so no more than
    /// `dispatch_concurrency_max` messages are ever sent but unrecorded: a crash re-sends at most
    /// that many, exactly as when each outcome had a commit of its own.
    async fn start_round(&self, now: i64) -> Result<Round, StoreError> {
        let lease_until = now.saturating_add(Self::micros(self.config.dispatch_lease_ms));
        let limit = self.config.dispatch_batch_max;
        let pool = self.pool.clone();
        let notify = Arc::clone(&self.notify);
        let claimed = crate::store::blocking(move || {
            let mut conn = checkout(&pool)?;
            // As many confirmations as messages claimed, each one or two messages: expansion
            // keeps ahead of sending. A failure here must not hold up what is already queued.
            let confirmations = usize::try_from(limit).unwrap_or(1);
            if let Err(err) = due::expand(&mut conn, &notify, confirmations) {
                tracing::warn!(error = %err, "expanding waiting confirmations failed");
            }
            outbox::claim_due(&mut conn, now, lease_until, limit)
        })
        .await?;
        let count = claimed.len();
        let mut round = Round {
            count,
            lease_until,
            sends: JoinSet::new(),
            recorder: None,
        };
        if count == 0 {
            return Ok(round);
        }
        let (outcomes, pending) = mpsc::unbounded_channel();
        round.recorder = Some(tokio::spawn(record_outcomes(
            self.pool.clone(),
            pending,
            self.config.dispatch_concurrency_max,
            Arc::clone(&self.commits),
        )));
        for row in claimed {
            let slot = Arc::clone(&self.slots)
                .acquire_owned()
                .await
                .map_err(|e| StoreError::Io(e.to_string()))?;
            let provider = Arc::clone(&self.provider);
            let clock = Arc::clone(&self.clock);
            let config = self.config.clone();
            let outcomes = outcomes.clone();
            round.sends.spawn(async move {
                let attempt = attempt(&provider, &row, &config, clock.now().0).await;
                if let Some(m) = crate::metrics::get() {
                    let outcome = match &attempt {
                        Attempt::Sent { .. } => "sent",
                        Attempt::RetryAt { .. } => "retry",
                        Attempt::Failed { .. } => "failed",
                    };
                    m.sms_sent.with_label_values(&[outcome]).inc();
                }
                // The recorder runs until every sender of the round is gone: this cannot fail.
                let _ = outcomes.send(Pending {
                    id: row.id,
                    attempt,
                    at: clock.now().0,
                    slot,
                });
            });
        }
        Ok(round)
    }

    /// Runs rounds until the process ends, resting between empty rounds. The next round is
    /// claimed while the last messages of the one before are still in flight, so the claim's
    /// commit does not leave every slot idle; the shared slots keep the two rounds together
    /// within `dispatch_concurrency_max`. Only while the earlier round's claim holds, though:
    /// once its lease has lapsed its unrecorded messages are due again, and claiming them would
    /// send them twice from this very dispatcher.
    pub fn spawn(self) {
        tokio::spawn(async move {
            let idle = Duration::from_millis(self.config.dispatch_poll_interval_ms);
            let mut previous: Option<Round> = None;
            loop {
                let mut now = self.clock.now().0;
                if previous.as_ref().is_some_and(|r| now >= r.lease_until) {
                    if let Some(round) = previous.take() {
                        if let Err(e) = round.finish().await {
                            tracing::warn!(error = %e, "SMS dispatch round failed");
                        }
                    }
                    now = self.clock.now().0;
                }
                let started = self.start_round(now).await;
                if let Some(round) = previous.take() {
                    if let Err(e) = round.finish().await {
                        tracing::warn!(error = %e, "SMS dispatch round failed");
                    }
                }
                match started {
                    Ok(round) if round.count == 0 => tokio::time::sleep(idle).await,
                    Ok(round) => previous = Some(round),
                    Err(e) => {
                        tracing::warn!(error = %e, "SMS dispatch round failed");
                        tokio::time::sleep(idle).await;
                    }
                }
            }
        });
    }
}

/// An outcome waiting for its commit, holding its message's concurrency slot until then.
struct Pending {
    id: i64,
    attempt: Attempt,
    at: i64,
    slot: OwnedSemaphorePermit,
}

/// Commits outcomes as they come: all that are waiting (at most `group_max`) in one transaction,
/// as soon as the dispatcher's commit is free; the slots a group held are freed once it is
/// committed. Ends when every sender of the round is gone and every commit is done.
async fn record_outcomes(
    pool: Pool,
    mut pending: mpsc::UnboundedReceiver<Pending>,
    group_max: usize,
    commits: Arc<Semaphore>,
) {
    let group_max = group_max.max(1);
    let mut running = JoinSet::new();
    let mut group = Vec::with_capacity(group_max);
    // Waits for the first outcome, then takes every one already waiting. The commit is taken only
    // then, never held while waiting: the outcomes that would free it may need its slots.
    while pending.recv_many(&mut group, group_max).await > 0 {
        let Ok(commit) = Arc::clone(&commits).acquire_owned().await else {
            break;
        };
        // What finished while the commit was awaited goes in it too.
        while group.len() < group_max {
            match pending.try_recv() {
                Ok(p) => group.push(p),
                Err(_) => break,
            }
        }
        let (outcomes, slots): (Vec<_>, Vec<_>) = group
            .drain(..)
            .map(|p| ((p.id, p.attempt, p.at), p.slot))
            .unzip();
        let pool = pool.clone();
        running.spawn(async move {
            let recorded = crate::store::blocking(move || commit_outcomes(&pool, &outcomes)).await;
            // Unrecorded, the lease lapses and the message is sent again: logged loudly.
            if let Err(e) = recorded {
                tracing::error!(error = %e, "could not record SMS outcomes");
            }
            drop(commit);
            drop(slots);
        });
    }
    while running.join_next().await.is_some() {}
}

fn commit_outcomes(pool: &Pool, outcomes: &[(i64, Attempt, i64)]) -> Result<(), StoreError> {
    let mut conn = checkout(pool)?;
    match outbox::record_all(&mut conn, outcomes) {
        Ok(()) => Ok(()),
        // One at a time, so that whatever can be recorded is.
        Err(group_error) => {
            tracing::warn!(error = %group_error, messages = outcomes.len(),
                "recording a group of SMS outcomes failed; recording them one by one");
            let mut last = Ok(());
            for (id, attempt, at) in outcomes {
                if let Err(e) = outbox::record(&mut conn, *id, attempt, *at) {
                    last = Err(e);
                }
            }
            last
        }
    }
}

async fn attempt(provider: &Provider, row: &OutboxRow, config: &SmsConfig, now: i64) -> Attempt {
    if now > row.deadline_at {
        return Attempt::Failed {
            error: "deadline passed before the message could be sent".into(),
        };
    }
    let body = match row.text() {
        Ok(body) => body,
        Err(reason) => {
            return Attempt::Failed {
                error: format!("unreadable parameters: {reason}"),
            }
        }
    };
    let started = std::time::Instant::now();
    let outcome = provider.send(row.id, &row.recipient, &body).await;
    if let Some(m) = crate::metrics::get() {
        m.sms_send_seconds.observe(started.elapsed().as_secs_f64());
    }
    match outcome {
        SendOutcome::Accepted {
            provider_message_id,
        } => Attempt::Sent {
            provider: provider.name().to_owned(),
            provider_message_id,
            delivered: matches!(provider, Provider::Development),
        },
        SendOutcome::Permanent { reason } => Attempt::Failed { error: reason },
        SendOutcome::Retry { after, reason } => {
            let wait_ms = backoff_ms(
                row.attempts,
                config.retry_base_ms,
                config.retry_max_ms,
                after,
            );
            let at = now.saturating_add(Dispatcher::micros(wait_ms));
            if at > row.deadline_at {
                Attempt::Failed {
                    error: format!("deadline reached; last error: {reason}"),
                }
            } else {
                Attempt::RetryAt { at, error: reason }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_honours_retry_after() {
        for attempts in 0..8 {
            let ceiling = (1_000_u64 << attempts).min(60_000);
            for _ in 0..50 {
                let wait = backoff_ms(attempts, 1_000, 60_000, None);
                assert!(wait >= ceiling / 2 && wait <= ceiling, "{attempts}: {wait}");
            }
        }
        assert_eq!(
            backoff_ms(0, 1_000, 60_000, Some(Duration::from_secs(30))),
            30_000
        );
        assert!(backoff_ms(40, 1_000, 60_000, None) <= 60_000);
    }
}
