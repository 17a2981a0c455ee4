//! `idcard demo`: a synthetic nation end to end — population, stations, blacklist, D days of
//! counter work through the real workflows, publishing to a bank verifier that checks cards on
//! every core while deltas arrive, and a report in which every figure is measured in the run.

use idcard::workflow::Commands;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context;
use chrono::{Days, NaiveDate, TimeZone, Utc};
use clap::Args;
use idcard::engine::{Engine, EngineError, EngineOptions, ManualClock};
use idcard::index::{BlacklistEntry, BlacklistReasons, Profile};
use idcard::population::ExternalError;
use idcard::station::{Officer, Station, StationKind};
use idcard::workflow::blacklist::CreditFeed;
use idcard::workflow::offsite::ApplicationKind;
use idcard::{DivisionCode, IdNumber};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::bank::{Bank, presented};
use crate::progress;
use crate::sim::{Folk, Job, Sim, Tally, local, province_of};
use crate::world::{Generator, PROVINCES};
use idcard::trust::{Algorithm, KeyCertificate, Roles, SecretKey, TrustStore};
use idcard::workflow::publish::PublishOptions;

/// `idcard demo`.
#[derive(Args, Debug, Clone)]
pub struct DemoArgs {
    /// People in the synthetic nation.
    #[arg(long, default_value_t = 1_000_000)]
    pub people: usize,
    /// Days of counter work.
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// Seed: the same seed gives the same people, commands and outcomes.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// Keep the data here (the record, snapshots, deltas); must be new or empty. Default: a
    /// temporary directory, removed at the end.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// The report as JSON on standard output.
    #[arg(long)]
    pub json: bool,
    /// Bank counter threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// The first day of the simulation (a Monday).
pub fn start_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 5).expect("date")
}

/// Counter hours per day; a delta is published to the bank after each.
const HOURS: u32 = 8;
/// Threads running counter work (commands are durable before they return: many in flight
/// share each disk sync).
const WORKERS: usize = 32;
/// People registered per command.
const CHUNK: usize = 50_000;

/// Errands started per 100,000 people per day.
struct Rates;
impl Rates {
    const LOSS: f64 = 12.0;
    const RENEWAL: f64 = 8.0;
    const DAMAGED: f64 = 1.0;
    const TEMP_CERT: f64 = 3.0;
    const DEATH: f64 = 1.9;
    const FIRST_TIMER: f64 = 0.3;
    const BLACKLISTED_APPLIES: f64 = 0.3;
    const BLACKLIST_ADD: f64 = 0.3;
    const CREDIT_PUSH_WEEKLY: f64 = 10.0;
}

