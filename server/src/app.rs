//! Start-up: configuration → database (migrated) → system accounts → ledger writer. The same
//! `App` serves HTTP, runs admin commands and backs the tests.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use diesel::prelude::*;
use mkoba_ledger::{Command, Currency, TxnCodes, TxnId, VoidReason};
use phonenumber::country::Id;

use crate::config::{Config, Secret};
use crate::secrets::{random_token, Hasher};
use crate::sms::dispatcher::Dispatcher;
use crate::sms::notify::NotifyConfig;
use crate::sms::provider::Provider;
use crate::sms::templates::Language;
use crate::store::batch::LedgerContext;
use crate::store::parties::{ensure_system_accounts, SystemAccounts};
use crate::store::schema::pending_transfers;
use crate::store::writer::{Clock, LedgerWriter, WriterConfig, WriterThreads};
use crate::store::{checkout, db, Backend, ConnectionOptions, DatabaseUrl, Pool, StoreError};
use crate::with_conn;

pub struct App {
    pub config: Config,
    pub url: DatabaseUrl,
    pub pool: Pool,
    pub writer: LedgerWriter,
    pub ledger: Arc<LedgerContext>,
    pub clock: Arc<dyn Clock>,
    pub hasher: Hasher,
    pub admin_token: Secret,
    pub country: Id,
    pub system: BTreeMap<Currency, SystemAccounts>,
    pub notify: NotifyConfig,
    pub sms: Arc<Provider>,
    pub ussd_engine: mkoba_ussd::engine::EngineConfig,
    pub ussd_token: Secret,
    /// Saves USSD sessions in batches (see `ussd::session`).
    pub sessions: crate::ussd::session::SessionWriter,
    pub merchant: crate::merchant::MerchantKeys,
}

impl App {
    pub fn backend(&self) -> Backend {
        self.url.backend()
    }

