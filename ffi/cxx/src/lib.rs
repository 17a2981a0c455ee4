//! The cxx bridge for the national platform (C++).
//!
//! C++ implements the population directory and the fingerprint matcher (`include/platform.h`,
//! the core's `PopulationDirectory` and `FingerprintMatcher` traits); Rust exposes the engine's
//! workflow commands and publishing. Business refusals come back as an [`ffi::Outcome`];
//! failures of the system (I/O, a damaged journal, a directory that failed) as C++ exceptions
//! (`rust::Error`). As with every cxx bridge, a Rust panic aborts the process: the bank-facing
//! surface is the plain C library (`idcard.h`), not this bridge.

use idcard::workflow::Commands;
use std::sync::Arc;

use chrono::NaiveDate;
use cxx::UniquePtr;
use idcard::engine::{Engine, EngineError, EngineOptions, InPerson};
use idcard::index::Profile;
use idcard::population::{
    ExternalError, FingerprintMatcher, Person, PersonCategory, PopulationDirectory,
};
use idcard::station::{Actor, Officer, Station};
use idcard::workflow::loss::{CardRef, LossRequest};
use idcard::{CardKey, DivisionCode, IdNumber};

#[allow(clippy::too_many_arguments)]
#[cxx::bridge(namespace = "idcard::platform")]
mod ffi {
    /// A person as the platform's directory knows them.
    struct Person {
        number: String,
        name: String,
        hukou_division: u32,
        /// 0 civilian, 1 serviceman, 2 armed police (L5).
        category: u8,
        fingerprints_registered: bool,
        contact: String,
        deceased: bool,
    }

    /// The outcome of a command: done, or refused with a code and a message (recorded).
    struct Outcome {
        ok: bool,
        code: String,
        message: String,
        /// What the command produced (a status, an identifier), when ok.
        value: String,
    }

    unsafe extern "C++" {
        include!("idcard-cxx/include/platform.h");

        type Directory;
        fn find_person(self: &Directory, number: &str, out: &mut Person) -> bool;

        type Matcher;
        fn matches(self: &Matcher, number: &str, sample: &[u8]) -> bool;

        type OfficerSigner;
        fn key_id(self: &OfficerSigner, officer: &str) -> Vec<u8>;
        fn sign(self: &OfficerSigner, officer: &str, message: &[u8]) -> Vec<u8>;

        type Authenticator;
        fn verify(
            self: &Authenticator,
            officer: &str,
            key_id: &[u8],
            message: &[u8],
            signature: &[u8],
        ) -> bool;
    }

    extern "Rust" {
        type PlatformEngine;

        /// Open (or create) a data directory with the platform's directory, matcher and PKI:
        /// every command is signed for its officer by `signer` and checked by `authenticator`
        /// before anything else (S1).
        fn open_engine(
            dir: &str,
            directory: UniquePtr<Directory>,
            matcher: UniquePtr<Matcher>,
            signer: UniquePtr<OfficerSigner>,
            authenticator: UniquePtr<Authenticator>,
        ) -> Result<Box<PlatformEngine>>;
        /// Register the first station and its first officer: the ministry for the national
        /// platform (kind as in the CLI: "ministry", "provincial_department", "county_bureau").
        fn bootstrap(
            self: &PlatformEngine,
            station_id: &str,
            kind: &str,
            division: u32,
            officer_id: &str,
        ) -> Result<Outcome>;
        /// Register a station (kind as in the CLI, e.g. "household_registration_station").
        fn register_station(
            self: &PlatformEngine,
            officer: &str,
            station: &str,
            id: &str,
            kind: &str,
            division: u32,
            name: &str,
        ) -> Result<Outcome>;
        /// Register an officer at a station.
        fn register_officer(
            self: &PlatformEngine,
            officer: &str,
            station: &str,
            id: &str,
            name: &str,
            at: &str,
        ) -> Result<Outcome>;
        /// Enter a card in the register (valid_from YYYY-MM-DD).
        fn register_card(
            self: &PlatformEngine,
            officer: &str,
            station: &str,
            number: &str,
            valid_from: &str,
            fingerprints: bool,
        ) -> Result<Outcome>;
        /// Report a card lost or stolen; `present` is the person at the counter.
        fn report_loss(
            self: &PlatformEngine,
            officer: &str,
            station: &str,
            number: &str,
            valid_from: &str,
            stolen: bool,
            present: &str,
            fingerprint: &[u8],
        ) -> Result<Outcome>;
        /// Withdraw a loss report.
        fn cancel_loss(
            self: &PlatformEngine,
            officer: &str,
            station: &str,
            number: &str,
            valid_from: &str,
            present: &str,
            fingerprint: &[u8],
        ) -> Result<Outcome>;
        /// File a hit report (L4); value: the hit's id.
        fn report_hit(
            self: &PlatformEngine,
            officer: &str,
            station: &str,
            number: &str,
            valid_from: &str,
            note: &str,
        ) -> Result<Outcome>;
        /// A card's status in the record ("valid", "lost", ...).
        fn card_status(self: &PlatformEngine, number: &str, valid_from: &str) -> Result<String>;
        /// Publish a snapshot ("bank" or "police"); value: its journal sequence.
        fn publish_snapshot(
            self: &PlatformEngine,
            officer: &str,
            station: &str,
            profile: &str,
            path: &str,
        ) -> Result<Outcome>;
        /// Publish a delta since a snapshot; value: the sequence it reaches.
        fn publish_delta(
            self: &PlatformEngine,
            officer: &str,
            station: &str,
            base: &str,
            path: &str,
        ) -> Result<Outcome>;
        /// The last journal sequence number.
        fn last_seq(self: &PlatformEngine) -> u64;
    }
}

