//! `mkoba-bench ussd`: the real `mkoba serve` as a child process, driven over loopback the way an
//! Africa's Talking gateway drives it.
//!
//! * **Menu hops**: many concurrent sessions navigating menus that need no PIN (dial, My account,
//!   Language, back, back), offered open-loop at a fixed rate. Each session has one hop in flight
//!   at a time, as with a real gateway; a hop's latency is counted from when it was *due*, so a
//!   server that falls behind is charged for the backlog it causes.
//! * **PIN payments**: closed-loop clients paying a merchant (dial, Pay, merchant code, amount,
//!   PIN), then a bare argon2id verify loop with the server's parameters and pepper, and the
//!   ratio of the two. The payments are then counted in the journal and the ledger reconciled.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use serde::Serialize;
use tokio::time::Instant;

use crate::served::{self, Server, World};

#[derive(Args)]
pub struct UssdArgs {
    /// `sqlite://path` (a new file) or `postgres://…/db` (a `mkoba_bench_ussd` database is made
    /// beside it).
    #[arg(long, default_value = "sqlite:///tmp/mkoba-bench-ussd.db")]
    pub url: String,
    /// Customers in the database (bulk-loaded, all with the same PIN).
    #[arg(long, default_value_t = 10_000)]
    pub customers: usize,
    /// Customers given money to pay with (the first ones).
    #[arg(long, default_value_t = 2_000)]
    pub funded: usize,
    /// Concurrent menu sessions; each starts a new session with another customer after 5 hops.
    #[arg(long, default_value_t = 500)]
    pub sessions: usize,
    /// Offered menu hops per second (open loop).
    #[arg(long, default_value_t = 2_000.0)]
    pub rate: f64,
    /// Seconds of menu hops measured (after the warm-up).
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
    #[arg(long, default_value_t = 2)]
    pub warmup: u64,
    /// Closed-loop clients paying with a PIN.
    #[arg(long, default_value_t = 32)]
    pub pay_clients: usize,
    #[arg(long, default_value_t = 20)]
    pub pay_seconds: u64,
    /// How payments reach the PIN prompt: through the menus or a dial shortcut.
    #[arg(long, value_enum, default_value_t = PayRoute::Menus)]
    pub pay_route: PayRoute,
    /// Threads of the bare argon2 loop; default: one per core.
    #[arg(long)]
    pub argon2_threads: Option<usize>,
    /// Threads of the bench's own HTTP client runtime.
    #[arg(long, default_value_t = 1)]
    pub client_threads: usize,
    #[arg(long)]
    pub skip_menu: bool,
    #[arg(long)]
    pub skip_pay: bool,
    /// Extra `MKOBA_…=value` settings for the server (repeatable), e.g.
    /// `--server-env MKOBA_DATABASE__POOL_SIZE_MAX=8`.
    #[arg(long = "server-env")]
    pub server_env: Vec<String>,
    /// Write the figures as JSON here too.
    #[arg(long)]
    pub json: Option<std::path::PathBuf>,
}

/// A gateway posting Africa's Talking hops to the server over one keep-alive client.
#[derive(Clone)]
pub struct Gateway {
    client: reqwest::Client,
    url: String,
}

/// Why a hop did not give the screen expected.
#[derive(Debug)]
pub enum HopError {
    Http(String),
    Status(u16),
    /// The screen was not the expected one (its first words, no phone number in it).
    Screen(String),
}

impl HopError {
    pub fn kind(&self) -> String {
        match self {
            HopError::Http(e) => format!("http: {e}"),
            HopError::Status(s) => format!("status {s}"),
            HopError::Screen(s) => format!("screen: {s}"),
        }
    }
}

impl Gateway {
    pub fn new(base: &str) -> anyhow::Result<Gateway> {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(usize::MAX)
            .pool_idle_timeout(Duration::from_secs(20))
            .tcp_nodelay(true)
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(Gateway {
            client,
            url: format!("{base}/ussd/africastalking?token={}", served::GATEWAY_TOKEN),
        })
    }

