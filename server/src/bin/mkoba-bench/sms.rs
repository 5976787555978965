//! `mkoba-bench sms`: outbox messages dispatched per second to a local stub provider.
//!
//! The outbox is filled the way production fills it: ledger transfers through the writer, whose
//! batches write the confirmations beside the journal. Then the real `Dispatcher` (production's
//! loop, claims and knobs) drains it into a real HTTP server on loopback that answers like Twilio
//! or Africa's Talking. The stub keeps a fingerprint of every message it is handed, under the id
//! it answered with, so the run proves each outbox row reached it exactly once.

use std::collections::{BTreeMap, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine;
use clap::{Args, ValueEnum};
use diesel::prelude::*;
use mkoba::app::App;
use mkoba::config::{Config, Secret};
use mkoba::sms::dispatcher::Dispatcher;
use mkoba::sms::due;
use mkoba::sms::outbox;
use mkoba::store::parties;
use mkoba::store::schema::sms_outbox;
use mkoba::store::writer::{Clock, SystemClock};
use mkoba::store::{checkout, reconcile};
use mkoba_ledger::{AccountId, Command, Currency, Outcome, Tier, TxnKind};
use serde::Serialize;

/// The issue's target (issue 8): SMS dispatch to the local stub.
const TARGET_PER_SECOND: f64 = 2_000.0;
/// The bench's own PostgreSQL database, made beside the one named in `--url`.
const PG_DATABASE: &str = "mkoba_bench_sms";
const ACCOUNT_SID: &str = "AC00bea0c4000000000000000000000000";
const AUTH_TOKEN: &str = "bench-auth-token";
const AT_USERNAME: &str = "bench";
const AT_API_KEY: &str = "bench-api-key";
const CLIENTS: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
enum StubProvider {
    /// Twilio's Messages API: 201 with a message resource whose `sid` names the message.
    Twilio,
    /// Africa's Talking: 201 with one status per recipient.
    Africastalking,
}

#[derive(Args)]
pub struct SmsArgs {
    /// `sqlite://path` (a new file) or `postgres://…/db` (a `mkoba_bench_sms` database is made
    /// beside it).
    #[arg(long, default_value = "sqlite:///tmp/mkoba-bench-sms.db")]
    url: String,
    /// Messages to queue (rounded up to whole transfers, two confirmations each).
    #[arg(long, default_value_t = 50_000)]
    messages: usize,
    #[arg(long, value_enum, default_value = "twilio")]
    provider: StubProvider,
    /// `sms.dispatch_batch_max` (production's default when not given).
    #[arg(long)]
    batch_max: Option<i64>,
    /// `sms.dispatch_concurrency_max` (production's default when not given).
    #[arg(long)]
    concurrency: Option<usize>,
    /// `sms.dispatch_lease_ms` (production's default when not given).
    #[arg(long)]
    lease_ms: Option<u64>,
    /// Dispatchers over the one database at once, as that many server processes would run.
    #[arg(long, default_value_t = 1)]
    dispatchers: usize,
    /// Milliseconds the stub waits before each answer (0: answer at once).
    #[arg(long, default_value_t = 0)]
    stub_delay_ms: u64,
    /// HTTP worker threads of the stub provider.
    #[arg(long, default_value_t = 1)]
    stub_workers: usize,
    /// Give up (and fail) if the outbox is not drained within this many seconds.
    #[arg(long, default_value_t = 600)]
    timeout_seconds: u64,
    /// Write the figures as JSON here too.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

#[derive(Serialize)]
struct Figures {
    backend: &'static str,
    provider: StubProvider,
    messages: i64,
    fill_transfers: u64,
    fill_rejected: u64,
    fill_seconds: f64,
    batch_max: i64,
    concurrency: usize,
    lease_ms: u64,
    dispatchers: usize,
    stub_delay_ms: u64,
    seconds: f64,
    messages_per_second: f64,
    round_trip_p50_ms: f64,
    round_trip_p99_ms: f64,
    round_trip_mean_ms: f64,
    stub_received: u64,
    stub_refused: u64,
    sent_twice: usize,
    sent_twice_outbox_ids: Vec<i64>,
    mismatched: usize,
    outbox: BTreeMap<String, i64>,
    drained: bool,
    reconciled: bool,
    load_average_before: String,
    load_average_after: String,
    target_per_second: f64,
    target_met: bool,
}

/// What the stub provider was handed: the fingerprint of (To, Body) of each request it
/// accepted, at the index its answer's message id carries.
struct Stub {
    provider: StubProvider,
    authorization: String,
    delay: Duration,
    accepted: Mutex<Vec<u64>>,
    refused: AtomicU64,
}

impl Stub {
    fn received(&self) -> u64 {
        self.accepted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len() as u64
    }
}

fn fingerprint(to: &str, body: &str) -> u64 {
    let mut h = DefaultHasher::new();
    to.hash(&mut h);
    body.hash(&mut h);
    h.finish()
}

/// The index a provider message id names (`SM<32 hex>` or `ATXid_<hex>`).
fn index_of(provider: StubProvider, message_id: &str) -> Option<usize> {
    let hex = match provider {
        StubProvider::Twilio => message_id.strip_prefix("SM")?,
        StubProvider::Africastalking => message_id.strip_prefix("ATXid_")?,
    };
    usize::from_str_radix(hex, 16).ok()
}

async fn provider_answer(
    request: HttpRequest,
    body: web::Bytes,
    stub: web::Data<Stub>,
) -> HttpResponse {
    let presented = match stub.provider {
        StubProvider::Twilio => request.headers().get("authorization"),
        StubProvider::Africastalking => request.headers().get("apikey"),
    }
    .and_then(|v| v.to_str().ok())
    .unwrap_or_default();
    let form: HashMap<String, String> =
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body)
            .unwrap_or_default()
            .into_iter()
            .collect();
    let (to_field, body_field) = match stub.provider {
        StubProvider::Twilio => ("To", "Body"),
        StubProvider::Africastalking => ("to", "message"),
    };
    let (Some(to), Some(text)) = (form.get(to_field), form.get(body_field)) else {
        stub.refused.fetch_add(1, Ordering::Relaxed);
        return HttpResponse::BadRequest()
            .json(serde_json::json!({ "code": 21602, "message": "Message body is required.", "status": 400 }));
    };
    if presented != stub.authorization {
        stub.refused.fetch_add(1, Ordering::Relaxed);
        return HttpResponse::Unauthorized()
            .json(serde_json::json!({ "code": 20003, "message": "Authenticate", "status": 401 }));
    }
    let index = {
        let mut accepted = stub.accepted.lock().unwrap_or_else(PoisonError::into_inner);
        accepted.push(fingerprint(to, text));
        accepted.len() - 1
    };
    if !stub.delay.is_zero() {
        tokio::time::sleep(stub.delay).await;
    }
    match stub.provider {
        StubProvider::Twilio => HttpResponse::Created().json(serde_json::json!({
            "sid": format!("SM{index:032x}"),
            "account_sid": ACCOUNT_SID,
            "to": to,
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "body": text,
            "status": "queued",
            "num_segments": "1",
            "direction": "outbound-api",
            "api_version": "2010-04-01",
            "price": null,
            "error_code": null,
            "error_message": null,
            "uri": format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/SM{index:032x}.json"),
        })),
        StubProvider::Africastalking => HttpResponse::Created().json(serde_json::json!({
            "SMSMessageData": {
                "Message": "Sent to 1/1 Total Cost: KES 0.8000",
                "Recipients": [{
                    "statusCode": 101,
                    "number": to,
                    "status": "Success",
                    "cost": "KES 0.8000",
                    "messageId": format!("ATXid_{index:x}"),
                }],
            }
        })),
    }
}

/// Starts the stub provider on a loopback port; returns its base URL and its server handle.
fn start_stub(
    runtime: &tokio::runtime::Runtime,
    stub: Arc<Stub>,
    workers: usize,
) -> anyhow::Result<(String, actix_web::dev::ServerHandle)> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let base = format!("http://{}", listener.local_addr()?);
    let data = web::Data::from(stub);
    let _guard = runtime.enter();
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(data.clone())
            .app_data(web::PayloadConfig::new(64 * 1024))
            .route(
                "/2010-04-01/Accounts/{sid}/Messages.json",
                web::post().to(provider_answer),
            )
            .route("/version1/messaging", web::post().to(provider_answer))
    })
    .workers(workers.max(1))
    .disable_signals()
    .listen(listener)?
    .run();
    let handle = server.handle();
    runtime.spawn(server);
    Ok((base, handle))
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// A quantile of the dispatcher's provider round trips, in milliseconds, interpolated inside the
/// `mkoba_sms_send_seconds` bucket it falls in (as Prometheus' `histogram_quantile` does).
fn round_trip_ms(q: f64) -> f64 {
    use prometheus::core::Metric;
    let Some(m) = mkoba::metrics::get() else {
        return f64::NAN;
    };
    let metric = m.sms_send_seconds.metric();
    let histogram = metric.get_histogram();
    let count = histogram.get_sample_count();
    if count == 0 {
        return f64::NAN;
    }
    let rank = q * count as f64;
    let (mut lower, mut below) = (0.0_f64, 0_u64);
    for bucket in histogram.get_bucket() {
        let (upper, cumulative) = (bucket.upper_bound(), bucket.cumulative_count());
        if cumulative as f64 >= rank {
            let inside = cumulative.saturating_sub(below).max(1) as f64;
            return (lower + (upper - lower) * (rank - below as f64) / inside) * 1_000.0;
        }
        (lower, below) = (upper, cumulative);
    }
    lower * 1_000.0
}

