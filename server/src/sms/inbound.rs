//! Commands customers text in: HELP, BAL, STOP/START, CHECK <code> — with Swahili and French
//! keywords too. Answers go through the outbox like every other message.

use crate::sms::templates::Language;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inbound {
    Help,
    Balance,
    Stop,
    Start,
    Check(String),
}

/// Longest inbound text looked at; the rest is ignored.
pub const INBOUND_TEXT_MAX: usize = 160;

/// Parses a text into a command and the language its keyword was in (for unregistered senders).
pub fn parse(text: &str) -> (Inbound, Option<Language>) {
    let text: String = text.chars().take(INBOUND_TEXT_MAX).collect();
    let mut words = text.split_whitespace();
    let keyword = words.next().unwrap_or("").to_uppercase();
    let argument = words.next().map(|w| {
        w.trim_matches(|c: char| !c.is_ascii_alphanumeric())
            .to_uppercase()
    });
    match keyword.as_str() {
        "BAL" | "BALANCE" => (Inbound::Balance, Some(Language::En)),
        "SALIO" => (Inbound::Balance, Some(Language::Sw)),
        "SOLDE" => (Inbound::Balance, Some(Language::Fr)),
        "STOP" | "ACHA" | "ARRET" | "ARRÊT" => (Inbound::Stop, None),
        "START" | "ANZA" | "DEMARRER" => (Inbound::Start, None),
        "CHECK" | "ANGALIA" | "VERIFIER" | "VÉRIFIER" => {
            let language = match keyword.as_str() {
                "ANGALIA" => Language::Sw,
                "CHECK" => Language::En,
                _ => Language::Fr,
            };
            match argument {
                Some(code) if !code.is_empty() => (Inbound::Check(code), Some(language)),
                _ => (Inbound::Help, Some(language)),
            }
        }
        "MSAADA" => (Inbound::Help, Some(Language::Sw)),
        "AIDE" => (Inbound::Help, Some(Language::Fr)),
        _ => (Inbound::Help, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands_in_three_languages() {
        assert_eq!(parse("bal").0, Inbound::Balance);
        assert_eq!(parse("  Salio ").0, Inbound::Balance);
        assert_eq!(parse("SOLDE"), (Inbound::Balance, Some(Language::Fr)));
        assert_eq!(
            parse("check qk7zd3mpwa."),
            (Inbound::Check("QK7ZD3MPWA".into()), Some(Language::En))
        );
        assert_eq!(
            parse("ANGALIA QK7ZD3MPWA").0,
            Inbound::Check("QK7ZD3MPWA".into())
        );
        assert_eq!(parse("CHECK").0, Inbound::Help);
        assert_eq!(parse("stop").0, Inbound::Stop);
        assert_eq!(parse("START").0, Inbound::Start);
        assert_eq!(parse("what is this").0, Inbound::Help);
        assert_eq!(parse("").0, Inbound::Help);
        assert_eq!(parse(&"x".repeat(10_000)).0, Inbound::Help);
    }
}
