//! The demo world seeded into a fresh embedded database, so a newcomer sees mkoba work at once:
//! e-money issued against a trust deposit, a super-agent, two agents with float, three customers
//! with PINs and money, two merchants and a small catalog.

use mkoba_ledger::{AccountId, Command, Currency, Money, Outcome, Tier, TxnKind, TxnRequest};

use crate::app::App;
use crate::store::parties::{self, AgentRole, NewAgent, NewCustomer, NewProduct};
use crate::store::{checkout, StoreError};

pub const SEEDED_SETTING: &str = "demo_seeded";

pub struct DemoCustomer {
    pub msisdn: &'static str,
    pub name: &'static str,
    pub pin: &'static str,
    pub tier: Tier,
    pub cash_in_minor: i64,
}

pub const CUSTOMERS: [DemoCustomer; 3] = [
    DemoCustomer {
        msisdn: "+254700000001",
        name: "Amina Njeri",
        pin: "4821",
        tier: Tier::Tier1,
        cash_in_minor: 500_000,
    },
    DemoCustomer {
        msisdn: "+254700000002",
        name: "Brian Otieno",
        pin: "5937",
        tier: Tier::Tier0,
        cash_in_minor: 200_000,
    },
    DemoCustomer {
        msisdn: "+254700000003",
        name: "Chebet Wanjiru",
        pin: "7264",
        tier: Tier::Tier0,
        cash_in_minor: 50_000,
    },
];

pub struct DemoAgent {
    pub code: &'static str,
    pub name: &'static str,
    pub msisdn: &'static str,
    pub password: &'static str,
    pub role: AgentRole,
}

pub const AGENTS: [DemoAgent; 3] = [
    DemoAgent {
        code: "SA001",
        name: "Baraka Super Agent",
        msisdn: "+254711000001",
        password: "demo-super-001",
        role: AgentRole::SuperAgent,
    },
    DemoAgent {
        code: "AG101",
        name: "Mama Mboga Shop",
        msisdn: "+254711000101",
        password: "demo-agent-101",
        role: AgentRole::Agent,
    },
    DemoAgent {
        code: "AG102",
        name: "Kona Kiosk",
        msisdn: "+254711000102",
        password: "demo-agent-102",
        role: AgentRole::Agent,
    },
];

pub const MERCHANTS: [(&str, &str); 3] = [
    ("M001", "Safari Airtime & Data"),
    ("M002", "Habari Daily News"),
    ("M003", "Maji Water Company"),
];
/// The demo news site's API key and signing secret, documented in the README so that its curl
/// examples work. Demo data only: a real merchant's credentials come from
/// `mkoba admin merchant-credentials`.
pub const DEMO_API_KEY_ID: &str = "demonews0002";
pub const DEMO_API_KEY_SECRET: &str = "DemoOnlyNeverUseThisKeyInProd002";
pub const DEMO_SIGNING_SECRET: &str = "whsec_demo_habari_daily_news";

/// Merchants that need the customer's account number with each payment (billers).
pub const BILLERS: [&str; 1] = ["M003"];

/// (merchant code, sku, name, category, price in minor units)
const PRODUCTS: [(&str, &str, &str, &str, i64); 6] = [
    ("M001", "AIR-10", "Airtime 10", "airtime", 1_000),
    ("M001", "AIR-50", "Airtime 50", "airtime", 5_000),
    ("M001", "DATA-100MB", "Data 100 MB", "data", 2_000),
    ("M001", "DATA-1GB", "Data 1 GB", "data", 9_900),
    ("M002", "ART-DAY", "Today's article", "article", 5),
    ("M002", "ART-WEEK", "Week pass", "article", 2_500),
];

fn must_accept(outcome: Outcome, what: &str) -> Result<(), StoreError> {
    match outcome {
        Outcome::Accepted(_) | Outcome::Replayed(_) => Ok(()),
        Outcome::Rejected(r) => Err(StoreError::Corrupt(format!(
            "demo {what} was rejected: {r}"
        ))),
    }
}

fn submit(
    app: &App,
    key: &str,
    kind: TxnKind,
    debit: AccountId,
    credit: AccountId,
    minor: i64,
    memo: &str,
) -> Result<(), StoreError> {
    let command = Command::Submit(TxnRequest {
        idempotency_key: key.to_owned(),
        kind,
        debit,
        credit,
        amount: Money::from_minor(minor, Currency::KES),
        memo: memo.to_owned(),
        metadata: String::new(),
        pending_expiry_seconds: None,
    });
    must_accept(app.writer.submit_blocking(command)?, key)
}

