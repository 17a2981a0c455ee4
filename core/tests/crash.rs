//! Crash safety of the journal (the brief: nothing acknowledged is ever lost).
//!
//! A child process (this test binary, re-run in child mode) runs four writer threads that file
//! hit reports through the engine, printing `ACK <id>` after each command returns (i.e. after
//! its record is durable). The parent SIGKILLs it at a random moment, reopens the data directory
//! (recovering any torn tail) and checks that every acknowledged record is there exactly once.
//!
//! A fifth thread registers people and their cards and reports some lost, with the population
//! store flushed every few dozen changes: after every kill the store (people and cards,
//! [`idcard::store`]) must be what the journal replays to — never ahead of it, never missing
//! an acknowledged change (issue 19).
//!
//! The normal test run does 200 kills; `IDCARD_CRASH_KILLS=1000 cargo test --release -p idcard
//! --test crash -- --nocapture` is the long run.

mod common;
#[allow(unused_imports)]
use common::*;

use idcard::workflow::Commands;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use idcard::engine::{Engine, EngineOptions};
use idcard::index::CardStatus;
use idcard::model::Event;
use idcard::station::{Officer, Station, StationKind};
use idcard::{CardKey, DivisionCode};

const CHILD_ENV: &str = "IDCARD_CRASH_CHILD";

fn card_of(n: idcard::IdNumber) -> CardKey {
    CardKey::new(n, chrono::NaiveDate::from_ymd_opt(2010, 3, 1).unwrap()).unwrap()
}

fn open(dir: &Path) -> Engine {
    let options = EngineOptions {
        journal: idcard::journal::JournalOptions {
            segment_bytes: 1 << 16,
            sync: true,
        },
        // No checkpoint: every reopen replays and checks the whole chain.
        checkpoint_every: u64::MAX,
        store_flush_every: 48,
        store: common::test_store(),
        ..Default::default()
    };
    Engine::open(dir, options).expect("open").0
}

/// The stations and officers, each registered unless it already is: a child may have been
/// killed half-way through setting them up (a check of the first one alone left later children
/// without `H1`, and their card commands refused, when the first child died after it).
fn setup(engine: &Engine) {
    let div = DivisionCode::new(110105).unwrap();
    let station = |id: &str, kind| Station {
        id: id.parse().unwrap(),
        kind,
        division: div,
        name: id.into(),
    };
    let officer = |id: &str, st: &str| Officer {
        id: id.parse().unwrap(),
        name: id.into(),
        station: st.parse().unwrap(),
        active: true,
        key: Some(common::public_key_of(id)),
    };
    if engine.with_state(|s| s.stations.is_empty()) {
        engine
            .bootstrap(
                station("PSB", StationKind::CountyBureau),
                officer("B1", "PSB"),
            )
            .unwrap();
    }
    let bureau = signed("B1", "PSB");
    for (id, kind) in [
        ("HR", StationKind::HouseholdRegistrationStation),
        ("BANK", StationKind::CheckingUnit),
    ] {
        if engine.with_state(|s| s.stations.get(&id.parse().unwrap()).is_none()) {
            engine.register_station(&bureau, station(id, kind)).unwrap();
        }
    }
    for (id, st) in [
        ("U0", "BANK"),
        ("U1", "BANK"),
        ("U2", "BANK"),
        ("U3", "BANK"),
        ("H1", "HR"),
    ] {
        if engine.with_state(|s| s.officers.get(&id.parse().unwrap()).is_none()) {
            engine.register_officer(&bureau, officer(id, st)).unwrap();
        }
    }
}

