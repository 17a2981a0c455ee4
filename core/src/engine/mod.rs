//! The engine of the system of record: commands in, events out.
//!
//! ```text
//! command ─▶ authorisation ─▶ decision ─▶ events ─▶ journal ─▶ state ─▶ projections
//!  (workflow)  (station kind,    (Command::     (model)   (durable,   (State::   (live verifier,
//!              officer, S1)      decide, Ctx)             group commit) apply)    publishing)
//! ```
//!
//! Every command is authorised (the station kind may run it, the officer belongs to the station
//! and is active — [`crate::station::allowed`]), decided against the state and the outside
//! systems ([`Command::decide`] with a [`Ctx`]), and becomes events appended to the journal and
//! applied to the state; projections ([`crate::projection`]) see each applied record. A refused
//! command becomes a `CommandRefused` event: refusals are audited too (S1). A command returns
//! only once its records are durable (group commit, [`crate::journal`]).
//!
//! The state is a pure function of the journal ([`State::apply`]); a checkpoint of it spares
//! replaying everything at open. The workflows ([`crate::workflow`]) define the commands; the
//! engine knows none of them.
//!
//! ```
//! use idcard::engine::{Engine, EngineOptions};
//! use idcard::station::{Officer, OfficerKey, Station, StationKind};
//! use idcard::trust::{Algorithm, SecretKey};
//! use idcard::DivisionCode;
//! let dir = tempfile::tempdir()?;
//! let (engine, _) = Engine::open(dir.path(), EngineOptions::default())?;
//! let bureau = Station { id: "110105-PSB".parse()?, kind: StationKind::CountyBureau,
//!     division: DivisionCode::new(110105).unwrap(), name: "朝阳分局".into() };
//! // The officer's key pair: the bureau records the public half, the officer signs with the other.
//! let key = SecretKey::generate(Algorithm::Ed25519, "A0001")?;
//! let chief = Officer { id: "A0001".parse()?, name: "王".into(), station: bureau.id.clone(),
//!     active: true, key: Some(OfficerKey::of(&key.public())) };
//! engine.bootstrap(bureau, chief)?;
//! assert_eq!(engine.with_state(|s| s.stations.len()), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod auth;
mod checkpoint;
mod ctx;
pub mod secrets;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};

pub use crate::time::{Clock, ManualClock, SystemClock};
pub use ctx::{CardRef, Ctx, InPerson};

use crate::index::{IndexError, Profile, Verifier};
use crate::journal::head::{Head, HeadError};
use crate::journal::{Chain, GENESIS, Journal, JournalError, JournalOptions, Recovery};
use crate::model::{
    AuthenticationFailed, CommandAuth, CommandRefusedV2, Event, OfficerRegisteredV2,
    PersonalDataRead, Record, State, StationRegistered, Subject,
};
use crate::population::{ExternalError, FingerprintMatcher, PopulationDirectory};
use crate::projection::{LiveVerifier, Projection};
use crate::station::{Actor, CommandKind, Officer, OfficerId, Station, allowed};
use crate::trust::TrustStore;
use crate::trust::signed::Sign;
pub use auth::{AuthFailure, Authenticator, RegisteredKeys};

/// Why a command was refused: a stable code (for statistics and programs) and a message (for
/// people).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Refusal {
    /// The command refused.
    pub command: CommandKind,
    /// Stable code, e.g. `not_the_holder`.
    pub code: &'static str,
    /// What is wrong, for the officer at the counter.
    pub message: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?} refused ({}): {}",
            self.command, self.code, self.message
        )
    }
}

/// Errors of the engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The command was refused (and the refusal recorded).
    #[error("{0}")]
    Refused(Refusal),
    /// The journal failed.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// A checkpoint file is damaged (it is skipped at open; this is for explicit loads).
    #[error("checkpoint {path}: {what}")]
    Checkpoint {
        /// The file.
        path: String,
        /// What is wrong.
        what: String,
    },
    /// A journal record does not decode.
    #[error("journal record {seq}: {what}")]
    Replay {
        /// Its sequence number.
        seq: u64,
        /// What is wrong.
        what: String,
    },
    /// An outside system failed.
    #[error(transparent)]
    External(#[from] ExternalError),
    /// A signed journal head is not accepted (signature), or the journal does not have its
    /// chain hash at its sequence: the journal was changed after the head was signed.
    #[error(transparent)]
    Head(#[from] HeadError),
    /// A signed head names a chain hash the journal does not have at that sequence.
    #[error(
        "journal head {path} (sequence {seq}, chain {head_chain}) disagrees with the journal (chain {journal_chain}): the journal was changed after the head was signed"
    )]
    HeadMismatch {
        /// The head file.
        path: String,
        /// Its sequence.
        seq: u64,
        /// The chain it signs.
        head_chain: String,
        /// The journal's chain at that sequence (empty: the journal is shorter).
        journal_chain: String,
    },
    /// Publishing failed.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// A projection failed.
    #[error("{name}: {message}")]
    Projection {
        /// The projection.
        name: String,
        /// What happened.
        message: String,
    },
    /// An I/O error.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The population store failed ([`crate::store`]).
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// Another process has the data directory open.
    #[error("data directory {0} is in use by another process")]
    Locked(String),
    /// [`Engine::open_existing`]: the directory holds no record.
    #[error("{0} holds no record (no journal directory there)")]
    NoRecord(String),
}

impl EngineError {
    /// The refusal, if this is one.
    pub fn refusal(&self) -> Option<&Refusal> {
        match self {
            EngineError::Refused(r) => Some(r),
            _ => None,
        }
    }

    pub(crate) fn io(path: &Path, source: std::io::Error) -> EngineError {
        EngineError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// A command of the system of record: the workflows define them ([`crate::workflow`]); the
/// engine authorises, decides, records and applies them ([`Engine::execute`]).
pub trait Command: serde::Serialize {
    /// Which command this is (the authorization matrix's row, S1).
    const KIND: CommandKind;
    /// What the decision hands on to [`Command::finish`].
    type Decided;
    /// What the caller gets back.
    type Output;

    /// Decide against the state: the events to record and what to hand on, or a refusal
    /// ([`Ctx::refuse`]).
    fn decide(&self, ctx: &Ctx<'_>) -> Result<(Vec<Event>, Self::Decided), EngineError>;

    /// For commands of territorial jurisdiction ([`crate::station::jurisdiction`]): the
    /// divisions the command acts on (a registered station's, an officer's station's, a
    /// person's household registration, an application's hukou place). The engine refuses the
    /// command when one lies outside the acting station's territory, before deciding. Empty: a
    /// subject that does not exist (the decision refuses it).
    fn territories(&self, _ctx: &Ctx<'_>) -> Result<Vec<crate::DivisionCode>, EngineError> {
        Ok(Vec::new())
    }

    /// What the command is about (a card, a person, an application …), recorded with a
    /// refusal (S2).
    fn subject(&self) -> Option<Subject> {
        None
    }

    /// Once the events are applied (still under the state lock): the output, which may read
    /// what they created — `seq` is the sequence number of the last event recorded (the
    /// identifier of what the command created); with no events it is the state's last one.
    fn finish(decided: Self::Decided, seq: u64, state: &State) -> Self::Output;
}

/// Options of an engine.
#[derive(Clone)]
pub struct EngineOptions {
    /// The journal's options.
    pub journal: JournalOptions,
    /// Write a checkpoint once this many records were added since the last one: by the command
    /// that crosses the line, and when closing.
    pub checkpoint_every: u64,
    /// The clock (default: the system clock).
    pub clock: Arc<dyn Clock>,
    /// The population directory (default: the embedded one, kept in the journal).
    pub directory: Option<Arc<dyn PopulationDirectory>>,
    /// The fingerprint matcher (default: the embedded one: template digests).
    pub matcher: Option<Arc<dyn FingerprintMatcher>>,
    /// Keep an in-process verifier of this profile up to date with every record
    /// ([`Engine::live_verifier`]).
    pub live_verifier: Option<Profile>,
    /// Further projections fed with every applied record.
    pub projections: Vec<Arc<dyn Projection>>,
    /// The key that signs journal heads (at checkpoints and publications): the platform's,
    /// certified for `journal_head`. Default: the record's own key ([`secrets::head_signer`]).
    pub head_signer: Option<Arc<dyn Sign + Send + Sync>>,
    /// What heads are checked against at open and by [`verify_journal`]. Default: the record's
    /// own head key (and, through its certificate, nothing more: pass the platform's trust file
    /// to check heads against the platform's root).
    pub head_trust: Option<TrustStore>,
    /// How officers' signatures are checked (default: [`RegisteredKeys`], the key the bureau
    /// registered for each officer).
    pub authenticator: Option<Arc<dyn Authenticator>>,
    /// The population store's page cache, in bytes ([`crate::store`]): with the pending
    /// changes below, what the population costs in memory whatever its size.
    pub store_cache_bytes: usize,
    /// Write the changes to people and cards to the store once this many are pending (and at
    /// every checkpoint and close). A store that keeps the events (PostgreSQL) is written at the
    /// end of every command instead, before the command returns.
    pub store_flush_every: usize,
    /// Where the population store is (default: the embedded one, [`crate::store::Embedded`]).
    pub store: Option<Arc<dyn crate::store::StoreProvider>>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            journal: JournalOptions::default(),
            checkpoint_every: 100_000,
            clock: Arc::new(SystemClock),
            directory: None,
            matcher: None,
            live_verifier: None,
            projections: Vec::new(),
            head_signer: None,
            head_trust: None,
            authenticator: None,
            store_cache_bytes: crate::store::DEFAULT_CACHE_BYTES,
            store_flush_every: 100_000,
            store: None,
        }
    }
}

impl std::fmt::Debug for EngineOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineOptions")
            .field("journal", &self.journal)
            .field("checkpoint_every", &self.checkpoint_every)
            .field("live_verifier", &self.live_verifier)
            .finish_non_exhaustive()
    }
}

