//! Arkesel (Ghana): JSON requests `{sessionID, userID, newSession, msisdn, userData, network}`
//! with the latest input in `userData`; JSON replies `{sessionID, userID, msisdn,
//! continueSession, message}`.

use serde_json::json;

use super::{json_body, json_object, json_text, Dialect, DialectError, Echo, Rendered};
use super::{UssdRequest, UssdResponse, JSON};
use super::{ECHO_LEN_MAX, INPUT_LEN_MAX, MSISDN_LEN_MAX, NETWORK_LEN_MAX};

pub struct Arkesel;

impl Dialect for Arkesel {
    fn name(&self) -> &'static str {
        "arkesel"
    }

    fn parse(&self, content_type: Option<&str>, body: &[u8]) -> Result<UssdRequest, DialectError> {
        super::check_content_type(content_type, JSON)?;
        let map = json_object(body)?;
        let get = |name| json_text(&map, name);
        let session_id = super::session_id(get("sessionID")?)?;
        let msisdn = super::required(get("msisdn")?, "msisdn", MSISDN_LEN_MAX)?;
        let network = super::optional(get("network")?, "network", NETWORK_LEN_MAX)?;
        let user_id = super::optional(get("userID")?, "userID", ECHO_LEN_MAX)?;
        let is_new = match get("newSession")?.as_deref().map(str::to_ascii_lowercase) {
            Some(flag) if flag == "true" => true,
            Some(flag) if flag == "false" => false,
            Some(_) => return Err(DialectError::InvalidField("newSession")),
            None => return Err(DialectError::MissingField("newSession")),
        };
        let user_data = super::input(get("userData")?, INPUT_LEN_MAX)?;
        // On a new session `userData` is the dial string (`*920*44#`): keep it as the service
        // code rather than treat it as an input.
        let (service_code, input) = if is_new {
            (Some(user_data).filter(|s| !s.is_empty()), String::new())
        } else {
            (None, user_data)
        };
        Ok(UssdRequest {
            session_id,
            msisdn,
            network,
            service_code,
            is_new,
            released: false,
            input,
            dialled: Vec::new(),
            full_path: None,
            path: None,
            echo: Echo {
                client_state: None,
                user_id,
            },
        })
    }

    fn render(&self, request: &UssdRequest, response: &UssdResponse) -> Rendered {
        let body = json!({
            "sessionID": request.session_id,
            "userID": request.echo.user_id.as_deref().unwrap_or_default(),
            "msisdn": request.msisdn,
            "continueSession": !response.end,
            "message": response.text,
        });
        Rendered {
            content_type: JSON,
            body: json_body(&body),
        }
    }

    fn render_fallback(&self, response: &UssdResponse) -> Rendered {
        let body = json!({
            "sessionID": "",
            "userID": "",
            "msisdn": "",
            "continueSession": false,
            "message": response.text,
        });
        Rendered {
            content_type: JSON,
            body: json_body(&body),
        }
    }
}

#[cfg(test)]
mod tests {
    //! Requests exactly as the gateway sends them, replies exactly as it wants them.

    use super::super::tests::*;
    use super::super::*;

    #[test]
    fn arkesel_new_session_then_input() {
        let req = arkesel(
            r#"{"sessionID":"16a2b3","userID":"USSD_ARK","newSession":true,"msisdn":"233200000000",
                "userData":"*920*44#","network":"MTN"}"#,
        )
        .unwrap();
        assert!(req.is_new);
        assert_eq!(req.input, "");
        assert_eq!(req.service_code.as_deref(), Some("*920*44#"));
        assert_eq!(req.network.as_deref(), Some("MTN"));
        assert_eq!(req.echo.user_id.as_deref(), Some("USSD_ARK"));

        let req = arkesel(
            r#"{"sessionID":"16a2b3","userID":"USSD_ARK","newSession":"false","msisdn":"233200000000",
                "userData":"2","network":"MTN"}"#,
        )
        .unwrap();
        assert!(!req.is_new);
        assert_eq!(req.input, "2");
        let rendered = Arkesel.render(
            &req,
            &UssdResponse {
                text: "Hi".to_owned(),
                end: false,
            },
        );
        let body: serde_json::Value = serde_json::from_slice(&rendered.body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"sessionID": "16a2b3", "userID": "USSD_ARK", "msisdn": "233200000000",
                               "continueSession": true, "message": "Hi"})
        );
        let rendered = Arkesel.render_fallback(&UssdResponse {
            text: "Bye".to_owned(),
            end: true,
        });
        let body: serde_json::Value = serde_json::from_slice(&rendered.body).unwrap();
        assert_eq!(body["continueSession"], false);
        assert_eq!(body["message"], "Bye");
    }

    #[test]
    fn arkesel_refuses_what_it_cannot_trust() {
        assert_eq!(
            arkesel(r#"{"sessionID":"s","msisdn":"1","userData":"1"}"#),
            Err(DialectError::MissingField("newSession"))
        );
        assert_eq!(
            arkesel(r#"{"sessionID":"s","msisdn":"1","newSession":"yes"}"#),
            Err(DialectError::InvalidField("newSession"))
        );
        assert_eq!(
            arkesel(r#"{"sessionID":"s","newSession":false}"#),
            Err(DialectError::MissingField("msisdn"))
        );
    }
}
