//! Configuration: layered loading and start-up validation of every limit.

use std::io::Write;

use mkoba::config::Config;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn defaults_are_valid_and_point_at_the_embedded_database() {
    let config = Config::load(None, env(&[])).unwrap();
    assert_eq!(
        config.database_url().unwrap().redacted(),
        "sqlite://data/mkoba.db"
    );
    assert_eq!(config.server.bind, "127.0.0.1:8384");
}

#[test]
fn file_then_environment_override_defaults() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    writeln!(file, "[server]\nworkers = 3\n[ledger]\nbatch_max = 50").unwrap();
    let config = Config::load(
        Some(file.path()),
        env(&[
            ("MKOBA_LEDGER__BATCH_MAX", "70"),
            (
                "DATABASE_URL",
                "postgres://mkoba:s3cret@db.example:5432/mkoba",
            ),
            ("UNRELATED", "x"),
        ]),
    )
    .unwrap();
    assert_eq!(config.server.workers, 3);
    assert_eq!(config.ledger.batch_max, 70);
    let url = config.database_url().unwrap();
    assert_eq!(url.redacted(), "postgres://mkoba:***@db.example:5432/mkoba");
    assert!(
        !format!("{config:?}").contains("s3cret"),
        "secrets never show in Debug output"
    );
}

#[test]
fn out_of_bound_limits_are_refused_at_start() {
    let cases = [
        ("MKOBA_DATABASE__POOL_SIZE_MAX", "0"),
        ("MKOBA_DATABASE__POOL_SIZE_MAX", "100000"),
        ("MKOBA_LEDGER__BATCH_MAX", "1000000"),
        ("MKOBA_SERVER__REQUEST_BODY_MAX_BYTES", "999999999"),
        ("MKOBA_SECURITY__PIN_ATTEMPTS_MAX", "0"),
        ("MKOBA_SECURITY__PEPPER", "short"),
        ("MKOBA_SERVER__BIND", "not-an-address"),
        ("MKOBA_PHONE__DEFAULT_COUNTRY", "ZZ"),
        ("MKOBA_NO__SUCH_KEY", "1"),
        ("DATABASE_URL", "mysql://nope"),
        ("MKOBA_LEDGER__RULES__REVERSAL__ATTEMPTS_MAX", "0"),
        // Below the longest USSD payment key, and above the journal's column.
        ("MKOBA_LEDGER__RULES__IDEMPOTENCY_KEY_LEN_MAX", "64"),
        ("MKOBA_LEDGER__RULES__IDEMPOTENCY_KEY_LEN_MAX", "129"),
    ];
    for (key, value) in cases {
        let result = Config::load(None, env(&[(key, value)]));
        assert!(result.is_err(), "{key}={value} should be refused");
    }
}

#[test]
fn the_example_configs_in_ops_load() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ops/config");
    for name in ["pilot.example.toml", "production.example.toml"] {
        let config = Config::load(
            Some(&dir.join(name)),
            env(&[("DATABASE_URL", "postgres://mkoba@db:5432/mkoba")]),
        );
        assert!(config.is_ok(), "{name}: {:?}", config.err());
    }
}

#[test]
fn a_different_pepper_on_the_same_database_refuses_to_start() {
    use std::sync::Arc;
    let db = crate::support::TestDb::sqlite();
    let data = tempfile::tempdir().unwrap();
    let config = crate::support::test_config(&db, data.path().to_path_buf());
    let clock = Arc::new(mkoba::store::writer::SystemClock);
    let first = mkoba::app::App::start(config.clone(), clock.clone());
    assert!(first.is_ok(), "{:?}", first.err());
    drop(first);
    let again = mkoba::app::App::start(config.clone(), clock.clone());
    assert!(
        again.is_ok(),
        "the same pepper starts again: {:?}",
        again.err()
    );
    drop(again);
    let mut other = config;
    other.security.pepper = mkoba::config::Secret::new("another-pepper-0123456789".into());
    let refused = mkoba::app::App::start(other, clock)
        .err()
        .map(|e| format!("{e:#}"))
        .unwrap_or_default();
    assert!(refused.contains("pepper"), "{refused}");
}

