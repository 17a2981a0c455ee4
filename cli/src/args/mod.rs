//! The command line's argument types (clap), one module per area; the handlers are in
//! [`crate::cmd`]. Only parsing and the conversion of text into the library's request types
//! live here.

pub mod blacklist;
pub mod found;
pub mod id;
pub mod journal;
pub mod key;
pub mod loss;
pub mod offsite;
pub mod policy;
pub mod publish;
pub mod record;
pub mod serve;
pub mod snapshot;
pub mod subscriber;
pub mod temporary;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use chrono::NaiveDate;
use clap::Args;
use idcard::IdNumber;
use idcard::engine::{CardRef, InPerson};
use idcard::station::Actor;

/// `--data DIR [--json]`: the record to work on.
#[derive(Args, Clone)]
pub struct Data {
    /// The data directory (journal, checkpoints).
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// The population store's page cache, in MiB: with the changes not yet written to it, the
    /// memory people and cards cost whatever their number (docs/FORMAT.md §9b).
    #[arg(
        long,
        value_name = "MIB",
        env = "IDCARD_STORE_CACHE_MB",
        default_value_t = 256
    )]
    pub store_cache_mb: usize,
    /// Where the population store is.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `[--postgres CONN [--postgres-schema NAME]]`: the population store in PostgreSQL instead of
/// the embedded one (the national deployment; docs/DEPLOYMENT.md).
#[derive(Args, Clone, Default)]
pub struct StoreArgs {
    /// Keep people, cards and every command's records in PostgreSQL: a libpq connection
    /// string (`host=/run/postgresql user=idcard dbname=idcard`) or a `postgres://` URL, over a
    /// Unix socket or loopback (no TLS yet).
    #[arg(long, value_name = "CONN", env = "IDCARD_POSTGRES")]
    pub postgres: Option<String>,
    /// The schema the record lives in.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "idcard",
        requires = "postgres"
    )]
    pub postgres_schema: String,
}

impl StoreArgs {
    /// The store provider for the engine (`None`: the embedded store).
    pub fn provider(&self) -> anyhow::Result<Option<Arc<dyn idcard::store::StoreProvider>>> {
        Ok(match &self.postgres {
            Some(conn) => Some(Arc::new(idcard_postgres::Postgres::new(
                conn,
                &self.postgres_schema,
            )?)),
            None => None,
        })
    }
}

/// `--officer ID --station ID --key FILE`: who runs the command, and their private key (S1:
/// every command is signed by the officer).
#[derive(Args, Clone)]
pub struct Who {
    /// The officer running the command (S2: every action is attributed).
    #[arg(long, value_name = "ID")]
    pub officer: String,
    /// The station the officer works at.
    #[arg(long, value_name = "ID")]
    pub station: String,
    /// The officer's private key file (`idcard key generate`); the command is signed with it.
    #[arg(long = "key", value_name = "FILE", env = "IDCARD_OFFICER_KEY")]
    pub officer_key: Option<PathBuf>,
}

impl Who {
    /// The actor, signing with the officer's key (without one the record refuses the command as
    /// unauthenticated, and records the attempt).
    pub fn actor(&self) -> anyhow::Result<Actor> {
        let actor = Actor::new(&self.officer, &self.station).map_err(anyhow::Error::msg)?;
        Ok(match &self.officer_key {
            Some(path) => actor.with_key(idcard::trust::SecretKey::read(path)?),
            None => actor,
        })
    }
}

/// `--officer ID --station ID --key FILE --purpose TEXT`: an officer reading personal data
/// (S2: the read is recorded with its subject and purpose).
#[derive(Args, Clone)]
pub struct Reader {
    #[command(flatten)]
    pub who: Who,
    /// Why the data is read (recorded with the read).
    #[arg(long)]
    pub purpose: String,
}

/// `--sign-key FILE [--sign-cert FILE]`: the key that signs a published file.
#[derive(Args, Clone)]
pub struct SignArgs {
    /// The publishing key's private key file (`idcard key generate`). Without it the file is
    /// unsigned, and verifiers refuse it unless told to accept unsigned files.
    #[arg(long = "sign-key", value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// The key's certificate from the root (`idcard key certify`); not needed when the key is
    /// a root itself.
    #[arg(long = "sign-cert", value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
}

