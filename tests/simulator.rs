//! The phone simulator in a real headless browser: the page at `/simulator`, driven by
//! `tests/simulator.mjs` (playwright-core on the system Chromium) against the real server, and
//! refused everywhere but a local development server.

use std::path::PathBuf;
use std::process::Command;

use mkoba::store::Backend;
use mkoba_ledger::{Tier, TxnKind};

use crate::http_api::{spawn_with, Running};

const GATEWAY_TOKEN: &str = "test-ussd-gateway-token-0123456789";

/// The playwright-core package: `PLAYWRIGHT_CORE_DIR` (set by `.ci/run`), else installed once
/// under the target dir's test scratch space.
pub(crate) fn playwright_core_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("PLAYWRIGHT_CORE_DIR") {
        return dir.into();
    }
    let prefix = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("playwright");
    let dir = prefix.join("node_modules/playwright-core");
    if !dir.join("package.json").is_file() {
        std::fs::create_dir_all(&prefix).unwrap();
        let status = Command::new("npm")
            .args([
                "install",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                "--prefix",
            ])
            .arg(&prefix)
            .arg("playwright-core@1")
            .status()
            .expect("npm must be available to install playwright-core");
        assert!(status.success(), "installing playwright-core failed");
    }
    dir
}

/// The system Chromium (no browser downloads): `CHROMIUM_BIN`, else `/usr/bin/chromium`.
pub(crate) fn chromium_bin() -> PathBuf {
    let bin: PathBuf = std::env::var("CHROMIUM_BIN")
        .unwrap_or_else(|_| "/usr/bin/chromium".into())
        .into();
    assert!(
        bin.is_file(),
        "Chromium is required for the simulator test and is missing at {} (set CHROMIUM_BIN); \
         `.ci/run` installs it (apt-get install -y chromium)",
        bin.display()
    );
    bin
}

fn dev_server(backend: Backend) -> Running {
    spawn_with(backend, |c| {
        c.ussd.gateway_token = mkoba::config::Secret::new(GATEWAY_TOKEN.into());
    })
}

/// Plain GET: (status, content type, body).
fn get(s: &Running, path: &str) -> (u16, String, String) {
    s.runtime.block_on(async {
        let res = s
            .client
            .get(format!("{}{path}", s.base))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let content_type = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (status, content_type, res.text().await.unwrap())
    })
}

#[test]
fn the_simulator_dials_the_balance_in_a_real_browser() {
    let chromium = chromium_bin();
    let playwright = playwright_core_dir();
    let s = dev_server(Backend::Sqlite);

    // The first demo customer (spawn_with seeds no demo world): registered, with its PIN and a
    // cash-in from an agent, whose SMS the inbox must list.
    let demo = &mkoba::demo::CUSTOMERS[0];
    let (float, _) = s.env.agent("AG1", 10_000_000);
    let wallet = s.env.customer(demo.msisdn, Tier::Tier1);
    s.env.submit(TxnKind::Deposit, float, wallet, 123_400);
    let hash = s.env.app.hasher.hash(demo.pin).unwrap();
    let customer = mkoba::store::parties::customer_profile(&mut s.env.conn(), demo.msisdn)
        .unwrap()
        .unwrap();
    mkoba::store::parties::set_pin(&mut s.env.conn(), customer.id, &hash).unwrap();

    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/simulator.mjs");
    let output = Command::new("node")
        .arg(&script)
        .args([
            s.base.as_str(),
            demo.msisdn,
            demo.pin,
            "Your balance is KES 1,234.00",
            "1,234.00",
            "+254700999123",
        ])
        .env("PLAYWRIGHT_CORE_DIR", &playwright)
        .env("CHROMIUM_BIN", &chromium)
        .output()
        .expect("node must be available to run tests/simulator.mjs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "tests/simulator.mjs failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
    assert!(stdout.contains("simulator: OK"), "{stdout}\n{stderr}");
    println!("{stdout}");

    // The browser's hops went through the real gateway endpoint and changed nothing.
    assert_eq!(s.env.balance(wallet), 123_400);
}

#[test]
fn the_simulator_page_is_small_escaped_and_development_only() {
    let s = dev_server(Backend::Sqlite);
    let (status, content_type, page) = get(&s, "/simulator");
    assert_eq!(status, 200, "{page}");
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(page.len() < 30_000, "the page is {} bytes", page.len());
    println!("/simulator: {} bytes", page.len());
    for id in [
        "id=\"demo\"",
        "id=\"number\"",
        "id=\"dial\"",
        "id=\"screen\"",
        "id=\"input\"",
        "id=\"send\"",
        "id=\"end\"",
        "id=\"inbox\"",
    ] {
        assert!(page.contains(id), "{id} missing");
    }
    for c in &mkoba::demo::CUSTOMERS {
        assert!(page.contains(&format!("<option value=\"{}\">", c.msisdn)));
    }
    assert!(
        page.contains(GATEWAY_TOKEN),
        "the dev page carries the gateway token"
    );
    assert!(
        !page.contains("innerHTML"),
        "text goes in with textContent only"
    );
    assert!(!page.contains("{{"), "every placeholder is filled");

    // Not a development SMS provider: 404 like any unknown route (and no token anywhere).
    let twilio = spawn_with(Backend::Sqlite, |c| {
        c.ussd.gateway_token = mkoba::config::Secret::new(GATEWAY_TOKEN.into());
        crate::sms::twilio_config(c, "http://127.0.0.1:9");
    });
    // Not embedded SQLite: a shared PostgreSQL is never a local development server.
    let postgres = dev_server(Backend::Postgres);
    for server in [&twilio, &postgres] {
        let (status, body) = server.call("GET", "/simulator", None, None);
        assert_eq!(status, 404, "{body}");
        assert_eq!(body["error"], "not_found", "{body}");
        assert!(!body.to_string().contains(GATEWAY_TOKEN));
    }
}
