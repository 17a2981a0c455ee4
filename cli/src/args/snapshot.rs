//! `idcard snapshot`, `idcard verify`, `idcard blacklist check`: verification snapshots (L3, A6).

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use idcard::index::{FilterMode, Profile};

use super::{SignArgs, TrustArgs};

#[derive(Subcommand)]
pub enum SnapshotCommand {
    /// Build a snapshot file from CARDS.csv (and BLACKLIST.csv for the police profile).
    Build(BuildArgs),
    /// Show a snapshot's header, counts, signature and checksum verdict.
    Inspect(InspectArgs),
}

#[derive(Args)]
pub struct BuildArgs {
    /// CSV with a header line and columns number,valid_from,status[,reason][,changed_on].
    #[arg(long, value_name = "CARDS.csv")]
    pub cards: PathBuf,
    /// CSV with a header line and columns number,reason[,source][,listed_on] (police profile).
    #[arg(long, value_name = "BLACKLIST.csv")]
    pub blacklist: Option<PathBuf>,
    /// Who the snapshot is for: bank (cards only) or police (cards and blacklist).
    #[arg(long, default_value = "bank")]
    pub profile: Profile,
    /// Output file.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: PathBuf,
    /// Skip bad rows (and report how many) instead of stopping at the first.
    #[arg(long)]
    pub skip_bad: bool,
    /// The time of the record the snapshot reflects (RFC 3339; default now).
    #[arg(long, value_name = "TIME")]
    pub as_of: Option<DateTime<Utc>>,
    /// The journal sequence the snapshot reflects (deltas continue from it).
    #[arg(long, default_value_t = 0)]
    pub journal_seq: u64,
    /// First hash seed to try (default: derived from the metadata).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Card filter in front of the table: always (default) or never.
    #[arg(long, default_value = "always")]
    pub filter: FilterMode,
    #[command(flatten)]
    pub sign: SignArgs,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct InspectArgs {
    /// The snapshot file.
    pub file: PathBuf,
    /// Check the signature against this trust file (without it, the signer is shown but not
    /// checked).
    #[arg(long, value_name = "FILE")]
    pub trust: Option<PathBuf>,
    /// Say whose copy the file is (a leak): by the record's publications, else by the hash
    /// seed derived for each registered subscriber. Needs --data.
    #[arg(long, requires = "data")]
    pub attribute: bool,
    /// The record (for --attribute).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct VerifyArgs {
    /// The snapshot file.
    #[arg(long, value_name = "FILE")]
    pub snapshot: PathBuf,
    /// Delta files to apply first, in order (repeat the option); a directory applies its
    /// signed timestamps and those of its `.idcd` files that follow on from the snapshot, in
    /// sequence order (files that fail the checks are skipped and named on stderr).
    #[arg(long, value_name = "FILE|DIR")]
    pub delta: Vec<PathBuf>,
    /// Signed timestamp files to take in (`.idct`): the data stays fresh while the platform
    /// vouches nothing newer exists.
    #[arg(long, value_name = "FILE")]
    pub timestamp: Vec<PathBuf>,
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Print JSON (one object per card) instead of CSV.
    #[arg(long)]
    pub json: bool,
    /// One card: the number and the validity start (YYYY-MM-DD). Without them, CSV
    /// `number,valid_from` is read from stdin (a header line is optional).
    #[arg(num_args = 0..=2, value_names = ["NUMBER", "VALID_FROM"])]
    pub card: Vec<String>,
}

#[derive(Args)]
pub struct BlacklistCheckArgs {
    /// A police profile snapshot.
    #[arg(long, value_name = "FILE")]
    pub snapshot: PathBuf,
    /// Delta files to apply first, in order (repeat the option); a directory applies its
    /// signed timestamps and those of its `.idcd` files that follow on from the snapshot.
    #[arg(long, value_name = "FILE|DIR")]
    pub delta: Vec<PathBuf>,
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Identity numbers.
    #[arg(required = true)]
    pub numbers: Vec<String>,
}
