//! `idcard application` (alias `offsite`): first applications, renewals and replacements at home
//! and off-site (A1-A12).

use chrono::NaiveDate;
use clap::{Args, Subcommand};
use idcard::workflow::offsite::{Appearance, ApplicationKind};

use super::{CardArg, Data, Present, Reader, Who};

#[derive(Subcommand)]
pub enum OffsiteCommand {
    /// Accept an application: at a household registration station or hall of the applicant's
    /// hukou county (home: every kind) or at an acceptance point elsewhere (off-site: renewals
    /// and replacements, A1-A7, A9-A12).
    Apply(ApplyArgs),
    /// Review at the hukou-place county bureau: sign off (--approve) or reject (--reject, with
    /// the reason in --note) (A4, A11).
    #[command(group(clap::ArgGroup::new("decision").required(true).args(["approve", "reject"])))]
    Review {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// The application.
        #[arg(long)]
        id: u64,
        /// Sign off.
        #[arg(long)]
        approve: bool,
        /// Reject.
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
        /// The person collecting (the applicant, in person).
        #[arg(long, value_name = "NUMBER")]
        present: String,
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
    /// Escalate the overdue applications this county bureau reviews (A4): each once, recorded.
    Escalate {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
    },
    /// The escalated applications still open that a county bureau reviews (A4).
    Escalated {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        reader: Reader,
        /// The reviewing bureau (default: the reader's station).
        #[arg(long, value_name = "STATION")]
        bureau: Option<String>,
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
    /// first_application, renewal, damaged_renewal, particulars_changed or replacement.
    #[arg(long)]
    pub kind: ApplicationKind,
    #[command(flatten)]
    pub card: CardArg,
    #[command(flatten)]
    pub present: Present,
    /// For an under-16 at home: the guardian applying (on record as the applicant's guardian;
    /// the same person as --present).
    #[arg(long, value_name = "NUMBER")]
    pub guardian: Option<String>,
    /// The officer's comparison with the population system's photograph: matches,
    /// changed_greatly or does_not_match.
    #[arg(long)]
    pub appearance: Appearance,
    /// The registration form was filled in.
    #[arg(long)]
    pub form: bool,
    /// The current card was handed in (renewal).
    #[arg(long)]
    pub current_card: bool,
    /// The household register booklet was shown (at home always; off-site for a replacement,
    /// or a residence permit).
    #[arg(long)]
    pub household_booklet: bool,
    /// A residence permit was shown (replacement).
    #[arg(long)]
    pub residence_permit: bool,
    /// Register fingerprints on the new card.
    #[arg(long)]
    pub new_fingerprints: bool,
    /// A hardship certificate of the township or street office was shown (law art. 21: the
    /// fee of a first application or renewal is halved).
    #[arg(long)]
    pub hardship_certificate: bool,
    /// Filed by the unit of an active serviceman or armed policeman (L5; the unit's papers
    /// stand for the booklet).
    #[arg(long)]
    pub unit_application: bool,
}