/// What opening found.
#[derive(Clone, Debug, serde::Serialize)]
pub struct OpenReport {
    /// The journal's recovery.
    pub recovery: Recovery,
    /// The checkpoint loaded, if any.
    pub checkpoint_seq: Option<u64>,
    /// The newest signed head checked against the journal at open (its sequence).
    pub head_checked: Option<u64>,
    /// Checkpoints not loaded, and why (damaged, beyond the journal, an older format).
    pub checkpoints_skipped: Vec<String>,
    /// Records replayed after the checkpoint (or after the store's sequence, when earlier).
    pub replayed: u64,
    /// The last sequence number.
    pub last_seq: u64,
    /// The sequence number the population store reflected at open (0: empty or rebuilt).
    pub store_seq: u64,
    /// Why the population store was set aside and rebuilt from the journal, if it was.
    pub store_rebuilt: Option<String>,
}

/// Read the records of a data directory without opening it for writing (an engine may be running
/// on it): decoded, from sequence `from` on. For analysts (the Python package) and auditors.
pub fn read_records(
    dir: impl AsRef<Path>,
    from: u64,
) -> Result<impl Iterator<Item = Result<(u64, Record), EngineError>>, EngineError> {
    Ok(crate::journal::read_dir(dir.as_ref().join("journal"), from)?.map(decode))
}

fn decode(item: Result<(u64, Vec<u8>), JournalError>) -> Result<(u64, Record), EngineError> {
    let (seq, payload) = item?;
    let record = Record::decode(&payload).map_err(|e| EngineError::Replay {
        seq,
        what: e.to_string(),
    })?;
    Ok((seq, record))
}

/// What [`verify_journal`] found.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct JournalCheck {
    /// Records read, every frame and every link of the chain checked.
    pub records: u64,
    /// The chain hash after the last record (hex).
    pub chain: String,
    /// Signed heads checked: the file, its sequence, who signed it, and whether it agrees.
    pub heads: Vec<HeadCheck>,
    /// Checkpoints whose chain hash was compared with the journal's: `(sequence, agrees)`.
    pub checkpoints: Vec<(u64, bool)>,
    /// The population store compared with the replayed state at its sequence: `(sequence,
    /// agrees)`; `None` when it could not be read (an engine has it open) or reflects nothing.
    pub store: Option<(u64, bool)>,
    /// The first thing that does not fit (a damaged frame, a record off the chain, a head or
    /// checkpoint that disagrees), if any.
    pub problem: Option<String>,
}

/// One signed head checked by [`verify_journal`].
#[derive(Clone, Debug, serde::Serialize)]
pub struct HeadCheck {
    /// The file.
    pub path: String,
    /// Its sequence (0 when it could not be read).
    pub seq: u64,
    /// The signing key's id and name, when the signature checked out.
    pub signed_by: Option<String>,
    /// Whether it agrees with the journal (and its signature checks out).
    pub ok: bool,
    /// Why not.
    pub error: Option<String>,
}

impl JournalCheck {
    /// Whether everything fits.
    pub fn ok(&self) -> bool {
        self.problem.is_none()
    }
}

/// Check a data directory's journal without opening it for writing (an engine may be running on
/// it, or refuse to open): every frame, the hash chain from the first record, every record
/// decodes, the chain hash recorded in every checkpoint, and every signed head — those in
/// `heads/` and the `extra_heads` given (heads published earlier, held outside) — against the
/// journal and against `trust` (default: the record's own head key). The first thing that does
/// not fit is named in [`JournalCheck::problem`].
pub fn verify_journal(
    dir: impl AsRef<Path>,
    trust: Option<&TrustStore>,
    extra_heads: &[PathBuf],
) -> Result<JournalCheck, EngineError> {
    verify_journal_with(dir, trust, extra_heads, None)
}

