//! Hubtel (Ghana): JSON requests with a `Type` of `initiation`, `response` or `release`, carrying
//! only the latest input in `Message`; JSON replies `{Type: Response|Release, Message,
//! ClientState}`.

use serde_json::json;

use super::{json_body, json_object, json_text, Dialect, DialectError, Echo, Rendered};
use super::{UssdRequest, UssdResponse, JSON};
use super::{ECHO_LEN_MAX, INPUT_LEN_MAX, MSISDN_LEN_MAX, NETWORK_LEN_MAX, SERVICE_CODE_LEN_MAX};

pub struct Hubtel;

impl Dialect for Hubtel {
    fn name(&self) -> &'static str {
        "hubtel"
    }

    fn parse(&self, content_type: Option<&str>, body: &[u8]) -> Result<UssdRequest, DialectError> {
        super::check_content_type(content_type, JSON)?;
        let map = json_object(body)?;
        let get = |name| json_text(&map, name);
        let session_id = super::session_id(get("SessionId")?)?;
        let msisdn = super::required(get("Mobile")?, "Mobile", MSISDN_LEN_MAX)?;
        let network = super::optional(get("Operator")?, "Operator", NETWORK_LEN_MAX)?;
        let service_code =
            super::optional(get("ServiceCode")?, "ServiceCode", SERVICE_CODE_LEN_MAX)?;
        let client_state = super::optional(get("ClientState")?, "ClientState", ECHO_LEN_MAX)?;
        let kind = super::required(get("Type")?, "Type", 32)?.to_ascii_lowercase();
        let message = super::input(get("Message")?, INPUT_LEN_MAX)?;
        let mut dialled = Vec::new();
        let (is_new, released, input) = match kind.as_str() {
            // The initiation message is the dial string (`*714#`), not an input; a dial
            // shortcut (`*714*5*M001#`) carries inputs after the code.
            "initiation" => {
                if let Some(code) = &service_code {
                    dialled = super::dialled_inputs(&message, code);
                }
                (true, false, String::new())
            }
            "response" => (false, false, message),
            "release" | "timeout" => (false, true, String::new()),
            _ => return Err(DialectError::InvalidField("Type")),
        };
        Ok(UssdRequest {
            session_id,
            msisdn,
            network,
            service_code,
            is_new,
            released,
            input,
            dialled,
            full_path: None,
            path: None,
            echo: Echo {
                client_state,
                user_id: None,
            },
        })
    }

    fn render(&self, request: &UssdRequest, response: &UssdResponse) -> Rendered {
        render(response, request.echo.client_state.as_deref())
    }

    fn render_fallback(&self, response: &UssdResponse) -> Rendered {
        render(response, None)
    }
}

fn render(response: &UssdResponse, client_state: Option<&str>) -> Rendered {
    let kind = if response.end { "Release" } else { "Response" };
    let body = json!({
        "Type": kind,
        "Message": response.text,
        "ClientState": client_state.unwrap_or_default(),
    });
    Rendered {
        content_type: JSON,
        body: json_body(&body),
    }
}

#[cfg(test)]
mod tests {
    //! Requests exactly as the gateway sends them, replies exactly as it wants them.

    use super::super::tests::*;
    use super::super::*;

    #[test]
    fn hubtel_initiation_response_release() {
        let req = hubtel(
            r#"{"Sequence":"1","Type":"initiation","Message":"*714#","ServiceCode":"714",
                "Operator":"mtn","ClientState":"","Mobile":"233246912184","SessionId":"8d44bc4e"}"#,
        )
        .unwrap();
        assert_eq!(
            req,
            UssdRequest {
                session_id: "8d44bc4e".to_owned(),
                msisdn: "233246912184".to_owned(),
                network: Some("mtn".to_owned()),
                service_code: Some("714".to_owned()),
                is_new: true,
                released: false,
                input: String::new(),
                dialled: Vec::new(),
                full_path: None,
                path: None,
                echo: Echo::default(),
            }
        );
        let req = hubtel(
            r#"{"Type":"initiation","Message":"*714*5*M001*100#","ServiceCode":"714",
                "Mobile":"233246912184","SessionId":"8d44bc4f"}"#,
        )
        .unwrap();
        assert_eq!(req.dialled, ["5", "M001", "100"]);
        assert!(req.is_new);
        assert_eq!(req.input, "");
        let req = hubtel(
            r#"{"Sequence":2,"Type":"Response","Message":"1","ServiceCode":"714","Operator":"mtn",
                "ClientState":"menu","Mobile":233246912184,"SessionId":"8d44bc4e"}"#,
        )
        .unwrap();
        assert!(!req.is_new);
        assert_eq!(req.input, "1");
        assert_eq!(req.latest_input(Some("ignored")), "1");
        assert_eq!(req.msisdn, "233246912184");
        assert_eq!(req.echo.client_state.as_deref(), Some("menu"));

        let rendered = Hubtel.render(
            &req,
            &UssdResponse {
                text: "Hi".to_owned(),
                end: false,
            },
        );
        assert_eq!(rendered.content_type, "application/json");
        let body: serde_json::Value = serde_json::from_slice(&rendered.body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"Type": "Response", "Message": "Hi", "ClientState": "menu"})
        );
        let rendered = Hubtel.render_fallback(&UssdResponse {
            text: "Bye".to_owned(),
            end: true,
        });
        let body: serde_json::Value = serde_json::from_slice(&rendered.body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"Type": "Release", "Message": "Bye", "ClientState": ""})
        );

        let req =
            hubtel(r#"{"Type":"release","Mobile":"233246912184","SessionId":"8d44bc4e"}"#).unwrap();
        assert!(req.released);
    }

    #[test]
    fn hubtel_refuses_what_it_cannot_trust() {
        assert_eq!(
            hubtel(r#"{"Type":"AddToCart","Mobile":"1","SessionId":"s"}"#),
            Err(DialectError::InvalidField("Type"))
        );
        assert_eq!(
            hubtel(r#"{"Mobile":"1","SessionId":"s"}"#),
            Err(DialectError::MissingField("Type"))
        );
        assert_eq!(
            hubtel(r#"{"Type":"response","Mobile":["1"],"SessionId":"s"}"#),
            Err(DialectError::InvalidField("Mobile"))
        );
        assert_eq!(
            hubtel("[1,2]"),
            Err(DialectError::Malformed("body is not a JSON object"))
        );
        assert_eq!(
            hubtel("{"),
            Err(DialectError::Malformed("body is not JSON"))
        );
        assert_eq!(
            Hubtel.parse(
                FORM,
                br#"{"Type":"initiation","Mobile":"1","SessionId":"s"}"#
            ),
            Err(DialectError::WrongContentType(
                "application/x-www-form-urlencoded".to_owned()
            ))
        );
        let long = format!(
            r#"{{"Type":"response","Message":"{}","Mobile":"1","SessionId":"s"}}"#,
            "1".repeat(183)
        );
        assert_eq!(hubtel(&long), Err(DialectError::FieldTooLong("input")));
    }
}