/// Step timings, in order.
#[derive(Default)]
pub struct Timings(pub(crate) Vec<(&'static str, f64)>);

impl Timings {
    fn add(&mut self, step: &'static str, since: Instant) {
        self.0.push((step, since.elapsed().as_secs_f64()));
    }
}

/// Run the demo.
pub fn run(args: DemoArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.people >= 100, "--people must be at least 100");
    anyhow::ensure!(
        (1..=3650).contains(&args.days),
        "--days must be within 1..=3650"
    );
    anyhow::ensure!(
        args.threads.is_none_or(|t| (1..=1024).contains(&t)),
        "--threads must be within 1..=1024"
    );
    let total = Instant::now();
    let (root, _temp) = data_dir(args.data.as_deref())?;
    let quiet_bars = quiet;
    let mut timings = Timings::default();

    // The record, on a clock that walks through the days.
    let start = Utc
        .from_utc_datetime(&start_date().and_hms_opt(1, 0, 0).expect("time"))
        .to_utc();
    let clock = Arc::new(ManualClock::new(start));
    // The platform's keys: its root (what banks pin) certifies a publishing key and the key that
    // signs the journal's heads.
    let publish = root.join("publish");
    std::fs::create_dir_all(&publish)?;
    let platform = Platform::new(&publish)?;
    let options = EngineOptions {
        clock: clock.clone(),
        head_signer: Some(platform.head_signer.clone()),
        head_trust: Some(platform.trust.clone()),
        // The demo keeps its own view of every person (the simulation's): a small page cache
        // for the record's population store leaves the memory to it.
        store_cache_bytes: 64 << 20,
        ..Default::default()
    };
    let (engine, _) = Engine::open(root.join("record"), options)
        .with_context(|| format!("opening the record in {}", root.display()))?;

    // 1. Stations of every kind in every province.
    let t = Instant::now();
    let mut world = Generator::new(args.seed, start_date());
    let capitals = world.geography().capital.clone();
    let offices = setup_stations(&engine, &capitals)?;
    timings.add("stations", t);

    // 2. The population and their cards.
    let t = Instant::now();
    let bar = progress::bar(quiet_bars, args.people as u64, "people");
    // The national commands (imports, the credit push, publishing, policy) are the ministry's.
    let bureau = ministry();
    let mut folk = Vec::with_capacity(args.people);
    let mut numbers = Vec::with_capacity(args.people);
    let mut renewal_due = Vec::new();
    let mut never_had = Vec::new();
    let mut adults = Vec::new();
    let mut cards_registered = 0u64;
    let mut with_fp = 0u64;
    let mut enrolled = 0u64;
    let mut presented_cards = Vec::with_capacity(args.people);
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed ^ 0x5EED);
    let mut hukou_counties = std::collections::HashSet::new();
    let soon = start_date() + Days::new(90);
    while folk.len() < args.people {
        let n = CHUNK.min(args.people - folk.len());
        let chunk: Vec<_> = (0..n).map(|_| world.citizen()).collect();
        let people = chunk.iter().map(|c| c.person.clone()).collect();
        engine.register_people(&bureau, people)?;
        let cards: Vec<_> = chunk.iter().filter_map(|c| c.card().copied()).collect();
        cards_registered += cards.len() as u64;
        engine.register_cards(&bureau, cards)?;
        for c in chunk {
            let i = folk.len() as u32;
            let number = c.person.number;
            enrolled += c.person.fingerprint.is_some() as u64;
            let home = province_of(c.person.hukou_division);
            let r: f64 = rng.random();
            let (work, migrant) = if r < 0.70 {
                (home, false)
            } else if r < 0.97 {
                let mut w = world.geography().province(&mut rng);
                while w == home {
                    w = world.geography().province(&mut rng);
                }
                (w, true)
            } else {
                (home, true)
            };
            let card = c.card().copied();
            if let Some(card) = card {
                presented_cards.push(presented(card.key));
                with_fp += card.fingerprints as u64;
                let due = card
                    .period
                    .valid_until(card.key.valid_from())
                    .is_some_and(|d| d <= soon);
                // Renewals: at home for residents, off-site for migrants.
                if due {
                    renewal_due.push(i);
                }
            } else if number.age_on(start_date()).unwrap_or(0) >= 16 {
                // A first card: migrants first try off-site (refused, A9), everyone gets it at
                // home.
                never_had.push(i);
            }
            if number.age_on(start_date()).unwrap_or(0) >= 18 {
                adults.push(i);
            }
            hukou_counties.insert(c.person.hukou_division);
            numbers.push(number);
            folk.push(Mutex::new(Folk::new(
                number,
                c.person.hukou_division,
                work as u8,
                card.map(|c| c.key),
                card.is_some_and(|c| c.fingerprints),
                c.person.fingerprint.is_some(),
                migrant,
            )));
        }
        bar.set_position(folk.len() as u64);
    }
    bar.finish_and_clear();
    shuffle(&mut rng, &mut renewal_due);
    timings.add("population", t);

    // 3. The blacklist: a push from the credit platform, and public security's own entries.
    let t = Instant::now();
    let mut blacklisted = Vec::new();
    let pushed = blacklist_push(
        &engine,
        &bureau,
        &folk,
        &mut rng,
        args.people / 2000 + 1,
        &mut blacklisted,
    )?;
    let mut listed_by_police = 0u64;
    for _ in 0..args.people / 10_000 + 1 {
        let i = rng.random_range(0..folk.len());
        let n = {
            let mut f = folk[i].lock().expect("not poisoned");
            f.blacklisted = true;
            f.number
        };
        blacklisted.push(i as u32);
        engine.add_blacklist(&bureau, n, forged_card_entry())?;
        listed_by_police += 1;
    }
    timings.add("blacklist", t);

    let bank = Bank::new(&publish.join("bank-deltas"), platform.publishing())?;
    let tally = Tally::default();
    let sim = Sim {
        engine: &engine,
        folk: &folk,
        tally: &tally,
        bank: &bank,
        today: start_date(),
        numbers: &numbers,
        adults: &adults,
    };
    let mut plan = Plan {
        agenda: vec![Vec::new(); args.days as usize],
        pending: vec![0; folk.len()],
        renewal_due,
        never_had,
        blacklisted,
        offices,
        rng,
        police_since: None,
        police_deltas: Vec::new(),
        overdue_by_day: Vec::new(),
        left_over: 0,
    };

    // 4. History: the cards reported lost in the weeks before the first day (in the snapshot).
    let t = Instant::now();
    let spin = step(quiet_bars, "history");
    plan.history(&args, &sim, &clock)?;
    spin.finish_and_clear();
    timings.add("history", t);

    // 5. Publish the police and bank snapshots; the bank opens its verifier.
    let t = Instant::now();
    let spin = step(quiet_bars, "snapshots");
    // The bank is a subscriber: its snapshot is its own (a leaked copy names it).
    let subscriber: idcard::station::SubscriberId = "DEMO-BANK".parse().expect("an id");
    engine.register_subscriber(
        &bureau,
        subscriber.clone(),
        "the demo's bank",
        Profile::Bank,
    )?;
    let bank_snapshot = engine.publish_snapshot_with(
        &bureau,
        Profile::Bank,
        publish.join("bank.idcs"),
        &PublishOptions {
            subscriber: Some(subscriber),
            ..platform.publishing()
        },
    )?;
    let police_snapshot = engine.publish_snapshot_with(
        &bureau,
        Profile::Police,
        publish.join("police.idcs"),
        &platform.publishing(),
    )?;
    bank.attach(Path::new(&bank_snapshot.path), platform.trust.clone())?;
    spin.finish_and_clear();
    timings.add("snapshots", t);

    // 6. The days, with the bank's counters checking cards all along.
    let t = Instant::now();
    let stop = AtomicBool::new(false);
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let days_bar = progress::bar(quiet_bars, args.days as u64, "days");
    let (days_result, counters) = std::thread::scope(|s| {
        let counters = s.spawn(|| bank.counters(threads, &presented_cards, &stop));
        // Stop the counters however the days end (a panic included), or the scope would wait
        // for them forever.
        let _stop = StopOnDrop(&stop);
        let r = plan.days(
            &args,
            &sim,
            &clock,
            &bureau,
            Path::new(&police_snapshot.path),
            &publish,
            &platform.publishing(),
            &days_bar,
        );
        drop(_stop);
        (r, counters.join().expect("counter threads"))
    });
    days_bar.finish_and_clear();
    days_result?;
    timings.add("days", t);

    // 7. The counters alone for two seconds: the same checks without the record's work.
    let t = Instant::now();
    let spin = step(quiet_bars, "verifying");
    let stop = AtomicBool::new(false);
    let alone = std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(std::time::Duration::from_secs(2));
            stop.store(true, Ordering::Relaxed);
        });
        bank.counters(threads, &presented_cards, &stop)
    });
    spin.finish_and_clear();
    timings.add("verify alone", t);
    // What only the days needed (about 110 bytes a person) goes before the end's checks and
    // the journal's, so that their memory is not added to it (issue 19: the peak at ten million
    // people was here).
    drop(presented_cards);
    drop(folk);
    drop(numbers);
    drop(adults);
    plan.agenda = Vec::new();
    plan.pending = Vec::new();
    plan.renewal_due = Vec::new();
    plan.never_had = Vec::new();
    plan.blacklisted = Vec::new();

    // 8. The end: does the bank verifier agree with the record on every changed card?
    let t = Instant::now();
    let end_day = start_date() + Days::new(args.days as u64 - 1);
    let check = engine.with_state(|s| {
        let mut agree = 0u64;
        let mut disagree = Vec::new();
        let mut not_valid = 0u64;
        let mut expired = 0u64;
        let today = idcard::time::china_today();
        // The holders of valid cards, one entry per card (sorted and counted below: a map of
        // ten million people would cost more than the record does).
        let mut valid_holders: Vec<u64> = Vec::new();
        let mut failed = None;
        let walked = s.cards.for_each(|c| {
            not_valid += (c.status != idcard::index::CardStatus::Valid) as u64;
            // A valid card past its validity end (by the key: N5) answers `expired` at the bank.
            let want = if c.status == idcard::index::CardStatus::Valid
                && c.key.valid_until().is_some_and(|end| end < today)
            {
                expired += 1;
                idcard::index::CardStatus::Expired
            } else {
                c.status
            };
            if c.status == idcard::index::CardStatus::Valid
                && match s.people.get(c.key.number()) {
                    Ok(p) => p.is_some_and(|p| !p.deceased),
                    Err(e) => {
                        failed.get_or_insert(e);
                        false
                    }
                }
            {
                valid_holders.push(c.key.number().to_u64());
            }
            let seen = bank.verifier().verify(c.key);
            if seen == want {
                agree += 1;
            } else {
                disagree.push(format!("{:?}: record {} bank {}", c.key, want, seen));
            }
        });
        walked?;
        if let Some(e) = failed {
            return Err(e);
        }
        // One valid card per living person, always.
        valid_holders.sort_unstable();
        let two_valid = valid_holders
            .chunk_by(|a, b| a == b)
            .filter(|run| run.len() > 1)
            .count() as u64;
        Ok((agree, disagree, not_valid, expired, two_valid))
    })?;
    let overdue = engine.overdue_applications(end_day + Days::new(1), None);
    let report = crate::report::Report::gather(crate::report::Inputs {
        args: &args,
        root: &root,
        kept: args.data.is_some(),
        engine: &engine,
        tally: &tally,
        bank: &bank,
        counters: &counters,
        alone: &alone,
        stations_at_start: plan.offices.at_start,
        counties: hukou_counties.len(),
        cards_registered,
        with_fingerprints: with_fp,
        people_enrolled: enrolled,
        blacklist_pushed: pushed,
        blacklist_police: listed_by_police,
        bank_snapshot: &bank_snapshot,
        police_snapshot: &police_snapshot,
        police_deltas: &plan.police_deltas,
        overdue: &overdue,
        overdue_by_day: &plan.overdue_by_day,
        check: &check,
        left_over: plan.left_over,
    });
    timings.add("checks", t);
    let t = Instant::now();
    let spin = step(quiet_bars, "closing");
    // A checkpoint (and a signed head) at the end, then the journal checked as an auditor would:
    // every frame, the hash chain, the checkpoints, the heads against the platform's root.
    engine.checkpoint()?;
    engine.close()?;
    let journal = idcard::engine::verify_journal(root.join("record"), Some(&platform.trust), &[])?;
    spin.finish_and_clear();
    timings.add("close", t);
    let mut report = report;
    report.journal_check(&journal);
    report.timings(&timings, total.elapsed().as_secs_f64());
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.json())?);
    } else {
        print!("{}", report.table());
    }
    Ok(
        if check.1.is_empty() && check.4 == 0 && bank.unseen() == 0 && journal.ok() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        },
    )
}

