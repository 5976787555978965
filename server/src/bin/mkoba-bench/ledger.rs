//! `mkoba-bench ledger`: durable transfers through the real writer (fee and commission legs,
//! idempotency keys, limits, SMS outbox rows) and, on PostgreSQL, PostgreSQL's own TPC-B
//! (`pgbench`) on the same machine for comparison.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, ValueEnum};
use mkoba::app::App;
use mkoba::config::{Config, Secret};
use mkoba::store::parties::{self, AgentRole, NewAgent};
use mkoba::store::writer::SystemClock;
use mkoba::store::{checkout, reconcile, DatabaseUrl};
use mkoba_ledger::{AccountId, Command, Currency, Money, Outcome, Tier, TxnKind, TxnRequest};
use serde::Serialize;

#[derive(Clone, Copy, Debug, ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Workload {
    /// Transfers between random wallets.
    Uniform,
    /// Every transfer is a cash-in from one agent float.
    Hot,
    /// One-minor-unit charges against each wallet's allowance for one merchant (no PIN).
    Micro,
}

/// The idempotency keys the bench's clients send.
#[derive(Clone, Copy, Debug, ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Keys {
    /// Keys as each workload's channel makes them: `uniform` transfers are customers' USSD
    /// payments (the engine's `step_key`: `ussd:<opened>:<gateway session>:0:send`, ordered by
    /// the second the session opened, `--session-age-seconds` before the payment), `hot`
    /// cash-ins are an agent's portal forms (`portal-cash-in:<user>:<form token>`, ordered by
    /// the second the form was issued), `micro` charges are a merchant's API calls
    /// (`m<merchant>:charge:<32 random hex digits>`).
    Channel,
    /// 32 random hex digits for every workload, as API clients send them.
    Random,
    /// `c<client>-<n>`: clustered at one place per client.
    Clustered,
}

#[derive(Args, Clone)]
pub struct LedgerArgs {
    /// `sqlite://path` (a new file) or `postgres://…/db` (a `mkoba_bench` database is made beside it).
    #[arg(long, default_value = "sqlite:///tmp/mkoba-bench.db")]
    pub url: String,
    #[arg(long, value_enum, default_value = "uniform")]
    pub workload: Workload,
    #[arg(long, default_value_t = 10_000)]
    pub wallets: usize,
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    #[arg(long, default_value_t = 1)]
    pub writer_threads: usize,
    #[arg(long, default_value_t = 1_000)]
    pub batch_max: usize,
    /// Journal history to bulk-load before the run: this many past transfers (each with its
    /// posting), in pairs that cancel out so that every balance still reconciles.
    #[arg(long, default_value_t = 0)]
    pub seed_journal: u64,
    /// Also run pgbench (TPC-B) at the same client count and report the ratio (PostgreSQL only).
    #[arg(long)]
    pub pgbench: bool,
    /// SQLite's memory map per connection, in KiB (`database.sqlite_mmap_kib`; 0 turns it off).
    #[arg(long)]
    pub sqlite_mmap_kib: Option<u32>,
    /// SQL run after the set-up and before the workload, `;`-separated: an A/B of a schema
    /// change, e.g. `--schema-sql "CREATE INDEX sms_outbox_recipient ON sms_outbox (recipient, id)"`
    /// to measure the index migration 000013 dropped. Figures with it are not mkoba's.
    #[arg(long, default_value = "")]
    pub schema_sql: String,
    /// Write the figures as JSON here too.
    #[arg(long)]
    pub json: Option<std::path::PathBuf>,
    /// SQLite only, for A/B runs on one big history: if this file exists, the run starts from a
    /// copy of it instead of setting up and loading; if not, the set-up state (wallets funded,
    /// history loaded, log checkpointed) is saved here before the workload runs.
    #[arg(long)]
    pub snapshot: Option<std::path::PathBuf>,
    /// The live idempotency keys (the seeded history's are random hex whatever this says).
    #[arg(long, value_enum, default_value = "random")]
    pub keys: Keys,
    /// `--keys channel`, uniform: how long ago a paying USSD session opened, drawn evenly from
    /// 0 to this many seconds (a dial shortcut pays about 10 s after the dial, a menu journey
    /// about 30 s). The keys' time is the opening second, so this is how far back in the index
    /// the live keys land.
    #[arg(long, default_value_t = 30)]
    pub session_age_seconds: u64,
    /// `ledger.sqlite_writer_checkpoint_pages` for this run.
    #[arg(long)]
    pub writer_checkpoint_pages: Option<u32>,
    /// `ledger.checkpoint_interval_ms` for this run: how often the checkpointer thread copies
    /// the log into the database file.
    #[arg(long)]
    pub checkpoint_interval_ms: Option<u64>,
    /// `ledger.sqlite_writer_account_cache_max` for this run (0: the writer reads every account
    /// afresh, as before session 17).
    #[arg(long)]
    pub account_cache_max: Option<usize>,
    /// `ledger.sqlite_writer_cache_kib` for this run (the writer connection's page cache).
    #[arg(long)]
    pub writer_cache_kib: Option<u32>,
}

