//! The bank: a verifier opened on the published bank snapshot, kept current by the chain of
//! deltas the record publishes, and counter threads on every core presenting cards to it.
//!
//! Measured here: verification throughput and the latency of single checks (sampled), the time
//! from an acknowledged loss report to the bank verifier answering `lost`, delta sizes and the
//! time to apply them.

use idcard::workflow::Commands;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use idcard::CardKey;
use idcard::engine::{Engine, EngineError};
use idcard::index::{CardStatus, Verifier, VerifierOptions};
use idcard::station::Actor;
use idcard::trust::TrustStore;
use idcard::workflow::publish::PublishOptions;

/// A card as a counter reads it: the 18 characters and the validity start as `YYYYMMDD`.
pub type Presented = ([u8; 18], u32);

/// The card in presented form.
pub fn presented(card: CardKey) -> Presented {
    let d = card.valid_from();
    use chrono::Datelike;
    (
        card.number().to_ascii(),
        d.year() as u32 * 10_000 + d.month() * 100 + d.day(),
    )
}

/// The bank and what it measured.
pub struct Bank {
    /// The platform's publishing options (its signing key): the bank's deltas are signed.
    publishing: PublishOptions,
    verifier: OnceLock<Verifier>,
    snapshot: OnceLock<PathBuf>,
    dir: PathBuf,
    state: Mutex<Chain>,
    /// Loss reports acknowledged and not yet seen as lost at the verifier.
    pending: Mutex<Vec<(CardKey, Instant)>>,
    /// Cards whose status changed: presented at the counters too.
    changed: Mutex<Vec<CardKey>>,
    pool: RwLock<Arc<Vec<Presented>>>,
    pool_version: AtomicU64,
}

/// The delta chain and its measurements.
#[derive(Default)]
pub struct Chain {
    pub since: Option<u64>,
    pub deltas: u64,
    pub delta_bytes: Vec<u64>,
    pub card_changes: u64,
    pub apply: Vec<Duration>,
    pub publish: Vec<Duration>,
    /// Acknowledgement of a loss report to `lost` at the bank verifier.
    pub loss_to_lost: Vec<Duration>,
}

/// Totals of the counter threads.
#[derive(Debug, Default)]
pub struct Counters {
    pub threads: usize,
    pub checks: u64,
    pub seconds: f64,
    pub answers: [u64; CardStatus::ALL.len()],
    pub latency: Option<Histogram<u64>>,
}

impl Bank {
    /// A bank that will write its deltas to `dir`; it opens its verifier with [`Bank::attach`].
    pub fn new(dir: &Path, publishing: PublishOptions) -> Result<Bank, EngineError> {
        std::fs::create_dir_all(dir).map_err(|e| EngineError::Io {
            path: dir.display().to_string(),
            source: e,
        })?;
        Ok(Bank {
            publishing,
            verifier: OnceLock::new(),
            snapshot: OnceLock::new(),
            dir: dir.to_path_buf(),
            state: Mutex::new(Chain::default()),
            pending: Mutex::new(Vec::new()),
            changed: Mutex::new(Vec::new()),
            pool: RwLock::new(Arc::new(Vec::new())),
            pool_version: AtomicU64::new(0),
        })
    }

    /// Open the verifier on the published bank snapshot, pinning the platform's root key: every
    /// file's signature is checked. Losses reported before it was published are in it: they are
    /// not timed. (No maximum age: the demo's days are simulated, the verifier's clock is not.)
    pub fn attach(&self, snapshot: &Path, trust: TrustStore) -> Result<(), EngineError> {
        let options = VerifierOptions {
            max_age: None,
            ..VerifierOptions::trusting(trust)
        };
        let v = Verifier::open_with(snapshot, options)?;
        let _ = self.verifier.set(v);
        let _ = self.snapshot.set(snapshot.to_path_buf());
        self.pending.lock().expect("not poisoned").clear();
        Ok(())
    }

    /// The bank's verifier (once attached).
    pub fn verifier(&self) -> &Verifier {
        self.verifier
            .get()
            .expect("the bank verifier is attached before counter work")
    }

    /// A loss report was acknowledged now: time it until the verifier answers `lost`.
    pub fn watch(&self, card: CardKey) {
        self.pending
            .lock()
            .expect("not poisoned")
            .push((card, Instant::now()));
        self.changed(card);
    }

    /// A card's status changed: people will present it too.
    pub fn changed(&self, card: CardKey) {
        self.changed.lock().expect("not poisoned").push(card);
    }

