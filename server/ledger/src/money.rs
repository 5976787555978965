//! Money as integer minor units of one currency, with checked arithmetic.
//!
//! Text is parsed and printed through `rust_decimal` so that `"12.50"` KES is exactly 1250 minor
//! units; nothing here ever touches a float.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Currencies mkoba knows, each with its minor-unit scale (ISO 4217).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Currency {
    KES,
    TZS,
    GHS,
    NGN,
    UGX,
    RWF,
    XOF,
}

impl Currency {
    pub const ALL: [Currency; 7] = [
        Currency::KES,
        Currency::TZS,
        Currency::GHS,
        Currency::NGN,
        Currency::UGX,
        Currency::RWF,
        Currency::XOF,
    ];

    /// Digits after the decimal point in this currency's minor unit.
    pub const fn scale(self) -> u32 {
        match self {
            Currency::KES | Currency::TZS | Currency::GHS | Currency::NGN => 2,
            Currency::UGX | Currency::RWF | Currency::XOF => 0,
        }
    }

    pub const fn code(self) -> &'static str {
        match self {
            Currency::KES => "KES",
            Currency::TZS => "TZS",
            Currency::GHS => "GHS",
            Currency::NGN => "NGN",
            Currency::UGX => "UGX",
            Currency::RWF => "RWF",
            Currency::XOF => "XOF",
        }
    }

    pub fn from_code(code: &str) -> Option<Currency> {
        Currency::ALL.into_iter().find(|c| c.code() == code)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Why a piece of amount text is not an acceptable amount. Each maps to a ledger rejection name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("amount is empty")]
    Empty,
    #[error("amount is not a plain decimal number")]
    Invalid,
    #[error("amount is negative")]
    Negative,
    #[error("amount must be greater than zero")]
    NotPositive,
    #[error("amount has more decimal places than the currency allows")]
    TooPrecise,
    #[error("amount is above the maximum allowed")]
    ExceedsMaximum,
    #[error("amount arithmetic overflowed")]
    Overflow,
}

/// Longest amount text we look at; anything longer is refused before parsing.
pub const AMOUNT_TEXT_LEN_MAX: usize = 32;

