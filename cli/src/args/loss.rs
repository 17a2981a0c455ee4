//! `idcard loss`, `idcard hit`: loss reports (L1, L2, A10) and hit reports (L4).

use clap::Subcommand;

use super::{CardArg, Data, Present, Reader, Who};

#[derive(Subcommand)]
pub enum LossCommand {
    /// Report a card lost or stolen: the holder in person (L1, L2, A10).
    Report {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        #[command(flatten)]
        card: CardArg,
        #[command(flatten)]
        present: Present,
        /// Stolen rather than lost.
        #[arg(long)]
        stolen: bool,
    },
    /// Withdraw a loss report (the card was recovered).
    Cancel {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        #[command(flatten)]
        card: CardArg,
        #[command(flatten)]
        present: Present,
    },
    /// List the cards reported lost or stolen (optionally at one station).
    List {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        reader: Reader,
        /// Only reports taken at this station.
        #[arg(long, value_name = "STATION")]
        at: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum HitCommand {
    /// Report a card used by someone else (L4).
    Report {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        #[command(flatten)]
        card: CardArg,
        /// What happened.
        #[arg(long)]
        note: String,
    },
    /// Acknowledge a hit at the station it was routed to.
    Ack {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// The hit's identifier.
        #[arg(long)]
        id: u64,
        /// Follow-up notes.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// List hit reports.
    List {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        reader: Reader,
        /// Only those routed to this station.
        #[arg(long, value_name = "STATION")]
        routed_to: Option<String>,
        /// Only unacknowledged ones.
        #[arg(long)]
        open: bool,
    },
}
