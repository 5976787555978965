//! Test environments on real databases: a fresh SQLite file, or a fresh PostgreSQL database
//! cloned from a migrated template (PostgreSQL at 127.0.0.1:5432, or `TEST_DATABASE_URL`).
//! An unreachable PostgreSQL fails the test: the PostgreSQL half is never skipped.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, RunQueryDsl};
use mkoba::app::App;
use mkoba::config::{Config, Secret};
use mkoba::store::parties::{self, AgentRole, NewAgent, NewCustomer};
use mkoba::store::writer::{ManualClock, WriterThreads};
use mkoba::store::{checkout, AnyConnection, Backend, ConnectionOptions, DatabaseUrl};
use mkoba_ledger::{
    AccountId, Command, Currency, Money, Outcome, Tier, Timestamp, TxnKind, TxnRequest,
};

pub fn pg_admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn pg_url_for(database: &str) -> String {
    let admin = pg_admin_url();
    let base = admin
        .rsplit_once('/')
        .map_or(admin.as_str(), |(b, _)| b)
        .to_owned();
    format!("{base}/{database}")
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}_{}_{n}_{nanos}", std::process::id())
}

fn migrations_fingerprint() -> u64 {
    let mut hasher = DefaultHasher::new();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../migrations/postgres");
    let mut files: Vec<PathBuf> = walk(&root);
    files.sort();
    for f in files {
        f.file_name().hash(&mut hasher);
        std::fs::read(&f).unwrap_or_default().hash(&mut hasher);
    }
    hasher.finish()
}

fn walk(dir: &PathBuf) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// A migrated template database, built once per migrations content under a temporary name and
/// renamed into place, so a half-built template is never used.
fn pg_template() -> &'static str {
    static TEMPLATE: OnceLock<String> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let name = format!("mkoba_tmpl_{:016x}", migrations_fingerprint());
        let mut admin = PgConnection::establish(&pg_admin_url()).unwrap_or_else(|e| {
            panic!(
                "PostgreSQL must be reachable at {} for the tests: {e}",
                pg_admin_url()
            )
        });
        let exists: bool = diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
            "EXISTS (SELECT 1 FROM pg_database WHERE datname = '{name}')"
        )))
        .get_result(&mut admin)
        .unwrap_or(false);
        if !exists {
            let building = unique("mkoba_build");
            admin
                .batch_execute(&format!("CREATE DATABASE {building}"))
                .expect("create template database");
            let options = ConnectionOptions {
                url: DatabaseUrl::Postgres(pg_url_for(&building)),
                busy_timeout_ms: 5_000,
                statement_timeout_ms: 60_000,
                sqlite_mmap_kib: mkoba::store::db::SQLITE_MMAP_KIB_DEFAULT,
            };
            options.migrate().expect("migrate template database");
            // Another test process may have finished first; either template is good.
            let _ = admin.batch_execute(&format!("ALTER DATABASE {building} RENAME TO {name}"));
            let _ =
                admin.batch_execute(&format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"));
        }
        name
    })
}