fn round_trip_mean_ms() -> f64 {
    mkoba::metrics::get().map_or(f64::NAN, |m| {
        let n = m.sms_send_seconds.get_sample_count();
        if n == 0 {
            f64::NAN
        } else {
            m.sms_send_seconds.get_sample_sum() / n as f64 * 1_000.0
        }
    })
}

use crate::ledger::kes_transfer as submit;

/// Runs `command(n)` for n = 0.. from `CLIENTS` concurrent clients until `wanted` are accepted
/// (topping up after refusals, and trying at most three times as many). Returns (accepted,
/// refused).
fn drive(
    runtime: &tokio::runtime::Runtime,
    app: &Arc<App>,
    wanted: u64,
    command: impl Fn(u64) -> Command + Send + Sync + 'static,
) -> (u64, u64) {
    let command = Arc::new(command);
    let next = Arc::new(AtomicU64::new(0));
    let accepted = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    while accepted.load(Ordering::Relaxed) < wanted
        && next.load(Ordering::Relaxed) < wanted.saturating_mul(3)
    {
        // Each pass hands out exactly the numbers still missing, so no pass overshoots.
        let end = next.load(Ordering::Relaxed) + wanted - accepted.load(Ordering::Relaxed);
        runtime.block_on(async {
            let mut tasks = tokio::task::JoinSet::new();
            for _ in 0..CLIENTS {
                let (writer, command) = (app.writer.clone(), Arc::clone(&command));
                let (next, accepted, refused) = (
                    Arc::clone(&next),
                    Arc::clone(&accepted),
                    Arc::clone(&refused),
                );
                tasks.spawn(async move {
                    loop {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        if n >= end {
                            next.fetch_min(end, Ordering::Relaxed);
                            break;
                        }
                        match writer.submit(command(n)).await {
                            Ok(Outcome::Accepted(_)) => accepted.fetch_add(1, Ordering::Relaxed),
                            _ => refused.fetch_add(1, Ordering::Relaxed),
                        };
                    }
                });
            }
            while tasks.join_next().await.is_some() {}
        });
    }
    (
        accepted.load(Ordering::Relaxed),
        refused.load(Ordering::Relaxed),
    )
}