/// [`verify_journal`], comparing the population store of `store` (the engine's
/// [`EngineOptions::store`]; `None`: the embedded one) with the replay — and, for a store that
/// keeps the journal's records (PostgreSQL), every record it holds with the journal's.
pub fn verify_journal_with(
    dir: impl AsRef<Path>,
    trust: Option<&TrustStore>,
    extra_heads: &[PathBuf],
    store: Option<&dyn crate::store::StoreProvider>,
) -> Result<JournalCheck, EngineError> {
    let provider = store;
    let dir = dir.as_ref();
    if !dir.join("journal").is_dir() {
        return Err(EngineError::NoRecord(dir.display().to_string()));
    }
    let own;
    let trust = match trust {
        Some(t) => t,
        None => {
            own = TrustStore::new(vec![secrets::head_public(dir)?]);
            &own
        }
    };
    let mut check = JournalCheck::default();
    // What to compare with the chain: heads and checkpoints, by sequence.
    let mut heads: Vec<(PathBuf, Option<Head>)> = Vec::new();
    let mut head_paths: Vec<PathBuf> = list_heads(dir).into_iter().map(|(_, p)| p).collect();
    head_paths.reverse();
    head_paths.extend(extra_heads.iter().cloned());
    for path in head_paths {
        match Head::read_verified(&path, trust) {
            Ok((head, by)) => {
                check.heads.push(HeadCheck {
                    path: path.display().to_string(),
                    seq: head.seq,
                    signed_by: Some(format!("{} ({})", by.key_id, by.key_name)),
                    ok: false,
                    error: None,
                });
                heads.push((path, Some(head)));
            }
            Err(e) => {
                check.heads.push(HeadCheck {
                    path: path.display().to_string(),
                    seq: 0,
                    signed_by: None,
                    ok: false,
                    error: Some(e.to_string()),
                });
                check.problem.get_or_insert(e.to_string());
                heads.push((path, None));
            }
        }
    }
    // Each checkpoint's sequence, chain and file; its state is read again when the replay
    // reaches it and dropped once compared: one checkpoint's state in memory at a time.
    let mut checkpoints: Vec<(u64, Chain, PathBuf)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir.join("checkpoints")) {
        for e in entries.flatten() {
            if !checkpoint::is_current_format(&e.path()) {
                continue;
            }
            match checkpoint::read(&e.path(), trust) {
                Ok((state, chain)) => checkpoints.push((state.last_seq, chain, e.path())),
                Err(e) => {
                    check.problem.get_or_insert(e.to_string());
                }
            }
        }
    }
    checkpoints.sort_by_key(|c| c.0);
    let mut chains: std::collections::HashMap<u64, Chain> = std::collections::HashMap::new();
    let wanted: std::collections::HashSet<u64> = heads
        .iter()
        .filter_map(|(_, h)| h.as_ref().map(|h| h.seq))
        .chain(checkpoints.iter().map(|(s, _, _)| *s))
        .collect();
    chains.insert(0, GENESIS);
    // The population store, when it can be read (not while an engine has it open): compared
    // with the replayed state at the sequence it reflects.
    let store: Option<Arc<dyn crate::store::RowStore>> = match provider {
        None => crate::store::PopulationStore::open_read_only(&store_path(dir))
            .ok()
            .map(|s| Arc::new(s) as Arc<dyn crate::store::RowStore>),
        Some(p) => p.open(dir, 16 << 20).ok(),
    };
    let store = store.and_then(|s| Some((s.tag().ok()??, s)));
    let mut reader = crate::journal::read_dir(dir.join("journal"), 1)?;
    let mut last = 0;
    // The state replayed from the first record, compared with each checkpoint's; its people
    // and cards in a scratch store (bounded memory whatever the population).
    let scratch = tempfile::Builder::new()
        .prefix("idcard-verify-")
        .tempdir()
        .map_err(|e| EngineError::io(&std::env::temp_dir(), e))?;
    let mut replayed = State::default();
    replayed.attach_store(
        Arc::new(crate::store::PopulationStore::open(
            &scratch.path().join("replayed.redb"),
            64 << 20,
        )?),
        0,
    );
    let mut states: std::collections::HashMap<u64, bool> = std::collections::HashMap::new();
    let mut gone: std::collections::HashSet<u64> = std::collections::HashSet::new();
    while let Some(item) = reader.next() {
        match item {
            Ok((seq, payload)) => {
                let record = match Record::decode(&payload) {
                    Ok(r) => r,
                    Err(e) => {
                        check
                            .problem
                            .get_or_insert(format!("record {seq} does not decode: {e}"));
                        break;
                    }
                };
                replayed.apply(seq, &record);
                last = seq;
                check.records += 1;
                let at_store = store.as_ref().is_some_and(|((s, _), _)| *s == seq);
                if (at_store || replayed.pending() >= 100_000)
                    && let Some(c) = reader.chain_hash()
                {
                    replayed.flush(&c)?;
                }
                if let Some(((store_seq, store_chain), store)) = &store
                    && *store_seq == seq
                {
                    let agrees = reader.chain_hash() == Some(*store_chain)
                        && match replayed.population_differs(&**store) {
                            Ok(None) => true,
                            Ok(Some(what)) => {
                                check.problem.get_or_insert(format!(
                                    "the population store at sequence {seq} is not what the journal replays to: {what}"
                                ));
                                false
                            }
                            Err(e) => {
                                check.problem.get_or_insert(e.to_string());
                                false
                            }
                        };
                    check.store = Some((seq, agrees));
                }
                if wanted.contains(&seq)
                    && let Some(c) = reader.chain_hash()
                {
                    chains.insert(seq, c);
                    if let Some((_, _, path)) = checkpoints.iter().find(|c| c.0 == seq) {
                        match checkpoint::read(path, trust) {
                            Ok((s, _)) => {
                                states.insert(seq, s.same_besides_population(&replayed));
                            }
                            // Deleted since it was listed by a running engine, which keeps its
                            // newest two: not checked, not a problem.
                            Err(_) if !path.exists() => {
                                gone.insert(seq);
                            }
                            Err(e) => {
                                check.problem.get_or_insert(e.to_string());
                                states.insert(seq, false);
                            }
                        }
                    }
                }
            }
            Err(e) => {
                check.problem.get_or_insert(e.to_string());
                break;
            }
        }
    }
    if let Some(e) = replayed.store_failure() {
        return Err(e.clone().into());
    }
    let end = reader.chain_hash().unwrap_or(GENESIS);
    drop(reader);
    check.chain = crate::journal::chain_hex(&end);
    // A store that keeps the journal's records: each must be the journal's, none missing.
    if let Some(((tag, _), store)) = &store {
        let mut journal = crate::journal::read_dir(dir.join("journal"), 1)?;
        let mut held = 0u64;
        let mut wrong: Option<String> = None;
        let kept = store.scan_events(&mut |e| {
            held += 1;
            if wrong.is_some() {
                return Ok(());
            }
            let same = match journal.next() {
                Some(Ok((seq, payload))) => {
                    seq == e.seq && payload == e.payload && journal.chain_hash() == Some(e.chain)
                }
                _ => false,
            };
            if !same {
                wrong = Some(format!(
                    "record {} in the population store's events is not the journal's",
                    e.seq
                ));
            }
            Ok(())
        })?;
        if kept {
            if wrong.is_none() && held != *tag {
                wrong = Some(format!(
                    "the population store's events hold {held} records; it reflects {tag}"
                ));
            }
            if let Some(what) = wrong {
                check.problem.get_or_insert(what);
                if let Some(s) = check.store.as_mut() {
                    s.1 = false;
                }
            }
        }
    }
    for ((path, head), hc) in heads.iter().zip(check.heads.iter_mut()) {
        let Some(head) = head else { continue };
        match chains.get(&head.seq) {
            Some(c) if *c == head.chain => hc.ok = true,
            other => {
                let what = match other {
                    Some(c) => format!(
                        "journal head {} (sequence {}) signs chain {}, the journal has {}: the journal was changed after the head was signed",
                        path.display(),
                        head.seq,
                        crate::journal::chain_hex(&head.chain),
                        crate::journal::chain_hex(c)
                    ),
                    None => format!(
                        "journal head {} names sequence {}, the journal checked up to {last}",
                        path.display(),
                        head.seq
                    ),
                };
                hc.error = Some(what.clone());
                check.problem.get_or_insert(what);
            }
        }
    }
    for (seq, chain, _) in checkpoints {
        if gone.contains(&seq) {
            continue;
        }
        if seq > last {
            check.checkpoints.push((seq, false));
            check.problem.get_or_insert(format!(
                "checkpoint at sequence {seq} is beyond the journal's end ({last}): records were removed"
            ));
            continue;
        }
        let chain_agrees = chains.get(&seq) == Some(&chain);
        let state_agrees = states.get(&seq).copied().unwrap_or(false);
        check.checkpoints.push((seq, chain_agrees && state_agrees));
        if !chain_agrees && seq <= last {
            check.problem.get_or_insert(format!(
                "checkpoint at sequence {seq} records chain {}, which the journal does not have there",
                crate::journal::chain_hex(&chain)
            ));
        } else if !state_agrees && seq <= last {
            check.problem.get_or_insert(format!(
                "checkpoint at sequence {seq} holds a state the journal does not replay to"
            ));
        }
    }
    Ok(check)
}

/// The engine (see the module documentation). `Send + Sync`: share it between threads; commands
/// are serialised on the state, their durability waits are shared (group commit).
pub struct Engine {
    dir: PathBuf,
    _lock: File,
    journal: Journal,
    state: Mutex<State>,
    options: EngineOptions,
    checkpoint_seq: AtomicU64,
    /// A checkpoint is being written by [`Engine::checkpoint_when_due`].
    checkpointing: std::sync::atomic::AtomicBool,
    /// The store keeps the journal's records (PostgreSQL): a command returns once they are
    /// in it ([`Engine::make_durable`]).
    keeps_events: bool,
    /// The last record the store has (when it keeps the records).
    stored: AtomicU64,
    /// One writer to the store at a time; the others wait here and usually find their records
    /// written by it (group commit).
    store_writer: Mutex<()>,
    live: Option<Arc<LiveVerifier>>,
    projections: Vec<Arc<dyn Projection>>,
    head_signer: Arc<dyn Sign + Send + Sync>,
    /// Officers as the state has them, with their public keys parsed once, readable without the
    /// state lock: signatures are checked outside it.
    officers: dashmap::DashMap<OfficerId, Arc<KnownOfficer>>,
    /// A platform's own authenticator; `None`: the officers' registered keys.
    authenticator: Option<Arc<dyn Authenticator>>,
}

