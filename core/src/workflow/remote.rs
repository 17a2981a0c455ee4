//! Commands sent from elsewhere: an officer's terminal signs a command, a server carries it as
//! JSON, the engine checks and runs it (S1: the signature is checked before anything else).
//!
//! [`SignedCommand`] is the wire form (docs/FORMAT.md §13): the command's name (its
//! [`CommandKind`] in snake_case), its request as JSON (the request type's serde form), and the
//! officer's signature ([`crate::engine::auth`]) in hex. The signature binds the request's
//! postcard encoding, so the receiver decodes the JSON into the request type, encodes it again and
//! checks the signature over that: a field added, dropped or changed in transit fails
//! `bad_signature`. [`sign`] is the terminal's side, [`execute`] the platform's; both go through
//! the one table of commands below, so a command reachable remotely is named in one place.
//!
//! ```
//! use idcard::engine::{Engine, EngineOptions};
//! use idcard::station::{Actor, CommandKind};
//! use idcard::workflow::remote;
//! # let dir = tempfile::tempdir()?;
//! let (engine, _) = Engine::open(dir.path(), EngineOptions::default())?;
//! // A request nobody signed is refused before anything else, and the attempt is recorded.
//! let unsigned = remote::SignedCommand {
//!     officer: "HR-1".into(),
//!     station: "HR".into(),
//!     command: CommandKind::ReportHit,
//!     request: serde_json::json!({"card": {"number": "11010519491231002X", "valid_from": "2005-06-01"}, "note": "x"}),
//!     auth: None,
//! };
//! let refused = remote::execute(&engine, &unsigned)?.unwrap_err();
//! assert_eq!(refused.refusal().unwrap().code, "no_signature");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::engine::{Command, Engine, EngineError, auth};
use crate::model::CommandAuth;
use crate::station::{Actor, CommandKind};

use super::{blacklist, found, loss, offsite, policy, publish, registry, temporary};

/// A command on the wire: who, what, and the officer's signature.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SignedCommand {
    /// The officer.
    pub officer: String,
    /// The officer's station.
    pub station: String,
    /// Which command (snake_case, e.g. `report_loss`).
    pub command: CommandKind,
    /// The request, as the request type's JSON (e.g. [`loss::LossRequest`]).
    pub request: Value,
    /// The officer's signature; a command without one is refused (`no_signature`).
    #[serde(default)]
    pub auth: Option<WireAuth>,
}

/// The officer's signature in hex ([`CommandAuth`] without the payload hash, which the receiver
/// computes from the request it decoded).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireAuth {
    /// The key's id: 8 bytes, 16 hex digits.
    pub key_id: String,
    /// When the officer signed, Unix milliseconds.
    pub at_ms: i64,
    /// 16 bytes, 32 hex digits; never reused.
    pub nonce: String,
    /// The Ed25519 signature, 64 bytes in hex.
    pub signature: String,
}

/// Why a command could not even be read: what and where.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// The command cannot be sent from elsewhere (the platform's own work, or a read).
    #[error("`{0:?}` is not a command that can be sent: see docs/FORMAT.md §13 for the list")]
    NotRemote(CommandKind),
    /// The request does not decode into the command's request type.
    #[error("the request of `{command:?}` does not decode: {message}")]
    BadRequest {
        /// The command.
        command: CommandKind,
        /// serde's message (field and position).
        message: String,
    },
    /// A field of the signature is not valid hex of the right length.
    #[error("the signature's `{field}` is not {bytes} bytes of hex")]
    BadAuth {
        /// `key_id`, `nonce` or `signature`.
        field: &'static str,
        /// The length it must have.
        bytes: usize,
    },
    /// The actor's ids are malformed.
    #[error("bad officer or station id: {0}")]
    BadActor(String),
    /// The actor has no signer ([`sign`]).
    #[error("the actor has no key to sign with")]
    NoSigner,
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

fn unhex<const N: usize>(s: &str, field: &'static str) -> Result<[u8; N], RemoteError> {
    let bad = || RemoteError::BadAuth { field, bytes: N };
    if s.len() != 2 * N || !s.is_ascii() {
        return Err(bad());
    }
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}

impl WireAuth {
    fn from_auth(a: &CommandAuth) -> WireAuth {
        WireAuth {
            key_id: hex(&a.key_id),
            at_ms: a.at_ms,
            nonce: hex(&a.nonce),
            signature: hex(&a.signature),
        }
    }

    fn to_auth(&self, payload: [u8; 32]) -> Result<CommandAuth, RemoteError> {
        Ok(CommandAuth {
            key_id: unhex::<8>(&self.key_id, "key_id")?,
            at_ms: self.at_ms,
            nonce: unhex::<16>(&self.nonce, "nonce")?,
            payload,
            signature: unhex::<64>(&self.signature, "signature")?.to_vec(),
        })
    }
}

impl SignedCommand {
    /// The actor it names (without a signer: the signature travels in [`SignedCommand::auth`]).
    pub fn actor(&self) -> Result<Actor, RemoteError> {
        Actor::new(&self.officer, &self.station).map_err(|e| RemoteError::BadActor(e.to_string()))
    }
}

/// Sign a value for `actor` as the officer's terminal does: `payload` is what is hashed (a
/// request, or for online verification the batch itself).
pub fn sign_payload(
    actor: &Actor,
    command: CommandKind,
    payload: [u8; 32],
    at_ms: i64,
) -> Result<WireAuth, RemoteError> {
    auth::sign(actor, command, payload, at_ms)
        .map(|a| WireAuth::from_auth(&a))
        .ok_or(RemoteError::NoSigner)
}

