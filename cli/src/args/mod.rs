//! The command line's argument types (clap), one module per area; the handlers are in
//! [`crate::cmd`]. Only parsing and the conversion of text into the library's request types
//! live here.

pub mod blacklist;
pub mod found;
pub mod id;
pub mod journal;
pub mod loss;
pub mod offsite;
pub mod policy;
pub mod publish;
pub mod record;
pub mod snapshot;
pub mod temporary;

use std::path::PathBuf;

use anyhow::Context;
use chrono::NaiveDate;
use clap::Args;
use idcard::IdNumber;
use idcard::engine::{CardRef, InPerson};
use idcard::station::Actor;

/// `--data DIR [--json]`: the record to work on.
#[derive(Args, Clone)]
pub struct Data {
    /// The data directory (journal, checkpoints).
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `--officer ID --station ID`: who runs the command.
#[derive(Args, Clone)]
pub struct Who {
    /// The officer running the command (S2: every action is attributed).
    #[arg(long, value_name = "ID")]
    pub officer: String,
    /// The station the officer works at.
    #[arg(long, value_name = "ID")]
    pub station: String,
}

impl Who {
    /// The actor.
    pub fn actor(&self) -> anyhow::Result<Actor> {
        Actor::new(&self.officer, &self.station).map_err(anyhow::Error::msg)
    }
}

/// `--number N [--valid-from DATE]`: a card.
#[derive(Args, Clone)]
pub struct CardArg {
    /// The holder's identity number.
    #[arg(long)]
    pub number: String,
    /// The card's validity start (YYYY-MM-DD); default: the holder's newest card.
    #[arg(long, value_name = "DATE")]
    pub valid_from: Option<NaiveDate>,
}

impl CardArg {
    /// The card reference.
    pub fn card_ref(&self) -> anyhow::Result<CardRef> {
        Ok(CardRef {
            number: number(&self.number)?,
            valid_from: self.valid_from,
        })
    }
}

/// `[--present NUMBER] [--fingerprint SAMPLE]`: the person at the counter.
#[derive(Args, Clone)]
pub struct Present {
    /// The identity number of the person at the counter (default: the card holder).
    #[arg(long, value_name = "NUMBER")]
    pub present: Option<String>,
    /// A fingerprint sample taken on the spot (required when the card has fingerprints, L2).
    #[arg(long, value_name = "SAMPLE")]
    pub fingerprint: Option<String>,
}

impl Present {
    /// The person present; `holder` when `--present` is not given.
    pub fn person(&self, holder: IdNumber) -> anyhow::Result<InPerson> {
        let number = match &self.present {
            Some(s) => number(s)?,
            None => holder,
        };
        Ok(InPerson {
            number,
            fingerprint: self.fingerprint.as_ref().map(|f| f.as_bytes().to_vec()),
        })
    }
}

/// An identity number argument.
pub fn number(s: &str) -> anyhow::Result<IdNumber> {
    IdNumber::parse(s).with_context(|| format!("identity number {s:?}"))
}

/// A station or officer identifier argument.
pub fn id<T: std::str::FromStr<Err = String>>(s: &str) -> anyhow::Result<T> {
    s.parse().map_err(anyhow::Error::msg)
}