/// An officer as the engine checks signatures for them.
struct KnownOfficer {
    officer: Officer,
    /// The registered key, parsed (and its id), when it is a valid one.
    public: Option<(crate::trust::PublicKey, [u8; 8])>,
}

impl KnownOfficer {
    fn of(officer: &Officer) -> Arc<KnownOfficer> {
        let public = officer.key.as_ref().and_then(|k| k.public().ok()).map(|p| {
            let id = p.id().0;
            (p, id)
        });
        Arc::new(KnownOfficer {
            officer: officer.clone(),
            public,
        })
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Open a data directory that already holds a record, as [`Engine::open`] does, but
    /// create nothing: a mistyped path is [`EngineError::NoRecord`], not a new empty record.
    /// For tools that read or add to an existing record (the CLI's commands other than `init`).
    ///
    /// ```
    /// use idcard::engine::{Engine, EngineError, EngineOptions};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let missing = dir.path().join("typo");
    /// let err = Engine::open_existing(&missing, EngineOptions::default()).unwrap_err();
    /// assert!(matches!(err, EngineError::NoRecord(_)));
    /// assert!(!missing.exists(), "nothing was created");
    ///
    /// drop(Engine::open(dir.path().join("record"), EngineOptions::default())?);
    /// let (engine, _) = Engine::open_existing(dir.path().join("record"), EngineOptions::default())?;
    /// # drop(engine);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_existing(
        dir: impl AsRef<Path>,
        options: EngineOptions,
    ) -> Result<(Engine, OpenReport), EngineError> {
        let dir = dir.as_ref();
        if !dir.join("journal").is_dir() {
            return Err(EngineError::NoRecord(dir.display().to_string()));
        }
        Engine::open(dir, options)
    }

