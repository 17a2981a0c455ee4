//! The load generator (`idcard load`): a platform on loopback with N station clients sending
//! signed loss reports, S subscribers following the feed (each with its own folder and
//! verifier), then M units verifying online in batches; bounded in count and time. Figures are
//! medians and tails of what it measured, on this machine, with every client in the same
//! process as the server (they share its cores).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::NaiveDate;
use hdrhistogram::Histogram;
use idcard::engine::{CardRef, Engine, EngineOptions, InPerson};
use idcard::index::CardStatus;
use idcard::model::CardRegistration;
use idcard::population::{Person, PersonCategory};
use idcard::station::{Actor, CommandKind, Officer, Station, StationKind};
use idcard::trust::{Algorithm, SecretKey, Signer, TrustStore};
use idcard::workflow::Commands;
use idcard::workflow::loss::LossRequest;
use idcard::workflow::publish::PublishOptions;
use idcard::{CardKey, DivisionCode, IdNumber, ValidityPeriod};
use serde::Serialize;

use crate::api::{CardQuery, VerifyRequest};
use crate::client::Client;
use crate::subscribe::{SubscribeOptions, Subscriber};

/// A key derived from a name: for load runs and tests only (anyone can derive it).
pub fn derived_key(name: &str) -> SecretKey {
    let seed = *blake3::hash(format!("idcard load key {name}").as_bytes()).as_bytes();
    SecretKey::from_seed(Algorithm::Ed25519, seed, name)
}

fn actor(officer: &str, station: &str) -> Actor {
    Actor::new(officer, station)
        .expect("ids")
        .with_key(derived_key(officer))
}

/// A platform's data directory made for a load run or a test.
pub struct Setup {
    /// The data directory.
    pub data: PathBuf,
    /// What verifiers pin (the root that signs the feed).
    pub trust: TrustStore,
    /// The feed's signer.
    pub publisher: Arc<Signer>,
    /// The ministry's service officer.
    pub ministry: Actor,
    /// One officer per household registration station.
    pub stations: Vec<Actor>,
    /// One officer per bank unit.
    pub units: Vec<Actor>,
    /// An airport police officer (A8) and a lost-and-found window's officer (F1).
    pub airport: Actor,
    /// A lost-and-found window's officer.
    pub window: Actor,
    /// The people's cards (each person holds one).
    pub cards: Vec<CardKey>,
}

