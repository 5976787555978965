//! Demo portal users, seeded with the demo world so the README's first command gives a portal
//! to sign in to: the owners of AG101 and AG102, a till operator at AG101, the super-agent
//! SA001, and two operator admins (maker-checker needs two).

use crate::app::App;
use crate::portal::session::Role;
use crate::portal::store::{self, NewUser};
use crate::store::{checkout, StoreError};

pub struct DemoUser {
    pub login: &'static str,
    pub name: &'static str,
    pub role: Role,
    /// The agent it acts for (none for operator admins).
    pub agent: Option<&'static str>,
    pub password: &'static str,
}

pub const USERS: [DemoUser; 6] = [
    DemoUser {
        login: "AG101",
        name: "Mama Mboga (owner)",
        role: Role::AgentOwner,
        agent: Some("AG101"),
        password: "demo-agent-101",
    },
    DemoUser {
        login: "AG101-T1",
        name: "Wanjiku (till 1)",
        role: Role::TillOperator,
        agent: Some("AG101"),
        password: "demo-till-101",
    },
    DemoUser {
        login: "AG102",
        name: "Kona Kiosk (owner)",
        role: Role::AgentOwner,
        agent: Some("AG102"),
        password: "demo-agent-102",
    },
    DemoUser {
        login: "SA001",
        name: "Baraka (super-agent)",
        role: Role::SuperAgent,
        agent: Some("SA001"),
        password: "demo-super-001",
    },
    DemoUser {
        login: "OPS1",
        name: "Operations admin one",
        role: Role::OperatorAdmin,
        agent: None,
        password: "demo-admin-001",
    },
    DemoUser {
        login: "OPS2",
        name: "Operations admin two",
        role: Role::OperatorAdmin,
        agent: None,
        password: "demo-admin-002",
    },
];

/// Adds whichever demo users are missing (so a demo database seeded before the portal existed
/// gets them too). Users whose agent does not exist are skipped.
pub fn seed(app: &App) -> Result<usize, StoreError> {
    let mut conn = checkout(&app.pool)?;
    let now = app.clock.now().0;
    let mut added = 0;
    for user in &USERS {
        if store::user_by_login(&mut conn, user.login)?.is_some() {
            continue;
        }
        let agent_id = match user.agent {
            Some(code) => match store::agent_by_code(&mut conn, code)? {
                Some(agent) => Some(agent.id),
                None => continue,
            },
            None => None,
        };
        let hash = app
            .hasher
            .hash(user.password)
            .map_err(|e| StoreError::Io(e.to_string()))?;
        let new = NewUser {
            login: user.login,
            name: user.name,
            role: user.role.as_str(),
            agent_id,
            password_hash: &hash,
            must_change_password: false,
            now,
        };
        if store::insert_user(&mut conn, &new)?.is_some() {
            added += 1;
        }
    }
    Ok(added)
}