    /// Open (or create) the data directory: recover the journal, load the newest checkpoint,
    /// replay the records after it, start the projections. A new directory gets its
    /// pseudonymisation secret ([`secrets`]).
    pub fn open(
        dir: impl AsRef<Path>,
        options: EngineOptions,
    ) -> Result<(Engine, OpenReport), EngineError> {
        let dir = dir.as_ref().to_path_buf();
        crate::fsutil::create_private_dir(&dir).map_err(|e| EngineError::io(&dir, e))?;
        let lock_path = dir.join("LOCK");
        let lock = {
            let mut o = std::fs::OpenOptions::new();
            o.write(true).create(true).truncate(false);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
            o.open(&lock_path)
                .map_err(|e| EngineError::io(&lock_path, e))?
        };
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(EngineError::Locked(dir.display().to_string()));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(EngineError::io(&lock_path, e)),
        }
        secrets::ensure(&dir)?;
        let head_signer: Arc<dyn Sign + Send + Sync> = match &options.head_signer {
            Some(s) => s.clone(),
            None => Arc::new(secrets::head_signer(&dir)?),
        };
        let head_trust = head_trust(&dir, &options, head_signer.as_ref())?;
        let (journal, recovery) = Journal::open(dir.join("journal"), options.journal)?;
        // The newest signed head must agree with the journal: an edit that recomputed the chain
        // to the end no longer has the chain hash the head signed.
        let head_checked = check_newest_head(&dir, &journal, &head_trust)?;
        let chain_at = |seq: u64| chain_at(&journal, seq);
        let (mut state, checkpoint, skipped) = checkpoint::load_newest(
            &dir.join("checkpoints"),
            recovery.last_seq,
            &head_trust,
            &chain_at,
        )?;
        let (store, store_seq, store_chain, store_rebuilt) =
            open_store(&dir, &options, recovery.last_seq, &chain_at)?;
        state.attach_store(store, store_seq);
        // Replay from the earlier of the checkpoint (the slices in memory) and the store (people
        // and cards): each part of the state skips the records it already reflects.
        let checkpoint_seq = state.last_seq;
        let (from, before) = if store_seq < checkpoint_seq {
            (store_seq, store_chain)
        } else {
            (checkpoint_seq, checkpoint.map_or(GENESIS, |(_, c)| c))
        };
        let mut replayed = 0;
        let mut reader = journal.read_from(from + 1)?.expect_chain_before(before);
        while let Some(item) = reader.next() {
            let (seq, payload) = item?;
            let (seq, record) = decode(Ok((seq, payload.clone())))?;
            state.apply(seq, &record);
            if state.store_keeps_events() {
                let chain = reader.chain_hash().ok_or(EngineError::Replay {
                    seq,
                    what: "no chain hash for this record (for the store's events)".into(),
                })?;
                state.keep_event(seq, &chain, &payload, &record);
            }
            replayed += 1;
            if state.pending() >= options.store_flush_every.max(1)
                && let Some(chain) = reader.chain_hash()
            {
                state.flush(&chain)?;
            }
        }
        drop(reader);
        if let Some(e) = state.store_failure() {
            return Err(e.clone().into());
        }
        // A store that keeps the records has them all before the first command.
        let keeps_events = state.store_keeps_events();
        if keeps_events && state.pending() > 0 {
            journal.wait_durable(state.last_seq)?;
            state.flush(&journal.last().1)?;
        }
        let stored = state.last_seq;
        let report = OpenReport {
            recovery,
            checkpoint_seq: checkpoint.map(|(s, _)| s),
            head_checked,
            checkpoints_skipped: skipped,
            replayed,
            last_seq: state.last_seq,
            store_seq,
            store_rebuilt,
        };
        let live = options.live_verifier.map(|p| {
            Arc::new(LiveVerifier::new(
                p,
                dir.join("live").join(format!("{}.idcs", p.as_str())),
            ))
        });
        let mut projections = options.projections.clone();
        if let Some(l) = &live {
            projections.push(l.clone());
        }
        for p in &projections {
            p.start(&state).map_err(|e| EngineError::Projection {
                name: p.name().to_string(),
                message: e.to_string(),
            })?;
        }
        let engine = Engine {
            dir,
            _lock: lock,
            journal,
            state: Mutex::new(state),
            checkpoint_seq: AtomicU64::new(checkpoint.map_or(0, |(s, _)| s)),
            checkpointing: std::sync::atomic::AtomicBool::new(false),
            keeps_events,
            stored: AtomicU64::new(stored),
            store_writer: Mutex::new(()),
            live,
            projections,
            officers: dashmap::DashMap::new(),
            authenticator: options.authenticator.clone(),
            options,
            head_signer,
        };
        engine.with_state(|s| {
            for o in s.officers.values() {
                engine.officers.insert(o.id.clone(), KnownOfficer::of(o));
            }
        });
        Ok((engine, report))
    }

    fn lock_state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.options.clock
    }

    /// Read the state (the views of [`crate::model::view`] take it).
    pub fn with_state<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.lock_state())
    }

    /// The last sequence number applied.
    pub fn last_seq(&self) -> u64 {
        self.lock_state().last_seq
    }

    /// The in-process verifier, when [`EngineOptions::live_verifier`] is set: it answers every
    /// accepted change as soon as the command returns.
    pub fn live_verifier(&self) -> Option<&Verifier> {
        self.live.as_ref().and_then(|l| l.verifier())
    }

    /// The journal's records from `from` on, decoded.
    pub fn records(
        &self,
        from: u64,
    ) -> Result<impl Iterator<Item = Result<(u64, Record), EngineError>> + use<>, EngineError> {
        Ok(self.journal.read_from(from)?.map(decode))
    }

    /// Register the first county bureau and its first officer of an empty system (the actor is
    /// [`Actor::system`]). Refused once any station exists.
    pub fn bootstrap(&self, bureau: Station, officer: Officer) -> Result<(), EngineError> {
        let actor = Actor::system();
        let command = CommandKind::RegisterStation;
        let mut state = self.lock_state();
        let now = self.options.clock.now();
        let refusal = if !state.stations.is_empty() {
            Some((
                "not_empty",
                "the system already has stations; register new ones as a county bureau officer",
            ))
        } else if !matches!(
            bureau.kind,
            crate::station::StationKind::Ministry
                | crate::station::StationKind::ProvincialDepartment
                | crate::station::StationKind::CountyBureau
        ) {
            Some((
                "station_kind_not_allowed",
                "the first station must be the ministry, a provincial department or a county bureau",
            ))
        } else if officer.station != bureau.id {
            Some((
                "officer_not_at_station",
                "the first officer must belong to the first bureau",
            ))
        } else if self.options.authenticator.is_none()
            && officer.key.as_ref().and_then(|k| k.id()).is_none()
        {
            Some((
                "key_required",
                "the first officer needs a public key: every command is signed (S1; a platform \
                 with its own authenticator may register officers without one)",
            ))
        } else {
            None
        };
        let (events, result) = match refusal {
            Some((code, message)) => {
                let r = Refusal {
                    command,
                    code,
                    message: message.to_string(),
                };
                (vec![refused_event(&r, None)], Err(EngineError::Refused(r)))
            }
            None => (
                vec![
                    Event::StationRegistered(StationRegistered {
                        id: bureau.id,
                        kind: bureau.kind,
                        division: bureau.division,
                        name: bureau.name,
                    }),
                    Event::OfficerRegisteredV2(OfficerRegisteredV2 {
                        id: officer.id,
                        name: officer.name,
                        station: officer.station,
                        key: officer.key,
                    }),
                ],
                Ok(()),
            ),
        };
        let last = self.commit(&mut state, &actor, now, events, None)?;
        drop(state);
        self.make_durable(last)?;
        result
    }

    /// Give an officer their first key in a record made before officers had keys (the golden
    /// records of earlier formats, a record upgraded in place): allowed only while no officer of
    /// the record has a key, recorded as done by [`Actor::system`]. From then on keys are set by
    /// signed commands ([`crate::workflow::registry::SetOfficerKey`]).
    pub fn enroll_first_key(
        &self,
        officer: &OfficerId,
        key: crate::station::OfficerKey,
    ) -> Result<(), EngineError> {
        let command = CommandKind::SetOfficerKey;
        let mut state = self.lock_state();
        let now = self.options.clock.now();
        let refusal = if state.officers.values().any(|o| o.key.is_some()) {
            Some((
                "keys_in_use",
                "officers of this record have keys: set keys by a signed command".to_string(),
            ))
        } else if !state.officers.contains_key(officer) {
            Some((
                "unknown_officer",
                format!("officer {officer} is not registered"),
            ))
        } else if key.id().is_none() {
            Some((
                "invalid_key",
                "the public key is not a valid key".to_string(),
            ))
        } else {
            None
        };
        let (event, result) = match refusal {
            Some((code, message)) => {
                let r = Refusal {
                    command,
                    code,
                    message,
                };
                (refused_event(&r, None), Err(EngineError::Refused(r)))
            }
            None => (
                Event::OfficerKeySet(crate::model::OfficerKeySet {
                    officer: officer.clone(),
                    key,
                }),
                Ok(()),
            ),
        };
        let last = self.commit(&mut state, &Actor::system(), now, vec![event], None)?;
        drop(state);
        self.make_durable(last)?;
        result
    }

    /// Authorise: the station exists, the officer exists, is active and belongs to it, and the
    /// station's kind may run the command (S1).
    fn authorize<'s>(
        &self,
        state: &'s State,
        actor: &Actor,
        command: CommandKind,
    ) -> Result<&'s Station, EngineError> {
        let refuse = |code: &'static str, message: String| {
            EngineError::Refused(Refusal {
                command,
                code,
                message,
            })
        };
        let station = state.stations.get(&actor.station).ok_or_else(|| {
            refuse(
                "unknown_station",
                format!("station {} is not registered", actor.station),
            )
        })?;
        let officer = state.officers.get(&actor.officer).ok_or_else(|| {
            refuse(
                "unknown_officer",
                format!("officer {} is not registered", actor.officer),
            )
        })?;
        if !officer.active {
            return Err(refuse(
                "officer_inactive",
                format!("officer {} may no longer act", actor.officer),
            ));
        }
        if officer.station != actor.station {
            return Err(refuse(
                "officer_not_at_station",
                format!(
                    "officer {} belongs to {}, not {}",
                    actor.officer, officer.station, actor.station
                ),
            ));
        }
        if !allowed(command, station.kind) {
            return Err(refuse(
                "station_kind_not_allowed",
                format!("a {} may not {command:?}", station.kind),
            ));
        }
        Ok(station)
    }

    /// Execute a command: authenticate the officer (the actor's signer signs it, as the officer's
    /// terminal would), authorise, decide, record the events (or the refusal), apply them, wait
    /// until durable, finish.
    pub fn execute<C: Command>(
        &self,
        actor: &Actor,
        command: &C,
    ) -> Result<C::Output, EngineError> {
        let payload = auth::payload_hash(command);
        let now_ms = self.options.clock.now().timestamp_millis();
        let signed = auth::sign(actor, C::KIND, payload, now_ms);
        self.execute_signed(actor, command, signed)
    }

    /// Execute a command signed elsewhere (an officer's terminal): `auth` is the officer's
    /// signature over it ([`auth::message`]). Checked before anything else: the signature
    /// (outside the state lock), then that the officer is active, the key still theirs, the time
    /// current and the nonce new (S1). A failure is recorded as `authentication_failed`, not in
    /// the officer's name.
    pub fn execute_signed<C: Command>(
        &self,
        actor: &Actor,
        command: &C,
        auth: Option<CommandAuth>,
    ) -> Result<C::Output, EngineError> {
        let payload = auth::payload_hash(command);
        let checked = self.verify_signature(actor, C::KIND, &payload, auth);
        let mut state = self.lock_state();
        let now = self.options.clock.now();
        let auth = match checked
            .and_then(|(a, k)| check_current(&state, actor, &a, &k, now).map(|()| a))
        {
            Ok(a) => a,
            Err(f) => {
                return Err(self.refuse_unauthenticated(&mut state, actor, C::KIND, now, f)?);
            }
        };
        let decided = self.authorize(&state, actor, C::KIND).and_then(|station| {
            let ctx = Ctx {
                state: &state,
                actor,
                station,
                now,
                today: crate::time::china_date(now),
                command: C::KIND,
                engine: self,
            };
            check_jurisdiction(&ctx, command)?;
            command.decide(&ctx)
        });
        match decided {
            Ok((events, decided)) => {
                if events.is_empty() {
                    let seq = state.last_seq;
                    return Ok(C::finish(decided, seq, &state));
                }
                let last = self.commit(&mut state, actor, now, events, Some(&auth))?;
                let out = C::finish(decided, last, &state);
                drop(state);
                self.make_durable(last)?;
                self.checkpoint_when_due(last)?;
                Ok(out)
            }
            Err(EngineError::Refused(r)) => {
                let event = refused_event(&r, command.subject());
                let last = self.commit(&mut state, actor, now, vec![event], Some(&auth))?;
                drop(state);
                self.make_durable(last)?;
                self.checkpoint_when_due(last)?;
                Err(EngineError::Refused(r))
            }
            Err(e) => Err(e),
        }
    }

    /// A checkpoint once [`EngineOptions::checkpoint_every`] records were added since the last
    /// one, by the command that crossed the line (others go on): a record that runs for months
    /// opens in seconds whatever its journal's length.
    fn checkpoint_when_due(&self, last: u64) -> Result<(), EngineError> {
        let since = last.saturating_sub(self.checkpoint_seq.load(Ordering::Acquire));
        if since < self.options.checkpoint_every.max(1)
            || self.checkpointing.swap(true, Ordering::AcqRel)
        {
            return Ok(());
        }
        let r = self.checkpoint();
        self.checkpointing.store(false, Ordering::Release);
        r.map(|_| ())
    }

    /// Check a signature outside the state lock: the officer is registered, and the signature
    /// is theirs over this command ([`Authenticator`]).
    fn verify_signature(
        &self,
        actor: &Actor,
        command: CommandKind,
        payload: &[u8; 32],
        auth: Option<CommandAuth>,
    ) -> Result<(CommandAuth, Arc<KnownOfficer>), AuthFailure> {
        let auth = auth.ok_or_else(|| {
            AuthFailure::new(
                "no_signature",
                format!("the command is not signed by officer {}", actor.officer),
            )
        })?;
        if &auth.payload != payload {
            return Err(AuthFailure::new(
                "bad_signature",
                "the signature is over another command",
            ));
        }
        let known = self
            .officers
            .get(&actor.officer)
            .map(|o| Arc::clone(&o))
            .ok_or_else(|| {
                AuthFailure::new(
                    "unknown_officer",
                    format!("officer {} is not registered", actor.officer),
                )
            })?;
        let message = auth::message(
            &actor.officer,
            &actor.station,
            command,
            auth.at_ms,
            &auth.nonce,
            &auth.payload,
        );
        match &self.authenticator {
            Some(a) => a.verify(&known.officer, &message, &auth)?,
            None => {
                // The registered key, parsed once (RegisteredKeys, without parsing it again).
                let Some((public, id)) = &known.public else {
                    return Err(AuthFailure::new(
                        "no_key",
                        format!("officer {} has no registered key", actor.officer),
                    ));
                };
                if *id != auth.key_id {
                    return Err(AuthFailure::new(
                        "wrong_key",
                        format!(
                            "signed by key {}, officer {}'s key is {}",
                            crate::trust::KeyId(auth.key_id),
                            actor.officer,
                            crate::trust::KeyId(*id)
                        ),
                    ));
                }
                public.verify(&message, &auth.signature).map_err(|_| {
                    AuthFailure::new("bad_signature", "the signature does not verify")
                })?;
            }
        }
        Ok((auth, known))
    }

    /// Record an attempt that failed authentication (under [`Actor::unauthenticated`]) and
    /// return the refusal.
    fn refuse_unauthenticated(
        &self,
        state: &mut State,
        claimed: &Actor,
        command: CommandKind,
        now: DateTime<Utc>,
        f: AuthFailure,
    ) -> Result<EngineError, EngineError> {
        let event = Event::AuthenticationFailed(AuthenticationFailed {
            claimed_officer: claimed.officer.clone(),
            claimed_station: claimed.station.clone(),
            command,
            code: f.code.to_string(),
            message: f.message.clone(),
        });
        let last = self.commit(state, &Actor::unauthenticated(), now, vec![event], None)?;
        if state.store_keeps_events() {
            // (Under the state lock here: written at once.)
            self.flush(state)?;
        }
        self.journal.wait_durable(last)?;
        Ok(EngineError::Refused(Refusal {
            command,
            code: f.code,
            message: f.message,
        }))
    }

    /// Authorise `command` for `actor` and read the state with `read` under the lock, recording a
    /// refusal as [`Engine::execute`] does; nothing else is recorded. For commands that prepare
    /// files outside the lock (publishing) before recording what they did. Signed like a
    /// command (the payload is the command's kind).
    pub fn authorized_read<R>(
        &self,
        actor: &Actor,
        command: CommandKind,
        read: impl FnOnce(&Ctx<'_>) -> Result<R, EngineError>,
    ) -> Result<R, EngineError> {
        let payload = auth::payload_hash(&command);
        let now_ms = self.options.clock.now().timestamp_millis();
        let signed = auth::sign(actor, command, payload, now_ms);
        self.checked_read(actor, command, &payload, signed, read)
    }

    /// Check a signature over `payload` (outside the lock), then under the lock that the officer
    /// is current, authorise, and read with `read`; an authentication failure or a refusal is
    /// recorded, nothing else. [`Engine::authorized_read`] and [`Engine::authenticate`].
    fn checked_read<R>(
        &self,
        actor: &Actor,
        command: CommandKind,
        payload: &[u8; 32],
        signed: Option<CommandAuth>,
        read: impl FnOnce(&Ctx<'_>) -> Result<R, EngineError>,
    ) -> Result<R, EngineError> {
        let checked = self.verify_signature(actor, command, payload, signed);
        let mut state = self.lock_state();
        let now = self.options.clock.now();
        let auth = match checked
            .and_then(|(a, k)| check_current(&state, actor, &a, &k, now).map(|()| a))
        {
            Ok(a) => a,
            Err(f) => return Err(self.refuse_unauthenticated(&mut state, actor, command, now, f)?),
        };
        let result = self.authorize(&state, actor, command).and_then(|station| {
            let ctx = Ctx {
                state: &state,
                actor,
                station,
                now,
                today: crate::time::china_date(now),
                command,
                engine: self,
            };
            read(&ctx)
        });
        match result {
            Err(EngineError::Refused(r)) => {
                let last = self.commit(
                    &mut state,
                    actor,
                    now,
                    vec![refused_event(&r, None)],
                    Some(&auth),
                )?;
                drop(state);
                self.make_durable(last)?;
                Err(EngineError::Refused(r))
            }
            other => other,
        }
    }

    /// Authenticate and authorise a request signed elsewhere that records nothing when it
    /// succeeds: online verification (L3) and certificate checks (A8), whose answers are what a
    /// unit's own offline copy would give. The same checks as [`Engine::execute_signed`], in the
    /// same order (signature outside the lock; then officer active, key current, time within
    /// [`auth::MAX_SKEW_MS`], station and kind); a failure is recorded as `execute_signed`
    /// records it. Nonces are not remembered (nothing is recorded): a replayed request within
    /// the skew window gets the same kind of answer again, and changes nothing.
    ///
    /// ```
    /// use idcard::engine::{Engine, EngineOptions, auth};
    /// use idcard::station::{Actor, CommandKind};
    /// # let dir = tempfile::tempdir()?;
    /// let (engine, _) = Engine::open(dir.path(), EngineOptions::default())?;
    /// let unit = Actor::new("BANK-1", "UNIT-1")?;
    /// let payload = auth::payload_hash(&"a batch of cards");
    /// // Not signed: refused, and the attempt is recorded.
    /// let refused = engine.authenticate(&unit, CommandKind::VerifyOnline, payload, None);
    /// assert_eq!(refused.unwrap_err().refusal().unwrap().code, "no_signature");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn authenticate(
        &self,
        actor: &Actor,
        command: CommandKind,
        payload: [u8; 32],
        auth: Option<CommandAuth>,
    ) -> Result<(), EngineError> {
        self.checked_read(actor, command, &payload, auth, |_| Ok(()))
    }

    /// Read personal data (S2): authenticated and authorised like a command (kind
    /// [`CommandKind::ReadPersonalData`]: police stations only), and recorded — what was read
    /// (`what`, e.g. `card_show`), about whom (`subject`), why (`purpose`, required) and how many
    /// items `read` returned (its second value) — before the answer is returned.
    pub fn read_personal<R>(
        &self,
        actor: &Actor,
        what: &str,
        subject: Option<Subject>,
        purpose: &str,
        read: impl FnOnce(&State) -> (R, u64),
    ) -> Result<R, EngineError> {
        let command = CommandKind::ReadPersonalData;
        let payload = auth::payload_hash(&(what, &subject, purpose));
        let now_ms = self.options.clock.now().timestamp_millis();
        let signed = auth::sign(actor, command, payload, now_ms);
        let checked = self.verify_signature(actor, command, &payload, signed);
        let mut state = self.lock_state();
        let now = self.options.clock.now();
        let auth = match checked
            .and_then(|(a, k)| check_current(&state, actor, &a, &k, now).map(|()| a))
        {
            Ok(a) => a,
            Err(f) => return Err(self.refuse_unauthenticated(&mut state, actor, command, now, f)?),
        };
        let refusal = match self.authorize(&state, actor, command) {
            Err(EngineError::Refused(r)) => Some(r),
            Err(e) => return Err(e),
            Ok(_) if purpose.trim().is_empty() => Some(Refusal {
                command,
                code: "purpose_required",
                message: "state the purpose of the read (S2)".into(),
            }),
            Ok(_) => None,
        };
        if let Some(r) = refusal {
            let last = self.commit(
                &mut state,
                actor,
                now,
                vec![refused_event(&r, subject)],
                Some(&auth),
            )?;
            drop(state);
            self.make_durable(last)?;
            return Err(EngineError::Refused(r));
        }
        let (out, items) = read(&state);
        let event = Event::PersonalDataRead(PersonalDataRead {
            what: what.to_string(),
            subject,
            purpose: purpose.trim().to_string(),
            items,
        });
        let last = self.commit(&mut state, actor, now, vec![event], Some(&auth))?;
        drop(state);
        self.make_durable(last)?;
        self.checkpoint_when_due(last)?;
        Ok(out)
    }

    /// Append events, apply them, feed the projections. Returns the last sequence number.
    fn commit(
        &self,
        state: &mut State,
        actor: &Actor,
        now: DateTime<Utc>,
        events: Vec<Event>,
        auth: Option<&CommandAuth>,
    ) -> Result<u64, EngineError> {
        let at_ms = now.timestamp_millis().max(state.last_at_ms);
        let mut last = state.last_seq;
        for event in events {
            let record = Record {
                at_ms,
                actor: actor.clone(),
                event,
                auth: auth.cloned(),
            };
            let payload = record.encode();
            let seq = self.journal.enqueue(&payload)?;
            state.apply(seq, &record);
            if state.store_keeps_events() {
                let (last, chain) = self.journal.last();
                debug_assert_eq!(last, seq);
                state.keep_event(seq, &chain, &payload, &record);
            }
            // Keep the officers readable outside the lock in step with the state.
            let changed = match &record.event {
                Event::OfficerRegisteredV2(o) => Some(&o.id),
                Event::OfficerKeySet(k) => Some(&k.officer),
                Event::OfficerDeactivated(d) => Some(&d.officer),
                _ => None,
            };
            if let Some(id) = changed
                && let Some(o) = state.officers.get(id)
            {
                self.officers.insert(id.clone(), KnownOfficer::of(o));
            }
            for p in &self.projections {
                p.applied(state, seq, &record)
                    .map_err(|e| EngineError::Projection {
                        name: p.name().to_string(),
                        message: e.to_string(),
                    })?;
            }
            last = seq;
            if let Some(e) = state.store_failure() {
                // The record is in the journal; the state no longer follows it. Reopening
                // replays from the store's sequence.
                return Err(e.clone().into());
            }
            // Within a command too: an import of millions stays in bounded memory.
            if state.pending() >= self.options.store_flush_every.max(1) {
                self.flush(state)?;
            }
        }
        Ok(last)
    }

    /// Write the pending changes to people and cards to the store, once the records that made
    /// them are durable (the store is never ahead of the journal). Under the state lock.
    fn flush(&self, state: &mut State) -> Result<(), EngineError> {
        self.journal.wait_durable(state.last_seq)?;
        let (seq, chain) = self.journal.last();
        debug_assert_eq!(seq, state.last_seq);
        state.flush(&chain)?;
        self.stored.fetch_max(seq, Ordering::AcqRel);
        Ok(())
    }

    /// Make the records up to `last` durable before a command returns: in the journal and,
    /// for a store that keeps the records (PostgreSQL), in the store — so a replica of it holds
    /// everything acknowledged. Called without the state lock. Group commit: one caller writes
    /// every record pending, for itself and for those waiting behind it.
    fn make_durable(&self, last: u64) -> Result<(), EngineError> {
        self.journal.wait_durable(last)?;
        if !self.keeps_events || self.stored.load(Ordering::Acquire) >= last {
            return Ok(());
        }
        let _writer = self.store_writer.lock().unwrap_or_else(|p| p.into_inner());
        if self.stored.load(Ordering::Acquire) >= last {
            return Ok(());
        }
        let mut state = self.lock_state();
        self.flush(&mut state)
    }

    /// Write a checkpoint of the state now (at a durable point), with the journal's chain hash
    /// there, and a signed head beside it (`heads/{seq:020}.idch`). The state is encoded under the
    /// lock; the files are written after it is released.
    pub fn checkpoint(&self) -> Result<u64, EngineError> {
        let (seq, chain, bytes) = {
            let mut state = self.lock_state();
            // Everything applied is enqueued; make it durable so the checkpoint never runs
            // ahead of the journal; the store gets the changes to people and cards (the
            // checkpoint holds the rest).
            self.flush(&mut state)?;
            let (seq, chain) = self.journal.last();
            debug_assert_eq!(seq, state.last_seq);
            (
                seq,
                chain,
                checkpoint::encode(&state, &chain, self.head_signer.as_ref())?,
            )
        };
        checkpoint::write(&self.dir.join("checkpoints"), seq, &bytes)?;
        self.write_head(seq, chain, None)?;
        self.checkpoint_seq.fetch_max(seq, Ordering::AcqRel);
        Ok(seq)
    }

    /// The journal's head: the last record and the chain hash after it (durable once the
    /// command that wrote it has returned).
    pub fn head(&self) -> (u64, Chain) {
        let _state = self.lock_state();
        self.journal.last()
    }

    /// Sign the journal's head now and write it to `heads/{seq:020}.idch`, and to `also` when
    /// given (beside a published file, for anyone outside the platform to hold).
    pub fn sign_head(&self, also: Option<&Path>) -> Result<Head, EngineError> {
        let (seq, chain) = {
            let state = self.lock_state();
            self.journal.wait_durable(state.last_seq)?;
            self.journal.last()
        };
        self.write_head(seq, chain, also)
    }

    /// Sign the journal's head and write it to `path` only (beside a published file: the heads
    /// directory keeps those of checkpoints and of [`Engine::sign_head`]).
    pub fn publish_head(&self, path: &Path) -> Result<Head, EngineError> {
        let (seq, chain) = {
            let state = self.lock_state();
            self.journal.wait_durable(state.last_seq)?;
            self.journal.last()
        };
        let head = Head {
            seq,
            at: self.options.clock.now(),
            chain,
        };
        head.write(path, self.head_signer.as_ref())?;
        Ok(head)
    }

    fn write_head(&self, seq: u64, chain: Chain, also: Option<&Path>) -> Result<Head, EngineError> {
        let head = Head {
            seq,
            at: self.options.clock.now(),
            chain,
        };
        let heads = self.dir.join("heads");
        crate::fsutil::create_private_dir(&heads).map_err(|e| EngineError::io(&heads, e))?;
        head.write(
            &heads.join(format!("{seq:020}.idch")),
            self.head_signer.as_ref(),
        )?;
        if let Some(path) = also {
            head.write(path, self.head_signer.as_ref())?;
        }
        Ok(head)
    }

    /// Close: write a checkpoint if [`EngineOptions::checkpoint_every`] records have been added
    /// since the last one.
    pub fn close(self) -> Result<(), EngineError> {
        {
            let mut state = self.lock_state();
            self.flush(&mut state)?;
        }
        let since = self.last_seq() - self.checkpoint_seq.load(Ordering::Acquire);
        if since >= self.options.checkpoint_every {
            self.checkpoint()?;
        }
        Ok(())
    }
}

