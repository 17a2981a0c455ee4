//! `idcard subscriber`: the units that receive files of their own (banks, airlines; S2).

use clap::Subcommand;
use idcard::index::Profile;

use super::{Data, Who};

#[derive(Subcommand)]
pub enum SubscriberCommand {
    /// Register a subscriber (a county bureau officer): its snapshots get a hash seed of their
    /// own, so a leaked file names it.
    Add {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// Identifier (e.g. BANK-ICBC-0001).
        #[arg(long)]
        id: String,
        /// Name.
        #[arg(long)]
        name: String,
        /// The profile of its files: bank (statuses only) or police.
        #[arg(long, default_value = "bank")]
        profile: Profile,
    },
    /// List the subscribers.
    List {
        #[command(flatten)]
        data: Data,
    },
}
