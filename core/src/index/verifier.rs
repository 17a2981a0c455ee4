//! The verifier: a snapshot plus applied deltas, shared by any number of reader threads.

use std::cell::{Cell, RefCell};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use arc_swap::ArcSwap;
use chrono::{DateTime, NaiveDate, Utc};

use super::delta::{Delta, DeltaOp};
use super::filter;
use super::format::SnapshotInfo;
use super::hash::{
    decode_blacklist_value, decode_card_payload, have_avx2, payload_status, prefetch,
};
use super::overlay::Overlay;
use super::snapshot::{OpenOptions, Snapshot, status_of_payload};
use super::{BlacklistEntry, CardEntry, CardStatus, IndexError, Profile};
use crate::card::CardKey;
use crate::civil::{days_from_yyyymmdd, from_naive};
use crate::number::{IdNumber, Parser};
use crate::time::china_today;

/// How deep the batch pipeline runs ahead: lookups whose cache lines are being fetched while
/// earlier ones are resolved.
const PIPELINE: usize = 64;

/// Options of a verifier.
#[derive(Clone, Copy, Debug, Default)]
pub struct VerifierOptions {
    /// Answer [`CardStatus::Stale`] instead of `Valid` when the data is older than this (the
    /// newer of the snapshot's as-of time and the creation time of the last applied delta).
    pub max_age: Option<Duration>,
    /// How to open snapshot files.
    pub open: OpenOptions,
}

/// What a verifier holds now.
#[derive(Clone, Debug, serde::Serialize)]
pub struct VerifierInfo {
    /// The snapshot's header facts.
    pub snapshot: SnapshotInfo,
    /// The journal sequence reached (the snapshot's, advanced by each delta).
    pub journal_seq: u64,
    /// Deltas applied since the snapshot.
    pub deltas_applied: u64,
    /// Cards changed by deltas.
    pub overlay_cards: usize,
    /// Blacklist entries changed by deltas.
    pub overlay_blacklist: usize,
    /// How fresh the data is: the newer of the snapshot's as-of time and the last delta's
    /// creation time.
    pub fresh_as_of: DateTime<Utc>,
    /// The configured maximum age, in seconds.
    pub max_age_seconds: Option<u64>,
    /// Whether non-listed cards answer `stale` now.
    pub stale: bool,
}

/// [`pipeline_impl`] compiled for AVX2.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(all(target_arch = "x86_64", target_endian = "little", not(miri)))]
#[target_feature(enable = "avx2")]
unsafe fn pipeline_avx2(
    g: &Generation,
    out: &mut [CardStatus],
    unlisted: CardStatus,
    hash_of: impl Fn(usize) -> Option<u64>,
) {
    pipeline_impl::<true>(g, out, unlisted, hash_of)
}

/// One card through [`Generation::resolve`] compiled for AVX2.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(all(target_arch = "x86_64", target_endian = "little", not(miri)))]
#[target_feature(enable = "avx2")]
unsafe fn resolve_avx2(g: &Generation, h: u64, unlisted: CardStatus) -> CardStatus {
    let maybe = g.may_list::<true>(h);
    g.resolve_maybe::<true>(g.snapshot.card_slots(), g.overlay(), h, unlisted, maybe)
}

/// Hash item `i` and prefetch what resolving it will read.
#[inline(always)]
fn issue(g: &Generation, slots: &[u64], overlay: Option<&Overlay>, h: Option<u64>) -> u64 {
    let h = h.unwrap_or(0);
    if h != 0 {
        g.snapshot.prefetch_card(slots, h);
        if let Some(o) = overlay {
            prefetch(o.slot_address(h));
        }
    }
    h
}

/// The batch pipeline (see `Verifier::pipeline`).
#[inline(always)]
fn pipeline_impl<const AVX2: bool>(
    g: &Generation,
    out: &mut [CardStatus],
    unlisted: CardStatus,
    hash_of: impl Fn(usize) -> Option<u64>,
) {
    match g.snapshot.filter_blocks() {
        None => pipeline_table::<AVX2>(g, out, unlisted, hash_of),
        Some(blocks) => pipeline_filtered::<AVX2>(g, blocks, out, unlisted, hash_of),
    }
}

