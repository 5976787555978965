//! `mkoba-bench`: the figures behind `ops/BENCHMARKS.md`, measured through the real code paths.
//! Each mode prints a table (and writes JSON with `--json`) and fails if the ledger does not
//! reconcile afterwards.
//!
//! cargo build --release --bin mkoba-bench
//! target/release/mkoba-bench ledger --url sqlite:///tmp/bench.db --workload uniform
//! target/release/mkoba-bench ledger --url postgres://postgres@127.0.0.1/postgres --pgbench
//! target/release/mkoba-bench sms --url sqlite:///tmp/bench-sms.db --messages 50000

mod ledger;
mod rss;
mod scale;
mod served;
mod sms;
mod ussd;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "mkoba benchmarks: ledger throughput and the paths around it")]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// Durable transfers through the ledger writer with N concurrent clients.
    Ledger(ledger::LedgerArgs),
    /// The ledger workload with 100k and with 10M journal transactions of history.
    Scale(scale::ScaleArgs),
    /// Outbox messages dispatched per second to a local stub provider.
    Sms(sms::SmsArgs),
    /// USSD menu hops (open loop) and PIN payments against the real `mkoba serve` over loopback,
    /// next to a bare argon2id verify loop.
    Ussd(ussd::UssdArgs),
    /// The server's peak RSS with a million bulk-loaded customers under mixed traffic.
    Rss(rss::RssArgs),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().mode {
        Mode::Ledger(args) => ledger::run(args),
        Mode::Scale(args) => scale::run(args),
        Mode::Sms(args) => sms::run(args),
        Mode::Ussd(args) => ussd::run(args),
        Mode::Rss(args) => rss::run(args),
    }
}
