//! The record at national scale (issue 19): import N people with their card histories, open,
//! run a mix of commands, publish a bank snapshot; for each phase the peak memory, and the
//! bytes on disk per person. Prints a table and one JSON line.
//!
//! `cargo run --release -p idcard-benches --bin scale -- --people 10000000 [--commands 20000]
//!  [--cache-mb 256] [--dir DIR] [--keep] [--compare-stores ROWS]`
//!
//! Each phase runs in a child process of its own (this binary again, `--phase …`), so each
//! peak resident set (`VmHWM`) is that phase's alone:
//! - `import`: the ministry registers N people and their cards, in commands of 50,000 (a
//!   person born 1940-2009 has a current card and, one in two, an older superseded one);
//! - `open`: open the record (the population store and the checkpoint, then the journal's
//!   tail), then `--commands` commands one after another, each durable before the next: half
//!   audited reads of a person's cards (`card show`), a fifth loss reports, a tenth
//!   withdrawals, a fifth hit reports by a bank; p50 and p99 latency;
//! - `publish`: a full bank snapshot streamed from the store (cards per second; `locked_s`:
//!   how long the engine's lock was held, the cards being read after it from the store's view).
//!
//! `--compare-stores ROWS` instead measures the two embedded stores considered for the
//! population, redb and LMDB (heed), on the population's workload: ROWS rows of 80 bytes under
//! random `u64` keys written in sorted batches of 100,000, then 200,000 random point reads
//! (p50/p99), file bytes per row and the process's peak memory.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use chrono::{Datelike, NaiveDate};
use hdrhistogram::Histogram;
use idcard::engine::{CardRef, Engine, EngineOptions, InPerson};
use idcard::index::Profile;
use idcard::model::{CardRegistration, Subject};
use idcard::population::{Person, PersonCategory};
use idcard::station::{Actor, Officer, OfficerKey, Station, StationKind};
use idcard::trust::{Algorithm, SecretKey};
use idcard::workflow::Commands;
use idcard::workflow::loss::LossRequest;
use idcard::{CardKey, DivisionCode, IdNumber, ValidityPeriod};
use idcard_benches::SplitMix64 as Rng;
use serde_json::{Value, json};

/// Counties people are registered in (any valid division codes: the number's first six digits).
const DIVISIONS: [u32; 20] = [
    110101, 110102, 110105, 110106, 110107, 110108, 310101, 310104, 310105, 310106, 440103, 440104,
    440105, 440106, 510104, 510105, 510106, 330102, 330105, 320102,
];
const CHUNK: usize = 50_000;

struct Args {
    people: usize,
    commands: usize,
    cache_mb: usize,
    dir: Option<PathBuf>,
    keep: bool,
    phase: Option<String>,
    compare: Option<usize>,
    /// The PostgreSQL store (a libpq connection string) instead of the embedded one.
    postgres: Option<String>,
}

fn parse_args() -> Args {
    let mut a = Args {
        people: 1_000_000,
        commands: 20_000,
        cache_mb: 256,
        dir: None,
        keep: false,
        phase: None,
        compare: None,
        postgres: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || {
            it.next()
                .unwrap_or_else(|| usage(&format!("{flag} needs a value")))
        };
        let num = |s: String| -> usize {
            s.parse()
                .unwrap_or_else(|_| usage(&format!("{s:?} is not a number")))
        };
        match flag.as_str() {
            "--people" => a.people = num(val()),
            "--commands" => a.commands = num(val()),
            "--cache-mb" => a.cache_mb = num(val()),
            "--dir" => a.dir = Some(PathBuf::from(val())),
            "--phase" => a.phase = Some(val()),
            "--compare-stores" => a.compare = Some(num(val())),
            "--postgres" => a.postgres = Some(val()),
            "--keep" => a.keep = true,
            other => usage(&format!("unknown flag {other}")),
        }
    }
    a
}

fn usage(msg: &str) -> ! {
    eprintln!(
        "scale: {msg}\nusage: scale [--people N] [--commands N] [--cache-mb MB] [--dir DIR] [--keep] [--compare-stores ROWS] [--postgres CONN]"
    );
    std::process::exit(2)
}