/// Child mode: write until killed.
#[test]
fn crash_child_process() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let run: String = std::env::var("IDCARD_CRASH_RUN").unwrap();
    let engine = Arc::new(open(Path::new(&dir)));
    setup(&engine);
    let card = CardKey::new(
        "11010519491231002X".parse().unwrap(),
        chrono::NaiveDate::from_ymd_opt(2005, 6, 1).unwrap(),
    )
    .unwrap();
    // People and cards, with losses: the population store's part.
    let registry = {
        let engine = Arc::clone(&engine);
        let run: u32 = run.parse().unwrap();
        std::thread::spawn(move || {
            let bureau = signed("B1", "PSB");
            let station = signed("H1", "HR");
            let birth = chrono::NaiveDate::from_ymd_opt(1950, 1, 1).unwrap()
                + chrono::Days::new(u64::from(run));
            for i in 0..100u32 {
                // Ten people and their cards a command; one of the cards reported lost.
                let numbers: Vec<_> = (0..10)
                    .map(|k| {
                        number(&format!(
                            "110105{}{:03}",
                            birth.format("%Y%m%d"),
                            i * 10 + k
                        ))
                    })
                    .collect();
                let people = numbers
                    .iter()
                    .map(|&n| idcard::population::Person {
                        number: n,
                        name: format!("p{n}"),
                        hukou_division: DivisionCode::new(110105).unwrap(),
                        category: idcard::population::PersonCategory::Civilian,
                        fingerprint: None,
                        contact: None,
                        deceased: false,
                        fee_exempt: false,
                    })
                    .collect();
                engine.register_people(&bureau, people).expect("people");
                let keys: Vec<_> = numbers.iter().map(|&n| card_of(n)).collect();
                engine
                    .register_cards(
                        &bureau,
                        keys.iter()
                            .map(|&key| idcard::model::CardRegistration {
                                key,
                                period: idcard::ValidityPeriod::TwentyYears,
                                fingerprints: false,
                            })
                            .collect(),
                    )
                    .expect("cards");
                engine
                    .report_loss(
                        &station,
                        &idcard::workflow::loss::LossRequest {
                            card: idcard::engine::CardRef::card(keys[0]),
                            stolen: false,
                            present: idcard::engine::InPerson::holder(numbers[0]),
                        },
                    )
                    .expect("loss");
                println!("ACK card-{run}-{i}");
            }
        })
    };
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let engine = Arc::clone(&engine);
            let run = run.clone();
            std::thread::spawn(move || {
                let actor = signed(&format!("U{t}"), "BANK");
                for i in 0.. {
                    let id = format!("{run}-{t}-{i}");
                    engine.report_hit(&actor, card, &id).expect("hit");
                    // Acknowledged: the record is durable. Tell the parent.
                    println!("ACK {id}");
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    let _ = registry.join();
}

#[test]
fn journal_survives_sigkill_with_every_acknowledged_record_exactly_once() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let kills: u32 = std::env::var("IDCARD_CRASH_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    let mut acknowledged = Vec::new();
    let mut torn = 0;
    for run in 0..kills {
        let mut child = Command::new(&exe)
            .args([
                "crash_child_process",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, dir.path())
            .env("IDCARD_CRASH_RUN", run.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .filter_map(|l| l.strip_prefix("ACK ").map(str::to_string))
                .collect::<Vec<_>>()
        });
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        // Kill somewhere between start-up and a burst of writes.
        std::thread::sleep(Duration::from_millis(10 + rng % 120));
        child.kill().unwrap(); // SIGKILL
        let _ = child.wait();
        acknowledged.extend(reader.join().unwrap());
        let options = EngineOptions {
            store: common::test_store(),
            ..EngineOptions::default()
        };
        let (engine, report) = Engine::open(dir.path(), options).unwrap();
        torn += report.recovery.truncated.is_some() as u32;
        drop(engine);
    }
    let engine = open(dir.path());
    let mut notes = std::collections::HashMap::<String, u32>::new();
    for item in engine.records(1).unwrap() {
        let (_, record) = item.unwrap();
        if let Event::HitReported(idcard::model::HitReported { note, .. }) = record.event {
            *notes.entry(note).or_default() += 1;
        }
    }
    // The population store is what the journal replays to (verify_journal compares them
    // record by record at the store's sequence), and has every acknowledged card.
    let last = engine.last_seq();
    for id in acknowledged.iter().filter(|id| id.starts_with("card-")) {
        let mut parts = id.split('-').skip(1).map(|p| p.parse::<u32>().unwrap());
        let (run, i) = (parts.next().unwrap(), parts.next().unwrap());
        let birth = chrono::NaiveDate::from_ymd_opt(1950, 1, 1).unwrap()
            + chrono::Days::new(u64::from(run));
        for k in 0..10 {
            let n = number(&format!(
                "110105{}{:03}",
                birth.format("%Y%m%d"),
                i * 10 + k
            ));
            let card = engine.with_state(|s| s.cards.get(card_of(n))).unwrap();
            let want = if k == 0 {
                CardStatus::Lost
            } else {
                CardStatus::Valid
            };
            assert_eq!(
                card.map(|c| c.status),
                Some(want),
                "acknowledged card {id}/{k}"
            );
            assert!(engine.with_state(|s| s.people.get(n)).unwrap().is_some());
        }
    }
    engine.close().unwrap();
    let store = common::test_store();
    let check =
        idcard::engine::verify_journal_with(dir.path(), None, &[], store.as_deref()).unwrap();
    assert_eq!(check.problem, None, "{check:?}");
    assert_eq!(check.store, Some((last, true)), "{check:?}");
    let cards = acknowledged.len();
    let acknowledged: Vec<String> = acknowledged
        .into_iter()
        .filter(|id| !id.starts_with("card-"))
        .collect();
    let cards = (cards - acknowledged.len()) * 10;
    eprintln!(
        "crash: {cards} cards and {} hits acknowledged",
        acknowledged.len()
    );
    assert!(
        cards > kills as usize,
        "too few cards to test the store: {cards}"
    );
    for id in &acknowledged {
        assert_eq!(
            notes.get(id),
            Some(&1),
            "acknowledged record {id} is missing or duplicated"
        );
    }
    assert!(notes.values().all(|&n| n == 1), "a record appears twice");
    assert!(
        acknowledged.len() > kills as usize,
        "too few writes to test anything: {}",
        acknowledged.len()
    );
    eprintln!(
        "crash test: {kills} SIGKILLs, {} acknowledged records all present exactly once ({} records in all), {cards} acknowledged people with cards all in the store, the store as the journal replays, {torn} torn tails cut",
        acknowledged.len(),
        notes.len()
    );
}
