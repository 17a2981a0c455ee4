//! `idcard id`: identity numbers (N1-N3).

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Args, Subcommand};

#[derive(Subcommand)]
pub enum IdCommand {
    /// Check identity numbers (from arguments, or one per line on stdin).
    ///
    /// Exit status: 0 when every number is valid, 1 when any is invalid, 2 on usage errors.
    Check(CheckArgs),
}

#[derive(Args)]
pub struct CheckArgs {
    /// Numbers to check; when none are given, one per line is read from stdin.
    pub numbers: Vec<String>,
    /// Strict mode: the division code must have been in force in the birth year (N3).
    #[arg(long)]
    pub strict: bool,
    /// Print one JSON object per input line.
    #[arg(long)]
    pub json: bool,
    /// A newer division table (CSV: code,name,start_year,end_year), laid over the built-in one.
    #[arg(long, value_name = "FILE")]
    pub divisions: Option<PathBuf>,
    /// Take this date (YYYY-MM-DD) as today for the future-birth-date check.
    #[arg(long, value_name = "DATE")]
    pub today: Option<NaiveDate>,
}