/// Refuse a command of territorial jurisdiction that acts outside the acting station's
/// territory (S1; [`crate::station::jurisdiction`]).
fn check_jurisdiction<C: Command>(ctx: &Ctx<'_>, command: &C) -> Result<(), EngineError> {
    if crate::station::jurisdiction(C::KIND) != crate::station::Jurisdiction::Territorial {
        return Ok(());
    }
    let territory = ctx.station.territory();
    for d in command.territories(ctx)? {
        if !territory.contains(d) {
            return Err(ctx.refuse(
                "outside_jurisdiction",
                format!(
                    "{d} lies outside the jurisdiction of {} ({territory})",
                    ctx.station.id
                ),
            ));
        }
    }
    Ok(())
}

/// What heads are checked against: the options' trust store, else the key that signs them (the
/// record's own head key, or the one given in the options) and the record's own key.
fn head_trust(
    dir: &Path,
    options: &EngineOptions,
    signer: &(dyn Sign + Send + Sync),
) -> Result<TrustStore, EngineError> {
    match &options.head_trust {
        Some(t) => Ok(t.clone()),
        None => {
            let own = secrets::head_public(dir)?;
            let mut keys = vec![signer.public()];
            if own.id() != keys[0].id() {
                keys.push(own);
            }
            Ok(TrustStore::new(keys))
        }
    }
}

