//! `mkoba admin …`: the operator's command line. Money moves through the same ledger writer as
//! every other channel, with idempotency keys derived from the operator's own references.

pub mod backup;
pub mod import;
pub mod reports;

use std::io::Read;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Subcommand;
use mkoba_ledger::{AccountId, AccountStatus, Command, Money, Outcome, Tier, TxnKind, TxnRequest};

use crate::app::App;
use crate::phone::Msisdn;
use crate::secrets::pin_is_acceptable;
use crate::store::parties::{self, AgentRole, NewAgent, NewCustomer};
use crate::store::{checkout, reads, reconcile};

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Register a customer wallet. The PIN is read from standard input (never an argument).
    CreateCustomer {
        #[arg(long)]
        msisdn: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "en")]
        language: String,
        #[arg(long, default_value_t = 0)]
        tier: i16,
    },
    /// Create an agent (or, with --super-agent, a super-agent). Password from standard input.
    CreateAgent {
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        msisdn: String,
        #[arg(long)]
        super_agent: bool,
        /// Code of the super-agent this agent buys float from.
        #[arg(long)]
        parent: Option<String>,
    },
    CreateMerchant {
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: String,
    },
    /// Issue e-money to an agent's float against cash deposited in the trust bank account.
    /// The bank's reference makes the issuance idempotent: one deposit, one issuance.
    IssueFloat {
        #[arg(long)]
        agent: String,
        #[arg(long)]
        amount: String,
        #[arg(long)]
        trust_reference: String,
    },
    /// Move float between two agents (e.g. a super-agent rebalancing its agents).
    TransferFloat {
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        #[arg(long)]
        amount: String,
        #[arg(long)]
        reference: String,
    },
    Freeze {
        #[arg(long)]
        account: i64,
    },
    Unfreeze {
        #[arg(long)]
        account: i64,
    },
    /// Print a trial balance and check every invariant; exits non-zero on any mismatch.
    Reconcile {
        #[arg(long)]
        json: bool,
    },
    Statement {
        #[arg(long)]
        account: i64,
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
    /// Every posted movement on an account, as CSV.
    ExportStatement {
        #[arg(long)]
        account: i64,
        #[arg(long)]
        out: PathBuf,
    },
    /// Counts and sums per kind of transaction for one local day (today by default).
    DailyReport {
        /// YYYY-MM-DD in the operator's time zone.
        #[arg(long)]
        date: Option<String>,
    },
    /// Onboard customers (msisdn,name,language,tier) or agents (code,name,msisdn,role,parent).
    Import {
        #[arg(long, conflicts_with = "agents")]
        customers: Option<PathBuf>,
        #[arg(long)]
        agents: Option<PathBuf>,
        /// Where generated agent passwords go (created with mode 0600; must not exist).
        #[arg(long)]
        credentials_out: Option<PathBuf>,
    },
    /// Give a merchant a new API key and a new signing secret (for signed requests and webhooks).
    /// Both are printed once and never stored in readable form... except the signing secret,
    /// which must be readable to verify signatures.
    MerchantCredentials {
        #[arg(long)]
        code: String,
        #[arg(long, default_value = "cli")]
        label: String,
        /// Refuse this merchant's unsigned requests from now on.
        #[arg(long)]
        require_signature: bool,
    },
    /// Revoke one of a merchant's API keys.
    RevokeMerchantKey {
        #[arg(long)]
        code: String,
        #[arg(long)]
        key_id: String,
    },
    /// After checking the customer's ID: unlock the wallet and send a one-time start PIN by SMS,
    /// which the customer must change at first use.
    ResetPin {
        #[arg(long)]
        msisdn: String,
    },
    /// Queue an SMS from the outbox to be sent again.
    ResendSms {
        #[arg(long)]
        id: i64,
    },
    /// Void every pending transfer past its expiry now (the server does this continuously).
    ExpirePending,
    /// Online backup of the embedded SQLite database while the server runs (SQLite backup API).
    Backup {
        #[arg(long)]
        to: PathBuf,
    },
    /// Check that a backup file opens, is current and reconciles; exits non-zero otherwise.
    VerifyBackup {
        #[arg(long)]
        from: PathBuf,
    },
}

fn read_secret_from_stdin(what: &str) -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::stdin()
        .take(256)
        .read_to_string(&mut text)
        .with_context(|| format!("reading the {what}"))?;
    let secret = text.trim().to_owned();
    if secret.is_empty() {
        bail!("no {what} on standard input");
    }
    Ok(secret)
}

