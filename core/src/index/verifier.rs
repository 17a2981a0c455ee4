//! The verifier: a snapshot plus applied deltas, shared by any number of reader threads.

use std::cell::{Cell, RefCell};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use arc_swap::ArcSwap;
use chrono::{DateTime, NaiveDate, Utc};

use super::delta::{Delta, DeltaOp, peek_header};
use super::filter;
use super::format::SnapshotInfo;
use super::hash::{
    decode_blacklist_value, decode_card_payload, have_avx2, payload_status, prefetch,
};
use super::overlay::Overlay;
use super::snapshot::{OpenOptions, Snapshot, status_of_payload};
use super::timestamp::Timestamp;
use super::{BlacklistEntry, CardEntry, CardStatus, IndexError, Profile};
use crate::card::CardKey;
use crate::card::{ExpiryDay, ExpiryTable};
use crate::civil::{days_from_yyyymmdd, from_naive};
use crate::number::{IdNumber, Parser};
use crate::time::china_today;

/// How deep the batch pipeline runs ahead: lookups whose cache lines are being fetched while
/// earlier ones are resolved.
const PIPELINE: usize = 64;

/// The maximum age a verifier allows by default: a day. A bank's counters answer `stale`
/// rather than `valid` once nothing newer than that has arrived (no delta, no timestamp).
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// How far in the future a signed time may be before it is refused (clocks disagree a little).
pub const DEFAULT_FUTURE_SKEW: Duration = Duration::from_secs(5 * 60);
/// Most card and blacklist changes a verifier holds on top of one snapshot by default; past
/// it, deltas are refused until a newer snapshot is opened.
pub const DEFAULT_MAX_OVERLAY: usize = 4 << 20;

/// Options of a verifier. The defaults fail closed: a trust file is required (see
/// [`VerifierOptions::trusting`]), data older than [`DEFAULT_MAX_AGE`] answers `stale`.
#[derive(Clone, Debug)]
pub struct VerifierOptions {
    /// How to open snapshot files, and the signature policy for every file the verifier reads.
    pub open: OpenOptions,
    /// Answer [`CardStatus::Stale`] instead of `Valid` when the newest signed time the
    /// verifier has reached (the snapshot's, a delta's, a timestamp's) is older than this.
    /// `None`: never (only for data that cannot go stale, an analyst's own snapshot).
    pub max_age: Option<Duration>,
    /// How far in the future a file's time may be before it is refused.
    pub future_skew: Duration,
    /// A file keeping the verifier's high-water mark (snapshot and sequence reached) across
    /// restarts: a snapshot older than what it records is refused.
    pub state_file: Option<std::path::PathBuf>,
    /// Largest delta file read (checked before reading).
    pub max_delta_bytes: u64,
    /// Most changes held on top of one snapshot (see [`DEFAULT_MAX_OVERLAY`]).
    pub max_overlay: usize,
}

impl Default for VerifierOptions {
    fn default() -> Self {
        VerifierOptions {
            open: OpenOptions::default(),
            max_age: Some(DEFAULT_MAX_AGE),
            future_skew: DEFAULT_FUTURE_SKEW,
            state_file: None,
            max_delta_bytes: super::delta::MAX_DELTA_BYTES,
            max_overlay: DEFAULT_MAX_OVERLAY,
        }
    }
}

impl VerifierOptions {
    /// A bank's verifier: files signed by these roots, the default maximum age.
    pub fn trusting(trust: crate::trust::TrustStore) -> VerifierOptions {
        VerifierOptions {
            open: OpenOptions::trusting(trust),
            ..VerifierOptions::default()
        }
    }

    /// A local verifier over unsigned files that never go stale (an analyst's own snapshot,
    /// tests). Its info says the files are unsigned.
    pub fn unsigned() -> VerifierOptions {
        VerifierOptions {
            open: OpenOptions::unsigned(),
            max_age: None,
            ..VerifierOptions::default()
        }
    }

    fn policy(&self) -> &super::SignaturePolicy {
        &self.open.signatures
    }
}

/// What a verifier holds now.
#[derive(Clone, Debug, serde::Serialize)]
pub struct VerifierInfo {
    /// The snapshot's header facts (with its signature).
    pub snapshot: SnapshotInfo,
    /// The journal sequence reached (the snapshot's, advanced by each delta).
    pub journal_seq: u64,
    /// Deltas applied since the snapshot.
    pub deltas_applied: u64,
    /// Deltas applied since the snapshot whose signature was checked.
    pub deltas_verified: u64,
    /// Cards changed by deltas.
    pub overlay_cards: usize,
    /// Blacklist entries changed by deltas.
    pub overlay_blacklist: usize,
    /// How fresh the data is: the newest signed time reached (the snapshot's as-of time, a
    /// delta's creation, a timestamp whose sequence the verifier has reached).
    pub fresh_as_of: DateTime<Utc>,
    /// The newest sequence a signed timestamp vouches for on this snapshot, if one was read.
    pub timestamp_seq: Option<u64>,
    /// The configured maximum age, in seconds.
    pub max_age_seconds: Option<u64>,
    /// Whether non-listed cards answer `stale` now.
    pub stale: bool,
    /// Whether the verifier needs a newer snapshot: a timestamp names another one, or the
    /// changes on this one reached the limit.
    pub needs_snapshot: bool,
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
    key_of: impl Fn(usize) -> Option<(CardKey, bool)>,
) {
    pipeline_impl::<true>(g, out, unlisted, key_of)
}

/// The table scan compiled for AVX2.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(all(target_arch = "x86_64", target_endian = "little", not(miri)))]
#[target_feature(enable = "avx2")]
unsafe fn table_status_avx2(g: &Generation, h: u64, unlisted: CardStatus) -> CardStatus {
    g.table_status::<true>(g.snapshot.card_slots(), h, unlisted)
}

