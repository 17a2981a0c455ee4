//! `idcard journal`: show, verify, statistics, checkpoint.

use clap::Subcommand;

use super::Data;

#[derive(Subcommand)]
pub enum JournalCommand {
    /// Print records.
    Show {
        #[command(flatten)]
        data: Data,
        /// From this sequence number.
        #[arg(long, default_value_t = 1)]
        from: u64,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Read and check every record of every segment.
    Verify {
        #[command(flatten)]
        data: Data,
    },
    /// Counts of events and refusals.
    Stats {
        #[command(flatten)]
        data: Data,
    },
    /// Write a checkpoint now.
    Checkpoint {
        #[command(flatten)]
        data: Data,
    },
}
