//! mkoba server: the store, the HTTP service and the admin tools around the pure ledger.

pub mod admin;
pub mod app;
pub mod config;
pub mod demo;
pub mod gsma;
pub mod http;
pub mod merchant;
pub mod metrics;
pub mod phone;
pub mod pin;
pub mod portal;
pub mod secrets;
pub mod sms;
pub mod store;
pub mod telemetry;
pub mod ussd;
