//! `idcard`: the command line of the identity card three systems.
//!
//! A thin adapter: every rule lives in the `idcard` crate.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod id;
mod progress;
mod snapshot;

/// Resident identity card three systems: identity numbers, loss reports, verification.
#[derive(Parser)]
#[command(name = "idcard", version, about, long_about = None)]
struct Cli {
    /// No progress bars.
    #[arg(long, short = 'q', global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Identity numbers: validate, normalise, decode (N1-N3).
    #[command(subcommand)]
    Id(id::IdCommand),
    /// Verification snapshots: build, inspect (L3).
    #[command(subcommand)]
    Snapshot(snapshot::SnapshotCommand),
    /// Verify cards against a snapshot: is this card reported lost? (L3)
    ///
    /// Exit status: 0 when every card is valid, 1 when any is not, 2 on errors.
    Verify(snapshot::VerifyArgs),
    /// The person blacklist (A6).
    #[command(subcommand)]
    Blacklist(snapshot::BlacklistCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Id(cmd) => id::run(cmd),
        Command::Snapshot(cmd) => snapshot::run_snapshot(cmd, cli.quiet),
        Command::Verify(args) => snapshot::verify(args),
        Command::Blacklist(cmd) => snapshot::run_blacklist(cmd),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("idcard: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