fn move_money(
    app: &App,
    key: String,
    kind: TxnKind,
    debit: AccountId,
    credit: AccountId,
    amount: Money,
    memo: String,
) -> anyhow::Result<()> {
    let command = Command::Submit(TxnRequest {
        idempotency_key: key,
        kind,
        debit,
        credit,
        amount,
        memo,
        metadata: String::new(),
        pending_expiry_seconds: None,
    });
    match app.writer.submit_blocking(command)? {
        Outcome::Accepted(r) => println!("{} {} {} posted", r.code, r.kind, r.amount),
        Outcome::Replayed(r) => println!(
            "{} {} {} was already posted (same reference)",
            r.code, r.kind, r.amount
        ),
        Outcome::Rejected(r) => bail!("refused: {} ({})", r.name(), r.message()),
    }
    Ok(())
}

fn float_of(app: &App, code: &str) -> anyhow::Result<AccountId> {
    let mut conn = checkout(&app.pool)?;
    let (_, float, _) =
        parties::agent_by_code(&mut conn, code)?.with_context(|| format!("no agent {code}"))?;
    Ok(float)
}

fn amount(app: &App, text: &str, kind: TxnKind) -> anyhow::Result<Money> {
    let currency = app.config.ledger.default_currency;
    crate::http::ledger_api::parse_amount(app, text, currency.code(), Some(kind))
        .map_err(|r| anyhow::anyhow!("{}: {}", r.name(), r.message()))
}