/// Without a filter: hash and prefetch the table bucket `PIPELINE` items ahead.
#[inline(always)]
fn pipeline_table<const AVX2: bool>(
    g: &Generation,
    out: &mut [CardStatus],
    unlisted: CardStatus,
    hash_of: impl Fn(usize) -> Option<u64>,
) {
    let n = out.len();
    let slots = g.snapshot.card_slots();
    let overlay = g.overlay();
    let mut ring = [0u64; PIPELINE];
    for (i, r) in ring.iter_mut().enumerate().take(n) {
        *r = issue(g, slots, overlay, hash_of(i));
    }
    for i in 0..n {
        let h = ring[i % PIPELINE];
        if i + PIPELINE < n {
            ring[i % PIPELINE] = issue(g, slots, overlay, hash_of(i + PIPELINE));
        }
        out[i] = if h == 0 {
            CardStatus::InvalidNumber
        } else {
            g.resolve::<AVX2>(slots, overlay, h, unlisted)
        };
    }
}

/// With a filter, three stages: hash and prefetch the filter block `PIPELINE` items ahead; test
/// the filter and, for the few cards it may list, prefetch the table bucket `PIPELINE / 2` items
/// ahead; resolve.
#[inline(always)]
fn pipeline_filtered<const AVX2: bool>(
    g: &Generation,
    blocks: &[[u32; 8]],
    out: &mut [CardStatus],
    unlisted: CardStatus,
    hash_of: impl Fn(usize) -> Option<u64>,
) {
    const AHEAD: usize = PIPELINE / 2;
    let n = out.len();
    let slots = g.snapshot.card_slots();
    let overlay = g.overlay();
    let mut hs = [0u64; PIPELINE];
    let mut maybe = [false; PIPELINE];
    for (i, h) in hs.iter_mut().enumerate().take(n) {
        *h = stage_a(blocks, overlay, hash_of(i));
    }

    for i in 0..n.min(AHEAD) {
        maybe[i] = stage_b::<AVX2>(g, slots, hs[i]);
    }
    for i in 0..n {
        let (h, m) = (hs[i % PIPELINE], maybe[i % PIPELINE]);
        if i + PIPELINE < n {
            hs[i % PIPELINE] = stage_a(blocks, overlay, hash_of(i + PIPELINE));
        }
        if i + AHEAD < n {
            let k = (i + AHEAD) % PIPELINE;
            maybe[k] = stage_b::<AVX2>(g, slots, hs[k]);
        }
        out[i] = if h == 0 {
            CardStatus::InvalidNumber
        } else {
            g.resolve_maybe::<AVX2>(slots, overlay, h, unlisted, m)
        };
    }
}

/// Filtered pipeline, first stage: prefetch the filter block (and the overlay slot).
#[inline(always)]
fn stage_a(blocks: &[[u32; 8]], overlay: Option<&Overlay>, h: Option<u64>) -> u64 {
    let h = h.unwrap_or(0);
    if h != 0 {
        prefetch(filter::block_address(blocks, h));
        if let Some(o) = overlay {
            prefetch(o.slot_address(h));
        }
    }
    h
}

/// Filtered pipeline, second stage: test the filter; prefetch the table bucket if it may list.
#[inline(always)]
fn stage_b<const AVX2: bool>(g: &Generation, slots: &[u64], h: u64) -> bool {
    let m = h != 0 && g.may_list::<AVX2>(h);
    if m {
        g.snapshot.prefetch_card(slots, h);
    }
    m
}

/// One consistent state: readers load it once per call and never see a half-swapped snapshot.
struct Generation {
    snapshot: Arc<Snapshot>,
    cards: Arc<Overlay>,
    blacklist: Arc<Overlay>,
    seq: u64,
    deltas_applied: u64,
    fresh_as_of: DateTime<Utc>,
}

