//! The real `mkoba serve` as a child process, and the world the bench seeds for it: an agent, a
//! merchant and any number of customers with PINs, some of them funded. Shared by the `ussd` and
//! `rss` modes.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use mkoba::app::App;
use mkoba::config::{Config, Secret};
use mkoba::secrets::Hasher;
use mkoba::store::parties;
use mkoba::store::schema::customers;
use mkoba::store::writer::SystemClock;
use mkoba::store::{checkout, AnyConnection, Backend, ConnectionOptions, DatabaseUrl};
use mkoba_ledger::TxnKind;
use mkoba_ledger::{AccountId, Currency, Outcome};

/// The bench's secrets: fixed, so the child and the bench agree without reading files.
pub const PEPPER: &str = "mkoba-bench-pepper-not-a-secret";
pub const GATEWAY_TOKEN: &str = "mkoba-bench-ussd-gateway-token";
pub const ADMIN_TOKEN: &str = "mkoba-bench-admin-token-not-a-secret";
/// Every bench customer's PIN.
pub const PIN: &str = "4821";
/// Bench customers' numbers: this prefix and a 7-digit index (`+254790000000` onwards).
pub const PREFIX: &str = "+25479";
pub const MERCHANT_CODE: &str = "BENCHM";
pub const AGENT_CODE: &str = "BENCHA";
/// What each funded customer starts with (KES 5,000).
pub const FUNDING_MINOR: i64 = 500_000;

/// The customer with this index's number.
pub fn msisdn(index: usize) -> String {
    format!("{PREFIX}{index:07}")
}

/// A fresh SQLite file, or a fresh PostgreSQL database beside the URL's, named by the mode so
/// that two benches on one PostgreSQL server do not drop each other's database.
pub fn prepare_database(url: &str, name: &str) -> anyhow::Result<String> {
    match DatabaseUrl::parse(url).map_err(anyhow::Error::msg)? {
        DatabaseUrl::Sqlite(path) => {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
            Ok(url.to_owned())
        }
        DatabaseUrl::Postgres(admin) => {
            anyhow::ensure!(
                name.starts_with("mkoba_bench")
                    && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "refusing to drop database {name:?}: only mkoba_bench* names"
            );
            let base = admin
                .rsplit_once('/')
                .map_or(admin.as_str(), |(b, _)| b)
                .to_owned();
            let psql = |sql: &str| {
                Command::new("psql")
                    .args([admin.as_str(), "-qc", sql])
                    .status()
            };
            psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))?;
            anyhow::ensure!(
                psql(&format!("CREATE DATABASE {name}"))?.success(),
                "could not create {name}"
            );
            Ok(format!("{base}/{name}"))
        }
    }
}

