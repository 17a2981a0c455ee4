//! `idcard found`: lost-and-found (F1, F2).

use clap::Subcommand;

use super::{CardArg, Data, Present, Reader, Who};

#[derive(Subcommand)]
pub enum FoundCommand {
    /// Take in a found card at a lost-and-found window (F1, F2).
    Intake {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        #[command(flatten)]
        card: CardArg,
        /// The finder, if they left a name.
        #[arg(long)]
        finder: Option<String>,
    },
    /// Return a held card to its owner: identity verified, photographed (F2).
    Return {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        #[command(flatten)]
        card: CardArg,
        #[command(flatten)]
        present: Present,
        /// Reference of the photograph taken of the claimant.
        #[arg(long)]
        photo: String,
    },
    /// A citizen's query at the counter: were my cards found, where can I collect them, since
    /// when (F1)? Answers the window and the day only (never the finder or the contact used);
    /// the officer's read is recorded (S2). Exit status 1 when no card of the number was found.
    Query {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        reader: Reader,
        /// The citizen's number.
        #[arg(long)]
        number: String,
    },
    /// The found-card database (optionally of one window).
    List {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        reader: Reader,
        /// Only this window.
        #[arg(long)]
        window: Option<String>,
    },
}
