//! `mkoba-bench rss`: the server's peak memory with a million customers. Bulk-loads the customers,
//! starts the real `mkoba serve` on that database, and drives at once, for a while: USSD menu
//! sessions of customers drawn from all of them, PIN payments, and operator-API deposits to and
//! balance reads of random wallets among all of them. Reports `VmHWM` (and what it is made of)
//! from `/proc/<pid>/status`.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use serde::Serialize;
use tokio::time::Instant;

use crate::served::{self, Server};
use crate::ussd::{self, Gateway, MenuFigures, PayFigures};

#[derive(Args)]
pub struct RssArgs {
    /// `sqlite://path` (a new file) or `postgres://…/db` (a `mkoba_bench_rss` database is made
    /// beside it).
    #[arg(long, default_value = "sqlite:///tmp/mkoba-bench-rss.db")]
    url: String,
    #[arg(long, default_value_t = 1_000_000)]
    customers: usize,
    #[arg(long, default_value_t = 2_000)]
    funded: usize,
    /// Seconds of mixed traffic.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Menu hops per second (open loop) and concurrent menu sessions.
    #[arg(long, default_value_t = 500.0)]
    menu_rate: f64,
    #[arg(long, default_value_t = 500)]
    sessions: usize,
    /// Closed-loop PIN payment clients.
    #[arg(long, default_value_t = 8)]
    pay_clients: usize,
    /// Operator-API deposits per second to random wallets, and as many balance reads.
    #[arg(long, default_value_t = 200.0)]
    ledger_rate: f64,
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
    /// Extra `MKOBA_…=value` settings for the server (repeatable).
    #[arg(long = "server-env")]
    server_env: Vec<String>,
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

#[derive(Clone, Debug, Default, Serialize)]
struct LedgerFigures {
    deposits: u64,
    reads: u64,
    errors: BTreeMap<String, u64>,
    deposit_p99_ms: f64,
    read_p99_ms: f64,
}

#[derive(Serialize)]
struct Figures {
    backend: &'static str,
    customers: usize,
    bulk_load_seconds: f64,
    customers_per_second: f64,
    server_workers: usize,
    pool_size_max: u32,
    load_average_before: String,
    load_average_after: String,
    rss_after_start_kib: Option<u64>,
    peak_rss_kib: Option<u64>,
    rss_anon_kib: Option<u64>,
    rss_file_kib: Option<u64>,
    server_threads: Option<u64>,
    menu: MenuFigures,
    pay: PayFigures,
    ledger: LedgerFigures,
    landed: served::Landed,
    deposits_in_journal: i64,
}

/// Deposits from the bench agent's float to random wallets among all customers, and balance
/// reads of random wallets, each offered open-loop at `rate` per second by 16 lanes.
async fn ledger_load(
    base: &str,
    world: &served::World,
    rate: f64,
    seconds: Duration,
) -> anyhow::Result<LedgerFigures> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(usize::MAX)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()?;
    const LANES: usize = 16;
    let rate = rate.max(1.0);
    let start = Instant::now();
    let end = start + seconds;
    let span = u64::try_from(world.last_wallet - world.first_wallet + 1).unwrap_or(1);
    let mut tasks = tokio::task::JoinSet::new();
    for j in 0..LANES {
        let (client, base, world) = (client.clone(), base.to_owned(), world.clone());
        tasks.spawn(async move {
            let mut f = LedgerFigures::default();
            let (mut deposits, mut reads) = (Vec::new(), Vec::new());
            let mut k = 0_u64;
            loop {
                let due =
                    start + Duration::from_secs_f64((j as f64 + k as f64 * LANES as f64) / rate);
                if due >= end {
                    break;
                }
                tokio::time::sleep_until(due).await;
                let offset =
                    i64::try_from(ussd::pick(j as u64 + 1_000, k, span as usize)).unwrap_or(0);
                let wallet = world.first_wallet + offset;
                let t = Instant::now();
                let body = serde_json::json!({
                    "idempotency_key": format!("bench-dep-{j}-{k}"),
                    "kind": "deposit",
                    "debit_account_id": world.agent_float.0,
                    "credit_account_id": wallet,
                    "amount": "50.00",
                    "currency": "KES",
                });
                match client
                    .post(format!("{base}/ops/v1/transactions"))
                    .bearer_auth(served::ADMIN_TOKEN)
                    .json(&body)
                    .send()
                    .await
                {
                    Ok(r) if r.status().as_u16() == 201 => {
                        f.deposits += 1;
                        deposits.push(t.elapsed().as_micros());
                    }
                    Ok(r) => {
                        *f.errors
                            .entry(format!("deposit {}", r.status()))
                            .or_default() += 1
                    }
                    Err(e) => {
                        *f.errors
                            .entry(format!("deposit: {}", e.without_url()))
                            .or_default() += 1
                    }
                }
                let t = Instant::now();
                match client
                    .get(format!("{base}/ops/v1/accounts/{wallet}"))
                    .bearer_auth(served::ADMIN_TOKEN)
                    .send()
                    .await
                {
                    Ok(r) if r.status().is_success() => {
                        f.reads += 1;
                        reads.push(t.elapsed().as_micros());
                    }
                    Ok(r) => *f.errors.entry(format!("read {}", r.status())).or_default() += 1,
                    Err(e) => {
                        *f.errors
                            .entry(format!("read: {}", e.without_url()))
                            .or_default() += 1
                    }
                }
                k += 1;
            }
            (f, deposits, reads)
        });
    }
    let mut total = LedgerFigures::default();
    let (mut deposits, mut reads) = (Vec::new(), Vec::new());
    while let Some(joined) = tasks.join_next().await {
        let Ok((f, d, r)) = joined else { continue };
        total.deposits += f.deposits;
        total.reads += f.reads;
        for (k, n) in f.errors {
            *total.errors.entry(k).or_default() += n;
        }
        deposits.extend(d.into_iter().map(|v| u32::try_from(v).unwrap_or(u32::MAX)));
        reads.extend(r.into_iter().map(|v| u32::try_from(v).unwrap_or(u32::MAX)));
    }
    deposits.sort_unstable();
    reads.sort_unstable();
    total.deposit_p99_ms = ussd::percentile(&deposits, 0.99);
    total.read_p99_ms = ussd::percentile(&reads, 0.99);
    Ok(total)
}

