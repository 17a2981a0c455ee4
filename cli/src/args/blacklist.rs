//! `idcard blacklist`: the blacklist (A6), kept in the record and checked in a police snapshot.

use std::path::PathBuf;

use clap::Subcommand;
use idcard::index::{BlacklistReasons, BlacklistSource};

use super::{Data, Reader, Who};

#[derive(Subcommand)]
pub enum RecordBlacklistCommand {
    /// Check people against a police snapshot's blacklist (A6).
    Check(super::snapshot::BlacklistCheckArgs),
    /// Blacklist a person (A6).
    Add {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// The person.
        #[arg(long)]
        number: String,
        /// Reasons joined by `|`, e.g. forged|identity_card.
        #[arg(long)]
        reason: BlacklistReasons,
        /// public_security (default) or credit_platform.
        #[arg(long)]
        source: Option<BlacklistSource>,
    },
    /// Remove a person from the blacklist, with the reason.
    Remove {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// The person.
        #[arg(long)]
        number: String,
        /// Why (recorded).
        #[arg(long)]
        reason: String,
    },
    /// Import a push of the national credit platform (CSV number,reason[,listed_on]).
    Import {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// The push file.
        #[arg(long)]
        file: PathBuf,
    },
    /// List the blacklist.
    List {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        reader: Reader,
    },
}
