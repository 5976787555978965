//! Logs: tracing with JSON or pretty output. Nothing logged carries a PIN, password, token or a
//! full phone number; numbers go through `phone::mask` first.

use tracing_subscriber::{fmt, EnvFilter};

pub fn init(format: &str, filter: &str) {
    // Set with `log.filter` in the file or `MKOBA_LOG__FILTER`, like every other setting.
    let filter = EnvFilter::new(filter);
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    // A second init (tests start several servers in one process) is harmless; ignore it.
    let _ = if format == "json" {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    } else {
        builder.try_init()
    };
}