impl Generation {
    /// The status for a card hash: the overlay first (applied deltas), then the snapshot.
    /// `AVX2` selects the table scan; it is only `true` inside functions compiled for AVX2 and
    /// called after detecting it.
    #[inline(always)]
    fn resolve<const AVX2: bool>(
        &self,
        slots: &[u64],
        overlay: Option<&Overlay>,
        h: u64,
        unlisted: CardStatus,
    ) -> CardStatus {
        self.resolve_maybe::<AVX2>(slots, overlay, h, unlisted, true)
    }

    /// As `resolve`, with the filter's verdict: `maybe == false` means the snapshot does not
    /// list the card (the overlay is still consulted).
    #[inline(always)]
    fn resolve_maybe<const AVX2: bool>(
        &self,
        slots: &[u64],
        overlay: Option<&Overlay>,
        h: u64,
        unlisted: CardStatus,
        maybe: bool,
    ) -> CardStatus {
        if let Some(o) = overlay
            && let Some(v) = o.get(h)
        {
            return if payload_status(v) == 0 {
                unlisted
            } else {
                status_of_payload(v)
            };
        }
        if !maybe {
            return unlisted;
        }
        #[cfg(all(target_arch = "x86_64", target_endian = "little", not(miri)))]
        let found = if AVX2 {
            // SAFETY: `AVX2` is true only on paths entered after `have_avx2()`.
            unsafe { self.snapshot.card_slot_avx2(slots, h) }
        } else {
            self.snapshot.card_slot(slots, h)
        };
        #[cfg(not(all(target_arch = "x86_64", target_endian = "little", not(miri))))]
        let found = self.snapshot.card_slot(slots, h);
        match found {
            Some(s) => status_of_payload(s),
            None => unlisted,
        }
    }

    fn overlay(&self) -> Option<&Overlay> {
        (self.cards.len() > 0).then_some(&*self.cards)
    }

    /// The filter's verdict for a hash (`true` without a filter).
    #[inline(always)]
    fn may_list<const AVX2: bool>(&self, h: u64) -> bool {
        match self.snapshot.filter_blocks() {
            None => true,
            #[cfg(all(target_arch = "x86_64", target_endian = "little", not(miri)))]
            // SAFETY: `AVX2` is true only on paths entered after `have_avx2()`.
            Some(b) if AVX2 => unsafe { filter::may_contain_avx2(b, h) },
            Some(b) => filter::may_contain(b, h),
        }
    }
}

struct Shared {
    /// Unique among all verifiers of the process (never reused), for the thread caches.
    id: u64,
    current: ArcSwap<Generation>,
    /// Bumped (release) after every store to `current`; readers compare it with a plain load.
    version: AtomicU64,
    writer: Mutex<()>,
    stale: AtomicBool,
    max_age: Option<Duration>,
    /// Today (China) as last seen, as days since 1970-01-01, for the future-birth-date check
    /// of raw numbers without reading the clock on every query.
    today: AtomicI32,
}

static NEXT_VERIFIER_ID: AtomicU64 = AtomicU64::new(1);

/// The generation this thread last used, of which verifier, at which version.
#[derive(Clone, Copy)]
struct Fast {
    verifier: u64,
    version: u64,
    generation: *const Generation,
}

/// Owns the `Arc` behind [`Fast::generation`]; dropping it (thread exit) clears `FAST` first, so
/// a later query from another thread-local destructor takes the slow path.
struct Owner(Option<Arc<Generation>>);

impl Drop for Owner {
    fn drop(&mut self) {
        let _ = FAST.try_with(|f| f.set(Fast::EMPTY));
    }
}

impl Fast {
    const EMPTY: Fast = Fast {
        verifier: 0,
        version: 0,
        generation: std::ptr::null(),
    };
}

thread_local! {
    /// A query compares the verifier's version with a plain atomic load and, when the thread
    /// already holds that generation, uses it: no locked instruction and no reference count on
    /// the query path, so the cache misses of consecutive queries overlap (an `ArcSwap::load`
    /// per query serialised them: 7 M/s instead of 20 M/s one at a time).
    static FAST: Cell<Fast> = const { Cell::new(Fast::EMPTY) };
    static OWNER: RefCell<Owner> = const { RefCell::new(Owner(None)) };
}

impl Shared {
    /// Publish a new generation: visible to every query that starts after this returns.
    fn publish(&self, g: Generation) {
        self.current.store(Arc::new(g));
        self.version.fetch_add(1, Ordering::Release);
    }

