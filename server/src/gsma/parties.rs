//! Who is calling, which account an identifier names, and how each party is shown to a caller.
//!
//! Identifiers: `msisdn` (a customer's number, E.164 or national) and `walletid` (an account id,
//! or for a merchant a customer's pseudonym `cus_…`). A merchant sees customers only by
//! pseudonym, its own account by id, and other accounts (mkoba's fee revenue) by category; the
//! operator sees numbers and ids.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::HttpRequest;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::app::App;
use crate::gsma::GsmaError;
use crate::merchant::auth::KEY_PREFIX;
use crate::merchant::store as mstore;
use crate::merchant::Merchant;
use crate::store::rows::AccountRow;
use crate::store::schema::{accounts, agents, customers, merchants};
use crate::store::{AnyConnection, StoreError};
use crate::with_conn;

/// An authenticated caller.
#[derive(Clone, Debug)]
pub enum Caller {
    /// The operator's admin token: every operation, every account.
    Operator,
    /// A merchant's API key: its own account, and customers only by pseudonym.
    Merchant(Merchant),
}

/// The part of a caller that decides how parties are shown (kept with a request, so that a
/// callback renders the way the answer would have).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    pub merchant_id: Option<i64>,
    pub merchant_account: Option<i64>,
}

impl Caller {
    /// Whose correlation ids these are.
    pub fn key(&self) -> String {
        match self {
            Caller::Operator => "operator".into(),
            Caller::Merchant(m) => format!("merchant:{}", m.id),
        }
    }

    pub fn viewer(&self) -> Viewer {
        match self {
            Caller::Operator => Viewer {
                merchant_id: None,
                merchant_account: None,
            },
            Caller::Merchant(m) => Viewer {
                merchant_id: Some(m.id),
                merchant_account: Some(m.account_id),
            },
        }
    }

    pub fn merchant(&self) -> Option<&Merchant> {
        match self {
            Caller::Operator => None,
            Caller::Merchant(m) => Some(m),
        }
    }
}

/// A merchant key (`mk_…`, checked, rate-limited and optionally signed exactly as on the
/// merchant API) or the operator's admin token.
pub async fn authenticate(
    app: &Arc<App>,
    req: &HttpRequest,
    body: &[u8],
) -> Result<Caller, GsmaError> {
    let bearer = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or("");
    if bearer.starts_with(KEY_PREFIX) {
        let merchant = crate::merchant::authenticate(app, req, body).await?;
        return Ok(Caller::Merchant(merchant));
    }
    crate::http::ledger_api::authorize(app, req)?;
    Ok(Caller::Operator)
}

/// Who holds an account.
#[derive(Clone, Debug)]
pub enum Owner {
    Customer {
        id: i64,
        msisdn: String,
        name: String,
    },
    Merchant {
        name: String,
    },
    Agent {
        name: String,
    },
}

/// An account an identifier resolved to.
#[derive(Clone, Debug)]
pub struct Holder {
    pub account: AccountRow,
    pub owner: Owner,
}

impl Holder {
    pub fn is_customer(&self) -> bool {
        matches!(self.owner, Owner::Customer { .. })
    }

    pub fn customer_id(&self) -> Option<i64> {
        match &self.owner {
            Owner::Customer { id, .. } => Some(*id),
            Owner::Merchant { .. } | Owner::Agent { .. } => None,
        }
    }

    /// Whether this is the calling merchant's own account.
    pub fn is_own(&self, caller: &Caller) -> bool {
        caller
            .merchant()
            .is_some_and(|m| m.account_id == self.account.id)
    }
}

fn account_row(conn: &mut AnyConnection, id: i64) -> Result<Option<AccountRow>, StoreError> {
    Ok(with_conn!(&mut *conn, |c| accounts::table
        .find(id)
        .select(AccountRow::as_select())
        .first(c)
        .optional())?)
}

fn holder_of(conn: &mut AnyConnection, row: AccountRow) -> Result<Option<Holder>, StoreError> {
    let owner = match row.owner_type.as_str() {
        "customer" => with_conn!(&mut *conn, |c| customers::table
            .filter(customers::wallet_account_id.eq(row.id))
            .select((customers::id, customers::msisdn, customers::name))
            .first::<(i64, String, String)>(c)
            .optional())?
        .map(|(id, msisdn, name)| Owner::Customer { id, msisdn, name }),
        "merchant" => with_conn!(&mut *conn, |c| merchants::table
            .filter(merchants::account_id.eq(row.id))
            .select(merchants::name)
            .first::<String>(c)
            .optional())?
        .map(|name| Owner::Merchant { name }),
        "agent" => match row.owner_id {
            Some(agent) => with_conn!(&mut *conn, |c| agents::table
                .find(agent)
                .select(agents::name)
                .first::<String>(c)
                .optional())?
            .map(|name| Owner::Agent { name }),
            None => None,
        },
        // System accounts (fee revenue, issuance, suspense) are nobody's wallet.
        _ => None,
    };
    Ok(owner.map(|owner| Holder {
        account: row,
        owner,
    }))
}

