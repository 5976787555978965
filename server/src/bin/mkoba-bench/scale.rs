//! `mkoba-bench scale`: the same ledger workload on a journal of 100,000 past transactions and on
//! one of 10,000,000 (bulk-loaded), and the ratio of the two throughputs. Indexes that grow with
//! the journal (idempotency keys, per-account postings) are what could make a big ledger slow.

use clap::Args;
use serde::Serialize;

use crate::ledger::{self, Figures, LedgerArgs};

#[derive(Args)]
pub struct ScaleArgs {
    #[command(flatten)]
    pub ledger: LedgerArgs,
    /// History of the small run, in journal transactions.
    #[arg(long, default_value_t = 100_000)]
    pub small: u64,
    /// History of the large run, in journal transactions.
    #[arg(long, default_value_t = 10_000_000)]
    pub large: u64,
}

#[derive(Serialize)]
struct ScaleFigures {
    small: Figures,
    large: Figures,
    ratio_large_to_small: f64,
}

pub fn run(args: ScaleArgs) -> anyhow::Result<()> {
    let json = args.ledger.json.clone();
    let mut small_args = args.ledger.clone();
    small_args.seed_journal = args.small;
    small_args.json = None;
    let mut large_args = small_args.clone();
    large_args.seed_journal = args.large;
    let small = ledger::measure(small_args)?;
    let large = ledger::measure(large_args)?;
    let ratio = large.transfers_per_second / small.transfers_per_second.max(f64::MIN_POSITIVE);
    let figures = ScaleFigures {
        small,
        large,
        ratio_large_to_small: ratio,
    };
    ledger::print_table(&[&figures.small, &figures.large]);
    println!("ratio large/small history: {ratio:.2}");
    if let Some(path) = json {
        std::fs::write(&path, serde_json::to_string_pretty(&figures)?)?;
    }
    Ok(())
}