// SAFETY: the platform contract (include/platform.h) requires thread-safe implementations; the
// engine calls them from whichever thread runs a command.
unsafe impl Send for ffi::Directory {}
unsafe impl Sync for ffi::Directory {}
unsafe impl Send for ffi::Matcher {}
unsafe impl Sync for ffi::Matcher {}
// SAFETY: platform.h requires both to be thread-safe.
unsafe impl Send for ffi::OfficerSigner {}
unsafe impl Sync for ffi::OfficerSigner {}
unsafe impl Send for ffi::Authenticator {}
unsafe impl Sync for ffi::Authenticator {}

/// An officer's signer through the platform's PKI.
struct CppSigner {
    signer: Arc<UniquePtr<ffi::OfficerSigner>>,
    officer: String,
}

impl idcard::station::CommandSigner for CppSigner {
    fn key_id(&self) -> [u8; 8] {
        let mut id = [0u8; 8];
        if let Some(s) = self.signer.as_ref().as_ref() {
            let k = s.key_id(&self.officer);
            let n = k.len().min(8);
            id[..n].copy_from_slice(&k[..n]);
        }
        id
    }
    fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.signer
            .as_ref()
            .as_ref()
            .map(|s| s.sign(&self.officer, message))
            .unwrap_or_default()
    }
}

/// The platform's PKI as the engine's authenticator.
struct CppAuthenticator(UniquePtr<ffi::Authenticator>);

impl idcard::engine::Authenticator for CppAuthenticator {
    fn verify(
        &self,
        officer: &Officer,
        message: &[u8],
        auth: &idcard::model::CommandAuth,
    ) -> Result<(), idcard::engine::AuthFailure> {
        let a = self
            .0
            .as_ref()
            .ok_or_else(|| idcard::engine::AuthFailure::new("bad_signature", "no authenticator"))?;
        if a.verify(officer.id.as_str(), &auth.key_id, message, &auth.signature) {
            Ok(())
        } else {
            Err(idcard::engine::AuthFailure::new(
                "bad_signature",
                "the platform's PKI does not accept the signature",
            ))
        }
    }
}

struct CppDirectory(UniquePtr<ffi::Directory>);

impl PopulationDirectory for CppDirectory {
    fn person(&self, number: IdNumber) -> Result<Option<Person>, ExternalError> {
        let err = |message: String| ExternalError {
            system: "platform population directory".into(),
            message,
        };
        let dir = self.0.as_ref().ok_or_else(|| err("no directory".into()))?;
        let mut p = ffi::Person {
            number: String::new(),
            name: String::new(),
            hukou_division: 0,
            category: 0,
            fingerprints_registered: false,
            contact: String::new(),
            deceased: false,
        };
        if !dir.find_person(&number.to_string(), &mut p) {
            return Ok(None);
        }
        let hukou_division = DivisionCode::new(p.hukou_division)
            .ok_or_else(|| err(format!("division {} of {number}", p.hukou_division)))?;
        Ok(Some(Person {
            number,
            name: p.name,
            hukou_division,
            category: match p.category {
                1 => PersonCategory::Serviceman,
                2 => PersonCategory::ArmedPolice,
                _ => PersonCategory::Civilian,
            },
            // The platform's matcher compares fingerprints; the digest is not used.
            fingerprint: None,
            contact: (!p.contact.is_empty()).then_some(p.contact),
            deceased: p.deceased,
            fee_exempt: false,
        }))
    }
}

