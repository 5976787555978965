//! Migrations: the same names on both backends, and up → down → up works on each.

use std::collections::BTreeSet;
use std::path::PathBuf;

use diesel_migrations::MigrationHarness;
use mkoba::store::db::{POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};
use mkoba::store::{AnyConnection, Backend};

use crate::support::TestDb;

fn names(backend: &str) -> BTreeSet<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../migrations")
        .join(backend);
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn both_backends_have_the_same_migrations() {
    let sqlite = names("sqlite");
    let postgres = names("postgres");
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, postgres);
    for name in &sqlite {
        for backend in ["sqlite", "postgres"] {
            for file in ["up.sql", "down.sql"] {
                let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("../migrations")
                    .join(backend)
                    .join(name)
                    .join(file);
                assert!(path.is_file(), "{} is missing", path.display());
            }
        }
    }
}

fn up_down_up(backend: Backend) {
    // A fresh, unmigrated database: SQLite file, or an empty PostgreSQL database.
    let db = TestDb::new(backend);
    let mut conn = db.connect();
    let count = names("sqlite").len();
    match &mut conn {
        AnyConnection::Postgres(c) => {
            c.revert_all_migrations(POSTGRES_MIGRATIONS).unwrap();
            assert_eq!(
                c.run_pending_migrations(POSTGRES_MIGRATIONS).unwrap().len(),
                count
            );
            assert_eq!(
                c.revert_all_migrations(POSTGRES_MIGRATIONS).unwrap().len(),
                count
            );
            assert_eq!(
                c.run_pending_migrations(POSTGRES_MIGRATIONS).unwrap().len(),
                count
            );
        }
        AnyConnection::Sqlite(c) => {
            assert_eq!(
                c.run_pending_migrations(SQLITE_MIGRATIONS).unwrap().len(),
                count
            );
            assert_eq!(
                c.revert_all_migrations(SQLITE_MIGRATIONS).unwrap().len(),
                count
            );
            assert_eq!(
                c.run_pending_migrations(SQLITE_MIGRATIONS).unwrap().len(),
                count
            );
        }
    }
    assert!(mkoba::store::db::migrations_current(&mut conn).unwrap());
}

#[test]
fn sqlite_migrates_up_down_up() {
    up_down_up(Backend::Sqlite);
}

#[test]
fn postgres_migrates_up_down_up() {
    up_down_up(Backend::Postgres);
}