/// The journal's chain hash after record `seq` (`GENESIS` for 0).
impl From<crate::projection::files::FileError> for EngineError {
    fn from(e: crate::projection::files::FileError) -> Self {
        match e {
            crate::projection::files::FileError::Index(e) => EngineError::Index(e),
            crate::projection::files::FileError::Store(e) => EngineError::Store(e),
        }
    }
}

/// Where the embedded population store of a data directory lives.
pub fn store_path(dir: &Path) -> PathBuf {
    crate::store::embedded_path(dir)
}

/// The store the engine opens: its sequence number and chain hash, and why it was set aside and
/// rebuilt (then empty, at sequence 0). A store is set aside when it does not open (damaged, of
/// another format), reflects records beyond the journal's end, or names a chain hash the
/// journal does not have at its sequence (another record's store, or a journal edited since).
type OpenedStore = (Arc<dyn crate::store::RowStore>, u64, Chain, Option<String>);

fn open_store(
    dir: &Path,
    options: &EngineOptions,
    last_seq: u64,
    chain_at: &dyn Fn(u64) -> Result<Chain, EngineError>,
) -> Result<OpenedStore, EngineError> {
    let provider: Arc<dyn crate::store::StoreProvider> = options
        .store
        .clone()
        .unwrap_or_else(|| Arc::new(crate::store::Embedded));
    let unreadable = |e: crate::store::StoreError| {
        if provider.set_aside_unreadable() {
            Ok(e.what)
        } else {
            Err(EngineError::Store(e))
        }
    };
    let why = match provider.open(dir, options.store_cache_bytes) {
        Ok(store) => match store.tag() {
            Err(e) => unreadable(e)?,
            Ok(None) => return Ok((store, 0, GENESIS, None)),
            Ok(Some((seq, _))) if seq > last_seq => {
                format!("it reflects records up to {seq}, beyond the journal's end ({last_seq})")
            }
            Ok(Some((seq, chain))) => {
                let journal = chain_at(seq)?;
                if journal == chain {
                    return Ok((store, seq, chain, None));
                }
                format!(
                    "its chain hash {} at sequence {seq} is not the journal's ({})",
                    crate::journal::chain_hex(&chain),
                    crate::journal::chain_hex(&journal)
                )
            }
        },
        Err(e) if e.in_use => return Err(EngineError::Locked(dir.display().to_string())),
        Err(e) => unreadable(e)?,
    };
    // Set aside (kept for inspection, one generation), never silently used.
    let aside = provider.set_aside(dir)?;
    let store = provider.open(dir, options.store_cache_bytes)?;
    Ok((
        store,
        0,
        GENESIS,
        Some(format!("{aside}: {why}; rebuilt from the journal")),
    ))
}