fn citizen(i: usize) -> IdNumber {
    let birth =
        NaiveDate::from_ymd_opt(1980, 1, 1).expect("date") + chrono::Days::new((i / 900) as u64);
    let body = format!("110105{}{:03}", birth.format("%Y%m%d"), 100 + i % 900);
    let w = [7u32, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let s: u32 = body
        .bytes()
        .zip(w)
        .map(|(b, w)| (b - b'0') as u32 * w)
        .sum();
    format!("{body}{}", b"10X98765432"[(s % 11) as usize] as char)
        .parse()
        .expect("a valid number")
}

/// Make a data directory: the ministry (`MPS`, officer `M0`), a county bureau in Chaoyang
/// (110105), `stations` household registration stations, `units` banks, an airport police
/// station and a lost-and-found window, each with one officer whose key is [`derived_key`] of
/// its id, and `people` people with one card each (valid from 2020-01-01).
pub fn setup(data: &Path, people: usize, stations: usize, units: usize) -> anyhow::Result<Setup> {
    setup_with(data, people, stations, units, None)
}

/// [`setup`] on the population store of `store` (`None`: the embedded one).
pub fn setup_with(
    data: &Path,
    people: usize,
    stations: usize,
    units: usize,
    store: Option<Arc<dyn idcard::store::StoreProvider>>,
) -> anyhow::Result<Setup> {
    let options = EngineOptions {
        store,
        ..EngineOptions::default()
    };
    let (engine, _) = Engine::open(data, options)?;
    let div = DivisionCode::new(110105).context("division")?;
    let station = |id: &str, kind, division| Station {
        id: id.parse().expect("id"),
        kind,
        division,
        name: id.into(),
    };
    let officer = |id: &str, st: &str| Officer {
        id: id.parse().expect("id"),
        name: id.into(),
        station: st.parse().expect("id"),
        active: true,
        key: Some(idcard::station::OfficerKey::of(&derived_key(id).public())),
    };
    engine.bootstrap(
        station(
            "MPS",
            StationKind::Ministry,
            DivisionCode::new(110000).context("division")?,
        ),
        officer("M0", "MPS"),
    )?;
    let ministry = actor("M0", "MPS");
    engine.register_station(&ministry, station("PSB", StationKind::CountyBureau, div))?;
    engine.register_officer(&ministry, officer("B0", "PSB"))?;
    let bureau = actor("B0", "PSB");
    let add = |id: String, kind, n: &str| -> anyhow::Result<Actor> {
        engine.register_station(&bureau, station(&id, kind, div))?;
        engine.register_officer(&bureau, officer(n, &id))?;
        Ok(actor(n, &id))
    };
    let stations = (0..stations)
        .map(|i| {
            add(
                format!("HR{i}"),
                StationKind::HouseholdRegistrationStation,
                &format!("H{i}"),
            )
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let units = (0..units)
        .map(|i| {
            add(
                format!("BANK{i}"),
                StationKind::CheckingUnit,
                &format!("U{i}"),
            )
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let airport = add("AIRPORT".into(), StationKind::AirportPolice, "A0")?;
    let window = add("WINDOW".into(), StationKind::LostAndFoundWindow, "W0")?;
    let applied = NaiveDate::from_ymd_opt(2020, 1, 1).expect("date");
    let mut cards = Vec::with_capacity(people);
    for chunk in (0..people).collect::<Vec<_>>().chunks(50_000) {
        let persons: Vec<Person> = chunk
            .iter()
            .map(|&i| Person {
                number: citizen(i),
                name: format!("person {i}"),
                hukou_division: div,
                category: PersonCategory::Civilian,
                fingerprint: None,
                contact: None,
                deceased: false,
                fee_exempt: false,
            })
            .collect();
        let regs: Vec<CardRegistration> = persons
            .iter()
            .map(|p| {
                let key = CardKey::new(p.number, applied).expect("card");
                cards.push(key);
                CardRegistration {
                    key,
                    period: ValidityPeriod::on_application(p.number, applied).expect("period"),
                    fingerprints: false,
                }
            })
            .collect();
        engine.register_people(&bureau, persons)?;
        engine.register_cards(&bureau, regs)?;
    }
    engine.close()?;
    let root = derived_key("platform root");
    let trust = TrustStore::new(vec![root.public()]);
    Ok(Setup {
        data: data.to_path_buf(),
        trust,
        publisher: Arc::new(root.signer(None)),
        ministry,
        stations,
        units,
        airport,
        window,
        cards,
    })
}

/// What a load run does.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Station clients sending loss reports concurrently.
    pub stations: usize,
    /// Units verifying online concurrently.
    pub units: usize,
    /// Subscribers following the feed.
    pub subscribers: usize,
    /// Seconds of each phase.
    pub seconds: f64,
    /// Cards per verification request.
    pub batch: usize,
    /// People (and cards) in the record: the most loss reports a run can make.
    pub people: usize,
    /// Where to make the data directory (a temporary one by default).
    pub dir: Option<PathBuf>,
    /// Subscribers follow NATS JetStream here (the server publishes there too).
    pub nats: Option<String>,
    /// Where the subscribers' folders go (default: beside the data directory). Each real
    /// subscriber has a disk of its own: on this one machine, a tmpfs here keeps a hundred
    /// subscribers' writes off the journal's disk.
    pub subscribers_dir: Option<PathBuf>,
    /// Compare online verification with this `redis-server`.
    pub redis: Option<PathBuf>,
    /// The population store of the platform under load (default: the embedded one).
    pub store: Option<Arc<dyn idcard::store::StoreProvider>>,
}

/// Percentiles in milliseconds.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Latency {
    /// Observations.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

impl Latency {
    fn of(h: &Histogram<u64>) -> Latency {
        Latency {
            count: h.len(),
            p50_ms: h.value_at_quantile(0.5) as f64 / 1000.0,
            p99_ms: h.value_at_quantile(0.99) as f64 / 1000.0,
            max_ms: h.max() as f64 / 1000.0,
        }
    }
}

/// What a load run measured.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LoadReport {
    /// The options (as text).
    pub options: String,
    /// Loss reports acknowledged (durable).
    pub commands: u64,
    /// Commands that failed.
    pub command_errors: u64,
    /// Acknowledged commands per second.
    pub commands_per_s: f64,
    /// From sending to the durable answer.
    pub command_latency: Latency,
    /// From a loss report's answer to a subscriber's verifier answering `lost`, over every
    /// subscriber and every sampled report.
    pub propagation: Latency,
    /// Cards verified online.
    pub verified_cards: u64,
    /// Cards per second.
    pub verified_per_s: f64,
    /// Per verification request.
    pub verify_latency: Latency,
    /// Redis `SISMEMBER`, pipelined in the same batches by as many connections: cards per
    /// second (when asked for).
    pub redis_per_s: Option<f64>,
    /// Per pipelined batch.
    pub redis_latency: Option<Latency>,
}

fn hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("bounds")
}

/// Run: set up, serve on loopback, drive, stop, report.
pub async fn run(o: LoadOptions) -> anyhow::Result<LoadReport> {
    let tmp;
    let dir = match &o.dir {
        Some(d) => d.clone(),
        None => {
            tmp = tempfile::tempdir()?;
            tmp.path().to_path_buf()
        }
    };
    let data = dir.join("data");
    let (people, stations, units) = (o.people, o.stations.max(1), o.units.max(1));
    let store = o.store.clone();
    let s = tokio::task::spawn_blocking(move || setup_with(&data, people, stations, units, store))
        .await??;
    // Off the async threads: a store's client may block (PostgreSQL's does).
    let (data, store) = (s.data.clone(), o.store.clone());
    let engine =
        tokio::task::spawn_blocking(move || crate::open_engine_with(&data, store)).await??;
    let mut serve = crate::ServeOptions::new(
        "127.0.0.1:0".parse()?,
        s.ministry.clone(),
        PublishOptions::signed(s.publisher.clone()),
    );
    serve.profiles = vec![idcard::index::Profile::Bank];
    if let Some(url) = &o.nats {
        crate::nats::delete_profile(url, "bank").await?;
        serve
            .channels
            .push(Arc::new(crate::nats::NatsChannel::connect(url).await?));
    }
    let running = crate::start(engine, serve).await?;
    let base = format!("http://{}", running.addr);
    let client = Client::new(&base, None)?;
    let mut report = LoadReport {
        options: format!("{o:?}"),
        ..LoadReport::default()
    };

    // Subscribers, each with its own folder, checking the sampled reports after every snapshot
    // and delta they take. A sample's clock starts when its report is sent.
    let samples: Arc<Mutex<Vec<(CardKey, Instant)>>> = Arc::default();
    let propagation = Arc::new(Mutex::new(hist()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut subs = Vec::new();
    for i in 0..o.subscribers {
        let options = SubscribeOptions {
            profile: "bank".into(),
            dir: o
                .subscribers_dir
                .as_deref()
                .unwrap_or(&dir)
                .join(format!("sub{i}")),
            trust: s.trust.clone(),
            wait: Duration::from_millis(500),
            verbose: false,
        };
        let mut sub = match &o.nats {
            Some(_) => Subscriber::local(options)?,
            None => {
                let mut sub =
                    Subscriber::new(client.clone(), s.units[i % s.units.len()].clone(), options)
                        .await?;
                sub.sync(Duration::ZERO).await?;
                sub
            }
        };
        let pending: Arc<Mutex<Vec<(CardKey, Instant)>>> = Arc::default();
        let seen = Arc::new(AtomicUsize::new(0));
        {
            let (samples, pending, propagation, seen) = (
                Arc::clone(&samples),
                Arc::clone(&pending),
                Arc::clone(&propagation),
                Arc::clone(&seen),
            );
            let mut next = 0;
            sub.on_change(Box::new(move |v| {
                let mut p = pending.lock().expect("pending");
                {
                    let s = samples.lock().expect("samples");
                    p.extend_from_slice(&s[next..]);
                    next = s.len();
                    seen.store(next, Ordering::Release);
                }
                let now = Instant::now();
                let mut h = propagation.lock().expect("hist");
                p.retain(|(k, at)| {
                    if v.verify(*k) == CardStatus::Lost {
                        let _ =
                            h.record(now.saturating_duration_since(*at).as_micros().max(1) as u64);
                        false
                    } else {
                        true
                    }
                });
            }));
        }
        // Stop once told to and every sample seen (at most 10 s after the stop).
        let done = {
            let (stop, samples, pending, seen) = (
                Arc::clone(&stop),
                Arc::clone(&samples),
                Arc::clone(&pending),
                Arc::clone(&seen),
            );
            async move {
                while !stop.load(Ordering::Acquire) {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                for _ in 0..200 {
                    // Every sample taken, and none left waiting.
                    let taken = samples.lock().expect("samples").len();
                    let p = pending.lock().expect("pending").len();
                    if p == 0 && seen.load(Ordering::Acquire) >= taken {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };
        let nats = o.nats.clone();
        subs.push(tokio::spawn(async move {
            match nats {
                Some(url) => {
                    if let Err(e) = crate::nats::follow(&url, sub, done).await {
                        eprintln!("load: subscriber: {e:#}");
                    }
                }
                None => {
                    tokio::pin!(done);
                    loop {
                        tokio::select! {
                            _ = &mut done => break,
                            r = sub.sync(Duration::from_millis(500)) => if let Err(e) = r {
                                eprintln!("load: subscriber: {e:#}");
                                tokio::time::sleep(Duration::from_millis(100)).await;
                            },
                        }
                    }
                }
            }
        }));
    }

    // Phase 1: station clients file loss reports.
    let next_card = Arc::new(AtomicUsize::new(0));
    let cards = Arc::new(s.cards.clone());
    let latency = Arc::new(Mutex::new(hist()));
    let errors = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(o.seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..o.stations {
        let actor = s.stations[t % s.stations.len()].clone();
        let (client, next_card, cards) =
            (client.clone(), Arc::clone(&next_card), Arc::clone(&cards));
        let (latency, errors, done, samples) = (
            Arc::clone(&latency),
            Arc::clone(&errors),
            Arc::clone(&done),
            Arc::clone(&samples),
        );
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let i = next_card.fetch_add(1, Ordering::Relaxed);
                let Some(&card) = cards.get(i) else { break };
                let req = LossRequest {
                    card: CardRef::card(card),
                    stolen: false,
                    present: InPerson::holder(card.number()),
                };
                let body = serde_json::to_value(&req).expect("json");
                let t0 = Instant::now();
                if i % 50 == 0 {
                    samples.lock().expect("samples").push((card, t0));
                }
                match client.send(&actor, CommandKind::ReportLoss, body).await {
                    Ok(_) => {
                        let now = Instant::now();
                        let _ = latency
                            .lock()
                            .expect("hist")
                            .record((now - t0).as_micros().max(1) as u64);
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        if errors.fetch_add(1, Ordering::Relaxed) < 5 {
                            eprintln!("load: command: {e:#}");
                        }
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    report.commands = done.load(Ordering::Relaxed);
    report.command_errors = errors.load(Ordering::Relaxed);
    report.commands_per_s = report.commands as f64 / elapsed;
    report.command_latency = Latency::of(&latency.lock().expect("hist"));
    stop.store(true, Ordering::Release);
    for s in subs {
        let _ = tokio::time::timeout(Duration::from_secs(30), s).await;
    }
    report.propagation = Latency::of(&propagation.lock().expect("hist"));

    // Phase 2: units verify online, in batches.
    let queries: Arc<Vec<CardQuery>> = Arc::new(
        s.cards
            .iter()
            .map(|k| CardQuery {
                number: k.number().to_string(),
                valid_from: k.valid_from().to_string(),
            })
            .collect(),
    );
    let verified = Arc::new(AtomicU64::new(0));
    let vlat = Arc::new(Mutex::new(hist()));
    let deadline = Instant::now() + Duration::from_secs_f64(o.seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for u in 0..o.units {
        let unit = client.clone().login(&s.units[u % s.units.len()]).await?;
        let (queries, verified, vlat) = (
            Arc::clone(&queries),
            Arc::clone(&verified),
            Arc::clone(&vlat),
        );
        let batch = o.batch.max(1);
        tasks.push(tokio::spawn(async move {
            let mut at = (u * 7919) % queries.len().max(1);
            while Instant::now() < deadline {
                let cards: Vec<CardQuery> = (0..batch)
                    .map(|j| {
                        let q = &queries[(at + j) % queries.len()];
                        CardQuery {
                            number: q.number.clone(),
                            valid_from: q.valid_from.clone(),
                        }
                    })
                    .collect();
                at = (at + batch) % queries.len();
                let t0 = Instant::now();
                match unit.verify(&VerifyRequest { cards }).await {
                    Ok(r) => {
                        let _ = vlat
                            .lock()
                            .expect("hist")
                            .record(t0.elapsed().as_micros().max(1) as u64);
                        verified.fetch_add(r.statuses.len() as u64, Ordering::Relaxed);
                    }
                    Err(e) => {
                        eprintln!("load: verify: {e:#}");
                        break;
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    report.verified_cards = verified.load(Ordering::Relaxed);
    report.verified_per_s = report.verified_cards as f64 / elapsed;
    report.verify_latency = Latency::of(&vlat.lock().expect("hist"));
    running.stop().await.context("stopping the server")?;
    if let Some(redis) = &o.redis {
        let listed: Vec<CardKey> =
            s.cards[..(report.commands as usize).min(s.cards.len())].to_vec();
        let (per_s, lat) = redis_peer(redis, &s.cards, &listed, &o).await?;
        report.redis_per_s = Some(per_s);
        report.redis_latency = Some(lat);
    }
    Ok(report)
}

fn redis_key(k: &CardKey) -> String {
    format!("{}:{}", k.number(), k.valid_from())
}

fn resp(args: &[&[u8]], out: &mut Vec<u8>) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// Read `n` integer replies (`:0`/`:1`) of a pipeline; their sum.
async fn read_replies(
    r: &mut tokio::io::BufReader<tokio::net::tcp::OwnedReadHalf>,
    n: usize,
) -> anyhow::Result<u64> {
    use tokio::io::AsyncBufReadExt;
    let mut line = String::new();
    let mut sum = 0;
    for _ in 0..n {
        line.clear();
        r.read_line(&mut line).await?;
        let v = line.trim_end();
        match v.strip_prefix(':') {
            Some(x) => sum += x.parse::<u64>()?,
            None => anyhow::bail!("redis answered {v:?}"),
        }
    }
    Ok(sum)
}

/// The peer: a user who would otherwise stand up Redis keeps the listed cards in a set and asks
/// `SISMEMBER` for each card, pipelined in batches of the same size, over as many loopback
/// connections as units verify online. (It answers membership only: no expiry, no kinds of
/// number, no signatures; a lower bound on what a Redis-based check costs.)
async fn redis_peer(
    redis: &Path,
    cards: &[CardKey],
    listed: &[CardKey],
    o: &LoadOptions,
) -> anyhow::Result<(f64, Latency)> {
    use tokio::io::AsyncWriteExt;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut child = tokio::process::Command::new(redis)
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", redis.display()))?;
    let addr = format!("127.0.0.1:{port}");
    let mut conn = None;
    for _ in 0..100 {
        if let Ok(c) = tokio::net::TcpStream::connect(&addr).await {
            conn = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let conn = conn.context("redis-server did not start")?;
    let (r, mut w) = conn.into_split();
    let mut r = tokio::io::BufReader::new(r);
    for chunk in listed.chunks(1000) {
        let mut buf = Vec::new();
        for k in chunk {
            resp(&[b"SADD", b"lost", redis_key(k).as_bytes()], &mut buf);
        }
        w.write_all(&buf).await?;
        read_replies(&mut r, chunk.len()).await?;
    }
    let keys: Arc<Vec<String>> = Arc::new(cards.iter().map(redis_key).collect());
    let verified = Arc::new(AtomicU64::new(0));
    let lat = Arc::new(Mutex::new(hist()));
    let deadline = Instant::now() + Duration::from_secs_f64(o.seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for u in 0..o.units.max(1) {
        let (keys, verified, lat, addr) = (
            Arc::clone(&keys),
            Arc::clone(&verified),
            Arc::clone(&lat),
            addr.clone(),
        );
        let batch = o.batch.max(1);
        tasks.push(tokio::spawn(async move {
            let (r, mut w) = tokio::net::TcpStream::connect(&addr).await?.into_split();
            let mut r = tokio::io::BufReader::new(r);
            let mut at = (u * 7919) % keys.len().max(1);
            while Instant::now() < deadline {
                let t0 = Instant::now();
                let mut buf = Vec::with_capacity(batch * 64);
                for j in 0..batch {
                    let k = &keys[(at + j) % keys.len()];
                    resp(&[b"SISMEMBER", b"lost", k.as_bytes()], &mut buf);
                }
                at = (at + batch) % keys.len();
                w.write_all(&buf).await?;
                read_replies(&mut r, batch).await?;
                let _ = lat
                    .lock()
                    .expect("hist")
                    .record(t0.elapsed().as_micros().max(1) as u64);
                verified.fetch_add(batch as u64, Ordering::Relaxed);
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let per_s = verified.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    let _ = child.kill().await;
    Ok((per_s, Latency::of(&lat.lock().expect("hist"))))
}