/// Queues about `target` confirmations through the ledger writer: a float issuance, a cash-in
/// to each wallet, then transfers between wallets. Returns (transfers, refused).
fn fill(
    runtime: &tokio::runtime::Runtime,
    app: &Arc<App>,
    target: usize,
) -> anyhow::Result<(u64, u64)> {
    let mut conn = checkout(&app.pool)?;
    let agent = crate::ledger::bench_agent(&mut conn, "BENCHSMS")?;
    let wallet_count = (target / 10).clamp(2, 5_000);
    let wallets = Arc::new(parties::bulk_customers(
        &mut conn,
        wallet_count,
        "+254790",
        Currency::KES,
        Tier::Tier2,
    )?);
    drop(conn);
    let float = agent.float;
    crate::ledger::issue_float(app, "sms-setup-float", float)?;
    let ws = Arc::clone(&wallets);
    let (deposits, refused) = drive(runtime, app, wallet_count as u64, move |n| {
        let wallet = usize::try_from(n)
            .ok()
            .and_then(|i| ws.get(i))
            .copied()
            .unwrap_or(AccountId(0));
        submit(
            format!("sms-deposit-{n}"),
            TxnKind::Deposit,
            float,
            wallet,
            1_000_000,
        )
    });
    anyhow::ensure!(
        deposits == wallet_count as u64,
        "only {deposits} of {wallet_count} cash-ins were accepted ({refused} refused)"
    );
    // The float's message and two per cash-in are queued already; two per transfer follow.
    let queued = 1 + 2 * wallet_count;
    let transfers = (target.saturating_sub(queued) as u64).div_ceil(2);
    let ws = Arc::clone(&wallets);
    let (accepted, refused) = drive(runtime, app, transfers, move |n| {
        let len = ws.len().max(2) as u64;
        // A multiplicative hash spreads consecutive numbers over all wallets; the payee is
        // never the payer.
        let from = n.wrapping_mul(2_654_435_761) % len;
        let to = (from + 1 + n % (len - 1)) % len;
        let pick = |i: u64| {
            usize::try_from(i)
                .ok()
                .and_then(|i| ws.get(i))
                .copied()
                .unwrap_or(AccountId(0))
        };
        submit(
            format!("sms-transfer-{n}"),
            TxnKind::Transfer,
            pick(from),
            pick(to),
            1_000,
        )
    });
    anyhow::ensure!(
        accepted >= transfers,
        "only {accepted} of {transfers} transfers were accepted ({refused} refused)"
    );
    Ok((accepted, refused))
}

