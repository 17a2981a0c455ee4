//! The engine of the system of record: commands in, events out.
//!
//! Every command is authorised (the station kind may run it, the officer belongs to the station
//! and is active — [`crate::station::allowed`]), validated against the state and the outside
//! systems, and becomes one or more events appended to the journal and applied to the state.
//! A refused command becomes a `CommandRefused` event: refusals are audited too (S1). A command
//! returns only once its records are durable (group commit, [`crate::journal`]).
//!
//! The state is a pure function of the journal ([`State::apply`]); a checkpoint of it spares
//! replaying everything at open.
//!
//! ```
//! use idcard::engine::{Engine, EngineOptions};
//! use idcard::station::{Actor, Officer, Station, StationKind};
//! use idcard::DivisionCode;
//! let dir = tempfile::tempdir()?;
//! let (engine, _) = Engine::open(dir.path(), EngineOptions::default())?;
//! let bureau = Station { id: "110105-PSB".parse()?, kind: StationKind::CountyBureau,
//!     division: DivisionCode::new(110105).unwrap(), name: "朝阳分局".into() };
//! let chief = Officer { id: "A0001".parse()?, name: "王".into(), station: bureau.id.clone(), active: true };
//! engine.bootstrap(bureau, chief)?;
//! assert_eq!(engine.with_state(|s| s.stations.len()), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod checkpoint;
pub mod clock;
pub mod event;
pub mod state;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, NaiveDate, Utc};

pub use clock::{Clock, ManualClock, SystemClock};
pub use event::{CardRegistration, Event, Record};
pub use state::{
    BlacklistRecord, CardRecord, FoundCard, FoundOutcome, Hit, LossReport, State, Stats,
};

use crate::index::{CardEntry, DeltaBuilder, IndexError, Profile, Verifier};
use crate::journal::{Journal, JournalError, JournalOptions, Recovery};
use crate::number::IdNumber;
use crate::population::{
    ExternalError, FingerprintCheck, FingerprintMatcher, Person, PopulationDirectory,
    TemplateDigest,
};
use crate::station::{Actor, CommandKind, Officer, Station, allowed};

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
            "{} refused ({}): {}",
            serde_json_name(self.command),
            self.code,
            self.message
        )
    }
}

fn serde_json_name(c: CommandKind) -> String {
    format!("{c:?}")
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
    /// Publishing failed.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// An I/O error.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
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

/// Options of an engine.
#[derive(Clone)]
pub struct EngineOptions {
    /// The journal's options.
    pub journal: JournalOptions,
    /// Write a checkpoint when closing after this many records since the last one.
    pub checkpoint_every: u64,
    /// The clock (default: the system clock).
    pub clock: Arc<dyn Clock>,
    /// The population directory (default: the embedded one, kept in the journal).
    pub directory: Option<Arc<dyn PopulationDirectory>>,
    /// The fingerprint matcher (default: the embedded one: template digests).
    pub matcher: Option<Arc<dyn FingerprintMatcher>>,
    /// Keep an in-process verifier of this profile up to date with every record.
    pub live_verifier: Option<Profile>,
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
    /// Damaged checkpoints skipped.
    pub checkpoints_skipped: Vec<String>,
    /// Records replayed after the checkpoint.
    pub replayed: u64,
    /// The last sequence number.
    pub last_seq: u64,
}

/// What a rule sees: the state, the authorised actor and station, the time, the outside
/// systems.
pub(crate) struct Ctx<'a> {
    pub state: &'a State,
    pub actor: &'a Actor,
    pub station: &'a Station,
    pub now: DateTime<Utc>,
    pub today: NaiveDate,
    pub command: CommandKind,
    engine: &'a Engine,
}

