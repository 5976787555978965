//! Reliability: short runs of the deterministic simulation (`mkoba-sim`) on both backends, its
//! exact replay from a seed, and proof that its checks catch a ledger changed behind its back.
//! The long runs and the crash harness (`mkoba-crash`) are described in `ops/RELIABILITY.md`.

use std::process::Command;

use crate::support::pg_admin_url;

fn sim(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mkoba-sim"))
        .args(args)
        .output()
        .expect("run mkoba-sim");
    let text = String::from_utf8_lossy(&out.stdout).into_owned()
        + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// `name=<number>` from a summary line.
fn figure(line: &str, name: &str) -> u64 {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{name}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name}= in {line}"))
}

fn assert_sound_runs(text: &str, seeds: usize, ops: u64) {
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("ok seed=")).collect();
    assert_eq!(lines.len(), seeds, "every seed passes:\n{text}");
    for line in lines {
        assert_eq!(figure(line, "ops"), ops, "{line}");
        assert!(figure(line, "accepted") > ops / 5, "real traffic: {line}");
        assert!(figure(line, "replayed") > 0, "retries replayed: {line}");
        assert!(figure(line, "rejected") > 0, "limits reached: {line}");
        assert!(figure(line, "faults") > 5, "faults injected: {line}");
        assert!(figure(line, "reconciliations") >= 2, "{line}");
        assert!(figure(line, "step_checks") >= figure(line, "batches"), "{line}");
    }
}

#[test]
fn simulation_on_sqlite_survives_injected_store_faults() {
    let (ok, text) = sim(&["--seeds", "2", "--seed", "101", "--ops", "2500"]);
    assert!(ok, "{text}");
    assert_sound_runs(&text, 2, 2_500);
    assert!(text.contains("database_locked"), "{text}");
    assert!(text.contains("answer_lost_after_commit"), "{text}");
}

#[test]
fn simulation_on_postgres_survives_killed_connections() {
    let url = pg_admin_url();
    let (ok, text) = sim(&["--url", &url, "--seed", "201", "--ops", "2000", "--fault-permille", "100"]);
    assert!(ok, "{text}");
    assert_sound_runs(&text, 1, 2_000);
    assert!(text.contains("connection_killed_before_commit"), "{text}");
    assert!(text.contains("connection_killed_between_batches"), "{text}");
}

#[test]
fn simulation_replays_exactly_from_its_seed() {
    let run = || {
        let (ok, text) = sim(&["--seed", "303", "--ops", "1200"]);
        assert!(ok, "{text}");
        let line = text
            .lines()
            .find(|l| l.starts_with("ok seed=303"))
            .unwrap_or_else(|| panic!("{text}"))
            .to_owned();
        // Everything but the wall-clock time is the same on every run of a seed.
        line.split(" seconds=").next().unwrap().to_owned()
    };
    let (first, second) = (run(), run());
    assert!(first.contains("digest="), "{first}");
    assert_eq!(first, second);
    let (_, other) = sim(&["--seed", "304", "--ops", "1200"]);
    let other_digest = other.split("digest=").nth(1).unwrap().split_whitespace().next().unwrap();
    let digest = first.split("digest=").nth(1).unwrap().split_whitespace().next().unwrap();
    assert_ne!(digest, other_digest, "another seed, another history");
}

#[test]
fn simulation_catches_a_balance_changed_behind_the_ledger_and_names_the_seed() {
    let (ok, text) = sim(&["--seed", "404", "--ops", "1000", "--corrupt-at-step", "40"]);
    assert!(!ok, "a corrupted store must fail the run:\n{text}");
    assert!(text.contains("FAILED seed=404"), "{text}");
    assert!(text.contains("differs"), "{text}");
    assert!(text.contains("at step 40"), "{text}");
    assert!(text.contains("replay: cargo run --release --bin mkoba-sim -- --url sqlite --seed 404"), "{text}");
}
