//! Turns a confirmed transaction into its outbox rows (see `sms::due` for when), and the
//! outbox's insert.

use std::collections::HashMap;

use diesel::prelude::*;
use mkoba_ledger::{AccountId, AccountKind, AccountSnapshot, Money, Receipt, Timestamp, TxnKind};
use phonenumber::country::Id;

use crate::sms::encoding::measure;
use crate::sms::localtime::local_date_time;
use crate::sms::parameters::to_parameters;
use crate::sms::templates::{Confirmation, Language, Message};
use crate::store::cached::cached_if_short;
use crate::store::db::AnyConnection;
use crate::store::schema::{agents, customers, merchants, sms_outbox};
use crate::store::StoreError;
use crate::with_conn;

/// Longest name a confirmation carries (agents' and merchants' names are cut to this).
const NAME_IN_SMS_MAX: usize = 20;

#[derive(Clone, Debug)]
pub struct NotifyConfig {
    pub low_float_minor: i64,
    pub utc_offset_seconds: i32,
    pub default_language: Language,
    pub deadline_seconds: i64,
    pub country: Id,
}

/// Who owns an account, as far as messages are concerned.
#[derive(Clone, Debug)]
pub(crate) enum Party {
    Customer {
        msisdn: String,
        name: String,
        language: Language,
    },
    Agent {
        msisdn: String,
        name: String,
    },
    Merchant {
        name: String,
        /// Set when the merchant wants SMS receipts of its sales.
        msisdn: Option<String>,
    },
}

impl Party {
    fn phone(&self) -> Option<&str> {
        match self {
            Party::Customer { msisdn, .. } | Party::Agent { msisdn, .. } => Some(msisdn),
            Party::Merchant { msisdn, .. } => msisdn.as_deref(),
        }
    }
}

#[derive(Clone, Debug, Insertable, serde::Serialize)]
#[diesel(table_name = sms_outbox, treat_none_as_default_value = false)]
pub struct NewOutboxRow {
    pub recipient: String,
    /// The text, or `None` when the message is kept as `params` (see `sms::parameters`).
    pub body: Option<String>,
    pub params: Option<String>,
    pub template: String,
    pub language: String,
    pub transaction_id: Option<i64>,
    pub promotional: bool,
    pub status: String,
    pub next_attempt_at: i64,
    pub deadline_at: i64,
    /// Counted with the body; `None` with it.
    pub segments: Option<i32>,
    pub created_at: i64,
}

impl NewOutboxRow {
    /// A message stored rendered.
    pub fn new(
        recipient: &str,
        message: &Message,
        language: Language,
        txn: Option<i64>,
        now: Timestamp,
        cfg: &NotifyConfig,
    ) -> NewOutboxRow {
        let body = message.render(language);
        let segments = i32::try_from(measure(&body).segments).unwrap_or(i32::MAX);
        NewOutboxRow {
            body: Some(body),
            segments: Some(segments),
            ..NewOutboxRow::queued(recipient, message, language, txn, now, cfg)
        }
    }

    /// A message stored as its parameters when it is a confirmation (rendered when sent), else
    /// rendered: what the ledger writer stores, as rendering is work in the one thread every
    /// payment waits for.
    pub fn kept(
        recipient: &str,
        message: &Message,
        language: Language,
        txn: Option<i64>,
        now: Timestamp,
        cfg: &NotifyConfig,
    ) -> NewOutboxRow {
        match to_parameters(message) {
            Some(params) => NewOutboxRow {
                params: Some(params),
                ..NewOutboxRow::queued(recipient, message, language, txn, now, cfg)
            },
            None => NewOutboxRow::new(recipient, message, language, txn, now, cfg),
        }
    }

    /// Everything but the text, which the two constructors above fill in (a row needs a body or
    /// parameters: the table's CHECK refuses neither).
    fn queued(
        recipient: &str,
        message: &Message,
        language: Language,
        txn: Option<i64>,
        now: Timestamp,
        cfg: &NotifyConfig,
    ) -> NewOutboxRow {
        NewOutboxRow {
            recipient: recipient.to_owned(),
            body: None,
            params: None,
            template: message.template().to_owned(),
            language: language.code().to_owned(),
            transaction_id: txn,
            promotional: false,
            status: "queued".into(),
            next_attempt_at: now.0,
            deadline_at: now.saturating_add_seconds(cfg.deadline_seconds).0,
            segments: None,
            created_at: now.0,
        }
    }
}

