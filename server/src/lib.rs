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

/// mimalloc serves Rust's allocations, and its `override` feature takes `malloc`/`free` for the C
/// code linked in too (SQLite): glibc's allocator had cost the ledger writer about a sixth of its
/// time. `no_thp` keeps it off transparent huge pages, which had taken the server's peak RSS with
/// 1M customers from 112 to 202 MiB (ops/BENCHMARKS.md, session 12).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