/// Runs one admin command; the returned code is the process exit status.
pub fn run(app: &App, command: AdminCommand) -> anyhow::Result<i32> {
    let currency = app.config.ledger.default_currency;
    match command {
        AdminCommand::CreateCustomer {
            msisdn,
            name,
            language,
            tier,
        } => {
            let msisdn = Msisdn::parse(&msisdn, app.country)
                .map_err(|_| anyhow::anyhow!("invalid_phone_number"))?;
            let tier = Tier::from_index(tier).context("tier must be 0, 1 or 2")?;
            let pin = read_secret_from_stdin("PIN")?;
            if !pin_is_acceptable(&pin, app.config.security.pin_length) {
                bail!(
                    "weak_pin: the PIN must be {} digits and not easy to guess",
                    app.config.security.pin_length
                );
            }
            let hash = app.hasher.hash(&pin)?;
            let created = parties::create_customer(
                &mut *checkout(&app.pool)?,
                &NewCustomer {
                    msisdn: msisdn.as_str(),
                    name: &name,
                    language: &language,
                    currency,
                    tier,
                    pin_hash: Some(&hash),
                    id_document: None,
                },
            )?;
            println!(
                "customer {} wallet account {}",
                created.customer_id, created.wallet.0
            );
        }
        AdminCommand::CreateAgent {
            code,
            name,
            msisdn,
            super_agent,
            parent,
        } => {
            let msisdn = Msisdn::parse(&msisdn, app.country)
                .map_err(|_| anyhow::anyhow!("invalid_phone_number"))?;
            let password = read_secret_from_stdin("password")?;
            if password.len() < 10 {
                bail!("weak_password: at least 10 characters");
            }
            let mut conn = checkout(&app.pool)?;
            let parent_agent_id = match parent {
                Some(code) => Some(
                    parties::agent_by_code(&mut conn, &code)?
                        .with_context(|| format!("no agent {code}"))?
                        .0,
                ),
                None => None,
            };
            let hash = app.hasher.hash(&password)?;
            let role = if super_agent {
                AgentRole::SuperAgent
            } else {
                AgentRole::Agent
            };
            let created = parties::create_agent(
                &mut conn,
                &NewAgent {
                    code: &code,
                    name: &name,
                    role,
                    parent_agent_id,
                    msisdn: msisdn.as_str(),
                    currency,
                    password_hash: &hash,
                },
            )?;
            println!(
                "agent {} float account {}",
                created.agent_id, created.float.0
            );
        }
        AdminCommand::CreateMerchant { code, name } => {
            let created =
                parties::create_merchant(&mut *checkout(&app.pool)?, &code, &name, currency)?;
            println!(
                "merchant {} account {}",
                created.merchant_id, created.account.0
            );
        }
        AdminCommand::IssueFloat {
            agent,
            amount: text,
            trust_reference,
        } => {
            let issuance = app
                .system
                .get(&currency)
                .context("currency not enabled")?
                .issuance;
            let float = float_of(app, &agent)?;
            let amount = amount(app, &text, TxnKind::FloatIssuance)?;
            let memo = format!("trust deposit {trust_reference}");
            move_money(
                app,
                format!("float-issuance:{trust_reference}"),
                TxnKind::FloatIssuance,
                issuance,
                float,
                amount,
                memo,
            )?;
        }
        AdminCommand::TransferFloat {
            from,
            to,
            amount: text,
            reference,
        } => {
            let (debit, credit) = (float_of(app, &from)?, float_of(app, &to)?);
            let amount = amount(app, &text, TxnKind::FloatTransfer)?;
            move_money(
                app,
                format!("float-transfer:{reference}"),
                TxnKind::FloatTransfer,
                debit,
                credit,
                amount,
                reference,
            )?;
        }
        AdminCommand::Freeze { account } | AdminCommand::Unfreeze { account } if account <= 0 => {
            bail!("no account {account}")
        }
        AdminCommand::Freeze { account } => return set_status(app, account, AccountStatus::Frozen),
        AdminCommand::Unfreeze { account } => {
            return set_status(app, account, AccountStatus::Active)
        }
        AdminCommand::Reconcile { json } => {
            let report = reconcile::run(&mut *checkout(&app.pool)?)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print_trial_balance(&report);
            }
            return Ok(if report.balanced() { 0 } else { 1 });
        }
        AdminCommand::ExportStatement { account, out } => {
            let lines = reports::export_statement(app, account, &out)?;
            println!("wrote {lines} line(s) to {}", out.display());
        }
        AdminCommand::DailyReport { date } => reports::daily_report(app, date)?,
        AdminCommand::Import {
            customers,
            agents,
            credentials_out,
        } => {
            let summary = match (customers, agents, credentials_out) {
                (Some(file), None, _) => import::customers(app, &file)?,
                (None, Some(file), Some(out)) => import::agents(app, &file, &out)?,
                (None, Some(_), None) => bail!("--credentials-out is required with --agents"),
                _ => bail!("give --customers FILE or --agents FILE"),
            };
            println!(
                "created {}, already there {}, refused {}",
                summary.created,
                summary.skipped_existing,
                summary.refused.len()
            );
            for line in &summary.refused {
                println!("  {line}");
            }
            return Ok(i32::from(!summary.refused.is_empty()));
        }
        AdminCommand::ResetPin { msisdn } => {
            let msisdn = Msisdn::parse(&msisdn, app.country)
                .map_err(|_| anyhow::anyhow!("invalid_phone_number"))?;
            let mut conn = checkout(&app.pool)?;
            let customer = parties::customer_profile(&mut conn, msisdn.as_str())?
                .context("no customer with that number")?;
            let pin = crate::secrets::one_time_pin(app.config.security.pin_length);
            parties::reset_pin(&mut conn, customer.id, &app.hasher.hash(&pin)?)?;
            let language = crate::sms::templates::Language::from_code(&customer.language)
                .unwrap_or(app.notify.default_language);
            let message = crate::sms::templates::Message::PinReset { pin };
            crate::sms::outbox::enqueue(
                &mut conn,
                &app.notify,
                msisdn.as_str(),
                &message,
                language,
                app.clock.now(),
            )?;
            println!(
                "customer {} unlocked; a one-time start PIN is on its way by SMS to {}",
                customer.id,
                msisdn.masked()
            );
        }
        AdminCommand::MerchantCredentials {
            code,
            label,
            require_signature,
        } => {
            let mut conn = checkout(&app.pool)?;
            let (merchant_id, _) = parties::merchant_by_code(&mut conn, &code)?
                .context("no merchant with that code")?;
            let now = app.clock.now().0;
            let key = crate::merchant::auth::issue_key(
                &mut conn,
                &app.merchant.api_key_hash_key,
                merchant_id,
                &label,
                now,
            )?;
            let secret = format!("whsec_{}", crate::secrets::random_token(32));
            crate::merchant::store::set_signing(
                &mut conn,
                merchant_id,
                &secret,
                require_signature,
            )?;
            println!("api key (shown once): {}", key.token);
            println!("key id: {}", key.key_id);
            println!("signing secret (requests and webhooks): {secret}");
        }
        AdminCommand::RevokeMerchantKey { code, key_id } => {
            let mut conn = checkout(&app.pool)?;
            let (merchant_id, _) = parties::merchant_by_code(&mut conn, &code)?
                .context("no merchant with that code")?;
            if !crate::merchant::auth::revoke_key(
                &mut conn,
                merchant_id,
                &key_id,
                app.clock.now().0,
            )? {
                bail!("no live key {key_id} for merchant {code}");
            }
            println!("key {key_id} revoked");
        }
        AdminCommand::ResendSms { id } => {
            let now = app.clock.now();
            match crate::sms::outbox::resend(&mut *checkout(&app.pool)?, &app.notify, id, now)? {
                Some(new_id) => println!("message {id} queued again as {new_id}"),
                None => bail!("no message {id}"),
            }
        }
        AdminCommand::ExpirePending => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let mut total = 0;
            loop {
                let n = runtime
                    .block_on(app.sweep_expired(app.config.ledger.expiry_sweep_batch_max))?;
                total += n;
                if n == 0 {
                    break;
                }
            }
            println!("voided {total} expired pending transfer(s)");
        }
        AdminCommand::Backup { to } => {
            let crate::store::DatabaseUrl::Sqlite(live) = &app.url else {
                bail!("PostgreSQL is backed up with pg_dump: see ops/backup/backup-postgres.sh");
            };
            let bytes =
                backup::backup_sqlite(live, &to, app.config.database.busy_timeout_ms, true)?;
            println!(
                "backed up {} to {} ({bytes} bytes)",
                live.display(),
                to.display()
            );
        }
        AdminCommand::VerifyBackup { from } => {
            let report = backup::verify(&from)?;
            print_trial_balance(&report);
            return Ok(if report.balanced() { 0 } else { 1 });
        }
        AdminCommand::Statement { account, limit } => {
            let mut conn = checkout(&app.pool)?;
            let (row, state) = reads::account(&mut conn, account)?
                .with_context(|| format!("no account {account}"))?;
            let money = |m: i64| Money::from_minor(m, state.currency);
            println!(
                "account {} ({}, {}) {}",
                row.id, state.kind, state.status, row.label
            );
            println!(
                "balance {}  available {}",
                money(state.balance_minor),
                money(state.available_minor().unwrap_or(0))
            );
            let limit = limit.clamp(1, app.config.ledger.statement_page_max);
            for line in reads::statement(&mut conn, account, None, limit)? {
                println!(
                    "{:>8} {} {:<16} {:<10} {:>16}  {}",
                    line.transaction_id,
                    line.code,
                    line.kind,
                    line.leg,
                    money(line.amount_minor).to_grouped_string(),
                    line.memo
                );
            }
        }
    }
    Ok(0)
}

