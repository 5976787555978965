//! The daily report and statement export.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::QueryableByName;
use indicatif::{ProgressBar, ProgressStyle};
use mkoba_ledger::{Money, Timestamp};

use crate::app::App;
use crate::sms::localtime::local_date_time;
use crate::store::{checkout, reads};
use crate::with_conn;

/// One line of the daily report.
#[derive(Debug, QueryableByName)]
pub struct KindTotals {
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Text)]
    pub phase: String,
    #[diesel(sql_type = Text)]
    pub currency: String,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub amount: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub fees: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub commissions: Option<i64>,
}

/// Day boundaries (UTC microseconds) of a local calendar day `YYYY-MM-DD`.
fn day_bounds(date: &str, utc_offset_seconds: i32) -> anyhow::Result<(i64, i64)> {
    let parts: Vec<i64> = date
        .split('-')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .context("date must be YYYY-MM-DD")?;
    let [y, m, d] = parts[..] else {
        anyhow::bail!("date must be YYYY-MM-DD")
    };
    anyhow::ensure!(
        (1..=12).contains(&m) && (1..=31).contains(&d),
        "date must be YYYY-MM-DD"
    );
    // Days from civil (Howard Hinnant), the inverse of the one messages use.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let start = (days * 86_400 - i64::from(utc_offset_seconds)) * 1_000_000;
    Ok((start, start + 86_400 * 1_000_000))
}

/// Totals per kind, phase and currency for one local calendar day (`YYYY-MM-DD`).
pub fn daily_totals(app: &App, date: &str) -> anyhow::Result<Vec<KindTotals>> {
    let (start, end) = day_bounds(date, app.ledger.rules.utc_offset_seconds)?;
    let mut conn = checkout(&app.pool)?;
    Ok(with_conn!(&mut *conn, |c| {
        diesel::RunQueryDsl::load(
        diesel::sql_query(format!(
            "SELECT kind, phase, currency, COUNT(*) AS n, CAST(SUM(amount_minor) AS BIGINT) AS amount, \
             CAST(SUM(fee_minor) AS BIGINT) AS fees, CAST(SUM(commission_minor) AS BIGINT) AS commissions \
             FROM transactions WHERE created_at >= {start} AND created_at < {end} \
             GROUP BY kind, phase, currency ORDER BY currency, kind, phase"
        )),
        c
    )
    })?)
}

pub fn daily_report(app: &App, date: Option<String>) -> anyhow::Result<()> {
    let offset = app.ledger.rules.utc_offset_seconds;
    let date = match date {
        Some(d) => d,
        None => {
            let (d, _) = local_date_time(app.clock.now(), offset);
            // dd/mm/yy -> 20yy-mm-dd
            let p: Vec<&str> = d.split('/').collect();
            format!(
                "20{}-{}-{}",
                p.get(2).unwrap_or(&"00"),
                p.get(1).unwrap_or(&"01"),
                p.first().unwrap_or(&"01")
            )
        }
    };
    let rows = daily_totals(app, &date)?;
    println!("Daily report {date} (local time, UTC{:+}h)", offset / 3600);
    println!(
        "{:<18} {:<13} {:>8} {:>20} {:>14} {:>14}",
        "kind", "phase", "count", "amount", "fees", "commissions"
    );
    for r in &rows {
        let currency = crate::store::rows::currency(&r.currency)?;
        let m = |v: Option<i64>| Money::from_minor(v.unwrap_or(0), currency).to_grouped_string();
        println!(
            "{:<18} {:<13} {:>8} {:>20} {:>14} {:>14}",
            r.kind,
            r.phase,
            r.n,
            m(r.amount),
            m(r.fees),
            m(r.commissions)
        );
    }
    println!("{} transaction(s)", rows.iter().map(|r| r.n).sum::<i64>());
    Ok(())
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// Writes every posted movement on an account to CSV, newest first, a page at a time.
pub fn export_statement(app: &App, account: i64, out: &Path) -> anyhow::Result<u64> {
    const PAGE: i64 = 1_000;
    let mut conn = checkout(&app.pool)?;
    let (_, state) =
        reads::account(&mut conn, account)?.with_context(|| format!("no account {account}"))?;
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?,
    );
    writeln!(
        file,
        "transaction_id,code,date,time,kind,phase,leg,amount,currency,counterparty_account_id,memo"
    )?;
    let spinner = ProgressBar::new_spinner();
    spinner.set_style(
        ProgressStyle::with_template("{spinner} {pos} lines {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let mut before = None;
    let mut lines = 0_u64;
    loop {
        let page = reads::statement(&mut conn, account, before, PAGE)?;
        let full = i64::try_from(page.len()).unwrap_or(0) == PAGE;
        // A full page may end part-way through a transaction's legs: hold that transaction back
        // and start the next page just above it, so every leg is written exactly once.
        let boundary = if full {
            page.last().map(|l| l.transaction_id)
        } else {
            None
        };
        for l in page.iter().filter(|l| Some(l.transaction_id) != boundary) {
            let (date, time) =
                local_date_time(Timestamp(l.created_at), app.ledger.rules.utc_offset_seconds);
            let amount = Money::from_minor(l.amount_minor, state.currency).to_plain_string();
            writeln!(
                file,
                "{},{},{date},{time},{},{},{},{amount},{},{},{}",
                l.transaction_id,
                l.code,
                l.kind,
                l.phase,
                l.leg,
                l.currency,
                l.counterparty_account_id,
                csv_field(&l.memo)
            )?;
            lines += 1;
        }
        spinner.set_position(lines);
        match boundary {
            // A page holding a single transaction's legs would repeat forever; it cannot happen
            // with at most three legs per transaction, and is refused rather than looped on.
            Some(id) if before == Some(id + 1) => {
                anyhow::bail!("statement paging made no progress at transaction {id}")
            }
            Some(id) => before = Some(id + 1),
            None => break,
        }
    }
    file.flush()?;
    spinner.finish_and_clear();
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_bounds_follow_the_local_calendar() {
        // 2026-11-21 00:00 in Nairobi is 2026-11-20 21:00 UTC.
        let (start, end) = day_bounds("2026-11-21", 3 * 3600).unwrap_or_default();
        assert_eq!(start, 1_795_208_400 * 1_000_000);
        assert_eq!(end - start, 86_400 * 1_000_000);
        assert!(day_bounds("2026-13-01", 0).is_err());
        assert!(day_bounds("yesterday", 0).is_err());
    }
}