/// `JOHN D***`: enough for the sender to recognise the recipient, not enough to harvest names.
pub fn mask_name(name: &str) -> String {
    // Uppercase first: uppercasing a sanitized name could bring back letters outside GSM-7
    // (à is GSM-7, À is not).
    let clean = mkoba_ussd::gsm::sanitize(&name.to_uppercase());
    let words: Vec<&str> = clean.split_whitespace().collect();
    match words.as_slice() {
        [] => "***".into(),
        [only] => format!("{}***", only.chars().take(4).collect::<String>()),
        [first, .., last] => {
            let first: String = first.chars().take(12).collect();
            format!("{first} {}***", last.chars().next().unwrap_or('*'))
        }
    }
}

/// `0712***678`: the national form with the middle hidden (international for foreign numbers,
/// whose national form would hide which country they are in).
pub fn mask_number(e164: &str, country: Id) -> String {
    match national_digits_fast(e164, country) {
        Some(digits) => mask_digits(&digits),
        None => mask_digits(&national_digits_parsed(e164, country)),
    }
}

/// The national digits by string rules, for the common case of a number of a country that has
/// its calling code to itself and a trunk prefix (`+254712345678` → `0712345678`). A full parse
/// costs microseconds, and every confirmation SMS masks a number; `None` means "parse it".
fn national_digits_fast(e164: &str, country: Id) -> Option<String> {
    let meta = phonenumber::metadata::DATABASE.by_id(country.as_ref())?;
    let code = meta.country_code();
    let regions = phonenumber::metadata::DATABASE.region(&code)?;
    if regions.len() != 1 {
        return None;
    }
    let prefix = meta.national_prefix()?;
    let rest = e164
        .strip_prefix('+')?
        .strip_prefix(code.to_string().as_str())?;
    if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(format!("{prefix}{rest}"))
}

fn national_digits_parsed(e164: &str, country: Id) -> String {
    let national = phonenumber::parse(Some(country), e164)
        .ok()
        .filter(|n| n.country().id() == Some(country))
        .map_or_else(
            || e164.to_owned(),
            |n| n.format().mode(phonenumber::Mode::National).to_string(),
        );
    national
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '+')
        .collect()
}

fn mask_digits(digits: &str) -> String {
    let chars: Vec<char> = digits.chars().collect();
    if chars.len() < 8 {
        return "***".into();
    }
    let head: String = chars.iter().take(4).collect();
    let tail: String = chars.iter().skip(chars.len() - 3).collect();
    format!("{head}***{tail}")
}

fn short_name(name: &str) -> String {
    mkoba_ussd::gsm::sanitize(name)
        .chars()
        .take(NAME_IN_SMS_MAX)
        .collect()
}

/// The accounts of `ids` each kind of party can own, by the account's kind where the batch
/// knows it (every account of a batch is loaded): a transfer between two wallets then looks up
/// two customers, instead of probing the agents' and merchants' indexes for them too, and the
/// fee revenue account in all three.
fn owned_by(
    ids: &[i64],
    kinds: &HashMap<AccountId, AccountKind>,
) -> (Vec<i64>, Vec<i64>, Vec<i64>) {
    let (mut customers, mut agents, mut merchants) = (Vec::new(), Vec::new(), Vec::new());
    for id in ids {
        match kinds.get(&AccountId(*id)) {
            Some(AccountKind::CustomerWallet) => customers.push(*id),
            Some(AccountKind::AgentFloat) => agents.push(*id),
            Some(AccountKind::Merchant) => merchants.push(*id),
            Some(
                AccountKind::AgentCommission
                | AccountKind::FeeRevenue
                | AccountKind::EmoneyIssuance
                | AccountKind::Suspense,
            ) => {}
            None => {
                customers.push(*id);
                agents.push(*id);
                merchants.push(*id);
            }
        }
    }
    (customers, agents, merchants)
}