/// The peak and current resident set of this process, in bytes.
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

fn dir_bytes(p: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(p) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

fn key_of(name: &str) -> SecretKey {
    let seed = *blake3::hash(format!("idcard scale key {name}").as_bytes()).as_bytes();
    SecretKey::from_seed(Algorithm::Ed25519, seed, name)
}

fn actor(officer: &str, station: &str) -> Actor {
    Actor::new(officer, station)
        .expect("ids")
        .with_key(key_of(officer))
}

/// Person `i`: a division, a birth date in 1940-2009 and a sequence code, all from `i`.
fn person(i: usize) -> IdNumber {
    let div = DIVISIONS[i % DIVISIONS.len()];
    let rest = i / DIVISIONS.len();
    let days = (rest / 900) % 25_567; // 1940-01-01 .. 2009-12-31: 460 M numbers in all
    let seq = rest % 900;
    let birth = NaiveDate::from_ymd_opt(1940, 1, 1).expect("date") + chrono::Days::new(days as u64);
    let body = format!("{div}{}{:03}", birth.format("%Y%m%d"), 100 + seq);
    let digits: [u8; 17] = std::array::from_fn(|k| body.as_bytes()[k] - b'0');
    format!("{body}{}", idcard::check_character(&digits))
        .parse()
        .expect("a valid number")
}

/// Person `i`'s cards, oldest first: the current one (applied for at 16 + i mod 40 years, or
/// in 2016-2025), and one in two an older one ten years before (when 16 or older then).
fn cards_of(i: usize, n: IdNumber) -> Vec<CardRegistration> {
    let birth = n.birth_date();
    let year = (birth.year_ce().1 as i32 + 16 + (i % 40) as i32).clamp(2016, 2025);
    let current =
        NaiveDate::from_ymd_opt(year, 1 + (i % 12) as u32, 1 + (i % 28) as u32).expect("date");
    let mut out = Vec::new();
    let older = NaiveDate::from_ymd_opt(year - 10, current.month(), current.day()).expect("date");
    if i.is_multiple_of(2) && n.age_on(older).is_some_and(|a| a >= 16) {
        out.push(older);
    }
    out.push(current);
    out.into_iter()
        .filter_map(|d| {
            Some(CardRegistration {
                key: CardKey::new(n, d).ok()?,
                period: ValidityPeriod::on_application(n, d).ok()?,
                fingerprints: !i.is_multiple_of(3),
            })
        })
        .collect()
}

/// The schema a run on PostgreSQL uses (dropped at the start: never a platform's).
const PG_SCHEMA: &str = "idcard_scale";

fn postgres(a: &Args) -> Option<idcard_postgres::Postgres> {
    a.postgres
        .as_deref()
        .map(|c| idcard_postgres::Postgres::new(c, PG_SCHEMA).expect("--postgres"))
}

fn options(a: &Args) -> EngineOptions {
    EngineOptions {
        store_cache_bytes: a.cache_mb << 20,
        store: postgres(a).map(|p| std::sync::Arc::new(p) as _),
        ..Default::default()
    }
}

fn phase_import(a: &Args, dir: &Path) -> Value {
    let t = Instant::now();
    let (engine, _) = Engine::open(dir, options(a)).expect("open");
    let officer = |id: &str, st: &str| Officer {
        id: id.parse().expect("id"),
        name: id.into(),
        station: st.parse().expect("id"),
        active: true,
        key: Some(OfficerKey::of(&key_of(id).public())),
    };
    let station = |id: &str, kind, division: u32| Station {
        id: id.parse().expect("id"),
        kind,
        division: DivisionCode::new(division).expect("division"),
        name: id.into(),
    };
    engine
        .bootstrap(
            station("MPS", StationKind::Ministry, 110000),
            officer("M0", "MPS"),
        )
        .expect("bootstrap");
    let ministry = actor("M0", "MPS");
    for (id, kind, off) in [
        ("HR0", StationKind::HouseholdRegistrationStation, "H0"),
        ("BANK0", StationKind::CheckingUnit, "U0"),
    ] {
        engine
            .register_station(&ministry, station(id, kind, 110105))
            .expect("station");
        engine
            .register_officer(&ministry, officer(off, id))
            .expect("officer");
    }
    let (mut people, mut cards) = (0usize, 0usize);
    let mut last_report = Instant::now();
    for start in (0..a.people).step_by(CHUNK) {
        let range = start..(start + CHUNK).min(a.people);
        let persons: Vec<Person> = range
            .clone()
            .map(|i| Person {
                number: person(i),
                name: format!("person {i}"),
                hukou_division: DivisionCode::new(DIVISIONS[i % DIVISIONS.len()])
                    .expect("division"),
                category: PersonCategory::Civilian,
                fingerprint: None,
                contact: None,
                deceased: false,
                fee_exempt: false,
            })
            .collect();
        let regs: Vec<CardRegistration> = range
            .clone()
            .zip(&persons)
            .flat_map(|(i, p)| cards_of(i, p.number))
            .collect();
        people += persons.len();
        cards += regs.len();
        engine.register_people(&ministry, persons).expect("people");
        engine.register_cards(&ministry, regs).expect("cards");
        if last_report.elapsed().as_secs() >= 30 {
            eprintln!(
                "scale: imported {people} people, {cards} cards in {:.0} s",
                t.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
    }
    let imported = t.elapsed().as_secs_f64();
    let t_close = Instant::now();
    engine.checkpoint().expect("checkpoint");
    engine.close().expect("close");
    let (peak, _) = memory();
    json!({
        "people": people,
        "cards": cards,
        "import_s": imported,
        "people_per_s": people as f64 / imported,
        "checkpoint_s": t_close.elapsed().as_secs_f64(),
        "peak_rss_bytes": peak,
    })
}

fn phase_open(a: &Args, dir: &Path) -> Value {
    let t = Instant::now();
    let (engine, report) = Engine::open(dir, options(a)).expect("open");
    let open_s = t.elapsed().as_secs_f64();
    let (_, rss_after_open) = memory();
    let ministry = actor("M0", "MPS");
    let station = actor("H0", "HR0");
    let bank = actor("U0", "BANK0");
    let today = idcard::time::china_today();
    let mut rng = Rng(0x5ca1e);
    let mut lost: Vec<CardKey> = Vec::new();
    let mut hist = Histogram::<u64>::new(3).expect("histogram");
    let mut outcomes = std::collections::BTreeMap::<&str, u64>::new();
    let started = Instant::now();
    for _ in 0..a.commands {
        let i = rng.below(a.people as u64) as usize;
        let n = person(i);
        let pick = rng.below(100);
        let t = Instant::now();
        let outcome = if pick < 50 {
            engine
                .read_personal(
                    &ministry,
                    "card_show",
                    Some(Subject::Person(n)),
                    "scale bench",
                    |s| {
                        let v = idcard::model::view::cards_of(s, n, today);
                        let k = v.as_ref().map_or(0, |v| v.len() as u64);
                        (v, k)
                    },
                )
                .map(|_| "read")
        } else if pick < 70 {
            engine
                .report_loss(
                    &station,
                    &LossRequest {
                        card: CardRef {
                            number: n,
                            valid_from: None,
                        },
                        stolen: pick.is_multiple_of(10),
                        present: InPerson::holder(n),
                    },
                )
                .map(|r| {
                    lost.push(r.card);
                    "loss"
                })
        } else if pick < 80 && !lost.is_empty() {
            let card = lost.swap_remove(rng.below(lost.len() as u64) as usize);
            engine
                .cancel_loss(
                    &station,
                    CardRef::card(card),
                    &InPerson::holder(card.number()),
                )
                .map(|_| "cancel")
        } else {
            match cards_of(i, n).last() {
                Some(c) => engine.report_hit(&bank, c.key, "scale").map(|_| "hit"),
                None => Ok("none"),
            }
        };
        hist.record(t.elapsed().as_micros() as u64).expect("record");
        let name = match &outcome {
            Ok(k) => *k,
            Err(idcard::engine::EngineError::Refused(_)) => "refused",
            Err(e) => panic!("command failed: {e}"),
        };
        *outcomes.entry(name).or_default() += 1;
    }
    let run_s = started.elapsed().as_secs_f64();
    engine.close().expect("close");
    let (peak, _) = memory();
    json!({
        "open_s": open_s,
        "replayed": report.replayed,
        "store_seq": report.store_seq,
        "rss_after_open_bytes": rss_after_open,
        "commands": a.commands,
        "commands_per_s": a.commands as f64 / run_s,
        "p50_ms": hist.value_at_quantile(0.5) as f64 / 1000.0,
        "p99_ms": hist.value_at_quantile(0.99) as f64 / 1000.0,
        "max_ms": hist.max() as f64 / 1000.0,
        "outcomes": outcomes,
        "peak_rss_bytes": peak,
    })
}

fn phase_publish(a: &Args, dir: &Path) -> Value {
    let t = Instant::now();
    let (engine, _) = Engine::open(dir, options(a)).expect("open");
    let open_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let now = chrono::Utc::now();
    // Under the engine's lock: the metadata and the store's view; the cards are read after.
    let source = engine
        .with_state(|s| idcard::projection::files::snapshot_source(s, Profile::Bank, now, dir))
        .expect("the store's view");
    let locked_s = t.elapsed().as_secs_f64();
    let builder = source.finish().expect("read the cards");
    let read_s = t.elapsed().as_secs_f64();
    let out = dir.join("scale-bank.idcs");
    // Seconds in each stage of the build, in order.
    let mut stages: Vec<(&'static str, f64)> = Vec::new();
    let mut stage_start = Instant::now();
    let info = builder
        .write_with_progress(&out, &mut |p| {
            if stages.last().map(|s| s.0) != Some(p.stage) {
                if let Some(last) = stages.last_mut() {
                    last.1 = stage_start.elapsed().as_secs_f64();
                }
                stage_start = Instant::now();
                stages.push((p.stage, 0.0));
            }
        })
        .expect("write");
    let total_s = t.elapsed().as_secs_f64();
    drop(builder);
    let known = engine
        .with_state(|s| s.store().map(|st| st.count(idcard::store::Table::Cards)))
        .transpose()
        .expect("count")
        .unwrap_or(0);
    let bytes = std::fs::metadata(&out).map_or(0, |m| m.len());
    let _ = std::fs::remove_file(&out);
    engine.close().expect("close");
    let (peak, _) = memory();
    json!({
        "open_s": open_s,
        "cards_read_s": read_s,
        "locked_s": locked_s,
        "publish_s": total_s,
        "cards": known,
        "listed": info.card_count,
        "cards_per_s": known as f64 / total_s,
        "snapshot_bytes": bytes,
        "stages_s": stages.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
        "peak_rss_bytes": peak,
    })
}

/// redb against LMDB on the population's workload (see the module documentation).
fn compare_stores(rows: usize) -> Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rng = Rng(0x57_0e);
    let value = [7u8; 80];
    let batch = 100_000usize;
    let keys: Vec<u64> = (0..rows).map(|_| rng.next_u64()).collect();
    let reads: Vec<u64> = (0..200_000)
        .map(|_| keys[rng.below(rows as u64) as usize])
        .collect();
    let mut out = serde_json::Map::new();
    // redb, with the engine's default cache.
    {
        use redb::{ReadableDatabase, TableDefinition};
        const T: TableDefinition<u64, &[u8]> = TableDefinition::new("t");
        let path = dir.path().join("redb");
        let db = redb::Database::builder()
            .set_cache_size(idcard::store::DEFAULT_CACHE_BYTES)
            .create(&path)
            .expect("redb");
        let t = Instant::now();
        for chunk in keys.chunks(batch) {
            let mut sorted = chunk.to_vec();
            sorted.sort_unstable();
            let tx = db.begin_write().expect("tx");
            {
                let mut table = tx.open_table(T).expect("table");
                for k in sorted {
                    table.insert(k, value.as_slice()).expect("insert");
                }
            }
            tx.commit().expect("commit");
        }
        let write_s = t.elapsed().as_secs_f64();
        let mut h = Histogram::<u64>::new(3).expect("h");
        for k in &reads {
            let t = Instant::now();
            let tx = db.begin_read().expect("read");
            let table = tx.open_table(T).expect("table");
            assert!(table.get(*k).expect("get").is_some());
            h.record(t.elapsed().as_nanos() as u64).expect("rec");
        }
        out.insert(
            "redb".into(),
            json!({
                "rows_per_s": rows as f64 / write_s,
                "read_p50_us": h.value_at_quantile(0.5) as f64 / 1000.0,
                "read_p99_us": h.value_at_quantile(0.99) as f64 / 1000.0,
                "file_bytes_per_row": std::fs::metadata(&path).map_or(0, |m| m.len()) as f64 / rows as f64,
                "peak_rss_bytes": memory().0,
            }),
        );
    }
    // LMDB through heed: memory-mapped, so the pages it touches count in the resident set.
    {
        use heed::types::{Bytes, U64};
        type Be = heed::byteorder::BigEndian;
        let path = dir.path().join("lmdb");
        std::fs::create_dir_all(&path).expect("dir");
        // SAFETY: the environment is opened once, by this process only.
        let env = unsafe {
            heed::EnvOpenOptions::new()
                .map_size((rows * 400).max(1 << 30).next_multiple_of(1 << 20))
                .open(&path)
        }
        .expect("lmdb");
        let mut wtxn = env.write_txn().expect("txn");
        let db: heed::Database<U64<Be>, Bytes> = env.create_database(&mut wtxn, None).expect("db");
        wtxn.commit().expect("commit");
        let t = Instant::now();
        for chunk in keys.chunks(batch) {
            let mut sorted = chunk.to_vec();
            sorted.sort_unstable();
            let mut wtxn = env.write_txn().expect("txn");
            for k in sorted {
                db.put(&mut wtxn, &k, &value).expect("put");
            }
            wtxn.commit().expect("commit");
        }
        let write_s = t.elapsed().as_secs_f64();
        let mut h = Histogram::<u64>::new(3).expect("h");
        for k in &reads {
            let t = Instant::now();
            let rtxn = env.read_txn().expect("rtxn");
            assert!(db.get(&rtxn, k).expect("get").is_some());
            h.record(t.elapsed().as_nanos() as u64).expect("rec");
        }
        out.insert(
            "lmdb".into(),
            json!({
                "rows_per_s": rows as f64 / write_s,
                "read_p50_us": h.value_at_quantile(0.5) as f64 / 1000.0,
                "read_p99_us": h.value_at_quantile(0.99) as f64 / 1000.0,
                "file_bytes_per_row": dir_bytes(&path) as f64 / rows as f64,
                "peak_rss_bytes": memory().0,
            }),
        );
    }
    json!({ "rows": rows, "stores": out })
}

fn child(a: &Args, phase: &str, dir: &Path) -> Value {
    let exe = std::env::current_exe().expect("exe");
    let out = Command::new(exe)
        .args([
            "--phase",
            phase,
            "--dir",
            &dir.display().to_string(),
            "--people",
            &a.people.to_string(),
            "--commands",
            &a.commands.to_string(),
            "--cache-mb",
            &a.cache_mb.to_string(),
        ])
        .args(a.postgres.iter().flat_map(|c| ["--postgres", c.as_str()]))
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("run a phase");
    assert!(out.status.success(), "phase {phase} failed");
    serde_json::from_slice(&out.stdout).expect("a phase's JSON")
}

fn main() {
    let a = parse_args();
    if let Some(rows) = a.compare {
        println!("{}", compare_stores(rows));
        return;
    }
    if let Some(phase) = &a.phase {
        let dir = a
            .dir
            .clone()
            .unwrap_or_else(|| usage("--phase needs --dir"));
        let v = match phase.as_str() {
            "import" => phase_import(&a, &dir),
            "open" => phase_open(&a, &dir),
            "publish" => phase_publish(&a, &dir),
            other => usage(&format!("unknown phase {other}")),
        };
        println!("{v}");
        return;
    }
    let tmp = match &a.dir {
        Some(_) => None,
        None => Some(tempfile::tempdir_in(".").expect("tempdir")),
    };
    let dir = match (&a.dir, &tmp) {
        (Some(d), _) => d.clone(),
        (None, Some(t)) => t.path().join("record"),
        (None, None) => unreachable!("a temporary directory without --dir"),
    };
    if let Some(p) = postgres(&a) {
        p.drop_schema(PG_SCHEMA).expect("dropping the scale schema");
    }
    let import = child(&a, "import", &dir);
    eprintln!("scale: import {import}");
    // The store's bytes: its file, or its schema's tables and indexes in PostgreSQL.
    let pg_bytes = postgres(&a).map(|p| {
        p.open_schema(PG_SCHEMA)
            .and_then(|s| s.bytes())
            .expect("the schema's size")
    });
    let disk = |sub: &str| match (sub, pg_bytes) {
        ("store", Some(b)) => b,
        _ => dir_bytes(&dir.join(sub)),
    };
    let on_disk = json!({
        "journal": disk("journal"),
        "store": disk("store"),
        "checkpoints": disk("checkpoints"),
        "total": dir_bytes(&dir) + pg_bytes.unwrap_or(0),
        "per_person": (dir_bytes(&dir) + pg_bytes.unwrap_or(0)) as f64 / a.people as f64,
        "store_per_person": disk("store") as f64 / a.people as f64,
    });
    let open = child(&a, "open", &dir);
    eprintln!("scale: open {open}");
    let publish = child(&a, "publish", &dir);
    eprintln!("scale: publish {publish}");
    let gb = |v: &Value| v.as_f64().unwrap_or(0.0) / (1u64 << 30) as f64;
    println!(
        "people {}  cards {}  cache {} MiB",
        a.people, import["cards"], a.cache_mb
    );
    println!(
        "import   {:>8.1} s  {:>10.0} people/s  peak RSS {:.2} GiB",
        import["import_s"].as_f64().unwrap_or(0.0),
        import["people_per_s"].as_f64().unwrap_or(0.0),
        gb(&import["peak_rss_bytes"])
    );
    println!(
        "open     {:>8.3} s  (replayed {})  commands p50 {:.2} ms  p99 {:.2} ms  {:.0}/s  peak RSS {:.2} GiB",
        open["open_s"].as_f64().unwrap_or(0.0),
        open["replayed"],
        open["p50_ms"].as_f64().unwrap_or(0.0),
        open["p99_ms"].as_f64().unwrap_or(0.0),
        open["commands_per_s"].as_f64().unwrap_or(0.0),
        gb(&open["peak_rss_bytes"])
    );
    println!(
        "publish  {:>8.1} s  {:>10.0} cards/s  peak RSS {:.2} GiB",
        publish["publish_s"].as_f64().unwrap_or(0.0),
        publish["cards_per_s"].as_f64().unwrap_or(0.0),
        gb(&publish["peak_rss_bytes"])
    );
    println!(
        "on disk  {:.0} bytes/person (store {:.0}, journal {:.0})",
        on_disk["per_person"].as_f64().unwrap_or(0.0),
        on_disk["store_per_person"].as_f64().unwrap_or(0.0),
        on_disk["journal"].as_f64().unwrap_or(0.0) / a.people as f64
    );
    println!(
        "{}",
        json!({
            "people": a.people,
            "cache_mb": a.cache_mb,
            "import": import,
            "on_disk": on_disk,
            "open": open,
            "publish": publish,
        })
    );
    if a.keep {
        eprintln!("scale: kept {}", dir.display());
        if let Some(t) = tmp {
            let _ = t.keep();
        }
    }
}
