//! Africa's Talking: form-encoded requests whose `text` holds every input of the session joined
//! by `*`; plain-text replies starting with `CON ` (wait for input) or `END ` (close).

use super::{form, Dialect, DialectError, Echo, Rendered, UssdRequest, UssdResponse};
use super::{MSISDN_LEN_MAX, NETWORK_LEN_MAX, PATH_LEN_MAX, SERVICE_CODE_LEN_MAX};

pub struct AfricasTalking;

const FORM: &str = "application/x-www-form-urlencoded";
const PLAIN: &str = "text/plain; charset=utf-8";

impl Dialect for AfricasTalking {
    fn name(&self) -> &'static str {
        "africastalking"
    }

    fn parse(&self, content_type: Option<&str>, body: &[u8]) -> Result<UssdRequest, DialectError> {
        super::check_content_type(content_type, FORM)?;
        let fields = form::decode(super::check_body(body)?)?;
        let get = |name| form::field(&fields, name);
        let session_id = super::session_id(get("sessionId")?)?;
        let msisdn = get("phoneNumber")?.map(repair_plus);
        let msisdn = super::required(msisdn, "phoneNumber", MSISDN_LEN_MAX)?;
        let network = super::optional(get("networkCode")?, "networkCode", NETWORK_LEN_MAX)?;
        let service_code =
            super::optional(get("serviceCode")?, "serviceCode", SERVICE_CODE_LEN_MAX)?;
        let path = super::input(get("text")?, PATH_LEN_MAX)?;
        let segments: Vec<String> = if path.is_empty() {
            Vec::new()
        } else {
            path.split('*').map(str::to_owned).collect()
        };
        let input = segments.last().cloned().unwrap_or_default();
        if input.chars().count() > super::INPUT_LEN_MAX {
            return Err(DialectError::FieldTooLong("text"));
        }
        Ok(UssdRequest {
            session_id,
            msisdn,
            network,
            service_code,
            is_new: path.is_empty(),
            released: false,
            input,
            dialled: segments.clone(),
            full_path: Some(segments),
            path: Some(path),
            echo: Echo::default(),
        })
    }

    fn render(&self, _request: &UssdRequest, response: &UssdResponse) -> Rendered {
        self.render_fallback(response)
    }

    fn render_fallback(&self, response: &UssdResponse) -> Rendered {
        let prefix = if response.end { "END " } else { "CON " };
        Rendered {
            content_type: PLAIN,
            body: format!("{prefix}{}", response.text).into_bytes(),
        }
    }
}

/// A `+` sent without percent-encoding decodes to a space (hand-made test requests do this);
/// a phone number never starts with a space, so put the `+` back.
fn repair_plus(msisdn: String) -> String {
    match msisdn.strip_prefix(' ') {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => format!("+{rest}"),
        _ => msisdn,
    }
}

#[cfg(test)]
mod tests {
    //! Requests exactly as the gateway sends them, replies exactly as it wants them.

    use super::super::tests::*;
    use super::super::*;

    fn at_hop(text: &str) -> UssdRequest {
        at(&format!(
            "sessionId=ATUid_8d7f1c&serviceCode=%2A384%2A44135%23&phoneNumber=%2B254711000001\
             &networkCode=63902&text={text}"
        ))
        .unwrap()
    }

    #[test]
    fn africastalking_first_hop() {
        let req = at_hop("");
        assert_eq!(
            req,
            UssdRequest {
                session_id: "ATUid_8d7f1c".to_owned(),
                msisdn: "+254711000001".to_owned(),
                network: Some("63902".to_owned()),
                service_code: Some("*384*44135#".to_owned()),
                is_new: true,
                released: false,
                input: String::new(),
                dialled: Vec::new(),
                full_path: Some(Vec::new()),
                path: Some(String::new()),
                echo: Echo::default(),
            }
        );
        assert_eq!(req.latest_input(None), "");
    }

