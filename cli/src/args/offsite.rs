//! `idcard offsite`: applications for renewal and replacement (A1-A12).

use chrono::NaiveDate;
use clap::{Args, Subcommand};
use idcard::workflow::offsite::{Appearance, ApplicationKind};

use super::{CardArg, Data, Present, Reader, Who};

#[derive(Subcommand)]
pub enum OffsiteCommand {
    /// Accept an application for renewal or replacement at an acceptance point (A1-A7, A9-A12).
    Apply(ApplyArgs),
    /// Review and sign off (or reject) at the hukou-place county bureau (A4, A11).
    Review {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// The application.
        #[arg(long)]
        id: u64,
        /// Reject instead of signing off.
        #[arg(long)]
        reject: bool,
        /// Notes (the reason of a rejection).
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Produce and check the new card at the accepting point (A4).
    Produce {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// The application.
        #[arg(long)]
        id: u64,
    },
    /// Hand the new card to the applicant against the pickup receipt (A4, T5).
    Issue {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// The application.
        #[arg(long)]
        id: u64,
        /// The pickup receipt code.
        #[arg(long)]
        receipt: String,
        /// The person collecting (default: the applicant).
        #[arg(long)]
        present: Option<String>,
        /// The old card was handed back (renewal).
        #[arg(long)]
        old_card_returned: bool,
        /// A temporary card still out was handed back (T5).
        #[arg(long)]
        temporary_card_returned: bool,
    },
    /// Extend the deadline for a remote area (A4: at most 30 days in all).
    Extend {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// The application.
        #[arg(long)]
        id: u64,
        /// Days to add.
        #[arg(long)]
        days: u32,
        /// Why.
        #[arg(long)]
        reason: String,
    },
    /// Applications past their deadline (A4), of a point or a reviewing bureau.
    Overdue {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        reader: Reader,
        /// As of this date (default: today in China).
        #[arg(long)]
        date: Option<NaiveDate>,
        /// Only those of this acceptance point or reviewing bureau.
        #[arg(long, value_name = "STATION")]
        at: Option<String>,
    },
    /// List applications.
    List {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        reader: Reader,
    },
}

#[derive(Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub data: Data,
    #[command(flatten)]
    pub who: Who,
    /// renewal, damaged_renewal or replacement.
    #[arg(long)]
    pub kind: ApplicationKind,
    #[command(flatten)]
    pub card: CardArg,
    #[command(flatten)]
    pub present: Present,
    /// The officer's comparison with the population system's photograph.
    #[arg(long, default_value = "matches")]
    pub appearance: Appearance,
    /// The registration form was filled in.
    #[arg(long)]
    pub form: bool,
    /// The current card was handed in (renewal).
    #[arg(long)]
    pub current_card: bool,
    /// The household register booklet was shown (replacement).
    #[arg(long)]
    pub household_booklet: bool,
    /// A residence permit was shown (replacement).
    #[arg(long)]
    pub residence_permit: bool,
    /// Register fingerprints on the new card.
    #[arg(long)]
    pub new_fingerprints: bool,
}