/// One pipeline item: the card key, whether it is valid, what it answers if nothing lists it
/// (`valid`, `stale` or `expired`), its filter hash, whether it may be listed, and its table hash
/// (computed only when needed: for the overlay, or once the filter passes the card).
#[derive(Clone, Copy)]
struct Item {
    key: CardKey,
    valid: bool,
    unlisted: CardStatus,
    f: u64,
    maybe: bool,
    h: u64,
}

impl Item {
    const INVALID: Item = Item {
        key: CardKey::ZERO,
        valid: false,
        unlisted: CardStatus::InvalidNumber,
        f: 0,
        maybe: false,
        h: 0,
    };
}

/// What the pipeline's stages read.
struct Stages<'a, K> {
    g: &'a Generation,
    slots: &'a [u64],
    overlay: Option<&'a Overlay>,
    filter: Option<filter::Filter<'a>>,
    unlisted: CardStatus,
    key_of: K,
}

impl<K: Fn(usize) -> Option<(CardKey, bool)>> Stages<'_, K> {
    /// First stage: the key, its filter hash, the prefetch of its filter word (without a
    /// filter: its table bucket) and, with changes applied, of its overlay slot.
    #[inline(always)]
    fn a(&self, i: usize) -> Item {
        let Some((key, expired)) = (self.key_of)(i) else {
            return Item::INVALID;
        };
        let mut it = Item {
            key,
            valid: true,
            unlisted: unlisted_or_expired(self.unlisted, expired),
            f: 0,
            maybe: true,
            h: 0,
        };
        match self.filter {
            Some(f) => {
                it.f = f.hash(key.to_u64());
                prefetch(f.address_of(it.f));
            }
            None => {
                it.h = self.g.snapshot.card_hash(key);
                self.g.snapshot.prefetch_card(self.slots, it.h);
            }
        }
        if let Some(o) = self.overlay {
            if it.h == 0 {
                it.h = self.g.snapshot.card_hash(key);
            }
            prefetch(o.slot_address(it.h));
        }
        it
    }

    /// Second stage: the filter's verdict; for a card it may list, the table hash and the
    /// prefetch of its bucket.
    #[inline(always)]
    fn b(&self, it: &mut Item) {
        if let Some(f) = self.filter
            && it.valid
        {
            it.maybe = f.test(it.f);
            if it.maybe {
                if it.h == 0 {
                    it.h = self.g.snapshot.card_hash(it.key);
                }
                self.g.snapshot.prefetch_card(self.slots, it.h);
            }
        }
    }

    /// Last stage: the answer.
    #[inline(always)]
    fn resolve<const AVX2: bool>(&self, it: &Item) -> CardStatus {
        if !it.valid {
            return CardStatus::InvalidNumber;
        }
        match self.overlay.and_then(|o| o.get(it.h)) {
            Some(v) => status_of_overlay(v, it.unlisted),
            None if !it.maybe => it.unlisted,
            None => self.g.table_status::<AVX2>(self.slots, it.h, it.unlisted),
        }
    }
}

/// The batch pipeline (see `Verifier::pipeline`), three stages `PIPELINE` items apart in all:
/// hash and prefetch the filter word (and, with changes applied, the overlay slot) `PIPELINE`
/// items ahead; test the filter and, for the few cards it may list, hash for the table and
/// prefetch its bucket `PIPELINE / 2` items ahead; resolve. Without a filter every card's bucket
/// is prefetched in the first stage.
#[inline(always)]
fn pipeline_impl<const AVX2: bool>(
    g: &Generation,
    out: &mut [CardStatus],
    unlisted: CardStatus,
    key_of: impl Fn(usize) -> Option<(CardKey, bool)>,
) {
    const AHEAD: usize = PIPELINE / 2;
    let n = out.len();
    let st = Stages {
        g,
        slots: g.snapshot.card_slots(),
        overlay: g.overlay(),
        filter: g.snapshot.filter(),
        unlisted,
        key_of,
    };
    let mut ring = [Item::INVALID; PIPELINE];
    for (i, slot) in ring.iter_mut().enumerate().take(n) {
        *slot = st.a(i);
    }
    for slot in ring.iter_mut().take(n.min(AHEAD)) {
        st.b(slot);
    }
    for i in 0..n {
        let it = ring[i % PIPELINE];
        if i + PIPELINE < n {
            ring[i % PIPELINE] = st.a(i + PIPELINE);
        }
        if i + AHEAD < n {
            st.b(&mut ring[(i + AHEAD) % PIPELINE]);
        }
        out[i] = st.resolve::<AVX2>(&it);
    }
}

/// What a card the snapshot does not list answers: `expired` past its validity end (a property
/// of the card, whatever the snapshot's age), else `valid` or `stale`.
#[inline(always)]
fn unlisted_or_expired(unlisted: CardStatus, expired: bool) -> CardStatus {
    if expired {
        CardStatus::Expired
    } else {
        unlisted
    }
}

/// The status an overlay value gives (cleared: not listed).
#[inline(always)]
fn status_of_overlay(v: u64, unlisted: CardStatus) -> CardStatus {
    if payload_status(v) == 0 {
        unlisted
    } else {
        status_of_payload(v)
    }
}

/// One consistent state: readers load it once per call and never see a half-swapped snapshot.
struct Generation {
    snapshot: Arc<Snapshot>,
    cards: Arc<Overlay>,
    blacklist: Arc<Overlay>,
    seq: u64,
    deltas_applied: u64,
    deltas_verified: u64,
    fresh_as_of: DateTime<Utc>,
    timestamp_seq: Option<u64>,
    needs_snapshot: bool,
}

impl Generation {
    fn overlay(&self) -> Option<&Overlay> {
        (self.cards.len() > 0).then_some(&*self.cards)
    }

