//! Prometheus metrics. Counters and histograms are recorded where things happen (HTTP middleware,
//! the ledger writer, the SMS dispatcher); gauges that describe the database (outbox depth,
//! pending transfers by age, pool use) are read when `/metrics` is scraped.

use std::sync::OnceLock;

use prometheus::{
    exponential_buckets, Encoder, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    pub ledger_batch_size: Histogram,
    pub ledger_commit_seconds: Histogram,
    pub ledger_transactions: IntCounterVec,
    pub ledger_rejections: IntCounterVec,
    /// Ledger batches run a second time: `replayed_key` (a SQLite batch that assumed its keys
    /// new met one used before) or `stale_copy` (the writer's copy of an account was stale).
    pub ledger_batch_reruns: IntCounterVec,
    pub sms_sent: IntCounterVec,
    pub sms_send_seconds: Histogram,
    pub sms_outbox_depth: IntGaugeVec,
    pub sms_confirmations_waiting: IntGauge,
    pub pending_transfers: IntGaugeVec,
    pub db_pool_connections: IntGaugeVec,
}

fn build() -> Result<Metrics, prometheus::Error> {
    let registry = Registry::new_custom(Some("mkoba".into()), None)?;
    let http_requests = IntCounterVec::new(
        Opts::new(
            "http_requests_total",
            "HTTP requests by route pattern, USSD dialect and status",
        ),
        &["route", "dialect", "status"],
    )?;
    let http_duration = HistogramVec::new(
        HistogramOpts::new(
            "http_request_duration_seconds",
            "HTTP request latency by route pattern and dialect",
        )
        .buckets(exponential_buckets(0.000_5, 2.0, 16)?),
        &["route", "dialect"],
    )?;
    let ledger_batch_size = Histogram::with_opts(
        HistogramOpts::new(
            "ledger_batch_size",
            "Commands applied per ledger database transaction",
        )
        .buckets(exponential_buckets(1.0, 2.0, 14)?),
    )?;
    let ledger_commit_seconds = Histogram::with_opts(
        HistogramOpts::new(
            "ledger_commit_seconds",
            "Time to apply and commit one ledger batch",
        )
        .buckets(exponential_buckets(0.000_1, 2.0, 18)?),
    )?;
    let ledger_transactions = IntCounterVec::new(
        Opts::new(
            "ledger_transactions_total",
            "Accepted ledger transactions by kind and phase",
        ),
        &["kind", "phase"],
    )?;
    let ledger_rejections = IntCounterVec::new(
        Opts::new(
            "ledger_rejections_total",
            "Refused ledger commands by rejection name",
        ),
        &["name"],
    )?;
    let ledger_batch_reruns = IntCounterVec::new(
        Opts::new(
            "ledger_batch_reruns_total",
            "Ledger batches run again by reason (replayed_key, stale_copy)",
        ),
        &["reason"],
    )?;
    let sms_sent = IntCounterVec::new(
        Opts::new("sms_sent_total", "SMS send attempts by outcome"),
        &["outcome"],
    )?;
    // Fine buckets (x1.5) so that percentiles read from them are close: a loopback stub answers
    // in a fraction of a millisecond, a real provider in a few hundred.
    let sms_send_seconds = Histogram::with_opts(
        HistogramOpts::new(
            "sms_send_seconds",
            "Round trip of one request to the SMS provider",
        )
        .buckets(exponential_buckets(0.000_1, 1.5, 30)?),
    )?;
    let sms_outbox_depth = IntGaugeVec::new(
        Opts::new("sms_outbox_depth", "Outbox messages by status"),
        &["status"],
    )?;
    let sms_confirmations_waiting = IntGauge::new(
        "sms_confirmations_waiting",
        "Confirmed transactions whose messages the dispatcher has yet to make",
    )?;
    let pending_transfers = IntGaugeVec::new(
        Opts::new("pending_transfers", "Open pending transfers by age"),
        &["age"],
    )?;
    let db_pool_connections = IntGaugeVec::new(
        Opts::new("db_pool_connections", "Database pool connections by state"),
        &["state"],
    )?;
    registry.register(Box::new(http_requests.clone()))?;
    registry.register(Box::new(http_duration.clone()))?;
    registry.register(Box::new(ledger_batch_size.clone()))?;
    registry.register(Box::new(ledger_commit_seconds.clone()))?;
    registry.register(Box::new(ledger_transactions.clone()))?;
    registry.register(Box::new(ledger_rejections.clone()))?;
    registry.register(Box::new(ledger_batch_reruns.clone()))?;
    registry.register(Box::new(sms_sent.clone()))?;
    registry.register(Box::new(sms_send_seconds.clone()))?;
    registry.register(Box::new(sms_outbox_depth.clone()))?;
    registry.register(Box::new(sms_confirmations_waiting.clone()))?;
    registry.register(Box::new(pending_transfers.clone()))?;
    registry.register(Box::new(db_pool_connections.clone()))?;
    Ok(Metrics {
        registry,
        http_requests,
        http_duration,
        ledger_batch_size,
        ledger_commit_seconds,
        ledger_transactions,
        ledger_rejections,
        ledger_batch_reruns,
        sms_sent,
        sms_send_seconds,
        sms_outbox_depth,
        sms_confirmations_waiting,
        pending_transfers,
        db_pool_connections,
    })
}

/// The process's metrics. Registration of these fixed names cannot fail except by a bug, which
/// start-up surfaces at once (`init` is called before serving).
pub fn get() -> Option<&'static Metrics> {
    static METRICS: OnceLock<Option<Metrics>> = OnceLock::new();
    METRICS
        .get_or_init(|| match build() {
            Ok(m) => Some(m),
            Err(e) => {
                tracing::error!(error = %e, "metrics could not be registered");
                None
            }
        })
        .as_ref()
}

pub fn init() -> Result<(), String> {
    get()
        .map(|_| ())
        .ok_or_else(|| "metrics could not be registered".into())
}

/// The text exposition format.
pub fn render() -> String {
    let Some(m) = get() else { return String::new() };
    let mut out = Vec::new();
    if TextEncoder::new()
        .encode(&m.registry.gather(), &mut out)
        .is_err()
    {
        return String::new();
    }
    String::from_utf8(out).unwrap_or_default()
}