pub fn run(args: RssArgs) -> anyhow::Result<()> {
    let load_before = ussd::load_average();
    let url = served::prepare_database(&args.url, "mkoba_bench_rss")?;
    let data_dir = served::temp_dir("rss")?;
    let bind = format!("127.0.0.1:{}", served::free_port()?);
    let env = served::child_env(&url, &data_dir, &bind, &args.server_env)?;
    let config = served::child_config(&env)?;
    mkoba::telemetry::init("pretty", "warn");

    eprintln!("bulk-loading {} customers…", args.customers);
    let world = served::seed(&config, args.customers, args.funded)?;
    eprintln!(
        "  {:.1} s ({:.0} customers/s), funding {} took {:.1} s; starting mkoba serve…",
        world.load_seconds,
        world.customers as f64 / world.load_seconds,
        world.funded,
        world.fund_seconds
    );
    let server = Server::start(&env, &bind, &data_dir)?;
    let drained = served::wait_outbox_drained(&config, Duration::from_secs(300))?;
    eprintln!("  the funding SMS were sent in {drained:.1} s");
    let rss_after_start = server.status_field("VmRSS");
    let gateway = Gateway::new(&server.base)?;
    let runtime = ussd::client_runtime(args.client_threads)?;
    eprintln!(
        "mixed traffic for {} s: {} menu hops/s over {} sessions, {} PIN payment clients, \
         {} deposits/s and reads/s…",
        args.seconds, args.menu_rate, args.sessions, args.pay_clients, args.ledger_rate
    );
    let seconds = Duration::from_secs(args.seconds);
    let (menu, pay, ledger) = runtime.block_on(async {
        let menu = ussd::menu_load(
            &gateway,
            world.customers,
            args.sessions,
            args.menu_rate,
            Duration::ZERO,
            seconds,
        );
        let pay = ussd::pay_load(
            &gateway,
            world.funded,
            args.pay_clients,
            seconds,
            ussd::PayRoute::Menus,
        );
        let ledger = ledger_load(&server.base, &world, args.ledger_rate, seconds);
        tokio::join!(menu, pay, ledger)
    });
    let ledger = ledger?;
    let peak = server.status_field("VmHWM");
    let anon = server.status_field("RssAnon");
    let file = server.status_field("RssFile");
    let threads = server.status_field("Threads");
    server.stop()?;
    drop(runtime);

    let mut conn = served::connect(&config)?;
    let landed = served::landed(&mut conn, &world)?;
    let deposits_in_journal = deposits_landed(&mut conn)?;
    let figures = Figures {
        backend: served::backend_name(&config),
        customers: world.customers,
        bulk_load_seconds: world.load_seconds,
        customers_per_second: world.customers as f64 / world.load_seconds,
        server_workers: config.server.workers,
        pool_size_max: config.database.pool_size_max,
        load_average_before: load_before,
        load_average_after: ussd::load_average(),
        rss_after_start_kib: rss_after_start,
        peak_rss_kib: peak,
        rss_anon_kib: anon,
        rss_file_kib: file,
        server_threads: threads,
        menu,
        pay,
        ledger,
        landed,
        deposits_in_journal,
    };
    print(&figures);
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&figures)?)?;
    }
    let f = &figures;
    anyhow::ensure!(
        f.landed.reconciled,
        "the ledger does not reconcile after the run: {:?}",
        f.landed.mismatches
    );
    anyhow::ensure!(
        f.landed.merchant_payments == i64::try_from(f.pay.payments).context("payments")?,
        "clients saw {} payments succeed but the journal holds {}",
        f.pay.payments,
        f.landed.merchant_payments
    );
    anyhow::ensure!(
        f.deposits_in_journal == i64::try_from(f.ledger.deposits).context("deposits")?,
        "the API accepted {} deposits but the journal holds {}",
        f.ledger.deposits,
        f.deposits_in_journal
    );
    anyhow::ensure!(
        f.menu.hops > 0 && f.pay.payments > 0 && f.ledger.deposits > 0,
        "some traffic never went through"
    );
    let _ = std::fs::remove_dir_all(&data_dir);
    Ok(())
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

