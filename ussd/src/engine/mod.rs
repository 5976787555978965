//! The menu engine: a pure state machine from one customer input (or effect answer) to the next
//! screen (or effect).
//!
//! # The protocol, hop by hop
//!
//! ```text
//! new session:      turn = start(session_key, &profile, &cfg)
//! later hops:       turn = handle(stored_state, Event::Input(latest_input), &cfg)
//! loop {
//!     match turn.output {
//!         Output::Effect(effect) => {              // PIN check, lookup, ledger call…
//!             let answer = server.perform(effect); // never more than effects_per_hop_max
//!             turn = handle(turn.state, Event::Result(answer), &cfg);
//!         }
//!         Output::Screen { text, end } => {
//!             store turn.state (or delete it if end); reply UssdResponse { text, end };
//!             break;
//!         }
//!     }
//! }
//! ```
//!
//! * `session_key` is the gateway's session id, best prefixed with the dialect name
//!   (`africastalking:ATUid_…`): printable ASCII, at most [`SESSION_KEY_LEN_MAX`] characters.
//!   It becomes part of every ledger idempotency key ([`Effect::Execute`]'s `step_key`).
//! * [`Profile`] is what the server knows about the calling number at session start.
//! * State is stored only once a hop ends on a screen; never store it mid-hop (while
//!   [`SessionState::is_awaiting`]). If an input arrives for state left awaiting, the engine
//!   forgets the lost effect and handles the input.
//! * An ended state answers any later event with its last screen and asks for nothing, so a
//!   gateway repeating the last hop gets the same answer if the server keeps it a little.
//! * Money moves only through [`Effect::Execute`], and allowances are granted only through it
//!   (approving a merchant's request) or [`Effect::GrantAllowance`]. Both carry a `step_key`
//!   (`ussd:{session_key}:{n}:{action}`), the ledger idempotency key: `n` counts the PIN-checked
//!   ledger calls already answered in the session (a wrong PIN does not count), so a repeated
//!   hop replays the same key and cannot pay or grant twice, while a later one gets a new key.
//! * Africa's Talking sends every input so far: store `UssdRequest::path` with the state and
//!   pass `UssdRequest::latest_input(stored_path)` here; when `UssdRequest::repeats` says the
//!   gateway is repeating a hop, resend the stored screen instead. A session that arrives with
//!   inputs already (a dial shortcut such as `*384*44135*1#`) can be started and then fed the
//!   segments of `UssdRequest::full_path` one by one.
//! * Every screen is GSM-7 and at most 178 septets (182 with a `CON `/`END ` prefix); the data
//!   the server passes in is cut to the bounds in [`bounds`].

pub mod bounds;
mod config;
mod effect;
mod journey;
mod state;
pub(crate) mod view;

#[cfg(test)]
mod tests;

pub use config::{ConfigError, EngineConfig};
pub use effect::{
    AllowanceItem, ApprovalKind, ApprovalRequest, Category, Counterparty, Effect, EffectResult,
    LimitsInfo, MoneyAction, Pin, Product, Quote, Receipt, SentItem, StatementEntry,
};
pub use state::{SessionState, StateError, HISTORY_MAX, STATE_VERSION};
pub use view::step_key;

use journey::{Change, Next};
use state::{Step, Wait};
use view::Cx;

use crate::catalog::{self, Language, Msg};
use crate::gsm;

/// Longest session key [`start`] accepts: the longest gateway name, `:` and the longest session
/// id a dialect accepts (`dialect::SESSION_ID_LEN_MAX`). With the `ussd:` prefix, the opening
/// time, a sequence number and a tag, the step keys stay within the ledger's 128-character
/// idempotency keys (`tests::navigation`).
pub const SESSION_KEY_LEN_MAX: usize = 95;
/// Longest ledger key [`step_key`] makes: `ussd:`, eight hex digits of time, the session key,
/// eight hex digits of sequence and the longest tag (`allowance`), with their separators. The
/// server refuses to start with a ledger key limit below it.
pub const STEP_KEY_LEN_MAX: usize = 5 + 8 + 1 + SESSION_KEY_LEN_MAX + 1 + 8 + 1 + 9;
const _: () = assert!(STEP_KEY_LEN_MAX <= mkoba_ledger::rules::bounds::IDEMPOTENCY_KEY_LEN_MAX);

/// What the server knows about the calling number when a session starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Profile {
    Registered {
        name: String,
        language: Language,
        /// Too many wrong PINs: only an agent can reset it.
        pin_locked: bool,
        /// The PIN was reset and must be changed before anything else.
        must_change_pin: bool,
    },
    Unregistered,
}

