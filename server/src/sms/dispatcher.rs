//! Sends what the outbox holds. Each round claims due messages (a lease, so several processes can
//! dispatch at once without sending a message twice), sends them with bounded concurrency, and
//! records each outcome. Failures retry with exponential backoff and jitter, honouring the
//! provider's `Retry-After`, until the message's deadline; permanent refusals stop at once.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::config::SmsConfig;
use crate::sms::outbox::{self, Attempt, OutboxRow};
use crate::sms::provider::{Provider, SendOutcome};
use crate::store::writer::Clock;
use crate::store::{checkout, Pool, StoreError};

pub struct Dispatcher {
    pool: Pool,
    provider: Arc<Provider>,
    config: SmsConfig,
    clock: Arc<dyn Clock>,
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

impl Dispatcher {
    pub fn new(
        pool: Pool,
        provider: Arc<Provider>,
        config: SmsConfig,
        clock: Arc<dyn Clock>,
    ) -> Dispatcher {
        Dispatcher {
            pool,
            provider,
            config,
            clock,
        }
    }

    fn micros(ms: u64) -> i64 {
        i64::try_from(ms)
            .unwrap_or(i64::MAX / 1_000)
            .saturating_mul(1_000)
    }

    /// One round: claim, send, record. Returns how many messages were attempted.
    pub async fn dispatch_once(&self) -> Result<usize, StoreError> {
        let now = self.clock.now().0;
        let lease_until = now.saturating_add(Self::micros(self.config.dispatch_lease_ms));
        let limit = self.config.dispatch_batch_max;
        let pool = self.pool.clone();
        let claimed = crate::store::blocking(move || {
            outbox::claim_due(&mut *checkout(&pool)?, now, lease_until, limit)
        })
        .await?;
        let count = claimed.len();
        let permits = Arc::new(Semaphore::new(self.config.dispatch_concurrency_max));
        let mut tasks = JoinSet::new();
        for row in claimed {
            let permit = Arc::clone(&permits)
                .acquire_owned()
                .await
                .map_err(|e| StoreError::Io(e.to_string()))?;
            let provider = Arc::clone(&self.provider);
            let pool = self.pool.clone();
            let clock = Arc::clone(&self.clock);
            let config = self.config.clone();
            tasks.spawn(async move {
                let attempt = attempt(&provider, &row, &config, clock.now().0).await;
                if let Some(m) = crate::metrics::get() {
                    let outcome = match &attempt {
                        Attempt::Sent { .. } => "sent",
                        Attempt::RetryAt { .. } => "retry",
                        Attempt::Failed { .. } => "failed",
                    };
                    m.sms_sent.with_label_values(&[outcome]).inc();
                }
                let now = clock.now().0;
                let recorded = crate::store::blocking(move || {
                    outbox::record(&mut *checkout(&pool)?, row.id, &attempt, now)
                })
                .await;
                drop(permit);
                match recorded {
                    Ok(()) => {}
                    // Unrecorded, the lease lapses and the message is sent again: logged loudly.
                    Err(e) => tracing::error!(error = %e, "could not record an SMS outcome"),
                }
            });
        }
        while tasks.join_next().await.is_some() {}
        Ok(count)
    }

    /// Runs rounds until the process ends, resting between empty rounds.
    pub fn spawn(self) {
        tokio::spawn(async move {
            let idle = Duration::from_millis(self.config.dispatch_poll_interval_ms);
            loop {
                match self.dispatch_once().await {
                    Ok(0) => tokio::time::sleep(idle).await,
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "SMS dispatch round failed");
                        tokio::time::sleep(idle).await;
                    }
                }
            }
        });
    }
}

async fn attempt(provider: &Provider, row: &OutboxRow, config: &SmsConfig, now: i64) -> Attempt {
    if now > row.deadline_at {
        return Attempt::Failed {
            error: "deadline passed before the message could be sent".into(),
        };
    }
    let started = std::time::Instant::now();
    let outcome = provider.send(row.id, &row.recipient, &row.body).await;
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