/// The settings the child gets on top of its environment, as `MKOBA_…` variables. `extra` are
/// the `--server-env KEY=VALUE` overrides, which win.
pub fn child_env(
    url: &str,
    data_dir: &Path,
    bind: &str,
    extra: &[String],
) -> anyhow::Result<Vec<(String, String)>> {
    let mut env: BTreeMap<String, String> = [
        ("MKOBA_DATABASE__URL", url.to_owned()),
        ("MKOBA_DATA_DIR", data_dir.display().to_string()),
        ("MKOBA_SERVER__BIND", bind.to_owned()),
        ("MKOBA_SECURITY__PEPPER", PEPPER.to_owned()),
        ("MKOBA_SECURITY__ADMIN_TOKEN", ADMIN_TOKEN.to_owned()),
        ("MKOBA_USSD__GATEWAY_TOKEN", GATEWAY_TOKEN.to_owned()),
        ("MKOBA_DEMO__SEED_ON_FIRST_START", "false".to_owned()),
        ("MKOBA_DATABASE__MIGRATE_ON_START", "true".to_owned()),
        ("MKOBA_LOG__FILTER", "warn".to_owned()),
        ("MKOBA_LOG__FORMAT", "json".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for pair in extra {
        let (key, value) = pair
            .split_once('=')
            .with_context(|| format!("--server-env {pair:?} is not KEY=VALUE"))?;
        anyhow::ensure!(
            key.starts_with("MKOBA_"),
            "--server-env {key}: only MKOBA_… settings"
        );
        env.insert(key.to_owned(), value.to_owned());
    }
    Ok(env.into_iter().collect())
}

/// The configuration the child will run with: this process's `MKOBA_…` environment, then the
/// child's own settings, through the same loader and validation as `mkoba serve`.
pub fn child_config(env: &[(String, String)]) -> anyhow::Result<Config> {
    let inherited =
        std::env::vars().filter(|(k, _)| k.starts_with("MKOBA_") || k == "DATABASE_URL");
    Config::load(None, inherited.chain(env.iter().cloned())).map_err(anyhow::Error::msg)
}

/// A free loopback port (there is a short race until the child binds it; fine for a bench).
pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

pub fn temp_dir(mode: &str) -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("mkoba-bench-{mode}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// What the seeding made.
#[derive(Clone, Debug)]
pub struct World {
    pub customers: usize,
    /// Customers `0..funded` hold [`FUNDING_MINOR`].
    pub funded: usize,
    pub merchant_account: AccountId,
    pub agent_float: AccountId,
    /// Wallet account ids of customers 0 and `customers - 1` (the ids are consecutive).
    pub first_wallet: i64,
    pub last_wallet: i64,
    pub load_seconds: f64,
    pub fund_seconds: f64,
}

/// Seeds the world through the real start-up (`App::start`: migrations, system accounts, pepper
/// check), with the customers inserted in bulk SQL and the funding sent through the ledger writer,
/// then shuts that `App` down so the child has the database to itself.
pub fn seed(config: &Config, customers: usize, funded: usize) -> anyhow::Result<World> {
    anyhow::ensure!(
        (1..=9_999_999).contains(&customers),
        "customers must be 1 to 9,999,999"
    );
    let funded = funded.min(customers);
    let (app, threads) = App::start(config.clone(), Arc::new(SystemClock))?;
    let world = seed_with(&app, customers, funded);
    drop(app);
    threads.join();
    world
}

fn seed_with(app: &Arc<App>, customers: usize, funded: usize) -> anyhow::Result<World> {
    let mut conn = checkout(&app.pool)?;
    let agent = crate::ledger::bench_agent(&mut conn, AGENT_CODE)?;
    let merchant = parties::create_merchant(&mut conn, MERCHANT_CODE, "Bench Shop", Currency::KES)?;
    // One argon2id hash for every customer, made by the server's own hasher (same pepper and
    // parameters), so verifying any customer's PIN costs what a real one does.
    let hash = app.hasher.hash(PIN)?;
    let started = Instant::now();
    bulk_customers(&mut conn, customers, &hash)?;
    let load_seconds = started.elapsed().as_secs_f64();
    let wallets: Vec<i64> = mkoba::with_conn!(&mut *conn, |c| customers::table
        .filter(customers::msisdn.like(format!("{PREFIX}%")))
        .order(customers::msisdn)
        .select(customers::wallet_account_id)
        .load(c))?;
    anyhow::ensure!(
        wallets.len() == customers,
        "expected {customers} bench customers, found {}",
        wallets.len()
    );
    drop(conn);

    let started = Instant::now();
    crate::ledger::issue_float(app, "bench-float", agent.float)?;
    let submit = crate::ledger::kes_transfer;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let refused = runtime.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        let mut refused = 0_usize;
        for (i, wallet) in wallets.iter().take(funded).enumerate() {
            let writer = app.writer.clone();
            let command = submit(
                format!("bench-fund-{i}"),
                TxnKind::Deposit,
                agent.float,
                AccountId(*wallet),
                FUNDING_MINOR,
            );
            tasks.spawn(async move { writer.submit(command).await });
            // Bounded in flight, well under the writer's queue.
            while tasks.len() >= 2_000 {
                if !matches!(tasks.join_next().await, Some(Ok(Ok(Outcome::Accepted(_))))) {
                    refused += 1;
                }
            }
        }
        while let Some(r) = tasks.join_next().await {
            if !matches!(r, Ok(Ok(Outcome::Accepted(_)))) {
                refused += 1;
            }
        }
        refused
    });
    anyhow::ensure!(refused == 0, "{refused} funding deposits were refused");
    Ok(World {
        customers,
        funded,
        merchant_account: merchant.account,
        agent_float: agent.float,
        first_wallet: wallets.first().copied().unwrap_or(0),
        last_wallet: wallets.last().copied().unwrap_or(0),
        load_seconds,
        fund_seconds: started.elapsed().as_secs_f64(),
    })
}

/// Inserts `count` customers (numbers [`msisdn`]`(0..count)`, tier 2, PIN hash `hash`) and their
/// wallets with two set-based statements per chunk, inside one write transaction.
fn bulk_customers(conn: &mut AnyConnection, count: usize, hash: &str) -> anyhow::Result<()> {
    let now = mkoba::store::now_micros();
    let label_prefix = format!("wallet {PREFIX}");
    let (accounts_sql, customers_sql) = match conn {
        AnyConnection::Sqlite(_) => (
            "WITH RECURSIVE n(i) AS (SELECT $1 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < $2) \
             INSERT INTO accounts (kind, currency, status, tier, owner_type, label, created_at) \
             SELECT 'customer_wallet', 'KES', 'active', 2, 'customer', $3 || printf('%07d', i), $4 \
             FROM n",
            "INSERT INTO customers (msisdn, name, language, wallet_account_id, pin_hash, created_at) \
             SELECT substr(label, 8), 'Bench Customer', 'en', id, $1, $2 FROM accounts \
             WHERE owner_type = 'customer' AND id > $3 ORDER BY id",
        ),
        AnyConnection::Postgres(_) => (
            "INSERT INTO accounts (kind, currency, status, tier, owner_type, label, created_at) \
             SELECT 'customer_wallet', 'KES', 'active', 2, 'customer', \
                    $3 || lpad(i::text, 7, '0'), $4 \
             FROM generate_series($1, $2 - 1) AS i",
            "INSERT INTO customers (msisdn, name, language, wallet_account_id, pin_hash, created_at) \
             SELECT substr(label, 8), 'Bench Customer', 'en', id, $1, $2 FROM accounts \
             WHERE owner_type = 'customer' AND id > $3 ORDER BY id",
        ),
    };
    mkoba::store::db::write_transaction(conn, |conn| {
        const CHUNK: usize = 200_000;
        let mut start = 0;
        while start < count {
            let end = (start + CHUNK).min(count);
            let before: i64 = mkoba::with_conn!(&mut *conn, |c| {
                mkoba::store::schema::accounts::table
                    .select(diesel::dsl::max(mkoba::store::schema::accounts::id))
                    .first::<Option<i64>>(c)
            })?
            .unwrap_or(0);
            let (from, to) = (
                i64::try_from(start).unwrap_or(0),
                i64::try_from(end).unwrap_or(0),
            );
            mkoba::with_conn!(&mut *conn, |c| diesel::sql_query(accounts_sql)
                .bind::<BigInt, _>(from)
                .bind::<BigInt, _>(to)
                .bind::<Text, _>(&label_prefix)
                .bind::<BigInt, _>(now)
                .execute(c))?;
            mkoba::with_conn!(&mut *conn, |c| diesel::sql_query(customers_sql)
                .bind::<Text, _>(hash)
                .bind::<BigInt, _>(now)
                .bind::<BigInt, _>(before)
                .execute(c))?;
            start = end;
        }
        Ok(())
    })?;
    if let AnyConnection::Postgres(c) = conn {
        diesel::sql_query("ANALYZE accounts").execute(c)?;
        diesel::sql_query("ANALYZE customers").execute(c)?;
    }
    Ok(())
}

/// A bare argon2id verify loop on `threads` threads for `seconds`, with the server's hasher
/// (same pepper, memory, iterations and parallelism). Returns verifies per second.
pub fn argon2_loop(config: &Config, threads: usize, seconds: f64) -> anyhow::Result<f64> {
    let hasher = Hasher::new(&config.security, Secret::new(PEPPER.into()))?;
    let stored = hasher.hash(PIN)?;
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let counts: Vec<anyhow::Result<u64>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads.max(1))
            .map(|_| {
                scope.spawn(|| -> anyhow::Result<u64> {
                    let mut n = 0_u64;
                    while Instant::now() < deadline {
                        anyhow::ensure!(hasher.verify(PIN, &stored)?, "the PIN did not verify");
                        n += 1;
                    }
                    Ok(n)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("thread panicked")))
            })
            .collect()
    });
    let mut total = 0;
    for c in counts {
        total += c?;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

/// The running `mkoba serve` child. Dropping it kills the process.
pub struct Server {
    child: Child,
    pub base: String,
    pub log: PathBuf,
}

impl Server {
    /// Starts `mkoba serve` from the bench binary's own directory (cargo puts both there) and
    /// waits until `/healthz` answers.
    pub fn start(env: &[(String, String)], bind: &str, data_dir: &Path) -> anyhow::Result<Server> {
        let exe = std::env::current_exe()?;
        let dir = exe.parent().context("the bench binary has no directory")?;
        let program = dir.join("mkoba");
        anyhow::ensure!(
            program.exists(),
            "{} not found: cargo build --release --bin mkoba",
            program.display()
        );
        let log = data_dir.join("server.log");
        let out = std::fs::File::create(&log)?;
        let child = Command::new(&program)
            .arg("serve")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("starting {}", program.display()))?;
        let mut server = Server {
            child,
            base: format!("http://{bind}"),
            log,
        };
        server.wait_ready()?;
        Ok(server)
    }

    fn wait_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!(
                    "mkoba exited with {status} at start-up:\n{}",
                    self.log_tail()
                );
            }
            if healthy(&self.base) {
                return Ok(());
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "mkoba did not become healthy:\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A field of `/proc/<pid>/status` in KiB (`VmRSS`, `VmHWM`, `Threads` as a plain count).
    pub fn status_field(&self, name: &str) -> Option<u64> {
        proc_status_field(self.pid(), name)
    }

    /// CPU seconds (user + system) the child has used so far.
    pub fn cpu_seconds(&self) -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).ok()?;
        // Fields after the command name (which may hold spaces) start after the last ')'.
        let rest = stat.rsplit_once(')')?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let utime: f64 = fields.get(11)?.parse().ok()?;
        let stime: f64 = fields.get(12)?.parse().ok()?;
        Some((utime + stime) / 100.0)
    }

    pub fn log_tail(&self) -> String {
        let mut text = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut text);
        }
        let lines: Vec<&str> = text.lines().collect();
        lines
            .get(lines.len().saturating_sub(30)..)
            .unwrap_or_default()
            .join("\n")
    }

    /// Stops the server with SIGTERM (actix drains) and waits for it; SIGKILL after 20 s.
    pub fn stop(mut self) -> anyhow::Result<()> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn proc_status_field(pid: u32, name: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// Whether `GET /healthz` answers 200 (a plain HTTP/1.0 exchange: no client needed).
fn healthy(base: &str) -> bool {
    use std::io::Write;
    let Some(addr) = base.strip_prefix("http://") else {
        return false;
    };
    let Ok(mut stream) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /healthz HTTP/1.0\r\nHost: bench\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0_u8; 12];
    stream.read_exact(&mut head).is_ok() && head.ends_with(b" 200")
}

