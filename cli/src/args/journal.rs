//! `idcard journal`: show, verify, statistics, checkpoint.

use clap::Subcommand;

use super::Data;

#[derive(Subcommand)]
pub enum JournalCommand {
    /// Print records (an audited read: it holds personal data). `--officer ID` gives one
    /// officer's whole trail: their commands, reads and refusals, and the attempts made in their
    /// name that failed authentication.
    Show {
        #[command(flatten)]
        data: Data,
        /// The reading officer (S2: the read is recorded).
        #[arg(long = "as", value_name = "OFFICER")]
        reader: String,
        /// Their station.
        #[arg(long = "at", value_name = "STATION")]
        reader_station: String,
        /// Their private key file.
        #[arg(long = "key", value_name = "FILE", env = "IDCARD_OFFICER_KEY")]
        key: Option<std::path::PathBuf>,
        /// Why.
        #[arg(long)]
        purpose: String,
        /// Only the records of this officer's trail.
        #[arg(long, value_name = "ID")]
        officer: Option<String>,
        /// From this sequence number.
        #[arg(long, default_value_t = 1)]
        from: u64,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Check the journal without opening it for writing: every frame, the hash chain from the
    /// first record, the checkpoints (chain and state), every signed head. Names the first
    /// record or file that does not fit (exit 1).
    Verify {
        #[command(flatten)]
        data: Data,
        /// Check the heads against the platform's trust file (default: the record's own head
        /// key, `DIR/secrets/journal-head.pub`).
        #[arg(long, value_name = "FILE")]
        trust: Option<std::path::PathBuf>,
        /// Also check these signed heads (published earlier, held outside the platform).
        #[arg(long, value_name = "FILE")]
        head: Vec<std::path::PathBuf>,
    },
    /// Sign the journal's head now: `DIR/heads/{seq}.idch`, and a copy to -o for publishing.
    Head {
        #[command(flatten)]
        data: Data,
        /// Where to write a copy.
        #[arg(short = 'o', long, value_name = "FILE")]
        output: Option<std::path::PathBuf>,
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