#[derive(Serialize)]
pub struct Figures {
    workload: Workload,
    pub backend: &'static str,
    clients: usize,
    seconds: f64,
    /// Journal transactions present before the run (bulk-loaded history).
    pub seeded_journal: u64,
    keys: Keys,
    session_age_seconds: u64,
    accepted: u64,
    rejected: u64,
    rejections: std::collections::BTreeMap<String, u64>,
    pub transfers_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    pgbench_tps: Option<f64>,
    ratio_to_pgbench: Option<f64>,
    reconciled: bool,
    /// CPU time the ledger writer threads used per accepted transfer: comparable across runs
    /// even when other work shares the machine (throughput is not).
    writer_cpu_us_per_transfer: f64,
}

pub fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() - 1) as f64 * p).round() as usize;
    f64::from(sorted.get(rank).copied().unwrap_or(0)) / 1_000.0
}

/// A fresh `mkoba_bench` database (or SQLite file), and on PostgreSQL the server's base URL for
/// pgbench's own database.
pub fn prepare_database(url: &str) -> anyhow::Result<(String, Option<String>)> {
    let fresh = crate::served::prepare_database(url, "mkoba_bench")?;
    let base = match DatabaseUrl::parse(url).map_err(anyhow::Error::msg)? {
        DatabaseUrl::Sqlite(_) => None,
        DatabaseUrl::Postgres(admin) => Some(
            admin
                .rsplit_once('/')
                .map_or(admin.as_str(), |(b, _)| b)
                .to_owned(),
        ),
    };
    Ok((fresh, base))
}

fn pgbench(base: &str, clients: usize, seconds: u64) -> anyhow::Result<f64> {
    let admin = format!("{base}/postgres");
    let psql = |sql: &str| {
        std::process::Command::new("psql")
            .args([admin.as_str(), "-qc", sql])
            .status()
    };
    psql("DROP DATABASE IF EXISTS mkoba_pgbench WITH (FORCE)")?;
    psql("CREATE DATABASE mkoba_pgbench")?;
    let db = format!("{base}/mkoba_pgbench");
    let init = std::process::Command::new("pgbench")
        .args(["-i", "-s", "10", "-q", &db])
        .output()?;
    anyhow::ensure!(
        init.status.success(),
        "pgbench -i failed: {}",
        String::from_utf8_lossy(&init.stderr)
    );
    let run = std::process::Command::new("pgbench")
        .args([
            "-c",
            &clients.to_string(),
            "-j",
            "2",
            "-T",
            &seconds.to_string(),
            "-M",
            "prepared",
            &db,
        ])
        .output()?;
    let text = String::from_utf8_lossy(&run.stdout);
    let tps = text
        .lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| {
            l.trim_start_matches("tps = ")
                .split_whitespace()
                .next()
                .map(str::to_owned)
        })
        .context("pgbench printed no tps")?;
    Ok(tps.parse()?)
}

pub fn run(args: LedgerArgs) -> anyhow::Result<()> {
    let json = args.json.clone();
    let figures = measure(args)?;
    print_table(&[&figures]);
    if let Some(path) = json {
        std::fs::write(&path, serde_json::to_string_pretty(&figures)?)?;
    }
    Ok(())
}

