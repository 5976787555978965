//! `mkoba-crash`: a bank workload under crashes, as Jepsen runs one.
//!
//! Starts the real `mkoba serve` on a fresh PostgreSQL database, opens agents and wallets, and
//! lets many concurrent clients send random transfers, cash-ins and cash-outs (some as pending
//! transfers they later post or void, the rest left to expire) through the operator HTTP API.
//! Every request carries an idempotency key and is retried, unchanged, on any error, 5xx or
//! timeout until the server gives a definitive answer. Meanwhile the server is killed with SIGKILL
//! at random moments and restarted, and PostgreSQL itself is restarted (`--mode immediate`, a
//! crash of the database). At the end the harness checks, straight from the database:
//!
//! - money is conserved to the minor unit (all balances sum to zero; e-money in circulation is
//!   exactly what was issued) and the journal reconciles with every balance;
//! - no balance is below its floor;
//! - every transaction the API acknowledged is in the journal exactly once, under its key, with
//!   the id the API gave; no retry created a second transaction for one client operation;
//! - every pending transfer was posted, voided or expired.
//!
//! cargo run --release --bin mkoba-crash -- --seconds 300 --kills 60 --pg-restarts 6

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use clap::Parser;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use mkoba::store::rows::AccountRow;
use mkoba::store::schema::{accounts, pending_transfers, transactions};
use mkoba::store::{reconcile, AnyConnection, ConnectionOptions, DatabaseUrl};
use mkoba::with_conn;
use mkoba_ledger::AccountKind;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

#[derive(Parser, Clone)]
struct Args {
    /// PostgreSQL server (a fresh `mkoba_crash` database is made on it).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    url: String,
    /// The `mkoba` binary; by default the one next to this program.
    #[arg(long)]
    mkoba: Option<PathBuf>,
    /// How long clients send new operations (the run goes on until the kills and restarts
    /// asked for have happened).
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// At least this many SIGKILLs of the server.
    #[arg(long, default_value_t = 20)]
    kills: u64,
    /// At least this many PostgreSQL restarts.
    #[arg(long, default_value_t = 3)]
    pg_restarts: u64,
    #[arg(long, default_value_t = 16)]
    clients: usize,
    #[arg(long, default_value_t = 40)]
    wallets: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The command that restarts PostgreSQL; by default `pg_ctlcluster` on the one local cluster.
    #[arg(long)]
    pg_restart_cmd: Option<String>,
}

const TOKEN: &str = "crash-harness-admin-token-0123456789abcdef";
const FLOAT_MINOR: i64 = 50_000_000;
const WALLET_MINOR: i64 = 200_000;

#[derive(Default)]
struct Counters {
    operations: AtomicU64,
    acknowledged: AtomicU64,
    replays_seen: AtomicU64,
    rejected: AtomicU64,
    retries: AtomicU64,
    unavailable: AtomicU64,
    transport_errors: AtomicU64,
    duplicates_sent: AtomicU64,
    pendings_opened: AtomicU64,
    rejections: Mutex<BTreeMap<String, u64>>,
}

/// What the API acknowledged: key → (transaction id, client operation).
type Acks = Arc<Mutex<HashMap<String, i64>>>;

struct Server {
    bin: PathBuf,
    dir: PathBuf,
    db_url: String,
    port: u16,
    child: Option<Child>,
    starts: u64,
}

impl Server {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("MKOBA_")) {
            cmd.env_remove(key);
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("server.log"));
        cmd.current_dir(&self.dir)
            .args(args)
            .env("DATABASE_URL", &self.db_url)
            .env("MKOBA_SERVER__BIND", format!("127.0.0.1:{}", self.port))
            .env("MKOBA_SECURITY__ADMIN_TOKEN", TOKEN)
            .env("MKOBA_DEMO__SEED_ON_FIRST_START", "false")
            .env("MKOBA_LOG__FILTER", "warn")
            .env("MKOBA_LEDGER__EXPIRY_SWEEP_INTERVAL_MS", "300")
            .env("MKOBA_DATABASE__CONNECT_TIMEOUT_MS", "1000")
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        match log {
            Ok(file) => cmd.stderr(file),
            Err(_) => cmd.stderr(Stdio::null()),
        };
        cmd
    }

    fn start(&mut self) -> anyhow::Result<()> {
        self.child = Some(
            self.command(&["serve"])
                .spawn()
                .context("starting mkoba serve")?,
        );
        self.starts += 1;
        Ok(())
    }

    /// SIGKILL: no shutdown hook, no flush, no goodbye.
    fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill()?;
            child.wait()?;
        }
        Ok(())
    }

    /// Restarts the server if it exited on its own (for instance when the database was away at
    /// start-up), as a supervisor would.
    fn supervise(&mut self) -> anyhow::Result<()> {
        let exited = match self.child.as_mut() {
            Some(child) => child.try_wait()?.is_some(),
            None => true,
        };
        if exited {
            self.child = None;
            self.start()?;
        }
        Ok(())
    }
}

