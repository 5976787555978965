//! The largest data the server may pass into the engine, and why.
//!
//! Screens are proven to fit [`crate::gsm::SCREEN_MAX`] for any data within these bounds (see the
//! property test in `engine/tests/screens.rs`). The engine enforces the text bounds itself: every
//! text the server passes is run through [`crate::gsm::sanitize_field`] with the bound below, so
//! a longer name is cut, never overflowing a screen. Amounts are the one thing it cannot cut; a
//! screen showing an amount above [`MONEY_MINOR_MAX`] is cut at the screen limit as a last resort.

/// Customer, recipient, agent and merchant names and counterparty labels, in GSM-7 septets after
/// sanitizing. Masked names (`JOHN D***`) are well within.
pub const NAME_LEN_MAX: usize = 30;
/// The customer's first name in the main menu's greeting.
pub const GREETING_LEN_MAX: usize = 12;
/// Product names in catalog lists.
pub const PRODUCT_NAME_LEN_MAX: usize = 24;
/// Transaction codes (the ledger's are 10 characters).
pub const CODE_LEN_MAX: usize = 12;
/// Dates on statement lines, recent sends and allowances (the last day an allowance may be
/// charged), formatted by the server in the customer's time zone, e.g. `17/09`.
pub const DATE_LEN_MAX: usize = 5;
/// Counterparty names on statement lines (shorter than [`NAME_LEN_MAX`]: a line is a line).
pub const STATEMENT_NAME_LEN_MAX: usize = 14;
/// Merchant account numbers / references the customer types.
pub const REFERENCE_LEN_MAX: usize = 16;
/// Opaque ids the server hands out and gets back (product ids, approval request ids,
/// allowance ids).
pub const ID_LEN_MAX: usize = 40;
/// What a merchant says a payment request is for (`ApprovalRequest::description`).
pub const DESCRIPTION_LEN_MAX: usize = 24;
/// The terms reference shown at registration (`mkoba.africa/terms`), from configuration.
pub const TERMS_LEN_MAX: usize = 30;
/// Largest amount the screens are laid out for: 999,999,999.99 in a two-decimal currency, far
/// above any tier's limits. Its display is 14 characters, 18 with the currency code.
pub const MONEY_MINOR_MAX: i64 = 99_999_999_999;
/// Wrong-PIN attempts left shown to the customer; more are shown as this.
pub const ATTEMPTS_SHOWN_MAX: u32 = 9;

/// Items kept from a list the server returns; the rest are ignored. Lists live in the session
/// state between hops, so they are kept short.
pub const APPROVALS_MAX: usize = 10;
pub const STATEMENT_ENTRIES_MAX: usize = 10;
pub const RECENT_SENDS_MAX: usize = 5;
pub const ALLOWANCES_MAX: usize = 10;
/// Most catalog items asked for at once, and most items on one screen (one digit to choose).
pub const PAGE_ITEMS_MAX: usize = 9;

/// Digits typed as a phone number (E.164 has at most 15, plus `+`).
pub const PHONE_TEXT_LEN_MAX: usize = 16;
pub const PHONE_TEXT_LEN_MIN: usize = 6;
/// Agent and merchant codes (the database allows 3 to 20) and store (till) numbers.
pub const PARTY_CODE_LEN_MAX: usize = 20;
pub const PARTY_CODE_LEN_MIN: usize = 3;
pub const TILL_LEN_MAX: usize = 10;
/// Amount text the customer types (the ledger refuses longer text anyway).
pub const AMOUNT_TEXT_LEN_MAX: usize = mkoba_ledger::money::AMOUNT_TEXT_LEN_MAX;
/// Days a new allowance may last, as the customer types them.
pub const ALLOWANCE_DAYS_MIN: u32 = 1;
pub const ALLOWANCE_DAYS_MAX: u32 = 90;
/// Names customers register with.
pub const REGISTER_NAME_LEN_MIN: usize = 2;