#[test]
fn database_url_precedence_does_not_depend_on_environment_order() {
    for order in [
        ["DATABASE_URL", "MKOBA_DATABASE__URL"],
        ["MKOBA_DATABASE__URL", "DATABASE_URL"],
    ] {
        let vars: Vec<(String, String)> = order
            .iter()
            .map(|k| {
                (
                    k.to_string(),
                    if *k == "DATABASE_URL" {
                        "sqlite://a.db".into()
                    } else {
                        "sqlite://b.db".into()
                    },
                )
            })
            .collect();
        let config = Config::load(None, vars).unwrap();
        assert_eq!(config.database_url().unwrap().redacted(), "sqlite://b.db");
    }
    let url = mkoba::store::DatabaseUrl::parse("postgres://mkoba@db:5432/mkoba").unwrap();
    assert_eq!(
        url.redacted(),
        "postgres://mkoba@db:5432/mkoba",
        "no password, nothing to hide"
    );
}

#[test]
fn the_new_performance_limits_are_checked_and_sqlite_gets_its_memory_limit() {
    for (key, value) in [
        ("MKOBA_SERVER__BLOCKING_THREADS_MAX", "0"),
        ("MKOBA_SERVER__BLOCKING_THREADS_MAX", "513"),
        ("MKOBA_SECURITY__ARGON2_CONCURRENCY_MAX", "0"),
        ("MKOBA_SECURITY__ARGON2_CONCURRENCY_MAX", "65"),
        ("MKOBA_USSD__SESSION_BATCH_MAX", "0"),
        ("MKOBA_USSD__SESSION_QUEUE_MAX", "1000001"),
        ("MKOBA_DATABASE__SQLITE_MEMORY_MAX_KIB", "512"),
        ("MKOBA_LEDGER__SQLITE_WRITER_CACHE_KIB", "512"),
        ("MKOBA_LEDGER__SQLITE_WRITER_CACHE_KIB", "1048577"),
    ] {
        let err = Config::load(None, env(&[(key, value)])).unwrap_err();
        assert!(err.contains("outside"), "{key}={value}: {err}");
    }
    // The soft heap limit is process-wide: App::start sets it from the configuration.
    let env = crate::support::TestEnv::start(mkoba::store::Backend::Sqlite);
    let limit = match &mut *env.conn() {
        mkoba::store::AnyConnection::Sqlite(c) => {
            #[derive(diesel::QueryableByName)]
            struct Limit {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                soft_heap_limit: i64,
            }
            use diesel::RunQueryDsl;
            diesel::sql_query("PRAGMA soft_heap_limit")
                .get_result::<Limit>(c)
                .unwrap()
                .soft_heap_limit
        }
        mkoba::store::AnyConnection::Postgres(_) => unreachable!(),
    };
    assert_eq!(
        limit,
        i64::from(env.app.config.database.sqlite_memory_max_kib) * 1024
    );
}

/// `database.sqlite_mmap_kib` reaches every SQLite connection, and the connections that carry
/// money keep `synchronous = FULL` (only the USSD session writer's own connection relaxes it).
#[test]
fn sqlite_connections_take_the_configured_memory_map_and_stay_fully_synchronous() {
    let err =
        Config::load(None, env(&[("MKOBA_DATABASE__SQLITE_MMAP_KIB", "4194305")])).unwrap_err();
    assert!(err.contains("outside"), "{err}");

    #[derive(diesel::QueryableByName)]
    struct MmapSize {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        mmap_size: i64,
    }
    #[derive(diesel::QueryableByName)]
    struct Synchronous {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        synchronous: i64,
    }
    use diesel::RunQueryDsl;
    let dir = tempfile::tempdir().unwrap();
    for kib in [0_u32, 1024] {
        let options = mkoba::store::ConnectionOptions {
            url: mkoba::store::DatabaseUrl::Sqlite(dir.path().join("m.db")),
            busy_timeout_ms: 5_000,
            statement_timeout_ms: 60_000,
            sqlite_mmap_kib: kib,
        };
        let mut conn = options.connect().unwrap();
        let mkoba::store::AnyConnection::Sqlite(c) = &mut conn else {
            unreachable!()
        };
        let mmap = diesel::sql_query("PRAGMA mmap_size")
            .get_result::<MmapSize>(c)
            .unwrap()
            .mmap_size;
        assert_eq!(mmap, i64::from(kib) * 1024);
        let synchronous = diesel::sql_query("PRAGMA synchronous")
            .get_result::<Synchronous>(c)
            .unwrap()
            .synchronous;
        assert_eq!(synchronous, 2, "FULL");
    }
}
