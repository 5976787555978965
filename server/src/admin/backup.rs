//! Online backup of the embedded SQLite database through SQLite's backup API (a consistent copy
//! taken page by page while the server keeps serving), and verification that a copy reconciles.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use rusqlite::backup::{Backup, StepResult};
use rusqlite::OpenFlags;

use crate::store::{db, reconcile, ConnectionOptions, DatabaseUrl};

/// Pages copied per step; between steps the live database is free for the server's writes.
const PAGES_PER_STEP: i32 = 512;
const PAUSE_BETWEEN_STEPS: Duration = Duration::from_millis(2);

/// Copies the live database at `source` into a new file `dest` (which must not exist yet).
pub fn backup_sqlite(
    source: &Path,
    dest: &Path,
    busy_timeout_ms: u32,
    show_progress: bool,
) -> anyhow::Result<u64> {
    if dest.exists() {
        bail!(
            "{} already exists; a backup never overwrites a file",
            dest.display()
        );
    }
    let live = rusqlite::Connection::open_with_flags(source, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("opening {}", source.display()))?;
    live.busy_timeout(Duration::from_millis(u64::from(busy_timeout_ms)))?;
    let mut copy =
        rusqlite::Connection::open(dest).with_context(|| format!("creating {}", dest.display()))?;
    let bar = if show_progress {
        ProgressBar::new(0)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("backup {bar:40} {pos}/{len} pages {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    {
        let backup = Backup::new(&live, &mut copy)?;
        loop {
            let step = backup.step(PAGES_PER_STEP)?;
            let progress = backup.progress();
            bar.set_length(u64::try_from(progress.pagecount).unwrap_or(0));
            bar.set_position(u64::try_from(progress.pagecount - progress.remaining).unwrap_or(0));
            match step {
                StepResult::Done => break,
                // The server holds a lock for a moment: wait and carry on.
                StepResult::More | StepResult::Busy | StepResult::Locked => {
                    std::thread::sleep(PAUSE_BETWEEN_STEPS)
                }
                _ => std::thread::sleep(PAUSE_BETWEEN_STEPS),
            }
        }
    }
    // A backup is a single file: fold any WAL content in and switch the copy to rollback mode.
    copy.execute_batch("PRAGMA journal_mode = DELETE;")?;
    bar.finish_and_clear();
    Ok(std::fs::metadata(dest)?.len())
}

/// Opens a backup (read as a database of its own) and reconciles it.
pub fn verify(path: &Path) -> anyhow::Result<mkoba_ledger::reconcile::Report> {
    if !path.is_file() {
        bail!("{} is not a file", path.display());
    }
    let options = ConnectionOptions {
        url: DatabaseUrl::Sqlite(path.to_path_buf()),
        busy_timeout_ms: 5_000,
        statement_timeout_ms: 60_000,
        sqlite_mmap_kib: crate::store::db::SQLITE_MMAP_KIB_DEFAULT,
    };
    let mut conn = options.connect()?;
    if !db::migrations_current(&mut conn)? {
        bail!(
            "{} was made by another version of mkoba (migrations differ)",
            path.display()
        );
    }
    Ok(reconcile::run(&mut conn)?)
}
