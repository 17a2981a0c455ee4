//! Durable journal appends with group commit (issue: ≥ 50 k events/s durable).
//!
//! `cargo bench -p idcard-benches --bench journal`. Every append is acknowledged only after
//! `fdatasync`; concurrent writers share syncs. `engine_durable_command` runs whole commands
//! (sign, check the signature, authorise, validate, record, apply) through the engine.

use idcard::workflow::Commands;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use idcard::engine::{Engine, EngineOptions};
use idcard::journal::{Journal, JournalOptions};
use idcard::station::{Actor, Officer, OfficerKey, Station, StationKind};
use idcard::trust::{Algorithm, SecretKey};
use idcard::{CardKey, DivisionCode};

/// A bench officer's key (fixed seed per officer).
fn key(officer: &str) -> SecretKey {
    let seed = *blake3::hash(officer.as_bytes()).as_bytes();
    SecretKey::from_seed(Algorithm::Ed25519, seed, officer)
}

fn run_threads(threads: usize, iters: u64, f: impl Fn(usize, u64) + Sync) -> Duration {
    let per = iters.div_ceil(threads as u64);
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let f = &f;
            s.spawn(move || {
                for i in 0..per {
                    f(t, i);
                }
            });
        }
    });
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("journal_durable_append");
    g.throughput(Throughput::Elements(1));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(8));
    for threads in [1usize, 16, 64, 256] {
        let dir = tempfile::tempdir().unwrap();
        let (j, _) = Journal::open(dir.path(), JournalOptions::default()).unwrap();
        let payload = vec![7u8; 120];
        g.bench_function(format!("{threads}_writers"), |b| {
            b.iter_custom(|iters| {
                run_threads(threads, iters, |_, _| {
                    j.append(&payload).unwrap();
                })
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("engine_durable_command");
    g.throughput(Throughput::Elements(1));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(8));
    for threads in [1usize, 64, 256] {
        let dir = tempfile::tempdir().unwrap();
        let engine = Arc::new(
            Engine::open(dir.path(), EngineOptions::default())
                .unwrap()
                .0,
        );
        let div = DivisionCode::new(110105).unwrap();
        engine
            .bootstrap(
                Station {
                    id: "PSB".parse().unwrap(),
                    kind: StationKind::CountyBureau,
                    division: div,
                    name: "b".into(),
                },
                Officer {
                    id: "B1".parse().unwrap(),
                    name: "b".into(),
                    station: "PSB".parse().unwrap(),
                    active: true,
                    key: Some(OfficerKey::of(&key("B1").public())),
                },
            )
            .unwrap();
        let bureau = Actor::new("B1", "PSB").unwrap().with_key(key("B1"));
        for (id, kind) in [
            ("HR", StationKind::HouseholdRegistrationStation),
            ("BANK", StationKind::CheckingUnit),
        ] {
            engine
                .register_station(
                    &bureau,
                    Station {
                        id: id.parse().unwrap(),
                        kind,
                        division: div,
                        name: id.into(),
                    },
                )
                .unwrap();
        }
        engine
            .register_officer(
                &bureau,
                Officer {
                    id: "U1".parse().unwrap(),
                    name: "u".into(),
                    station: "BANK".parse().unwrap(),
                    active: true,
                    key: Some(OfficerKey::of(&key("U1").public())),
                },
            )
            .unwrap();
        // Every command is signed by the officer and checked by the record (S1).
        let unit = Actor::new("U1", "BANK").unwrap().with_key(key("U1"));
        let card = CardKey::new(
            "11010519491231002X".parse().unwrap(),
            chrono::NaiveDate::from_ymd_opt(2005, 6, 1).unwrap(),
        )
        .unwrap();
        g.bench_function(format!("report_hit_{threads}_threads"), |b| {
            b.iter_custom(|iters| {
                run_threads(threads, iters, |_, _| {
                    engine.report_hit(&unit, card, "bench").unwrap();
                })
            })
        });
        // The record's side only: commands signed beforehand, as officers' terminals do, then
        // checked and executed (the signing is not timed).
        let bare = Actor::new("U1", "BANK").unwrap();
        g.bench_function(format!("report_hit_{threads}_threads_presigned"), |b| {
            b.iter_custom(|iters| {
                let per = iters.div_ceil(threads as u64);
                let now = chrono::Utc::now().timestamp_millis();
                let signed: Vec<Vec<_>> = (0..threads)
                    .map(|t| {
                        (0..per)
                            .map(|i| {
                                let cmd = idcard::workflow::loss::ReportHit {
                                    card,
                                    note: format!("bench {t} {i}"),
                                };
                                let auth = idcard::engine::auth::sign(
                                    &unit,
                                    idcard::station::CommandKind::ReportHit,
                                    idcard::engine::auth::payload_hash(&cmd),
                                    now,
                                );
                                (cmd, auth)
                            })
                            .collect()
                    })
                    .collect();
                run_threads(threads, iters, |t, i| {
                    let (cmd, auth) = &signed[t][i as usize];
                    engine.execute_signed(&bare, cmd, auth.clone()).unwrap();
                })
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
