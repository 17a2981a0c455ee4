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
//! use idcard::station::{Officer, Station, StationKind};
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
use crate::journal::{Journal, JournalError, JournalOptions, Recovery};
use crate::model::{CommandRefused, Event, OfficerRegistered, Record, State, StationRegistered};
use crate::population::{ExternalError, FingerprintMatcher, PopulationDirectory};
use crate::projection::{LiveVerifier, Projection};
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
pub trait Command {
    /// Which command this is (the authorization matrix's row, S1).
    const KIND: CommandKind;
    /// What the decision hands on to [`Command::finish`].
    type Decided;
    /// What the caller gets back.
    type Output;

    /// Decide against the state: the events to record and what to hand on, or a refusal
    /// ([`Ctx::refuse`]).
    fn decide(&self, ctx: &Ctx<'_>) -> Result<(Vec<Event>, Self::Decided), EngineError>;

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
    /// Write a checkpoint when closing after this many records since the last one.
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
    /// Checkpoints not loaded, and why (damaged, beyond the journal, an older format).
    pub checkpoints_skipped: Vec<String>,
    /// Records replayed after the checkpoint.
    pub replayed: u64,
    /// The last sequence number.
    pub last_seq: u64,
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

/// The engine (see the module documentation). `Send + Sync`: share it between threads; commands
/// are serialised on the state, their durability waits are shared (group commit).
pub struct Engine {
    dir: PathBuf,
    _lock: File,
    journal: Journal,
    state: Mutex<State>,
    options: EngineOptions,
    checkpoint_seq: AtomicU64,
    live: Option<Arc<LiveVerifier>>,
    projections: Vec<Arc<dyn Projection>>,
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
        secrets::ensure(&dir)?;
        let (journal, recovery) = Journal::open(dir.join("journal"), options.journal)?;
        let (mut state, checkpoint_seq, skipped) =
            checkpoint::load_newest(&dir.join("checkpoints"), recovery.last_seq)?;
        let mut replayed = 0;
        for item in journal.read_from(state.last_seq + 1)? {
            let (seq, record) = decode(item)?;
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
            checkpoint_seq: AtomicU64::new(checkpoint_seq.unwrap_or(0)),
            live,
            projections,
            options,
        };
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
        } else if bureau.kind != crate::station::StationKind::CountyBureau {
            Some((
                "station_kind_not_allowed",
                "the first station must be a county bureau",
            ))
        } else if officer.station != bureau.id {
            Some((
                "officer_not_at_station",
                "the first officer must belong to the first bureau",
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
                (vec![refused_event(&r)], Err(EngineError::Refused(r)))
            }
            None => (
                vec![
                    Event::StationRegistered(StationRegistered {
                        id: bureau.id,
                        kind: bureau.kind,
                        division: bureau.division,
                        name: bureau.name,
                    }),
                    Event::OfficerRegistered(OfficerRegistered {
                        id: officer.id,
                        name: officer.name,
                        station: officer.station,
                    }),
                ],
                Ok(()),
            ),
        };
        let last = self.commit(&mut state, &actor, now, events)?;
        drop(state);
        self.journal.wait_durable(last)?;
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

    /// Execute a command: authorise, decide, record the events (or the refusal), apply them,
    /// wait until durable, finish.
    pub fn execute<C: Command>(
        &self,
        actor: &Actor,
        command: &C,
    ) -> Result<C::Output, EngineError> {
        let mut state = self.lock_state();
        let now = self.options.clock.now();
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
            command.decide(&ctx)
        });
        match decided {
            Ok((events, decided)) => {
                if events.is_empty() {
                    let seq = state.last_seq;
                    return Ok(C::finish(decided, seq, &state));
                }
                let last = self.commit(&mut state, actor, now, events)?;
                let out = C::finish(decided, last, &state);
                drop(state);
                self.journal.wait_durable(last)?;
                Ok(out)
            }
            Err(EngineError::Refused(r)) => {
                let last = self.commit(&mut state, actor, now, vec![refused_event(&r)])?;
                drop(state);
                self.journal.wait_durable(last)?;
                Err(EngineError::Refused(r))
            }
            Err(e) => Err(e),
        }
    }

    /// Authorise `command` for `actor` and read the state with `read` under the lock, recording a
    /// refusal as [`Engine::execute`] does; nothing else is recorded. For commands that prepare
    /// files outside the lock (publishing) before recording what they did.
    pub fn authorized_read<R>(
        &self,
        actor: &Actor,
        command: CommandKind,
        read: impl FnOnce(&Ctx<'_>) -> Result<R, EngineError>,
    ) -> Result<R, EngineError> {
        let mut state = self.lock_state();
        let now = self.options.clock.now();
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
                let last = self.commit(&mut state, actor, now, vec![refused_event(&r)])?;
                drop(state);
                self.journal.wait_durable(last)?;
                Err(EngineError::Refused(r))
            }
            other => other,
        }
    }

    /// Append events, apply them, feed the projections. Returns the last sequence number.
    fn commit(
        &self,
        state: &mut State,
        actor: &Actor,
        now: DateTime<Utc>,
        events: Vec<Event>,
    ) -> Result<u64, EngineError> {
        let at_ms = now.timestamp_millis().max(state.last_at_ms);
        let mut last = state.last_seq;
        for event in events {
            let record = Record {
                at_ms,
                actor: actor.clone(),
                event,
            };
            let seq = self.journal.enqueue(&record.encode())?;
            state.apply(seq, &record);
            for p in &self.projections {
                p.applied(state, seq, &record)
                    .map_err(|e| EngineError::Projection {
                        name: p.name().to_string(),
                        message: e.to_string(),
                    })?;
            }
            last = seq;
        }
        Ok(last)
    }

    /// Write a checkpoint of the state now (at a durable point). The state is encoded under the
    /// lock; the file is written after it is released.
    pub fn checkpoint(&self) -> Result<u64, EngineError> {
        let (seq, bytes) = {
            let state = self.lock_state();
            // Everything applied is enqueued; make it durable so the checkpoint never runs
            // ahead of the journal.
            self.journal.wait_durable(state.last_seq)?;
            (state.last_seq, checkpoint::encode(&state)?)
        };
        checkpoint::write(&self.dir.join("checkpoints"), seq, &bytes)?;
        self.checkpoint_seq.fetch_max(seq, Ordering::AcqRel);
        Ok(seq)
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

fn refused_event(r: &Refusal) -> Event {
    Event::CommandRefused(CommandRefused {
        command: r.command,
        code: r.code.to_string(),
        message: r.message.clone(),
    })
}
