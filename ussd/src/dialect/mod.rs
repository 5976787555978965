//! USSD gateway dialects: each gateway's request is parsed into one [`UssdRequest`], and one
//! [`UssdResponse`] is rendered back in the gateway's own format.
//!
//! A new gateway is one new file with a type implementing [`Dialect`], plus its `mod` line and
//! an entry in [`ALL`] here.
//!
//! # What the server does with a request
//!
//! 1. Look the dialect up by the URL it was posted to ([`by_name`]) and call
//!    [`Dialect::parse`] with the body and the `Content-Type` header. On `Err`, answer
//!    [`Dialect::render_fallback`] with a friendly `END` text: a gateway that gets an HTTP error
//!    cuts the customer off abruptly.
//! 2. If [`UssdRequest::released`], the customer left: drop the stored session and answer with
//!    an ending response (gateways ignore its text).
//! 3. Find the stored session by `(dialect name, session_id)`. If the request
//!    [`UssdRequest::is_new`] or nothing is stored, start the engine. Otherwise, if
//!    [`UssdRequest::repeats`] the previous hop, resend the previous answer; else work out the
//!    latest input with [`UssdRequest::latest_input`], passing the path stored after the
//!    previous hop, and hand it to the engine.
//! 4. Store [`UssdRequest::path`] (if any) with the session, and answer [`Dialect::render`].

mod africastalking;
mod arkesel;
mod form;
mod hubtel;

pub use africastalking::AfricasTalking;
pub use arkesel::Arkesel;
pub use hubtel::Hubtel;

/// Largest request body any gateway sends us; anything bigger is refused before parsing.
pub const BODY_LEN_MAX: usize = 16 * 1024;
/// Longest session id. Kept well under the ledger's 128-character idempotency keys, which the
/// engine builds from the session id (see `engine::SESSION_KEY_LEN_MAX`).
pub const SESSION_ID_LEN_MAX: usize = 80;
/// Longest phone number text (E.164 is 16 with the `+`; gateways add spaces or a `tel:` rarely).
pub const MSISDN_LEN_MAX: usize = 32;
/// Longest network code or operator name.
pub const NETWORK_LEN_MAX: usize = 32;
/// Longest service code (`*384*44135#`) or dial string.
pub const SERVICE_CODE_LEN_MAX: usize = 64;
/// Longest single input: a screen's worth.
pub const INPUT_LEN_MAX: usize = 182;
/// Longest Africa's Talking path (every input of the session joined by `*`). A 180-second
/// session has at most a few dozen hops.
pub const PATH_LEN_MAX: usize = 2048;
/// Longest opaque value we echo back to a gateway (Hubtel's `ClientState`, Arkesel's `userID`).
pub const ECHO_LEN_MAX: usize = 512;