struct CppMatcher(UniquePtr<ffi::Matcher>);

impl FingerprintMatcher for CppMatcher {
    fn matches(&self, number: IdNumber, sample: &[u8]) -> Result<bool, ExternalError> {
        let m = self.0.as_ref().ok_or_else(|| ExternalError {
            system: "platform fingerprint matcher".into(),
            message: "no matcher".into(),
        })?;
        Ok(m.matches(&number.to_string(), sample))
    }
}

/// The engine, for C++.
pub struct PlatformEngine {
    engine: Engine,
    signer: Arc<UniquePtr<ffi::OfficerSigner>>,
}

fn open_engine(
    dir: &str,
    directory: UniquePtr<ffi::Directory>,
    matcher: UniquePtr<ffi::Matcher>,
    signer: UniquePtr<ffi::OfficerSigner>,
    authenticator: UniquePtr<ffi::Authenticator>,
) -> Result<Box<PlatformEngine>, EngineError> {
    let options = EngineOptions {
        directory: Some(Arc::new(CppDirectory(directory))),
        matcher: Some(Arc::new(CppMatcher(matcher))),
        authenticator: Some(Arc::new(CppAuthenticator(authenticator))),
        ..Default::default()
    };
    let (engine, _) = Engine::open(dir, options)?;
    Ok(Box::new(PlatformEngine {
        engine,
        signer: Arc::new(signer),
    }))
}

fn bad(message: String) -> anyhow_like::Error {
    anyhow_like::Error(message)
}

mod anyhow_like {
    /// A plain error message for arguments C++ got wrong (a C++ exception on the other side).
    #[derive(Debug)]
    pub struct Error(pub String);

    impl std::fmt::Display for Error {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.0)
        }
    }

    impl std::error::Error for Error {}
}

type R<T> = Result<T, Box<dyn std::error::Error>>;

impl PlatformEngine {
    /// The actor, signing through the platform's PKI.
    fn actor(&self, officer: &str, station: &str) -> R<Actor> {
        Ok(Actor::new(officer, station)
            .map_err(bad)?
            .with_signer(Arc::new(CppSigner {
                signer: self.signer.clone(),
                officer: officer.to_string(),
            })))
    }
}

fn number(s: &str) -> R<IdNumber> {
    Ok(IdNumber::parse(s).map_err(|e| bad(format!("identity number {s:?}: {e}")))?)
}

fn card(n: &str, valid_from: &str) -> R<CardKey> {
    let d = NaiveDate::parse_from_str(valid_from, "%Y-%m-%d")
        .map_err(|_| bad(format!("date {valid_from:?} is not YYYY-MM-DD")))?;
    Ok(CardKey::new(number(n)?, d)?)
}

fn outcome(r: Result<String, EngineError>) -> R<ffi::Outcome> {
    match r {
        Ok(value) => Ok(ffi::Outcome {
            ok: true,
            code: String::new(),
            message: String::new(),
            value,
        }),
        Err(EngineError::Refused(r)) => Ok(ffi::Outcome {
            ok: false,
            code: r.code.to_string(),
            message: r.message,
            value: String::new(),
        }),
        Err(e) => Err(e.into()),
    }
}

fn present(p: &str, fingerprint: &[u8]) -> R<InPerson> {
    let mut i = InPerson::holder(number(p)?);
    if !fingerprint.is_empty() {
        i = i.with_fingerprint(fingerprint.to_vec());
    }
    Ok(i)
}

impl PlatformEngine {
    fn bootstrap(
        &self,
        station_id: &str,
        kind: &str,
        division: u32,
        officer_id: &str,
    ) -> R<ffi::Outcome> {
        let station = Station {
            id: station_id.parse().map_err(bad)?,
            kind: kind.parse().map_err(bad)?,
            division: DivisionCode::new(division)
                .ok_or_else(|| bad(format!("division {division}")))?,
            name: station_id.into(),
        };
        let officer = Officer {
            id: officer_id.parse().map_err(bad)?,
            name: officer_id.into(),
            station: station.id.clone(),
            active: true,
            // The platform's PKI knows the officer's key (its authenticator checks signatures).
            key: None,
        };
        outcome(
            self.engine
                .bootstrap(station, officer)
                .map(|_| String::new()),
        )
    }