impl Ctx<'_> {
    /// A refusal of this command.
    pub fn refuse(&self, code: &'static str, message: impl Into<String>) -> EngineError {
        EngineError::Refused(Refusal {
            command: self.command,
            code,
            message: message.into(),
        })
    }

    /// The person from the population directory (S1: identity verified against it).
    pub fn person(&self, number: IdNumber) -> Result<Option<Person>, EngineError> {
        match &self.engine.options.directory {
            Some(d) => Ok(d.person(number)?),
            None => Ok(self.state.people.get(&number).cloned()),
        }
    }

    /// The person, who must exist and be alive (A10: the papers of the dead).
    pub fn living_person(&self, number: IdNumber) -> Result<Person, EngineError> {
        let p = self.person(number)?.ok_or_else(|| {
            self.refuse(
                "unknown_person",
                format!("{number} is not in the population directory"),
            )
        })?;
        if p.deceased {
            return Err(self.refuse(
                "person_deceased",
                format!("{number} is registered as deceased"),
            ));
        }
        Ok(p)
    }

    /// In-person identity (A10, L2): the person present must be `holder`, alive, and, when
    /// fingerprints are registered, give a matching sample.
    pub fn in_person(
        &self,
        holder: IdNumber,
        present: &InPerson,
        fingerprints_registered: bool,
    ) -> Result<FingerprintCheck, EngineError> {
        if present.number != holder {
            return Err(self.refuse(
                "not_the_holder",
                "only the holder in person may do this (A10); the person present is someone else",
            ));
        }
        self.living_person(holder)?;
        if !fingerprints_registered {
            return Ok(FingerprintCheck::NotRegistered);
        }
        let Some(sample) = &present.fingerprint else {
            return Err(self.refuse(
                "fingerprint_required",
                "the card has registered fingerprints: compare them on the spot (L2)",
            ));
        };
        if self.fingerprint_matches(holder, sample)? {
            Ok(FingerprintCheck::Matched)
        } else {
            Err(self.refuse(
                "fingerprint_mismatch",
                "the fingerprint does not match the one registered",
            ))
        }
    }

    /// The journal's records from `from` on, after making everything applied durable (so they
    /// reach the state's last sequence).
    pub fn durable_records(
        &self,
        from: u64,
    ) -> Result<impl Iterator<Item = Result<(u64, Record), EngineError>> + use<>, EngineError> {
        self.engine.journal.wait_durable(self.state.last_seq)?;
        self.engine.records(from)
    }

    /// Compare a sample with the enrolled fingerprint.
    pub fn fingerprint_matches(
        &self,
        number: IdNumber,
        sample: &[u8],
    ) -> Result<bool, EngineError> {
        match &self.engine.options.matcher {
            Some(m) => Ok(m.matches(number, sample)?),
            None => Ok(self
                .person(number)?
                .and_then(|p| p.fingerprint)
                .is_some_and(|t| t == TemplateDigest::of(sample))),
        }
    }
}

/// Read the records of a data directory without opening it for writing (an engine may be running
/// on it): decoded, from sequence `from` on. For analysts (the Python package) and auditors.
pub fn read_records(
    dir: impl AsRef<Path>,
    from: u64,
) -> Result<impl Iterator<Item = Result<(u64, Record), EngineError>>, EngineError> {
    Ok(
        crate::journal::read_dir(dir.as_ref().join("journal"), from)?.map(|item| {
            let (seq, payload) = item?;
            let record =
                Record::decode(&payload).map_err(|what| EngineError::Replay { seq, what })?;
            Ok((seq, record))
        }),
    )
}

/// The person present at the counter: their number (as read from their papers) and, when
/// needed, a fingerprint sample.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InPerson {
    /// Who is present.
    pub number: IdNumber,
    /// A fingerprint sample, when taken.
    pub fingerprint: Option<Vec<u8>>,
}

impl InPerson {
    /// The holder present, without a fingerprint sample.
    pub fn holder(number: IdNumber) -> InPerson {
        InPerson {
            number,
            fingerprint: None,
        }
    }

    /// With a fingerprint sample.
    pub fn with_fingerprint(mut self, sample: impl Into<Vec<u8>>) -> InPerson {
        self.fingerprint = Some(sample.into());
        self
    }
}

