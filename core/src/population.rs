//! The population directory and the fingerprint matcher — the outside systems the rules consult
//! (A5, A9, A10, L2, N6, S1) — as traits. The embedded default keeps the population in the
//! journal (loaded from CSV) and compares fingerprint samples with enrolled template digests;
//! the national platform plugs in its own.

use std::fmt;
use std::str::FromStr;

use crate::division::DivisionCode;
use crate::number::IdNumber;

/// Active servicemen and armed police follow the same loss-report and lost-and-found flows as
/// other citizens (L5); their cards are applied for by their unit at the county bureau of their
/// long-term fixed address, never off-site (State Council/CMC Order 510, art. 5), and a
/// temporary identity certificate needs their unit's letter (A8).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum PersonCategory {
    /// A citizen.
    #[default]
    Civilian,
    /// An active serviceman (现役军人).
    Serviceman,
    /// Armed police (武警).
    ArmedPolice,
}

impl PersonCategory {
    /// Name used in CSV and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            PersonCategory::Civilian => "civilian",
            PersonCategory::Serviceman => "serviceman",
            PersonCategory::ArmedPolice => "armed_police",
        }
    }
}

impl FromStr for PersonCategory {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "" | "civilian" => Ok(PersonCategory::Civilian),
            "serviceman" => Ok(PersonCategory::Serviceman),
            "armed_police" => Ok(PersonCategory::ArmedPolice),
            _ => Err(format!(
                "unknown person category {s:?}; civilian, serviceman or armed_police"
            )),
        }
    }
}

/// A digest of an enrolled fingerprint template (the embedded matcher never keeps templates).
#[derive(Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct TemplateDigest(u128);

impl TemplateDigest {
    /// The digest of template (or sample) bytes.
    pub fn of(bytes: &[u8]) -> TemplateDigest {
        TemplateDigest(xxhash_rust::xxh3::xxh3_128_with_seed(bytes, 0x1dca_f1e7))
    }
}

impl fmt::Debug for TemplateDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TemplateDigest(..)")
    }
}

/// A person as the population directory knows them.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Person {
    /// Identity number.
    pub number: IdNumber,
    /// Name.
    pub name: String,
    /// Division of household registration (户籍地).
    pub hukou_division: DivisionCode,
    /// Civilian, serviceman, armed police (L5).
    pub category: PersonCategory,
    /// Enrolled fingerprint, when fingerprints are registered (N6).
    pub fingerprint: Option<TemplateDigest>,
    /// Contact for notifications (F2), when known.
    pub contact: Option<String>,
    /// Whether the person has died (A10).
    pub deceased: bool,
    /// On minimum living allowance or in rural hardship: card fees exempt (A7, law art. 20).
    pub fee_exempt: bool,
}

/// An error of an outside system (the directory or the matcher did not answer).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{system}: {message}")]
pub struct ExternalError {
    /// Which system.
    pub system: String,
    /// What happened.
    pub message: String,
}

/// The national population directory, as an outside system.
pub trait PopulationDirectory: Send + Sync {
    /// The person with this number, if any.
    fn person(&self, number: IdNumber) -> Result<Option<Person>, ExternalError>;

    /// The guardians on record of `child` (law art. 7: an under-16 applies through a guardian).
    /// The default knows none.
    fn guardians(&self, child: IdNumber) -> Result<Vec<IdNumber>, ExternalError> {
        let _ = child;
        Ok(Vec::new())
    }
}

/// The fingerprint matcher, as an outside system.
pub trait FingerprintMatcher: Send + Sync {
    /// Whether `sample` matches the fingerprint enrolled for `number`.
    fn matches(&self, number: IdNumber, sample: &[u8]) -> Result<bool, ExternalError>;
}

/// The outcome of a fingerprint comparison, recorded in events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FingerprintCheck {
    /// No fingerprints are registered: nothing to compare.
    NotRegistered,
    /// Compared on the spot and matched (L2).
    Matched,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn n6_template_digest_matches_only_the_same_sample() {
        assert_eq!(
            TemplateDigest::of(b"left-index"),
            TemplateDigest::of(b"left-index")
        );
        assert_ne!(
            TemplateDigest::of(b"left-index"),
            TemplateDigest::of(b"right-index")
        );
        assert_eq!(
            format!("{:?}", TemplateDigest::of(b"x")),
            "TemplateDigest(..)"
        );
    }
}
