//! What the operator configures about the menus. Everything has a default except the currency.

use mkoba_ledger::Currency;
use serde::{Deserialize, Serialize};

use super::bounds::TERMS_LEN_MAX;
use super::effect::Category;
use crate::catalog::Language;
use crate::gsm;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineConfig {
    /// The wallets' currency, shown in amount prompts.
    pub currency: Currency,
    /// Language of the first screen for numbers without a wallet.
    #[serde(default = "defaults::language")]
    pub default_language: Language,
    /// Invalid inputs in a row on one screen before the session ends (the last one ends it).
    #[serde(default = "defaults::invalid_inputs_max")]
    pub invalid_inputs_max: u8,
    /// Effects one hop may ask for before the engine gives up: a guard against a server that
    /// keeps answering in a way that asks for more.
    #[serde(default = "defaults::effects_per_hop_max")]
    pub effects_per_hop_max: u8,
    /// PIN length (4 is the norm; some markets use up to 8).
    #[serde(default = "defaults::pin_length")]
    pub pin_length: u8,
    /// Seconds a send can be cancelled after it is made; 0 hides the cancel hint.
    #[serde(default = "defaults::cancel_window_seconds")]
    pub cancel_window_seconds: u32,
    /// Ask for a store (till) number after the agent number when withdrawing.
    #[serde(default)]
    pub withdraw_asks_till: bool,
    /// Catalog items asked for per page (the screen shows as many as fit).
    #[serde(default = "defaults::catalog_page_size")]
    pub catalog_page_size: u8,
    /// Where the terms are, shown at registration (`mkoba.africa/terms`).
    #[serde(default = "defaults::terms")]
    pub terms: String,
    /// Digital categories on the Buy menu, in order.
    #[serde(default = "defaults::digital_categories")]
    pub digital_categories: Vec<Category>,
}

mod defaults {
    use super::*;

    pub fn language() -> Language {
        Language::En
    }
    pub fn invalid_inputs_max() -> u8 {
        3
    }
    pub fn effects_per_hop_max() -> u8 {
        4
    }
    pub fn pin_length() -> u8 {
        4
    }
    pub fn cancel_window_seconds() -> u32 {
        25
    }
    pub fn catalog_page_size() -> u8 {
        5
    }
    pub fn terms() -> String {
        "mkoba.africa/terms".to_owned()
    }
    pub fn digital_categories() -> Vec<Category> {
        vec![
            Category::Article,
            Category::Song,
            Category::Game,
            Category::Software,
        ]
    }
}

/// A configuration value out of range.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("ussd configuration: {0}")]
pub struct ConfigError(pub &'static str);

impl EngineConfig {
    /// Defaults for `currency`.
    pub fn new(currency: Currency) -> EngineConfig {
        EngineConfig {
            currency,
            default_language: defaults::language(),
            invalid_inputs_max: defaults::invalid_inputs_max(),
            effects_per_hop_max: defaults::effects_per_hop_max(),
            pin_length: defaults::pin_length(),
            cancel_window_seconds: defaults::cancel_window_seconds(),
            withdraw_asks_till: false,
            catalog_page_size: defaults::catalog_page_size(),
            terms: defaults::terms(),
            digital_categories: defaults::digital_categories(),
        }
    }

    /// Refuses values the screens are not laid out for. The server calls this at start-up; the
    /// engine also clamps each value where it uses it, so a bad value never panics.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=9).contains(&self.invalid_inputs_max) {
            return Err(ConfigError("invalid_inputs_max must be 1 to 9"));
        }
        if !(2..=8).contains(&self.effects_per_hop_max) {
            return Err(ConfigError("effects_per_hop_max must be 2 to 8"));
        }
        if !(4..=8).contains(&self.pin_length) {
            return Err(ConfigError("pin_length must be 4 to 8"));
        }
        if self.cancel_window_seconds > 3_600 {
            return Err(ConfigError("cancel_window_seconds must be at most 3600"));
        }
        if !(1..=9).contains(&self.catalog_page_size) {
            return Err(ConfigError("catalog_page_size must be 1 to 9"));
        }
        let terms_ok = gsm::gsm7_len(&self.terms).is_some_and(|n| n <= TERMS_LEN_MAX)
            && gsm::sanitize_field(&self.terms, TERMS_LEN_MAX) == self.terms;
        if self.terms.is_empty() || !terms_ok {
            return Err(ConfigError(
                "terms must be 1 to 30 GSM-7 characters on one line",
            ));
        }
        let mut seen = Vec::new();
        for c in &self.digital_categories {
            if seen.contains(c) {
                return Err(ConfigError("digital_categories lists a category twice"));
            }
            seen.push(*c);
        }
        if self.digital_categories.is_empty() || self.digital_categories.len() > 5 {
            return Err(ConfigError(
                "digital_categories must list 1 to 5 categories",
            ));
        }
        Ok(())
    }

    pub(crate) fn pin_len(&self) -> usize {
        usize::from(self.pin_length.clamp(4, 8))
    }

    pub(crate) fn invalid_max(&self) -> u8 {
        self.invalid_inputs_max.clamp(1, 9)
    }

    pub(crate) fn effects_max(&self) -> u8 {
        self.effects_per_hop_max.clamp(2, 8)
    }

    pub(crate) fn page_size(&self) -> u32 {
        u32::from(self.catalog_page_size.clamp(1, 9))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_only_the_currency_is_required() {
        let cfg: EngineConfig = serde_json::from_str(r#"{"currency": "KES"}"#).unwrap();
        assert_eq!(cfg, EngineConfig::new(Currency::KES));
        assert_eq!(cfg.validate(), Ok(()));
        assert!(serde_json::from_str::<EngineConfig>("{}").is_err());
        assert!(serde_json::from_str::<EngineConfig>(r#"{"currency":"KES","pin":4}"#).is_err());
    }

    #[test]
    fn out_of_range_values_are_refused() {
        let base = EngineConfig::new(Currency::UGX);
        let bad = [
            EngineConfig {
                invalid_inputs_max: 0,
                ..base.clone()
            },
            EngineConfig {
                effects_per_hop_max: 1,
                ..base.clone()
            },
            EngineConfig {
                pin_length: 3,
                ..base.clone()
            },
            EngineConfig {
                pin_length: 9,
                ..base.clone()
            },
            EngineConfig {
                catalog_page_size: 10,
                ..base.clone()
            },
            EngineConfig {
                cancel_window_seconds: 3_601,
                ..base.clone()
            },
            EngineConfig {
                terms: String::new(),
                ..base.clone()
            },
            EngineConfig {
                terms: "x".repeat(31),
                ..base.clone()
            },
            EngineConfig {
                terms: "a\nb".to_owned(),
                ..base.clone()
            },
            EngineConfig {
                terms: "ça".to_owned(),
                ..base.clone()
            },
            EngineConfig {
                digital_categories: Vec::new(),
                ..base.clone()
            },
            EngineConfig {
                digital_categories: vec![Category::Song, Category::Song],
                ..base.clone()
            },
        ];
        for cfg in bad {
            assert!(cfg.validate().is_err(), "{cfg:?}");
        }
    }
}