fn set_status(app: &App, account: i64, status: AccountStatus) -> anyhow::Result<i32> {
    if parties::set_status(&mut *checkout(&app.pool)?, AccountId(account), status)? {
        println!("account {account} is now {status}");
        Ok(0)
    } else {
        eprintln!("no account {account}");
        Ok(1)
    }
}

fn print_trial_balance(report: &mkoba_ledger::reconcile::Report) {
    for (currency, totals) in &report.currencies {
        println!("Trial balance {currency} ({} accounts)", totals.accounts);
        for (kind, sum) in &totals.by_kind_minor {
            let minor = i64::try_from(*sum).unwrap_or(i64::MAX);
            println!(
                "  {:<18} {:>22}",
                kind.as_str(),
                Money::from_minor(minor, *currency).to_grouped_string()
            );
        }
        let show = |v: i128| {
            Money::from_minor(i64::try_from(v).unwrap_or(i64::MAX), *currency).to_grouped_string()
        };
        println!(
            "  {:<18} {:>22}",
            "sum of balances",
            show(totals.balance_sum_minor)
        );
        println!(
            "  {:<18} {:>22}",
            "e-money issued",
            show(totals.issued_minor)
        );
        println!(
            "  {:<18} {:>22}",
            "in circulation",
            show(totals.emoney_in_circulation_minor)
        );
    }
    if report.balanced() {
        println!("BALANCED: every invariant holds");
    } else {
        println!("MISMATCH: {} problem(s)", report.mismatches.len());
        for m in &report.mismatches {
            println!("  - {m}");
        }
    }
}