type Row = (i64, String, String, String, Option<String>);

/// Checks every outbox row against what the stub was handed. Returns (ids sent more than once,
/// rows whose provider id does not name their own message at the stub).
fn verify(rows: &[Row], stub: &Stub) -> (Vec<i64>, usize) {
    let accepted = stub.accepted.lock().unwrap_or_else(PoisonError::into_inner);
    let mut times: HashMap<u64, usize> = HashMap::new();
    for fp in accepted.iter() {
        *times.entry(*fp).or_default() += 1;
    }
    let mut twice = Vec::new();
    let mut mismatched = 0;
    let mut claimed_ids = std::collections::HashSet::new();
    for (id, recipient, body, _status, message_id) in rows {
        let fp = fingerprint(recipient, body);
        if times.get(&fp).copied().unwrap_or(0) > 1 {
            twice.push(*id);
        }
        let named = message_id
            .as_deref()
            .and_then(|m| index_of(stub.provider, m))
            .filter(|i| claimed_ids.insert(*i))
            .and_then(|i| accepted.get(i));
        if named != Some(&fp) {
            mismatched += 1;
        }
    }
    (twice, mismatched)
}

pub fn run(args: SmsArgs) -> anyhow::Result<()> {
    let url = crate::served::prepare_database(&args.url, PG_DATABASE)?;
    let data = super::ledger::tempfile_dir()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let defaults = Config::default().sms;
    let authorization = match args.provider {
        StubProvider::Twilio => format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{ACCOUNT_SID}:{AUTH_TOKEN}"))
        ),
        StubProvider::Africastalking => AT_API_KEY.to_owned(),
    };
    let stub = Arc::new(Stub {
        provider: args.provider,
        authorization,
        delay: Duration::from_millis(args.stub_delay_ms),
        accepted: Mutex::new(Vec::with_capacity(args.messages + 1_000)),
        refused: AtomicU64::new(0),
    });
    let (stub_url, stub_handle) = start_stub(&runtime, Arc::clone(&stub), args.stub_workers)?;

    let mut config = Config {
        data_dir: data,
        ..Config::default()
    };
    config.database.url = Secret::new(url);
    config.database.migrate_on_start = true;
    config.log.filter = "warn".into();
    config.sms.dispatch_batch_max = args.batch_max.unwrap_or(defaults.dispatch_batch_max);
    config.sms.dispatch_concurrency_max = args
        .concurrency
        .unwrap_or(defaults.dispatch_concurrency_max);
    config.sms.dispatch_lease_ms = args.lease_ms.unwrap_or(defaults.dispatch_lease_ms);
    config.server.public_url = "https://mkoba.example.com".into();
    match args.provider {
        StubProvider::Twilio => {
            config.sms.provider = "twilio".into();
            config.sms.twilio.base_url = stub_url;
            config.sms.twilio.account_sid = ACCOUNT_SID.into();
            config.sms.twilio.auth_token = Secret::new(AUTH_TOKEN.into());
            config.sms.twilio.from = "MKOBA".into();
        }
        StubProvider::Africastalking => {
            config.sms.provider = "africastalking".into();
            config.sms.africastalking.base_url = stub_url;
            config.sms.africastalking.username = AT_USERNAME.into();
            config.sms.africastalking.api_key = Secret::new(AT_API_KEY.into());
            config.sms.africastalking.from = "MKOBA".into();
            config.sms.africastalking.delivery_token =
                Secret::new("bench-delivery-token-0123456789".into());
        }
    }
    // The same start-up limits as production: a knob out of range fails here.
    config.validate().map_err(anyhow::Error::msg)?;
    mkoba::telemetry::init("pretty", "warn");
    mkoba::metrics::init().map_err(anyhow::Error::msg)?;
    let (app, threads) = App::start(config, Arc::new(SystemClock))?;
    let backend = match app.backend() {
        mkoba::store::Backend::Sqlite => "sqlite",
        mkoba::store::Backend::Postgres => "postgres",
    };

    eprintln!(
        "queuing about {} confirmations through the ledger…",
        args.messages
    );
    let fill_started = Instant::now();
    let (fill_transfers, fill_rejected) = fill(&runtime, &app, args.messages)?;
    let fill_seconds = fill_started.elapsed().as_secs_f64();
    // The ledger queued its confirmations; the dispatchers make them into messages as they go
    // (`sms::due`), so that work is in the measured time, as in production.
    let confirmations = due::waiting(&mut *checkout(&app.pool)?)?;
    let before = outbox::counts(&mut *checkout(&app.pool)?)?;
    anyhow::ensure!(
        confirmations > 0 && before.keys().all(|status| status == "queued"),
        "only waiting confirmations and queued messages before dispatch: {confirmations}, {before:?}"
    );

    let sms = app.config.sms.clone();
    eprintln!(
        "dispatching {confirmations} confirmations and {} messages ({} dispatcher(s), batch {}, \
         concurrency {})…",
        before.get("queued").copied().unwrap_or(0),
        args.dispatchers,
        sms.dispatch_batch_max,
        sms.dispatch_concurrency_max
    );
    let load_average_before = load_average();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.timeout_seconds);
    {
        let _guard = runtime.enter();
        for _ in 0..args.dispatchers.max(1) {
            Dispatcher::new(
                app.pool.clone(),
                Arc::clone(&app.sms),
                sms.clone(),
                app.notify.clone(),
                Arc::clone(&app.clock) as Arc<dyn Clock>,
            )
            .spawn();
        }
    }
    // Until every confirmation is a message, watch the (shrinking) table of waiting ones; until
    // the stub has every message, watch it alone (free); then the outbox, until nothing is
    // queued or claimed.
    while due::waiting(&mut *checkout(&app.pool)?)? > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let messages: i64 = outbox::counts(&mut *checkout(&app.pool)?)?.values().sum();
    let expected = u64::try_from(messages).unwrap_or(0);
    while stub.received() < expected && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    let mut after;
    loop {
        after = outbox::counts(&mut *checkout(&app.pool)?)?;
        let open = ["queued", "sending"]
            .iter()
            .filter_map(|s| after.get(*s))
            .sum::<i64>();
        if open == 0 || Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let seconds = started.elapsed().as_secs_f64();
    let load_average_after = load_average();
    let drained = !after.contains_key("queued") && !after.contains_key("sending");
    runtime.block_on(stub_handle.stop(false));

    // Rendered as the dispatcher renders them: confirmations are kept as their parameters.
    let stored: Vec<outbox::OutboxRow> =
        mkoba::with_conn!(&mut *checkout(&app.pool)?, |c| sms_outbox::table
            .select(outbox::OutboxRow::as_select())
            .load(c))?;
    let rows: Vec<Row> = stored
        .into_iter()
        .map(|r| {
            let text = r.text().unwrap_or_default();
            (r.id, r.recipient, text, r.status, r.provider_message_id)
        })
        .collect();
    let (sent_twice, mismatched) = verify(&rows, &stub);
    let report = reconcile::run(&mut *checkout(&app.pool)?)?;
    drop(app);
    threads.join_within(std::time::Duration::from_secs(10));
    let sent = after.get("sent").copied().unwrap_or(0);
    let per_second = sent as f64 / seconds;
    let figures = Figures {
        backend,
        provider: args.provider,
        messages,
        fill_transfers,
        fill_rejected,
        fill_seconds,
        batch_max: sms.dispatch_batch_max,
        concurrency: sms.dispatch_concurrency_max,
        lease_ms: sms.dispatch_lease_ms,
        dispatchers: args.dispatchers.max(1),
        stub_delay_ms: args.stub_delay_ms,
        seconds,
        messages_per_second: per_second,
        round_trip_p50_ms: round_trip_ms(0.50),
        round_trip_p99_ms: round_trip_ms(0.99),
        round_trip_mean_ms: round_trip_mean_ms(),
        stub_received: stub.received(),
        stub_refused: stub.refused.load(Ordering::Relaxed),
        sent_twice: sent_twice.len(),
        sent_twice_outbox_ids: sent_twice.iter().take(20).copied().collect(),
        mismatched,
        outbox: after,
        drained,
        reconciled: report.balanced(),
        load_average_before,
        load_average_after,
        target_per_second: TARGET_PER_SECOND,
        target_met: per_second >= TARGET_PER_SECOND,
    };
    println!(
        "{:<9} {:<15} {:>8} {:>6} {:>5} {:>4} {:>8} {:>10} {:>8} {:>8} {:>9} {:>6} {:>6}  outbox",
        "backend",
        "provider",
        "messages",
        "batch",
        "conc",
        "disp",
        "seconds",
        "messages/s",
        "p50 ms",
        "p99 ms",
        "received",
        "twice",
        "target"
    );
    println!(
        "{:<9} {:<15} {:>8} {:>6} {:>5} {:>4} {:>8.2} {:>10.0} {:>8.3} {:>8.3} {:>9} {:>6} {:>6}  {}",
        figures.backend,
        format!("{:?}", figures.provider).to_lowercase(),
        figures.messages,
        figures.batch_max,
        figures.concurrency,
        figures.dispatchers,
        figures.seconds,
        figures.messages_per_second,
        figures.round_trip_p50_ms,
        figures.round_trip_p99_ms,
        figures.stub_received,
        figures.sent_twice,
        if figures.target_met { "met" } else { "missed" },
        figures
            .outbox
            .iter()
            .map(|(s, n)| format!("{s}={n}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "fill: {} transfers through the writer in {:.1} s ({} refused); load average {} before, {} after",
        figures.fill_transfers,
        figures.fill_seconds,
        figures.fill_rejected,
        figures.load_average_before,
        figures.load_average_after
    );
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&figures)?)?;
    }
    anyhow::ensure!(
        figures.drained,
        "the outbox was not drained in time: {:?}",
        figures.outbox
    );
    anyhow::ensure!(
        figures.stub_received == expected && sent == messages,
        "{messages} queued, {sent} recorded sent, {} received by the stub",
        figures.stub_received
    );
    anyhow::ensure!(
        figures.sent_twice == 0,
        "messages sent more than once (outbox ids): {:?}",
        figures.sent_twice_outbox_ids
    );
    anyhow::ensure!(
        figures.mismatched == 0,
        "{} rows do not carry the id the stub gave their message",
        figures.mismatched
    );
    anyhow::ensure!(
        figures.reconciled,
        "the ledger does not reconcile after the run: {:?}",
        report.mismatches
    );
    Ok(())
}
