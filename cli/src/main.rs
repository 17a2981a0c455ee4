//! `idcard`: the command line of the identity card three systems.
//!
//! A thin adapter: every rule lives in the `idcard` crate.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod id;

/// Resident identity card three systems: identity numbers, loss reports, verification.
#[derive(Parser)]
#[command(name = "idcard", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Identity numbers: validate, normalise, decode (N1-N3).
    #[command(subcommand)]
    Id(id::IdCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Id(cmd) => id::run(cmd),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("idcard: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