/// One run: a fresh database, the wallets, optional history, the workload, reconciliation.
pub fn measure(args: LedgerArgs) -> anyhow::Result<Figures> {
    let (url, pg_base) = prepare_database(&args.url)?;
    let data = tempfile_dir()?;
    let sqlite_file = match DatabaseUrl::parse(&url).map_err(anyhow::Error::msg)? {
        DatabaseUrl::Sqlite(path) => Some(path),
        DatabaseUrl::Postgres(_) => None,
    };
    let restore = match (&args.snapshot, &sqlite_file) {
        (Some(snapshot), Some(file)) if snapshot.exists() => {
            eprintln!("starting from a copy of {}…", snapshot.display());
            std::fs::copy(snapshot, file)?;
            // Flushed before the run: otherwise the kernel writes the copy's 2 GB back while the
            // run's commits wait for their fsyncs (it halved some 10M figures).
            std::fs::File::open(file)?.sync_all()?;
            // The snapshot's PINs were hashed with its run's generated pepper.
            std::fs::copy(snapshot.with_extension("pepper"), data.join("pepper"))?;
            true
        }
        (Some(_), None) => anyhow::bail!("--snapshot is for SQLite"),
        _ => false,
    };
    let mut config = Config {
        data_dir: data.clone(),
        ..Config::default()
    };
    config.database.url = Secret::new(url.clone());
    config.database.migrate_on_start = true;
    config.ledger.writer_threads = args.writer_threads;
    config.ledger.batch_max = args.batch_max;
    if let Some(pages) = args.writer_checkpoint_pages {
        config.ledger.sqlite_writer_checkpoint_pages = pages;
    }
    if let Some(ms) = args.checkpoint_interval_ms {
        config.ledger.checkpoint_interval_ms = ms;
    }
    if let Some(accounts) = args.account_cache_max {
        config.ledger.sqlite_writer_account_cache_max = accounts;
    }
    if let Some(kib) = args.writer_cache_kib {
        config.ledger.sqlite_writer_cache_kib = kib;
    }
    if let Some(kib) = args.sqlite_mmap_kib {
        config.database.sqlite_mmap_kib = kib;
    }
    config.log.filter = "warn".into();
    mkoba::telemetry::init("pretty", "warn");
    let (mut app, mut threads) = App::start(config.clone(), Arc::new(SystemClock))?;
    let backend = match app.backend() {
        mkoba::store::Backend::Sqlite => "sqlite",
        mkoba::store::Backend::Postgres => "postgres",
    };

    let mut conn = checkout(&app.pool)?;
    let (float, merchant, wallets, allowances) = if restore {
        restored(&mut conn, args.workload)?
    } else {
        set_up(&app, &mut conn, &args)?
    };
    if matches!(args.workload, Workload::Hot) {
        // Every cash-in draws 50.00 KES from the float, and the wallets' funding took half of
        // one issuance: one more per 10 s of run keeps it funded up to 100,000 cash-ins/s, so a
        // fast run is never cut short by refusals (one ran dry at 50,000/s for 20 s). Issued
        // here, after a restored snapshot too, under keys of this run.
        for n in 0..args.seconds.div_ceil(10) {
            let key = format!("run-float-{}-{n}", std::process::id());
            issue_float(&app, &key, float)?;
        }
    }
    if let (Some(snapshot), Some(file), false) = (&args.snapshot, &sqlite_file, restore) {
        eprintln!("saving the set-up state to {}…", snapshot.display());
        // A copy of the database file alone is the whole state only if the log was copied in
        // full and emptied.
        checkpoint_in_full(&mut conn).context("no snapshot saved")?;
        std::fs::copy(file, snapshot)?;
        // Flushed now, not by the kernel during this run's measured seconds.
        std::fs::File::open(snapshot)?.sync_all()?;
        std::fs::copy(data.join("pepper"), snapshot.with_extension("pepper"))?;
    }
    if !restore && args.seed_journal > 0 {
        // The run gets a server started on the loaded history, as after a restart, and as a
        // run from a snapshot does. A writer whose connection was open through the load read
        // about ten times as many pages (`pread64` on the log, 2M history) and ran 10-30% slower
        // than one started on a copy of the very same file.
        if sqlite_file.is_some() {
            // The load's own closing checkpoint gives up if the checkpointer thread is still
            // copying the load's log (gigabytes at 10M); the server would then stop only when
            // that copy ends, well past the wait below.
            checkpoint_in_full(&mut conn)?;
        }
        drop(conn);
        drop(app);
        // Two servers' writers on one database would not be the server measured.
        anyhow::ensure!(
            threads.join_within(Duration::from_secs(10)),
            "the server did not stop after the load"
        );
        (app, threads) = App::start(config, Arc::new(SystemClock))?;
        conn = checkout(&app.pool)?;
    }
    for statement in args.schema_sql.split(';').filter(|s| !s.trim().is_empty()) {
        eprintln!("schema change for this run: {}", statement.trim());
        mkoba::with_conn!(&mut *conn, |c| diesel::RunQueryDsl::execute(
            diesel::sql_query(statement),
            c
        ))?;
    }
    drop(conn);
    let allowances = Arc::new(allowances);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let submit = kes_transfer;
    let seeded_journal = if restore {
        let n: i64 = mkoba::with_conn!(&mut *checkout(&app.pool)?, |c| {
            use diesel::prelude::*;
            mkoba::store::schema::transactions::table
                // Seeded codes start with a lowercase `x`, which no real code contains.
                .filter(mkoba::store::schema::transactions::code.ge("x"))
                .count()
                .get_result(c)
        })?;
        u64::try_from(n)?
    } else {
        args.seed_journal
    };
    eprintln!(
        "running {:?} with {} clients for {} s…",
        args.workload, args.clients, args.seconds
    );
    let writer_cpu_before = writer_cpu_seconds();
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let started = Instant::now();
    let wallets = Arc::new(wallets);
    let results: Vec<(u64, std::collections::BTreeMap<String, u64>, Vec<u32>)> =
        runtime.block_on(async {
            let mut tasks = tokio::task::JoinSet::new();
            for client in 0..args.clients {
                let (writer, wallets, workload) =
                    (app.writer.clone(), Arc::clone(&wallets), args.workload);
                let allowances = Arc::clone(&allowances);
                let merchant: AccountId = merchant;
                let (keys, age) = (args.keys, args.session_age_seconds);
                tasks.spawn(async move {
                    let (mut accepted, mut rejected, mut latencies) = (
                        0_u64,
                        std::collections::BTreeMap::<String, u64>::new(),
                        Vec::new(),
                    );
                    let mut n: u64 = 0;
                    while Instant::now() < deadline {
                        // A multiplicative hash spreads consecutive numbers over all wallets.
                        let pick = |k: u64| {
                            let index = k.wrapping_mul(2_654_435_761) % wallets.len().max(1) as u64;
                            wallets
                                .get(usize::try_from(index).unwrap_or(0))
                                .copied()
                                .unwrap_or(AccountId(0))
                        };
                        let key = live_key(keys, age, workload, client as u64, n);
                        let command = match workload {
                            Workload::Uniform => {
                                // Both ends drawn from every wallet alike (splitmix64 of the
                                // client and the count), so money flows in and out of each
                                // wallet at the same rate and no wallet runs dry.
                                let lane = client as u64;
                                let count = wallets.len();
                                let from = crate::ussd::pick(lane, n * 2, count);
                                let mut to = crate::ussd::pick(lane, n * 2 + 1, count);
                                if to == from {
                                    to = (to + 1) % count.max(1);
                                }
                                let at = |i: usize| wallets.get(i).copied().unwrap_or(AccountId(0));
                                submit(key, TxnKind::Transfer, at(from), at(to), 5_000)
                            }
                            Workload::Hot => {
                                submit(key, TxnKind::Deposit, float, pick(n + client as u64), 5_000)
                            }
                            Workload::Micro => {
                                let k = (n + client as u64).wrapping_mul(2_654_435_761);
                                let index = usize::try_from(k % allowances.len().max(1) as u64)
                                    .unwrap_or(0);
                                let _ = merchant;
                                Command::Charge {
                                    idempotency_key: key,
                                    allowance: mkoba_ledger::AllowanceId(
                                        allowances.get(index).copied().unwrap_or(0),
                                    ),
                                    amount: Money::from_minor(1, Currency::KES),
                                    memo: "article".into(),
                                    metadata: String::new(),
                                }
                            }
                        };
                        let t = Instant::now();
                        match writer.submit(command).await {
                            Ok(Outcome::Accepted(_)) => accepted += 1,
                            Ok(Outcome::Rejected(r)) => {
                                *rejected.entry(r.name().to_owned()).or_default() += 1
                            }
                            Ok(Outcome::Replayed(_)) => {
                                *rejected.entry("replayed".into()).or_default() += 1
                            }
                            Err(e) => *rejected.entry(format!("error: {e}")).or_default() += 1,
                        }
                        latencies.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
                        n += 1;
                    }
                    (accepted, rejected, latencies)
                });
            }
            let mut out = Vec::new();
            while let Some(r) = tasks.join_next().await {
                if let Ok(r) = r {
                    out.push(r);
                }
            }
            out
        });
    let elapsed = started.elapsed().as_secs_f64();
    let writer_cpu = writer_cpu_seconds() - writer_cpu_before;
    let accepted: u64 = results.iter().map(|r| r.0).sum();
    let mut rejections = std::collections::BTreeMap::<String, u64>::new();
    for (name, n) in results.iter().flat_map(|r| r.1.iter()) {
        *rejections.entry(name.clone()).or_default() += n;
    }
    let rejected: u64 = rejections.values().sum();
    let mut latencies: Vec<u32> = results.into_iter().flat_map(|r| r.2).collect();
    latencies.sort_unstable();
    let report = reconcile::run(&mut *checkout(&app.pool)?)?;
    let pgbench_tps = match (&pg_base, args.pgbench) {
        (Some(base), true) => Some(pgbench(base, args.clients, args.seconds)?),
        _ => None,
    };
    drop(app);
    threads.join_within(std::time::Duration::from_secs(10));
    let tps = accepted as f64 / elapsed;
    let figures = Figures {
        workload: args.workload,
        backend,
        clients: args.clients,
        seconds: elapsed,
        accepted,
        rejected,
        rejections,
        transfers_per_second: tps,
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
        pgbench_tps,
        seeded_journal,
        keys: args.keys,
        session_age_seconds: args.session_age_seconds,
        ratio_to_pgbench: pgbench_tps.map(|p| tps / p),
        reconciled: report.balanced(),
        writer_cpu_us_per_transfer: writer_cpu * 1e6 / (accepted.max(1) as f64),
    };
    anyhow::ensure!(
        figures.reconciled,
        "the ledger does not reconcile after the run: {:?}",
        report.mismatches
    );
    Ok(figures)
}

