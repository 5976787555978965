//! mkoba's USSD channel: gateway dialects and the menu engine. Pure: no IO, no database, no
//! HTTP; `cargo tree` in CI proves it.
//!
//! * [`dialect`]: each gateway's wire format to one [`dialect::UssdRequest`] and back from one
//!   [`dialect::UssdResponse`].
//! * [`engine`]: the menus as a state machine. The server feeds it inputs and the answers to the
//!   effects it asks for (PIN checks, lookups, ledger calls), and stores its
//!   [`engine::SessionState`] between hops.
//! * [`catalog`]: every text customers read, in English, Swahili and French.
//! * [`gsm`]: the GSM-7 alphabet every screen is written in, and the screen limit.

pub mod catalog;
pub mod dialect;
pub mod engine;
pub mod gsm;
