//! # idcard — the engine of China's resident identity card "three systems"
//!
//! Off-site acceptance of renewals and replacements (异地受理), loss reporting (挂失申报) and
//! lost-and-found (丢失招领). This crate holds the whole domain model; the C library, the Python
//! package and the command line are thin adapters over it.
//!
//! Requirement ids (N1…, A1…, L1…, F1…, T1…, S1…) are listed in `docs/REQUIREMENTS.md`; code and
//! tests cite them.
//!
//! ## Layers
//!
//! Each module uses only modules of its own layer or below (`core/tests/layers.rs` checks it):
//!
//! 1. Foundation: [`time`] (China dates, clocks), [`trust`] (keys, certificates, signatures),
//!    [`number`] (N1, N2), [`division`] (N3), [`card`] (N4-N6).
//! 2. Files: [`index`] (the verification index: snapshots, deltas, the verifier; L3, A6) and
//!    [`journal`] (the durable, append-only journal with group commit and recovery).
//! 3. Who and what: [`station`] (stations, officers, the authorization matrix; S1, A2),
//!    [`population`] (the population directory and fingerprint matcher as traits), [`policy`]
//!    (rollout A12 and fees A7 as data).
//! 4. [`model`]: events, the state they fold into, read views — pure.
//! 5. [`projection`]: what applied events feed (the live verifier, snapshot and delta contents).
//! 6. [`engine`]: journal, replay, authorisation, the run machinery, checkpoints.
//! 7. [`workflow`]: the commands and their rules; [`analyst`]: the journal redacted for
//!    analysts (S2).
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

pub mod analyst;
pub mod card;
mod civil;
pub mod division;
pub mod engine;
pub mod fsutil;
pub mod index;
pub mod journal;
pub mod model;
pub mod number;
pub mod policy;
pub mod population;
pub mod projection;
pub mod station;
pub mod store;
pub mod time;
pub mod trust;
pub mod workflow;

pub use card::{Card, CardError, CardKey, ValidityPeriod};
pub use division::{
    Division, DivisionCode, DivisionMode, DivisionRecord, DivisionTable, TableError,
};
pub use number::{IdNumber, NumberError, NumberKind, ParsedNumber, Parser, Sex, check_character};
pub use time::china_today;