    /// Run `f` on the current generation. `f` is internal code that never calls back into a
    /// verifier (the slow path may replace this thread's cached generation).
    #[inline(always)]
    fn with_generation<R>(&self, f: impl FnOnce(&Generation) -> R) -> R {
        let version = self.version.load(Ordering::Acquire);
        if let Ok(fast) = FAST.try_with(Cell::get)
            && fast.verifier == self.id
            && fast.version == version
        {
            // SAFETY: `fast.generation` came from the `Arc` this thread's OWNER holds; OWNER is
            // only replaced by `with_generation_slow` on this thread (never while `f` runs: `f`
            // does not re-enter), and its destructor clears FAST before dropping the `Arc`.
            return f(unsafe { &*fast.generation });
        }
        self.with_generation_slow(version, f)
    }

    #[cold]
    #[inline(never)]
    fn with_generation_slow<R>(&self, version: u64, f: impl FnOnce(&Generation) -> R) -> R {
        let g = self.current.load_full();
        let ptr = Arc::as_ptr(&g);
        let cached = OWNER.try_with(|o| {
            let mut o = o.try_borrow_mut().ok()?;
            o.0 = Some(g.clone());
            FAST.try_with(|fast| {
                fast.set(Fast {
                    verifier: self.id,
                    version,
                    generation: ptr,
                })
            })
            .ok()
        });
        let _ = cached;
        f(&g)
    }

    fn refresh_stale(&self) {
        let g = self.current.load();
        let stale = self.max_age.is_some_and(|max| {
            let age = Utc::now().signed_duration_since(g.fresh_as_of);
            age.to_std().is_ok_and(|a| a > max)
        });
        self.stale.store(stale, Ordering::Release);
        self.today
            .store(from_naive(china_today()), Ordering::Relaxed);
    }

    /// Whether a birth date is after today. The cached date can only be behind the clock, so a
    /// birth date up to it is fine; a later one is checked against the clock (rare: someone
    /// born since the cache was refreshed).
    #[inline]
    fn is_future_birth(&self, birth_days: i32) -> bool {
        if birth_days <= self.today.load(Ordering::Relaxed) {
            return false;
        }
        self.future_birth_slow(birth_days)
    }

    #[cold]
    fn future_birth_slow(&self, birth_days: i32) -> bool {
        let today = from_naive(china_today());
        self.today.store(today, Ordering::Relaxed);
        birth_days > today
    }
}

struct Ticker {
    stop: Arc<(Mutex<bool>, Condvar)>,
    handle: Option<JoinHandle<()>>,
}

/// Answers "is this card reported lost?" from a snapshot plus applied deltas (L3).
///
/// `Send + Sync`: share one verifier between all threads (an `Arc<Verifier>` or a `&Verifier`
/// in scoped threads). Queries never lock and never block; [`Verifier::apply_delta`] and
/// [`Verifier::swap_snapshot`] may run at the same time on another thread, and what they apply
/// is visible to every query that starts after they return.
pub struct Verifier {
    shared: Arc<Shared>,
    /// The number parser, made at the first check from text (it loads the division table,
    /// which key-only users never need).
    parser: std::sync::OnceLock<Parser<'static>>,
    ticker: Option<Ticker>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("info", &self.info())
            .finish()
    }
}

impl Verifier {
    /// Open a snapshot file (fully verified), no maximum age.
    pub fn open(path: impl AsRef<Path>) -> Result<Verifier, IndexError> {
        Self::open_with(path, VerifierOptions::default())
    }

    /// Open a snapshot file with options.
    pub fn open_with(
        path: impl AsRef<Path>,
        options: VerifierOptions,
    ) -> Result<Verifier, IndexError> {
        let snapshot = Snapshot::open_with(path, options.open)?;
        Ok(Self::from_snapshot(snapshot, options))
    }

