//! `mkoba serve | migrate | admin …`

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use mkoba::admin::{self, AdminCommand};
use mkoba::app::App;
use mkoba::config::Config;
use mkoba::store::writer::SystemClock;
use mkoba::store::{Backend, ConnectionOptions};
use mkoba::{demo, http, telemetry};

#[derive(Parser)]
#[command(
    name = "mkoba",
    version,
    about = "Mobile money on one double-entry ledger"
)]
struct Cli {
    /// Configuration file (TOML); `MKOBA_…` environment variables override it.
    #[arg(long, global = true, env = "MKOBA_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Run the server (and, on a fresh embedded database, seed the demo world).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Operator commands.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref(), std::env::vars()) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("mkoba: configuration refused: {err}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&config.log.format, &config.log.filter);
    if let Err(err) = mkoba::metrics::init() {
        eprintln!("mkoba: {err}");
        return ExitCode::FAILURE;
    }
    match run(cli.command, config) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("mkoba: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Commands, config: Config) -> anyhow::Result<u8> {
    match command {
        Commands::Migrate => {
            let url = config.database_url().map_err(anyhow::Error::msg)?;
            let options = ConnectionOptions {
                url: url.clone(),
                busy_timeout_ms: config.database.busy_timeout_ms,
                statement_timeout_ms: config.database.statement_timeout_ms,
                sqlite_mmap_kib: config.database.sqlite_mmap_kib,
            };
            let applied = options.migrate()?;
            println!("{}: {} migration(s) applied", url.redacted(), applied.len());
            Ok(0)
        }
        Commands::Admin { command } => {
            let (app, threads) = App::start(config, Arc::new(SystemClock))?;
            let code = admin::run(&app, command)?;
            drop(app);
            threads.join();
            Ok(u8::try_from(code).unwrap_or(1))
        }
        Commands::Serve => serve(config),
    }
}

fn serve(config: Config) -> anyhow::Result<u8> {
    let listener = TcpListener::bind(&config.server.bind)
        .with_context(|| format!("binding {}", config.server.bind))?;
    let (app, threads) = App::start(config, Arc::new(SystemClock))?;
    let seeded = app.backend() == Backend::Sqlite
        && app.config.demo.seed_on_first_start
        && demo::seed(&app)?;
    print_banner(&app, seeded);
    // The background jobs' runtime; the HTTP workers have their own (`http::serve`).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(app.config.server.blocking_threads_max)
        .build()?;
    let served = runtime.block_on(async {
        app.spawn_sweeper();
        app.spawn_dispatcher();
        mkoba::merchant::webhooks::spawn(&app);
        mkoba::merchant::jobs::spawn(&app);
        mkoba::gsma::spawn(&app);
        http::serve(Arc::clone(&app), listener)?.await
    });
    // Stop the background jobs, then the writer threads, before the process exits (see
    // `WriterThreads::join_within`); the writer finishes the batch it holds.
    drop(runtime);
    drop(app);
    threads.join_within(std::time::Duration::from_secs(10));
    served?;
    Ok(0)
}

fn print_banner(app: &App, seeded: bool) {
    let base = app.config.public_url();
    println!(
        "mkoba is running on {} ({})",
        app.config.server.bind,
        app.url.redacted()
    );
    println!("  health     {base}/healthz");
    println!("  readiness  {base}/readyz");
    println!("  ledger API {base}/ops/v1/accounts/{{id}}   (Authorization: Bearer <admin token>)");
    println!("  USSD       {base}/ussd/africastalking?token=<gateway token>   (also /ussd/hubtel, /ussd/arkesel)");
    println!("  SMS hooks  {base}/sms/twilio/inbound, {base}/sms/twilio/status");
    println!("  portal     {base}/portal   (agents, tills, super-agents and operator admins sign in here)");
    if app.backend() == Backend::Sqlite {
        let dir = &app.config.data_dir;
        println!("  admin token in {}", dir.join("admin-token").display());
        println!(
            "  USSD gateway token in {}",
            dir.join("ussd-token").display()
        );
        if app.config.sms.provider == "development" {
            println!("  SMS inbox  {base}/dev/sms/<number>   (development provider: nothing leaves this machine)");
            println!("  phone      {base}/simulator   (a feature phone in your browser: dial the USSD menu, read its SMS)");
        }
        println!("Demo world{}:", if seeded { " (just seeded)" } else { "" });
        for c in &demo::CUSTOMERS {
            println!("  customer {} {:<16} PIN {}", c.msisdn, c.name, c.pin);
        }
        for a in &demo::AGENTS {
            println!(
                "  agent    {:<13} {:<18} password {}",
                a.code, a.name, a.password
            );
        }
        for u in &mkoba::portal::demo::USERS {
            println!(
                "  portal   {:<13} {:<18} password {}",
                u.login,
                u.role.label(),
                u.password
            );
        }
        for (code, name) in demo::MERCHANTS {
            println!("  merchant {code:<13} {name}");
        }
        println!("  try: cargo run --release -- admin reconcile");
    }
}