/// What happened since the last turn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The customer's latest input (see `UssdRequest::latest_input`).
    Input(String),
    /// The answer to the effect the last turn asked for.
    Result(EffectResult),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Show this and wait for input (`end: false`) or close the session.
    Screen { text: String, end: bool },
    /// Perform this and call [`handle`] with its answer, in the same hop.
    Effect(Effect),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Turn {
    pub state: SessionState,
    pub output: Output,
}

/// The first screen of a session. `opened` is the server's clock in seconds since 1970: it
/// orders the session's ledger keys by time (see [`SessionState`]'s `opened`).
pub fn start(session_key: &str, opened: u64, profile: &Profile, cfg: &EngineConfig) -> Turn {
    let key_ok = !session_key.is_empty()
        && session_key.len() <= SESSION_KEY_LEN_MAX
        && session_key.bytes().all(|b| b.is_ascii_graphic());
    let (language, registered, name, locked, forced) = match profile {
        Profile::Registered {
            name,
            language,
            pin_locked,
            must_change_pin,
        } => {
            let clean = gsm::sanitize_field(name, bounds::NAME_LEN_MAX);
            let first = clean.split(' ').next().unwrap_or_default();
            let first = gsm::sanitize_field(first, bounds::GREETING_LEN_MAX);
            (*language, true, first, *pin_locked, *must_change_pin)
        }
        Profile::Unregistered => (cfg.default_language, false, String::new(), false, false),
    };
    let mut state = SessionState {
        v: state::STATE_VERSION,
        session_id: if key_ok {
            session_key.to_owned()
        } else {
            String::new()
        },
        language,
        registered,
        name,
        forced_pin_change: forced && !locked,
        step: Step::Main,
        history: Vec::new(),
        invalid_inputs: 0,
        effects_this_hop: 0,
        exec_seq: 0,
        awaiting: None,
        opened: Some(opened),
    };
    if !key_ok {
        return end(state, catalog::plain(language, Msg::Unavailable));
    }
    if locked {
        return end(state, catalog::plain(language, Msg::PinLocked));
    }
    state.step = home_step(&state);
    show(state, None, cfg)
}

/// The next turn of a session.
pub fn handle(mut state: SessionState, event: Event, cfg: &EngineConfig) -> Turn {
    if let Step::Ended { text } = &state.step {
        let text = text.clone();
        return end(state, text);
    }
    match event {
        Event::Input(raw) => {
            state.effects_this_hop = 0;
            state.awaiting = None;
            on_input(state, raw.trim(), cfg)
        }
        Event::Result(answer) => on_result(state, answer, cfg),
    }
}

/// Inputs a dial string may carry (`*384*44135*5*M123*10#` carries three).
pub const DIALLED_INPUTS_MAX: usize = 8;

/// What [`dialled`] made of a dial string's next input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dialled {
    /// Taken as if typed: go on with this turn (perform its effects, then feed the next input).
    Fed(Turn),
    /// Feed nothing more: the session shows the screen it is on. It has ended, or the previous
    /// input was refused and its hint is on that screen.
    Stop(SessionState),
}

/// Feeds one input that the customer dialled with the service code (a dial shortcut:
/// `*384*44135*5*M123*10#` opens Pay, merchant M123, amount 10). Call it after [`start`], once
/// per input in order, each time the previous turn has reached a screen; at most
/// [`DIALLED_INPUTS_MAX`] inputs. A screen that asks for a PIN is never fed from a dial string:
/// phones keep dial strings in their call log and networks in theirs. If inputs remain when
/// such a screen is reached, the PIN was dialled: the session ends with a warning rather than
/// use it.
pub fn dialled(state: SessionState, input: &str, cfg: &EngineConfig) -> Dialled {
    if state.is_ended() || state.invalid_inputs > 0 {
        return Dialled::Stop(state);
    }
    if journey::asks_for_pin(&state.step) {
        let text = catalog::plain(state.language, Msg::DialledPin);
        return Dialled::Fed(end(state, text));
    }
    Dialled::Fed(handle(state, Event::Input(input.to_owned()), cfg))
}

fn on_input(state: SessionState, input: &str, cfg: &EngineConfig) -> Turn {
    let cx = cx(&state, cfg);
    if input.chars().count() > crate::dialect::INPUT_LEN_MAX {
        let next = Next::Invalid(cx.t(Msg::HintInvalid));
        return apply(state, next, cfg);
    }
    let next = if input == view::HOME && !state.forced_pin_change {
        Next::Home(None)
    } else if input == view::BACK && !state.history.is_empty() {
        Next::Back
    } else {
        journey::input(&state.step, input, &cx)
    };
    apply(state, next, cfg)
}