    /// A verifier over an already opened snapshot.
    pub fn from_snapshot(snapshot: Snapshot, options: VerifierOptions) -> Verifier {
        let shared = Arc::new(Shared {
            id: NEXT_VERIFIER_ID.fetch_add(1, Ordering::Relaxed),
            current: ArcSwap::from_pointee(Self::generation(snapshot)),
            version: AtomicU64::new(0),
            writer: Mutex::new(()),
            stale: AtomicBool::new(false),
            max_age: options.max_age,
            today: AtomicI32::new(from_naive(china_today())),
        });
        shared.refresh_stale();
        let ticker = options.max_age.map(|_| Self::start_ticker(&shared));
        Verifier {
            shared,
            parser: std::sync::OnceLock::new(),
            ticker,
        }
    }

    fn generation(snapshot: Snapshot) -> Generation {
        let info = snapshot.info();
        Generation {
            seq: info.journal_seq,
            fresh_as_of: info.as_of,
            deltas_applied: 0,
            snapshot: Arc::new(snapshot),
            cards: Arc::new(Overlay::with_capacity(0)),
            blacklist: Arc::new(Overlay::with_capacity(0)),
        }
    }

    /// A thread that re-evaluates staleness at least once a second while a maximum age is set.
    fn start_ticker(shared: &Arc<Shared>) -> Ticker {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let (s, st) = (Arc::clone(shared), Arc::clone(&stop));
        let handle = std::thread::Builder::new()
            .name("idcard-staleness".into())
            .spawn(move || {
                let (lock, cv) = &*st;
                let Ok(mut stopped) = lock.lock() else { return };
                while !*stopped {
                    s.refresh_stale();
                    match cv.wait_timeout(stopped, Duration::from_secs(1)) {
                        Ok((guard, _)) => stopped = guard,
                        Err(_) => return,
                    }
                }
            })
            .ok();
        Ticker { stop, handle }
    }

    #[inline(always)]
    fn unlisted(&self) -> CardStatus {
        if self.shared.stale.load(Ordering::Relaxed) {
            CardStatus::Stale
        } else {
            CardStatus::Valid
        }
    }

    /// The status of one card.
    #[inline]
    pub fn verify(&self, key: CardKey) -> CardStatus {
        let unlisted = self.unlisted();
        let avx2 = have_avx2();
        self.shared.with_generation(|g| {
            let h = g.snapshot.card_hash(key);
            #[cfg(all(target_arch = "x86_64", target_endian = "little", not(miri)))]
            if avx2 {
                // SAFETY: AVX2 was detected.
                return unsafe { resolve_avx2(g, h, unlisted) };
            }
            let _ = avx2;
            let maybe = g.may_list::<false>(h);
            g.resolve_maybe::<false>(g.snapshot.card_slots(), g.overlay(), h, unlisted, maybe)
        })
    }

    /// The status of a card given as number text and validity start; `InvalidNumber` when
    /// either is not valid (N1: the number is normalised as [`Parser`] does).
    pub fn verify_number(&self, number: &[u8], valid_from: NaiveDate) -> CardStatus {
        match self.key_of(number, from_naive(valid_from)) {
            Some(key) => self.verify(key),
            None => CardStatus::InvalidNumber,
        }
    }

    /// As [`Verifier::verify_number`] with the date as `yyyymmdd` (the C interface).
    pub fn verify_number_yyyymmdd(&self, number: &[u8], valid_from: u32) -> CardStatus {
        match days_from_yyyymmdd(valid_from).and_then(|d| self.key_of(number, d)) {
            Some(key) => self.verify(key),
            None => CardStatus::InvalidNumber,
        }
    }

    /// Number text and validity start (days since 1970-01-01) → key; `None` when invalid.
    #[inline]
    fn key_of(&self, number: &[u8], valid_from_days: i32) -> Option<CardKey> {
        // Far-future "today": the future-birth check is done against the cached date.
        let parser = self.parser.get_or_init(|| {
            Parser::new().with_today(NaiveDate::from_ymd_opt(2200, 1, 1).expect("date"))
        });
        let n = parser.parse_bytes(number).ok()?.number;
        if self.shared.is_future_birth(n.birth_days()) {
            return None;
        }
        CardKey::from_days(n, valid_from_days).ok()
    }

