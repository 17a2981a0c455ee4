//! `idcard temporary`: temporary identity certificates (A8) and temporary resident cards
//! (T1-T5).

use chrono::NaiveDate;
use clap::Subcommand;
use idcard::workflow::temporary::MissingCard;

use super::{Data, Reader, Who};

#[derive(Subcommand)]
pub enum TemporaryCommand {
    /// Issue a temporary identity certificate for one flight, train or stay (A8).
    Certificate {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// The traveller.
        #[arg(long)]
        number: String,
        /// lost, stolen or forgotten.
        #[arg(long)]
        missing: MissingCard,
        /// A flight, e.g. "CA1831 2026-01-15".
        #[arg(long, group = "trip")]
        flight: Option<String>,
        /// A train.
        #[arg(long, group = "trip")]
        train: Option<String>,
        /// A hotel stay.
        #[arg(long, group = "trip")]
        hotel: Option<String>,
        /// The trip's date, YYYY-MM-DD (default: today in China; at most 15 days ahead).
        #[arg(long, value_name = "DATE")]
        date: Option<NaiveDate>,
        /// The person at the counter: must be the traveller (A8).
        #[arg(long, value_name = "NUMBER")]
        present: String,
        /// A serviceman's unit letter was shown (L5).
        #[arg(long)]
        unit_letter: bool,
    },
    /// Check a certificate presented for a trip (no record written).
    Check {
        #[command(flatten)]
        data: Data,
        /// Certificate id.
        #[arg(long)]
        id: u64,
        /// The traveller's number.
        #[arg(long)]
        number: String,
        /// The trip reference.
        #[arg(long)]
        trip: String,
    },
    /// Use a certificate for its trip (boarding, check-in): it is used up.
    Use {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// Certificate id.
        #[arg(long)]
        id: u64,
        /// The traveller's number.
        #[arg(long)]
        number: String,
        /// The trip reference.
        #[arg(long)]
        trip: String,
    },
    /// Apply for a temporary resident card (T1-T3).
    CardApply {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// The holder.
        #[arg(long)]
        number: String,
        /// The person present: the holder, or the guardian of an under-16.
        #[arg(long, value_name = "NUMBER")]
        present: String,
        /// The guardian applying for an under-16 (T2).
        #[arg(long)]
        guardian: Option<String>,
        /// The household register booklet was shown.
        #[arg(long)]
        household_booklet: bool,
        /// A recent one-inch bareheaded photo was given.
        #[arg(long)]
        photo: bool,
        /// The application form was filled in.
        #[arg(long)]
        form: bool,
    },
    /// Issue a temporary resident card at the county bureau (T3-T5).
    CardIssue {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// Temporary card id.
        #[arg(long)]
        id: u64,
    },
    /// Take back a temporary resident card (T5).
    CardReturn {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// Temporary card id.
        #[arg(long)]
        id: u64,
    },
    /// Temporary cards not issued within 3 days, and expired ones not handed back (T4, T5).
    Overdue {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        reader: Reader,
        /// As of this date (default: today in China).
        #[arg(long)]
        date: Option<NaiveDate>,
    },
}
