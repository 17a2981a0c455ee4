//! `idcard`: the command line of the identity card three systems.
//!
//! A thin adapter: every rule lives in the `idcard` crate. Argument types are in [`args`], the
//! handlers in [`cmd`], the open → run → print → close machinery in [`output`]; the main job
//! (`idcard demo`, `idcard gen`) is the `idcard-demo` crate.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod args;
mod cmd;
mod output;

use idcard_demo::progress;

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
    Demo(idcard_demo::DemoArgs),
    /// Synthetic datasets: CARDS.csv, BLACKLIST.csv, PEOPLE.csv, ISSUED.csv, QUERIES.csv.
    Gen(idcard_demo::dataset::GenArgs),
    /// Identity numbers: validate, normalise, decode (N1-N3).
    #[command(subcommand)]
    Id(args::id::IdCommand),
    /// Verification snapshots: build, inspect (L3).
    #[command(subcommand)]
    Snapshot(args::snapshot::SnapshotCommand),
    /// Verify cards against a snapshot: is this card reported lost? (L3)
    ///
    /// Exit status: 0 when every card is valid, 1 when any is not, 2 on errors.
    Verify(args::snapshot::VerifyArgs),
    /// The person blacklist (A6): keep it, check against a snapshot.
    #[command(subcommand)]
    Blacklist(args::blacklist::RecordBlacklistCommand),
    /// Create a data directory with its first county bureau and officer.
    Init(args::record::InitArgs),
    /// Stations and units (S1, A2).
    #[command(subcommand)]
    Station(args::record::StationCommand),
    /// Officers (S1).
    #[command(subcommand)]
    Officer(args::record::OfficerCommand),
    /// The embedded population directory.
    #[command(subcommand)]
    Population(args::record::PopulationCommand),
    /// The card register (N4-N6).
    #[command(subcommand)]
    Card(args::record::CardCommand),
    /// Loss reporting (L1, L2, A10).
    #[command(subcommand)]
    Loss(args::loss::LossCommand),
    /// Hit reports: a card used by someone else (L4).
    #[command(subcommand)]
    Hit(args::loss::HitCommand),
    /// Lost-and-found (F1, F2).
    #[command(subcommand)]
    Found(args::found::FoundCommand),
    /// Publish signed snapshots, deltas and timestamps from the record; whose copy a file is.
    #[command(subcommand)]
    Publish(args::publish::PublishCommand),
    /// Subscribers: the banks and airlines that get files of their own (S2).
    #[command(subcommand)]
    Subscriber(args::subscriber::SubscriberCommand),
    /// The platform's keys: generate, certify, trust files (what verifiers pin).
    #[command(subcommand)]
    Key(args::key::KeyCommand),
    /// The journal: show, verify, statistics, checkpoint.
    #[command(subcommand)]
    Journal(args::journal::JournalCommand),
    /// Applications for a card at home or off-site: first application, renewal, replacement
    /// (A1-A12; `offsite` is the same command).
    #[command(subcommand, visible_alias = "offsite")]
    Application(args::offsite::OffsiteCommand),
    /// Temporary identity certificates (A8) and temporary resident cards (T1-T5).
    #[command(subcommand)]
    Temporary(args::temporary::TemporaryCommand),
    /// The rollout policy and fee schedule in force (A7, A12).
    #[command(subcommand)]
    Policy(args::policy::PolicyCommand),
    /// Run the national platform: signed commands over HTTP, online verification, citizens'
    /// queries, and the signed delta feed (until SIGINT or SIGTERM).
    Serve(args::serve::ServeArgs),
    /// Keep a verifier's folder current from the platform's feed.
    Subscribe(args::serve::SubscribeArgs),
    /// Sign a command here and send it to the platform (exit 1 when refused).
    Send(args::serve::SendArgs),
    /// Open a session at the platform and print its bearer token (for online verification).
    Session(args::serve::SessionArgs),
    /// Load the platform on loopback: station clients, subscribers, units verifying online.
    Load(args::serve::LoadArgs),
}

fn main() -> ExitCode {
    restore_sigpipe();
    limit_malloc_arenas();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(args) => idcard_demo::run(args, cli.quiet),
        Command::Gen(args) => idcard_demo::dataset::run(args, cli.quiet),
        Command::Id(c) => cmd::id::run(c),
        Command::Snapshot(c) => cmd::snapshot::run_snapshot(c, cli.quiet),
        Command::Verify(a) => cmd::snapshot::verify(a),
        Command::Blacklist(c) => cmd::blacklist::blacklist(c, cli.quiet),
        Command::Init(a) => cmd::record::init(a),
        Command::Station(c) => cmd::record::station(c),
        Command::Officer(c) => cmd::record::officer(c),
        Command::Population(c) => cmd::record::population(c, cli.quiet),
        Command::Card(c) => cmd::record::card(c),
        Command::Loss(c) => cmd::loss::loss(c),
        Command::Hit(c) => cmd::loss::hit(c),
        Command::Found(c) => cmd::found::found(c),
        Command::Publish(c) => cmd::publish::publish(c),
        Command::Subscriber(c) => cmd::subscriber::subscriber(c),
        Command::Key(c) => cmd::key::key(c),
        Command::Journal(c) => cmd::journal::journal(c),
        Command::Application(c) => cmd::offsite::offsite(c),
        Command::Temporary(c) => cmd::temporary::temporary(c),
        Command::Policy(c) => cmd::policy::policy(c),
        Command::Serve(a) => cmd::serve::serve(a),
        Command::Subscribe(a) => cmd::serve::subscribe(a),
        Command::Send(a) => cmd::serve::send(a),
        Command::Session(a) => cmd::serve::session(a),
        Command::Load(a) => cmd::serve::load(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("idcard: error: {}", message(&e));
            ExitCode::from(2)
        }
    }
}

/// Let a closed pipe end the process quietly, as it does for other command-line tools
/// (`idcard loss list | head`), instead of a panic in `println!` (Rust ignores SIGPIPE by
/// default).
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to the default before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// One glibc malloc arena per core instead of eight (glibc's default on 64-bit), unless
/// `MALLOC_ARENA_MAX` says otherwise. Memory freed by one thread's arena is not reused by
/// another's: with the engine's, the server's and the bank counters' threads, `idcard demo
/// --people 10000000` peaked at 1.90 GiB with the default and 1.46 GiB with two arenas (issue 19,
/// on 2 cores). The counters' hot loop does not allocate, so the fewer arenas cost it nothing.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        // SAFETY: a malloc tuning call with a valid parameter, before any other thread exists.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, cores.clamp(1, 64) as libc::c_int);
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