    /// Statuses of many cards (`out[i]` for `keys[i]`), with a software-prefetching pipeline.
    ///
    /// # Panics
    /// When `keys` and `out` differ in length.
    pub fn verify_batch(&self, keys: &[CardKey], out: &mut [CardStatus]) {
        assert_eq!(
            keys.len(),
            out.len(),
            "verify_batch: keys and out differ in length"
        );
        let g = self.shared.current.load();
        let snap = &g.snapshot;
        self.pipeline(&g, out, |i| Some(snap.card_hash(keys[i])));
    }

    /// Statuses of many cards given as packed 18-byte numbers and `yyyymmdd` dates (the C and
    /// Python interfaces). Invalid numbers or dates answer `InvalidNumber`.
    ///
    /// # Panics
    /// When `numbers.len() != 18 * out.len()` or `valid_from.len() != out.len()`.
    pub fn verify_batch_packed(&self, numbers: &[u8], valid_from: &[u32], out: &mut [CardStatus]) {
        assert_eq!(
            numbers.len(),
            18 * out.len(),
            "verify_batch_packed: numbers length"
        );
        assert_eq!(
            valid_from.len(),
            out.len(),
            "verify_batch_packed: dates length"
        );
        let g = self.shared.current.load();
        let snap = &g.snapshot;
        self.pipeline(&g, out, |i| {
            let days = days_from_yyyymmdd(valid_from[i])?;
            Some(snap.card_hash(self.key_of(&numbers[18 * i..18 * i + 18], days)?))
        });
    }

    /// As [`Verifier::verify_batch_packed`] with the dates as days since 1970-01-01 (NumPy's
    /// `datetime64[D]`). Dates out of range answer `InvalidNumber`.
    ///
    /// # Panics
    /// When `numbers.len() != 18 * out.len()` or `valid_from_days.len() != out.len()`.
    pub fn verify_batch_packed_days(
        &self,
        numbers: &[u8],
        valid_from_days: &[i64],
        out: &mut [CardStatus],
    ) {
        assert_eq!(
            numbers.len(),
            18 * out.len(),
            "verify_batch_packed_days: numbers length"
        );
        assert_eq!(
            valid_from_days.len(),
            out.len(),
            "verify_batch_packed_days: dates length"
        );
        let g = self.shared.current.load();
        let snap = &g.snapshot;
        self.pipeline(&g, out, |i| {
            let days = i32::try_from(valid_from_days[i]).ok()?;
            Some(snap.card_hash(self.key_of(&numbers[18 * i..18 * i + 18], days)?))
        });
    }

    /// Statuses of many cards given as number strings and dates.
    ///
    /// # Panics
    /// When the three slices differ in length.
    pub fn verify_batch_str<S: AsRef<[u8]>>(
        &self,
        numbers: &[S],
        valid_from: &[NaiveDate],
        out: &mut [CardStatus],
    ) {
        assert_eq!(numbers.len(), out.len(), "verify_batch_str: numbers length");
        assert_eq!(
            valid_from.len(),
            out.len(),
            "verify_batch_str: dates length"
        );
        let g = self.shared.current.load();
        let snap = &g.snapshot;
        self.pipeline(&g, out, |i| {
            Some(snap.card_hash(self.key_of(numbers[i].as_ref(), from_naive(valid_from[i]))?))
        });
    }

    /// The batch pipeline: hash item `i + PIPELINE` and prefetch its bucket while resolving item
    /// `i`. `hash_of(i) == None` answers `InvalidNumber`. Runs the AVX2 scan when the CPU has it.
    #[inline(always)]
    fn pipeline(
        &self,
        g: &Generation,
        out: &mut [CardStatus],
        hash_of: impl Fn(usize) -> Option<u64>,
    ) {
        let unlisted = self.unlisted();
        #[cfg(all(target_arch = "x86_64", target_endian = "little", not(miri)))]
        if have_avx2() {
            // SAFETY: AVX2 was detected.
            return unsafe { pipeline_avx2(g, out, unlisted, hash_of) };
        }
        pipeline_impl::<false>(g, out, unlisted, hash_of)
    }