    /// The status of one card, `unlisted` when nothing lists it. The common case, no applied
    /// changes and a filter that rules the card out, is a handful of instructions inlined into
    /// the caller and one memory access (so consecutive calls overlap their memory accesses);
    /// everything else is [`Generation::status_full`].
    #[inline(always)]
    fn status(&self, key: CardKey, unlisted: CardStatus) -> CardStatus {
        if self.cards.len() == 0
            && let Some(f) = self.snapshot.filter()
            && !f.may_contain(key.to_u64())
        {
            return unlisted;
        }
        self.status_full(key, unlisted)
    }

    /// The overlay (applied deltas) first, then the filter, then the table.
    #[inline(never)]
    fn status_full(&self, key: CardKey, unlisted: CardStatus) -> CardStatus {
        let h = self.snapshot.card_hash(key);
        if let Some(v) = self.cards.get(h) {
            return status_of_overlay(v, unlisted);
        }
        if let Some(f) = self.snapshot.filter()
            && !f.may_contain(key.to_u64())
        {
            return unlisted;
        }
        #[cfg(all(target_arch = "x86_64", target_endian = "little", not(miri)))]
        if have_avx2() {
            // SAFETY: AVX2 was detected.
            return unsafe { table_status_avx2(self, h, unlisted) };
        }
        self.table_status::<false>(self.snapshot.card_slots(), h, unlisted)
    }

    /// The card table's answer for a card hash. `AVX2` selects the table scan; it is only `true`
    /// inside functions compiled for AVX2 and called after detecting it.
    #[inline(always)]
    fn table_status<const AVX2: bool>(
        &self,
        slots: &[u64],
        h: u64,
        unlisted: CardStatus,
    ) -> CardStatus {
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
}

struct Shared {
    options: VerifierOptions,
    current: ArcSwap<Generation>,
    /// Bumped (release) after every store to `current`; readers compare it with a plain load.
    version: AtomicU64,
    writer: Mutex<()>,
    stale: AtomicBool,
    max_age: Option<Duration>,
    /// Today (China) as last seen, as days since 1970-01-01, for the future-birth-date check
    /// of raw numbers without reading the clock on every query.
    today: AtomicI32,
    /// Today's expiry rule as a table ([`ExpiryTable`]); replaced when the day changes (never
    /// by an earlier day), with `version` bumped so that threads pick up the new one.
    expiry: ArcSwap<ExpiryTable>,
    /// Taken by whoever builds a new day's table (a query never waits for it).
    day_lock: Mutex<()>,
}

/// Where every verifier's versions are drawn from: a version identifies one verifier's state
/// in the whole process (a thread's cache is matched by one comparison).
static EPOCH: AtomicU64 = AtomicU64::new(1);

/// A new version, never used before by any verifier.
fn next_epoch() -> u64 {
    EPOCH.fetch_add(1, Ordering::Relaxed) + 1
}

/// What a query needs, cached by each thread for the version it was read at: the generation,
/// today's expiry bounds, the status of an unlisted card (`valid` or `stale`), and the filter.
/// When a card cannot be answered `valid` from the filter alone (the snapshot has no filter,
/// changes are applied on top of it, or the verifier is stale), the filter is [`PASS_ALL`]: every
/// card then takes the full path, and the inlined path needs no test for those cases.
#[derive(Clone, Copy)]
struct Fast {
    version: u64,
    generation: *const Generation,
    expiry: *const [u64; 1 << 16],
    unlisted: CardStatus,
    filter: *const u64,
    filter_len: u64,
    filter_seed: u64,
}

/// A filter of one word with every bit set: every card passes it (to the full path).
static PASS_ALL: u64 = u64::MAX;

/// Owns the `Arc`s behind [`Fast::generation`] and [`Fast::expiry`] (the filter lives in the
/// generation's snapshot); dropping it (thread exit) clears `FAST` first, so a later query from
/// another thread-local destructor takes the slow path.
struct Owner(Option<(Arc<Generation>, Arc<ExpiryTable>)>);

impl Drop for Owner {
    fn drop(&mut self) {
        let _ = FAST.try_with(|f| f.set(Fast::EMPTY));
    }
}

impl Fast {
    /// No thread's cache: version 0 is never a verifier's, so these pointers are never read.
    const EMPTY: Fast = Fast {
        version: 0,
        generation: std::ptr::null(),
        expiry: std::ptr::null(),
        unlisted: CardStatus::Valid,
        filter: std::ptr::null(),
        filter_len: 0,
        filter_seed: 0,
    };

    fn new(version: u64, g: &Generation, e: &ExpiryTable, unlisted: CardStatus) -> Fast {
        let (filter, filter_len, filter_seed) = match g.snapshot.filter() {
            Some(f) if g.cards.len() == 0 && unlisted == CardStatus::Valid => f.parts(),
            _ => (&raw const PASS_ALL, 1, 0),
        };
        Fast {
            version,
            generation: g,
            expiry: e.bounds(),
            unlisted,
            filter,
            filter_len,
            filter_seed,
        }
    }

    /// The status of one card: `valid` when the filter rules it out and it has not expired,
    /// inline; anything else (a card the filter passes, an expired card, a stale verifier, a
    /// snapshot with changes applied) in [`Fast::status_slow`]. The inlined path is kept to as
    /// few instructions and loads as possible: the processor overlaps consecutive calls' filter
    /// misses only as far as its reorder window and load queue reach (docs/ARCHITECTURE.md,
    /// "One card at a time").
    ///
    /// # Safety
    /// Only inside [`Shared::with_fast`], which keeps the pointers' owners alive.
    #[inline(always)]
    unsafe fn status(&self, key: CardKey) -> CardStatus {
        let f = filter::filter_hash(key.to_u64(), self.filter_seed);
        // SAFETY: `filter` and `filter_len` are a non-empty filter's words (the snapshot's,
        // which the caller keeps alive, or `PASS_ALL`), and `word_of(f, len) < len` for any `f`.
        let w = unsafe { *self.filter.add(filter::word_of(f, self.filter_len)) };
        let p = filter::pattern_of(f);
        // SAFETY: the caller keeps the expiry table alive.
        if u64::from_le(w) & p != p && !ExpiryTable::is_expired_in(unsafe { &*self.expiry }, key) {
            return CardStatus::Valid;
        }
        // SAFETY: the caller's guarantee, passed on.
        unsafe { self.status_slow(key) }
    }