/// A plain connection to the bench database (for checks after the child has stopped).
pub fn connect(config: &Config) -> anyhow::Result<AnyConnection> {
    let options = ConnectionOptions {
        url: config.database_url().map_err(anyhow::Error::msg)?,
        busy_timeout_ms: config.database.busy_timeout_ms,
        statement_timeout_ms: config.database.statement_timeout_ms,
        sqlite_mmap_kib: config.database.sqlite_mmap_kib,
    };
    Ok(options.connect()?)
}

pub fn backend_name(config: &Config) -> &'static str {
    match config.database_url().map(|u| u.backend()) {
        Ok(Backend::Postgres) => "postgres",
        _ => "sqlite",
    }
}

/// What the ledger holds after a run, checked against what the clients counted.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Landed {
    pub merchant_payments: i64,
    pub merchant_credited_minor: i64,
    pub merchant_balance_minor: i64,
    pub reconciled: bool,
    pub mismatches: Vec<String>,
}

#[derive(QueryableByName)]
struct Paid {
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = BigInt)]
    net: i64,
}

/// Counts the merchant payments in the journal and what they credited, reads the merchant's
/// balance, and reconciles the whole ledger.
pub fn landed(conn: &mut AnyConnection, world: &World) -> anyhow::Result<Landed> {
    let sql =
        "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(amount_minor - fee_minor), 0) AS BIGINT) AS net \
               FROM transactions WHERE kind = 'merchant_payment' AND phase = 'posted' \
               AND credit_account_id = $1 AND idempotency_key LIKE 'ussd:%'";
    let paid: Paid = mkoba::with_conn!(&mut *conn, |c| diesel::sql_query(sql)
        .bind::<BigInt, _>(world.merchant_account.0)
        .get_result(c))?;
    let balance = mkoba::store::reads::account(conn, world.merchant_account.0)?
        .map_or(0, |(row, _)| row.balance_minor);
    let report = mkoba::store::reconcile::run(conn)?;
    Ok(Landed {
        merchant_payments: paid.n,
        merchant_credited_minor: paid.net,
        merchant_balance_minor: balance,
        reconciled: report.balanced(),
        mismatches: report.mismatches,
    })
}

#[derive(QueryableByName)]
struct Waiting {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Waits until the server's SMS dispatcher has sent what seeding queued (the funding deposits'
/// notifications), so that a measurement does not include draining that backlog. Returns the
/// seconds waited.
pub fn wait_outbox_drained(config: &Config, timeout: Duration) -> anyhow::Result<f64> {
    let started = Instant::now();
    let mut conn = connect(config)?;
    loop {
        let sql = "SELECT (SELECT COUNT(*) FROM sms_outbox WHERE status IN ('queued', 'sending')) \
                   + (SELECT COUNT(*) FROM sms_confirmations_due) AS n";
        let waiting: Waiting =
            mkoba::with_conn!(&mut conn, |c| diesel::sql_query(sql).get_result(c))?;
        if waiting.n == 0 {
            return Ok(started.elapsed().as_secs_f64());
        }
        anyhow::ensure!(
            started.elapsed() < timeout,
            "{} SMS still waiting after {:?}",
            waiting.n,
            timeout
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
