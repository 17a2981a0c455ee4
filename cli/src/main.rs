//! `idcard`: the command line of the identity card three systems.
//!
//! A thin adapter: every rule lives in the `idcard` crate.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod dataset;
mod demo;
mod id;
mod offsite;
mod progress;
mod record;
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
    /// The main job: a synthetic nation end to end — population, counter work through the real
    /// workflows, publishing to a bank verifier checking cards on every core, and a report.
    Demo(demo::DemoArgs),
    /// Synthetic datasets: CARDS.csv, BLACKLIST.csv, PEOPLE.csv, ISSUED.csv, QUERIES.csv.
    Gen(dataset::GenArgs),
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
    /// The person blacklist (A6): keep it, check against a snapshot.
    #[command(subcommand)]
    Blacklist(record::RecordBlacklistCommand),
    /// Create a data directory with its first county bureau and officer.
    Init(record::InitArgs),
    /// Stations and units (S1, A2).
    #[command(subcommand)]
    Station(record::StationCommand),
    /// Officers (S1).
    #[command(subcommand)]
    Officer(record::OfficerCommand),
    /// The embedded population directory.
    #[command(subcommand)]
    Population(record::PopulationCommand),
    /// The card register (N4-N6).
    #[command(subcommand)]
    Card(record::CardCommand),
    /// Loss reporting (L1, L2, A10).
    #[command(subcommand)]
    Loss(record::LossCommand),
    /// Hit reports: a card used by someone else (L4).
    #[command(subcommand)]
    Hit(record::HitCommand),
    /// Lost-and-found (F1, F2).
    #[command(subcommand)]
    Found(record::FoundCommand),
    /// Publish snapshots and deltas from the record.
    #[command(subcommand)]
    Publish(record::PublishCommand),
    /// The journal: show, verify, statistics, checkpoint.
    #[command(subcommand)]
    Journal(record::JournalCommand),
    /// Off-site acceptance of renewals and replacements (A1-A12).
    #[command(subcommand)]
    Offsite(offsite::OffsiteCommand),
    /// Temporary identity certificates (A8) and temporary resident cards (T1-T5).
    #[command(subcommand)]
    Temporary(offsite::TemporaryCommand),
    /// The rollout policy and fee schedule in force (A7, A12).
    #[command(subcommand)]
    Policy(offsite::PolicyCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(args) => demo::run(args, cli.quiet),
        Command::Gen(args) => dataset::run(args, cli.quiet),
        Command::Id(cmd) => id::run(cmd),
        Command::Snapshot(cmd) => snapshot::run_snapshot(cmd, cli.quiet),
        Command::Verify(args) => snapshot::verify(args),
        Command::Blacklist(cmd) => record::blacklist(cmd, cli.quiet),
        Command::Init(a) => record::init(a),
        Command::Station(c) => record::station(c),
        Command::Officer(c) => record::officer(c),
        Command::Population(c) => record::population(c, cli.quiet),
        Command::Card(c) => record::card(c),
        Command::Loss(c) => record::loss(c),
        Command::Hit(c) => record::hit(c),
        Command::Found(c) => record::found(c),
        Command::Publish(c) => record::publish(c),
        Command::Journal(c) => record::journal(c),
        Command::Offsite(c) => offsite::offsite(c),
        Command::Temporary(c) => offsite::temporary(c),
        Command::Policy(c) => offsite::policy(c),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("idcard: error: {}", message(&e));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes, `: `-separated, leaving out a cause the message before it already
/// quotes (the library's errors name their I/O cause in their own message).
fn message(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::message;

    #[test]
    fn an_error_message_names_each_cause_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file");
        let e = idcard::division::TableError::Io {
            path: "/x.csv".into(),
            source: io,
        };
        let e = anyhow::Error::from(e).context("loading divisions");
        assert_eq!(
            message(&e),
            "loading divisions: cannot read division table /x.csv: No such file"
        );
    }
}
