//! Request bodies as the spec names their fields, and the representations mkoba answers with.
//! Fields mkoba does not use are accepted and ignored, as the spec's many optional fields are.

use mkoba_ledger::{Money, TxnKind};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::gsma::parties::{PartyInput, PartyView, Viewer};
use crate::gsma::{date_time, GsmaError};
use crate::store::rows::TransactionRow;
use crate::store::{AnyConnection, StoreError};

/// `requestTransactionType`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionBody {
    pub amount: Option<String>,
    pub currency: Option<String>,
    pub credit_party: Option<Vec<PartyInput>>,
    pub debit_party: Option<Vec<PartyInput>>,
    pub description_text: Option<String>,
    pub requesting_organisation_transaction_reference: Option<String>,
    pub sub_type: Option<String>,
}

/// `requestReversal`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReversalBody {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub amount: Option<String>,
    pub currency: Option<String>,
    pub description_text: Option<String>,
    pub requesting_organisation_transaction_reference: Option<String>,
}

/// `requestDebitMandate`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MandateBody {
    pub payee: Option<Vec<PartyInput>>,
    pub amount_limit: Option<Value>,
    pub currency: Option<String>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub number_of_payments: Option<Value>,
    pub frequency_type: Option<String>,
}

/// `requestQuotation`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuotationBody {
    pub credit_party: Option<Vec<PartyInput>>,
    pub debit_party: Option<Vec<PartyInput>>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub sub_type: Option<String>,
    pub request_amount: Option<String>,
    pub request_currency: Option<String>,
}

/// What a request's final representation echoes from the request, kept with the request.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Echo {
    pub viewer: Option<Viewer>,
    /// The GSMA transaction type asked for.
    #[serde(rename = "type")]
    pub kind: String,
    pub sub_type: Option<String>,
    pub description_text: Option<String>,
    pub requesting_organisation_transaction_reference: Option<String>,
}

/// A free-text field from the caller: trimmed, at most `max` characters, no control characters.
pub fn text_field(
    value: Option<&str>,
    name: &str,
    max: usize,
) -> Result<Option<String>, GsmaError> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if value.chars().count() > max || value.chars().any(char::is_control) {
        return Err(GsmaError::new(
            crate::gsma::Category::Validation,
            "lengthError",
            "invalid_request",
            format!("{name} must be at most {max} printable characters"),
        ));
    }
    Ok(Some(value.to_owned()))
}

/// The GSMA type of a mkoba transaction kind.
pub fn gsma_type(kind: &str) -> &'static str {
    match TxnKind::parse(kind) {
        Some(TxnKind::Deposit) => "deposit",
        Some(TxnKind::Withdrawal) => "withdrawal",
        Some(TxnKind::Transfer) => "transfer",
        Some(TxnKind::MerchantPayment | TxnKind::Purchase) => "merchantpay",
        Some(TxnKind::Reversal | TxnKind::Refund) => "reversal",
        Some(TxnKind::Disbursement) => "disbursement",
        Some(
            TxnKind::Fee
            | TxnKind::Commission
            | TxnKind::FloatIssuance
            | TxnKind::FloatTransfer
            | TxnKind::Adjustment,
        )
        | None => "adjustment",
    }
}

/// `transactionStatus` for a journal phase.
pub fn status_of(phase: &str) -> &'static str {
    match phase {
        "pending" => "pending",
        "void_pending" => "voided",
        _ => "completed",
    }
}

fn money(minor: i64, currency: &str) -> Value {
    match crate::store::rows::currency(currency) {
        Ok(c) => json!(Money::from_minor(minor, c).to_plain_string()),
        Err(_) => json!(minor.to_string()),
    }
}

fn put(map: &mut Map<String, Value>, key: &str, value: Option<String>) {
    if let Some(v) = value {
        map.insert(key.to_owned(), json!(v));
    }
}

/// `responseTransaction` (and the body of a transaction callback): a journal entry as `view`'s
/// viewer may see it. `echo` adds what the caller sent with the request.
pub fn transaction(
    conn: &mut AnyConnection,
    view: &mut PartyView<'_>,
    codes: &mkoba_ledger::TxnCodes,
    row: &TransactionRow,
    echo: Option<&Echo>,
) -> Result<Value, StoreError> {
    let mut map = Map::new();
    map.insert("transactionReference".into(), json!(row.code));
    map.insert("transactionReceipt".into(), json!(row.code));
    let kind = echo.map_or(gsma_type(&row.kind), |e| match e.kind.as_str() {
        "" => gsma_type(&row.kind),
        k => gsma_type_name(k),
    });
    map.insert("type".into(), json!(kind));
    map.insert("transactionStatus".into(), json!(status_of(&row.phase)));
    map.insert("amount".into(), money(row.amount_minor, &row.currency));
    map.insert("currency".into(), json!(row.currency));
    map.insert("debitParty".into(), view.party(conn, row.debit_account_id)?);
    map.insert(
        "creditParty".into(),
        view.party(conn, row.credit_account_id)?,
    );
    if row.fee_minor > 0 {
        map.insert(
            "fees".into(),
            json!([{ "feeType": "transactionFee", "feeAmount": money(row.fee_minor, &row.currency), "feeCurrency": row.currency }]),
        );
    }
    if let Some(original) = row.related_id {
        map.insert(
            "originalTransactionReference".into(),
            json!(codes.code_for(mkoba_ledger::TxnId(original))),
        );
    }
    let memo: String = row.memo.chars().take(160).collect();
    let description = echo
        .and_then(|e| e.description_text.clone())
        .or((!memo.is_empty()).then_some(memo));
    put(&mut map, "descriptionText", description);
    if let Some(e) = echo {
        put(&mut map, "subType", e.sub_type.clone());
        put(
            &mut map,
            "requestingOrganisationTransactionReference",
            e.requesting_organisation_transaction_reference.clone(),
        );
    }
    let at = date_time(mkoba_ledger::Timestamp(row.created_at));
    map.insert("creationDate".into(), json!(at));
    map.insert("modificationDate".into(), json!(at));
    Ok(Value::Object(map))
}

/// `responseReversal`: the reversal (or refund) entry, naming the transaction it corrects.
pub fn reversal(
    conn: &mut AnyConnection,
    view: &mut PartyView<'_>,
    codes: &mkoba_ledger::TxnCodes,
    row: &TransactionRow,
    echo: Option<&Echo>,
) -> Result<Value, StoreError> {
    let mut value = transaction(conn, view, codes, row, echo)?;
    if let Some(map) = value.as_object_mut() {
        map.insert("type".into(), json!("reversal"));
        if !map.contains_key("originalTransactionReference") {
            map.insert("originalTransactionReference".into(), json!(""));
        }
    }
    Ok(value)
}

/// The spec's spelling of a type we were asked for (a closed set, so the answer stays valid).
fn gsma_type_name(kind: &str) -> &'static str {
    match kind {
        "deposit" => "deposit",
        "withdrawal" => "withdrawal",
        "transfer" => "transfer",
        "merchantpay" => "merchantpay",
        "disbursement" => "disbursement",
        "reversal" => "reversal",
        "billpay" => "billpay",
        "inttransfer" => "inttransfer",
        _ => "adjustment",
    }
}