/// Seeds the demo world once. Returns false if it was already there.
pub fn seed(app: &App) -> anyhow::Result<bool> {
    let mut conn = checkout(&app.pool)?;
    if parties::setting(&mut conn, SEEDED_SETTING)?.is_some() {
        crate::portal::demo::seed(app)?;
        return Ok(false);
    }
    let currency = Currency::KES;
    let issuance = app
        .system
        .get(&currency)
        .map(|s| s.issuance)
        .ok_or_else(|| anyhow::anyhow!("KES is not enabled"))?;

    let mut floats = Vec::new();
    let mut super_agent_id = None;
    // Every step finds what an interrupted earlier seeding already made, so seeding resumes.
    for agent in &AGENTS {
        if let Some((agent_id, float, _)) = parties::agent_by_code(&mut conn, agent.code)? {
            if agent.role == AgentRole::SuperAgent {
                super_agent_id = Some(agent_id);
            }
            floats.push(float);
            continue;
        }
        let hash = app.hasher.hash(agent.password)?;
        let created = parties::create_agent(
            &mut conn,
            &NewAgent {
                code: agent.code,
                name: agent.name,
                role: agent.role,
                parent_agent_id: if agent.role == AgentRole::Agent {
                    super_agent_id
                } else {
                    None
                },
                msisdn: agent.msisdn,
                currency,
                password_hash: &hash,
            },
        )?;
        if agent.role == AgentRole::SuperAgent {
            super_agent_id = Some(created.agent_id);
        }
        floats.push(created.float);
    }
    let [super_float, float_a, float_b] = floats[..] else {
        anyhow::bail!("demo agents not created")
    };
    submit(
        app,
        "demo:issue:SA001",
        TxnKind::FloatIssuance,
        issuance,
        super_float,
        100_000_000,
        "trust deposit DEMO-TRUST-0001",
    )?;
    submit(
        app,
        "demo:float:AG101",
        TxnKind::FloatTransfer,
        super_float,
        float_a,
        20_000_000,
        "float for AG101",
    )?;
    submit(
        app,
        "demo:float:AG102",
        TxnKind::FloatTransfer,
        super_float,
        float_b,
        20_000_000,
        "float for AG102",
    )?;

    for (i, customer) in CUSTOMERS.iter().enumerate() {
        let wallet = match parties::customer_by_msisdn(&mut conn, customer.msisdn)? {
            Some((_, _, wallet)) => wallet,
            None => {
                let hash = app.hasher.hash(customer.pin)?;
                let new = NewCustomer {
                    msisdn: customer.msisdn,
                    name: customer.name,
                    language: "en",
                    currency,
                    tier: customer.tier,
                    pin_hash: Some(&hash),
                    id_document: None,
                };
                parties::create_customer(&mut conn, &new)?.wallet
            }
        };
        let float = if i % 2 == 0 { float_a } else { float_b };
        let key = format!("demo:cash-in:{}", customer.msisdn);
        submit(
            app,
            &key,
            TxnKind::Deposit,
            float,
            wallet,
            customer.cash_in_minor,
            "demo cash-in",
        )?;
    }
    for (code, name) in MERCHANTS {
        if parties::merchant_by_code(&mut conn, code)?.is_none() {
            parties::create_merchant(&mut conn, code, name, currency)?;
        }
        parties::set_requires_reference(&mut conn, code, BILLERS.contains(&code))?;
    }
    let (news, _) = parties::merchant_by_code(&mut conn, "M002")?
        .ok_or_else(|| anyhow::anyhow!("merchant M002 missing"))?;
    let now = app.clock.now().0;
    crate::merchant::auth::insert_key(
        &mut conn,
        &app.merchant.api_key_hash_key,
        news,
        "demo",
        DEMO_API_KEY_ID,
        DEMO_API_KEY_SECRET,
        now,
    )?;
    crate::merchant::store::set_signing(&mut conn, news, DEMO_SIGNING_SECRET, false)?;
    for (merchant, sku, name, category, price_minor) in PRODUCTS {
        let (merchant_id, _) = parties::merchant_by_code(&mut conn, merchant)?
            .ok_or_else(|| anyhow::anyhow!("merchant {merchant} missing"))?;
        if !parties::product_exists(&mut conn, merchant_id, sku)? {
            parties::create_product(
                &mut conn,
                &NewProduct {
                    merchant_id,
                    sku,
                    name,
                    category,
                    price_minor,
                    currency,
                },
            )?;
        }
    }
    crate::portal::demo::seed(app)?;
    parties::put_setting(&mut conn, SEEDED_SETTING, "1")?;
    Ok(true)
}