fn chain_at(journal: &Journal, seq: u64) -> Result<Chain, EngineError> {
    if seq == 0 {
        return Ok(GENESIS);
    }
    let (last, chain) = journal.last();
    if seq == last {
        return Ok(chain);
    }
    let mut reader = journal.read_from(seq)?;
    if let Some(item) = reader.next() {
        item?;
        if let Some(c) = reader.chain_hash() {
            return Ok(c);
        }
    }
    // A record of a format-1 segment read from the middle: its chain is computed from the
    // first record on.
    let mut reader = crate::journal::read_dir(journal.dir(), seq)?;
    if let Some(item) = reader.next() {
        item?;
    }
    reader.chain_hash().ok_or(EngineError::Replay {
        seq,
        what: "no chain hash for this record".into(),
    })
}

/// The signed heads of a data directory, newest first.
fn list_heads(dir: &Path) -> Vec<(u64, PathBuf)> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir.join("heads")) {
        for e in entries.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if let Some(stem) = name.strip_suffix(".idch")
                && let Ok(seq) = stem.parse::<u64>()
            {
                out.push((seq, e.path()));
            }
        }
    }
    out.sort();
    out.reverse();
    out
}

/// Check the newest signed head against the journal (see [`Engine::open`]).
fn check_newest_head(
    dir: &Path,
    journal: &Journal,
    trust: &TrustStore,
) -> Result<Option<u64>, EngineError> {
    let Some((_, path)) = list_heads(dir).into_iter().next() else {
        return Ok(None);
    };
    let (head, _) = Head::read_verified(&path, trust)?;
    check_head(&path, &head, journal)?;
    Ok(Some(head.seq))
}

fn check_head(path: &Path, head: &Head, journal: &Journal) -> Result<(), EngineError> {
    let mismatch = |journal_chain: String| EngineError::HeadMismatch {
        path: path.display().to_string(),
        seq: head.seq,
        head_chain: crate::journal::chain_hex(&head.chain),
        journal_chain,
    };
    if head.seq > journal.last().0 {
        return Err(mismatch(String::new()));
    }
    let chain = chain_at(journal, head.seq)?;
    if chain != head.chain {
        return Err(mismatch(crate::journal::chain_hex(&chain)));
    }
    Ok(())
}

fn refused_event(r: &Refusal, subject: Option<Subject>) -> Event {
    Event::CommandRefusedV2(CommandRefusedV2 {
        command: r.command,
        code: r.code.to_string(),
        message: r.message.clone(),
        subject,
    })
}

/// The checks of a signed command that need the state (under its lock): the officer is still
/// registered and active, the key is still theirs, the time is current, the nonce is new.
fn check_current(
    state: &State,
    actor: &Actor,
    auth: &CommandAuth,
    known: &KnownOfficer,
    now: DateTime<Utc>,
) -> Result<(), AuthFailure> {
    let officer = state.officers.get(&actor.officer).ok_or_else(|| {
        AuthFailure::new(
            "unknown_officer",
            format!("officer {} is not registered", actor.officer),
        )
    })?;
    if !officer.active {
        return Err(AuthFailure::new(
            "officer_inactive",
            format!(
                "officer {} may no longer act (their key is revoked)",
                actor.officer
            ),
        ));
    }
    // The key checked outside the lock is still the officer's (not replaced meanwhile).
    if officer.key != known.officer.key {
        return Err(AuthFailure::new(
            "wrong_key",
            format!(
                "signed by key {}, not officer {}'s current key",
                crate::trust::KeyId(auth.key_id),
                actor.officer
            ),
        ));
    }
    let skew = (auth.at_ms - now.timestamp_millis()).abs();
    if skew > auth::MAX_SKEW_MS {
        return Err(AuthFailure::new(
            "clock_skew",
            format!(
                "signed {} s away from the record's clock (at most {} s)",
                skew / 1000,
                auth::MAX_SKEW_MS / 1000
            ),
        ));
    }
    if state.nonces.contains(&auth.nonce) {
        return Err(AuthFailure::new(
            "replayed",
            "this signed command was already executed (a replay)",
        ));
    }
    Ok(())
}