/// An amount of money: integer minor units of one currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    pub const fn from_minor(minor: i64, currency: Currency) -> Money {
        Money { minor, currency }
    }

    pub const fn zero(currency: Currency) -> Money {
        Money { minor: 0, currency }
    }

    pub const fn minor(self) -> i64 {
        self.minor
    }

    pub const fn currency(self) -> Currency {
        self.currency
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        if self.currency != other.currency {
            return None;
        }
        Some(Money::from_minor(
            self.minor.checked_add(other.minor)?,
            self.currency,
        ))
    }

    pub fn checked_sub(self, other: Money) -> Option<Money> {
        if self.currency != other.currency {
            return None;
        }
        Some(Money::from_minor(
            self.minor.checked_sub(other.minor)?,
            self.currency,
        ))
    }

    /// Parses customer- or API-supplied amount text in major units (`"12.50"`), refusing anything
    /// that is not a plain positive decimal exactly representable in the currency, or above `max`.
    pub fn parse(text: &str, currency: Currency, max_minor: i64) -> Result<Money, AmountError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(AmountError::Empty);
        }
        if text.len() > AMOUNT_TEXT_LEN_MAX {
            return Err(AmountError::Invalid);
        }
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        // Only `digits[.digits]`: no exponents, separators, NaN or infinities.
        let (whole, fraction) = match digits.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (digits, None),
        };
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        let well_formed = !whole.is_empty()
            && all_digits(whole)
            && fraction.is_none_or(|f| !f.is_empty() && all_digits(f));
        if !well_formed {
            return Err(AmountError::Invalid);
        }
        if negative {
            return Err(AmountError::Negative);
        }
        // More whole digits than an i64 of minor units can hold is simply too large.
        if whole.trim_start_matches('0').len() > 18 {
            return Err(AmountError::ExceedsMaximum);
        }
        // Digits below the currency's minor unit are refused here, as text: `Decimal` rounds
        // what it cannot hold (about 28 significant digits), which would turn
        // `999999999999999999.9999999999999` into a whole amount instead of refusing it.
        let fraction = fraction.map(|f| f.trim_end_matches('0')).unwrap_or("");
        let scale = usize::try_from(currency.scale()).unwrap_or(usize::MAX);
        if fraction.len() > scale {
            return Err(AmountError::TooPrecise);
        }
        let exact = if fraction.is_empty() {
            whole.to_owned()
        } else {
            format!("{whole}.{fraction}")
        };
        let value = Decimal::from_str(&exact).map_err(|_| AmountError::Invalid)?;
        let minor = Self::decimal_to_minor(value, currency)?;
        if minor <= 0 {
            return Err(AmountError::NotPositive);
        }
        if minor > max_minor {
            return Err(AmountError::ExceedsMaximum);
        }
        Ok(Money::from_minor(minor, currency))
    }

    /// Converts an exact decimal in major units to minor units, refusing values that would need
    /// rounding.
    pub fn decimal_to_minor(value: Decimal, currency: Currency) -> Result<i64, AmountError> {
        let scaled = value
            .checked_mul(Decimal::from(10_i64.pow(currency.scale())))
            .ok_or(AmountError::ExceedsMaximum)?;
        if scaled.fract() != Decimal::ZERO {
            return Err(AmountError::TooPrecise);
        }
        i64::try_from(scaled).map_err(|_| AmountError::ExceedsMaximum)
    }

    /// The amount in major units as an exact decimal with the currency's scale.
    pub fn to_decimal(self) -> Decimal {
        Decimal::new(self.minor, self.currency.scale())
    }

    /// `"1250.00"` for 125000 KES minor units; no thousands separators (machine-friendly).
    pub fn to_plain_string(self) -> String {
        self.to_decimal().to_string()
    }

    /// `"1,250.00"`: for people (SMS, USSD, portal).
    pub fn to_grouped_string(self) -> String {
        let plain = self.to_decimal().abs().to_string();
        let (whole, fraction) = match plain.split_once('.') {
            Some((w, f)) => (w.to_owned(), Some(f.to_owned())),
            None => (plain.clone(), None),
        };
        let mut grouped = String::with_capacity(whole.len() + whole.len() / 3 + 4);
        for (i, ch) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(ch);
        }
        let sign = if self.minor < 0 { "-" } else { "" };
        match fraction {
            Some(f) => format!("{sign}{grouped}.{f}"),
            None => format!("{sign}{grouped}"),
        }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.currency, self.to_grouped_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: i64 = 25_000_000;

    #[test]
    fn parses_exact_amounts_into_minor_units() {
        assert_eq!(
            Money::parse("12.50", Currency::KES, MAX).map(Money::minor),
            Ok(1250)
        );
        assert_eq!(
            Money::parse("12.5", Currency::KES, MAX).map(Money::minor),
            Ok(1250)
        );
        assert_eq!(
            Money::parse("12", Currency::KES, MAX).map(Money::minor),
            Ok(1200)
        );
        assert_eq!(
            Money::parse(" 7 ", Currency::KES, MAX).map(Money::minor),
            Ok(700)
        );
        assert_eq!(
            Money::parse("12.500", Currency::KES, MAX).map(Money::minor),
            Ok(1250)
        );
        assert_eq!(
            Money::parse("500", Currency::UGX, MAX).map(Money::minor),
            Ok(500)
        );
        assert_eq!(
            Money::parse("0.01", Currency::KES, MAX).map(Money::minor),
            Ok(1)
        );
    }

    #[test]
    fn each_bad_amount_has_its_named_error() {
        let cases = [
            ("12.505", AmountError::TooPrecise),
            ("-5", AmountError::Negative),
            ("1e3", AmountError::Invalid),
            ("NaN", AmountError::Invalid),
            ("inf", AmountError::Invalid),
            ("", AmountError::Empty),
            ("   ", AmountError::Empty),
            ("1,000", AmountError::Invalid),
            ("12.", AmountError::Invalid),
            (".5", AmountError::Invalid),
            ("0", AmountError::NotPositive),
            ("0.00", AmountError::NotPositive),
            ("250000.01", AmountError::ExceedsMaximum),
            ("99999999999999999999999", AmountError::ExceedsMaximum),
            ("1.5", AmountError::Invalid),
        ];
        for (text, expected) in cases {
            let currency = if text == "1.5" {
                Currency::UGX
            } else {
                Currency::KES
            };
            let got = Money::parse(text, currency, MAX);
            // UGX has no minor unit, so "1.5" needs rounding: too precise, not invalid.
            let expected = if text == "1.5" {
                AmountError::TooPrecise
            } else {
                expected
            };
            assert_eq!(got, Err(expected), "input {text:?}");
        }
    }

    /// Found by the `money_parse` fuzz target: fractions longer than `Decimal` holds were
    /// rounded into whole amounts instead of being refused as too precise.
    #[test]
    fn long_fractions_are_refused_not_rounded() {
        let cases = [
            ("999999999999999999.9999999999999", Currency::UGX),
            ("100.0000000000000000000000000009", Currency::KES),
            ("1.0000000000000000000000000001", Currency::KES),
            ("0.0000000000000000000000000001", Currency::KES),
        ];
        for (text, currency) in cases {
            assert_eq!(
                Money::parse(text, currency, i64::MAX),
                Err(AmountError::TooPrecise),
                "{text}"
            );
        }
        assert_eq!(
            Money::parse("12.50000000000000000000000000000", Currency::KES, i64::MAX),
            Ok(Money::from_minor(1_250, Currency::KES))
        );
    }

    #[test]
    fn prints_with_the_currency_scale() {
        assert_eq!(
            Money::from_minor(125_000, Currency::KES).to_plain_string(),
            "1250.00"
        );
        assert_eq!(
            Money::from_minor(123_456_789, Currency::KES).to_grouped_string(),
            "1,234,567.89"
        );
        assert_eq!(
            Money::from_minor(5, Currency::KES).to_grouped_string(),
            "0.05"
        );
        assert_eq!(
            Money::from_minor(1_500, Currency::UGX).to_string(),
            "UGX 1,500"
        );
        assert_eq!(
            Money::from_minor(-100_000, Currency::KES).to_grouped_string(),
            "-1,000.00"
        );
    }

    #[test]
    fn arithmetic_is_checked() {
        let big = Money::from_minor(i64::MAX, Currency::KES);
        assert_eq!(big.checked_add(Money::from_minor(1, Currency::KES)), None);
        assert_eq!(
            Money::from_minor(1, Currency::KES).checked_add(Money::from_minor(1, Currency::UGX)),
            None
        );
        assert_eq!(
            Money::from_minor(5, Currency::KES).checked_sub(Money::from_minor(7, Currency::KES)),
            Some(Money::from_minor(-2, Currency::KES))
        );
    }
}
