//! `idcard publish`: snapshots and deltas from the record (L3, A6).

use std::path::PathBuf;

use clap::Subcommand;
use idcard::index::Profile;

use super::{Data, Who};

#[derive(Subcommand)]
pub enum PublishCommand {
    /// Publish a full snapshot.
    Snapshot {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// bank (cards only) or police (cards and blacklist).
        #[arg(long)]
        profile: Profile,
        /// Output file.
        #[arg(short = 'o', long)]
        output: PathBuf,
    },
    /// Publish a delta from a snapshot published earlier.
    Delta {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// The base snapshot.
        #[arg(long)]
        base: PathBuf,
        /// Start at this journal sequence: the `to` of the previous delta of a chain (default:
        /// the snapshot's own sequence).
        #[arg(long)]
        since: Option<u64>,
        /// Output file.
        #[arg(short = 'o', long)]
        output: PathBuf,
    },
}
