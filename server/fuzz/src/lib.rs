//! The fuzz targets' checks (`checks.rs`), compiled here against the server's own parser sources:
//! `phone.rs` and `sms/inbound.rs` are included by path, so the targets fuzz exactly the code the
//! server runs without building the whole server (diesel, actix) under the fuzzer's
//! instrumentation.

#[path = "../../src/phone.rs"]
pub mod phone;

#[path = "../../src/sms/inbound.rs"]
pub mod inbound;

/// What `inbound.rs` imports from the server crate.
pub mod sms {
    pub mod templates {
        pub use mkoba_ussd::catalog::Language;
    }
}

pub mod targets {
    pub use crate::{inbound, phone};
}

pub mod checks;