/// A spinner for a step without a count.
/// The platform's keys for the run: a root key (what the bank pins; its trust file is written
/// as `publish/platform.trust`) and a publishing key the root certified, which signs every
/// snapshot and delta. Fresh keys each run; the private keys are never written.
struct Platform {
    trust: TrustStore,
    signer: Arc<idcard::trust::Signer>,
    head_signer: Arc<idcard::trust::Signer>,
}

impl Platform {
    fn new(publish: &Path) -> anyhow::Result<Platform> {
        let root = SecretKey::generate(Algorithm::Ed25519, "demo platform root")?;
        let key = SecretKey::generate(Algorithm::Ed25519, "demo publisher")?;
        // Certificates are checked against the real clock (the days of the demo are simulated).
        let now = Utc::now();
        let cert = KeyCertificate::issue(
            &root,
            &key.public(),
            Roles::PUBLISH,
            now - chrono::Duration::days(1),
            now + chrono::Duration::days(365),
        )?;
        let head = SecretKey::generate(Algorithm::Ed25519, "demo journal head")?;
        // Heads are checked at the time they were signed, which is the demo's simulated time.
        let simulated = Utc.from_utc_datetime(&start_date().and_hms_opt(0, 0, 0).expect("time"));
        let head_cert = KeyCertificate::issue(
            &root,
            &head.public(),
            Roles::JOURNAL_HEAD,
            simulated.min(now) - chrono::Duration::days(1),
            now + chrono::Duration::days(365),
        )?;
        let trust = TrustStore::new(vec![root.public()]);
        std::fs::write(publish.join("platform.trust"), trust.to_text())?;
        Ok(Platform {
            trust,
            signer: Arc::new(key.signer(Some(cert))),
            head_signer: Arc::new(head.signer(Some(head_cert))),
        })
    }

