//! `idcard serve`, `idcard subscribe`, `idcard send`, `idcard session`, `idcard load`: the
//! platform as a service and its clients.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use super::{SignArgs, Who};

/// `idcard serve`.
#[derive(Args)]
pub struct ServeArgs {
    /// The data directory (`idcard init`).
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Where the population store is (default: the embedded one in DIR).
    #[command(flatten)]
    pub store: super::StoreArgs,
    /// Where to listen. Plain HTTP only on loopback; elsewhere give --tls-cert and --tls-key.
    #[arg(long, default_value = "127.0.0.1:8443")]
    pub listen: SocketAddr,
    /// PEM certificate chain (TLS through rustls).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// The platform's service officer (of the ministry): publishes, and is named in the audit
    /// records of citizens' queries.
    #[command(flatten)]
    pub service: Who,
    /// The publishing key that signs the feed.
    #[command(flatten)]
    pub sign: SignArgs,
    /// The feed directory (default: DIR/feed).
    #[arg(long, value_name = "DIR")]
    pub feed: Option<PathBuf>,
    /// How often to publish a delta when something changed, in milliseconds.
    #[arg(long, default_value_t = 100)]
    pub interval_ms: u64,
    /// Publish a new snapshot once a chain carries this many changes.
    #[arg(long, default_value_t = 1_000_000)]
    pub snapshot_after: u64,
    /// Also publish the feed to NATS JetStream at this URL (`nats://127.0.0.1:4222`): a stream
    /// per profile, snapshots in the object store.
    #[arg(long, value_name = "URL")]
    pub nats: Option<String>,
}

/// `idcard subscribe`.
#[derive(Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["from", "nats"])))]
pub struct SubscribeArgs {
    /// The platform's URL (`http://127.0.0.1:8443`): its own HTTP feed.
    #[arg(long = "from", value_name = "URL", requires = "officer")]
    pub from: Option<String>,
    /// NATS JetStream instead (`nats://127.0.0.1:4222`): NATS's own credentials apply.
    #[arg(long, value_name = "URL")]
    pub nats: Option<String>,
    /// The platform's trust file (`idcard key trust`): every file must be signed under it.
    #[arg(long, value_name = "FILE")]
    pub trust: PathBuf,
    /// The folder to keep current (snapshot.idcs and its deltas).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// bank or police (the police profile needs a police station's officer).
    #[arg(long, default_value = "bank")]
    pub profile: String,
    /// The unit's officer that signs in to the HTTP feed.
    #[arg(long, value_name = "ID")]
    pub officer: Option<String>,
    /// The officer's station.
    #[arg(long, value_name = "ID", requires = "officer")]
    pub station: Option<String>,
    /// The officer's private key file.
    #[arg(long = "key", value_name = "FILE", env = "IDCARD_OFFICER_KEY")]
    pub key: Option<PathBuf>,
    /// A PEM CA certificate to trust for https (besides the system's).
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Sync once and exit (0 when the folder is current).
    #[arg(long)]
    pub once: bool,
}

/// `idcard send`.
#[derive(Args)]
pub struct SendArgs {
    /// The platform's URL.
    #[arg(long, value_name = "URL")]
    pub server: String,
    /// The officer, their station and key: the command is signed here, checked there.
    #[command(flatten)]
    pub who: Who,
    /// A PEM CA certificate to trust for https.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// The command, snake_case: report_loss, cancel_loss, report_hit, intake_found_card …
    /// (docs/FORMAT.md §13).
    pub command: String,
    /// The request as JSON (docs/openapi.json; `-` reads it from stdin).
    pub request: String,
}

/// `idcard session`.
#[derive(Args)]
pub struct SessionArgs {
    /// The platform's URL.
    #[arg(long, value_name = "URL")]
    pub server: String,
    /// The unit's officer, their station and key.
    #[command(flatten)]
    pub who: Who,
    /// A PEM CA certificate to trust for https.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
}

/// `idcard load`.
#[derive(Args)]
pub struct LoadArgs {
    /// Station clients sending signed loss reports concurrently.
    #[arg(long, default_value_t = 64)]
    pub stations: usize,
    /// Units verifying online concurrently (after the command phase).
    #[arg(long, default_value_t = 2)]
    pub units: usize,
    /// Subscribers following the feed, each with its own folder and verifier.
    #[arg(long, default_value_t = 100)]
    pub subscribers: usize,
    /// Seconds of each phase.
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Cards per online verification request.
    #[arg(long, default_value_t = 1000)]
    pub batch: usize,
    /// People (and cards) in the record: the most loss reports a run can make.
    #[arg(long, default_value_t = 200_000)]
    pub people: usize,
    /// Subscribers follow NATS JetStream at this URL (the server publishes there too) instead
    /// of the HTTP feed. The run deletes the bank stream there first: never a platform's NATS.
    #[arg(long, value_name = "URL")]
    pub nats: Option<String>,
    /// Where the subscribers' folders go (each real subscriber has a disk of its own: a tmpfs
    /// such as /dev/shm keeps their writes off the journal's disk).
    #[arg(long, value_name = "DIR")]
    pub subscribers_dir: Option<PathBuf>,
    /// Compare online verification with Redis `SISMEMBER`, pipelined in the same batches over
    /// loopback: the path of `redis-server` (started on a free port, stopped after).
    #[arg(long, value_name = "PATH")]
    pub redis: Option<PathBuf>,
    /// Make the data directory here (default: a temporary one, removed after).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Run the platform on PostgreSQL (a libpq connection string): the run uses the schema
    /// `idcard_load`, dropped first — never a platform's schema.
    #[arg(long, value_name = "CONN")]
    pub postgres: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}
