//! `idcard policy`: the rollout and fees in force (A7, A12).

use std::path::PathBuf;

use clap::Subcommand;

use super::{Data, Who};

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Print the policy in force (rollout, fees, processing days) as JSON.
    Show {
        #[command(flatten)]
        data: Data,
    },
    /// Put a policy in force from a JSON file (the format `policy show` prints).
    Set {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// The policy file.
        #[arg(long)]
        file: PathBuf,
    },
}
