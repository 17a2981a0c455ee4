//! Readers verifying while a writer applies deltas and swaps snapshots (L3): is any read torn,
//! does any card's answer go back to an older generation, and what does the writer cost the
//! readers' tail latency? Prints one JSON line; exits 1 on a torn or backward read.
//!
//! `cargo run --release -p idcard-benches --bin concurrency -- [--cards 1000000] [--readers 8]
//!  [--updates 100000] [--seconds 10] [--runs 3]`
//!
//! Each run has two phases of `--seconds`: the readers alone (idle), then the readers while a
//! writer applies `--updates` card changes per second (deltas of 1,000 changes) and swaps in a
//! newer snapshot every second. Readers look up random listed and unlisted cards one at a time,
//! timing every 16th lookup, and read the 1,000 watched cards the writer keeps changing: each
//! delta sets every watched card to the delta's sequence number (in the entry's date) with a
//! status of matching parity, so a torn read (a status of one generation with the date of
//! another) and a step back (an older generation after a newer one) are both detectable.
//! Figures: medians over `--runs` of the p50, p99 and p99.9 lookup latency per phase, and the
//! ratio loaded / idle.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use hdrhistogram::Histogram;
use idcard::CardKey;
use idcard::index::{
    CardEntry, CardReason, CardStatus, DeltaBuilder, OpenOptions, Profile, Snapshot,
    SnapshotBuilder, SnapshotInfo, Verifier, VerifierOptions,
};
use idcard_benches::{KeyGen, median};
use serde_json::json;

const WATCHED: usize = 1000;
/// Sequence numbers between prepared snapshots (more than the deltas of one swap interval).
const SEQ_STRIDE: u64 = 4000;

struct Args {
    cards: usize,
    readers: usize,
    updates: u64,
    seconds: u64,
    runs: usize,
}

fn parse_args() -> Args {
    let mut a = Args {
        cards: 1_000_000,
        readers: 8,
        updates: 100_000,
        seconds: 10,
        runs: 3,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v: u64 = it
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| usage(&format!("{flag} needs a number")));
        match flag.as_str() {
            "--cards" => a.cards = v as usize,
            "--readers" => a.readers = v as usize,
            "--updates" => a.updates = v,
            "--seconds" => a.seconds = v,
            "--runs" => a.runs = v as usize,
            _ => usage(&format!("unknown argument {flag}")),
        }
    }
    a
}

fn usage(msg: &str) -> ! {
    eprintln!(
        "{msg}\nusage: concurrency [--cards N] [--readers N] [--updates PER_S] [--seconds S] [--runs N]"
    );
    std::process::exit(2)
}

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()
}

/// The entry of a watched card at generation `seq`: the date carries the generation, the
/// status its parity.
fn watched_entry(seq: u64) -> CardEntry {
    CardEntry {
        status: if seq.is_multiple_of(2) {
            CardStatus::Lost
        } else {
            CardStatus::Stolen
        },
        reason: CardReason::UNSPECIFIED,
        // Day 0 means "unknown" in the slot: generation `seq` is day `seq + 1`.
        changed_on: Some(epoch() + chrono::Days::new(seq + 1)),
    }
}

fn generation_of(e: &CardEntry) -> Option<u64> {
    let seq = ((e.changed_on? - epoch()).num_days() as u64).checked_sub(1)?;
    let parity_ok = (e.status == CardStatus::Lost) == seq.is_multiple_of(2);
    parity_ok.then_some(seq)
}

struct Snapshots {
    _dir: tempfile::TempDir,
    files: Vec<(std::path::PathBuf, SnapshotInfo)>,
}

fn prepare(a: &Args, listed: &[CardKey], watched: &[CardKey]) -> Snapshots {
    let dir = tempfile::tempdir().unwrap();
    let swaps = a.seconds as usize + 2;
    let files = (0..=swaps)
        .map(|k| {
            let seq = k as u64 * SEQ_STRIDE;
            let mut b = SnapshotBuilder::new(Profile::Bank);
            b.journal_seq(seq);
            b.extend_cards(
                listed
                    .iter()
                    .map(|k| (*k, CardEntry::new(CardStatus::Lost))),
            );
            b.extend_cards(watched.iter().map(|k| (*k, watched_entry(seq))));
            let path = dir.path().join(format!("s{k}.idcs"));
            let info = b.write(&path).unwrap();
            (path, info)
        })
        .collect();
    Snapshots { _dir: dir, files }
}