    /// Start fetching the filter word of a card key (a hint: any value is harmless).
    ///
    /// # Safety
    /// As [`Fast::status`].
    #[inline(always)]
    unsafe fn prefetch(&self, key: u64) {
        let f = filter::filter_hash(key, self.filter_seed);
        prefetch(
            self.filter
                .wrapping_add(filter::word_of(f, self.filter_len)),
        );
    }

    /// The full path: expiry, staleness, applied changes, the filter and the table.
    ///
    /// # Safety
    /// As [`Fast::status`].
    #[inline(never)]
    unsafe fn status_slow(&self, key: CardKey) -> CardStatus {
        // SAFETY: the caller keeps the expiry table alive.
        let expired = ExpiryTable::is_expired_in(unsafe { &*self.expiry }, key);
        let unlisted = unlisted_or_expired(self.unlisted, expired);
        // SAFETY: the caller keeps the generation alive.
        unsafe { &*self.generation }.status_full(key, unlisted)
    }
}

thread_local! {
    /// A query compares the verifier's version with a plain atomic load and, when the thread
    /// already holds that version, uses what it cached: no locked instruction, no reference
    /// count and no pointer chasing on the query path, so the memory accesses of consecutive
    /// queries overlap (an `ArcSwap::load` per query serialised them: 7 M/s instead of 20 M/s
    /// one at a time; every instruction left counts, as the processor keeps only as many
    /// queries in flight as its reorder window holds).
    static FAST: Cell<Fast> = const { Cell::new(Fast::EMPTY) };
    static OWNER: RefCell<Owner> = const { RefCell::new(Owner(None)) };
}

impl Shared {
    /// Make a change visible: a new version, strictly greater than the current one (another
    /// bump racing with this one cannot leave the version unchanged), so that every thread's
    /// cache is refreshed at its next query.
    fn bump(&self) {
        loop {
            let new = next_epoch();
            if self.version.fetch_max(new, Ordering::AcqRel) < new {
                return;
            }
        }
    }

    /// Publish a new generation: visible to every query that starts after this returns.
    fn publish(&self, g: Generation) {
        self.current.store(Arc::new(g));
        self.bump();
    }

    /// Run `f` on what a query needs. `f` is internal code that never calls back into a
    /// verifier (the slow path may replace this thread's cache); the pointers in the [`Fast`]
    /// it gets are valid while it runs.
    #[inline(always)]
    fn with_fast<R>(&self, f: impl FnOnce(&Fast) -> R) -> R {
        let version = self.version.load(Ordering::Acquire);
        // `with`, not `try_with`: FAST is const-initialised and needs no destructor, so it is
        // accessible for the whole life of the thread (no failure to check on the hot path).
        // SAFETY: this thread's cache, which only `with_fast_slow` on this thread replaces
        // (never while the reference is used: `f` does not re-enter). A reference rather than
        // a copy: only the fields the query reads are loaded.
        let fast = unsafe { &*FAST.with(Cell::as_ptr) };
        if fast.version == version {
            // Versions are unique in the process: this is this verifier's state at `version`,
            // whose `Arc`s this thread's OWNER holds; OWNER is only replaced by
            // `with_fast_slow` on this thread (never while `f` runs: `f` does not re-enter), and
            // its destructor clears FAST before dropping them.
            return f(fast);
        }
        self.with_fast_slow(version, f)
    }

    #[cold]
    #[inline(never)]
    fn with_fast_slow<R>(&self, version: u64, f: impl FnOnce(&Fast) -> R) -> R {
        // Loaded after `version`: at least as new as what it numbers (a newer state cached
        // under an older number is only reloaded once more).
        let g = self.current.load_full();
        let e = self.expiry.load_full();
        let fast = Fast::new(version, &g, &e, self.unlisted());
        let cached = OWNER.try_with(|o| {
            let mut o = o.try_borrow_mut().ok()?;
            o.0 = Some((g.clone(), e.clone()));
            FAST.try_with(|c| c.set(fast)).ok()
        });
        let _ = cached;
        f(&fast)
    }

    /// What an unlisted card answers now: `valid`, or `stale` past the maximum age.
    #[inline(always)]
    fn unlisted(&self) -> CardStatus {
        if self.stale.load(Ordering::Acquire) {
            CardStatus::Stale
        } else {
            CardStatus::Valid
        }
    }

    fn refresh_stale(&self) {
        let g = self.current.load();
        let stale = self.max_age.is_some_and(|max| {
            let age = Utc::now().signed_duration_since(g.fresh_as_of);
            age.to_std().is_ok_and(|a| a > max)
        });
        if self.stale.swap(stale, Ordering::AcqRel) != stale {
            self.bump();
        }
        self.set_today(from_naive(china_today()), true);
    }