    fn publishing(&self) -> PublishOptions {
        PublishOptions::signed(self.signer.clone())
    }
}

fn step(quiet: bool, what: &str) -> indicatif::ProgressBar {
    let s = progress::spinner(quiet, what);
    s.enable_steady_tick(std::time::Duration::from_millis(120));
    s
}

/// Sets the flag when dropped.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// The data directory: the one given (new or empty), or a temporary one.
fn data_dir(given: Option<&Path>) -> anyhow::Result<(PathBuf, Option<tempfile::TempDir>)> {
    match given {
        Some(p) => {
            if p.exists() {
                let empty = std::fs::read_dir(p)
                    .with_context(|| format!("reading {}", p.display()))?
                    .next()
                    .is_none();
                anyhow::ensure!(
                    empty,
                    "{} is not empty: the demo writes a new record; give a new or empty directory",
                    p.display()
                );
            }
            std::fs::create_dir_all(p).with_context(|| format!("creating {}", p.display()))?;
            Ok((p.to_path_buf(), None))
        }
        None => {
            let t = tempfile::Builder::new().prefix("idcard-demo-").tempdir()?;
            Ok((t.path().to_path_buf(), Some(t)))
        }
    }
}

/// The provincial offices, and the county offices opened as people need them.
struct Offices {
    counties: std::collections::HashSet<DivisionCode>,
    at_start: usize,
}

const PROVINCIAL_KINDS: [(&str, StationKind, &str); 9] = [
    ("PSB", StationKind::CountyBureau, "公安局"),
    (
        "HR",
        StationKind::HouseholdRegistrationStation,
        "户籍派出所",
    ),
    ("HALL", StationKind::RegistrationHall, "户政大厅"),
    ("POINT", StationKind::OffsiteAcceptancePoint, "异地受理点"),
    ("AIR", StationKind::AirportPolice, "机场公安"),
    ("RAIL", StationKind::RailwayPolice, "铁路公安"),
    ("HOTEL", StationKind::HotelPrecinctStation, "旅馆辖区派出所"),
    ("LF", StationKind::LostAndFoundWindow, "招领窗口"),
    ("BANK", StationKind::CheckingUnit, "银行网点"),
];