/// Copies SQLite's whole log into the database file and empties it, waiting while another
/// checkpoint (the writer's checkpointer thread) holds the log: after a 10M load that copy takes
/// minutes, and `wal_checkpoint(TRUNCATE)` answers "busy" once its busy timeout has passed.
fn checkpoint_in_full(conn: &mut mkoba::store::AnyConnection) -> anyhow::Result<()> {
    const WAIT_MAX: Duration = Duration::from_secs(1_800);
    let deadline = Instant::now() + WAIT_MAX;
    loop {
        let done: Vec<Checkpointed> = mkoba::with_conn!(
            &mut *conn,
            |c| diesel::RunQueryDsl::load(diesel::sql_query("PRAGMA wal_checkpoint(TRUNCATE)"), c)
        )?;
        if done.iter().all(|d| d.busy == 0 && d.log == d.checkpointed) {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the log could not be checkpointed in full within {} s",
            WAIT_MAX.as_secs()
        );
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// SQLite's answer to `PRAGMA wal_checkpoint`.
#[derive(diesel::QueryableByName)]
struct Checkpointed {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    busy: i32,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    log: i32,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    checkpointed: i32,
}

/// Funded wallets, the agent's float and the merchant's account of a run's set-up.
type SetUp = (AccountId, AccountId, Vec<AccountId>, Vec<i64>);

/// Creates the agent, the merchant and the wallets, loads the history, and funds the float and
/// every wallet through the writer.
fn set_up(
    app: &App,
    conn: &mut mkoba::store::AnyConnection,
    args: &LedgerArgs,
) -> anyhow::Result<SetUp> {
    eprintln!("setting up {} wallets…", args.wallets);
    let agent = bench_agent(conn, "BENCH")?;
    let merchant = parties::create_merchant(conn, "BENCHM", "Bench Merchant", Currency::KES)?;
    let wallets =
        parties::bulk_customers(conn, args.wallets, "+254790", Currency::KES, Tier::Tier2)?;
    let allowances = if matches!(args.workload, Workload::Micro) {
        bench_allowances(conn, merchant.merchant_id, merchant.account)?
    } else {
        Vec::new()
    };
    if args.seed_journal > 0 {
        eprintln!("bulk-loading {} journal transactions…", args.seed_journal);
        let t = Instant::now();
        seed_journal(conn, args.seed_journal)?;
        eprintln!("loaded in {:.0} s", t.elapsed().as_secs_f64());
    }
    let float = agent.float;
    issue_float(app, "setup-float", float)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for (i, w) in wallets.iter().enumerate() {
            let writer = app.writer.clone();
            let command = kes_transfer(format!("setup-{i}"), TxnKind::Deposit, float, *w, 500_000);
            tasks.spawn(async move { writer.submit(command).await });
        }
        while tasks.join_next().await.is_some() {}
    });
    Ok((float, merchant.account, wallets, allowances))
}

