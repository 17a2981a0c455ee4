//! `idcard publish`: snapshots and deltas from the record (L3, A6).

use std::path::PathBuf;

use clap::Subcommand;
use idcard::index::Profile;

use super::{Data, SignArgs, Who};

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
        /// The subscriber whose file this is (`idcard subscriber add`): its own hash seed, so
        /// a leaked copy names it.
        #[arg(long, value_name = "ID")]
        subscriber: Option<String>,
        #[command(flatten)]
        sign: SignArgs,
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
        /// Start at this journal sequence (default: where the last delta published on the
        /// snapshot ended, or the snapshot's own sequence).
        #[arg(long)]
        since: Option<u64>,
        /// The subscriber whose feed this is: the base must be that subscriber's snapshot.
        #[arg(long, value_name = "ID")]
        subscriber: Option<String>,
        #[command(flatten)]
        sign: SignArgs,
        /// Output file.
        #[arg(short = 'o', long)]
        output: PathBuf,
    },
    /// Write a signed timestamp for a published snapshot: now, and the newest sequence
    /// published on it (verifiers stay fresh between deltas and refuse deltas past it).
    Timestamp {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// The snapshot.
        #[arg(long)]
        base: PathBuf,
        /// The publishing key's private key file.
        #[arg(long = "sign-key", value_name = "FILE")]
        key: PathBuf,
        /// Its certificate from the root.
        #[arg(long = "sign-cert", value_name = "FILE")]
        cert: Option<PathBuf>,
        /// Output file (`.idct`).
        #[arg(short = 'o', long)]
        output: PathBuf,
    },
    /// List the published snapshots and their delta chains.
    List {
        #[command(flatten)]
        data: Data,
    },
}
