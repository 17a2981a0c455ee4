//! The main job of the `idcard` binary, in a crate of its own so the production command line
//! stays small: `idcard demo` (a synthetic nation end to end: population, counter work through
//! the engine's real commands, publishing to a bank verifier, a report) and `idcard gen`
//! (synthetic datasets for the other commands).
//!
//! Nothing here is a rule: every decision is the `idcard` crate's; this crate only plays the
//! people, the counters and the bank.

mod bank;
pub mod dataset;
mod demo;
pub mod progress;
mod report;
mod sim;
mod world;

pub use demo::{DemoArgs, run};