    /// One hop: `path` is every input of the session so far joined by `*` (empty on the dial).
    /// The reply must start with `prefix` and contain `marker`.
    pub async fn hop(
        &self,
        session: &str,
        msisdn: &str,
        path: &str,
        prefix: &str,
        marker: &str,
    ) -> Result<(), HopError> {
        let body = serde_urlencoded::to_string([
            ("sessionId", session),
            ("serviceCode", "*384#"),
            ("phoneNumber", msisdn),
            ("networkCode", "63902"),
            ("text", path),
        ])
        .map_err(|e| HopError::Http(e.to_string()))?;
        let response = self
            .client
            .post(&self.url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| HopError::Http(e.without_url().to_string()))?;
        let status = response.status().as_u16();
        let text = response
            .text()
            .await
            .map_err(|e| HopError::Http(e.without_url().to_string()))?;
        if status != 200 {
            return Err(HopError::Status(status));
        }
        if text.starts_with(prefix) && text.contains(marker) {
            Ok(())
        } else {
            Err(HopError::Screen(text.chars().take(40).collect()))
        }
    }
}

/// The menu journey: (input, expected reply prefix, a phrase the reply must contain). Nothing in
/// it asks for a PIN or touches the ledger.
pub const MENU_JOURNEY: [(&str, &str, &str); 5] = [
    ("", "CON ", "Hi Bench"),
    ("8", "CON ", "My account"),
    ("3", "CON ", "Choose language"),
    ("0", "CON ", "My account"),
    ("0", "CON ", "Hi Bench"),
];

/// How a bench payment reaches the PIN prompt.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PayRoute {
    /// Dial, Pay, merchant code, amount, PIN: 5 hops.
    #[default]
    Menus,
    /// A dial shortcut (`*384*5*<merchant>*10#`), then the PIN: 2 hops.
    Dialled,
}

/// Paying the bench merchant KES 10: each hop's whole path (every input so far joined by `*`,
/// as Africa's Talking sends it), the expected reply prefix and a phrase the reply must contain.
/// The last hop carries the PIN.
pub fn pay_journey(route: PayRoute) -> Vec<(String, &'static str, &'static str)> {
    let code = served::MERCHANT_CODE;
    let confirm = format!("5*{code}*10");
    let paid = (
        format!("{confirm}*{}", served::PIN),
        "END ",
        "Paid KES 10.00",
    );
    match route {
        PayRoute::Menus => vec![
            (String::new(), "CON ", "Hi Bench"),
            ("5".to_owned(), "CON ", "Enter merchant code"),
            (format!("5*{code}"), "CON ", "Enter amount"),
            (confirm, "CON ", "Enter PIN"),
            paid,
        ],
        PayRoute::Dialled => vec![(confirm, "CON ", "Enter PIN"), paid],
    }
}

/// A well-mixed customer index for a session (splitmix64 of the lane and session numbers).
pub fn pick(lane: u64, n: u64, customers: usize) -> usize {
    let mut z = (lane << 32 ^ n).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    usize::try_from(z % customers.max(1) as u64).unwrap_or(0)
}

#[derive(Default)]
struct LaneResult {
    /// Microseconds from when each measured hop was due to its reply.
    due: Vec<u32>,
    /// Microseconds from sending each measured hop to its reply.
    service: Vec<u32>,
    errors: BTreeMap<String, u64>,
    last_done: Option<Instant>,
}