    pub fn start(
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<(Arc<App>, WriterThreads)> {
        let url = config.database_url().map_err(anyhow::Error::msg)?;
        let options = ConnectionOptions {
            url: url.clone(),
            busy_timeout_ms: config.database.busy_timeout_ms,
            statement_timeout_ms: config.database.statement_timeout_ms,
            sqlite_mmap_kib: config.database.sqlite_mmap_kib,
        };
        if url.backend() == Backend::Sqlite || config.database.migrate_on_start {
            let applied = options.migrate().context("applying migrations")?;
            if !applied.is_empty() {
                tracing::info!(migrations = ?applied, "applied migrations");
            }
        }
        let pool = db::build_pool(
            options.clone(),
            config.database.pool_size_max,
            config.database.connect_timeout_ms,
        )
        .context("opening the database pool")?;
        if url.backend() == Backend::Sqlite {
            // Process-wide: bounds the page caches of every connection (pool and writers) together.
            use diesel::connection::SimpleConnection;
            let bytes = u64::from(config.database.sqlite_memory_max_kib) * 1024;
            if let crate::store::AnyConnection::Sqlite(c) = &mut *checkout(&pool)? {
                c.batch_execute(&format!("PRAGMA soft_heap_limit = {bytes};"))
                    .context("setting SQLite's soft heap limit")?;
            }
        }
        let currencies: Vec<Currency> = config.ledger.rules.currencies.keys().copied().collect();
        let system = ensure_system_accounts(&mut *checkout(&pool)?, &currencies)
            .context("creating system accounts")?;
        let fee_revenue = system.iter().map(|(c, s)| (*c, s.fee_revenue)).collect();
        let country = crate::phone::country_id(&config.phone.default_country)
            .context("phone.default_country")?;
        let notify = NotifyConfig {
            low_float_minor: config.sms.low_float_minor,
            utc_offset_seconds: config.ledger.rules.utc_offset_seconds,
            default_language: Language::from_code(&config.sms.default_language)
                .unwrap_or(Language::En),
            deadline_seconds: config.sms.deadline_seconds,
            country,
        };
        let pepper = local_secret(&config.data_dir, "pepper", &config.security.pepper, 48)?;
        let hasher = Hasher::new(&config.security, pepper)?;
        let merchant = crate::merchant::MerchantKeys {
            api_key_hash_key: hasher.derive_key("mkoba/merchant-api-key/v1"),
            pseudonym_key: hasher.derive_key("mkoba/customer-pseudonym/v1"),
            limiter: crate::merchant::auth::RateLimiter::new(
                config.merchant_api.rate_per_second,
                config.merchant_api.rate_burst,
            ),
        };
        let mut ledger_context = LedgerContext::new(
            config.ledger.rules.clone(),
            TxnCodes::new(config.ledger.code_key),
            fee_revenue,
            true,
        );
        ledger_context.pseudonym_key = Some(merchant.pseudonym_key);
        if config.ledger.writer_threads > 1 {
            // One fee revenue account per writer thread, so their batches never queue on it.
            let mut conn = checkout(&pool)?;
            for currency in &currencies {
                let shards = crate::store::parties::fee_revenue_shards(
                    &mut conn,
                    *currency,
                    config.ledger.writer_threads,
                )
                .context("creating fee revenue shards")?;
                ledger_context.fee_revenue_shards.insert(*currency, shards);
            }
        }
        let ledger = Arc::new(ledger_context);
        let writer_config = WriterConfig {
            threads: config.ledger.writer_threads,
            batch_max: config.ledger.batch_max,
            queue_max: config.ledger.queue_max,
            reply_timeout_ms: config.ledger.reply_timeout_ms,
            reconnect_backoff_ms: config.ledger.reconnect_backoff_ms,
            checkpoint_interval_ms: config.ledger.checkpoint_interval_ms,
            sqlite_checkpoint_pages: config.ledger.sqlite_writer_checkpoint_pages,
            account_cache_max: config.ledger.sqlite_writer_account_cache_max,
            sqlite_cache_kib: config.ledger.sqlite_writer_cache_kib,
        };
        let session_options = options.clone();
        let (writer, threads) = LedgerWriter::start(
            options,
            Arc::clone(&ledger),
            Arc::clone(&clock),
            writer_config,
        )?;
        let admin_token = local_secret(
            &config.data_dir,
            "admin-token",
            &config.security.admin_token,
            32,
        )?;
        check_pepper(&mut *checkout(&pool)?, &hasher)?;
        let callback = if config.sms.twilio.status_callback_url.is_empty() {
            format!("{}/sms/twilio/status", config.public_url())
        } else {
            config.sms.twilio.status_callback_url.clone()
        };
        let sms =
            Arc::new(Provider::from_config(&config.sms, callback).map_err(anyhow::Error::msg)?);
        let ussd_engine = crate::ussd::engine_config(&config).map_err(anyhow::Error::msg)?;
        let ussd_token = local_secret(
            &config.data_dir,
            "ussd-token",
            &config.ussd.gateway_token,
            32,
        )?;
        let sessions = crate::ussd::session::SessionWriter::start(
            pool.clone(),
            session_options,
            config.ussd.session_batch_max,
            config.ussd.session_queue_max,
        )
        .context("starting the USSD session writer")?;
        let app = App {
            config,
            url,
            pool,
            writer,
            ledger,
            clock,
            hasher,
            admin_token,
            country,
            system,
            notify,
            sms,
            ussd_engine,
            ussd_token,
            sessions,
            merchant,
        };
        Ok((Arc::new(app), threads))
    }

    /// Voids every open pending transfer past its expiry, at most `limit` per call.
    pub async fn sweep_expired(&self, limit: i64) -> Result<usize, StoreError> {
        let now = self.clock.now().0;
        let pool = self.pool.clone();
        let due: Vec<i64> = crate::store::blocking(move || -> Result<Vec<i64>, StoreError> {
            let mut conn = checkout(&pool)?;
            Ok(with_conn!(&mut *conn, |c| pending_transfers::table
                .filter(pending_transfers::status.eq("open"))
                .filter(pending_transfers::expires_at.le(now))
                .order(pending_transfers::expires_at)
                .limit(limit)
                .select(pending_transfers::transaction_id)
                .load(c))?)
        })
        .await?;
        let mut expired = 0;
        for id in &due {
            // The key is derived from the pending transfer, so two sweepers (or two processes)
            // expiring the same one get the same answer instead of a second void.
            let command = Command::VoidPending {
                idempotency_key: format!("expire:{id}"),
                pending: TxnId(*id),
                reason: VoidReason::Expired,
            };
            if matches!(
                self.writer.submit(command).await?,
                mkoba_ledger::Outcome::Accepted(_)
            ) {
                expired += 1;
            }
        }
        Ok(expired)
    }

    /// Posts customer sends whose cancel window has closed. A pending customer-to-customer
    /// transfer is, by rule, a send in its cancel window: voided if the sender cancels, posted
    /// automatically once the window ends. The key derives from the pending transfer, so several
    /// processes doing this at once post it once.
    pub async fn post_closed_sends(&self, limit: i64) -> Result<usize, StoreError> {
        let window_us = self
            .config
            .ussd
            .cancel_window_seconds
            .saturating_mul(1_000_000);
        let cutoff = self.clock.now().0.saturating_sub(window_us);
        let pool = self.pool.clone();
        let due: Vec<i64> = crate::store::blocking(move || -> Result<Vec<i64>, StoreError> {
            use crate::store::schema::transactions;
            let mut conn = checkout(&pool)?;
            Ok(with_conn!(&mut *conn, |c| pending_transfers::table
                .inner_join(
                    transactions::table.on(transactions::id.eq(pending_transfers::transaction_id))
                )
                .filter(pending_transfers::status.eq("open"))
                .filter(pending_transfers::kind.eq(mkoba_ledger::TxnKind::Transfer.as_str()))
                .filter(transactions::created_at.le(cutoff))
                .order(pending_transfers::transaction_id)
                .limit(limit)
                .select(pending_transfers::transaction_id)
                .load(c))?)
        })
        .await?;
        let mut posted = 0;
        for id in due {
            let command = Command::PostPending {
                idempotency_key: format!("send-window:{id}"),
                pending: TxnId(id),
                amount_minor: None,
            };
            match self.writer.submit(command).await? {
                mkoba_ledger::Outcome::Accepted(_) => posted += 1,
                mkoba_ledger::Outcome::Replayed(_) => {}
                // A send that can no longer post (an account frozen meanwhile) waits for its expiry,
                // which returns the money to the sender.
                mkoba_ledger::Outcome::Rejected(r) => tracing::warn!(
                    pending = id,
                    rejection = r.name(),
                    "closed send could not post"
                ),
            }
        }
        Ok(posted)
    }

    /// Starts the SMS outbox dispatcher (in every process; claims keep them from colliding).
    pub fn spawn_dispatcher(&self) {
        Dispatcher::new(
            self.pool.clone(),
            Arc::clone(&self.sms),
            self.config.sms.clone(),
            self.notify.clone(),
            Arc::clone(&self.clock),
        )
        .spawn();
    }

    /// Runs the sweepers (closed send windows, expired reservations) until the process ends.
    pub fn spawn_sweeper(self: &Arc<Self>) {
        let app = Arc::clone(self);
        let interval = Duration::from_millis(app.config.ledger.expiry_sweep_interval_ms);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let limit = app.config.ledger.expiry_sweep_batch_max;
                match app.post_closed_sends(limit).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(posted = n, "posted sends whose cancel window closed"),
                    Err(err) => tracing::warn!(error = %err, "posting closed sends failed"),
                }
                let (pool, now) = (app.pool.clone(), app.clock.now().0);
                let purged = crate::store::blocking(move || {
                    crate::ussd::session::purge_expired(&mut *checkout(&pool)?, now)
                })
                .await;
                if let Err(err) = purged {
                    tracing::warn!(error = %err, "purging expired USSD sessions failed");
                }
                match app.sweep_expired(limit).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(expired = n, "voided expired pending transfers"),
                    Err(err) => tracing::warn!(error = %err, "expiry sweep failed"),
                }
            }
        });
    }
}

