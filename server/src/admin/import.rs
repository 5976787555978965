//! Bulk onboarding from CSV. Customers get a one-time start PIN by SMS that they must change on
//! first use; agents get generated passwords, written only to a file readable by its owner.

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context};
use diesel::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;

use crate::app::App;
use crate::phone::Msisdn;
use crate::secrets::{one_time_pin, random_token};
use crate::sms::outbox;
use crate::sms::templates::{Language, Message};
use crate::store::parties::{self, AgentRole, NewAgent, NewCustomer};
use crate::store::schema::customers;
use crate::store::{checkout, AnyConnection};
use crate::with_conn;

/// Rows per file at most: a bigger onboarding is split into several files.
const ROWS_MAX: usize = 100_000;

#[derive(Deserialize)]
struct CustomerRow {
    msisdn: String,
    name: String,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    tier: Option<i16>,
}

#[derive(Deserialize)]
struct AgentRow {
    code: String,
    name: String,
    msisdn: String,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    parent: Option<String>,
}

#[derive(Debug, Default)]
pub struct ImportSummary {
    pub created: u64,
    pub skipped_existing: u64,
    pub refused: Vec<String>,
}

fn bar(len: usize) -> ProgressBar {
    let bar = ProgressBar::new(u64::try_from(len).unwrap_or(0));
    bar.set_style(
        ProgressStyle::with_template("import {bar:40} {pos}/{len} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

fn read_rows<T: for<'de> Deserialize<'de>>(
    path: &Path,
) -> anyhow::Result<Vec<(usize, Result<T, String>)>> {
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("opening {}", path.display()))?;
    let mut rows = Vec::new();
    for (i, record) in reader.deserialize::<T>().enumerate() {
        if i >= ROWS_MAX {
            bail!("{} has more than {ROWS_MAX} rows; split it", path.display());
        }
        rows.push((i + 2, record.map_err(|e| e.to_string())));
    }
    Ok(rows)
}

/// What became of one row.
enum RowResult {
    Created,
    AlreadyThere,
    Refused(String),
}

/// Rows that name a phone number, checked for every kind of import.
trait HasMsisdn {
    fn msisdn(&self) -> &str;
}

impl HasMsisdn for CustomerRow {
    fn msisdn(&self) -> &str {
        &self.msisdn
    }
}

impl HasMsisdn for AgentRow {
    fn msisdn(&self) -> &str {
        &self.msisdn
    }
}

/// Reads every row of `path`, parses its phone number, and hands both to `import`. Unreadable
/// rows and invalid numbers are refused by line number; a progress bar runs throughout.
fn import_rows<T: for<'de> Deserialize<'de> + HasMsisdn>(
    app: &App,
    path: &Path,
    mut import: impl FnMut(&mut AnyConnection, T, Msisdn) -> anyhow::Result<RowResult>,
) -> anyhow::Result<ImportSummary> {
    let rows = read_rows::<T>(path)?;
    let mut summary = ImportSummary::default();
    let mut conn = checkout(&app.pool)?;
    let progress = bar(rows.len());
    for (line, row) in rows {
        progress.inc(1);
        let result = match row {
            Err(e) => RowResult::Refused(e),
            Ok(row) => match Msisdn::parse(row.msisdn(), app.country) {
                Err(_) => RowResult::Refused("invalid_phone_number".into()),
                Ok(msisdn) => import(&mut conn, row, msisdn)?,
            },
        };
        match result {
            RowResult::Created => summary.created += 1,
            RowResult::AlreadyThere => summary.skipped_existing += 1,
            RowResult::Refused(reason) => summary.refused.push(format!("line {line}: {reason}")),
        }
    }
    progress.finish_and_clear();
    Ok(summary)
}

pub fn customers(app: &App, path: &Path) -> anyhow::Result<ImportSummary> {
    import_rows(app, path, |conn, row: CustomerRow, msisdn| {
        let name = row.name.trim();
        let language = Language::from_code(row.language.as_deref().unwrap_or("en"));
        let tier = mkoba_ledger::Tier::from_index(row.tier.unwrap_or(0));
        let (Some(language), Some(tier), false) =
            (language, tier, name.is_empty() || name.len() > 100)
        else {
            return Ok(RowResult::Refused(
                "name, language (en/sw/fr) or tier (0-2) invalid".into(),
            ));
        };
        if parties::customer_profile(conn, msisdn.as_str())?.is_some() {
            return Ok(RowResult::AlreadyThere);
        }
        let pin = one_time_pin(app.config.security.pin_length);
        let hash = app.hasher.hash(&pin)?;
        let new = NewCustomer {
            msisdn: msisdn.as_str(),
            name,
            language: language.code(),
            currency: app.config.ledger.default_currency,
            tier,
            pin_hash: Some(&hash),
            id_document: None,
        };
        let created = parties::create_customer(conn, &new)?;
        with_conn!(&mut *conn, |c| diesel::update(
            customers::table.find(created.customer_id)
        )
        .set(customers::pin_must_change.eq(true))
        .execute(c))?;
        outbox::enqueue(
            conn,
            &app.notify,
            msisdn.as_str(),
            &Message::PinReset { pin },
            language,
            app.clock.now(),
        )?;
        Ok(RowResult::Created)
    })
}

pub fn agents(app: &App, path: &Path, credentials_out: &Path) -> anyhow::Result<ImportSummary> {
    let mut credentials = private_file(credentials_out)?;
    writeln!(credentials, "code,password")?;
    let summary = import_rows(app, path, |conn, row: AgentRow, msisdn| {
        let role = match row.role.as_deref().unwrap_or("agent") {
            "agent" => AgentRole::Agent,
            "super_agent" => AgentRole::SuperAgent,
            other => {
                return Ok(RowResult::Refused(format!(
                    "role {other:?} is not agent or super_agent"
                )))
            }
        };
        if parties::agent_by_code(conn, &row.code)?.is_some() {
            return Ok(RowResult::AlreadyThere);
        }
        let parent_agent_id = match row.parent.as_deref().filter(|p| !p.is_empty()) {
            Some(code) => match parties::agent_by_code(conn, code)? {
                Some((id, _, _)) => Some(id),
                None => return Ok(RowResult::Refused(format!("no parent agent {code}"))),
            },
            None => None,
        };
        let password = random_token(16);
        let hash = app.hasher.hash(&password)?;
        let new = NewAgent {
            code: &row.code,
            name: &row.name,
            role,
            parent_agent_id,
            msisdn: msisdn.as_str(),
            currency: app.config.ledger.default_currency,
            password_hash: &hash,
        };
        Ok(match parties::create_agent(conn, &new) {
            Ok(_) => {
                writeln!(credentials, "{},{password}", row.code)?;
                RowResult::Created
            }
            Err(e) => RowResult::Refused(e.to_string()),
        })
    })?;
    credentials.flush()?;
    Ok(summary)
}

fn private_file(path: &Path) -> anyhow::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .with_context(|| format!("creating {} (it must not exist yet)", path.display()))
}