#[derive(Default)]
struct ReaderOut {
    lookups: u64,
    watched_reads: u64,
    torn: u64,
    backward: u64,
    hist: Option<Histogram<u64>>,
}

fn reader(
    v: &Verifier,
    queries: &[CardKey],
    watched: &[CardKey],
    stop: &AtomicBool,
    seed: u64,
) -> ReaderOut {
    let mut hist = Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3).unwrap();
    let mut last = vec![0u64; watched.len()];
    let mut out = ReaderOut::default();
    let mut x = seed | 1;
    let mut i = (seed as usize) % queries.len();
    while !stop.load(Ordering::Relaxed) {
        for j in 0..1024u32 {
            i = if i + 1 == queries.len() { 0 } else { i + 1 };
            if j % 16 == 0 {
                let t = Instant::now();
                std::hint::black_box(v.verify(queries[i]));
                hist.saturating_record(t.elapsed().as_nanos() as u64);
            } else {
                std::hint::black_box(v.verify(queries[i]));
            }
        }
        out.lookups += 1024;
        for _ in 0..16 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let w = (x % watched.len() as u64) as usize;
            out.watched_reads += 1;
            match v.card_entry(watched[w]).as_ref().and_then(generation_of) {
                None => out.torn += 1,
                Some(g) if g < last[w] => out.backward += 1,
                Some(g) => last[w] = g,
            }
        }
    }
    out.hist = Some(hist);
    out
}

struct Phase {
    lookups_per_s: f64,
    p50: u64,
    p99: u64,
    p999: u64,
    torn: u64,
    backward: u64,
    watched_reads: u64,
    updates: u64,
    swaps: u64,
}

fn phase(
    a: &Args,
    snaps: &Snapshots,
    queries: &[CardKey],
    watched: &[CardKey],
    write: bool,
) -> Phase {
    let v = Verifier::from_snapshot(
        Snapshot::open(&snaps.files[0].0, &OpenOptions::unsigned()).unwrap(),
        VerifierOptions::unsigned(),
    )
    .unwrap();
    let stop = AtomicBool::new(false);
    let updates = AtomicU64::new(0);
    let swaps = AtomicU64::new(0);
    let t0 = Instant::now();
    let outs: Vec<ReaderOut> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..a.readers)
            .map(|r| {
                let (v, stop) = (&v, &stop);
                s.spawn(move || reader(v, queries, watched, stop, 0x9E37_79B9 * (r as u64 + 1)))
            })
            .collect();
        if write {
            writer(a, &v, snaps, watched, &updates, &swaps);
        } else {
            std::thread::sleep(Duration::from_secs(a.seconds));
        }
        stop.store(true, Ordering::Relaxed);
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let secs = t0.elapsed().as_secs_f64();
    let mut hist = Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3).unwrap();
    let mut p = Phase {
        lookups_per_s: 0.0,
        p50: 0,
        p99: 0,
        p999: 0,
        torn: 0,
        backward: 0,
        watched_reads: 0,
        updates: updates.load(Ordering::Relaxed),
        swaps: swaps.load(Ordering::Relaxed),
    };
    let mut lookups = 0;
    for o in outs {
        lookups += o.lookups;
        p.torn += o.torn;
        p.backward += o.backward;
        p.watched_reads += o.watched_reads;
        hist.add(o.hist.unwrap()).unwrap();
    }
    p.lookups_per_s = lookups as f64 / secs;
    p.p50 = hist.value_at_quantile(0.5);
    p.p99 = hist.value_at_quantile(0.99);
    p.p999 = hist.value_at_quantile(0.999);
    p
}