/// Why a gateway request could not be understood. The server answers the gateway with
/// [`Dialect::render_fallback`] anyway, and logs this.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DialectError {
    #[error("request body is larger than {BODY_LEN_MAX} bytes")]
    BodyTooLarge,
    #[error("content type {0:?} is not what this gateway sends")]
    WrongContentType(String),
    #[error("request body is not valid UTF-8")]
    NotUtf8,
    #[error("request body is malformed: {0}")]
    Malformed(&'static str),
    #[error("field {0} is missing or empty")]
    MissingField(&'static str),
    #[error("field {0} is too long")]
    FieldTooLong(&'static str),
    #[error("field {0} has characters it may not have")]
    InvalidField(&'static str),
    #[error("field {0} appears more than once")]
    DuplicateField(&'static str),
}

/// One hop of a USSD session, whatever gateway sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UssdRequest {
    /// The gateway's session id: printable ASCII, at most [`SESSION_ID_LEN_MAX`] characters.
    pub session_id: String,
    /// The phone number exactly as the gateway sent it (`+254…`, `254…`); the server normalises
    /// it to E.164.
    pub msisdn: String,
    /// Network code (`63902`) or operator name (`mtn`), if the gateway said.
    pub network: Option<String>,
    /// The dialled service code, if the gateway said.
    pub service_code: Option<String>,
    /// The gateway says this is the first hop. Servers should also treat "no stored session"
    /// as new.
    pub is_new: bool,
    /// The customer ended the session (Hubtel `release`): nothing to answer but goodbye.
    pub released: bool,
    /// The latest input as far as this request alone tells; empty on the first hop. For
    /// Africa's Talking it is the last `*`-separated segment, which is wrong if the customer
    /// typed a `*`: prefer [`UssdRequest::latest_input`].
    pub input: String,
    /// Africa's Talking only: every input of the session so far, split on `*` (empty on the
    /// first hop; `1**2` gives `["1", "", "2"]`). `None` for gateways that send only the latest.
    pub full_path: Option<Vec<String>>,
    /// Inputs dialled with the service code (`*384*44135*5*M001*100#` carries `5`, `M001` and
    /// `100`): the server feeds them with `engine::dialled` when this hop starts a session, and
    /// ignores them otherwise. Africa's Talking sends them as the first hop's text, Hubtel in
    /// the initiation message; Arkesel cannot tell them from its service code, so never.
    pub dialled: Vec<String>,
    /// Africa's Talking only: the raw `text` field, to be stored with the session for the next
    /// hop's [`UssdRequest::latest_input`].
    pub path: Option<String>,
    /// Opaque values some gateways want echoed in the reply.
    pub echo: Echo,
}

/// Values a gateway wants back in the reply.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Echo {
    /// Hubtel `ClientState`.
    pub client_state: Option<String>,
    /// Arkesel `userID`.
    pub user_id: Option<String>,
}

/// The inputs in a dial string after its service code: `*714*5*M001*100#` with the service
/// code `714` (or `*714#`) gives `5`, `M001` and `100`. None if the string is not that code
/// followed by inputs.
pub(crate) fn dialled_inputs(dial: &str, service_code: &str) -> Vec<String> {
    let code = service_code.trim_start_matches('*').trim_end_matches('#');
    let inputs = dial
        .strip_prefix('*')
        .and_then(|d| d.strip_suffix('#'))
        .and_then(|d| d.strip_prefix(code))
        .and_then(|d| d.strip_prefix('*'));
    match inputs {
        Some(inputs) if !code.is_empty() => inputs.split('*').map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

impl UssdRequest {
    /// The customer's latest input. `previous_path` is [`UssdRequest::path`] of the previous
    /// hop of this session, as stored by the server (`None` if nothing was stored).
    ///
    /// For gateways that send only the latest input this is [`UssdRequest::input`]. For
    /// Africa's Talking, the new path normally is the previous path, a `*`, and the new input;
    /// comparing the two gives the input even when it contains `*` or is empty. When the paths
    /// do not line up (nothing stored, or a gateway quirk) it falls back to the last segment.
    pub fn latest_input(&self, previous_path: Option<&str>) -> String {
        let Some(path) = self.path.as_deref() else {
            return self.input.clone();
        };
        match previous_path {
            // Nothing before: the whole text is the first input (a dial shortcut like `*384*1#`).
            Some("") => path.to_owned(),
            Some(prev) => match path.strip_prefix(prev).and_then(|r| r.strip_prefix('*')) {
                Some(latest) => latest.to_owned(),
                None => self.input.clone(),
            },
            None => self.input.clone(),
        }
    }

    /// Africa's Talking only: the path is the same as the previous hop's, so the gateway is
    /// repeating a hop it got no answer to. The server should resend its previous answer rather
    /// than run the input again.
    pub fn repeats(&self, previous_path: Option<&str>) -> bool {
        matches!((self.path.as_deref(), previous_path), (Some(p), Some(q)) if p == q && !p.is_empty())
    }
}

/// A screen to send back: its text (GSM-7, without any `CON `/`END ` prefix) and whether the
/// session ends with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UssdResponse {
    pub text: String,
    pub end: bool,
}

/// An HTTP answer body for the gateway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

/// One gateway's wire format. Implementations are pure and never panic, whatever the input.
pub trait Dialect: Sync {
    /// Stable lowercase name, used in URLs and to namespace session ids.
    fn name(&self) -> &'static str;

    /// Parses a request body. `content_type` is the `Content-Type` header as received; `None`
    /// when absent, which is tolerated (the body is then tried as this gateway's format).
    fn parse(&self, content_type: Option<&str>, body: &[u8]) -> Result<UssdRequest, DialectError>;

    /// Renders a response to a request this dialect parsed.
    fn render(&self, request: &UssdRequest, response: &UssdResponse) -> Rendered;

    /// Renders an ending response when the request could not be parsed.
    fn render_fallback(&self, response: &UssdResponse) -> Rendered;
}

/// Every dialect mkoba speaks.
pub const ALL: &[&dyn Dialect] = &[&AfricasTalking, &Hubtel, &Arkesel];

/// The dialect with this [`Dialect::name`].
pub fn by_name(name: &str) -> Option<&'static dyn Dialect> {
    ALL.iter().copied().find(|d| d.name() == name)
}

/// Whether the `Content-Type` header (parameters such as `charset` ignored) is `expected`;
/// a missing header is accepted.
pub(crate) fn check_content_type(
    content_type: Option<&str>,
    expected: &str,
) -> Result<(), DialectError> {
    let Some(header) = content_type else {
        return Ok(());
    };
    let essence = header.split(';').next().unwrap_or_default().trim();
    if essence.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(DialectError::WrongContentType(
            header.chars().take(64).collect(),
        ))
    }
}

pub(crate) fn check_body(body: &[u8]) -> Result<&str, DialectError> {
    if body.len() > BODY_LEN_MAX {
        return Err(DialectError::BodyTooLarge);
    }
    std::str::from_utf8(body).map_err(|_| DialectError::NotUtf8)
}

/// A field that must be present and non-empty, within `max` characters, without control
/// characters.
pub(crate) fn required(
    value: Option<String>,
    field: &'static str,
    max: usize,
) -> Result<String, DialectError> {
    let value = optional(value, field, max)?;
    value.ok_or(DialectError::MissingField(field))
}

/// A field that may be absent; empty counts as absent.
pub(crate) fn optional(
    value: Option<String>,
    field: &'static str,
    max: usize,
) -> Result<Option<String>, DialectError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let value = value.trim().to_owned();
    if value.chars().count() > max {
        return Err(DialectError::FieldTooLong(field));
    }
    if value.chars().any(char::is_control) {
        return Err(DialectError::InvalidField(field));
    }
    Ok(if value.is_empty() { None } else { Some(value) })
}