    /// Take `today` as the day of the checks (expiry and future births), unless a later day
    /// is already set (two writers racing at midnight cannot move it back). With `wait` false
    /// (a query's path), gives up rather than wait for another thread building the day's table.
    fn set_today(&self, today: i32, wait: bool) {
        self.today.fetch_max(today, Ordering::Relaxed);
        if self.expiry.load().today() >= today {
            return;
        }
        let _guard = match self.day_lock.try_lock() {
            Ok(g) => g,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) if wait => {
                self.day_lock.lock().unwrap_or_else(|p| p.into_inner())
            }
            Err(std::sync::TryLockError::WouldBlock) => return,
        };
        if self.expiry.load().today() >= today {
            return;
        }
        self.expiry.store(Arc::new(ExpiryTable::new(today)));
        self.bump();
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
        self.set_today(today, false);
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
    /// Open a snapshot file signed by one of `trust`'s root keys, with the default maximum age
    /// (a bank's verifier).
    pub fn open(
        path: impl AsRef<Path>,
        trust: crate::trust::TrustStore,
    ) -> Result<Verifier, IndexError> {
        Self::open_with(path, VerifierOptions::trusting(trust))
    }

    /// Open a snapshot file with options: its signature checked (or unsigned files explicitly
    /// allowed), its time not in the future, not older than the state file's high-water mark.
    pub fn open_with(
        path: impl AsRef<Path>,
        options: VerifierOptions,
    ) -> Result<Verifier, IndexError> {
        let snapshot = Snapshot::open_with(path, &options.open)?;
        Self::from_snapshot(snapshot, options)
    }

    /// A verifier over an already opened snapshot (checked against the options' future skew
    /// and state file).
    pub fn from_snapshot(
        snapshot: Snapshot,
        options: VerifierOptions,
    ) -> Result<Verifier, IndexError> {
        check_not_future(snapshot.path(), snapshot.info().as_of, options.future_skew)?;
        if let Some(state) = &options.state_file
            && let Some(mark) = HighWater::read(state)?
            && snapshot.info().journal_seq < mark.journal_seq
            && snapshot.info().snapshot_id != mark.snapshot_id
        {
            return Err(IndexError::Rollback {
                path: snapshot.path().to_string(),
                what: format!(
                    "the snapshot is at sequence {}, the state file {} records {} (snapshot {:016x})",
                    snapshot.info().journal_seq,
                    state.display(),
                    mark.journal_seq,
                    mark.snapshot_id
                ),
            });
        }
        let max_age = options.max_age;
        let today = from_naive(china_today());
        let shared = Arc::new(Shared {
            current: ArcSwap::from_pointee(Self::generation(snapshot)),
            version: AtomicU64::new(next_epoch()),
            writer: Mutex::new(()),
            stale: AtomicBool::new(false),
            max_age,
            today: AtomicI32::new(today),
            expiry: ArcSwap::from_pointee(ExpiryTable::new(today)),
            day_lock: Mutex::new(()),
            options,
        });
        shared.refresh_stale();
        shared.save_state()?;
        // The ticker keeps "today" (expiry) and staleness current; Miri does not run it.
        let ticker = (!cfg!(miri)).then(|| Self::start_ticker(&shared));
        let _ = max_age;
        Ok(Verifier {
            shared,
            parser: std::sync::OnceLock::new(),
            ticker,
        })
    }

    fn generation(snapshot: Snapshot) -> Generation {
        let info = snapshot.info();
        Generation {
            seq: info.journal_seq,
            fresh_as_of: info.as_of,
            deltas_applied: 0,
            deltas_verified: 0,
            timestamp_seq: None,
            needs_snapshot: false,
            snapshot: Arc::new(snapshot),
            cards: Arc::new(Overlay::with_capacity(0)),
            blacklist: Arc::new(Overlay::with_capacity(0)),
        }
    }

    /// A thread that re-evaluates staleness and the date of the day (for expiry) at least once a
    /// second.
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
        self.shared.unlisted()
    }

    /// The status of one card, on today's date in China (kept by the verifier: refreshed every
    /// second).
    #[inline]
    pub fn verify(&self, key: CardKey) -> CardStatus {
        if !key.is_citizens() {
            return CardStatus::InvalidNumber;
        }
        // SAFETY: inside `with_fast`.
        self.shared.with_fast(|fast| unsafe { fast.status(key) })
    }

    /// The status of one card on `date` (for an expiry check on another day than today: a
    /// booking, an audit). Lists and freshness are the verifier's now.
    ///
    /// ```no_run
    /// # fn f(v: &idcard::index::Verifier, key: idcard::CardKey) {
    /// let on = chrono::NaiveDate::from_ymd_opt(2040, 1, 1).unwrap();
    /// let status = v.verify_on(key, on);
    /// # }
    /// ```
    pub fn verify_on(&self, key: CardKey, date: NaiveDate) -> CardStatus {
        if !key.is_citizens() {
            return CardStatus::InvalidNumber;
        }
        let expired = ExpiryDay::new(from_naive(date)).is_expired(key);
        let unlisted = unlisted_or_expired(self.unlisted(), expired);
        // SAFETY: inside `with_fast`, which keeps the generation alive.
        self.shared
            .with_fast(|fast| unsafe { &*fast.generation }.status(key, unlisted))
    }

    /// The status of a card given as number text and validity start; `InvalidNumber` when
    /// either is not valid (N1: the number is normalised as [`Parser`] does).
    pub fn verify_number(&self, number: &[u8], valid_from: NaiveDate) -> CardStatus {
        match self.key_of_prefetching(number, from_naive(valid_from)) {
            Some(key) => self.verify(key),
            None => CardStatus::InvalidNumber,
        }
    }

    /// As [`Verifier::verify_number`] with the date as `yyyymmdd` (the C interface).
    #[inline]
    pub fn verify_number_yyyymmdd(&self, number: &[u8], valid_from: u32) -> CardStatus {
        match days_from_yyyymmdd(valid_from).and_then(|d| self.key_of_prefetching(number, d)) {
            Some(key) => self.verify(key),
            None => CardStatus::InvalidNumber,
        }
    }