async fn ready(http: &reqwest::Client, base: &str) -> bool {
    matches!(
        http.get(format!("{base}/readyz")).send().await,
        Ok(r) if r.status().is_success()
    )
}

/// Sends one request until it gets a definitive answer: the receipt, or a rejection. Any
/// transport error, timeout or 5xx is retried with the same body (and so the same key).
async fn until_answered(
    http: &reqwest::Client,
    url: &str,
    body: &Value,
    counters: &Counters,
    stop_retrying: &AtomicBool,
) -> anyhow::Result<Option<(u16, Value)>> {
    let mut first = true;
    loop {
        if !first {
            counters.retries.fetch_add(1, Ordering::Relaxed);
            if stop_retrying.load(Ordering::Relaxed) {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        first = false;
        let sent = http.post(url).bearer_auth(TOKEN).json(body).send().await;
        let response = match sent {
            Ok(r) => r,
            Err(_) => {
                counters.transport_errors.fetch_add(1, Ordering::Relaxed);
                continue;
            }
        };
        let status = response.status().as_u16();
        if status >= 500 {
            counters.unavailable.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let Ok(value) = response.json::<Value>().await else {
            counters.transport_errors.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        return Ok(Some((status, value)));
    }
}

struct World {
    agents: Vec<i64>,
    wallets: Vec<i64>,
}

struct Client {
    id: usize,
    http: reqwest::Client,
    base: String,
    world: Arc<World>,
    acks: Acks,
    counters: Arc<Counters>,
    stop_new: Arc<AtomicBool>,
    stop_retrying: Arc<AtomicBool>,
    rng: StdRng,
    n: u64,
    /// Acknowledged requests, for deliberate duplicates: (url, body, transaction id).
    sent: Vec<(String, Value, i64)>,
    /// Open pending transfers this client may post or void.
    pendings: Vec<i64>,
}

impl Client {
    fn pick(&mut self, items: &[i64]) -> i64 {
        items
            .get(self.rng.gen_range(0..items.len().max(1)))
            .copied()
            .unwrap_or(0)
    }

    async fn run(mut self) -> anyhow::Result<()> {
        while !self.stop_new.load(Ordering::Relaxed) {
            self.n += 1;
            let key = format!("crash-c{}-{}", self.id, self.n);
            let roll = self.rng.gen_range(0..100);
            let (url, body) = if roll < 10 && !self.pendings.is_empty() {
                let i = self.rng.gen_range(0..self.pendings.len());
                let pending = self.pendings.swap_remove(i);
                let action = if self.rng.gen_bool(0.7) {
                    "post"
                } else {
                    "void"
                };
                (
                    format!("{}/ops/v1/pending/{pending}/{action}", self.base),
                    json!({ "idempotency_key": key }),
                )
            } else if roll < 14 && !self.sent.is_empty() {
                // The same request again after its answer: must replay, never post twice.
                let i = self.rng.gen_range(0..self.sent.len());
                let Some((url, body, id)) = self.sent.get(i).cloned() else {
                    continue;
                };
                self.counters
                    .duplicates_sent
                    .fetch_add(1, Ordering::Relaxed);
                if let Some((status, value)) =
                    until_answered(&self.http, &url, &body, &self.counters, &self.stop_retrying)
                        .await?
                {
                    let replayed_id = value.get("transaction_id").and_then(Value::as_i64);
                    ensure!(
                        status == 200 && replayed_id == Some(id),
                        "a repeated request was answered {status} {value} instead of a replay of {id}"
                    );
                    self.counters.replays_seen.fetch_add(1, Ordering::Relaxed);
                }
                continue;
            } else {
                let (agents, wallets) = (self.world.agents.clone(), self.world.wallets.clone());
                let (kind, debit, credit) = match roll {
                    14..=49 => ("transfer", self.pick(&wallets), self.pick(&wallets)),
                    50..=74 => ("deposit", self.pick(&agents), self.pick(&wallets)),
                    _ => ("withdrawal", self.pick(&wallets), self.pick(&agents)),
                };
                let minor: i64 = self.rng.gen_range(1_000..40_000);
                let expiry = if self.rng.gen_bool(0.15) {
                    Some(self.rng.gen_range(2..15_i64))
                } else {
                    None
                };
                (
                    format!("{}/ops/v1/transactions", self.base),
                    json!({
                        "idempotency_key": key,
                        "kind": kind,
                        "debit_account_id": debit,
                        "credit_account_id": credit,
                        "amount": format!("{}.{:02}", minor / 100, minor % 100),
                        "currency": "KES",
                        "metadata": { "op": key },
                        "pending_expiry_seconds": expiry,
                    }),
                )
            };
            self.counters.operations.fetch_add(1, Ordering::Relaxed);
            let Some((status, value)) =
                until_answered(&self.http, &url, &body, &self.counters, &self.stop_retrying)
                    .await?
            else {
                continue;
            };
            match status {
                200 | 201 => {
                    let id = value
                        .get("transaction_id")
                        .and_then(Value::as_i64)
                        .context("receipt without transaction_id")?;
                    if status == 200 {
                        // The first attempt committed but its answer was lost.
                        self.counters.replays_seen.fetch_add(1, Ordering::Relaxed);
                    }
                    self.counters.acknowledged.fetch_add(1, Ordering::Relaxed);
                    let previous = self
                        .acks
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert(key.clone(), id);
                    ensure!(previous.is_none(), "key {key} acknowledged twice");
                    if value.get("phase").and_then(Value::as_str) == Some("pending") {
                        self.counters
                            .pendings_opened
                            .fetch_add(1, Ordering::Relaxed);
                        self.pendings.push(id);
                    }
                    if self.sent.len() < 200 {
                        self.sent.push((url, body, id));
                    }
                }
                _ => {
                    let name = value.get("error").and_then(Value::as_str).unwrap_or("?");
                    ensure!(
                        name != "idempotency_key_reused" && name != "unauthorized",
                        "unexpected answer {status} {value} to {body}"
                    );
                    self.counters.rejected.fetch_add(1, Ordering::Relaxed);
                    *self
                        .counters
                        .rejections
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .entry(name.to_owned())
                        .or_default() += 1;
                }
            }
        }
        Ok(())
    }
}

fn pg_restart_command(args: &Args) -> String {
    if let Some(cmd) = &args.pg_restart_cmd {
        return cmd.clone();
    }
    let version = std::fs::read_dir("/etc/postgresql")
        .ok()
        .and_then(|mut d| d.next())
        .and_then(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .unwrap_or_else(|| "15".into());
    format!("pg_ctlcluster --skip-systemctl-redirect {version} main restart --mode immediate")
}

fn restart_postgres(cmd: &str) -> anyhow::Result<()> {
    let status = Command::new("sh")
        .args(["-c", cmd])
        .stdout(Stdio::null())
        .status()?;
    ensure!(status.success(), "`{cmd}` failed: {status}");
    Ok(())
}

fn wait_for_postgres(admin: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while diesel::PgConnection::establish(admin).is_err() {
        ensure!(Instant::now() < deadline, "PostgreSQL did not come back");
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

fn setup_database(admin: &str) -> anyhow::Result<String> {
    let mut conn = diesel::PgConnection::establish(admin)?;
    conn.batch_execute("DROP DATABASE IF EXISTS mkoba_crash WITH (FORCE)")?;
    conn.batch_execute("CREATE DATABASE mkoba_crash")?;
    let base = admin.rsplit_once('/').map_or(admin, |(b, _)| b);
    Ok(format!("{base}/mkoba_crash"))
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let started = Instant::now();
    let bin = match &args.mkoba {
        Some(p) => p.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("no parent dir")?
            .join("mkoba"),
    };
    ensure!(bin.exists(), "no mkoba binary at {}", bin.display());
    let dir = std::env::temp_dir().join(format!("mkoba-crash-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let db_url = setup_database(&args.url)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut server = Server {
        bin,
        dir: dir.clone(),
        db_url: db_url.clone(),
        port,
        child: None,
        starts: 0,
    };
    ensure!(
        server.command(&["migrate"]).status()?.success(),
        "mkoba migrate failed"
    );
    let options = ConnectionOptions {
        url: DatabaseUrl::Postgres(db_url.clone()),
        busy_timeout_ms: 5_000,
        statement_timeout_ms: 60_000,
        sqlite_mmap_kib: mkoba::store::db::SQLITE_MMAP_KIB_DEFAULT,
    };
    let world = {
        let mut conn = options.connect()?;
        let system = mkoba::store::parties::ensure_system_accounts(
            &mut conn,
            &[mkoba_ledger::Currency::KES],
        )?;
        let mut agents = Vec::new();
        for i in 0..4 {
            let agent = mkoba::store::parties::create_agent(
                &mut conn,
                &mkoba::store::parties::NewAgent {
                    code: &format!("CRASH{i}"),
                    name: "Crash Agent",
                    role: mkoba::store::parties::AgentRole::Agent,
                    parent_agent_id: None,
                    msisdn: &format!("+25471200000{i}"),
                    currency: mkoba_ledger::Currency::KES,
                    password_hash: "-",
                },
            )?;
            agents.push(agent.float.0);
        }
        let wallets = mkoba::store::parties::bulk_customers(
            &mut conn,
            args.wallets,
            "+254713",
            mkoba_ledger::Currency::KES,
            mkoba_ledger::Tier::Tier2,
        )?;
        let issuance = system
            .get(&mkoba_ledger::Currency::KES)
            .context("KES")?
            .issuance
            .0;
        (
            issuance,
            agents,
            wallets.iter().map(|w| w.0).collect::<Vec<i64>>(),
        )
    };
    let (issuance, agents, wallets) = world;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()?;
    server.start()?;
    let counters = Arc::new(Counters::default());
    let stop_flag = Arc::new(AtomicBool::new(false));
    let (issued, opening_acks) = runtime.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !ready(&http, &base).await {
            ensure!(Instant::now() < deadline, "the server never became ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // The opening, through the API like everything else: float for every agent, money in
        // every wallet.
        let mut issued = 0_i64;
        let mut acks = 0_u64;
        let url = format!("{base}/ops/v1/transactions");
        let mut requests = Vec::new();
        for (i, agent) in agents.iter().enumerate() {
            requests.push(
                json!({ "idempotency_key": format!("open-float-{i}"), "kind": "float_issuance",
                "debit_account_id": issuance, "credit_account_id": agent,
                "amount": format!("{}", FLOAT_MINOR / 100), "currency": "KES" }),
            );
            issued += FLOAT_MINOR;
        }
        for (i, wallet) in wallets.iter().enumerate() {
            let agent = agents.get(i % agents.len()).copied().unwrap_or(0);
            requests.push(
                json!({ "idempotency_key": format!("open-wallet-{i}"), "kind": "deposit",
                "debit_account_id": agent, "credit_account_id": wallet,
                "amount": format!("{}", WALLET_MINOR / 100), "currency": "KES" }),
            );
        }
        for body in requests {
            let answer = until_answered(&http, &url, &body, &counters, &stop_flag).await?;
            ensure!(
                matches!(answer, Some((201, _))),
                "opening refused: {answer:?} for {body}"
            );
            acks += 1;
        }
        Ok::<_, anyhow::Error>((issued, acks))
    })?;
    println!(
        "opening: {} agents with float, {} wallets funded ({opening_acks} transactions), {:.1} s",
        agents.len(),
        wallets.len(),
        started.elapsed().as_secs_f64()
    );

    let world = Arc::new(World { agents, wallets });
    let acks: Acks = Arc::new(Mutex::new(HashMap::new()));
    let stop_new = Arc::new(AtomicBool::new(false));
    let stop_retrying = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for id in 0..args.clients {
        let client = Client {
            id,
            http: http.clone(),
            base: base.clone(),
            world: Arc::clone(&world),
            acks: Arc::clone(&acks),
            counters: Arc::clone(&counters),
            stop_new: Arc::clone(&stop_new),
            stop_retrying: Arc::clone(&stop_retrying),
            rng: StdRng::seed_from_u64(args.seed.wrapping_mul(1_000).wrapping_add(id as u64)),
            n: 0,
            sent: Vec::new(),
            pendings: Vec::new(),
        };
        tasks.push(runtime.spawn(client.run()));
    }

    // The nemesis: SIGKILL the server at random moments; restart PostgreSQL now and then.
    let mut rng = StdRng::seed_from_u64(args.seed);
    let pg_cmd = pg_restart_command(&args);
    let (mut kills, mut pg_restarts) = (0_u64, 0_u64);
    let workload_end = Instant::now() + Duration::from_secs(args.seconds);
    let restart_every = (args.kills / args.pg_restarts.max(1)).max(1);
    let mut round = 0_u64;
    while Instant::now() < workload_end || kills < args.kills || pg_restarts < args.pg_restarts {
        round += 1;
        std::thread::sleep(Duration::from_millis(rng.gen_range(300..2_500)));
        if pg_restarts < args.pg_restarts && round % (restart_every + 1) == 0 {
            // The database crashes under a running server, which must ride it out.
            restart_postgres(&pg_cmd)?;
            wait_for_postgres(&args.url)?;
            pg_restarts += 1;
            server.supervise()?;
            continue;
        }
        server.kill()?;
        kills += 1;
        std::thread::sleep(Duration::from_millis(rng.gen_range(0..400)));
        server.start()?;
        eprintln!(
            "kills {kills}, PostgreSQL restarts {pg_restarts}, operations {}",
            counters.operations.load(Ordering::Relaxed)
        );
    }
    // Calm: the server stays up; clients finish what they started, then stop.
    stop_new.store(true, Ordering::Relaxed);
    let calm = runtime.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            server.supervise()?;
            if ready(&http, &base).await {
                break;
            }
            ensure!(
                Instant::now() < deadline,
                "the server never became ready again"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let mut failures = Vec::new();
        for task in tasks {
            match tokio::time::timeout(Duration::from_secs(120), task).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => failures.push(format!("{e:#}")),
                Ok(Err(e)) => failures.push(format!("client task: {e}")),
                Err(_) => {
                    stop_retrying.store(true, Ordering::Relaxed);
                    failures.push("a client never got an answer".into());
                }
            }
        }
        Ok::<_, anyhow::Error>(failures)
    })?;
    ensure!(calm.is_empty(), "clients failed: {calm:?}");

    // Every reservation clients left open must lapse and be voided by the sweeper.
    let mut conn = options.connect()?;
    let deadline = Instant::now() + Duration::from_secs(90);
    let open = loop {
        let open: i64 = with_conn!(&mut conn, |c| pending_transfers::table
            .filter(pending_transfers::status.eq("open"))
            .count()
            .get_result(c))?;
        if open == 0 || Instant::now() > deadline {
            break open;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    server.kill()?;

    let report = check(&mut conn, issuance, issued, &acks, open)?;
    let c = &counters;
    println!("crash run: {:.0} s", started.elapsed().as_secs_f64());
    println!(
        "  server SIGKILLs:              {kills} (server starts {})",
        server.starts
    );
    println!("  PostgreSQL restarts:          {pg_restarts} (immediate mode)");
    println!("  clients:                      {}", args.clients);
    println!(
        "  operations sent:              {}",
        c.operations.load(Ordering::Relaxed)
    );
    println!(
        "  acknowledged:                 {}",
        c.acknowledged.load(Ordering::Relaxed)
    );
    println!(
        "  rejected (4xx, by name):      {}",
        c.rejected.load(Ordering::Relaxed)
    );
    println!(
        "  rejections:                   {:?}",
        c.rejections.lock().unwrap_or_else(PoisonError::into_inner)
    );
    println!(
        "  retries:                      {}",
        c.retries.load(Ordering::Relaxed)
    );
    println!(
        "  5xx answers:                  {}",
        c.unavailable.load(Ordering::Relaxed)
    );
    println!(
        "  transport errors/timeouts:    {}",
        c.transport_errors.load(Ordering::Relaxed)
    );
    println!(
        "  answers that were replays:    {}",
        c.replays_seen.load(Ordering::Relaxed)
    );
    println!(
        "  deliberate duplicates sent:   {}",
        c.duplicates_sent.load(Ordering::Relaxed)
    );
    println!(
        "  pending transfers opened:     {}",
        c.pendings_opened.load(Ordering::Relaxed)
    );
    for line in report {
        println!("  {line}");
    }
    let _ = std::fs::remove_dir_all(&dir);
    if let Ok(mut admin) = diesel::PgConnection::establish(&args.url) {
        let _ = admin.batch_execute("DROP DATABASE IF EXISTS mkoba_crash WITH (FORCE)");
    }
    println!("OK: nothing lost, nothing duplicated, nothing invented");
    Ok(())
}

/// The end-of-run checks; each failure is an error naming what was wrong.
fn check(
    conn: &mut AnyConnection,
    issuance: i64,
    issued: i64,
    acks: &Acks,
    open: i64,
) -> anyhow::Result<Vec<String>> {
    let mut lines = Vec::new();
    let rows: Vec<AccountRow> = with_conn!(conn, |c| accounts::table
        .select(AccountRow::as_select())
        .load(c))?;
    let mut total = 0_i128;
    let mut below = Vec::new();
    let mut issuance_balance = None;
    for row in &rows {
        let state = row.to_state()?;
        total += i128::from(state.balance_minor);
        if !state.is_within_floor() {
            below.push(state.id.0);
        }
        if state.id.0 == issuance {
            issuance_balance = Some(state.balance_minor);
        }
        ensure!(
            state.kind != AccountKind::EmoneyIssuance || state.id.0 == issuance,
            "an unexpected issuance account {}",
            state.id.0
        );
    }
    ensure!(total == 0, "money not conserved: balances sum to {total}");
    ensure!(
        issuance_balance == Some(-issued),
        "e-money in circulation is {:?}, issued {issued}",
        issuance_balance.map(i64::wrapping_neg)
    );
    lines.push(format!(
        "money conserved: all {} balances sum to 0; e-money in circulation {issued} minor units = issued",
        rows.len()
    ));
    ensure!(below.is_empty(), "accounts below their floor: {below:?}");
    lines.push("balances below their floor: 0".into());

    let report = reconcile::run(conn)?;
    ensure!(
        report.balanced(),
        "the journal does not reconcile: {:?}",
        report.mismatches
    );
    lines.push("journal reconciles with every balance: yes".into());

    let journal: Vec<(i64, String, String)> = with_conn!(conn, |c| transactions::table
        .select((
            transactions::id,
            transactions::idempotency_key,
            transactions::metadata
        ))
        .load(c))?;
    let mut by_key: HashMap<&str, Vec<i64>> = HashMap::new();
    let mut by_op: BTreeMap<String, u64> = BTreeMap::new();
    for (id, key, metadata) in &journal {
        by_key.entry(key.as_str()).or_default().push(*id);
        if let Some(op) = serde_json::from_str::<Value>(metadata)
            .ok()
            .and_then(|m| m.get("op").and_then(Value::as_str).map(str::to_owned))
        {
            *by_op.entry(op).or_default() += 1;
        }
    }
    let acks = acks.lock().unwrap_or_else(PoisonError::into_inner);
    let mut missing = 0;
    let mut wrong = 0;
    for (key, id) in acks.iter() {
        match by_key.get(key.as_str()).map(Vec::as_slice) {
            Some([found]) if found == id => {}
            Some(_) => wrong += 1,
            None => missing += 1,
        }
    }
    ensure!(
        missing == 0 && wrong == 0,
        "{missing} acknowledged transactions missing, {wrong} under another id or twice"
    );
    lines.push(format!(
        "acknowledged transactions in the journal exactly once: {} of {}",
        acks.len(),
        acks.len()
    ));
    let duplicated = by_op.values().filter(|n| **n > 1).count();
    ensure!(
        duplicated == 0,
        "{duplicated} client operations posted more than once"
    );
    let unacknowledged = by_op.keys().filter(|op| !acks.contains_key(*op)).count();
    lines.push(format!(
        "client operations in the journal more than once: 0 ({} journal rows; {unacknowledged} committed but never acknowledged)",
        journal.len()
    ));
    ensure!(open == 0, "{open} pending transfers are still open");
    let statuses: Vec<(String, i64)> = with_conn!(conn, |c| pending_transfers::table
        .group_by(pending_transfers::status)
        .select((pending_transfers::status, diesel::dsl::count_star()))
        .load(c))?;
    lines.push(format!(
        "pending transfers still open: 0; resolved: {statuses:?}"
    ));
    if acks.is_empty() {
        bail!("no operation was acknowledged: the workload never ran");
    }
    Ok(lines)
}