pub(crate) fn load_parties(
    conn: &mut AnyConnection,
    ids: &[i64],
    kinds: &HashMap<AccountId, AccountKind>,
    default_language: Language,
) -> Result<HashMap<AccountId, Party>, StoreError> {
    let mut parties = HashMap::new();
    let (customer_ids, agent_ids, merchant_ids) = owned_by(ids, kinds);
    if !customer_ids.is_empty() {
        let rows: Vec<(i64, String, String, String)> =
            with_conn!(&mut *conn, |c| cached_if_short(
                customers::table
                    .filter(customers::wallet_account_id.eq_any(&customer_ids))
                    .select((
                        customers::wallet_account_id,
                        customers::msisdn,
                        customers::name,
                        customers::language
                    )),
                customer_ids.len()
            )
            .load(c))?;
        for (account, msisdn, name, language) in rows {
            let language = Language::from_code(&language).unwrap_or(default_language);
            parties.insert(
                AccountId(account),
                Party::Customer {
                    msisdn,
                    name,
                    language,
                },
            );
        }
    }
    if !agent_ids.is_empty() {
        let rows: Vec<(i64, String, String)> = with_conn!(&mut *conn, |c| cached_if_short(
            agents::table
                .filter(agents::float_account_id.eq_any(&agent_ids))
                .select((agents::float_account_id, agents::msisdn, agents::name)),
            agent_ids.len()
        )
        .load(c))?;
        for (account, msisdn, name) in rows {
            parties.insert(AccountId(account), Party::Agent { msisdn, name });
        }
    }
    if !merchant_ids.is_empty() {
        let rows: Vec<(i64, String, Option<String>)> =
            with_conn!(&mut *conn, |c| cached_if_short(
                merchants::table
                    .filter(merchants::account_id.eq_any(&merchant_ids))
                    .select((merchants::account_id, merchants::name, merchants::msisdn)),
                merchant_ids.len()
            )
            .load(c))?;
        for (account, name, msisdn) in rows {
            parties.insert(AccountId(account), Party::Merchant { name, msisdn });
        }
    }
    Ok(parties)
}

/// Inserts `rows` with statements prepared once per connection whatever their number: on
/// PostgreSQL one statement with every column bound as an array (one round trip), on SQLite
/// fixed-size chunks (see `store::bulk`).
pub fn insert_outbox(conn: &mut AnyConnection, rows: &[NewOutboxRow]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    if let AnyConnection::Postgres(c) = conn {
        return insert_outbox_pg(c, rows);
    }
    crate::insert_rows!(conn, sms_outbox::table, rows);
    Ok(())
}

