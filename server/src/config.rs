//! Typed configuration: built-in defaults, then an optional TOML file, then `MKOBA_…` environment
//! variables (`MKOBA_DATABASE__URL` sets `database.url`; `DATABASE_URL` is honoured too). Every
//! limit is checked against a bound before anything starts.

use std::fmt;
use std::path::{Path, PathBuf};

use mkoba_ledger::{Currency, LedgerRules};
use serde::{Deserialize, Serialize};

use crate::store::DatabaseUrl;

/// A secret from configuration: never printed by `Debug`, never logged.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() {
            "Secret(<unset>)"
        } else {
            "Secret(<redacted>)"
        })
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the embedded database, the generated pepper and other local state live.
    pub data_dir: PathBuf,
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub ledger: LedgerConfig,
    pub security: SecurityConfig,
    pub phone: PhoneConfig,
    pub demo: DemoConfig,
    pub log: LogConfig,
    pub sms: SmsConfig,
    pub ussd: UssdConfig,
    pub merchant_api: MerchantApiConfig,
    pub portal: PortalConfig,
    pub gsma: GsmaConfig,
}

/// The GSMA Mobile Money API (`/gsma/v1.2/mm`): callbacks, request processing and page sizes.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GsmaConfig {
    /// One callback PUT waits this long for the caller's answer.
    pub callback_timeout_ms: u64,
    pub callback_retry_base_ms: u64,
    pub callback_retry_max_ms: u64,
    /// A callback not delivered this long after the request finished is given up.
    pub callback_deadline_seconds: i64,
    /// Callbacks (and pending requests) taken per round of the background jobs.
    pub batch_max: i64,
    pub poll_interval_ms: u64,
    /// A pending request taken by one process is left alone by others for this long.
    pub request_lease_ms: u64,
    /// Statement entries when the caller gives no `limit`, and the most it may ask for.
    pub statement_limit_default: i64,
    pub statement_limit_max: i64,
    /// The deepest `offset` a statement may start at.
    pub statement_offset_max: i64,
    /// A debit mandate without `numberOfPayments` allows this many payments of `amountLimit`.
    pub mandate_payments_default: i64,
    pub mandate_payments_max: i64,
    /// How long a quotation says it holds (quotes are advisory: nothing is reserved).
    pub quote_ttl_seconds: i64,
}

/// The agent portal (`/portal`): sessions, sign-in lockout and page sizes.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortalConfig {
    /// A session unused this long is over (a shop PC left signed in).
    pub session_idle_seconds: i64,
    /// A session is over this long after sign-in, however busy.
    pub session_absolute_seconds: i64,
    /// Wrong passwords in a row before a login is locked.
    pub lockout_threshold: u32,
    /// The first lock lasts this long; each further wrong password doubles it, up to the maximum.
    pub lockout_base_seconds: i64,
    pub lockout_max_seconds: i64,
    pub password_len_min: usize,
    /// Statement lines per page.
    pub page_size: i64,
    /// Most lines one CSV export carries.
    pub csv_rows_max: i64,
    /// How long an agent-started cash-out waits for the customer's PIN in USSD Approvals.
    pub cash_out_approval_seconds: i64,
}

/// The merchant API's limits.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MerchantApiConfig {
    /// How long a customer has to approve a payment request (the most a merchant may ask for).
    pub payment_request_ttl_seconds: i64,
    /// How long a customer has to answer an allowance request.
    pub allowance_request_ttl_seconds: i64,
    /// The longest an allowance may run.
    pub allowance_days_max: i64,
    /// A signed request's timestamp must be this close to ours; its signature is refused twice.
    pub signature_window_seconds: i64,
    pub rate_per_second: u32,
    pub rate_burst: u32,
    /// Allowance charges below this (minor units) get one SMS a day instead of one each.
    pub small_charge_minor: i64,
    pub webhook_timeout_ms: u64,
    pub webhook_retry_base_ms: u64,
    pub webhook_retry_max_ms: u64,
    pub webhook_batch_max: i64,
    pub webhook_poll_interval_ms: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UssdConfig {
    /// The code customers dial, shown in messages (e.g. `*384#`).
    pub service_code: String,
    /// Secret the gateway presents (`?token=` or `X-Gateway-Token`). Empty: generated into
    /// `<data_dir>/ussd-token`.
    pub gateway_token: Secret,
    /// Gateway addresses allowed to call; empty allows any (the token still applies).
    pub ip_allowlist: Vec<String>,
    /// How long a send waits before it posts, during which "Cancel last send" voids it.
    pub cancel_window_seconds: i64,
    /// How long a withdrawal started on USSD waits for the agent before the money returns.
    pub withdrawal_expiry_seconds: i64,
    /// How long an idle session is kept (gateways end sessions after about 180 s).
    pub session_ttl_seconds: i64,
    pub invalid_input_max: u32,
    /// Session saves written in one transaction at most by the session writer, which commits
    /// the saves of concurrent hops together (one durable commit for many hops).
    pub session_batch_max: usize,
    /// Session saves waiting for the session writer at most; a hop beyond it gets a polite END.
    pub session_queue_max: usize,
    /// The operator-owned merchant that sells airtime.
    pub airtime_merchant: String,
}

