//! `idcard key`: the platform's keys, certificates and trust file (docs/FORMAT.md §11).

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::Subcommand;
use idcard::trust::Roles;

#[derive(Subcommand)]
pub enum KeyCommand {
    /// Generate a key pair: FILE (the private key, mode 0600, never overwritten) and FILE with
    /// the extension .pub (the public key).
    Generate {
        /// A name for people (the platform's root, publisher 2026 …).
        #[arg(long)]
        name: String,
        /// The private key file to write (e.g. root.key; the public key goes to root.pub).
        #[arg(short = 'o', long, value_name = "FILE")]
        output: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Certify a publishing key with the root key: what it may sign, from when until when.
    Certify {
        /// The root's private key file.
        #[arg(long, value_name = "FILE")]
        root: PathBuf,
        /// The public key file of the key to certify.
        #[arg(long, value_name = "FILE.pub")]
        key: PathBuf,
        /// What it may sign: publish (snapshots, deltas, timestamps), journal_head, or both
        /// (publish,journal_head).
        #[arg(long, default_value = "publish")]
        roles: Roles,
        /// Start of the validity window (RFC 3339; default now).
        #[arg(long, value_name = "TIME")]
        valid_from: Option<DateTime<Utc>>,
        /// End of the validity window (RFC 3339; default --days after the start).
        #[arg(long, value_name = "TIME", conflicts_with = "days")]
        valid_until: Option<DateTime<Utc>>,
        /// Length of the validity window in days.
        #[arg(long, default_value_t = 365)]
        days: u32,
        /// The certificate file to write (by convention `*.idck`, e.g. publisher.idck).
        #[arg(short = 'o', long, value_name = "FILE")]
        output: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write a trust file: the root public keys verifiers pin (the file banks are given).
    Trust {
        /// Root public key files.
        #[arg(required = true, value_name = "ROOT.pub")]
        keys: Vec<PathBuf>,
        /// The trust file to write.
        #[arg(short = 'o', long, value_name = "FILE")]
        output: PathBuf,
    },
    /// Show a key, certificate or trust file (never a private key's secret).
    Show {
        /// The file.
        file: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}