struct Live {
    verifier: Verifier,
    info: crate::index::SnapshotInfo,
    profile: Profile,
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
    live: Option<Live>,
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
    /// replay the records after it.
    pub fn open(
        dir: impl AsRef<Path>,
        options: EngineOptions,
    ) -> Result<(Engine, OpenReport), EngineError> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|e| EngineError::io(&dir, e))?;
        let lock_path = dir.join("LOCK");
        let lock = File::create(&lock_path).map_err(|e| EngineError::io(&lock_path, e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(EngineError::Locked(dir.display().to_string()));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(EngineError::io(&lock_path, e)),
        }
        let (journal, recovery) = Journal::open(dir.join("journal"), options.journal)?;
        let (mut state, checkpoint_seq, skipped) =
            checkpoint::load_newest(&dir.join("checkpoints"), recovery.last_seq)?;
        let mut replayed = 0;
        for item in journal.read_from(state.last_seq + 1)? {
            let (seq, payload) = item?;
            let record =
                Record::decode(&payload).map_err(|what| EngineError::Replay { seq, what })?;
            state.apply(seq, &record);
            replayed += 1;
        }
        let report = OpenReport {
            recovery,
            checkpoint_seq,
            checkpoints_skipped: skipped,
            replayed,
            last_seq: state.last_seq,
        };
        let mut engine = Engine {
            dir,
            _lock: lock,
            journal,
            state: Mutex::new(state),
            checkpoint_seq: AtomicU64::new(checkpoint_seq.unwrap_or(0)),
            live: None,
            options,
        };
        if let Some(profile) = engine.options.live_verifier {
            engine.live = Some(engine.start_live(profile)?);
        }
        Ok((engine, report))
    }

    fn start_live(&self, profile: Profile) -> Result<Live, EngineError> {
        let live_dir = self.dir.join("live");
        std::fs::create_dir_all(&live_dir).map_err(|e| EngineError::io(&live_dir, e))?;
        let path = live_dir.join(format!("{}.idcs", profile.as_str()));
        let state = self.lock_state();
        let info =
            crate::publish::build_snapshot(&state, profile, &path, self.options.clock.now())?;
        let verifier = Verifier::open(&path)?;
        Ok(Live {
            verifier,
            info,
            profile,
        })
    }

    pub(crate) fn lock_state(&self) -> MutexGuard<'_, State> {
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

    /// Read the state.
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
        self.live.as_ref().map(|l| &l.verifier)
    }

    /// The journal's records from `from` on, decoded.
    pub fn records(
        &self,
        from: u64,
    ) -> Result<impl Iterator<Item = Result<(u64, Record), EngineError>> + use<>, EngineError> {
        Ok(self.journal.read_from(from)?.map(|item| {
            let (seq, payload) = item?;
            let record =
                Record::decode(&payload).map_err(|what| EngineError::Replay { seq, what })?;
            Ok((seq, record))
        }))
    }

    /// Register the first county bureau and its first officer of an empty system (the actor is
    /// [`Actor::system`]). Refused once any station exists.
    pub fn bootstrap(&self, bureau: Station, officer: Officer) -> Result<(), EngineError> {
        let actor = Actor::system();
        let mut state = self.lock_state();
        let now = self.options.clock.now();
        let refusal = if !state.stations.is_empty() {
            Some((
                "not_empty",
                "the system already has stations; register new ones as a county bureau officer"
                    .to_string(),
            ))
        } else if bureau.kind != crate::station::StationKind::CountyBureau {
            Some((
                "station_kind_not_allowed",
                "the first station must be a county bureau".to_string(),
            ))
        } else if officer.station != bureau.id {
            Some((
                "officer_not_at_station",
                "the first officer must belong to the first bureau".to_string(),
            ))
        } else {
            None
        };
        if let Some((code, message)) = refusal {
            let last = self.record(
                &mut state,
                &actor,
                now,
                vec![Event::CommandRefused {
                    command: CommandKind::RegisterStation,
                    code: code.into(),
                    message: message.clone(),
                }],
            )?;
            drop(state);
            self.journal.wait_durable(last)?;
            return Err(EngineError::Refused(Refusal {
                command: CommandKind::RegisterStation,
                code,
                message,
            }));
        }
        let last = self.record(
            &mut state,
            &actor,
            now,
            vec![
                Event::StationRegistered(bureau),
                Event::OfficerRegistered(officer),
            ],
        )?;
        drop(state);
        self.journal.wait_durable(last)?;
        Ok(())
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
                format!("a {} may not {}", station.kind, serde_json_name(command)),
            ));
        }
        Ok(station)
    }

    /// Run a command: authorise, validate (`rule`), record the events (or the refusal), wait
    /// until durable.
    pub(crate) fn run<T>(
        &self,
        actor: &Actor,
        command: CommandKind,
        rule: impl FnOnce(&Ctx<'_>) -> Result<(Vec<Event>, T), EngineError>,
    ) -> Result<T, EngineError> {
        self.run_seq(actor, command, rule).map(|(t, _)| t)
    }

    /// [`Engine::run`], also returning the sequence number of the last event recorded (the
    /// identifier of what the command created).
    pub(crate) fn run_seq<T>(
        &self,
        actor: &Actor,
        command: CommandKind,
        rule: impl FnOnce(&Ctx<'_>) -> Result<(Vec<Event>, T), EngineError>,
    ) -> Result<(T, u64), EngineError> {
        let mut state = self.lock_state();
        let now = self.options.clock.now();
        let result = self.authorize(&state, actor, command).and_then(|station| {
            let ctx = Ctx {
                state: &state,
                actor,
                station,
                now,
                today: (now + chrono::Duration::hours(8)).date_naive(),
                command,
                engine: self,
            };
            rule(&ctx)
        });
        let (events, out) = match result {
            Ok((events, out)) => (events, Ok(out)),
            Err(EngineError::Refused(r)) => (
                vec![Event::CommandRefused {
                    command,
                    code: r.code.to_string(),
                    message: r.message.clone(),
                }],
                Err(EngineError::Refused(r)),
            ),
            Err(e) => return Err(e),
        };
        if events.is_empty() {
            return out.map(|t| (t, state.last_seq));
        }
        let last = self.record(&mut state, actor, now, events)?;
        drop(state);
        self.journal.wait_durable(last)?;
        out.map(|t| (t, last))
    }

    /// Append events and apply them; keep the live verifier in step. Returns the last sequence.
    fn record(
        &self,
        state: &mut State,
        actor: &Actor,
        now: DateTime<Utc>,
        events: Vec<Event>,
    ) -> Result<u64, EngineError> {
        let at_ms = now.timestamp_millis().max(state.last_at_ms);
        let mut last = 0;
        for event in events {
            let record = Record {
                at_ms,
                actor: actor.clone(),
                event,
            };
            let seq = self.journal.enqueue(&record.encode())?;
            state.apply(seq, &record);
            if let Some(live) = &self.live {
                self.update_live(live, state, seq, &record)?;
            }
            last = seq;
        }
        Ok(last)
    }

    fn update_live(
        &self,
        live: &Live,
        state: &State,
        seq: u64,
        record: &Record,
    ) -> Result<(), EngineError> {
        let mut cards = Vec::new();
        let mut people = Vec::new();
        record.event.touches(&mut cards, &mut people);
        let mut d = DeltaBuilder::new(&live.info, seq - 1, seq);
        d.created_at(record.at_ms / 1000);
        crate::publish::delta_ops(state, live.profile, &mut d, &cards, &people)?;
        live.verifier.apply_delta(&d.build())?;
        Ok(())
    }

    /// Write a checkpoint of the state now (at a durable point).
    pub fn checkpoint(&self) -> Result<u64, EngineError> {
        let state = self.lock_state();
        // Everything applied is enqueued; make it durable so the checkpoint never runs ahead
        // of the journal.
        self.journal.wait_durable(state.last_seq)?;
        checkpoint::write(&self.dir.join("checkpoints"), &state)?;
        self.checkpoint_seq.store(state.last_seq, Ordering::Release);
        Ok(state.last_seq)
    }

    /// Close: write a checkpoint if [`EngineOptions::checkpoint_every`] records have been added
    /// since the last one.
    pub fn close(self) -> Result<(), EngineError> {
        let since = self.last_seq() - self.checkpoint_seq.load(Ordering::Acquire);
        if since >= self.options.checkpoint_every {
            self.checkpoint()?;
        }
        Ok(())
    }
}

/// A helper for rules: a card entry as the index holds it.
pub(crate) fn card_entry(c: &CardRecord) -> CardEntry {
    CardEntry {
        status: c.status,
        reason: c.reason,
        changed_on: c.changed_on,
    }
}
