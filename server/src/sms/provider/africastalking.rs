//! Africa's Talking SMS: `POST /version1/messaging` with an `apiKey` header and form fields.
//! Success is a `201` whose body holds one status per recipient; a failure for our recipient can
//! hide inside that `201`, so the per-recipient `statusCode` decides.

use serde::Deserialize;

use crate::config::AfricasTalkingConfig;
use crate::sms::provider::{retry_after, transport_error, SendOutcome};

pub struct AfricasTalking {
    client: reqwest::Client,
    url: String,
    username: String,
    api_key: String,
    from: String,
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "SMSMessageData")]
    data: MessageData,
}

#[derive(Deserialize)]
struct MessageData {
    #[serde(rename = "Recipients", default)]
    recipients: Vec<Recipient>,
    #[serde(rename = "Message", default)]
    message: String,
}

#[derive(Deserialize)]
struct Recipient {
    #[serde(rename = "statusCode")]
    status_code: i64,
    #[serde(default)]
    status: String,
    #[serde(rename = "messageId", default)]
    message_id: String,
}

impl AfricasTalking {
    pub fn new(client: reqwest::Client, config: &AfricasTalkingConfig) -> AfricasTalking {
        AfricasTalking {
            client,
            url: format!(
                "{}/version1/messaging",
                config.base_url.trim_end_matches('/')
            ),
            username: config.username.clone(),
            api_key: config.api_key.expose().to_owned(),
            from: config.from.clone(),
        }
    }

    pub fn form(&self, to: &str, body: &str) -> Vec<(&'static str, String)> {
        let mut form = vec![
            ("username", self.username.clone()),
            ("to", to.to_owned()),
            ("message", body.to_owned()),
        ];
        if !self.from.is_empty() {
            form.push(("from", self.from.clone()));
        }
        form
    }

    pub async fn send(&self, to: &str, body: &str) -> SendOutcome {
        let response = self
            .client
            .post(&self.url)
            .header("apiKey", &self.api_key)
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&self.form(to, body))
            .send()
            .await;
        let response = match response {
            Ok(r) => r,
            Err(e) => return transport_error(&e),
        };
        let status = response.status().as_u16();
        let after = retry_after(response.headers());
        let text = match response.text().await {
            Ok(t) => t,
            Err(e) => return transport_error(&e),
        };
        if status != 201 && status != 200 {
            let reason = format!(
                "africastalking {status}: {}",
                text.chars().take(200).collect::<String>()
            );
            return match status {
                429 | 500..=599 | 401 => SendOutcome::Retry { after, reason },
                _ => SendOutcome::Permanent { reason },
            };
        }
        let envelope: Envelope = match serde_json::from_str(&text) {
            Ok(e) => e,
            // A 201 we cannot read probably sent the message; re-sending risks a duplicate.
            Err(_) => {
                return SendOutcome::Accepted {
                    provider_message_id: format!("unparsed-{}", text.len()),
                }
            }
        };
        let Some(recipient) = envelope.data.recipients.into_iter().next() else {
            return SendOutcome::Permanent {
                reason: format!(
                    "africastalking: no recipient accepted ({})",
                    envelope.data.message
                ),
            };
        };
        let reason = format!(
            "africastalking {}: {}",
            recipient.status_code, recipient.status
        );
        match recipient.status_code {
            100..=102 => SendOutcome::Accepted {
                provider_message_id: recipient.message_id,
            },
            // Out of credit or the gateway failed: worth another try later.
            405 | 500..=502 => SendOutcome::Retry { after, reason },
            // Risk hold, bad sender id, invalid number, unsupported, blacklisted, no route, DND.
            _ => SendOutcome::Permanent { reason },
        }
    }
}