fn register(
    engine: &Engine,
    bureau: &idcard::station::Actor,
    id: &str,
    kind: StationKind,
    division: DivisionCode,
    name: String,
) -> Result<(), EngineError> {
    let station = Station {
        id: id.parse().expect("valid id"),
        kind,
        division,
        name,
    };
    let officer = Officer {
        id: format!("{id}.1").parse().expect("valid id"),
        name: "值班民警".into(),
        station: station.id.clone(),
        active: true,
        key: Some(crate::sim::officer_public_key(&format!("{id}.1"))),
    };
    engine.register_station(bureau, station)?;
    engine.register_officer(bureau, officer)
}

/// The ministry's officer (公安部): bootstrapped, it registers the stations.
fn ministry() -> idcard::station::Actor {
    crate::sim::actor("MPS")
}

fn setup_stations(engine: &Engine, capitals: &[DivisionCode]) -> anyhow::Result<Offices> {
    let first = ministry();
    let station = |p: usize, suffix: &str, kind, name: &str| Station {
        id: format!("{}-{suffix}", PROVINCES[p].0)
            .parse()
            .expect("valid id"),
        kind,
        division: capitals[p],
        name: format!("{}{name}", PROVINCES[p].1),
    };
    let chief = Officer {
        id: first.officer.clone(),
        name: "值班民警".into(),
        station: first.station.clone(),
        active: true,
        key: Some(crate::sim::officer_public_key(first.officer.as_str())),
    };
    engine.bootstrap(
        Station {
            id: first.station.clone(),
            kind: StationKind::Ministry,
            division: capitals[0].province(),
            name: "公安部".into(),
        },
        chief,
    )?;
    let mut count = 1;
    for p in 0..PROVINCES.len() {
        for (suffix, kind, name) in PROVINCIAL_KINDS {
            let s = station(p, suffix, kind, name);
            register(
                engine,
                &first,
                s.id.as_str(),
                kind,
                s.division,
                s.name.clone(),
            )?;
            count += 1;
        }
    }
    Ok(Offices {
        counties: std::collections::HashSet::new(),
        at_start: count,
    })
}

impl Offices {
    /// Open a county's household registration station and bureau if it has none yet.
    fn ensure(&mut self, engine: &Engine, county: DivisionCode) -> Result<(), EngineError> {
        if !self.counties.insert(county) {
            return Ok(());
        }
        let bureau = ministry();
        register(
            engine,
            &bureau,
            local(county, "HR").station.as_str(),
            StationKind::HouseholdRegistrationStation,
            county,
            format!("{county} 户籍派出所"),
        )?;
        register(
            engine,
            &bureau,
            local(county, "PSB").station.as_str(),
            StationKind::CountyBureau,
            county,
            format!("{county} 公安局"),
        )
    }
}

fn forged_card_entry() -> BlacklistEntry {
    BlacklistEntry::new(BlacklistReasons::FORGED | BlacklistReasons::IDENTITY_CARD)
}

/// A credit platform push held in memory.
struct VecFeed(Vec<(IdNumber, BlacklistEntry)>);

impl CreditFeed for VecFeed {
    fn next_batch(&mut self) -> Result<Option<Vec<(IdNumber, BlacklistEntry)>>, ExternalError> {
        if self.0.is_empty() {
            return Ok(None);
        }
        let rest = self.0.split_off(self.0.len().min(10_000));
        Ok(Some(std::mem::replace(&mut self.0, rest)))
    }
}

fn blacklist_push(
    engine: &Engine,
    bureau: &idcard::station::Actor,
    folk: &[Mutex<Folk>],
    rng: &mut ChaCha8Rng,
    n: usize,
    listed: &mut Vec<u32>,
) -> Result<u64, EngineError> {
    let mut list = Vec::with_capacity(n);
    for _ in 0..n {
        let i = rng.random_range(0..folk.len());
        let mut f = folk[i].lock().expect("not poisoned");
        f.blacklisted = true;
        listed.push(i as u32);
        list.push((f.number, BlacklistEntry::new(BlacklistReasons::BAD_CREDIT)));
    }
    Ok(engine
        .import_credit_push(bureau, &mut VecFeed(list), &mut |_| {})?
        .imported)
}

fn shuffle<T>(rng: &mut ChaCha8Rng, v: &mut [T]) {
    for i in (1..v.len()).rev() {
        v.swap(i, rng.random_range(0..=i));
    }
}

/// How many of an errand start today: `rate` per 100,000 people, the fraction drawn.
fn how_many(rng: &mut ChaCha8Rng, rate: f64, people: usize) -> usize {
    let x = rate * people as f64 / 100_000.0;
    x.floor() as usize + rng.random_bool(x.fract()) as usize
}

