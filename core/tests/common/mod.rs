//! A small world for the system-of-record tests: a county bureau in Beijing's Chaoyang district
//! (110105), one station of every kind, four named people and their cards.
//!
//! The people (all in the embedded population directory, each with one card valid for 20
//! years):
//!
//! | who | number | hukou | card valid from | fingerprints | contact | notes |
//! |---|---|---|---|---|---|---|
//! | Alice | 110105 1985-03-12 | 110105 (Beijing) | 2015-03-01 | enrolled, sample `alice-fp` | yes | |
//! | Bob | 440106 1970-01-01 | 440106 (Guangzhou) | 2010-01-01 | none | no | lives in Beijing, away from home |
//! | Carl | 110105 1940-01-01 | 110105 | 2005-01-01 | none | no | deceased (his card invalidated) |
//! | Dan | 110105 1995-07-07 | 110105 | 2016-08-01 | none | yes | an active serviceman (L5) |
//!
//! Stations: the ministry (`MPS`, officer `M0001`: bootstrapped, it registers the county bureau
//! and anything outside Chaoyang), then every kind in 110105 registered by the county bureau,
//! except the registration hall, which is in Guangzhou 440106 (registered by the ministry);
//! `World::actor(kind)` is that station's officer. `World::station(kind, division)` registers
//! another station with an officer (through the ministry) and returns the officer.

#![allow(dead_code)]

use idcard::workflow::Commands;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use idcard::engine::{Engine, EngineError, EngineOptions, ManualClock};
use idcard::journal::JournalOptions;
use idcard::model::CardRegistration;
use idcard::population::{Person, PersonCategory, TemplateDigest};
use idcard::station::{Actor, Officer, Station, StationKind};
use idcard::{CardKey, DivisionCode, IdNumber, ValidityPeriod};

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

pub fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 15, 2, 0, 0).unwrap()
}

pub fn number(body: &str) -> IdNumber {
    let w = [7u32, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let s: u32 = body
        .bytes()
        .zip(w)
        .map(|(b, w)| (b - b'0') as u32 * w)
        .sum();
    format!("{body}{}", b"10X98765432"[(s % 11) as usize] as char)
        .parse()
        .unwrap()
}

pub struct World {
    pub engine: Engine,
    pub clock: Arc<ManualClock>,
    /// The ministry's officer (national commands: publishing, policy, credit pushes).
    pub ministry: Actor,
    pub bureau: Actor,
    /// One actor per station kind, in `StationKind::ALL` order (the bureau for CountyBureau).
    pub by_kind: Vec<(StationKind, Actor)>,
    pub alice: IdNumber,
    pub bob: IdNumber,
    pub carl: IdNumber,
    pub dan: IdNumber,
    pub alice_card: CardKey,
    pub bob_card: CardKey,
    pub dan_card: CardKey,
}

impl World {
    /// The officer of the world's station of `kind`.
    pub fn actor(&self, kind: StationKind) -> &Actor {
        &self.by_kind.iter().find(|(k, _)| *k == kind).unwrap().1
    }

    /// Register a further station of `kind` in `division` with one officer; returns the
    /// officer. Identifiers are `{division}-{kind}` and `{division}-{kind}.1`.
    pub fn station(&self, kind: StationKind, division: u32) -> Actor {
        let id = format!("{division}-{}", kind.as_str().replace('_', "-"));
        let station = Station {
            id: id.parse().unwrap(),
            kind,
            division: DivisionCode::new(division).unwrap(),
            name: id.clone(),
        };
        self.engine
            .register_station(&self.ministry, station)
            .unwrap();
        let officer = format!("{id}.1");
        self.engine
            .register_officer(
                &self.ministry,
                Officer {
                    id: officer.parse().unwrap(),
                    name: officer.clone(),
                    station: id.parse().unwrap(),
                    active: true,
                    key: Some(public_key_of(&officer)),
                },
            )
            .unwrap();
        signed(&officer, &id)
    }
}

/// The test key of officer `id` (derived from the id: tests only).
pub fn key_of(id: impl AsRef<str>) -> idcard::trust::SecretKey {
    let seed = *blake3::hash(format!("test officer {}", id.as_ref()).as_bytes()).as_bytes();
    idcard::trust::SecretKey::from_seed(idcard::trust::Algorithm::Ed25519, seed, id.as_ref())
}

/// The public key a bureau registers for officer `id`.
pub fn public_key_of(id: impl AsRef<str>) -> idcard::station::OfficerKey {
    idcard::station::OfficerKey::of(&key_of(id).public())
}

/// A test officer's signer: their test key, and nonces from a counter (so a scenario writes the
/// same journal bytes every run; production nonces are random).
pub struct TestSigner {
    key: idcard::trust::SecretKey,
    counter: std::sync::atomic::AtomicU64,
}

impl idcard::station::CommandSigner for TestSigner {
    fn key_id(&self) -> [u8; 8] {
        self.key.public().id().0
    }
    fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.key.sign(message)
    }
    fn nonce(&self, at_ms: i64, payload: &[u8; 32]) -> [u8; 16] {
        let n = self
            .counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut h = blake3::Hasher::new();
        h.update(&self.key_id());
        h.update(&at_ms.to_le_bytes());
        h.update(payload);
        h.update(&n.to_le_bytes());
        h.finalize().as_bytes()[..16].try_into().unwrap()
    }
}