#[derive(Clone, Debug, Serialize)]
pub struct MenuFigures {
    pub sessions: usize,
    pub offered_per_second: f64,
    pub achieved_per_second: f64,
    pub hops: u64,
    pub errors: u64,
    pub error_kinds: BTreeMap<String, u64>,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub service_p99_ms: f64,
    pub server_cpu_seconds: Option<f64>,
    pub seconds: f64,
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

pub fn percentile(sorted: &[u32], p: f64) -> f64 {
    crate::ledger::percentile(sorted, p)
}

/// Menu hops offered open-loop at `rate` per second by `sessions` lanes for `warmup + seconds`.
/// Lane `j` sends its `k`-th hop at `(j + k·sessions) / rate` seconds, or at once when late.
pub async fn menu_load(
    gateway: &Gateway,
    customers: usize,
    sessions: usize,
    rate: f64,
    warmup: Duration,
    seconds: Duration,
) -> MenuFigures {
    let sessions = sessions.max(1);
    let rate = rate.max(1.0);
    let start = Instant::now() + Duration::from_millis(100);
    let measured_from = start + warmup;
    let end = measured_from + seconds;
    let hard_stop = end + Duration::from_secs(10);
    let run = std::process::id();
    let mut tasks = tokio::task::JoinSet::new();
    for j in 0..sessions {
        let gateway = gateway.clone();
        tasks.spawn(async move {
            let mut result = LaneResult::default();
            let (mut k, mut session_no, mut step) = (0_u64, 0_u64, 0_usize);
            let (mut session, mut msisdn, mut path) = (String::new(), String::new(), String::new());
            loop {
                let due =
                    start + Duration::from_secs_f64((j as f64 + k as f64 * sessions as f64) / rate);
                if due >= end || Instant::now() >= hard_stop {
                    break;
                }
                tokio::time::sleep_until(due).await;
                let Some((input, prefix, marker)) = MENU_JOURNEY.get(step).copied() else {
                    break;
                };
                if step == 0 {
                    session_no += 1;
                    session = format!("b{run}-m{j}-{session_no}");
                    msisdn = served::msisdn(pick(j as u64, session_no, customers));
                    path.clear();
                } else {
                    if step > 1 {
                        path.push('*');
                    }
                    path.push_str(input);
                }
                let sent = Instant::now();
                let outcome = gateway.hop(&session, &msisdn, &path, prefix, marker).await;
                let done = Instant::now();
                if due >= measured_from {
                    result.due.push(micros(done - due));
                    result.service.push(micros(done - sent));
                    result.last_done = Some(done);
                    if let Err(e) = &outcome {
                        *result.errors.entry(e.kind()).or_default() += 1;
                    }
                }
                step = if outcome.is_ok() {
                    (step + 1) % MENU_JOURNEY.len()
                } else {
                    0
                };
                k += 1;
            }
            result
        });
    }
    let mut due = Vec::new();
    let mut service = Vec::new();
    let mut error_kinds = BTreeMap::<String, u64>::new();
    let mut last = measured_from;
    while let Some(joined) = tasks.join_next().await {
        let Ok(r) = joined else { continue };
        due.extend(r.due);
        service.extend(r.service);
        for (k, n) in r.errors {
            *error_kinds.entry(k).or_default() += n;
        }
        if let Some(d) = r.last_done {
            last = last.max(d);
        }
    }
    due.sort_unstable();
    service.sort_unstable();
    // Hops are due until `end`; if replies came later, the run took longer.
    let elapsed = (last.max(end) - measured_from).as_secs_f64();
    let hops = due.len() as u64;
    MenuFigures {
        sessions,
        offered_per_second: rate,
        achieved_per_second: hops as f64 / elapsed,
        hops,
        errors: error_kinds.values().sum(),
        error_kinds,
        p50_ms: percentile(&due, 0.50),
        p99_ms: percentile(&due, 0.99),
        max_ms: f64::from(due.last().copied().unwrap_or(0)) / 1_000.0,
        service_p99_ms: percentile(&service, 0.99),
        server_cpu_seconds: None,
        seconds: elapsed,
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct PayFigures {
    pub route: PayRoute,
    pub clients: usize,
    pub payments: u64,
    pub failed: u64,
    pub failures: BTreeMap<String, u64>,
    pub payments_per_second: f64,
    pub flow_p50_ms: f64,
    pub flow_p99_ms: f64,
    pub pin_hop_p50_ms: f64,
    pub pin_hop_p99_ms: f64,
    pub server_cpu_seconds: Option<f64>,
    pub seconds: f64,
}

/// Closed-loop PIN payments by `clients` clients until `seconds` have passed; client `c` pays
/// from funded customers `c`, `c + clients`, … so no two clients share a wallet at once.
pub async fn pay_load(
    gateway: &Gateway,
    funded: usize,
    clients: usize,
    seconds: Duration,
    route: PayRoute,
) -> PayFigures {
    let clients = clients.max(1);
    let started = Instant::now();
    let deadline = started + seconds;
    let run = std::process::id();
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..clients {
        let gateway = gateway.clone();
        tasks.spawn(async move {
            let (mut ok, mut failures) = (0_u64, BTreeMap::<String, u64>::new());
            let (mut flows, mut pins) = (Vec::new(), Vec::new());
            let mut n = 0_usize;
            while Instant::now() < deadline {
                let customer = (c + n * clients) % funded.max(1);
                let session = format!("b{run}-p{c}-{n}");
                let msisdn = served::msisdn(customer);
                n += 1;
                let flow_start = Instant::now();
                let mut failed = None;
                let journey = pay_journey(route);
                let last = journey.len() - 1;
                for (i, (path, prefix, marker)) in journey.into_iter().enumerate() {
                    let hop_start = Instant::now();
                    if let Err(e) = gateway.hop(&session, &msisdn, &path, prefix, marker).await {
                        failed = Some(format!("hop {i}: {}", e.kind()));
                        break;
                    }
                    if i == last {
                        pins.push(micros(hop_start.elapsed()));
                    }
                }
                match failed {
                    None => {
                        ok += 1;
                        flows.push(micros(flow_start.elapsed()));
                    }
                    Some(kind) => *failures.entry(kind).or_default() += 1,
                }
            }
            (ok, failures, flows, pins, Instant::now())
        });
    }
    let (mut payments, mut failures) = (0, BTreeMap::<String, u64>::new());
    let (mut flows, mut pins) = (Vec::new(), Vec::new());
    let mut last = started;
    while let Some(joined) = tasks.join_next().await {
        let Ok((ok, f, fl, pi, done)) = joined else {
            continue;
        };
        payments += ok;
        for (k, n) in f {
            *failures.entry(k).or_default() += n;
        }
        flows.extend(fl);
        pins.extend(pi);
        last = last.max(done);
    }
    flows.sort_unstable();
    pins.sort_unstable();
    let elapsed = (last - started).as_secs_f64();
    PayFigures {
        route,
        clients,
        payments,
        failed: failures.values().sum(),
        failures,
        payments_per_second: payments as f64 / elapsed,
        flow_p50_ms: percentile(&flows, 0.50),
        flow_p99_ms: percentile(&flows, 0.99),
        pin_hop_p50_ms: percentile(&pins, 0.50),
        pin_hop_p99_ms: percentile(&pins, 0.99),
        server_cpu_seconds: None,
        seconds: elapsed,
    }
}

#[derive(Serialize)]
struct Figures {
    backend: &'static str,
    customers: usize,
    server_workers: usize,
    pool_size_max: u32,
    argon2_memory_kib: u32,
    argon2_iterations: u32,
    argon2_parallelism: u32,
    load_average_before: String,
    load_average_after: String,
    menu: Option<MenuFigures>,
    pay: Option<PayFigures>,
    argon2_threads: usize,
    argon2_verifies_per_second: Option<f64>,
    /// The bare loop before and after the payments.
    argon2_runs: Vec<f64>,
    argon2_concurrency_max: usize,
    pay_to_argon2_ratio: Option<f64>,
    server_peak_rss_kib: Option<u64>,
    server_threads: Option<u64>,
    landed: Option<served::Landed>,
}

pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

pub fn client_runtime(threads: usize) -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()?)
}

pub fn run(args: UssdArgs) -> anyhow::Result<()> {
    let load_before = load_average();
    let url = served::prepare_database(&args.url, "mkoba_bench_ussd")?;
    let data_dir = served::temp_dir("ussd")?;
    let bind = format!("127.0.0.1:{}", served::free_port()?);
    let env = served::child_env(&url, &data_dir, &bind, &args.server_env)?;
    let config = served::child_config(&env)?;
    mkoba::telemetry::init("pretty", "warn");

    eprintln!(
        "seeding {} customers ({} funded)…",
        args.customers, args.funded
    );
    let world: World = served::seed(&config, args.customers, args.funded)?;
    eprintln!(
        "  bulk load {:.1} s, funding {:.1} s; starting mkoba serve on {bind}…",
        world.load_seconds, world.fund_seconds
    );
    let server = Server::start(&env, &bind, &data_dir)?;
    let drained = served::wait_outbox_drained(&config, Duration::from_secs(300))?;
    eprintln!("  the funding SMS were sent in {drained:.1} s");
    let gateway = Gateway::new(&server.base)?;
    let runtime = client_runtime(args.client_threads)?;

    let menu = if args.skip_menu {
        None
    } else {
        eprintln!(
            "menu hops: {} sessions, {} hops/s offered, {} s (+{} s warm-up)…",
            args.sessions, args.rate, args.seconds, args.warmup
        );
        let cpu = server.cpu_seconds();
        let mut figures = runtime.block_on(menu_load(
            &gateway,
            world.customers,
            args.sessions,
            args.rate,
            Duration::from_secs(args.warmup),
            Duration::from_secs(args.seconds),
        ));
        figures.server_cpu_seconds = server.cpu_seconds().zip(cpu).map(|(b, a)| b - a);
        Some(figures)
    };
    let argon2_threads = args.argon2_threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(2)
    });
    let argon2_seconds = args.pay_seconds.clamp(5, 20) as f64;
    // The bare loop runs just before the payments (the server idle) and again after (the server
    // stopped); the ratio is taken against their mean, which evens out a shared machine's drift.
    let mut argon2_runs = Vec::new();
    let pay = if args.skip_pay {
        None
    } else {
        eprintln!("bare argon2id verify loop: {argon2_threads} threads…");
        argon2_runs.push(served::argon2_loop(
            &config,
            argon2_threads,
            argon2_seconds,
        )?);
        eprintln!(
            "PIN payments ({:?}): {} clients, {} s…",
            args.pay_route, args.pay_clients, args.pay_seconds
        );
        let cpu = server.cpu_seconds();
        let mut figures = runtime.block_on(pay_load(
            &gateway,
            world.funded,
            args.pay_clients,
            Duration::from_secs(args.pay_seconds),
            args.pay_route,
        ));
        figures.server_cpu_seconds = server.cpu_seconds().zip(cpu).map(|(b, a)| b - a);
        Some(figures)
    };
    let peak_rss = server.status_field("VmHWM");
    let threads = server.status_field("Threads");
    server.stop()?;
    drop(runtime);

    let argon2 = if pay.is_some() {
        eprintln!("bare argon2id verify loop again: {argon2_threads} threads…");
        argon2_runs.push(served::argon2_loop(
            &config,
            argon2_threads,
            argon2_seconds,
        )?);
        Some(argon2_runs.iter().sum::<f64>() / argon2_runs.len() as f64)
    } else {
        None
    };
    let landed = served::landed(&mut served::connect(&config)?, &world)?;
    let figures = Figures {
        backend: served::backend_name(&config),
        customers: world.customers,
        server_workers: config.server.workers,
        pool_size_max: config.database.pool_size_max,
        argon2_memory_kib: config.security.argon2_memory_kib,
        argon2_iterations: config.security.argon2_iterations,
        argon2_parallelism: config.security.argon2_parallelism,
        load_average_before: load_before,
        load_average_after: load_average(),
        pay_to_argon2_ratio: pay
            .as_ref()
            .zip(argon2)
            .map(|(p, a)| p.payments_per_second / a),
        menu,
        pay,
        argon2_threads,
        argon2_verifies_per_second: argon2,
        argon2_runs: argon2_runs.clone(),
        argon2_concurrency_max: config.security.argon2_concurrency_max,
        server_peak_rss_kib: peak_rss,
        server_threads: threads,
        landed: Some(landed.clone()),
    };
    print(&figures);
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&figures)?)?;
    }
    check(&figures, &landed)?;
    let _ = std::fs::remove_dir_all(&data_dir);
    Ok(())
}