/// The set-up state of a snapshot: the one agent's float, the merchant and the wallets by id
/// (the order [`parties::bulk_customers`] made them in).
fn restored(conn: &mut mkoba::store::AnyConnection, workload: Workload) -> anyhow::Result<SetUp> {
    use diesel::prelude::*;
    use mkoba::store::schema::accounts;
    anyhow::ensure!(
        !matches!(workload, Workload::Micro),
        "snapshots keep no allowances: use a fresh set-up for --workload micro"
    );
    let of_kind =
        |conn: &mut mkoba::store::AnyConnection, kind: &str| -> anyhow::Result<Vec<AccountId>> {
            let ids: Vec<i64> = mkoba::with_conn!(&mut *conn, |c| accounts::table
                .filter(accounts::kind.eq(kind))
                .order(accounts::id)
                .select(accounts::id)
                .load(c))?;
            Ok(ids.into_iter().map(AccountId).collect())
        };
    let wallets = of_kind(conn, "customer_wallet")?;
    let float = *of_kind(conn, "agent_float")?
        .first()
        .context("no agent float")?;
    let merchant = *of_kind(conn, "merchant")?.first().context("no merchant")?;
    Ok((float, merchant, wallets, Vec::new()))
}

/// Issues 100,000,000.00 KES of e-money into a bench agent's float, under `key`.
pub fn issue_float(app: &App, key: &str, float: AccountId) -> anyhow::Result<()> {
    let issuance = app.system.get(&Currency::KES).context("KES")?.issuance;
    let issued = app.writer.submit_blocking(kes_transfer(
        key.into(),
        TxnKind::FloatIssuance,
        issuance,
        float,
        10_000_000_000,
    ))?;
    anyhow::ensure!(
        matches!(issued, Outcome::Accepted(_)),
        "float issuance refused: {issued:?}"
    );
    Ok(())
}