fn on_result(mut state: SessionState, answer: EffectResult, cfg: &EngineConfig) -> Turn {
    let Some(wait) = state.awaiting.take() else {
        // An answer nobody asked for: the server lost track of the session.
        let text = catalog::plain(state.language, Msg::Unavailable);
        return end(state, text);
    };
    // A money movement that got any answer but a wrong PIN has used its key.
    if matches!(wait, Wait::Exec(_)) && !matches!(answer, EffectResult::WrongPin { .. }) {
        state.exec_seq = state.exec_seq.saturating_add(1);
    }
    let next = journey::result(wait, answer, &cx(&state, cfg));
    apply(state, next, cfg)
}

fn cx<'a>(state: &'a SessionState, cfg: &'a EngineConfig) -> Cx<'a> {
    Cx {
        lang: state.language,
        cfg,
        session_id: &state.session_id,
        opened: state.opened,
        exec_seq: state.exec_seq,
        forced: state.forced_pin_change,
        name: &state.name,
    }
}

fn home_step(state: &SessionState) -> Step {
    if state.forced_pin_change {
        journey::forced_pin_step()
    } else if state.registered {
        Step::Main
    } else {
        journey::register_start()
    }
}

fn apply(mut state: SessionState, next: Next, cfg: &EngineConfig) -> Turn {
    match next {
        Next::Go(step) => {
            let previous = std::mem::replace(&mut state.step, step);
            state.history.push(previous);
            if state.history.len() > HISTORY_MAX {
                state.history.remove(0);
            }
            state.invalid_inputs = 0;
            show(state, None, cfg)
        }
        Next::Swap(step) => {
            state.step = step;
            state.invalid_inputs = 0;
            show(state, None, cfg)
        }
        Next::Back => {
            if let Some(previous) = state.history.pop() {
                state.step = previous;
            }
            state.invalid_inputs = 0;
            show(state, None, cfg)
        }
        Next::Home(hint) => {
            state.history.clear();
            state.step = home_step(&state);
            state.invalid_inputs = 0;
            show(state, hint, cfg)
        }
        Next::Invalid(hint) => invalid(state, None, hint, cfg),
        Next::Redo(step, hint) => invalid(state, Some(step), hint, cfg),
        Next::Again(hint) => show(state, Some(hint), cfg),
        Next::Ask(effect, wait) => {
            state.effects_this_hop = state.effects_this_hop.saturating_add(1);
            if state.effects_this_hop > cfg.effects_max() {
                let text = catalog::plain(state.language, Msg::Unavailable);
                return end(state, text);
            }
            state.awaiting = Some(wait);
            Turn {
                state,
                output: Output::Effect(effect),
            }
        }
        Next::End(text) => end(state, text),
        Next::With(change, next) => {
            match change {
                Change::Language(language) => state.language = language,
                Change::PinChanged => state.forced_pin_change = false,
            }
            apply(state, *next, cfg)
        }
    }
}

/// Counts an invalid input; the last one allowed ends the session politely.
fn invalid(mut state: SessionState, step: Option<Step>, hint: String, cfg: &EngineConfig) -> Turn {
    state.invalid_inputs = state.invalid_inputs.saturating_add(1);
    if state.invalid_inputs >= cfg.invalid_max() {
        let text = catalog::plain(state.language, Msg::TooManyInvalid);
        return end(state, text);
    }
    if let Some(step) = step {
        state.step = step;
    }
    show(state, Some(hint), cfg)
}

fn show(state: SessionState, hint: Option<String>, cfg: &EngineConfig) -> Turn {
    let body = journey::render(&state.step, &cx(&state, cfg));
    let mut parts: Vec<String> = hint.into_iter().collect();
    parts.push(body.text);
    if body.nav {
        let back = !state.history.is_empty();
        let home = !state.forced_pin_change && state.step != home_step(&state);
        parts.extend(view::nav_line(state.language, back, home));
    }
    let text = view::finish(&parts.join("\n"));
    Turn {
        state,
        output: Output::Screen { text, end: false },
    }
}

fn end(mut state: SessionState, text: String) -> Turn {
    let text = view::finish(&text);
    state.step = Step::Ended { text: text.clone() };
    state.history.clear();
    state.awaiting = None;
    Turn {
        state,
        output: Output::Screen { text, end: true },
    }
}
