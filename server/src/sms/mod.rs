//! SMS: confirmations queued with the ledger transaction they confirm (`due`), expanded into an
//! outbox of messages, dispatched to a provider (Twilio-style, Africa's Talking, or the development store), and inbound commands.

pub mod dispatcher;
pub mod due;
pub mod encoding;
pub mod inbound;
pub mod localtime;
pub mod notify;
pub mod outbox;
pub mod parameters;
pub mod provider;
pub mod templates;