fn print(f: &Figures) {
    println!(
        "backend {}, {} customers, server workers {}, pool {}, argon2id m={} KiB t={} p={}; \
         load average {} before, {} after",
        f.backend,
        f.customers,
        f.server_workers,
        f.pool_size_max,
        f.argon2_memory_kib,
        f.argon2_iterations,
        f.argon2_parallelism,
        f.load_average_before,
        f.load_average_after
    );
    if let Some(m) = &f.menu {
        println!(
            "{:<6} {:>8} {:>10} {:>10} {:>8} {:>8} {:>8} {:>8} {:>11} {:>7}",
            "phase",
            "sessions",
            "offered/s",
            "hops/s",
            "p50 ms",
            "p99 ms",
            "max ms",
            "errors",
            "svc p99 ms",
            "cpu s"
        );
        println!(
            "{:<6} {:>8} {:>10.0} {:>10.0} {:>8.2} {:>8.2} {:>8.1} {:>8} {:>11.2} {:>7}",
            "menu",
            m.sessions,
            m.offered_per_second,
            m.achieved_per_second,
            m.p50_ms,
            m.p99_ms,
            m.max_ms,
            m.errors,
            m.service_p99_ms,
            m.server_cpu_seconds
                .map_or("-".into(), |c| format!("{c:.1}"))
        );
        if !m.error_kinds.is_empty() {
            println!("menu errors: {:?}", m.error_kinds);
        }
    }
    if let Some(p) = &f.pay {
        println!(
            "{:<6} {:>8} {:>10} {:>10} {:>12} {:>12} {:>10} {:>12} {:>7} {:>7}",
            "phase",
            "clients",
            "payments/s",
            "failed",
            "flow p99 ms",
            "PIN p50 ms",
            "PIN p99",
            "argon2 /s",
            "threads",
            "ratio"
        );
        println!(
            "{:<6} {:>8} {:>10.1} {:>10} {:>12.1} {:>12.1} {:>10.1} {:>12} {:>7} {:>7}",
            "pay",
            p.clients,
            p.payments_per_second,
            p.failed,
            p.flow_p99_ms,
            p.pin_hop_p50_ms,
            p.pin_hop_p99_ms,
            f.argon2_verifies_per_second
                .map_or("-".into(), |a| format!("{a:.1}")),
            f.argon2_threads,
            f.pay_to_argon2_ratio
                .map_or("-".into(), |r| format!("{r:.2}"))
        );
        println!(
            "argon2: server slots (security.argon2_concurrency_max) {}, bare loop before / after \
             the payments {} verifies/s",
            f.argon2_concurrency_max,
            f.argon2_runs
                .iter()
                .map(|r| format!("{r:.1}"))
                .collect::<Vec<_>>()
                .join(" / ")
        );
        if !p.failures.is_empty() {
            println!("payment failures: {:?}", p.failures);
        }
    }
    if let Some(l) = &f.landed {
        println!(
            "landed: {} merchant payments in the journal crediting {} (merchant balance {}); \
             reconciled {}; server peak RSS {} MiB, {} threads",
            l.merchant_payments,
            l.merchant_credited_minor,
            l.merchant_balance_minor,
            l.reconciled,
            f.server_peak_rss_kib
                .map_or("-".into(), |k| format!("{:.1}", k as f64 / 1024.0)),
            f.server_threads.map_or("-".into(), |t| t.to_string())
        );
    }
}

/// Fails the run if the ledger does not reconcile or the journal disagrees with the clients.
fn check(f: &Figures, landed: &served::Landed) -> anyhow::Result<()> {
    anyhow::ensure!(
        landed.reconciled,
        "the ledger does not reconcile after the run: {:?}",
        landed.mismatches
    );
    anyhow::ensure!(
        landed.merchant_balance_minor == landed.merchant_credited_minor,
        "the merchant's balance {} is not what its payments credited {}",
        landed.merchant_balance_minor,
        landed.merchant_credited_minor
    );
    if let Some(p) = &f.pay {
        let counted = i64::try_from(p.payments).context("payments")?;
        anyhow::ensure!(
            landed.merchant_payments == counted,
            "clients saw {counted} payments succeed but the journal holds {}",
            landed.merchant_payments
        );
        anyhow::ensure!(p.payments > 0, "no payment went through");
    }
    if let Some(m) = &f.menu {
        anyhow::ensure!(m.hops > 0, "no menu hop was answered");
    }
    Ok(())
}