/// A KES transfer command, as every bench mode submits them.
pub fn kes_transfer(
    key: String,
    kind: TxnKind,
    debit: AccountId,
    credit: AccountId,
    minor: i64,
) -> Command {
    Command::Submit(TxnRequest {
        idempotency_key: key,
        kind,
        debit,
        credit,
        amount: Money::from_minor(minor, Currency::KES),
        memo: String::new(),
        metadata: String::new(),
        pending_expiry_seconds: None,
    })
}

/// The agent whose float funds a bench's wallets (KES, no portal password).
pub fn bench_agent(
    conn: &mut mkoba::store::AnyConnection,
    code: &str,
) -> anyhow::Result<parties::CreatedAgent> {
    Ok(parties::create_agent(
        conn,
        &NewAgent {
            code,
            name: "Bench Agent",
            role: AgentRole::Agent,
            parent_agent_id: None,
            msisdn: "+254711000000",
            currency: Currency::KES,
            password_hash: "-",
        },
    )?)
}

/// Prints one line per run under one header.
pub fn print_table(runs: &[&Figures]) {
    println!(
        "{:<10} {:<9} {:>10} {:>7} {:>12} {:>10} {:>9} {:>9} {:>12} {:>7} {:>10} {:>11} {:>9}",
        "workload",
        "backend",
        "history",
        "clients",
        "transfers/s",
        "rejected",
        "p50 ms",
        "p99 ms",
        "pgbench tps",
        "ratio",
        "reconciled",
        "writer µs/t",
        "keys"
    );
    for f in runs {
        println!(
        "{:<10} {:<9} {:>10} {:>7} {:>12.0} {:>10} {:>9.2} {:>9.2} {:>12} {:>7} {:>10} {:>11.1} {:>9}",
        format!("{:?}", f.workload).to_lowercase(),
        f.backend,
        f.seeded_journal,
        f.clients,
        f.transfers_per_second,
        f.rejected,
        f.p50_ms,
        f.p99_ms,
        f.pgbench_tps
            .map_or("-".into(), |t| format!("{t:.0}")),
        f.ratio_to_pgbench
            .map_or("-".into(), |r| format!("{r:.2}")),
        f.reconciled,
        f.writer_cpu_us_per_transfer,
        format!("{:?}", f.keys).to_lowercase()
    );
        if !f.rejections.is_empty() {
            println!("rejections: {:?}", f.rejections);
        }
    }
}

/// CPU seconds used so far by this process's ledger writer threads (Linux `schedstat`).
pub fn writer_cpu_seconds() -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    let mut nanos: u64 = 0;
    for task in tasks.flatten() {
        let path = task.path();
        let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        if !comm.starts_with("ledger-writer") {
            continue;
        }
        let stat = std::fs::read_to_string(path.join("schedstat")).unwrap_or_default();
        nanos += stat
            .split_whitespace()
            .next()
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
    }
    nanos as f64 / 1e9
}