    /// The full entry of a listed card (status, reason, date), or `None` when it answers valid.
    pub fn card_entry(&self, key: CardKey) -> Option<CardEntry> {
        let g = self.shared.current.load();
        let h = g.snapshot.card_hash(key);
        if let Some(v) = g.cards.get(h) {
            return decode_card_payload(v);
        }
        g.snapshot
            .card_slot(g.snapshot.card_slots(), h)
            .and_then(decode_card_payload)
    }

    /// A person's blacklist entry (A6); police profile only, else [`IndexError::NoBlacklist`].
    pub fn blacklist_check(&self, number: IdNumber) -> Result<Option<BlacklistEntry>, IndexError> {
        let g = self.shared.current.load();
        let profile = g.snapshot.info().profile;
        if profile != Profile::Police {
            return Err(IndexError::NoBlacklist { profile });
        }
        let h = g.snapshot.blacklist_hash(number);
        if let Some(v) = g.blacklist.get(h) {
            return Ok(decode_blacklist_value(v));
        }
        Ok(g.snapshot
            .blacklist_value(h)?
            .and_then(decode_blacklist_value))
    }

    /// Read a delta file and apply it (see [`Verifier::apply_delta`]).
    pub fn apply_delta_file(&self, path: impl AsRef<Path>) -> Result<(), IndexError> {
        let path = path.as_ref();
        let delta = Delta::read(path)?;
        self.apply(&delta, &path.display().to_string())
    }