    fn register_station(
        &self,
        officer: &str,
        station: &str,
        id: &str,
        kind: &str,
        division: u32,
        name: &str,
    ) -> R<ffi::Outcome> {
        let s = Station {
            id: id.parse().map_err(bad)?,
            kind: kind.parse().map_err(bad)?,
            division: DivisionCode::new(division)
                .ok_or_else(|| bad(format!("division {division}")))?,
            name: name.into(),
        };
        outcome(
            self.engine
                .register_station(&self.actor(officer, station)?, s)
                .map(|_| String::new()),
        )
    }

    fn register_officer(
        &self,
        officer: &str,
        station: &str,
        id: &str,
        name: &str,
        at: &str,
    ) -> R<ffi::Outcome> {
        let o = Officer {
            id: id.parse().map_err(bad)?,
            name: name.into(),
            station: at.parse().map_err(bad)?,
            active: true,
            key: None,
        };
        outcome(
            self.engine
                .register_officer(&self.actor(officer, station)?, o)
                .map(|_| String::new()),
        )
    }

    fn register_card(
        &self,
        officer: &str,
        station: &str,
        n: &str,
        valid_from: &str,
        fingerprints: bool,
    ) -> R<ffi::Outcome> {
        let key = card(n, valid_from)?;
        // N5: an imported card's period follows the age on its validity start.
        let reg = idcard::model::CardRegistration {
            key,
            period: idcard::ValidityPeriod::on_application(key.number(), key.valid_from())
                .map_err(|e| bad(e.to_string()))?,
            fingerprints,
        };
        outcome(
            self.engine
                .register_cards(&self.actor(officer, station)?, vec![reg])
                .map(|_| String::new()),
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn report_loss(
        &self,
        officer: &str,
        station: &str,
        n: &str,
        valid_from: &str,
        stolen: bool,
        p: &str,
        fingerprint: &[u8],
    ) -> R<ffi::Outcome> {
        let req = LossRequest {
            card: CardRef::card(card(n, valid_from)?),
            stolen,
            present: present(p, fingerprint)?,
        };
        outcome(
            self.engine
                .report_loss(&self.actor(officer, station)?, &req)
                .map(|r| r.status.to_string()),
        )
    }

    fn cancel_loss(
        &self,
        officer: &str,
        station: &str,
        n: &str,
        valid_from: &str,
        p: &str,
        fingerprint: &[u8],
    ) -> R<ffi::Outcome> {
        let key = card(n, valid_from)?;
        outcome(
            self.engine
                .cancel_loss(
                    &self.actor(officer, station)?,
                    CardRef::card(key),
                    &present(p, fingerprint)?,
                )
                .map(|_| "valid".to_string()),
        )
    }

    fn report_hit(
        &self,
        officer: &str,
        station: &str,
        n: &str,
        valid_from: &str,
        note: &str,
    ) -> R<ffi::Outcome> {
        let key = card(n, valid_from)?;
        outcome(
            self.engine
                .report_hit(&self.actor(officer, station)?, key, note)
                .map(|h| h.id.to_string()),
        )
    }

    fn card_status(&self, n: &str, valid_from: &str) -> R<String> {
        let key = card(n, valid_from)?;
        Ok(self
            .engine
            .with_state(|s| s.cards.status(key))
            .map_err(|e| e.to_string())?
            .to_string())
    }

    fn publish_snapshot(
        &self,
        officer: &str,
        station: &str,
        profile: &str,
        path: &str,
    ) -> R<ffi::Outcome> {
        let profile: Profile = profile.parse().map_err(bad)?;
        outcome(
            self.engine
                .publish_snapshot(&self.actor(officer, station)?, profile, path)
                .map(|p| p.to_seq.to_string()),
        )
    }

    fn publish_delta(
        &self,
        officer: &str,
        station: &str,
        base: &str,
        path: &str,
    ) -> R<ffi::Outcome> {
        outcome(
            self.engine
                .publish_delta(&self.actor(officer, station)?, base, path)
                .map(|p| p.to_seq.to_string()),
        )
    }

    fn last_seq(&self) -> u64 {
        self.engine.last_seq()
    }
}