/// The account `identifier` names, as far as `caller` may address it. Anything it may not
/// address is "not found", so that existence leaks nothing.
pub fn resolve(
    app: &App,
    conn: &mut AnyConnection,
    caller: &Caller,
    identifier_type: &str,
    identifier: &str,
) -> Result<Holder, GsmaError> {
    let not_found = || GsmaError::not_found("account");
    match identifier_type {
        "msisdn" => {
            let msisdn = crate::phone::Msisdn::parse(identifier, app.country)
                .map_err(|_| GsmaError::format("msisdn is not a valid phone number"))?;
            let wallet: Option<i64> = with_conn!(&mut *conn, |c| customers::table
                .filter(customers::msisdn.eq(msisdn.as_str()))
                .select(customers::wallet_account_id)
                .first(c)
                .optional())
            .map_err(StoreError::from)?;
            let row = match wallet {
                Some(w) => account_row(conn, w)?,
                None => None,
            };
            let holder = match row {
                Some(r) => holder_of(conn, r)?,
                None => None,
            };
            holder.ok_or_else(not_found)
        }
        "walletid" => {
            if let Some(merchant) = caller.merchant() {
                if identifier.starts_with("cus_") && identifier.len() <= 40 {
                    let customer = mstore::find_customer(
                        conn,
                        &app.merchant.pseudonym_key,
                        merchant.id,
                        mstore::CustomerRef::Pseudonym(identifier),
                    )?
                    .ok_or_else(not_found)?;
                    let row = account_row(conn, customer.wallet.0)?.ok_or_else(not_found)?;
                    return holder_of(conn, row)?.ok_or_else(not_found);
                }
            }
            let id: i64 = identifier.parse().map_err(|_| not_found())?;
            if let Some(merchant) = caller.merchant() {
                if id != merchant.account_id {
                    return Err(not_found());
                }
            }
            let row = account_row(conn, id)?.ok_or_else(not_found)?;
            holder_of(conn, row)?.ok_or_else(not_found)
        }
        other => Err(GsmaError::format(format!(
            "identifier type {} is not supported here; use msisdn or walletid",
            other.chars().take(30).collect::<String>()
        ))),
    }
}

/// A `[{key, value}]` party from a request body.
#[derive(Clone, Debug, Deserialize)]
pub struct PartyInput {
    pub key: String,
    pub value: String,
}

/// The identifiers a party array gives, by the keys mkoba understands.
#[derive(Clone, Debug, Default)]
pub struct PartyRef {
    pub msisdn: Option<String>,
    pub walletid: Option<String>,
    pub mandate: Option<String>,
}

impl PartyRef {
    pub fn of(party: Option<&[PartyInput]>) -> PartyRef {
        let mut out = PartyRef::default();
        for p in party.unwrap_or_default() {
            let value = Some(p.value.trim().to_owned());
            match p.key.as_str() {
                "msisdn" if out.msisdn.is_none() => out.msisdn = value,
                "walletid" if out.walletid.is_none() => out.walletid = value,
                "mandatereference" if out.mandate.is_none() => out.mandate = value,
                _ => {}
            }
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.msisdn.is_none() && self.walletid.is_none()
    }

    /// The account this party names (msisdn first, then walletid).
    pub fn resolve(
        &self,
        app: &App,
        conn: &mut AnyConnection,
        caller: &Caller,
        side: &str,
    ) -> Result<Holder, GsmaError> {
        match (&self.msisdn, &self.walletid) {
            (Some(m), _) => resolve(app, conn, caller, "msisdn", m),
            (None, Some(w)) => resolve(app, conn, caller, "walletid", w),
            (None, None) => Err(GsmaError::missing(&format!(
                "{side} with an msisdn or walletid key"
            ))),
        }
    }
}

/// Shows accounts to one viewer, looking each up once.
pub struct PartyView<'a> {
    app: &'a App,
    viewer: Viewer,
    seen: HashMap<i64, Value>,
}

impl<'a> PartyView<'a> {
    pub fn new(app: &'a App, viewer: Viewer) -> PartyView<'a> {
        PartyView {
            app,
            viewer,
            seen: HashMap::new(),
        }
    }

    /// The party array for `account` as the viewer may see it.
    pub fn party(&mut self, conn: &mut AnyConnection, account: i64) -> Result<Value, StoreError> {
        if let Some(known) = self.seen.get(&account) {
            return Ok(known.clone());
        }
        let shown = self.compute(conn, account)?;
        self.seen.insert(account, shown.clone());
        Ok(shown)
    }

    fn compute(&self, conn: &mut AnyConnection, account: i64) -> Result<Value, StoreError> {
        let wallet = |id: i64| json!([{ "key": "walletid", "value": id.to_string() }]);
        if self.viewer.merchant_account == Some(account) {
            return Ok(wallet(account));
        }
        let Some(row) = account_row(conn, account)? else {
            return Ok(wallet(account));
        };
        let customer: Option<(i64, String)> = if row.owner_type == "customer" {
            with_conn!(&mut *conn, |c| customers::table
                .filter(customers::wallet_account_id.eq(account))
                .select((customers::id, customers::msisdn))
                .first(c)
                .optional())?
        } else {
            None
        };
        Ok(match (self.viewer.merchant_id, customer) {
            (None, Some((_, msisdn))) => json!([
                { "key": "msisdn", "value": msisdn },
                { "key": "walletid", "value": account.to_string() },
            ]),
            (None, None) => wallet(account),
            (Some(merchant), Some((customer, _))) => {
                let pseudonym =
                    mstore::pseudonym(conn, &self.app.merchant.pseudonym_key, merchant, customer)?;
                json!([{ "key": "walletid", "value": pseudonym }])
            }
            (Some(_), None) => json!([{ "key": "accountcategory", "value": row.kind }]),
        })
    }
}