/// Session ids become part of ledger idempotency keys: printable ASCII only.
pub(crate) fn session_id(value: Option<String>) -> Result<String, DialectError> {
    let id = required(value, "session id", SESSION_ID_LEN_MAX)?;
    if id.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(id)
    } else {
        Err(DialectError::InvalidField("session id"))
    }
}

/// A customer's input: may be empty, bounded, control characters refused (a line break in an
/// input would let a gateway quirk inject lines into our screens).
pub(crate) fn input(value: Option<String>, max: usize) -> Result<String, DialectError> {
    Ok(optional(value, "input", max)?.unwrap_or_default())
}

/// The body as a JSON object.
pub(crate) fn json_object(
    body: &[u8],
) -> Result<serde_json::Map<String, serde_json::Value>, DialectError> {
    let text = check_body(body)?;
    match serde_json::from_str(text) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(_) => Err(DialectError::Malformed("body is not a JSON object")),
        Err(_) => Err(DialectError::Malformed("body is not JSON")),
    }
}

/// A JSON field as text. Gateways are loose about types (`"Sequence": 1` or `"1"`), so numbers
/// and booleans are taken as their text; objects and arrays are refused.
pub(crate) fn json_text(
    map: &serde_json::Map<String, serde_json::Value>,
    field: &'static str,
) -> Result<Option<String>, DialectError> {
    use serde_json::Value;
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(Value::Array(_) | Value::Object(_)) => Err(DialectError::InvalidField(field)),
    }
}

/// A JSON reply body. Serialising a `Value` of strings and booleans cannot fail; should it ever,
/// an empty object still gives the gateway JSON.
pub(crate) fn json_body(value: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec())
}

pub(crate) const JSON: &str = "application/json";

#[cfg(test)]
mod tests;