fn insert_outbox_pg(c: &mut diesel::PgConnection, rows: &[NewOutboxRow]) -> Result<(), StoreError> {
    use diesel::sql_types::{Array, BigInt, Bool, Integer, Nullable, Text};
    let text = |f: fn(&NewOutboxRow) -> &str| -> Vec<&str> { rows.iter().map(f).collect() };
    let int = |f: fn(&NewOutboxRow) -> i64| -> Vec<i64> { rows.iter().map(f).collect() };
    let inserted = diesel::sql_query(
        "INSERT INTO sms_outbox (recipient, body, params, template, language, transaction_id, \
           promotional, status, next_attempt_at, deadline_at, segments, created_at) \
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
           $6::bigint[], $7::boolean[], $8::text[], $9::bigint[], $10::bigint[], $11::integer[], \
           $12::bigint[])",
    )
    .bind::<Array<Text>, _>(text(|r| &r.recipient))
    .bind::<Array<Nullable<Text>>, _>(rows.iter().map(|r| r.body.as_deref()).collect::<Vec<_>>())
    .bind::<Array<Nullable<Text>>, _>(rows.iter().map(|r| r.params.as_deref()).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(text(|r| &r.template))
    .bind::<Array<Text>, _>(text(|r| &r.language))
    .bind::<Array<Nullable<BigInt>>, _>(rows.iter().map(|r| r.transaction_id).collect::<Vec<_>>())
    .bind::<Array<Bool>, _>(rows.iter().map(|r| r.promotional).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(text(|r| &r.status))
    .bind::<Array<BigInt>, _>(int(|r| r.next_attempt_at))
    .bind::<Array<BigInt>, _>(int(|r| r.deadline_at))
    .bind::<Array<Nullable<Integer>>, _>(rows.iter().map(|r| r.segments).collect::<Vec<_>>())
    .bind::<Array<BigInt>, _>(int(|r| r.created_at))
    .execute(c)?;
    if inserted != rows.len() {
        return Err(StoreError::Conflict(format!(
            "{inserted} of {} outbox rows inserted",
            rows.len()
        )));
    }
    Ok(())
}

/// The messages confirming the transaction `r` to its parties: `debit_after` and `credit_after`
/// are its two accounts as it left them (see `sms::due`). Their times are the transaction's.
pub(crate) fn rows_for(
    r: &Receipt,
    debit_after: Option<AccountSnapshot>,
    credit_after: Option<AccountSnapshot>,
    parties: &HashMap<AccountId, Party>,
    cfg: &NotifyConfig,
) -> Vec<NewOutboxRow> {
    let now = r.created_at;
    let currency = r.amount.currency();
    let (date, time) = local_date_time(r.created_at, cfg.utc_offset_seconds);
    let snapshot = |id: AccountId| {
        if id == r.debit {
            debit_after
        } else if id == r.credit {
            credit_after
        } else {
            None
        }
    };
    let label = |id: AccountId| -> (String, String) {
        match parties.get(&id) {
            Some(Party::Customer { msisdn, name, .. }) => {
                (mask_name(name), mask_number(msisdn, cfg.country))
            }
            Some(Party::Agent { name, .. }) => (short_name(name), String::new()),
            Some(Party::Merchant { name, .. }) => (short_name(name), String::new()),
            None => ("mkoba".into(), String::new()),
        }
    };
    let confirmation = |own: AccountId, other: AccountId, fee_minor: i64, with_limit: bool| {
        let (counterparty, counterparty_number) = label(other);
        let after: Option<AccountSnapshot> = snapshot(own);
        Confirmation {
            code: r.code.clone(),
            amount: r.amount,
            fee: Money::from_minor(fee_minor, currency),
            counterparty,
            counterparty_number,
            balance: Money::from_minor(after.map_or(0, |s| s.balance_minor), currency),
            date: date.clone(),
            time: time.clone(),
            daily_remaining: if with_limit {
                after
                    .and_then(|s| s.daily_remaining_minor)
                    .map(|m| Money::from_minor(m, currency))
            } else {
                None
            },
        }
    };
    let (debit, credit) = (r.debit, r.credit);
    // (account to notify, message) for each party that gets one.
    let messages: Vec<(AccountId, Message)> = match r.kind {
        TxnKind::Transfer => vec![
            (
                debit,
                Message::Sent(confirmation(debit, credit, r.fee_minor, true)),
            ),
            (
                credit,
                Message::Received(confirmation(credit, debit, 0, false)),
            ),
        ],
        TxnKind::Deposit => vec![
            (
                credit,
                Message::CashIn(confirmation(credit, debit, 0, false)),
            ),
            (
                debit,
                Message::AgentCashIn(confirmation(debit, credit, 0, false)),
            ),
        ],
        TxnKind::Withdrawal => vec![
            (
                debit,
                Message::CashOut(confirmation(debit, credit, r.fee_minor, true)),
            ),
            (
                credit,
                Message::AgentCashOut(confirmation(credit, debit, 0, false)),
            ),
        ],
        TxnKind::MerchantPayment => vec![
            (
                debit,
                Message::MerchantPayment(confirmation(debit, credit, 0, true)),
            ),
            (
                credit,
                Message::Sale(confirmation(credit, debit, r.fee_minor, false)),
            ),
        ],
        TxnKind::Purchase => vec![
            (
                debit,
                Message::Purchase(confirmation(debit, credit, 0, true)),
            ),
            (
                credit,
                Message::Sale(confirmation(credit, debit, r.fee_minor, false)),
            ),
        ],
        TxnKind::Reversal => vec![
            (
                credit,
                Message::ReversalCredit(confirmation(credit, debit, 0, false)),
            ),
            (
                debit,
                Message::ReversalDebit(confirmation(debit, credit, 0, false)),
            ),
        ],
        TxnKind::FloatIssuance | TxnKind::FloatTransfer => {
            vec![(
                credit,
                Message::FloatReceived(confirmation(credit, debit, 0, false)),
            )]
        }
        TxnKind::Disbursement => vec![(
            credit,
            Message::Received(confirmation(credit, debit, 0, false)),
        )],
        TxnKind::Refund => vec![(
            credit,
            Message::Refund(confirmation(credit, debit, 0, false)),
        )],
        TxnKind::Fee | TxnKind::Commission | TxnKind::Adjustment => Vec::new(),
    };
    let mut rows: Vec<NewOutboxRow> = messages
        .into_iter()
        .filter_map(|(account, message)| {
            let party = parties.get(&account)?;
            let language = match party {
                Party::Customer { language, .. } => *language,
                Party::Agent { .. } | Party::Merchant { .. } => cfg.default_language,
            };
            Some(NewOutboxRow::kept(
                party.phone()?,
                &message,
                language,
                Some(r.txn_id.0),
                now,
                cfg,
            ))
        })
        .collect();
    // An agent whose float this entry pushed below the threshold is warned once, as it crosses.
    if let (Some(Party::Agent { msisdn, .. }), Some(after)) = (parties.get(&debit), snapshot(debit))
    {
        let before = after.available_minor.saturating_add(r.amount.minor());
        if after.available_minor < cfg.low_float_minor && before >= cfg.low_float_minor {
            let message = Message::LowFloat {
                available: Money::from_minor(after.available_minor, currency),
            };
            rows.push(NewOutboxRow::new(
                msisdn,
                &message,
                cfg.default_language,
                Some(r.txn_id.0),
                now,
                cfg,
            ));
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_names_and_numbers() {
        assert_eq!(mask_name("John Doe"), "JOHN D***");
        assert_eq!(mask_name("  amina   wanjiru njeri "), "AMINA N***");
        assert_eq!(mask_name("Cher"), "CHER***");
        assert_eq!(mask_name(""), "***");
        for name in [
            "Adèle Müller",
            "Ìfẹ́olúwa Òkè",
            "Zoë Ñúñez",
            "Ùrsula Àlvarez",
        ] {
            let masked = mask_name(name);
            assert!(mkoba_ussd::gsm::is_gsm7(&masked), "{name} -> {masked}");
        }
        assert_eq!(mask_number("+254712345678", Id::KE), "0712***678");
        assert_eq!(mask_number("+256772123456", Id::KE), "+256***456");
    }

    #[test]
    fn parties_are_looked_up_where_the_account_kind_says() {
        let kinds: HashMap<AccountId, AccountKind> = [
            (1, AccountKind::CustomerWallet),
            (2, AccountKind::AgentFloat),
            (3, AccountKind::Merchant),
            (4, AccountKind::FeeRevenue),
            (5, AccountKind::AgentCommission),
            (6, AccountKind::CustomerWallet),
        ]
        .into_iter()
        .map(|(id, kind)| (AccountId(id), kind))
        .collect();
        let (customers, agents, merchants) = owned_by(&[1, 2, 3, 4, 5, 6, 7], &kinds);
        // 7 was not loaded: it is looked up everywhere, as before kinds were known.
        assert_eq!(customers, vec![1, 6, 7]);
        assert_eq!(agents, vec![2, 7]);
        assert_eq!(merchants, vec![3, 7]);
    }

    /// The string fast path gives what a full parse gives, for mobile numbers of the markets
    /// mkoba serves (wherever the fast path applies at all).
    #[test]
    fn fast_masking_agrees_with_a_full_parse() {
        let samples: &[(Id, &[&str])] = &[
            (Id::KE, &["+254712345678", "+254110123456", "+254799000001"]),
            (Id::TZ, &["+255712345678", "+255654321098"]),
            (Id::UG, &["+256772123456", "+256701234567"]),
            (Id::RW, &["+250788123456", "+250722123456"]),
            (Id::GH, &["+233244123456", "+233501234567"]),
            (Id::NG, &["+2348031234567", "+2349061234567"]),
            (Id::ZM, &["+260971234567"]),
            (Id::MW, &["+265991234567"]),
            (Id::CI, &["+2250712345678"]),
            (Id::SN, &["+221771234567"]),
            (Id::CM, &["+237671234567"]),
        ];
        let mut fast_applied = 0;
        for (country, numbers) in samples {
            for number in *numbers {
                let parsed = mask_digits(&national_digits_parsed(number, *country));
                if let Some(fast) = national_digits_fast(number, *country) {
                    fast_applied += 1;
                    assert_eq!(mask_digits(&fast), parsed, "{country:?} {number}");
                }
                assert_eq!(
                    mask_number(number, *country),
                    parsed,
                    "{country:?} {number}"
                );
            }
        }
        assert!(
            fast_applied >= 15,
            "the fast path applied to {fast_applied} samples"
        );
    }
}