    /// Apply the deltas of a directory that follow on from where the verifier is (files ending
    /// in `.idcd`, not descending into subdirectories): those for the snapshot in use, from the
    /// verifier's journal sequence on, in the order of their sequences. Deltas of other
    /// snapshots (a publish directory keeps them) and those already covered are skipped; a gap
    /// in the chain is [`IndexError::DeltaOutOfOrder`] naming the first file that does not
    /// follow, with the deltas before it applied. Returns how many were applied.
    ///
    /// ```no_run
    /// use idcard::index::Verifier;
    ///
    /// let v = Verifier::open("publish/bank.idcs")?;
    /// let applied = v.apply_delta_dir("publish/bank-deltas")?;
    /// println!("{applied} deltas, now at sequence {}", v.info().journal_seq);
    /// # Ok::<(), idcard::index::IndexError>(())
    /// ```
    pub fn apply_delta_dir(&self, dir: impl AsRef<Path>) -> Result<usize, IndexError> {
        let dir = dir.as_ref();
        let io = |path: &Path, source| IndexError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut deltas = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
            let path = entry.map_err(|e| io(dir, e))?.path();
            if path.extension().is_some_and(|x| x == "idcd") && path.is_file() {
                let delta = Delta::read(&path)?;
                deltas.push((delta.from_seq, path, delta));
            }
        }
        deltas.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        let mut applied = 0;
        for (_, path, delta) in deltas {
            let g = self.shared.current.load();
            if delta.base_snapshot_id != g.snapshot.info().snapshot_id || delta.to_seq <= g.seq {
                continue;
            }
            drop(g);
            self.apply(&delta, &path.display().to_string())?;
            applied += 1;
        }
        Ok(applied)
    }

    /// Apply a delta: it must name the current snapshot and start at the current journal
    /// sequence, else [`IndexError::DeltaOutOfOrder`] and nothing changes. Safe while other
    /// threads verify; every query that starts after it returns sees all of it.
    pub fn apply_delta(&self, delta: &Delta) -> Result<(), IndexError> {
        self.apply(delta, "<delta>")
    }

    fn apply(&self, delta: &Delta, name: &str) -> Result<(), IndexError> {
        let _w = self.shared.writer.lock().unwrap_or_else(|p| p.into_inner());
        let g = self.shared.current.load_full();
        let info = g.snapshot.info();
        if delta.base_snapshot_id != info.snapshot_id || delta.from_seq != g.seq {
            return Err(IndexError::DeltaOutOfOrder {
                path: name.to_string(),
                expected_snapshot: info.snapshot_id,
                expected_from: g.seq,
                found_snapshot: delta.base_snapshot_id,
                found_from: delta.from_seq,
            });
        }
        if delta.profile != info.profile {
            return Err(IndexError::Corrupt {
                path: name.to_string(),
                kind: "delta header",
                offset: 12,
                what: format!(
                    "delta profile {} differs from the snapshot's {}",
                    delta.profile, info.profile
                ),
            });
        }
        let card_ops = delta
            .ops
            .iter()
            .filter(|o| matches!(o, DeltaOp::SetCard { .. } | DeltaOp::ClearCard { .. }))
            .count();
        let bl_ops = delta.ops.len() - card_ops;
        let cards = if g.cards.needs_growth(card_ops) {
            Arc::new(g.cards.grown(card_ops))
        } else {
            Arc::clone(&g.cards)
        };
        let blacklist = if g.blacklist.needs_growth(bl_ops) {
            Arc::new(g.blacklist.grown(bl_ops))
        } else {
            Arc::clone(&g.blacklist)
        };
        for op in &delta.ops {
            match *op {
                DeltaOp::SetCard { h, payload } => cards.insert(h, payload as u64),
                DeltaOp::ClearCard { h } => cards.insert(h, 0),
                DeltaOp::SetBlacklist { h, value } => blacklist.insert(h, value),
                DeltaOp::ClearBlacklist { h } => blacklist.insert(h, 0),
            }
        }
        let created = DateTime::<Utc>::from_timestamp(delta.created_at, 0).unwrap_or(g.fresh_as_of);
        self.shared.publish(Generation {
            snapshot: Arc::clone(&g.snapshot),
            cards,
            blacklist,
            seq: delta.to_seq,
            deltas_applied: g.deltas_applied + 1,
            fresh_as_of: g.fresh_as_of.max(created),
        });
        self.shared.refresh_stale();
        Ok(())
    }

    /// Open a newer snapshot file and swap it in (see [`Verifier::swap`]).
    pub fn swap_snapshot(&self, path: impl AsRef<Path>) -> Result<(), IndexError> {
        let snapshot = Snapshot::open(path)?;
        self.swap(snapshot)
    }

    /// Swap in a newer snapshot; applied deltas are dropped (the snapshot includes them). A
    /// snapshot older than what the verifier has reached is refused (answers never go back).
    /// Readers in flight finish on the old snapshot, which is unmapped when the last one ends.
    pub fn swap(&self, snapshot: Snapshot) -> Result<(), IndexError> {
        let _w = self.shared.writer.lock().unwrap_or_else(|p| p.into_inner());
        let g = self.shared.current.load();
        if snapshot.info().journal_seq < g.seq {
            return Err(IndexError::DeltaOutOfOrder {
                path: snapshot.path().to_string(),
                expected_snapshot: g.snapshot.info().snapshot_id,
                expected_from: g.seq,
                found_snapshot: snapshot.info().snapshot_id,
                found_from: snapshot.info().journal_seq,
            });
        }
        drop(g);
        self.shared.publish(Self::generation(snapshot));
        self.shared.refresh_stale();
        Ok(())
    }

    /// What the verifier holds now.
    pub fn info(&self) -> VerifierInfo {
        let g = self.shared.current.load();
        VerifierInfo {
            snapshot: g.snapshot.info().clone(),
            journal_seq: g.seq,
            deltas_applied: g.deltas_applied,
            overlay_cards: g.cards.len(),
            overlay_blacklist: g.blacklist.len(),
            fresh_as_of: g.fresh_as_of,
            max_age_seconds: self.shared.max_age.map(|d| d.as_secs()),
            stale: self.shared.stale.load(Ordering::Acquire),
        }
    }

    /// The snapshot in use now.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(&self.shared.current.load().snapshot)
    }

    /// Re-evaluate staleness now (the verifier also does it every second while a maximum age is
    /// set, and after every delta and swap).
    pub fn refresh(&self) {
        self.shared.refresh_stale();
    }
}

impl Drop for Verifier {
    fn drop(&mut self) {
        if let Some(t) = self.ticker.take() {
            let (lock, cv) = &*t.stop;
            if let Ok(mut s) = lock.lock() {
                *s = true;
            }
            cv.notify_all();
            if let Some(h) = t.handle {
                let _ = h.join();
            }
        }
    }
}
