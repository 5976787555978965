//! SMS providers, chosen in configuration. Each turns a send into one of three outcomes that the
//! dispatcher acts on: accepted, worth retrying (with the provider's `Retry-After` if it gave one),
//! or refused for good (invalid number, unsubscribed, not a mobile).

pub mod africastalking;
pub mod twilio;

use std::time::Duration;

use crate::config::SmsConfig;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendOutcome {
    Accepted {
        provider_message_id: String,
    },
    Retry {
        after: Option<Duration>,
        reason: String,
    },
    Permanent {
        reason: String,
    },
}

pub enum Provider {
    /// Stores messages (they stay in the outbox for the simulator and portal); sends nothing.
    Development,
    Twilio(twilio::Twilio),
    AfricasTalking(africastalking::AfricasTalking),
}

impl Provider {
    pub fn from_config(
        config: &SmsConfig,
        status_callback_url: String,
    ) -> Result<Provider, String> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.request_timeout_ms))
            .connect_timeout(Duration::from_millis(config.request_timeout_ms))
            .pool_max_idle_per_host(config.dispatch_concurrency_max)
            .build()
            .map_err(|e| e.to_string())?;
        match config.provider.as_str() {
            "development" => Ok(Provider::Development),
            "twilio" => Ok(Provider::Twilio(twilio::Twilio::new(
                client,
                &config.twilio,
                status_callback_url,
            ))),
            "africastalking" => Ok(Provider::AfricasTalking(
                africastalking::AfricasTalking::new(client, &config.africastalking),
            )),
            other => Err(format!("unknown SMS provider {other}")),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Provider::Development => "development",
            Provider::Twilio(_) => "twilio",
            Provider::AfricasTalking(_) => "africastalking",
        }
    }

    pub async fn send(&self, outbox_id: i64, to: &str, body: &str) -> SendOutcome {
        match self {
            Provider::Development => SendOutcome::Accepted {
                provider_message_id: format!("DEV{outbox_id}"),
            },
            Provider::Twilio(t) => t.send(to, body).await,
            Provider::AfricasTalking(a) => a.send(to, body).await,
        }
    }
}

/// `Retry-After` in seconds (the only form SMS providers use), capped to keep a wild value sane.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let seconds: u64 = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds.min(3_600)))
}

/// A transport failure: the request may or may not have reached the provider, so try again.
pub fn transport_error(error: &reqwest::Error) -> SendOutcome {
    let kind = if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connect"
    } else {
        "transport"
    };
    SendOutcome::Retry {
        after: None,
        reason: format!("{kind}: {error}"),
    }
}