/// Check a signed payload that is not a command (online verification, certificate checks):
/// [`Engine::authenticate`] with the signature decoded.
pub fn authenticate(
    engine: &Engine,
    officer: &str,
    station: &str,
    command: CommandKind,
    payload: [u8; 32],
    auth: Option<&WireAuth>,
) -> Result<Result<(), EngineError>, RemoteError> {
    let actor = Actor::new(officer, station).map_err(|e| RemoteError::BadActor(e.to_string()))?;
    let auth = auth.map(|a| a.to_auth(payload)).transpose()?;
    Ok(engine.authenticate(&actor, command, payload, auth))
}

/// What running a remote command gave: the command's output as JSON, or the engine's error
/// (a refusal carries its code).
pub type Outcome = Result<Value, EngineError>;

fn run<C>(engine: &Engine, sc: &SignedCommand) -> Result<Outcome, RemoteError>
where
    C: Command + serde::de::DeserializeOwned,
    C::Output: Serialize,
{
    let request: C = decode(sc)?;
    let actor = sc.actor()?;
    let payload = auth::payload_hash(&request);
    let auth = sc.auth.as_ref().map(|a| a.to_auth(payload)).transpose()?;
    Ok(engine
        .execute_signed(&actor, &request, auth)
        .map(|out| serde_json::to_value(out).unwrap_or(Value::Null)))
}

fn decode<C: serde::de::DeserializeOwned>(sc: &SignedCommand) -> Result<C, RemoteError> {
    C::deserialize(&sc.request).map_err(|e| RemoteError::BadRequest {
        command: sc.command,
        message: e.to_string(),
    })
}

fn hash_of<C: serde::de::DeserializeOwned + Serialize>(
    sc: &SignedCommand,
) -> Result<[u8; 32], RemoteError> {
    let request: C = decode(sc)?;
    Ok(auth::payload_hash(&request))
}

/// The commands that can be sent from elsewhere, each with its request type: the one table.
macro_rules! remote_commands {
    ($( $kind:ident => $ty:ty ),* $(,)?) => {
        /// The commands [`execute`] accepts, in the order of [`CommandKind::ALL`].
        pub const COMMANDS: &[CommandKind] = &[$(CommandKind::$kind),*];

        /// Run a command sent from elsewhere: decode its request, check the signature over it,
        /// then authorise, decide and record it as [`Engine::execute_signed`] does. The outer
        /// error is a request that could not be read (nothing is recorded); the inner one is the
        /// engine's (a refusal is recorded).
        pub fn execute(engine: &Engine, sc: &SignedCommand) -> Result<Outcome, RemoteError> {
            match sc.command {
                $(CommandKind::$kind => run::<$ty>(engine, sc),)*
                other => Err(RemoteError::NotRemote(other)),
            }
        }

        /// The payload hash of a command's request (what the officer signs).
        pub fn payload_of(sc: &SignedCommand) -> Result<[u8; 32], RemoteError> {
            match sc.command {
                $(CommandKind::$kind => hash_of::<$ty>(sc),)*
                other => Err(RemoteError::NotRemote(other)),
            }
        }
    };
}

remote_commands! {
    RegisterStation => registry::RegisterStation,
    RegisterOfficer => registry::RegisterOfficer,
    DeactivateOfficer => registry::DeactivateOfficer,
    RegisterPeople => registry::RegisterPeople,
    RecordDeath => registry::RecordDeath,
    RegisterCards => registry::RegisterCards,
    ReportLoss => loss::LossRequest,
    CancelLoss => loss::CancelLoss,
    ReportHit => loss::ReportHit,
    AcknowledgeHit => loss::AcknowledgeHit,
    IntakeFoundCard => found::IntakeFoundCard,
    ReturnFoundCard => found::ReturnFoundCard,
    AddBlacklist => blacklist::AddBlacklist,
    RemoveBlacklist => blacklist::RemoveBlacklist,
    ImportCreditPush => blacklist::ImportCreditBatch,
    ApplyOffsite => offsite::ApplicationRequest,
    ReviewApplication => offsite::ReviewApplication,
    ProduceCard => offsite::ProduceCard,
    IssueCard => offsite::IssueCard,
    ExtendDeadline => offsite::ExtendDeadline,
    IssueTemporaryCertificate => temporary::IssueTemporaryCertificate,
    ApplyTemporaryCard => temporary::ApplyTemporaryCard,
    IssueTemporaryCard => temporary::IssueTemporaryCard,
    ReturnTemporaryCard => temporary::ReturnTemporaryCard,
    SetPolicy => policy::SetPolicy,
    UseTemporaryCertificate => temporary::UseTemporaryCertificate,
    RegisterSubscriber => publish::RegisterSubscriber,
    SetOfficerKey => registry::SetOfficerKey,
    RecordGuardians => registry::RecordGuardians,
    EscalateOverdue => offsite::EscalateOverdue,
}

/// Sign a command's request for `actor` (the officer's terminal): the request is decoded into
/// the command's request type (so a malformed one fails here, not at the platform) and the
/// signature is over its postcard encoding.
pub fn sign(
    actor: &Actor,
    command: CommandKind,
    request: Value,
    at_ms: i64,
) -> Result<SignedCommand, RemoteError> {
    let mut sc = SignedCommand {
        officer: actor.officer.to_string(),
        station: actor.station.to_string(),
        command,
        request,
        auth: None,
    };
    let payload = payload_of(&sc)?;
    sc.auth = Some(sign_payload(actor, command, payload, at_ms)?);
    Ok(sc)
}
