//! The portal end to end in a real headless Chromium (`tests/portal.mjs`, playwright-core on the
//! system browser), against the real server: sign in, cash-in, the SMS in the development
//! provider, paying out a withdrawal the customer started on USSD, and a CSRF-less POST refused.

use std::path::PathBuf;
use std::process::Command;

use mkoba::portal::session::Role;
use mkoba::store::Backend;
use mkoba_ledger::Tier;

use super::money::{customer_with_pin, server, ussd, PIN};
use super::{user, PASSWORD};

#[test]
fn an_agent_works_the_counter_in_a_real_browser() {
    let chromium = crate::simulator::chromium_bin();
    let playwright = crate::simulator::playwright_core_dir();
    // The development SMS inbox exists only on embedded SQLite.
    let s = server(Backend::Sqlite);
    let (float, commission) = s.env.agent("AG1", 10_000_000);
    user(&s, "AG1-T1", Role::TillOperator, Some("AG1"));
    let jane = "+254700100001";
    let wallet = customer_with_pin(&s, jane, Tier::Tier1, float, 100_000);

    // Jane starts a withdrawal of 200 at AG1 on USSD, to be paid out in the browser.
    for path in ["", "2", "2*AG1", "2*AG1*200"] {
        assert!(ussd(&s, "w", jane, path).starts_with("CON "), "{path}");
    }
    let answer = ussd(&s, "w", jane, &format!("2*AG1*200*{PIN}"));
    assert!(answer.starts_with("END "), "{answer}");
    let held = s.env.available(wallet);
    assert_eq!(held, 100_000 - 20_000 - 2_900, "the withdrawal is reserved");

    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/portal.mjs");
    let output = Command::new("node")
        .arg(&script)
        .args([
            s.base.as_str(),
            "AG1-T1",
            PASSWORD,
            "0700100001",
            "750",
            "TEST C***",
        ])
        .env("PLAYWRIGHT_CORE_DIR", &playwright)
        .env("CHROMIUM_BIN", &chromium)
        .output()
        .expect("node must be available to run tests/portal.mjs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "tests/portal.mjs failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
    assert!(stdout.contains("portal: OK"), "{stdout}\n{stderr}");
    println!("{stdout}");

    // One cash-in of 750 (despite the double click) and the withdrawal paid out.
    assert_eq!(s.env.balance(wallet), 100_000 + 75_000 - 20_000 - 2_900);
    assert_eq!(s.env.available(wallet), s.env.balance(wallet));
    assert_eq!(s.env.balance(float), 10_000_000 - 100_000 - 75_000 + 20_000);
    // Commission: 15 on each of the 1,000 and 750 cash-ins, 8 on the 200 cash-out.
    assert_eq!(s.env.balance(commission), 1_500 + 1_500 + 800);
    s.env.assert_reconciles();
}