/// A database that exists for one test and is dropped after it.
pub struct TestDb {
    pub url: DatabaseUrl,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = DatabaseUrl::Sqlite(dir.path().join("mkoba.db"));
        TestDb {
            url,
            pg_name: None,
            _dir: Some(dir),
        }
    }

    pub fn postgres() -> TestDb {
        let template = pg_template();
        let name = unique("mkoba_t");
        let mut admin = PgConnection::establish(&pg_admin_url()).expect("PostgreSQL reachable");
        admin
            .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
            .expect("create test database");
        TestDb {
            url: DatabaseUrl::Postgres(pg_url_for(&name)),
            pg_name: Some(name),
            _dir: None,
        }
    }

    pub fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => TestDb::sqlite(),
            Backend::Postgres => TestDb::postgres(),
        }
    }

    pub fn url_text(&self) -> String {
        match &self.url {
            DatabaseUrl::Postgres(u) => u.clone(),
            DatabaseUrl::Sqlite(p) => format!("sqlite://{}", p.display()),
        }
    }

    pub fn connect(&self) -> AnyConnection {
        ConnectionOptions {
            url: self.url.clone(),
            busy_timeout_ms: 5_000,
            statement_timeout_ms: 60_000,
            sqlite_mmap_kib: mkoba::store::db::SQLITE_MMAP_KIB_DEFAULT,
        }
        .connect()
        .expect("connect to test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = &self.pg_name {
            if let Ok(mut admin) = PgConnection::establish(&pg_admin_url()) {
                let _ =
                    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

pub const T0: Timestamp = Timestamp(1_790_000_000_000_000);

/// Configuration for tests: cheap argon2, fixed secrets, the given database.
pub fn test_config(db: &TestDb, data_dir: PathBuf) -> Config {
    let mut config = Config {
        data_dir,
        ..Config::default()
    };
    config.database.url = Secret::new(db.url_text());
    config.database.pool_size_max = 8;
    config.security.pepper = Secret::new("test-pepper-0123456789abcdef".into());
    config.security.admin_token = Secret::new("test-admin-token-0123456789abcdef".into());
    config.security.argon2_memory_kib = 8 * 1024;
    config.security.argon2_iterations = 1;
    config.ledger.reply_timeout_ms = 60_000;
    config
}

/// A running `App` (store, writer, rules) on a fresh database, with a manual clock.
pub struct TestEnv {
    pub app: Arc<App>,
    pub clock: Arc<ManualClock>,
    // Fields drop in order: the app (closing the writer queue), the writer threads, then the
    // database.
    _threads: WriterThreads,
    pub db: TestDb,
    _data: tempfile::TempDir,
    keys: AtomicU64,
}

impl TestEnv {
    pub fn start(backend: Backend) -> TestEnv {
        Self::start_with(backend, |_| {})
    }

    pub fn start_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> TestEnv {
        let db = TestDb::new(backend);
        let data = tempfile::tempdir().expect("temp dir");
        let mut config = test_config(&db, data.path().to_path_buf());
        adjust(&mut config);
        let clock = Arc::new(ManualClock::new(T0));
        let (app, threads) = App::start(config, Arc::clone(&clock) as _).expect("start app");
        TestEnv {
            app,
            clock,
            _threads: threads,
            db,
            _data: data,
            keys: AtomicU64::new(0),
        }
    }

    pub fn conn(&self) -> mkoba::store::db::PooledConnection {
        checkout(&self.app.pool).expect("pooled connection")
    }

    pub fn system(&self) -> mkoba::store::parties::SystemAccounts {
        *self
            .app
            .system
            .get(&Currency::KES)
            .expect("KES system accounts")
    }

    pub fn customer(&self, msisdn: &str, tier: Tier) -> AccountId {
        parties::create_customer(
            &mut self.conn(),
            &NewCustomer {
                msisdn,
                name: "Test Customer",
                language: "en",
                currency: Currency::KES,
                tier,
                pin_hash: None,
                id_document: None,
            },
        )
        .expect("create customer")
        .wallet
    }

    /// An agent float (with its commission account) holding `float_minor` of issued e-money.
    pub fn agent(&self, code: &str, float_minor: i64) -> (AccountId, AccountId) {
        let created = parties::create_agent(
            &mut self.conn(),
            &NewAgent {
                code,
                name: "Test Agent",
                role: AgentRole::Agent,
                parent_agent_id: None,
                msisdn: "+254711999999",
                currency: Currency::KES,
                password_hash: "unused",
            },
        )
        .expect("create agent");
        if float_minor > 0 {
            let outcome = self.submit(
                TxnKind::FloatIssuance,
                self.system().issuance,
                created.float,
                float_minor,
            );
            assert!(matches!(outcome, Outcome::Accepted(_)), "{outcome:?}");
        }
        (
            created.float,
            created.commission.expect("agents earn commission"),
        )
    }

    pub fn merchant(&self, code: &str) -> AccountId {
        parties::create_merchant(&mut self.conn(), code, "Test Merchant", Currency::KES)
            .expect("create merchant")
            .account
    }

    pub fn next_key(&self) -> String {
        format!("k-{}", self.keys.fetch_add(1, Ordering::SeqCst))
    }

    pub fn request(
        &self,
        kind: TxnKind,
        debit: AccountId,
        credit: AccountId,
        minor: i64,
    ) -> TxnRequest {
        TxnRequest {
            idempotency_key: self.next_key(),
            kind,
            debit,
            credit,
            amount: Money::from_minor(minor, Currency::KES),
            memo: String::new(),
            metadata: String::new(),
            pending_expiry_seconds: None,
        }
    }

    pub fn run(&self, command: Command) -> Outcome {
        self.app
            .writer
            .submit_blocking(command)
            .expect("ledger writer answered")
    }

    pub fn submit(
        &self,
        kind: TxnKind,
        debit: AccountId,
        credit: AccountId,
        minor: i64,
    ) -> Outcome {
        self.run(Command::Submit(self.request(kind, debit, credit, minor)))
    }

    pub fn balance(&self, account: AccountId) -> i64 {
        mkoba::store::reads::account(&mut self.conn(), account.0)
            .expect("read account")
            .expect("account exists")
            .1
            .balance_minor
    }

    pub fn available(&self, account: AccountId) -> i64 {
        let (_, state) = mkoba::store::reads::account(&mut self.conn(), account.0)
            .expect("read")
            .expect("exists");
        state.available_minor().expect("no overflow")
    }

    /// Rows in the journal: (transactions, postings).
    pub fn journal_size(&self) -> (i64, i64) {
        use diesel::prelude::*;
        use mkoba::store::schema::{postings, transactions};
        let mut conn = self.conn();
        let t: i64 = mkoba::with_conn!(&mut *conn, |c| transactions::table.count().get_result(c))
            .expect("count");
        let p: i64 = mkoba::with_conn!(&mut *conn, |c| postings::table.count().get_result(c))
            .expect("count");
        (t, p)
    }

    /// Turns waiting confirmations into outbox messages, as the dispatcher's next round would.
    pub fn expand_confirmations(&self) -> mkoba::sms::due::Expanded {
        mkoba::sms::due::expand_all(&mut self.conn(), &self.app.notify).expect("expand")
    }

    /// The newest `limit` messages to `recipient`, once waiting confirmations are expanded.
    pub fn sms_for(&self, recipient: &str, limit: i64) -> Vec<mkoba::sms::outbox::OutboxRow> {
        self.expand_confirmations();
        mkoba::sms::outbox::for_recipient(&mut self.conn(), recipient, limit).expect("outbox")
    }

    /// Outbox messages by status, once waiting confirmations are expanded.
    pub fn outbox_counts(&self) -> std::collections::BTreeMap<String, i64> {
        self.expand_confirmations();
        mkoba::sms::outbox::counts(&mut self.conn()).expect("outbox counts")
    }

    pub fn assert_reconciles(&self) {
        let report = mkoba::store::reconcile::run(&mut self.conn()).expect("reconcile");
        assert!(
            report.balanced(),
            "ledger does not reconcile: {:#?}",
            report.mismatches
        );
    }
}

pub fn request_with_key(
    key: &str,
    kind: TxnKind,
    debit: AccountId,
    credit: AccountId,
    minor: i64,
) -> TxnRequest {
    TxnRequest {
        idempotency_key: key.to_owned(),
        kind,
        debit,
        credit,
        amount: Money::from_minor(minor, Currency::KES),
        memo: String::new(),
        metadata: String::new(),
        pending_expiry_seconds: None,
    }
}
