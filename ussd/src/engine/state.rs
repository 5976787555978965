//! The session state the server stores between hops, as JSON.
//!
//! It holds where the customer is ([`Step`], which carries what the journey has collected so
//! far), the screens behind it for `0` back, the language, and counters. It never holds a PIN in
//! use; between the two entries of a new PIN it holds that new PIN ([`PinDraft`]), so the server
//! should treat stored state as sensitive: keep it only while the session lives and never log it.

use serde::{Deserialize, Serialize};

use super::journey::{
    account, allowances, approvals, buy, exec, history, pay, register, send, withdraw,
};
use crate::catalog::{Language, Msg};

/// Version of the stored JSON; state from another version is refused (the server starts over).
pub const STATE_VERSION: u16 = 1;
/// Screens remembered for `0` back; older ones are forgotten.
pub const HISTORY_MAX: usize = 12;

/// Everything the engine needs from one hop to the next. Opaque to the server: store it with
/// [`SessionState::to_json`], load it with [`SessionState::from_json`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionState {
    pub(crate) v: u16,
    pub(crate) session_id: String,
    pub(crate) language: Language,
    pub(crate) registered: bool,
    /// First name, for the main menu's greeting.
    pub(crate) name: String,
    /// The customer must change the PIN before anything else (a reset PIN from an agent).
    pub(crate) forced_pin_change: bool,
    pub(crate) step: Step,
    pub(crate) history: Vec<Step>,
    pub(crate) invalid_inputs: u8,
    pub(crate) effects_this_hop: u8,
    /// Money movements answered so far in this session; part of each `step_key`, so that a
    /// second payment in one session gets a new key while a repeated hop reuses the old one.
    pub(crate) exec_seq: u32,
    pub(crate) awaiting: Option<Wait>,
    /// When the session opened, in seconds of the server's clock. It leads each `step_key`, so
    /// the keys of payments made in the same minutes sit side by side in the ledger's key index
    /// instead of at random places in it. `None` in state stored before it existed: such a
    /// session keeps the key form it started with, so a repeated hop still replays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) opened: Option<u64>,
}

/// Why stored state could not be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("stored session state is not valid: {0}")]
    Invalid(String),
    #[error("stored session state has version {0}, this engine reads {STATE_VERSION}")]
    Version(u16),
}

impl SessionState {
    /// JSON for the session table.
    pub fn to_json(&self) -> Result<String, StateError> {
        serde_json::to_string(self).map_err(|e| StateError::Invalid(e.to_string()))
    }

    /// State stored by [`SessionState::to_json`]. On error the server should start the session
    /// over ([`crate::engine::start`]) rather than fail the hop.
    pub fn from_json(json: &str) -> Result<SessionState, StateError> {
        let state: SessionState =
            serde_json::from_str(json).map_err(|e| StateError::Invalid(e.to_string()))?;
        if state.v != STATE_VERSION {
            return Err(StateError::Version(state.v));
        }
        Ok(state)
    }

    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    pub fn language(&self) -> Language {
        self.language
    }

    /// The session has ended: the server may delete it (a repeated hop would get the same
    /// ending screen again if it is kept).
    pub fn is_ended(&self) -> bool {
        matches!(self.step, Step::Ended { .. })
    }

    /// An effect has been asked for and not yet answered.
    pub fn is_awaiting(&self) -> bool {
        self.awaiting.is_some()
    }
}

/// A screen waiting for input, with what the journey has collected so far.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Step {
    /// The session is over; its last screen.
    Ended {
        text: String,
    },
    Register(register::RegStep),
    Main,
    Send(send::SendStep),
    Withdraw(withdraw::WithdrawStep),
    Buy(buy::BuyStep),
    Pay(pay::PayStep),
    BalancePin,
    Approvals(approvals::ApprovalStep),
    Account(account::AccountStep),
    History(history::HistoryStep),
    Allowances(allowances::AllowanceStep),
    /// A message with nothing to choose but back or home.
    Notice(Notice),
}

/// What an effect's answer continues.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Wait {
    Register(register::RegWait),
    Send(send::SendWait),
    Withdraw(withdraw::WithdrawWait),
    Buy(buy::BuyWait),
    Pay(pay::PayWait),
    Balance,
    ApprovalList,
    Account(account::AccountWait),
    History(history::HistoryWait),
    Allowances(allowances::AllowanceWait),
    /// A PIN-checked ledger call: `Execute`, or `GrantAllowance`.
    Exec(exec::Done),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
/// Lists that turned out empty.
pub(crate) enum Notice {
    Approvals,
    Products,
    Statement,
    Reverse,
    Allowances,
}

impl Notice {
    pub(crate) fn msg(self) -> Msg {
        match self {
            Notice::Approvals => Msg::ApprovalsEmpty,
            Notice::Products => Msg::ProductsEmpty,
            Notice::Statement => Msg::StatementEmpty,
            Notice::Reverse => Msg::ReverseEmpty,
            Notice::Allowances => Msg::AllowancesEmpty,
        }
    }
}

/// A new PIN between its first and second entry. Never printed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct PinDraft(pub(crate) String);

impl std::fmt::Debug for PinDraft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PinDraft(***)")
    }
}
