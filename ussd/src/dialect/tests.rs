//! Garbage of every kind refused without a panic, for every dialect; the helpers each
//! dialect's own tests use.

use proptest::prelude::*;

use super::*;

pub(super) const FORM: Option<&str> = Some("application/x-www-form-urlencoded");
pub(super) const JSON_CT: Option<&str> = Some("application/json; charset=utf-8");

pub(super) fn at(body: &str) -> Result<UssdRequest, DialectError> {
    AfricasTalking.parse(FORM, body.as_bytes())
}

pub(super) fn hubtel(json: &str) -> Result<UssdRequest, DialectError> {
    Hubtel.parse(JSON_CT, json.as_bytes())
}

pub(super) fn arkesel(json: &str) -> Result<UssdRequest, DialectError> {
    Arkesel.parse(JSON_CT, json.as_bytes())
}

#[test]
fn dialects_are_found_by_unique_names() {
    let names: Vec<&str> = ALL.iter().map(|d| d.name()).collect();
    assert_eq!(names, ["africastalking", "hubtel", "arkesel"]);
    for name in names {
        assert_eq!(by_name(name).map(|d| d.name()), Some(name));
    }
    assert!(by_name("nalo").is_none());
}

/// What a parsed request promises the server, whatever came in.
fn assert_sound(req: &UssdRequest) {
    assert!(!req.session_id.is_empty() && req.session_id.len() <= SESSION_ID_LEN_MAX);
    assert!(req.session_id.bytes().all(|b| b.is_ascii_graphic()));
    assert!(!req.msisdn.is_empty() && req.msisdn.chars().count() <= MSISDN_LEN_MAX);
    assert!(req.input.chars().count() <= INPUT_LEN_MAX);
    assert!(!req.input.chars().any(char::is_control));
}

fn content_type() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some("application/json".to_owned())),
        Just(Some("application/x-www-form-urlencoded".to_owned())),
        Just(Some("text/plain".to_owned())),
        ".{0,80}".prop_map(Some),
    ]
}

/// JSON and form bodies built from gateway field names, with values of any size and type.
fn gateway_like() -> impl Strategy<Value = Vec<u8>> {
    let names = prop::sample::select(vec![
        "sessionId",
        "phoneNumber",
        "text",
        "serviceCode",
        "networkCode",
        "SessionId",
        "Mobile",
        "Type",
        "Message",
        "ClientState",
        "sessionID",
        "msisdn",
        "newSession",
        "userData",
        "userID",
        "network",
    ]);
    let value = prop_oneof![
        ".{0,20}",
        "[a-z0-9*]{0,300}",
        Just("initiation".to_owned()),
        Just("true".to_owned()),
        (0_usize..40_000).prop_map(|n| "9".repeat(n)),
    ];
    let fields = prop::collection::vec((names, value), 0..10);
    (fields, any::<bool>()).prop_map(|(fields, json)| {
        if json {
            let map: serde_json::Map<String, serde_json::Value> = fields
                .into_iter()
                .map(|(k, v)| (k.to_owned(), serde_json::Value::String(v)))
                .collect();
            serde_json::to_vec(&map).unwrap()
        } else {
            fields
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&")
                .into_bytes()
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn garbage_never_panics_and_what_parses_is_sound(
        body in prop_oneof![prop::collection::vec(any::<u8>(), 0..4096), gateway_like()],
        ct in content_type(),
        text in ".{0,300}",
        end in any::<bool>(),
    ) {
        for dialect in ALL {
            let parsed = dialect.parse(ct.as_deref(), &body);
            if let Ok(req) = &parsed {
                assert_sound(req);
                let _ = dialect.render(req, &UssdResponse { text: text.clone(), end });
            }
            let _ = dialect.render_fallback(&UssdResponse { text: text.clone(), end });
        }
    }

    #[test]
    fn random_bytes_are_refused(body in prop::collection::vec(any::<u8>(), 0..4096)) {
        // Random bytes are never a form with a session id and a phone number, nor JSON.
        for dialect in ALL {
            prop_assert!(dialect.parse(None, &body).is_err());
        }
    }

    #[test]
    fn wrong_content_types_are_refused(ct in "(text|image|multipart)/[a-z]{1,10}") {
        for dialect in ALL {
            prop_assert!(matches!(
                dialect.parse(Some(&ct), b"sessionId=s&phoneNumber=1"),
                Err(DialectError::WrongContentType(_))
            ));
        }
    }

    #[test]
    fn huge_fields_are_refused(n in 183_usize..20_000) {
        let input = "1".repeat(n);
        let form = format!("sessionId=s&phoneNumber=1&text={input}");
        prop_assert!(at(&form).is_err());
        let hub = format!(r#"{{"Type":"response","Message":"{input}","Mobile":"1","SessionId":"s"}}"#);
        prop_assert!(hubtel(&hub).is_err());
        let ark = format!(r#"{{"sessionID":"s","newSession":false,"msisdn":"1","userData":"{input}"}}"#);
        prop_assert!(arkesel(&ark).is_err());
        let id = "s".repeat(n.min(5_000));
        let form = format!("sessionId={id}&phoneNumber=1");
        prop_assert!(at(&form).is_err());
    }

    #[test]
    fn missing_fields_are_refused(drop in 0_usize..2) {
        let at_fields = ["sessionId=s", "phoneNumber=1"];
        let body: Vec<&str> = at_fields.iter().enumerate().filter(|(i, _)| *i != drop).map(|(_, f)| *f).collect();
        prop_assert!(at(&body.join("&")).is_err());
        let hub_fields = [r#""SessionId":"s""#, r#""Mobile":"1""#, r#""Type":"response""#];
        for skip in 0..3 {
            let fields: Vec<&str> = hub_fields.iter().enumerate().filter(|(i, _)| *i != skip).map(|(_, f)| *f).collect();
            let json = format!("{{{}}}", fields.join(","));
            prop_assert!(hubtel(&json).is_err());
        }
    }
}

#[test]
fn dialled_inputs_follow_the_service_code() {
    use super::dialled_inputs;
    assert_eq!(
        dialled_inputs("*714*5*M001*100#", "714"),
        ["5", "M001", "100"]
    );
    assert_eq!(dialled_inputs("*384*44135*1#", "*384*44135#"), ["1"]);
    // An empty input between two stars is still an input.
    assert_eq!(dialled_inputs("*714*5**1#", "*714#"), ["5", "", "1"]);
    for (dial, code) in [
        ("*714#", "714"),
        ("*715*1#", "714"),
        ("*7145*1#", "714"),
        ("*714*1", "714"),
        ("714*1#", "714"),
        ("*714*1#", ""),
        ("*714*1#", "*#"),
    ] {
        assert!(
            dialled_inputs(dial, code).is_empty(),
            "{dial:?} with {code:?}"
        );
    }
}