/// Apply deltas of 1,000 changes (the watched cards) at `--updates` per second, and swap in the
/// next prepared snapshot every second.
fn writer(
    a: &Args,
    v: &Verifier,
    snaps: &Snapshots,
    watched: &[CardKey],
    updates: &AtomicU64,
    swaps: &AtomicU64,
) {
    let deltas_per_s = (a.updates / WATCHED as u64).max(1);
    let interval = Duration::from_secs_f64(1.0 / deltas_per_s as f64);
    let start = Instant::now();
    let mut k = 0usize;
    let mut info = snaps.files[0].1.clone();
    let mut seq = info.journal_seq;
    let mut next = start;
    while start.elapsed() < Duration::from_secs(a.seconds) {
        if start.elapsed() >= Duration::from_secs(k as u64 + 1) && k + 1 < snaps.files.len() {
            k += 1;
            let (path, newer) = &snaps.files[k];
            v.swap_snapshot(path).unwrap();
            info = newer.clone();
            seq = info.journal_seq;
            swaps.fetch_add(1, Ordering::Relaxed);
        }
        let mut d = DeltaBuilder::new(&info, seq, seq + 1);
        for w in watched {
            d.set_card(*w, watched_entry(seq + 1)).unwrap();
        }
        v.apply_delta(&d.build()).unwrap();
        seq += 1;
        updates.fetch_add(watched.len() as u64, Ordering::Relaxed);
        next += interval;
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
}

fn main() {
    let a = parse_args();
    let mut g = KeyGen::new(7);
    let mut seen = std::collections::HashSet::new();
    let mut fresh = |n: usize| -> Vec<CardKey> {
        let mut v = Vec::with_capacity(n);
        while v.len() < n {
            let k = g.card();
            if seen.insert(k) {
                v.push(k);
            }
        }
        v
    };
    let listed = fresh(a.cards);
    let watched = fresh(WATCHED);
    let unlisted = fresh(a.cards / 10);
    // Presented cards: 99 % unlisted-looking mix of listed and never-listed keys.
    let mut queries: Vec<CardKey> = listed.iter().step_by(10).copied().collect();
    queries.extend(unlisted.iter().copied());
    let snaps = prepare(&a, &listed, &watched);
    let mut idle = Vec::new();
    let mut loaded = Vec::new();
    for _ in 0..a.runs {
        idle.push(phase(&a, &snaps, &queries, &watched, false));
        loaded.push(phase(&a, &snaps, &queries, &watched, true));
    }
    fn med(v: &[Phase], f: impl Fn(&Phase) -> f64) -> f64 {
        median(v.iter().map(f).collect())
    }
    let torn: u64 = loaded.iter().chain(&idle).map(|p| p.torn).sum();
    let backward: u64 = loaded.iter().chain(&idle).map(|p| p.backward).sum();
    let (i999, l999) = (
        med(&idle, |p| p.p999 as f64),
        med(&loaded, |p| p.p999 as f64),
    );
    let out = json!({
        "cards": a.cards,
        "readers": a.readers,
        "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "seconds_per_phase": a.seconds,
        "runs": a.runs,
        "idle": {
            "lookups_per_s": med(&idle, |p| p.lookups_per_s).round(),
            "p50_ns": med(&idle, |p| p.p50 as f64),
            "p99_ns": med(&idle, |p| p.p99 as f64),
            "p99_9_ns": i999,
        },
        "loaded": {
            "updates_per_s": med(&loaded, |p| p.updates as f64 / a.seconds as f64).round(),
            "swaps": med(&loaded, |p| p.swaps as f64),
            "lookups_per_s": med(&loaded, |p| p.lookups_per_s).round(),
            "p50_ns": med(&loaded, |p| p.p50 as f64),
            "p99_ns": med(&loaded, |p| p.p99 as f64),
            "p99_9_ns": l999,
        },
        "p99_9_loaded_over_idle": (l999 / i999 * 1000.0).round() / 1000.0,
        "watched_reads": loaded.iter().map(|p| p.watched_reads).sum::<u64>(),
        "torn_reads": torn,
        "backward_reads": backward,
    });
    println!("{out}");
    if torn > 0 || backward > 0 {
        std::process::exit(1);
    }
}