/// Which SMS provider sends, and how the outbox dispatcher behaves.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsConfig {
    /// `development` (stores messages, sends nothing), `twilio` or `africastalking`.
    pub provider: String,
    /// Language for parties without a stored choice (agents).
    pub default_language: String,
    /// An agent whose float falls below this (minor units of the default currency) is warned.
    pub low_float_minor: i64,
    /// Messages out at the provider at once. Each keeps its slot until its outcome is committed,
    /// so this also bounds how many a crash can send twice. With a provider that answers in r
    /// seconds, dispatch tops out near this / r messages a second (64 / 0.3 s: about 200).
    pub dispatch_concurrency_max: usize,
    pub dispatch_batch_max: i64,
    pub dispatch_poll_interval_ms: u64,
    /// How long a claimed message stays claimed before another dispatcher may take it over.
    pub dispatch_lease_ms: u64,
    pub retry_base_ms: u64,
    pub retry_max_ms: u64,
    /// A message not sent within this long of being queued is given up and recorded as failed.
    pub deadline_seconds: i64,
    pub request_timeout_ms: u64,
    pub twilio: TwilioConfig,
    pub africastalking: AfricasTalkingConfig,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwilioConfig {
    pub base_url: String,
    pub account_sid: String,
    pub auth_token: Secret,
    /// A sender number or alphanumeric id; or leave empty and set `messaging_service_sid`.
    pub from: String,
    pub messaging_service_sid: String,
    /// Where Twilio posts delivery status; empty: `<public_url>/sms/twilio/status`.
    pub status_callback_url: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AfricasTalkingConfig {
    pub base_url: String,
    pub username: String,
    pub api_key: Secret,
    pub from: String,
    /// Secret path segment protecting the (unsigned) delivery-report URL.
    pub delivery_token: Secret,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub bind: String,
    /// The address people and gateways use to reach this server (printed at start-up).
    /// Empty: `http://<bind>`.
    pub public_url: String,
    pub workers: usize,
    pub request_body_max_bytes: usize,
    pub request_timeout_ms: u64,
    pub keep_alive_seconds: u64,
    pub connections_max: usize,
    /// Threads for blocking work (database calls, hashing) in each HTTP worker and in the
    /// background runtime. A task beyond the pool's connections only waits, holding a thread
    /// (and its stack) meanwhile: a few per worker are enough.
    pub blocking_threads_max: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Empty means the embedded default: `sqlite://<data_dir>/mkoba.db`.
    pub url: Secret,
    pub pool_size_max: u32,
    pub connect_timeout_ms: u64,
    pub busy_timeout_ms: u32,
    pub statement_timeout_ms: u32,
    /// SQLite only: the most memory SQLite's page caches and statements may hold in the whole
    /// process (its soft heap limit), whatever the pool size. Each connection's cache may grow
    /// to 64 MiB on its own, and with a million customers touched at random they do; past this
    /// limit SQLite reuses its least recently used pages instead of allocating.
    pub sqlite_memory_max_kib: u32,
    /// SQLite: how much of the database file each connection reads through a memory map
    /// (`PRAGMA mmap_size`) instead of its page cache. Mapped pages count in the process's RSS
    /// as long as the kernel keeps them; 0 sends every read through the bounded page cache.
    pub sqlite_mmap_kib: u32,
    /// Apply migrations at start. Always done on SQLite; on PostgreSQL `mkoba migrate` is the
    /// usual way, so that one release step owns schema changes.
    pub migrate_on_start: bool,
}

/// `ledger.sqlite_writer_cache_kib` unless configured: 16 MiB.
pub const SQLITE_WRITER_CACHE_KIB_DEFAULT: u32 = 16 * 1024;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerConfig {
    pub default_currency: Currency,
    pub writer_threads: usize,
    pub batch_max: usize,
    pub queue_max: usize,
    pub reply_timeout_ms: u64,
    pub reconnect_backoff_ms: u64,
    /// SQLite only: how often a background thread copies the write-ahead log into the database
    /// file, so that the ledger writer never does it inside a batch.
    pub checkpoint_interval_ms: u64,
    /// SQLite only: log size, in 4 KiB pages, at which the writer checkpoints itself (only a
    /// checkpoint between two batches lets the log restart from its start). Each of those stalls
    /// the writer on the database file's fsync, which grows with the file: 65,536 pages (a log of
    /// up to 256 MiB on disk) restarts an eighth as often as 8,192 did, and on a 10M history
    /// carried 19–24% more transfers per second (`ops/BENCHMARKS.md`, "Session 10").
    pub sqlite_writer_checkpoint_pages: u32,
    /// SQLite only: accounts each ledger writer thread keeps between batches instead of reading
    /// them again (`store::account_cache`); about 150 bytes each. 0 keeps none.
    pub sqlite_writer_account_cache_max: usize,
    /// SQLite only: the page cache of each ledger writer thread's connection, in KiB (other
    /// connections keep 64 MiB). SQLite walks the writer's whole cache at every commit once a
    /// B-tree split has used its lock page, so a larger cache costs every batch
    /// (`ops/BENCHMARKS.md`, "Session 19").
    pub sqlite_writer_cache_kib: u32,
    pub expiry_sweep_interval_ms: u64,
    pub expiry_sweep_batch_max: i64,
    pub statement_page_max: i64,
    /// Key of the permutation that turns transaction ids into codes. Changing it changes every
    /// code, so it is set once per deployment.
    pub code_key: u64,
    pub rules: LedgerRules,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityConfig {
    /// Server-side secret mixed into every PIN and password hash. Empty: generated on first
    /// start into `<data_dir>/pepper` (fine for a pilot; production sets it from a secret store).
    pub pepper: Secret,
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    /// Hashes computed at once. Each holds `argon2_memory_kib` of memory, reused from one hash to
    /// the next, so this bounds the memory PINs and passwords take; more than the cores only
    /// queues. Callers wait for a free slot.
    pub argon2_concurrency_max: usize,
    /// Bearer token for the operator's HTTP API. Empty: generated into `<data_dir>/admin-token`.
    pub admin_token: Secret,
    pub pin_length: usize,
    pub pin_attempts_max: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhoneConfig {
    /// ISO 3166 country used for numbers written without a country code (`0712…`).
    pub default_country: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoConfig {
    /// Seed the demo world into an empty database (the embedded default only).
    pub seed_on_first_start: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `json` for machines, `pretty` for a terminal.
    pub format: String,
    pub filter: String,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            data_dir: PathBuf::from("data"),
            server: ServerConfig {
                bind: "127.0.0.1:8384".into(),
                public_url: String::new(),
                workers: 2,
                request_body_max_bytes: 64 * 1024,
                request_timeout_ms: 10_000,
                keep_alive_seconds: 30,
                connections_max: 10_000,
                blocking_threads_max: 8,
            },
            database: DatabaseConfig {
                url: Secret::default(),
                pool_size_max: 16,
                connect_timeout_ms: 5_000,
                busy_timeout_ms: 5_000,
                statement_timeout_ms: 30_000,
                sqlite_memory_max_kib: 64 * 1024,
                sqlite_mmap_kib: crate::store::db::SQLITE_MMAP_KIB_DEFAULT,
                migrate_on_start: true,
            },
            ledger: LedgerConfig {
                default_currency: Currency::KES,
                writer_threads: 1,
                batch_max: 1_000,
                queue_max: 100_000,
                reply_timeout_ms: 10_000,
                reconnect_backoff_ms: 500,
                checkpoint_interval_ms: 200,
                sqlite_writer_checkpoint_pages: 65_536,
                sqlite_writer_account_cache_max: 65_536,
                sqlite_writer_cache_kib: SQLITE_WRITER_CACHE_KIB_DEFAULT,
                expiry_sweep_interval_ms: 1_000,
                expiry_sweep_batch_max: 500,
                statement_page_max: 100,
                code_key: 0x6d6b_6f62_6121,
                rules: LedgerRules::kenya_defaults(),
            },
            security: SecurityConfig {
                pepper: Secret::default(),
                argon2_memory_kib: 19 * 1024,
                argon2_iterations: 2,
                argon2_parallelism: 1,
                argon2_concurrency_max: 2,
                admin_token: Secret::default(),
                pin_length: 4,
                pin_attempts_max: 3,
            },
            phone: PhoneConfig {
                default_country: "KE".into(),
            },
            demo: DemoConfig {
                seed_on_first_start: true,
            },
            log: LogConfig {
                format: "pretty".into(),
                filter: "info".into(),
            },
            ussd: UssdConfig {
                service_code: "*384#".into(),
                gateway_token: Secret::default(),
                ip_allowlist: Vec::new(),
                cancel_window_seconds: 25,
                withdrawal_expiry_seconds: 600,
                session_ttl_seconds: 300,
                invalid_input_max: 3,
                session_batch_max: 256,
                session_queue_max: 10_000,
                airtime_merchant: "M001".into(),
            },
            merchant_api: MerchantApiConfig {
                payment_request_ttl_seconds: 900,
                allowance_request_ttl_seconds: 86_400,
                allowance_days_max: 90,
                signature_window_seconds: 300,
                rate_per_second: 20,
                rate_burst: 40,
                small_charge_minor: 100,
                webhook_timeout_ms: 5_000,
                webhook_retry_base_ms: 1_000,
                webhook_retry_max_ms: 300_000,
                webhook_batch_max: 50,
                webhook_poll_interval_ms: 500,
            },
            gsma: GsmaConfig {
                callback_timeout_ms: 5_000,
                callback_retry_base_ms: 1_000,
                callback_retry_max_ms: 300_000,
                callback_deadline_seconds: 86_400,
                batch_max: 50,
                poll_interval_ms: 500,
                request_lease_ms: 30_000,
                statement_limit_default: 50,
                statement_limit_max: 100,
                statement_offset_max: 10_000,
                mandate_payments_default: 12,
                mandate_payments_max: 1_000,
                quote_ttl_seconds: 300,
            },
            portal: PortalConfig {
                session_idle_seconds: 15 * 60,
                session_absolute_seconds: 12 * 3600,
                lockout_threshold: 5,
                lockout_base_seconds: 60,
                lockout_max_seconds: 3600,
                password_len_min: 10,
                page_size: 25,
                csv_rows_max: 10_000,
                cash_out_approval_seconds: 600,
            },
            sms: SmsConfig {
                provider: "development".into(),
                default_language: "en".into(),
                low_float_minor: 500_000,
                dispatch_concurrency_max: 64,
                dispatch_batch_max: 200,
                dispatch_poll_interval_ms: 200,
                dispatch_lease_ms: 30_000,
                retry_base_ms: 1_000,
                retry_max_ms: 300_000,
                deadline_seconds: 24 * 3600,
                request_timeout_ms: 10_000,
                twilio: TwilioConfig {
                    base_url: "https://api.twilio.com".into(),
                    account_sid: String::new(),
                    auth_token: Secret::default(),
                    from: String::new(),
                    messaging_service_sid: String::new(),
                    status_callback_url: String::new(),
                },
                africastalking: AfricasTalkingConfig {
                    base_url: "https://api.africastalking.com".into(),
                    username: String::new(),
                    api_key: Secret::default(),
                    from: String::new(),
                    delivery_token: Secret::default(),
                },
            },
        }
    }
}

fn within<T: PartialOrd + fmt::Display + Copy>(
    name: &str,
    value: T,
    min: T,
    max: T,
) -> Result<(), String> {
    if value < min || value > max {
        return Err(format!("{name} = {value} is outside {min}..={max}"));
    }
    Ok(())
}

impl Config {
    /// Loads defaults, then `file` (if any), then the environment, and validates the result.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, String> {
        let mut merged = toml::Value::try_from(Config::default()).map_err(|e| e.to_string())?;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("reading {}: {e}", path.display()))?;
            let overlay: toml::Value =
                toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            merge(&mut merged, overlay);
        }
        // DATABASE_URL first, so MKOBA_DATABASE__URL wins whatever order the environment is in.
        let mut env: Vec<(String, String)> = env.into_iter().collect();
        env.sort_by_key(|(key, _)| key != "DATABASE_URL");
        for (key, value) in env {
            let path: Vec<String> = if key == "DATABASE_URL" {
                vec!["database".into(), "url".into()]
            } else if let Some(rest) = key.strip_prefix("MKOBA_") {
                if rest == "CONFIG" {
                    continue;
                }
                rest.split("__").map(str::to_ascii_lowercase).collect()
            } else {
                continue;
            };
            set_path(&mut merged, &path, env_value(&value)).map_err(|e| format!("{key}: {e}"))?;
        }
        let config: Config = merged
            .try_into()
            .map_err(|e: toml::de::Error| format!("configuration: {e}"))?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), String> {
        let s = &self.server;
        within("server.workers", s.workers, 1, 64)?;
        within(
            "server.request_body_max_bytes",
            s.request_body_max_bytes,
            1_024,
            1_048_576,
        )?;
        within(
            "server.request_timeout_ms",
            s.request_timeout_ms,
            100,
            60_000,
        )?;
        within("server.keep_alive_seconds", s.keep_alive_seconds, 1, 300)?;
        within("server.connections_max", s.connections_max, 16, 100_000)?;
        within(
            "server.blocking_threads_max",
            s.blocking_threads_max,
            1,
            512,
        )?;
        if s.bind.parse::<std::net::SocketAddr>().is_err() {
            return Err(format!("server.bind = {:?} is not an address:port", s.bind));
        }
        let d = &self.database;
        within("database.pool_size_max", d.pool_size_max, 1, 256)?;
        within(
            "database.connect_timeout_ms",
            d.connect_timeout_ms,
            100,
            60_000,
        )?;
        within("database.busy_timeout_ms", d.busy_timeout_ms, 10, 60_000)?;
        within(
            "database.sqlite_mmap_kib",
            d.sqlite_mmap_kib,
            0,
            4 * 1024 * 1024,
        )?;
        within(
            "database.sqlite_memory_max_kib",
            d.sqlite_memory_max_kib,
            1024,
            4 * 1024 * 1024,
        )?;
        within(
            "database.statement_timeout_ms",
            d.statement_timeout_ms,
            100,
            600_000,
        )?;
        self.database_url()?;
        let l = &self.ledger;
        within("ledger.writer_threads", l.writer_threads, 1, 16)?;
        within("ledger.batch_max", l.batch_max, 1, 10_000)?;
        within("ledger.queue_max", l.queue_max, 1, 1_000_000)?;
        within("ledger.reply_timeout_ms", l.reply_timeout_ms, 100, 120_000)?;
        within(
            "ledger.reconnect_backoff_ms",
            l.reconnect_backoff_ms,
            1,
            60_000,
        )?;
        within(
            "ledger.checkpoint_interval_ms",
            l.checkpoint_interval_ms,
            10,
            60_000,
        )?;
        within(
            "ledger.sqlite_writer_checkpoint_pages",
            u64::from(l.sqlite_writer_checkpoint_pages),
            1_024,
            262_144,
        )?;
        within(
            "ledger.sqlite_writer_account_cache_max",
            l.sqlite_writer_account_cache_max,
            0,
            1_048_576,
        )?;
        within(
            "ledger.sqlite_writer_cache_kib",
            u64::from(l.sqlite_writer_cache_kib),
            1_024,
            1_048_576,
        )?;
        within(
            "ledger.expiry_sweep_interval_ms",
            l.expiry_sweep_interval_ms,
            10,
            3_600_000,
        )?;
        within(
            "ledger.expiry_sweep_batch_max",
            l.expiry_sweep_batch_max,
            1,
            10_000,
        )?;
        within("ledger.statement_page_max", l.statement_page_max, 1, 1_000)?;
        l.rules
            .validate()
            .map_err(|e| format!("ledger.rules: {e}"))?;
        if l.rules.idempotency_key_len_max < mkoba_ussd::engine::STEP_KEY_LEN_MAX {
            // Every USSD payment would be refused as `idempotency_key_invalid` after the PIN.
            return Err(format!(
                "ledger.rules.idempotency_key_len_max must be at least {}: USSD payments' keys \
                 carry the gateway's session id and reach that length",
                mkoba_ussd::engine::STEP_KEY_LEN_MAX
            ));
        }
        if !l.rules.currencies.contains_key(&l.default_currency) {
            return Err(format!(
                "ledger.default_currency {} has no rules",
                l.default_currency
            ));
        }
        let sec = &self.security;
        within(
            "security.argon2_memory_kib",
            sec.argon2_memory_kib,
            8 * 1024,
            1024 * 1024,
        )?;
        within("security.argon2_iterations", sec.argon2_iterations, 1, 10)?;
        within("security.argon2_parallelism", sec.argon2_parallelism, 1, 8)?;
        within(
            "security.argon2_concurrency_max",
            sec.argon2_concurrency_max,
            1,
            64,
        )?;
        within("security.pin_length", sec.pin_length, 4, 9)?;
        within("security.pin_attempts_max", sec.pin_attempts_max, 1, 10)?;
        if !sec.pepper.is_empty() && sec.pepper.expose().len() < 16 {
            return Err("security.pepper must be at least 16 characters".into());
        }
        if !sec.admin_token.is_empty() && sec.admin_token.expose().len() < 24 {
            return Err("security.admin_token must be at least 24 characters".into());
        }
        if crate::phone::country_id(&self.phone.default_country).is_none() {
            return Err(format!(
                "phone.default_country {:?} is not a known country",
                self.phone.default_country
            ));
        }
        self.validate_sms()?;
        let u = &self.ussd;
        within(
            "ussd.cancel_window_seconds",
            u.cancel_window_seconds,
            0,
            600,
        )?;
        within(
            "ussd.withdrawal_expiry_seconds",
            u.withdrawal_expiry_seconds,
            60,
            86_400,
        )?;
        within("ussd.session_ttl_seconds", u.session_ttl_seconds, 60, 3_600)?;
        within("ussd.invalid_input_max", u.invalid_input_max, 1, 10)?;
        within("ussd.session_batch_max", u.session_batch_max, 1, 10_000)?;
        within("ussd.session_queue_max", u.session_queue_max, 1, 1_000_000)?;
        within("ussd.ip_allowlist entries", u.ip_allowlist.len(), 0, 256)?;
        for ip in &u.ip_allowlist {
            if ip.parse::<std::net::IpAddr>().is_err() {
                return Err(format!("ussd.ip_allowlist: {ip:?} is not an IP address"));
            }
        }
        if !u.gateway_token.is_empty() && u.gateway_token.expose().len() < 24 {
            return Err("ussd.gateway_token must be at least 24 characters".into());
        }
        if u.service_code.is_empty() || u.service_code.len() > 20 {
            return Err("ussd.service_code must be 1 to 20 characters".into());
        }
        if u.cancel_window_seconds >= self.ledger.rules.pending.expiry_max_seconds {
            return Err(
                "ussd.cancel_window_seconds must be shorter than the pending expiry maximum".into(),
            );
        }
        self.validate_merchant_api()?;
        self.validate_portal()?;
        self.validate_gsma()?;
        if !matches!(self.log.format.as_str(), "json" | "pretty") {
            return Err("log.format must be json or pretty".into());
        }
        Ok(())
    }

    fn validate_portal(&self) -> Result<(), String> {
        let p = &self.portal;
        within(
            "portal.session_idle_seconds",
            p.session_idle_seconds,
            60,
            86_400,
        )?;
        within(
            "portal.session_absolute_seconds",
            p.session_absolute_seconds,
            p.session_idle_seconds,
            7 * 86_400,
        )?;
        within("portal.lockout_threshold", p.lockout_threshold, 1, 20)?;
        within(
            "portal.lockout_base_seconds",
            p.lockout_base_seconds,
            1,
            3_600,
        )?;
        within(
            "portal.lockout_max_seconds",
            p.lockout_max_seconds,
            p.lockout_base_seconds,
            7 * 86_400,
        )?;
        within("portal.password_len_min", p.password_len_min, 8, 64)?;
        within(
            "portal.page_size",
            p.page_size,
            5,
            self.ledger.statement_page_max.max(5),
        )?;
        within("portal.csv_rows_max", p.csv_rows_max, 100, 100_000)?;
        within(
            "portal.cash_out_approval_seconds",
            p.cash_out_approval_seconds,
            60,
            self.ledger.rules.pending.expiry_max_seconds,
        )?;
        Ok(())
    }

    fn validate_merchant_api(&self) -> Result<(), String> {
        let m = &self.merchant_api;
        within(
            "merchant_api.payment_request_ttl_seconds",
            m.payment_request_ttl_seconds,
            60,
            86_400,
        )?;
        within(
            "merchant_api.allowance_request_ttl_seconds",
            m.allowance_request_ttl_seconds,
            60,
            7 * 86_400,
        )?;
        within(
            "merchant_api.allowance_days_max",
            m.allowance_days_max,
            1,
            365,
        )?;
        within(
            "merchant_api.signature_window_seconds",
            m.signature_window_seconds,
            30,
            900,
        )?;
        within("merchant_api.rate_per_second", m.rate_per_second, 1, 10_000)?;
        within("merchant_api.rate_burst", m.rate_burst, 1, 100_000)?;
        within(
            "merchant_api.small_charge_minor",
            m.small_charge_minor,
            0,
            1_000_000,
        )?;
        within(
            "merchant_api.webhook_timeout_ms",
            m.webhook_timeout_ms,
            100,
            60_000,
        )?;
        within(
            "merchant_api.webhook_retry_base_ms",
            m.webhook_retry_base_ms,
            10,
            60_000,
        )?;
        within(
            "merchant_api.webhook_retry_max_ms",
            m.webhook_retry_max_ms,
            m.webhook_retry_base_ms,
            3_600_000,
        )?;
        within(
            "merchant_api.webhook_batch_max",
            m.webhook_batch_max,
            1,
            1_000,
        )?;
        within(
            "merchant_api.webhook_poll_interval_ms",
            m.webhook_poll_interval_ms,
            10,
            60_000,
        )?;
        Ok(())
    }

    fn validate_gsma(&self) -> Result<(), String> {
        let g = &self.gsma;
        within(
            "gsma.callback_timeout_ms",
            g.callback_timeout_ms,
            100,
            60_000,
        )?;
        within(
            "gsma.callback_retry_base_ms",
            g.callback_retry_base_ms,
            10,
            600_000,
        )?;
        within(
            "gsma.callback_retry_max_ms",
            g.callback_retry_max_ms,
            g.callback_retry_base_ms,
            3_600_000,
        )?;
        within(
            "gsma.callback_deadline_seconds",
            g.callback_deadline_seconds,
            60,
            7 * 86_400,
        )?;
        within("gsma.batch_max", g.batch_max, 1, 1_000)?;
        within("gsma.poll_interval_ms", g.poll_interval_ms, 10, 60_000)?;
        within("gsma.request_lease_ms", g.request_lease_ms, 1_000, 600_000)?;
        within("gsma.statement_limit_max", g.statement_limit_max, 1, 1_000)?;
        within(
            "gsma.statement_limit_default",
            g.statement_limit_default,
            1,
            g.statement_limit_max,
        )?;
        within(
            "gsma.statement_offset_max",
            g.statement_offset_max,
            0,
            1_000_000,
        )?;
        within(
            "gsma.mandate_payments_max",
            g.mandate_payments_max,
            1,
            100_000,
        )?;
        within(
            "gsma.mandate_payments_default",
            g.mandate_payments_default,
            1,
            g.mandate_payments_max,
        )?;
        within("gsma.quote_ttl_seconds", g.quote_ttl_seconds, 10, 86_400)?;
        Ok(())
    }

    fn validate_sms(&self) -> Result<(), String> {
        let sms = &self.sms;
        within(
            "sms.low_float_minor",
            sms.low_float_minor,
            0,
            mkoba_ledger::rules::bounds::AMOUNT_MAX_MINOR,
        )?;
        within(
            "sms.dispatch_concurrency_max",
            sms.dispatch_concurrency_max,
            1,
            256,
        )?;
        within("sms.dispatch_batch_max", sms.dispatch_batch_max, 1, 10_000)?;
        within(
            "sms.dispatch_poll_interval_ms",
            sms.dispatch_poll_interval_ms,
            10,
            60_000,
        )?;
        within(
            "sms.dispatch_lease_ms",
            sms.dispatch_lease_ms,
            1_000,
            600_000,
        )?;
        within("sms.retry_base_ms", sms.retry_base_ms, 10, 60_000)?;
        within(
            "sms.retry_max_ms",
            sms.retry_max_ms,
            sms.retry_base_ms,
            3_600_000,
        )?;
        within("sms.deadline_seconds", sms.deadline_seconds, 60, 7 * 86_400)?;
        within(
            "sms.request_timeout_ms",
            sms.request_timeout_ms,
            100,
            60_000,
        )?;
        if sms.request_timeout_ms >= sms.dispatch_lease_ms {
            return Err("sms.request_timeout_ms must be shorter than sms.dispatch_lease_ms".into());
        }
        if !matches!(sms.default_language.as_str(), "en" | "sw" | "fr") {
            return Err("sms.default_language must be en, sw or fr".into());
        }
        match sms.provider.as_str() {
            "development" => {}
            "twilio" => {
                let t = &sms.twilio;
                let sid_ok = t.account_sid.len() == 34
                    && t.account_sid.starts_with("AC")
                    && t.account_sid.bytes().skip(2).all(|b| b.is_ascii_hexdigit());
                if !sid_ok {
                    return Err("sms.twilio.account_sid must match ^AC[0-9a-fA-F]{32}$".into());
                }
                if t.auth_token.is_empty()
                    || (t.from.is_empty() && t.messaging_service_sid.is_empty())
                {
                    return Err(
                        "sms.twilio needs auth_token and either from or messaging_service_sid"
                            .into(),
                    );
                }
                if !t.base_url.starts_with("http") {
                    return Err("sms.twilio.base_url must be an http(s) URL".into());
                }
            }
            "africastalking" => {
                let a = &sms.africastalking;
                if a.username.is_empty() || a.api_key.is_empty() || !a.base_url.starts_with("http")
                {
                    return Err(
                        "sms.africastalking needs username, api_key and an http(s) base_url".into(),
                    );
                }
                if a.delivery_token.expose().len() < 16 {
                    return Err(
                        "sms.africastalking.delivery_token must be at least 16 characters".into(),
                    );
                }
            }
            other => {
                return Err(format!(
                    "sms.provider {other:?} is not development, twilio or africastalking"
                ))
            }
        }
        Ok(())
    }

    pub fn public_url(&self) -> String {
        if self.server.public_url.is_empty() {
            format!("http://{}", self.server.bind)
        } else {
            self.server.public_url.trim_end_matches('/').to_owned()
        }
    }

    pub fn database_url(&self) -> Result<DatabaseUrl, String> {
        if self.database.url.is_empty() {
            return Ok(DatabaseUrl::Sqlite(self.data_dir.join("mkoba.db")));
        }
        DatabaseUrl::parse(self.database.url.expose())
    }
}