/// An actor signing with the officer's test key (random nonces).
pub fn signed(officer: &str, station: &str) -> Actor {
    Actor::new(officer, station)
        .unwrap()
        .with_key(key_of(officer))
}

/// An actor signing with the officer's test key and nonces from its own counter: the world's
/// actors, so a scenario writes the same journal every run.
pub fn signed_counting(officer: &str, station: &str) -> Actor {
    Actor::new(officer, station)
        .unwrap()
        .with_signer(Arc::new(TestSigner {
            key: key_of(officer),
            counter: Default::default(),
        }))
}

/// The code of a refusal; panics on anything else.
pub fn refused<T: std::fmt::Debug>(r: Result<T, EngineError>) -> &'static str {
    match r {
        Err(EngineError::Refused(r)) => r.code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// The population store the suites run on: PostgreSQL when `IDCARD_TEST_POSTGRES` names a
/// server (`scripts/with-postgres.sh` starts a throwaway one), each record in a schema of its
/// own; else the embedded store.
pub fn test_store() -> Option<Arc<dyn idcard::store::StoreProvider>> {
    let conn = std::env::var("IDCARD_TEST_POSTGRES").ok()?;
    Some(Arc::new(
        idcard_postgres::Postgres::per_directory(&conn, "t").expect("IDCARD_TEST_POSTGRES"),
    ))
}

/// Whether the suites run on PostgreSQL.
#[allow(dead_code)]
pub fn on_postgres() -> bool {
    std::env::var_os("IDCARD_TEST_POSTGRES").is_some()
}

pub fn options(clock: Arc<ManualClock>) -> EngineOptions {
    EngineOptions {
        journal: JournalOptions {
            segment_bytes: 1 << 16,
            sync: true,
        },
        clock,
        store: test_store(),
        ..Default::default()
    }
}

pub fn open(dir: &Path, clock: Arc<ManualClock>) -> Engine {
    Engine::open(dir, options(clock)).unwrap().0
}

pub fn world(dir: &Path) -> World {
    world_with(dir, |o| o)
}

pub fn world_with(dir: &Path, tweak: impl FnOnce(EngineOptions) -> EngineOptions) -> World {
    let clock = Arc::new(ManualClock::new(start_time()));
    let (engine, _) = Engine::open(dir, tweak(options(clock.clone()))).unwrap();
    let div = |c| DivisionCode::new(c).unwrap();
    let bureau_station = Station {
        id: "110105-PSB".parse().unwrap(),
        kind: StationKind::CountyBureau,
        division: div(110105),
        name: "朝阳分局".into(),
    };
    let chief = Officer {
        id: "B0001".parse().unwrap(),
        name: "局长".into(),
        station: bureau_station.id.clone(),
        active: true,
        key: Some(public_key_of("B0001")),
    };
    let mps = Station {
        id: "MPS".parse().unwrap(),
        kind: StationKind::Ministry,
        division: div(110000),
        name: "公安部".into(),
    };
    let minister = Officer {
        id: "M0001".parse().unwrap(),
        name: "部".into(),
        station: mps.id.clone(),
        active: true,
        key: Some(public_key_of("M0001")),
    };
    engine.bootstrap(mps, minister).unwrap();
    let ministry = signed_counting("M0001", "MPS");
    engine
        .register_station(&ministry, bureau_station.clone())
        .unwrap();
    engine.register_officer(&ministry, chief).unwrap();
    let bureau = signed_counting("B0001", "110105-PSB");
    let mut by_kind = Vec::new();
    for (i, kind) in StationKind::ALL.into_iter().enumerate() {
        if kind == StationKind::CountyBureau {
            by_kind.push((kind, bureau.clone()));
            continue;
        }
        if kind == StationKind::Ministry {
            by_kind.push((kind, ministry.clone()));
            continue;
        }
        // The registration hall is away from Beijing (Guangzhou), the rest in 110105.
        let division = if kind == StationKind::RegistrationHall {
            440106
        } else {
            110105
        };
        let id = format!("S{i:02}-{}", kind.as_str().replace('_', "-"));
        // Outside Chaoyang, or above a county bureau: the ministry registers it.
        let registrar = if division == 110105 && StationKind::CountyBureau.may_register(kind) {
            &bureau
        } else {
            &ministry
        };
        engine
            .register_station(
                registrar,
                Station {
                    id: id.parse().unwrap(),
                    kind,
                    division: div(division),
                    name: kind.as_str().into(),
                },
            )
            .unwrap();
        let officer = format!("P{i:02}");
        engine
            .register_officer(
                registrar,
                Officer {
                    id: officer.parse().unwrap(),
                    name: format!("officer {i}"),
                    station: id.parse().unwrap(),
                    active: true,
                    key: Some(public_key_of(&officer)),
                },
            )
            .unwrap();
        by_kind.push((kind, signed_counting(&officer, &id)));
    }
    let alice = number("11010519850312002");
    let bob = number("44010619700101001");
    let carl = number("11010519400101001");
    let dan = number("11010519950707003");
    let person = |number, name: &str, hukou, fp: Option<&str>, contact: Option<&str>| Person {
        number,
        name: name.into(),
        hukou_division: div(hukou),
        category: PersonCategory::Civilian,
        fingerprint: fp.map(|f| TemplateDigest::of(f.as_bytes())),
        contact: contact.map(str::to_string),
        deceased: false,
        fee_exempt: false,
    };
    let mut people = vec![
        person(
            alice,
            "Alice",
            110105,
            Some("alice-fp"),
            Some("138-0000-0001"),
        ),
        person(bob, "Bob", 440106, None, None),
        person(carl, "Carl", 110105, None, None),
        person(dan, "Dan", 110105, None, Some("138-0000-0004")),
    ];
    people[3].category = PersonCategory::Serviceman;
    // People of several counties: a national import, by the ministry.
    engine.register_people(&ministry, people).unwrap();
    engine.record_death(&bureau, carl).unwrap();
    let card = |n: IdNumber, from, fp| CardRegistration {
        key: CardKey::new(n, from).unwrap(),
        period: ValidityPeriod::TwentyYears,
        fingerprints: fp,
    };
    let alice_card = card(alice, date(2015, 3, 1), true);
    let bob_card = card(bob, date(2010, 1, 1), false);
    let carl_card = card(carl, date(2005, 1, 1), false);
    let dan_card = card(dan, date(2016, 8, 1), false);
    engine
        .register_cards(&ministry, vec![alice_card, bob_card, carl_card, dan_card])
        .unwrap();
    World {
        engine,
        clock,
        ministry,
        bureau,
        by_kind,
        alice,
        bob,
        carl,
        dan,
        alice_card: alice_card.key,
        bob_card: bob_card.key,
        dan_card: dan_card.key,
    }
}
