//! # idcard — the engine of China's resident identity card "three systems"
//!
//! Off-site acceptance of renewals and replacements (异地受理), loss reporting (挂失申报) and
//! lost-and-found (丢失招领). This crate holds the whole domain model; the C library, the Python
//! package and the command line are thin adapters over it.
//!
//! Requirement ids (N1…, A1…, L1…, F1…, T1…, S1…) refer to `DOMAIN.md`; code and tests cite them.
//!
//! - [`number`]: identity numbers (N1, N2) and their validation.
//! - [`division`]: administrative division codes with their history (N3).
//! - [`card`]: cards, their keys and validity periods (N4-N6).
//! - [`index`]: the verification index: snapshots, deltas, the verifier (L3, A6).
//! - [`journal`]: the durable, append-only journal with group commit and recovery.
//! - [`engine`]: the system of record: commands, events, state, checkpoints (S1, S2).
//! - [`station`]: stations, officers and the authorization matrix (S1, A2).
//! - [`population`]: the population directory and fingerprint matcher as traits (A10, L2, N6).
//! - [`registry`]: registering stations, officers, people and cards.
//! - [`loss`]: loss reporting and hit reports (L1-L5).
//! - [`found`]: lost-and-found (F1, F2).
//! - [`blacklist`]: blacklist upkeep and the credit platform feed (A6).
//! - [`publish`]: snapshots and deltas from the record.
//! - [`offsite`]: off-site acceptance of renewals and replacements (A1-A7, A9-A11).
//! - [`policy`]: rollout (A12) and fees (A7) as data.
//! - [`temporary`]: temporary identity certificates (A8) and temporary cards (T1-T5).
//!
//! ```
//! use idcard::{IdNumber, Parser};
//! let n: IdNumber = "11010519491231002X".parse()?;
//! assert_eq!(n.division().get(), 110105);
//! let e = Parser::new().parse("110105194912310021").unwrap_err();
//! assert_eq!(e.to_string(), "check character is '1', expected 'X' for the first 17 digits");
//! # Ok::<(), idcard::NumberError>(())
//! ```

#![warn(missing_docs)]

pub mod blacklist;
pub mod card;
mod civil;
pub mod division;
pub mod engine;
pub mod found;
pub mod fsutil;
pub mod index;
pub mod journal;
pub mod loss;
pub mod number;
pub mod offsite;
pub mod policy;
pub mod population;
pub mod publish;
pub mod registry;
pub mod station;
pub mod temporary;

pub use card::{Card, CardError, CardKey, ValidityPeriod};
pub use division::{
    Division, DivisionCode, DivisionMode, DivisionRecord, DivisionTable, TableError,
};
pub use number::{IdNumber, NumberError, ParsedNumber, Parser, Sex, check_character, china_today};