    /// Publish the next delta of the chain, apply it, and time the losses it carries.
    pub fn sync(&self, engine: &Engine, bureau: &Actor) -> Result<(), EngineError> {
        let mut chain = self.state.lock().expect("not poisoned");
        let path = self.dir.join(format!("bank-{:05}.idcd", chain.deltas + 1));
        let t = Instant::now();
        let snapshot = self.snapshot.get().expect("attached");
        let published =
            engine.publish_delta_with(bureau, snapshot, chain.since, &path, &self.publishing)?;
        chain.publish.push(t.elapsed());
        let t = Instant::now();
        self.verifier().apply_delta_file(&path)?;
        chain.apply.push(t.elapsed());
        chain.since = Some(published.to_seq);
        chain.deltas += 1;
        chain.delta_bytes.push(published.bytes);
        chain.card_changes += published.cards;
        let mut pending = self.pending.lock().expect("not poisoned");
        let now = Instant::now();
        pending.retain(|(card, at)| {
            let seen = matches!(
                self.verifier().verify(*card),
                CardStatus::Lost | CardStatus::Stolen
            );
            if seen {
                chain.loss_to_lost.push(now - *at);
            }
            !seen
        });
        drop(pending);
        let changed = self.changed.lock().expect("not poisoned");
        let pool: Vec<Presented> = changed.iter().map(|c| presented(*c)).collect();
        drop(changed);
        *self.pool.write().expect("not poisoned") = Arc::new(pool);
        self.pool_version.fetch_add(1, Ordering::Release);
        Ok(())
    }

    /// Loss reports not yet seen at the verifier.
    pub fn unseen(&self) -> usize {
        self.pending.lock().expect("not poisoned").len()
    }

    /// The chain's measurements.
    pub fn chain(&self) -> std::sync::MutexGuard<'_, Chain> {
        self.state.lock().expect("not poisoned")
    }

    /// Counter threads: present cards until `stop` — mostly the cards people hold (`cards`, in
    /// turn, each thread from its own starting point), one in thirty a card drawn from those
    /// whose status changed during the run (lost, found, superseded).
    /// One check in 64 is timed.
    pub fn counters(&self, threads: usize, cards: &[Presented], stop: &AtomicBool) -> Counters {
        let start = Instant::now();
        let per_thread: Vec<(u64, [u64; CardStatus::ALL.len()], Histogram<u64>)> =
            std::thread::scope(|s| {
                let handles: Vec<_> = (0..threads)
                    .map(|t| s.spawn(move || self.counter(t as u64, cards, stop)))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("counter thread"))
                    .collect()
            });
        let mut out = Counters {
            threads,
            seconds: start.elapsed().as_secs_f64(),
            ..Default::default()
        };
        let mut hist = new_histogram();
        for (checks, answers, h) in per_thread {
            out.checks += checks;
            for (a, b) in out.answers.iter_mut().zip(answers) {
                *a += b;
            }
            hist.add(h).expect("same bounds");
        }
        out.latency = Some(hist);
        out
    }

    fn counter(
        &self,
        seed: u64,
        cards: &[Presented],
        stop: &AtomicBool,
    ) -> (u64, [u64; CardStatus::ALL.len()], Histogram<u64>) {
        let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ (seed + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut hist = new_histogram();
        let mut answers = [0u64; CardStatus::ALL.len()];
        let mut checks = 0u64;
        let mut version = u64::MAX;
        let mut changed: Arc<Vec<Presented>> = Arc::new(Vec::new());
        if cards.is_empty() {
            return (0, answers, hist);
        }
        let verifier = self.verifier();
        // The queue of people at the counters: the cards in turn from a point of their own.
        let mut cursor = next() as usize % cards.len();
        while !stop.load(Ordering::Relaxed) {
            let v = self.pool_version.load(Ordering::Acquire);
            if v != version {
                changed = self.pool.read().expect("not poisoned").clone();
                version = v;
            }
            for i in 0..4096u32 {
                let r = next();
                let (number, from) = if r % 30 == 0 && !changed.is_empty() {
                    &changed[(r >> 8) as usize % changed.len()]
                } else {
                    cursor = if cursor + 1 == cards.len() {
                        0
                    } else {
                        cursor + 1
                    };
                    &cards[cursor]
                };
                let status = if i % 64 == 0 {
                    let t = Instant::now();
                    let s = verifier.verify_number_yyyymmdd(number, *from);
                    let ns = t.elapsed().as_nanos() as u64;
                    hist.saturating_record(ns.max(1));
                    s
                } else {
                    verifier.verify_number_yyyymmdd(number, *from)
                };
                answers[status as usize] += 1;
            }
            checks += 4096;
        }
        (checks, answers, hist)
    }
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid bounds")
}

/// The cost of timing itself: the median of back-to-back clock reads, in nanoseconds.
pub fn timer_overhead_ns() -> u64 {
    let mut v: Vec<u64> = (0..10_001)
        .map(|_| {
            let t = Instant::now();
            t.elapsed().as_nanos() as u64
        })
        .collect();
    v.sort_unstable();
    v[v.len() / 2]
}