/// A seed for one person's errands in one hour.
fn task_seed(seed: u64, day: u32, hour: u32, who: usize) -> u64 {
    let mut z = seed
        ^ (day as u64) << 48
        ^ (hour as u64) << 40
        ^ (who as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The planner: who does what on which day.
struct Plan {
    agenda: Vec<Vec<(u32, Job)>>,
    pending: Vec<u16>,
    renewal_due: Vec<u32>,
    never_had: Vec<u32>,
    blacklisted: Vec<u32>,
    offices: Offices,
    rng: ChaCha8Rng,
    police_since: Option<u64>,
    police_deltas: Vec<u64>,
    overdue_by_day: Vec<usize>,
    left_over: u64,
}

impl Plan {
    fn schedule(&mut self, day: u32, who: usize, job: Job) {
        if let Some(list) = self.agenda.get_mut(day as usize) {
            list.push((who as u32, job));
            self.pending[who] += 1;
        } else {
            self.left_over += 1;
        }
    }

    /// A random person free for a new errand and satisfying `want`.
    fn pick(&mut self, sim: &Sim<'_>, want: impl Fn(&Folk) -> bool) -> Option<usize> {
        for _ in 0..50 {
            let i = self.rng.random_range(0..sim.folk.len());
            if self.pending[i] == 0 && want(&sim.folk[i].lock().expect("not poisoned")) {
                return Some(i);
            }
        }
        None
    }

    /// Start today's new errands.
    fn start_errands(&mut self, day: u32, sim: &Sim<'_>) {
        let n = sim.folk.len();
        let have_card = |f: &Folk| f.idle() && f.card().is_some() && !f.lost;
        for _ in 0..how_many(&mut self.rng, Rates::LOSS, n) {
            let stolen = self.rng.random_bool(0.1);
            if let Some(i) = self.pick(sim, have_card) {
                self.schedule(day, i, Job::Loss { stolen });
            }
        }
        for _ in 0..how_many(&mut self.rng, Rates::RENEWAL, n) {
            while let Some(i) = self.renewal_due.pop() {
                let i = i as usize;
                if self.pending[i] == 0 && have_card(&sim.folk[i].lock().expect("not poisoned")) {
                    self.schedule(
                        day,
                        i,
                        Job::Apply {
                            kind: ApplicationKind::Renewal,
                        },
                    );
                    break;
                }
            }
        }
        for _ in 0..how_many(&mut self.rng, Rates::DAMAGED, n) {
            if let Some(i) = self.pick(sim, |f| have_card(f) && f.migrant) {
                self.schedule(
                    day,
                    i,
                    Job::Apply {
                        kind: ApplicationKind::DamagedRenewal,
                    },
                );
            }
        }
        for _ in 0..how_many(&mut self.rng, Rates::BLACKLISTED_APPLIES, n) {
            if self.blacklisted.is_empty() {
                break;
            }
            let i = self.blacklisted[self.rng.random_range(0..self.blacklisted.len())] as usize;
            let f = sim.folk[i].lock().expect("not poisoned");
            if self.pending[i] == 0 && have_card(&f) && f.blacklisted && f.migrant {
                drop(f);
                self.schedule(
                    day,
                    i,
                    Job::Apply {
                        kind: ApplicationKind::Renewal,
                    },
                );
            }
        }
        for _ in 0..how_many(&mut self.rng, Rates::TEMP_CERT, n) {
            let province = self.rng.random_range(0..PROVINCES.len()) as u8;
            if let Some(i) = self.pick(sim, |f| !f.dead) {
                self.schedule(day, i, Job::TempCert { province });
            }
        }
        for _ in 0..how_many(&mut self.rng, Rates::DEATH, n) {
            // The old die more: the oldest of three drawn.
            let mut best: Option<(usize, chrono::NaiveDate)> = None;
            for _ in 0..3 {
                if let Some(i) = self.pick(sim, Folk::idle) {
                    let birth = sim.numbers[i].birth_date();
                    if best.is_none_or(|(_, b)| birth < b) {
                        best = Some((i, birth));
                    }
                }
            }
            if let Some((i, _)) = best {
                self.schedule(day, i, Job::Death);
            }
        }
        for _ in 0..how_many(&mut self.rng, Rates::FIRST_TIMER, n) {
            if let Some(i) = self.never_had.pop() {
                self.schedule(day, i as usize, Job::FirstTimer);
            }
        }
    }

    /// Losses reported in the weeks before the first day: 1 % of the cards, at the counters
    /// like every other loss; what follows them (replacements, found cards …) happens in the
    /// first days.
    fn history(
        &mut self,
        args: &DemoArgs,
        sim: &Sim<'_>,
        clock: &ManualClock,
    ) -> anyhow::Result<()> {
        let before = Utc
            .from_utc_datetime(
                &(start_date() - Days::new(14))
                    .and_hms_opt(1, 0, 0)
                    .expect("time"),
            )
            .to_utc();
        clock.set(before);
        let sim = Sim {
            today: start_date() - Days::new(14),
            ..*sim
        };
        let mut tasks = Vec::new();
        let mut chosen = std::collections::HashSet::new();
        for _ in 0..args.people / 100 {
            let stolen = self.rng.random_bool(0.1);
            if let Some(i) = self.pick(&sim, |f| f.idle() && f.card().is_some() && !f.lost)
                && chosen.insert(i)
            {
                tasks.push((i, vec![Job::Loss { stolen }]));
            }
        }
        tasks.sort_by_key(|(i, _)| *i);
        for (who, jobs) in &tasks {
            if jobs
                .iter()
                .any(|j| j.needs_local_office(sim.folk[*who].lock().expect("not poisoned").migrant))
            {
                let county = sim.folk[*who].lock().expect("not poisoned").hukou;
                self.offices.ensure(sim.engine, county)?;
            }
        }
        for (who, _, follow_ups) in run_tasks(&sim, args.seed, u32::MAX, 0, tasks)? {
            for (days, job) in follow_ups {
                self.schedule(days.saturating_sub(1), who, job);
            }
        }
        Ok(())
    }

    /// The bureau's own work of the day: policy, blacklist.
    fn bureau_work(
        &mut self,
        day: u32,
        sim: &Sim<'_>,
        bureau: &idcard::station::Actor,
    ) -> Result<(), EngineError> {
        let n = sim.folk.len();
        if day == 2 {
            // The ministry shortens processing to 20 days (A4 allows shorter) and Guangdong
            // opens intra-province acceptance from two weeks on (A1, A12).
            let mut policy = sim.engine.with_state(|s| s.policy.clone());
            policy.processing_days = 20;
            policy
                .rollout
                .intra_province
                .push((44, sim.today + Days::new(12)));
            record(
                sim,
                idcard::station::CommandKind::SetPolicy,
                sim.engine.set_policy(bureau, policy),
            )?;
        }
        if day % 7 == 6 {
            let k = how_many(&mut self.rng, Rates::CREDIT_PUSH_WEEKLY, n);
            blacklist_push(
                sim.engine,
                bureau,
                sim.folk,
                &mut self.rng,
                k,
                &mut self.blacklisted,
            )?;
        }
        for _ in 0..how_many(&mut self.rng, Rates::BLACKLIST_ADD, n) {
            let i = self.rng.random_range(0..n);
            let number = {
                let mut f = sim.folk[i].lock().expect("not poisoned");
                f.blacklisted = true;
                f.number
            };
            let entry = if self.rng.random_bool(0.1) {
                // Without a reason category: refused (A6).
                BlacklistEntry::new(BlacklistReasons::default())
            } else {
                forged_card_entry()
            };
            let r = sim.engine.add_blacklist(bureau, number, entry);
            if record(sim, idcard::station::CommandKind::AddBlacklist, r)?.is_none() {
                sim.folk[i].lock().expect("not poisoned").blacklisted = false;
                continue;
            }
            self.blacklisted.push(i as u32);
            if self.rng.random_bool(0.1) {
                // Listed in error: removed, with the reason.
                let r = sim.engine.remove_blacklist(
                    bureau,
                    number,
                    "listed in error: court ruling revoked",
                );
                if record(sim, idcard::station::CommandKind::RemoveBlacklist, r)?.is_some() {
                    sim.folk[i].lock().expect("not poisoned").blacklisted = false;
                }
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn days(
        &mut self,
        args: &DemoArgs,
        sim: &Sim<'_>,
        clock: &ManualClock,
        bureau: &idcard::station::Actor,
        police_snapshot: &Path,
        publish: &Path,
        publishing: &PublishOptions,
        bar: &indicatif::ProgressBar,
    ) -> anyhow::Result<()> {
        for day in 0..args.days {
            let today = start_date() + Days::new(day as u64);
            let sim = Sim { today, ..*sim };
            let opening = Utc
                .from_utc_datetime(&today.and_hms_opt(1, 0, 0).expect("time"))
                .to_utc();
            clock.set(opening);
            self.bureau_work(day, &sim, bureau)?;
            self.start_errands(day, &sim);
            // Today's errands, each person's in one hour of the day. Deaths are recorded first,
            // before the counters open: anyone may be someone else's errand (a guardian), and
            // a death in the same hour would make the outcome depend on thread timing.
            let mut todays = std::mem::take(&mut self.agenda[day as usize]);
            todays.sort_by_key(|(who, _)| *who);
            let (deaths, todays): (Vec<_>, Vec<_>) = todays
                .into_iter()
                .partition(|(_, j)| matches!(j, Job::Death));
            let deaths: Vec<(usize, Vec<Job>)> = deaths
                .into_iter()
                .map(|(w, j)| (w as usize, vec![j]))
                .collect();
            // Recorded by the hukou county's bureau (S1: its jurisdiction).
            for (who, _) in &deaths {
                let county = sim.folk[*who].lock().expect("not poisoned").hukou;
                self.offices.ensure(sim.engine, county)?;
            }
            for (who, ran, follow_ups) in run_tasks(&sim, args.seed, day, HOURS, deaths)? {
                self.pending[who] -= ran;
                for (days, job) in follow_ups {
                    self.schedule(day + days.max(1), who, job);
                }
            }
            let mut hours: Vec<Vec<(usize, Vec<Job>)>> = vec![Vec::new(); HOURS as usize];
            for (who, job) in todays {
                let who = who as usize;
                let hour = (task_seed(args.seed, day, 99, who) % HOURS as u64) as usize;
                match hours[hour].last_mut() {
                    Some((w, jobs)) if *w == who => jobs.push(job),
                    _ => hours[hour].push((who, vec![job])),
                }
            }
            for (hour, tasks) in hours.into_iter().enumerate() {
                clock.set(opening + chrono::Duration::hours(hour as i64));
                for (who, jobs) in &tasks {
                    let f = sim.folk[*who].lock().expect("not poisoned");
                    if jobs.iter().any(|j| j.needs_local_office(f.migrant)) {
                        let county = f.hukou;
                        drop(f);
                        self.offices.ensure(sim.engine, county)?;
                    }
                }
                let done = run_tasks(&sim, args.seed, day, hour as u32, tasks)?;
                for (who, ran, follow_ups) in done {
                    self.pending[who] -= ran;
                    for (days, job) in follow_ups {
                        self.schedule(day + days.max(1), who, job);
                    }
                }
                sim.bank.sync(sim.engine, bureau)?;
            }
            // The police get a delta a day (with the blacklist); sizes are reported.
            let path = publish.join(format!("police-{:03}.idcd", day + 1));
            let p = sim.engine.publish_delta_with(
                bureau,
                police_snapshot,
                self.police_since,
                &path,
                publishing,
            )?;
            self.police_since = Some(p.to_seq);
            self.police_deltas.push(p.bytes);
            // A4: each reviewing bureau escalates what became overdue (once each).
            let bureaus: std::collections::BTreeSet<idcard::station::StationId> =
                sim.engine.with_state(|s| {
                    s.applications
                        .values()
                        .filter(|a| a.is_overdue(today) && !a.escalated)
                        .map(|a| a.hukou_bureau.clone())
                        .collect()
                });
            for b in bureaus {
                record(
                    &sim,
                    idcard::station::CommandKind::EscalateOverdue,
                    sim.engine.execute(
                        &crate::sim::actor(b.as_str()),
                        &idcard::workflow::offsite::EscalateOverdue,
                    ),
                )?;
            }
            // Overdue at the end of the day: not issued by a deadline that has passed.
            self.overdue_by_day.push(
                sim.engine
                    .overdue_applications(today + Days::new(1), None)
                    .len(),
            );
            bar.inc(1);
        }
        Ok(())
    }
}

/// Count a bureau command like the counters' ones.
fn record<T>(
    sim: &Sim<'_>,
    command: idcard::station::CommandKind,
    r: Result<T, EngineError>,
) -> Result<Option<T>, EngineError> {
    sim.note_public(command, r)
}

/// Run one hour's tasks on the worker threads. Returns, per person, the jobs run and the
/// follow-ups, sorted by person (so the schedule does not depend on thread timing).
fn run_tasks(
    sim: &Sim<'_>,
    seed: u64,
    day: u32,
    hour: u32,
    tasks: Vec<(usize, Vec<Job>)>,
) -> anyhow::Result<Vec<(usize, u16, Vec<crate::sim::FollowUp>)>> {
    let next = AtomicUsize::new(0);
    let out = Mutex::new(Vec::with_capacity(tasks.len()));
    let failed: Mutex<Option<EngineError>> = Mutex::new(None);
    let workers = WORKERS.min(tasks.len());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((who, jobs)) = tasks.get(i) else {
                        break;
                    };
                    let mut rng = ChaCha8Rng::seed_from_u64(task_seed(seed, day, hour, *who));
                    let mut follow_ups = Vec::new();
                    for job in jobs {
                        match sim.run(*who, job.clone(), &mut rng) {
                            Ok(f) => follow_ups.extend(f),
                            Err(e) => {
                                failed.lock().expect("not poisoned").get_or_insert(e);
                                next.store(usize::MAX / 2, Ordering::Relaxed);
                                return;
                            }
                        }
                    }
                    out.lock()
                        .expect("not poisoned")
                        .push((*who, jobs.len() as u16, follow_ups));
                }
            });
        }
    });
    if let Some(e) = failed.into_inner().expect("not poisoned") {
        return Err(e.into());
    }
    let mut out = out.into_inner().expect("not poisoned");
    out.sort_by_key(|(who, _, _)| *who);
    Ok(out)
}