    /// [`Verifier::key_of`] for a card checked alone: the filter word of the card the text
    /// spells is fetched as soon as its fields are read, before they are checked. Read and
    /// checked first, a number is some 150 instructions before its one memory access, too many
    /// for the processor to overlap that access with the next call's: cards checked one at a
    /// time from text ran at one memory latency each. (A batch prefetches in its pipeline.)
    #[inline(always)]
    fn key_of_prefetching(&self, number: &[u8], valid_from_days: i32) -> Option<CardKey> {
        self.key_of_with(number, valid_from_days, |compact| {
            let key = CardKey::compose_unchecked(compact, valid_from_days);
            // SAFETY: inside `with_fast`.
            self.shared.with_fast(|fast| unsafe { fast.prefetch(key) });
        })
    }

    /// Number text and validity start (days since 1970-01-01) → key; `None` when invalid.
    #[inline]
    fn key_of(&self, number: &[u8], valid_from_days: i32) -> Option<CardKey> {
        self.key_of_with(number, valid_from_days, |_| ())
    }

    /// [`Verifier::key_of`], passing `hint` to [`Parser::parse_bytes_hinted`].
    #[inline(always)]
    fn key_of_with(
        &self,
        number: &[u8],
        valid_from_days: i32,
        hint: impl FnOnce(u64),
    ) -> Option<CardKey> {
        // Far-future "today": the future-birth check is done against the cached date.
        let parser = self.parser.get_or_init(|| {
            Parser::new().with_today(NaiveDate::from_ymd_opt(2200, 1, 1).expect("date"))
        });
        // (A number that is not a citizen's parses; every verify path answers it
        // `invalid_number` by its key: `CardKey::is_citizens`.)
        let n = parser.parse_bytes_hinted(number, hint).ok()?.number;
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
        self.pipeline(&g, out, |i| Some(keys[i]));
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
        self.pipeline(&g, out, |i| {
            let days = days_from_yyyymmdd(valid_from[i])?;
            self.key_of(&numbers[18 * i..18 * i + 18], days)
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
        self.pipeline(&g, out, |i| {
            let days = i32::try_from(valid_from_days[i]).ok()?;
            self.key_of(&numbers[18 * i..18 * i + 18], days)
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
        self.pipeline(&g, out, |i| {
            self.key_of(numbers[i].as_ref(), from_naive(valid_from[i]))
        });
    }

    /// The batch pipeline ([`pipeline_impl`]): `key_of(i) == None` answers `InvalidNumber`.
    /// Runs the AVX2 scan when the CPU has it.
    #[inline(always)]
    fn pipeline(
        &self,
        g: &Generation,
        out: &mut [CardStatus],
        key_of: impl Fn(usize) -> Option<CardKey>,
    ) {
        let unlisted = self.unlisted();
        let day = self.shared.expiry.load();
        let key_of = |i| {
            key_of(i)
                .filter(|k: &CardKey| k.is_citizens())
                .map(|k: CardKey| (k, day.is_expired(k)))
        };
        #[cfg(all(target_arch = "x86_64", target_endian = "little", not(miri)))]
        if have_avx2() {
            // SAFETY: AVX2 was detected.
            return unsafe { pipeline_avx2(g, out, unlisted, key_of) };
        }
        pipeline_impl::<false>(g, out, unlisted, key_of)
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

    /// Read a delta file (at most [`VerifierOptions::max_delta_bytes`], its signature checked
    /// under the verifier's policy) and apply it (see [`Verifier::apply_delta`]).
    pub fn apply_delta_file(&self, path: impl AsRef<Path>) -> Result<(), IndexError> {
        let path = path.as_ref();
        let o = &self.shared.options;
        let delta = Delta::read(path, o.policy(), o.max_delta_bytes)?;
        self.apply(&delta, &path.display().to_string())
    }

    /// Read a timestamp file (its signature checked) and take it in (see
    /// [`Verifier::apply_timestamp`]).
    pub fn apply_timestamp_file(&self, path: impl AsRef<Path>) -> Result<(), IndexError> {
        let path = path.as_ref();
        let ts = Timestamp::read(path, self.shared.options.policy())?;
        self.take_timestamp(&ts, &path.display().to_string())
    }

    /// Take in a timestamp: for the snapshot in use, it vouches for the chain up to its
    /// sequence (no delta may go further) and, once the verifier has reached that sequence,
    /// makes it fresh as of its time; one naming another snapshot means a newer snapshot is
    /// out ([`VerifierInfo::needs_snapshot`]). A timestamp in the future is refused.
    pub fn apply_timestamp(&self, ts: &Timestamp) -> Result<(), IndexError> {
        self.take_timestamp(ts, "<timestamp>")
    }

    fn take_timestamp(&self, ts: &Timestamp, name: &str) -> Result<(), IndexError> {
        check_not_future(name, ts.created_at, self.shared.options.future_skew)?;
        let _w = self.shared.writer.lock().unwrap_or_else(|p| p.into_inner());
        let g = self.shared.current.load_full();
        let info = g.snapshot.info();
        if ts.snapshot_id == info.snapshot_id && ts.profile != info.profile {
            return Err(IndexError::Corrupt {
                path: name.to_string(),
                kind: "timestamp",
                offset: 12,
                what: format!(
                    "timestamp profile {} differs from the snapshot's {}",
                    ts.profile, info.profile
                ),
            });
        }
        let mut next = g.clone_shallow();
        if ts.snapshot_id != info.snapshot_id {
            if ts.journal_seq > g.seq {
                next.needs_snapshot = true;
            }
        } else {
            next.timestamp_seq = Some(g.timestamp_seq.unwrap_or(0).max(ts.journal_seq));
            if ts.journal_seq <= g.seq {
                next.fresh_as_of = g.fresh_as_of.max(ts.created_at);
            }
        }
        self.shared.publish(next);
        self.shared.refresh_stale();
        self.shared.save_state()
    }

    /// Apply what a publish folder holds that follows on from where the verifier is: its
    /// timestamps (`*.idct`) and the deltas (`*.idcd`) for the snapshot in use from the
    /// verifier's sequence on, in the order of their sequences; then the timestamps again (one
    /// the deltas have now reached makes the verifier fresh).
    ///
    /// Symbolic links are not followed, each file's size is checked before it is read, a
    /// delta's header before its body. A file that fails (unsigned, wrongly signed, damaged,
    /// too large, out of order) is skipped and reported by name with the reason; the good
    /// files after it still apply when they continue the chain. Deltas of other snapshots (a
    /// publish folder keeps them) and those already covered are passed over silently.
    ///
    /// ```no_run
    /// use idcard::index::Verifier;
    /// use idcard::trust::TrustStore;
    ///
    /// let v = Verifier::open("publish/bank.idcs", TrustStore::read("platform.trust")?)?;
    /// let report = v.apply_delta_dir("publish/bank-deltas")?;
    /// for s in &report.skipped {
    ///     eprintln!("skipped {}: {}", s.name, s.reason);
    /// }
    /// println!("{} deltas, now at sequence {}", report.applied, v.info().journal_seq);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply_delta_dir(&self, dir: impl AsRef<Path>) -> Result<DeltaDirReport, IndexError> {
        let dir = dir.as_ref();
        let io = |path: &Path, source| IndexError::Io {
            path: path.display().to_string(),
            source,
        };
        let o = &self.shared.options;
        let mut report = DeltaDirReport::default();
        let mut deltas = Vec::new();
        let mut timestamps = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
            let entry = entry.map_err(|e| io(dir, e))?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let ext = path.extension().and_then(|x| x.to_str()).unwrap_or("");
            if ext != "idcd" && ext != "idct" {
                continue;
            }
            let meta = std::fs::symlink_metadata(&path).map_err(|e| io(&path, e))?;
            if meta.file_type().is_symlink() {
                report.skip(name, "a symbolic link: not followed".into());
                continue;
            }
            if !meta.is_file() {
                continue;
            }
            let id = {
                use std::os::unix::fs::MetadataExt;
                (meta.dev(), meta.ino())
            };
            if ext == "idct" {
                timestamps.push((path, name, id));
                continue;
            }
            if meta.len() > o.max_delta_bytes {
                report.skip(
                    name,
                    format!(
                        "{} bytes, more than the {} allowed",
                        meta.len(),
                        o.max_delta_bytes
                    ),
                );
                continue;
            }
            match read_head(&path, meta.len()) {
                Ok((base, from, to)) => deltas.push((from, to, base, path, name, id)),
                Err(e) => report.skip(name, e.to_string()),
            }
        }
        timestamps.sort();
        let policy = o.policy();
        let take = |(path, _, id): &(std::path::PathBuf, String, (u64, u64))| {
            let ts = Timestamp::read_expecting(path, policy, Some(*id))?;
            self.take_timestamp(&ts, &path.display().to_string())
        };
        for t in &timestamps {
            match take(t) {
                Ok(()) => report.timestamps += 1,
                Err(e) => report.skip(t.1.clone(), e.to_string()),
            }
        }
        deltas.sort_by(|a, b| (a.0, a.1, &a.4).cmp(&(b.0, b.1, &b.4)));
        for (_, to, base, path, name, id) in deltas {
            let g = self.shared.current.load();
            if base != g.snapshot.info().snapshot_id || to <= g.seq {
                continue;
            }
            drop(g);
            let applied = Delta::read_expecting(&path, policy, o.max_delta_bytes, Some(id))
                .and_then(|d| self.apply(&d, &path.display().to_string()));
            match applied {
                Ok(()) => report.applied += 1,
                Err(e) => report.skip(name, e.to_string()),
            }
        }
        for t in &timestamps {
            let _ = take(t);
        }
        Ok(report)
    }

    /// Apply a delta: it must name the current snapshot and start at the current journal
    /// sequence, else [`IndexError::DeltaOutOfOrder`]; its time must not be in the future, its
    /// end not past the newest signed timestamp, and the changes on the snapshot must stay
    /// within [`VerifierOptions::max_overlay`]. A refused delta changes nothing. Safe while
    /// other threads verify; every query that starts after it returns sees all of it.
    pub fn apply_delta(&self, delta: &Delta) -> Result<(), IndexError> {
        self.apply(delta, "<delta>")
    }

    fn apply(&self, delta: &Delta, name: &str) -> Result<(), IndexError> {
        let o = &self.shared.options;
        let created = DateTime::<Utc>::from_timestamp(delta.created_at, 0).unwrap_or_default();
        check_not_future(name, created, o.future_skew)?;
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
        if let Some(ts) = g.timestamp_seq
            && delta.to_seq > ts
        {
            return Err(IndexError::BeyondTimestamp {
                path: name.to_string(),
                to_seq: delta.to_seq,
                timestamp_seq: ts,
            });
        }
        let card_ops = delta
            .ops
            .iter()
            .filter(|o| matches!(o, DeltaOp::SetCard { .. } | DeltaOp::ClearCard { .. }))
            .count();
        let bl_ops = delta.ops.len() - card_ops;
        let held = g.cards.len() + g.blacklist.len();
        if held + delta.ops.len() > o.max_overlay {
            let mut next = g.clone_shallow();
            next.needs_snapshot = true;
            self.shared.publish(next);
            return Err(IndexError::OverlayFull {
                path: name.to_string(),
                entries: held,
                limit: o.max_overlay,
            });
        }
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
        self.shared.publish(Generation {
            snapshot: Arc::clone(&g.snapshot),
            cards,
            blacklist,
            seq: delta.to_seq,
            deltas_applied: g.deltas_applied + 1,
            deltas_verified: g.deltas_verified + u64::from(delta.signature.is_verified()),
            fresh_as_of: g.fresh_as_of.max(created),
            timestamp_seq: g.timestamp_seq,
            needs_snapshot: g.needs_snapshot,
        });
        self.shared.refresh_stale();
        self.shared.save_state()
    }

    /// Open a newer snapshot file (under the verifier's options) and swap it in (see
    /// [`Verifier::swap`]).
    pub fn swap_snapshot(&self, path: impl AsRef<Path>) -> Result<(), IndexError> {
        let snapshot = Snapshot::open_with(path, &self.shared.options.open)?;
        self.swap(snapshot)
    }

    /// Swap in a newer snapshot; applied deltas are dropped (the snapshot includes them). A
    /// snapshot older than what the verifier has reached is refused (answers never go back),
    /// as is one whose time is in the future. Readers in flight finish on the old snapshot,
    /// which is released when the last one ends.
    pub fn swap(&self, snapshot: Snapshot) -> Result<(), IndexError> {
        check_not_future(
            snapshot.path(),
            snapshot.info().as_of,
            self.shared.options.future_skew,
        )?;
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
        let mut next = Self::generation(snapshot);
        next.fresh_as_of = next.fresh_as_of.max(g.fresh_as_of);
        drop(g);
        self.shared.publish(next);
        self.shared.refresh_stale();
        self.shared.save_state()
    }

    /// What the verifier holds now.
    pub fn info(&self) -> VerifierInfo {
        let g = self.shared.current.load();
        VerifierInfo {
            snapshot: g.snapshot.info().clone(),
            journal_seq: g.seq,
            deltas_applied: g.deltas_applied,
            deltas_verified: g.deltas_verified,
            overlay_cards: g.cards.len(),
            overlay_blacklist: g.blacklist.len(),
            fresh_as_of: g.fresh_as_of,
            timestamp_seq: g.timestamp_seq,
            max_age_seconds: self.shared.max_age.map(|d| d.as_secs()),
            stale: self.shared.stale.load(Ordering::Acquire),
            needs_snapshot: g.needs_snapshot,
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

impl Generation {
    /// The same generation (its snapshot and overlays shared), for a change of its metadata.
    fn clone_shallow(&self) -> Generation {
        Generation {
            snapshot: Arc::clone(&self.snapshot),
            cards: Arc::clone(&self.cards),
            blacklist: Arc::clone(&self.blacklist),
            seq: self.seq,
            deltas_applied: self.deltas_applied,
            deltas_verified: self.deltas_verified,
            fresh_as_of: self.fresh_as_of,
            timestamp_seq: self.timestamp_seq,
            needs_snapshot: self.needs_snapshot,
        }
    }
}

/// A file [`Verifier::apply_delta_dir`] skipped, and why.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SkippedFile {
    /// The file's name in the folder.
    pub name: String,
    /// Why it was skipped.
    pub reason: String,
}

/// What [`Verifier::apply_delta_dir`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct DeltaDirReport {
    /// Deltas applied.
    pub applied: usize,
    /// Timestamps taken in.
    pub timestamps: usize,
    /// Files skipped, with the reason.
    pub skipped: Vec<SkippedFile>,
}

impl DeltaDirReport {
    fn skip(&mut self, name: String, reason: String) {
        self.skipped.push(SkippedFile { name, reason });
    }
}

/// A delta's base snapshot, from and to, from its first 64 bytes.
fn read_head(path: &Path, len: u64) -> Result<(u64, u64, u64), IndexError> {
    use std::os::unix::fs::FileExt;
    let file = std::fs::File::open(path).map_err(|e| IndexError::io(path, e))?;
    let mut head = vec![0u8; (len as usize).min(64)];
    file.read_exact_at(&mut head, 0)
        .map_err(|e| IndexError::io(path, e))?;
    peek_header(&path.display().to_string(), &head, len as usize)
}

/// Refuse a time further in the future than `skew`.
fn check_not_future(name: &str, at: DateTime<Utc>, skew: Duration) -> Result<(), IndexError> {
    let now = Utc::now();
    let skew = chrono::Duration::from_std(skew).unwrap_or(chrono::Duration::MAX);
    if at > now + skew {
        return Err(IndexError::Future {
            path: name.to_string(),
            at,
            now,
        });
    }
    Ok(())
}

/// The state file's content: the verifier's high-water mark (docs/FORMAT.md §5b).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct HighWater {
    snapshot_id: u64,
    journal_seq: u64,
    fresh_as_of: DateTime<Utc>,
}

impl HighWater {
    fn read(path: &Path) -> Result<Option<HighWater>, IndexError> {
        match std::fs::read(path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|e| IndexError::Corrupt {
                        path: path.display().to_string(),
                        kind: "state file",
                        offset: 0,
                        what: e.to_string(),
                    })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(IndexError::io(path, e)),
        }
    }
}

impl Shared {
    /// Record the high-water mark in the state file, if there is one (never lowering it).
    fn save_state(&self) -> Result<(), IndexError> {
        let Some(path) = &self.options.state_file else {
            return Ok(());
        };
        let g = self.current.load();
        let mut mark = HighWater {
            snapshot_id: g.snapshot.info().snapshot_id,
            journal_seq: g.seq,
            fresh_as_of: g.fresh_as_of,
        };
        if let Some(old) = HighWater::read(path)?
            && old.journal_seq > mark.journal_seq
        {
            mark.journal_seq = old.journal_seq;
            mark.snapshot_id = old.snapshot_id;
            mark.fresh_as_of = mark.fresh_as_of.max(old.fresh_as_of);
        }
        let bytes = serde_json::to_vec(&mark).expect("a state encodes as JSON");
        crate::fsutil::write_atomically(path, |w| w.write_all(&bytes))
            .map_err(|e| IndexError::io(path, e))
    }
}