    #[test]
    fn africastalking_latest_input_comes_from_the_stored_path() {
        let req = at_hop("1");
        assert!(!req.is_new);
        assert_eq!(req.latest_input(Some("")), "1");

        let req = at_hop("1*0712345678*100");
        assert_eq!(
            req.full_path,
            Some(vec![
                "1".to_owned(),
                "0712345678".to_owned(),
                "100".to_owned()
            ])
        );
        assert_eq!(req.latest_input(Some("1*0712345678")), "100");

        // An empty input leaves a trailing `*`; the next input makes `1**2`.
        let req = at_hop("1*");
        assert_eq!(req.full_path, Some(vec!["1".to_owned(), String::new()]));
        assert_eq!(req.latest_input(Some("1")), "");
        let req = at_hop("1**2");
        assert_eq!(
            req.full_path,
            Some(vec!["1".to_owned(), String::new(), "2".to_owned()])
        );
        assert_eq!(req.latest_input(Some("1*")), "2");
        // The same path after `1` means the customer typed `*2`: only the stored path can tell.
        assert_eq!(req.latest_input(Some("1")), "*2");
        assert_eq!(req.input, "2");

        // Nothing stored, or paths that do not line up: the last segment.
        assert_eq!(req.latest_input(None), "2");
        assert_eq!(req.latest_input(Some("9*9")), "2");
        // A dial shortcut (`*384*44135*1#`) arrives as text on the first hop.
        assert_eq!(at_hop("1").latest_input(Some("")), "1");

        // The same path twice is the gateway repeating a hop.
        let req = at_hop("1*0712345678");
        assert!(req.repeats(Some("1*0712345678")));
        assert!(!req.repeats(Some("1")));
        assert!(!at_hop("").repeats(Some("")));
    }

    #[test]
    fn africastalking_plus_sent_raw_is_repaired() {
        let req = at("sessionId=s1&phoneNumber=+254711000001&text=").unwrap();
        assert_eq!(req.msisdn, "+254711000001");
        assert_eq!(req.network, None);
        assert_eq!(req.service_code, None);
        let req = at("sessionId=s1&phoneNumber=254711000001").unwrap();
        assert_eq!(req.msisdn, "254711000001");
        assert!(req.is_new, "a missing text is an empty one");
    }

    #[test]
    fn africastalking_replies_con_and_end_as_plain_text() {
        let req = at_hop("");
        let con = AfricasTalking.render(
            &req,
            &UssdResponse {
                text: "Hi\n1 Send".to_owned(),
                end: false,
            },
        );
        assert_eq!(con.content_type, "text/plain; charset=utf-8");
        assert_eq!(con.body, b"CON Hi\n1 Send");
        let end = AfricasTalking.render_fallback(&UssdResponse {
            text: "Bye".to_owned(),
            end: true,
        });
        assert_eq!(end.body, b"END Bye");
    }

    #[test]
    fn africastalking_refuses_what_it_cannot_trust() {
        assert_eq!(
            at("phoneNumber=%2B254711&text="),
            Err(DialectError::MissingField("session id"))
        );
        assert_eq!(
            at("sessionId=s1&text="),
            Err(DialectError::MissingField("phoneNumber"))
        );
        assert_eq!(
            at("sessionId=a+b&phoneNumber=1"),
            Err(DialectError::InvalidField("session id"))
        );
        assert_eq!(
            at(&format!("sessionId={}&phoneNumber=1", "s".repeat(81))),
            Err(DialectError::FieldTooLong("session id"))
        );
        assert_eq!(
            at(&format!(
                "sessionId=s&phoneNumber=1&text=1*{}",
                "9".repeat(183)
            )),
            Err(DialectError::FieldTooLong("text"))
        );
        assert!(at(&format!(
            "sessionId=s&phoneNumber=1&text=1*{}",
            "9".repeat(182)
        ))
        .is_ok());
        assert_eq!(
            at("sessionId=s&phoneNumber=1&text=1%0A2"),
            Err(DialectError::InvalidField("input"))
        );
        assert_eq!(
            at("sessionId=s&sessionId=t&phoneNumber=1"),
            Err(DialectError::DuplicateField("sessionId"))
        );
        assert_eq!(
            AfricasTalking.parse(JSON_CT, b"sessionId=s&phoneNumber=1"),
            Err(DialectError::WrongContentType(
                "application/json; charset=utf-8".to_owned()
            ))
        );
        assert!(AfricasTalking
            .parse(
                Some("application/x-www-form-urlencoded; charset=UTF-8"),
                b"sessionId=s&phoneNumber=1"
            )
            .is_ok());
        assert!(AfricasTalking
            .parse(None, b"sessionId=s&phoneNumber=1")
            .is_ok());
        assert_eq!(
            AfricasTalking.parse(FORM, &vec![b'a'; BODY_LEN_MAX + 1]),
            Err(DialectError::BodyTooLarge)
        );
    }
}