fn deposits_landed(conn: &mut mkoba::store::AnyConnection) -> anyhow::Result<i64> {
    use diesel::RunQueryDsl;
    let sql = "SELECT COUNT(*) AS n FROM transactions \
               WHERE kind = 'deposit' AND idempotency_key LIKE 'bench-dep-%'";
    let row: Count = mkoba::with_conn!(conn, |c| diesel::sql_query(sql).get_result(c))?;
    Ok(row.n)
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or("-".into(), |k| format!("{:.1}", k as f64 / 1024.0))
}

fn print(f: &Figures) {
    println!(
        "backend {}, {} customers bulk-loaded in {:.1} s ({:.0}/s), server workers {}, pool {}; \
         load average {} before, {} after",
        f.backend,
        f.customers,
        f.bulk_load_seconds,
        f.customers_per_second,
        f.server_workers,
        f.pool_size_max,
        f.load_average_before,
        f.load_average_after
    );
    println!(
        "{:>14} {:>12} {:>10} {:>10} {:>8} {:>10} {:>10} {:>10} {:>9} {:>10}",
        "RSS start MiB",
        "peak MiB",
        "anon MiB",
        "file MiB",
        "threads",
        "menu hop/s",
        "menu p99",
        "payments",
        "deposits",
        "reconciled"
    );
    println!(
        "{:>14} {:>12} {:>10} {:>10} {:>8} {:>10.0} {:>10.2} {:>10} {:>9} {:>10}",
        mib(f.rss_after_start_kib),
        mib(f.peak_rss_kib),
        mib(f.rss_anon_kib),
        mib(f.rss_file_kib),
        f.server_threads.map_or("-".into(), |t| t.to_string()),
        f.menu.achieved_per_second,
        f.menu.p99_ms,
        f.pay.payments,
        f.ledger.deposits,
        f.landed.reconciled
    );
    let errors: u64 = f.menu.errors + f.pay.failed + f.ledger.errors.values().sum::<u64>();
    if errors > 0 {
        println!(
            "errors: menu {:?}, payments {:?}, ledger {:?}",
            f.menu.error_kinds, f.pay.failures, f.ledger.errors
        );
    }
}
