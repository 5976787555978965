//! Twilio's Messages API (or anything that speaks it): `POST /2010-04-01/Accounts/{sid}/Messages.json`
//! with HTTP Basic auth and form fields; `201` with a JSON message resource on success, a JSON error
//! (`code`, `message`, `status`) otherwise.

use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha1::Sha1;

use crate::config::TwilioConfig;
use crate::sms::provider::{retry_after, transport_error, SendOutcome};

/// Error codes that no retry can fix: invalid `To`, unsubscribed (STOP), not a mobile number,
/// region not enabled, unreachable carrier for the number.
const PERMANENT_CODES: [i64; 6] = [21211, 21610, 21614, 21408, 21612, 21606];
/// Twilio's "too many requests".
const RATE_LIMITED: i64 = 20429;

pub struct Twilio {
    client: reqwest::Client,
    url: String,
    account_sid: String,
    auth_token: String,
    from: String,
    messaging_service_sid: String,
    status_callback: String,
}

#[derive(Deserialize)]
struct Created {
    sid: String,
}

#[derive(Deserialize)]
struct ApiError {
    code: Option<i64>,
    message: Option<String>,
}

impl Twilio {
    pub fn new(client: reqwest::Client, config: &TwilioConfig, status_callback: String) -> Twilio {
        let base = config.base_url.trim_end_matches('/');
        Twilio {
            client,
            url: format!(
                "{base}/2010-04-01/Accounts/{}/Messages.json",
                config.account_sid
            ),
            account_sid: config.account_sid.clone(),
            auth_token: config.auth_token.expose().to_owned(),
            from: config.from.clone(),
            messaging_service_sid: config.messaging_service_sid.clone(),
            status_callback,
        }
    }

    /// The form fields of a create-message request.
    pub fn form(&self, to: &str, body: &str) -> Vec<(&'static str, String)> {
        let mut form = vec![("To", to.to_owned()), ("Body", body.to_owned())];
        if self.messaging_service_sid.is_empty() {
            form.push(("From", self.from.clone()));
        } else {
            form.push(("MessagingServiceSid", self.messaging_service_sid.clone()));
        }
        if !self.status_callback.is_empty() {
            form.push(("StatusCallback", self.status_callback.clone()));
        }
        form
    }

    /// The exact HTTP request `send` makes (exposed so conformance tests can check its answer).
    pub fn request(&self, to: &str, body: &str) -> reqwest::RequestBuilder {
        self.client
            .post(&self.url)
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&self.form(to, body))
    }

    pub async fn send(&self, to: &str, body: &str) -> SendOutcome {
        let response = self.request(to, body).send().await;
        let response = match response {
            Ok(r) => r,
            Err(e) => return transport_error(&e),
        };
        let status = response.status();
        let after = retry_after(response.headers());
        let text = match response.text().await {
            Ok(t) => t,
            Err(e) => return transport_error(&e),
        };
        if status.as_u16() == 201 || status.as_u16() == 200 {
            return match serde_json::from_str::<Created>(&text) {
                Ok(created) => SendOutcome::Accepted {
                    provider_message_id: created.sid,
                },
                // Accepted but unreadable: retrying could send twice, so record it as sent blind.
                Err(_) => SendOutcome::Accepted {
                    provider_message_id: format!("unparsed-{}", text.len()),
                },
            };
        }
        let error: Option<ApiError> = serde_json::from_str(&text).ok();
        let code = error.as_ref().and_then(|e| e.code);
        let message = error.and_then(|e| e.message).unwrap_or_default();
        let reason = format!(
            "twilio {} code {}: {message}",
            status.as_u16(),
            code.map_or("-".into(), |c| c.to_string())
        );
        match (status.as_u16(), code) {
            (429, _) | (_, Some(RATE_LIMITED)) => SendOutcome::Retry { after, reason },
            (_, Some(c)) if PERMANENT_CODES.contains(&c) => SendOutcome::Permanent { reason },
            // Server trouble, and credentials that an operator may be fixing right now.
            (500..=599 | 401 | 403, _) => SendOutcome::Retry { after, reason },
            _ => SendOutcome::Permanent { reason },
        }
    }
}

/// X-Twilio-Signature: base64(HMAC-SHA1(auth token, URL + every POST parameter sorted by name,
/// each as name immediately followed by value)).
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut data = url.to_owned();
    for (name, value) in sorted {
        data.push_str(name);
        data.push_str(value);
    }
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()) else {
        return String::new();
    };
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Checks a request's signature in constant time, accepting the URL with and without an explicit
/// default port (proxies differ in which one they pass on).
pub fn signature_is_valid(
    auth_token: &str,
    url: &str,
    params: &[(String, String)],
    presented: &str,
) -> bool {
    let candidates = url_variants(url);
    candidates.iter().any(|candidate| {
        let expected = signature(auth_token, candidate, params);
        constant_time_eq(expected.as_bytes(), presented.as_bytes())
    })
}

fn url_variants(url: &str) -> Vec<String> {
    let mut out = vec![url.to_owned()];
    for (scheme, port) in [("https://", ":443"), ("http://", ":80")] {
        if let Some(rest) = url.strip_prefix(scheme) {
            let (host, path) = rest.split_once('/').map_or((rest, ""), |(h, p)| (h, p));
            let slash = if rest.contains('/') { "/" } else { "" };
            if let Some(bare) = host.strip_suffix(port) {
                out.push(format!("{scheme}{bare}{slash}{path}"));
            } else if !host.contains(':') {
                out.push(format!("{scheme}{host}{port}{slash}{path}"));
            }
        }
    }
    out
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0_u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector_params() -> Vec<(String, String)> {
        [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
    }

    #[test]
    fn the_published_test_vector_passes() {
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(
            signature("12345", url, &vector_params()),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        );
        assert!(signature_is_valid(
            "12345",
            url,
            &vector_params(),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
    }

    #[test]
    fn explicit_default_ports_and_tampering() {
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
        let signed_with_port = signature("12345", with_port, &vector_params());
        assert!(signature_is_valid(
            "12345",
            url,
            &vector_params(),
            &signed_with_port
        ));
        assert!(signature_is_valid(
            "12345",
            with_port,
            &vector_params(),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
        let mut tampered = vector_params();
        tampered[2].1 = "1235".into();
        assert!(!signature_is_valid(
            "12345",
            url,
            &tampered,
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
        assert!(!signature_is_valid(
            "54321",
            url,
            &vector_params(),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
    }
}