impl SignArgs {
    /// The signer, when a key was given.
    pub fn signer(&self) -> anyhow::Result<Option<Arc<idcard::trust::Signer>>> {
        self.key
            .as_ref()
            .map(|k| {
                Ok(Arc::new(idcard::trust::Signer::read(
                    k,
                    self.cert.as_deref(),
                )?))
            })
            .transpose()
    }
}

/// A maximum age: seconds, or `never`.
#[derive(Clone, Copy, Debug)]
pub struct MaxAge(pub Option<std::time::Duration>);

impl std::str::FromStr for MaxAge {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "never" {
            return Ok(MaxAge(None));
        }
        match s.parse::<u64>() {
            Ok(n) if n > 0 => Ok(MaxAge(Some(std::time::Duration::from_secs(n)))),
            _ => Err(format!(
                "{s:?}: a maximum age is a positive number of seconds, or never"
            )),
        }
    }
}

/// `--trust FILE [--allow-unsigned] [--max-age S] [--state FILE]`: what a reader of published
/// files trusts (fail closed).
#[derive(Args, Clone)]
pub struct TrustArgs {
    /// The platform's trust file (its root public keys): the snapshot and every delta and
    /// timestamp must be signed by a key it holds or certifies.
    #[arg(long, value_name = "FILE")]
    pub trust: Option<PathBuf>,
    /// Read unsigned files, and signed ones without checking them when there is no --trust
    /// (a snapshot you built yourself, tests). A warning says so.
    #[arg(long)]
    pub allow_unsigned: bool,
    /// Unlisted cards answer `stale` once the newest signed time reached (snapshot, delta,
    /// timestamp) is older than this: seconds, or never.
    #[arg(long, value_name = "SECONDS|never", default_value = "86400")]
    pub max_age: MaxAge,
    /// A file keeping the newest snapshot and sequence reached across runs: an older snapshot
    /// is then refused (a replay).
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
}

impl TrustArgs {
    /// The verifier's options.
    pub fn options(&self) -> anyhow::Result<idcard::index::VerifierOptions> {
        let trust = self
            .trust
            .as_ref()
            .map(idcard::trust::TrustStore::read)
            .transpose()?;
        let mut o = idcard::index::VerifierOptions::default();
        o.open.signatures = idcard::index::SignaturePolicy {
            trust: trust.map(Arc::new),
            allow_unsigned: self.allow_unsigned,
        };
        o.max_age = self.max_age.0;
        o.state_file = self.state.clone();
        Ok(o)
    }
}

/// `--number N [--valid-from DATE]`: a card.
#[derive(Args, Clone)]
pub struct CardArg {
    /// The holder's identity number.
    #[arg(long)]
    pub number: String,
    /// The card's validity start (YYYY-MM-DD); default: the holder's newest card.
    #[arg(long, value_name = "DATE")]
    pub valid_from: Option<NaiveDate>,
}

impl CardArg {
    /// The card reference.
    pub fn card_ref(&self) -> anyhow::Result<CardRef> {
        Ok(CardRef {
            number: number(&self.number)?,
            valid_from: self.valid_from,
        })
    }
}

/// `--present NUMBER [--fingerprint SAMPLE]`: the person at the counter (always named: "in
/// person" is never met by leaving it out).
#[derive(Args, Clone)]
pub struct Present {
    /// The identity number of the person at the counter (the holder, or whoever the rule
    /// allows: a guardian, an officer of a serviceman's unit).
    #[arg(long, value_name = "NUMBER")]
    pub present: String,
    /// A fingerprint sample taken on the spot (required when the card has fingerprints, L2).
    #[arg(long, value_name = "SAMPLE")]
    pub fingerprint: Option<String>,
}

impl Present {
    /// The person present.
    pub fn person(&self) -> anyhow::Result<InPerson> {
        Ok(InPerson {
            number: number(&self.present)?,
            fingerprint: self.fingerprint.as_ref().map(|f| f.as_bytes().to_vec()),
        })
    }
}

/// An identity number argument.
pub fn number(s: &str) -> anyhow::Result<IdNumber> {
    IdNumber::parse(s).with_context(|| format!("identity number {s:?}"))
}

/// A station or officer identifier argument.
pub fn id<T: std::str::FromStr<Err = String>>(s: &str) -> anyhow::Result<T> {
    s.parse().map_err(anyhow::Error::msg)
}
