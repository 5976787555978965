//! mkoba's integration tests: one binary, real databases, real HTTP.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod attacks;
mod cli;
mod concurrency;
mod config;
mod fuzz_corpora;
mod gsma;
mod http_api;
mod merchant;
mod migrations;
mod ops;
mod portal;
mod reliability;
mod simulator;
mod sms;
mod store;
mod support;
mod ussd;
