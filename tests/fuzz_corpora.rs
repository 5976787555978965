//! The fuzz corpora (`server/fuzz/corpus/<target>/`), replayed on stable Rust through the very
//! checks the cargo-fuzz targets run (`server/fuzz/src/checks.rs`), against the server's own
//! parsers. A panic on any stored input fails the test. How the corpora were grown and how long
//! each target ran: `ops/RELIABILITY.md`.

use std::path::PathBuf;

/// The parsers `checks.rs` reaches through `super::targets`.
mod targets {
    pub use mkoba::phone;
    pub use mkoba::sms::inbound;
}

#[path = "../server/fuzz/src/checks.rs"]
mod checks;

fn replay(target: &str, check: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert!(
        files.len() >= 5,
        "{target}: a real corpus, not {} files",
        files.len()
    );
    for file in &files {
        let data = std::fs::read(file).unwrap();
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(outcome.is_ok(), "{target} panics on {}", file.display());
    }
    println!("{target}: {} corpus inputs replayed", files.len());
}

#[test]
fn ussd_dialect_corpus_replays_without_a_panic() {
    replay("ussd_dialects", checks::ussd_dialects);
}

#[test]
fn ussd_engine_corpus_replays_without_a_panic() {
    replay("ussd_engine", checks::ussd_engine);
}

#[test]
fn ussd_state_corpus_replays_without_a_panic() {
    replay("ussd_state", checks::ussd_state);
}

#[test]
fn amount_corpus_replays_without_a_panic() {
    replay("money_parse", checks::money_parse);
}

#[test]
fn phone_number_corpus_replays_without_a_panic() {
    replay("phone_parse", checks::phone_parse);
}

#[test]
fn inbound_sms_corpus_replays_without_a_panic() {
    replay("sms_inbound", checks::sms_inbound);
}

/// The inputs the fuzzers found that once broke a check, kept as regressions.
#[test]
fn inputs_found_by_fuzzing_stay_fixed() {
    // phone_parse: a lenient spelling accepted as an E.164 number that does not read back.
    checks::phone_parse(b"\x05&0006992417");
    // phone_parse: an Italian number whose leading zeros its E.164 form loses.
    checks::phone_parse(b"\x0039000385085");
    // phone_parse: letters are read as keypad digits; a long Nigerian number is still E.164.
    checks::phone_parse(b"\x04\xff700S526700652");
    // sms_inbound: a CHECK argument of replacement characters and letters that grow upper-cased.
    checks::sms_inbound("check Q\u{fffd}\u{fffd}r sL".as_bytes());
    checks::sms_inbound("check \u{0}\u{0}c\u{df}9'\u{df}9\u{df}93\u{c9}\u{df}9".as_bytes());
    assert!(mkoba::phone::Msisdn::parse("&0006992417", phonenumber::country::Id::RW).is_err());
    // money_parse: a fraction longer than a Decimal holds was rounded into a whole amount.
    checks::money_parse(b"999999999999999999.9999999999999");
    assert_eq!(
        mkoba_ledger::Money::parse(
            "999999999999999999.9999999999999",
            mkoba_ledger::Currency::UGX,
            i64::MAX
        ),
        Err(mkoba_ledger::AmountError::TooPrecise)
    );
}