/// Refuses to start with a pepper other than the one this database's PINs were hashed with: a
/// changed pepper would make every correct PIN look wrong and lock wallets one by one.
fn check_pepper(conn: &mut crate::store::AnyConnection, hasher: &Hasher) -> anyhow::Result<()> {
    const NAME: &str = "pepper_check";
    const PROBE: &str = "mkoba pepper check";
    use crate::store::parties::{put_setting_if_absent, setting};
    if setting(conn, NAME)?.is_none() {
        put_setting_if_absent(conn, NAME, &hasher.hash(PROBE)?)?;
    }
    let stored = setting(conn, NAME)?.context("pepper check missing")?;
    anyhow::ensure!(
        hasher.verify(PROBE, &stored)?,
        "the configured pepper is not the one this database's PINs and passwords were hashed with; \
         set security.pepper (or MKOBA_SECURITY__PEPPER) to the original, or every PIN would fail"
    );
    Ok(())
}

/// A secret from configuration, or else one generated once into `<data_dir>/<name>` (mode 0600)
/// so that it survives restarts of a pilot install.
fn local_secret(
    data_dir: &Path,
    name: &str,
    configured: &Secret,
    len: usize,
) -> anyhow::Result<Secret> {
    if !configured.is_empty() {
        return Ok(configured.clone());
    }
    let path = data_dir.join(name);
    if let Ok(text) = std::fs::read_to_string(&path) {
        let text = text.trim().to_owned();
        anyhow::ensure!(
            text.len() >= 16,
            "{} is too short to be a secret",
            path.display()
        );
        return Ok(Secret::new(text));
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let value = random_token(len);
    write_private(&path, &value).with_context(|| format!("writing {}", path.display()))?;
    tracing::warn!(file = %path.display(), "generated a local {name}; production should configure it");
    Ok(Secret::new(value))
}

fn write_private(path: &Path, value: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(value.as_bytes())
}