pub fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("mkoba-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// One active allowance per wallet for the bench merchant, with a cap no run can reach.
fn bench_allowances(
    conn: &mut mkoba::store::AnyConnection,
    merchant_id: i64,
    merchant_account: AccountId,
) -> anyhow::Result<Vec<i64>> {
    use diesel::sql_types::BigInt;
    use diesel::RunQueryDsl;
    let now = mkoba::store::writer::Clock::now(&SystemClock);
    let expires = now.saturating_add_seconds(86_400).0;
    let sql = "INSERT INTO allowances (public_id, merchant_id, customer_id, wallet_account_id, \
                 merchant_account_id, currency, cap_minor, spent_minor, per_charge_max_minor, \
                 expires_at, status, description, created_at, updated_at) \
               SELECT 'al_bench_' || CAST(c.id AS TEXT), $1, c.id, c.wallet_account_id, $2, 'KES', \
                 1000000000000, 0, 100, $3, 'active', 'bench', $4, $4 FROM customers c";
    mkoba::with_conn!(conn, |c| diesel::sql_query(sql)
        .bind::<BigInt, _>(merchant_id)
        .bind::<BigInt, _>(merchant_account.0)
        .bind::<BigInt, _>(expires)
        .bind::<BigInt, _>(now.0)
        .execute(c))?;
    use diesel::prelude::*;
    use mkoba::store::schema::allowances;
    Ok(mkoba::with_conn!(conn, |c| allowances::table
        .filter(allowances::merchant_id.eq(merchant_id))
        .select(allowances::id)
        .load::<i64>(c))?)
}

/// An idempotency key as API clients send them: 32 random-looking hex digits (a UUID's worth),
/// so live keys land all over the unique index, among the seeded history's, as real ones would.
/// Unique per client and count: the mix is a bijection of `client << 32 | n`.
fn client_key(client: u64, n: u64) -> String {
    let mix = |mut z: u64| {
        z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let id = client << 32 ^ n;
    format!("{:016x}{:016x}", mix(id), mix(!id))
}

/// The idempotency key of client `client`'s `n`-th request (see [`Keys`]).
fn live_key(keys: Keys, age_max: u64, workload: Workload, client: u64, n: u64) -> String {
    let now = || mkoba::store::writer::Clock::now(&SystemClock);
    match (keys, workload) {
        (Keys::Random, _) => client_key(client, n),
        (Keys::Clustered, _) => format!("c{client}-{n}"),
        (Keys::Channel, Workload::Uniform) => {
            let second = now().unix_seconds();
            let lane = client | 1 << 20; // not the lanes that pick the wallets
            let age = crate::ussd::pick(lane, n, usize::try_from(age_max + 1).unwrap_or(1));
            let opened = second.saturating_sub(age as u64);
            let session = format!("africastalking:ATUid_{}", client_key(client, n));
            mkoba_ussd::engine::step_key(opened, &session, 0, "send")
        }
        (Keys::Channel, Workload::Hot) => format!(
            "portal-cash-in:1:{}",
            mkoba::portal::form::new_form_token(now())
        ),
        (Keys::Channel, Workload::Micro) => {
            mkoba::merchant::ledger_key(1, "charge", &client_key(client, n))
        }
    }
}

/// Bulk-loads `count` past transfers between the bench wallets, straight into the journal (one
/// principal posting each), linked into the wallets' chains (`store::chain`) after what they
/// already hold. They come in pairs that cancel out (A pays B, B pays A back), so balances are
/// untouched and reconciliation still holds. Codes start with a lowercase `x`, which no real
/// code contains; idempotency keys are random hex, drawn like [`client_key`]'s, so the live run
/// inserts its keys among 10M others. Loading is not a measured path: SQLite's sync is relaxed
/// and its page cache widened for it; then the log is copied into the database file and both
/// are flushed, as a live system's would be, so that the run does not pay for the load's I/O.
fn seed_journal(conn: &mut mkoba::store::AnyConnection, count: u64) -> anyhow::Result<()> {
    use diesel::connection::SimpleConnection;
    use mkoba::store::AnyConnection;
    let now = mkoba::store::writer::Clock::now(&SystemClock).0;
    let count = i64::try_from(count)?;
    // Wallet k of n: the k-th customer wallet by id. Pair p moves 10.00 from wallet a(p) to
    // wallet b(p) != a(p), and back. Each seeded posting links, for each of its two wallets, to
    // the wallet's previous seeded transaction, or to its head before the load.
    let links = |create: &str| {
        format!(
            "{create} AS SELECT x.account_id, x.transaction_id, \
               COALESCE(LAG(x.transaction_id) OVER (PARTITION BY x.account_id ORDER BY x.transaction_id), \
                        a.last_transaction_id) AS prev \
             FROM (SELECT debit_account_id AS account_id, id AS transaction_id FROM transactions WHERE id >= 1000000000 \
                   UNION ALL SELECT credit_account_id, id FROM transactions WHERE id >= 1000000000) AS x \
             JOIN accounts a ON a.id = x.account_id"
        )
    };
    let postings =
        "INSERT INTO postings (transaction_id, seq, leg, debit_account_id, credit_account_id, \
           amount_minor, reservation, debit_prev_txn, credit_prev_txn) \
         SELECT t.id, 0, 'principal', t.debit_account_id, t.credit_account_id, t.amount_minor, \
           FALSE, d.prev, c.prev \
         FROM transactions t \
         JOIN seed_links d ON d.account_id = t.debit_account_id AND d.transaction_id = t.id \
         JOIN seed_links c ON c.account_id = t.credit_account_id AND c.transaction_id = t.id \
         WHERE t.id >= 1000000000";
    let heads = "UPDATE accounts SET last_transaction_id = \
           (SELECT MAX(l.transaction_id) FROM seed_links l WHERE l.account_id = accounts.id) \
         WHERE id IN (SELECT account_id FROM seed_links)";
    match conn {
        AnyConnection::Sqlite(c) => {
            c.batch_execute(&format!(
                "PRAGMA synchronous = OFF;
                 PRAGMA cache_size = -4194304;
                 CREATE TEMP TABLE w (k INTEGER PRIMARY KEY, id BIGINT NOT NULL);
                 INSERT INTO w (k, id) SELECT row_number() OVER (ORDER BY id) - 1, id
                   FROM accounts WHERE kind = 'customer_wallet';
                 BEGIN;
                 WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < {count} - 1),
                   n(c) AS (SELECT count(*) FROM w),
                   p(i, a, b) AS (SELECT i, (i / 2 * 7919) % c, ((i / 2 * 7919) % c + 1 + (i / 2) % (c - 1)) % c FROM s, n)
                 INSERT INTO transactions (id, code, idempotency_key, fingerprint, kind, phase,
                   currency, amount_minor, fee_minor, commission_minor, debit_account_id,
                   credit_account_id, related_id, expires_at, memo, metadata, created_at)
                 SELECT 1000000000 + i, 'x' || printf('%09d', i), lower(hex(randomblob(16))), '', 'transfer', 'posted',
                   'KES', 1000, 0, 0,
                   CASE WHEN i % 2 = 0 THEN wa.id ELSE wb.id END,
                   CASE WHEN i % 2 = 0 THEN wb.id ELSE wa.id END,
                   NULL, NULL, '', '', {now} - {count} + i
                 FROM p JOIN w AS wa ON wa.k = p.a JOIN w AS wb ON wb.k = p.b;
                 CREATE TEMP TABLE seed_links_unsorted {links_sql};
                 CREATE TEMP TABLE seed_links (account_id BIGINT, transaction_id BIGINT, prev BIGINT,
                   PRIMARY KEY (account_id, transaction_id)) WITHOUT ROWID;
                 INSERT INTO seed_links SELECT * FROM seed_links_unsorted ORDER BY account_id, transaction_id;
                 DROP TABLE seed_links_unsorted;
                 {postings};
                 {heads};
                 -- The heads moved outside a ledger batch: writers' copies of accounts stop holding.
                 UPDATE ledger_generation SET n = n + 1 WHERE id = 1;
                 COMMIT;
                 DROP TABLE seed_links;
                 DROP TABLE w;
                 PRAGMA cache_size = -65536;
                 PRAGMA synchronous = FULL;
                 PRAGMA wal_checkpoint(TRUNCATE);",
                links_sql = links("").trim_start(),
            ))?;
        }
        AnyConnection::Postgres(c) => {
            // Loading 10M rows takes minutes: past the pool's statement timeout.
            c.batch_execute("SET statement_timeout = 0")?;
            c.batch_execute(&format!(
                "BEGIN;
                 CREATE TEMP TABLE w AS SELECT (row_number() OVER (ORDER BY id) - 1)::bigint AS k, id
                   FROM accounts WHERE kind = 'customer_wallet';
                 CREATE UNIQUE INDEX ON w (k);
                 WITH n AS (SELECT count(*) AS c FROM w),
                   p AS (SELECT i, (i / 2 * 7919) % c AS a,
                                ((i / 2 * 7919) % c + 1 + (i / 2) % (c - 1)) % c AS b
                         FROM generate_series(0::bigint, {count} - 1) AS i, n)
                 INSERT INTO transactions (id, code, idempotency_key, fingerprint, kind, phase,
                   currency, amount_minor, fee_minor, commission_minor, debit_account_id,
                   credit_account_id, related_id, expires_at, memo, metadata, created_at)
                 SELECT 1000000000 + i, 'x' || lpad(i::text, 9, '0'), md5(i::text || random()::text), '', 'transfer',
                   'posted', 'KES', 1000, 0, 0,
                   CASE WHEN i % 2 = 0 THEN wa.id ELSE wb.id END,
                   CASE WHEN i % 2 = 0 THEN wb.id ELSE wa.id END,
                   NULL, NULL, '', '', {now} - {count} + i
                 FROM p JOIN w AS wa ON wa.k = p.a JOIN w AS wb ON wb.k = p.b;
                 {links_sql};
                 CREATE UNIQUE INDEX ON seed_links (account_id, transaction_id);
                 {postings};
                 {heads};
                 DROP TABLE seed_links;
                 -- Live transactions come after the history, as they would.
                 SELECT setval('transaction_ids', (SELECT max(id) FROM transactions));
                 COMMIT;
                 ANALYZE;
                 RESET statement_timeout;",
                links_sql = links("CREATE TEMP TABLE seed_links"),
            ))?;
        }
    }
    Ok(())
}