/// Environment values are TOML scalars when they parse as one (`8`, `true`), else strings.
fn env_value(text: &str) -> toml::Value {
    match toml::from_str::<toml::Table>(&format!("v = {text}")) {
        Ok(mut table) => table
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(text.to_owned())),
        Err(_) => toml::Value::String(text.to_owned()),
    }
}

fn merge(base: &mut toml::Value, overlay: toml::Value) {
    match (base, overlay) {
        (toml::Value::Table(base), toml::Value::Table(overlay)) => {
            for (key, value) in overlay {
                match base.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, overlay) => *base = overlay,
    }
}

fn set_path(root: &mut toml::Value, path: &[String], value: toml::Value) -> Result<(), String> {
    let Some((last, parents)) = path.split_last() else {
        return Err("empty key".into());
    };
    let mut node = root;
    for part in parents {
        node = node
            .as_table_mut()
            .and_then(|t| t.get_mut(part))
            .ok_or_else(|| format!("no configuration section {part:?}"))?;
    }
    let table = node.as_table_mut().ok_or("not a section")?;
    if !table.contains_key(last) {
        return Err(format!("no configuration key {last:?}"));
    }
    // Keep a string where a string is expected even if the text looks like a number.
    let value = match (table.get(last), value) {
        (Some(toml::Value::String(_)), v) if !v.is_str() => toml::Value::String(v.to_string()),
        (_, v) => v,
    };
    table.insert(last.clone(), value);
    Ok(())
}
