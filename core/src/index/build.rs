//! Building snapshots: deterministic, exact for every key given, written atomically.

use std::path::Path;

use crate::trust::FileKind;
use crate::trust::signed::Sign;
use chrono::{DateTime, Utc};
use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

use super::filter;
use super::format::{
    FORMAT_VERSION, HEADER_SIZE, LARGE_SECTION_ALIGN, SECTION_ALIGN, SectionInfo, SnapshotInfo,
    encode_header,
};
use super::hash::{
    BLACKLIST_SLOTS, CARD_SLOTS, WordHasher, blacklist_hash, blacklist_value, card_matches,
    card_payload, fingerprint, home_bucket, payload_status, prefetch,
};
use super::{BlacklistEntry, CardEntry, CardStatus, IndexError, Profile};
use crate::card::CardKey;
use crate::number::IdNumber;

/// Progress of a build, for progress bars.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BuildProgress {
    /// `sorting`, `mapping`, `placing`, `proving`, `filter`, `checksums`, `writing`, `done`.
    pub stage: &'static str,
    /// Units done in this stage.
    pub done: u64,
    /// Units in this stage.
    pub total: u64,
}

/// Whether a snapshot carries a card filter (docs/FORMAT.md §4.4).
///
/// Measured with the peer comparison on this project's 2-core machine, 1% hits, 10 M cards
/// (format 3): without the filter 56.6 M/s batched and 15.8 M/s one at a time; with it 107.5 and
/// 37.4 M/s, for the same 16 bytes per card (the table is built at load 0.55 with a filter).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FilterMode {
    /// A filter (the default).
    #[default]
    Always,
    /// No filter: the table alone (about the same size, slower lookups).
    Never,
}

impl std::str::FromStr for FilterMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "always" => Ok(FilterMode::Always),
            "never" => Ok(FilterMode::Never),
            _ => Err(format!("filter mode {s:?}: expected always or never")),
        }
    }
}

/// How many seeds to try before giving up on an exact table.
/// Seeds a build tries before giving up (docs/FORMAT.md §4.3).
pub const MAX_SEEDS: u32 = 16;

/// Builds a snapshot from records (see the [module documentation](super)).
///
/// - Deterministic: the same records, metadata and seed give the same bytes, in any input order.
/// - Exact: every listed card answers its own entry; every card passed to
///   [`SnapshotBuilder::known_cards`] and not listed answers valid. Fingerprint collisions that
///   would break this are detected and the table is rebuilt with the next seed.
/// - Atomic: written to a temporary file, fsynced, renamed into place, directory fsynced.
pub struct SnapshotBuilder {
    profile: Profile,
    as_of: DateTime<Utc>,
    journal_seq: u64,
    seed: Option<u64>,
    load: Option<f64>,
    filter: FilterMode,
    /// Compact card key and the 24-bit slot payload (status, reason, date).
    cards: Vec<(u64, u32)>,
    /// Compact number and the blacklist slot value.
    blacklist: Vec<(u64, u64)>,
    known: Vec<u64>,
    signer: Option<std::sync::Arc<dyn Sign + Send + Sync>>,
}

/// One table's plan: hashes sorted by hash (with the input index), home buckets, slots.
/// One entry of a plan: its hash, its index in the input, and a tag carried along (a card's
/// payload: placing then reads the sorted entries alone, in order, instead of the input at
/// random; the tag sits in what would be padding, so an entry is 16 bytes either way).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
struct Hashed {
    h: u64,
    i: u32,
    tag: u32,
}

struct Plan {
    hashed: Vec<Hashed>,
    buckets: u64,
    per_bucket: usize,
    /// Slots including the spare end.
    slots: usize,
}

impl Plan {
    /// Slot positions of `hashed`, in order: linear probing in bucket order (a sequential fill,
    /// since the input is sorted by hash and so by home bucket).
    fn positions(&self) -> impl Iterator<Item = usize> + '_ {
        let mut next = 0usize;
        self.hashed.iter().map(move |e| {
            let pos = next.max(home_bucket(e.h, self.buckets) * self.per_bucket);
            next = pos + 1;
            pos
        })
    }
}

impl SnapshotBuilder {
    /// An empty builder; as-of time now, journal sequence 0.
    pub fn new(profile: Profile) -> SnapshotBuilder {
        SnapshotBuilder {
            profile,
            as_of: DateTime::from_timestamp(Utc::now().timestamp(), 0).expect("now is in range"),
            journal_seq: 0,
            seed: None,
            load: None,
            filter: FilterMode::Always,
            cards: Vec::new(),
            blacklist: Vec::new(),
            known: Vec::new(),
            signer: None,
        }
    }

    /// Sign the snapshot with this key (its signature block follows the content,
    /// docs/FORMAT.md §11). Unsigned snapshots open only where unsigned files are explicitly
    /// allowed.
    pub fn signer(&mut self, signer: std::sync::Arc<dyn Sign + Send + Sync>) -> &mut Self {
        self.signer = Some(signer);
        self
    }

    /// The time of the record the snapshot reflects (whole seconds are kept).
    pub fn as_of(&mut self, t: DateTime<Utc>) -> &mut Self {
        self.as_of = DateTime::from_timestamp(t.timestamp(), 0).expect("in range");
        self
    }

    /// The journal sequence the snapshot reflects.
    pub fn journal_seq(&mut self, seq: u64) -> &mut Self {
        self.journal_seq = seq;
        self
    }

    /// The first hash seed to try (default: derived from the metadata and counts).
    pub fn seed(&mut self, seed: u64) -> &mut Self {
        self.seed = Some(seed);
        self
    }

    /// Target load factor of the tables, `0.1..=0.9` (default 0.5, or 0.55 with a filter: at
    /// most 16 bytes per card, one cache line per lookup).
    pub fn load_factor(&mut self, load: f64) -> &mut Self {
        self.load = Some(load.clamp(0.1, 0.9));
        self
    }

    /// Whether to add a card filter (default [`FilterMode::Always`]).
    pub fn filter(&mut self, mode: FilterMode) -> &mut Self {
        self.filter = mode;
        self
    }

    fn with_filter(&self) -> bool {
        self.filter == FilterMode::Always
    }

    fn card_load(&self) -> f64 {
        self.load
            .unwrap_or(if self.with_filter() { 0.55 } else { 0.5 })
    }

    /// List a card (its status must be lost, stolen, superseded or invalidated).
    pub fn add_card(&mut self, key: CardKey, entry: CardEntry) -> &mut Self {
        let entry = self.profile.least_data(entry);
        self.cards.push((key.to_u64(), card_payload(&entry) as u32));
        self
    }

    /// List many cards.
    pub fn extend_cards(
        &mut self,
        cards: impl IntoIterator<Item = (CardKey, CardEntry)>,
    ) -> &mut Self {
        let cards = cards.into_iter();
        self.cards.reserve(cards.size_hint().0);
        let profile = self.profile;
        self.cards.extend(
            cards
                .into_iter()
                .map(|(k, e)| (k.to_u64(), card_payload(&profile.least_data(e)) as u32)),
        );
        self
    }

    /// Blacklist a person (police profile only).
    pub fn add_blacklist(&mut self, number: IdNumber, entry: BlacklistEntry) -> &mut Self {
        self.blacklist
            .push((number.to_u64(), blacklist_value(&entry)));
        self
    }

    /// Blacklist many people.
    pub fn extend_blacklist(
        &mut self,
        entries: impl IntoIterator<Item = (IdNumber, BlacklistEntry)>,
    ) -> &mut Self {
        self.blacklist.extend(
            entries
                .into_iter()
                .map(|(n, e)| (n.to_u64(), blacklist_value(&e))),
        );
        self
    }

    /// Cards the publisher knows to exist (listed or not): the build proves that none of them
    /// that is not listed answers anything but valid.
    pub fn known_cards(&mut self, keys: impl IntoIterator<Item = CardKey>) -> &mut Self {
        self.known.extend(keys.into_iter().map(CardKey::to_u64));
        self
    }

    /// Number of cards listed so far.
    pub fn card_count(&self) -> usize {
        self.cards.len()
    }

    /// Build and write to `path`.
    pub fn write(&self, path: impl AsRef<Path>) -> Result<SnapshotInfo, IndexError> {
        self.write_with_progress(path, &mut |_| {})
    }

    /// Build and write to `path`, reporting progress. The tables are filled in place in a
    /// memory-mapped temporary file next to `path`, which is then fsynced and renamed into place.
    pub fn write_with_progress(
        &self,
        path: impl AsRef<Path>,
        progress: &mut dyn FnMut(BuildProgress),
    ) -> Result<SnapshotInfo, IndexError> {
        let path = path.as_ref();
        self.check_input()?;
        let mut seed = self.seed.unwrap_or_else(|| self.default_seed());
        for _ in 0..MAX_SEEDS {
            if let Some(info) = self.attempt(path, seed, progress)? {
                return Ok(info);
            }
            seed = next_seed(seed);
        }
        Err(IndexError::InvalidInput(format!(
            "no exact table after {MAX_SEEDS} seeds; the input is degenerate"
        )))
    }

    fn check_input(&self) -> Result<(), IndexError> {
        for (i, &(_, p)) in self.cards.iter().enumerate() {
            let status = CardStatus::from_u8(payload_status(p as u64)).unwrap_or_default();
            if !status.is_listable() {
                return Err(IndexError::InvalidInput(format!(
                    "card entry #{}: status {status} cannot be listed (lost, stolen, superseded or invalidated)",
                    i + 1,
                )));
            }
        }
        for (i, &(_, v)) in self.blacklist.iter().enumerate() {
            if v as u32 == 0 {
                return Err(IndexError::InvalidInput(format!(
                    "blacklist entry #{}: no reason given",
                    i + 1
                )));
            }
        }
        if self.profile == Profile::Bank && !self.blacklist.is_empty() {
            return Err(IndexError::InvalidInput(format!(
                "{} blacklist entries given for a bank profile snapshot; banks get no blacklist (S2)",
                self.blacklist.len()
            )));
        }
        if self.cards.len() >= u32::MAX as usize || self.blacklist.len() >= u32::MAX as usize {
            return Err(IndexError::InvalidInput(
                "more than 2^32 - 1 entries".into(),
            ));
        }
        Ok(())
    }

    fn default_seed(&self) -> u64 {
        let mut b = Vec::with_capacity(32);
        b.extend_from_slice(&self.as_of.timestamp().to_le_bytes());
        b.extend_from_slice(&self.journal_seq.to_le_bytes());
        b.extend_from_slice(&(self.cards.len() as u64).to_le_bytes());
        b.extend_from_slice(&(self.blacklist.len() as u64).to_le_bytes());
        xxh3_64(&b)
    }

    /// Plan a table: hash, sort by hash, detect duplicates (an error) and 64-bit hash
    /// collisions (`None`: try another seed).
    #[allow(clippy::too_many_arguments)]
    fn plan(
        &self,
        n: usize,
        key: impl Fn(usize) -> u64 + Sync,
        hash: impl Fn(u64) -> u64 + Sync,
        tag: impl Fn(usize) -> u32 + Sync,
        per_bucket: usize,
        load: f64,
        what: &str,
        same: impl Fn(usize, usize) -> bool,
        progress: &mut dyn FnMut(BuildProgress),
    ) -> Result<Option<Plan>, IndexError> {
        let total = n as u64;
        progress(BuildProgress {
            stage: "sorting",
            done: 0,
            total,
        });
        let hashed = hash_sorted(n, key, hash, tag);
        for w in hashed.windows(2) {
            if w[0].h == w[1].h {
                let (a, b) = (w[0].i as usize, w[1].i as usize);
                if same(a, b) {
                    let (a, b) = (a.min(b), a.max(b));
                    return Err(IndexError::InvalidInput(format!(
                        "{what} entries #{} and #{} are the same {}",
                        a + 1,
                        b + 1,
                        if what == "card" { "card" } else { "person" }
                    )));
                }
                return Ok(None);
            }
        }
        let buckets = ((n as f64 / (per_bucket as f64 * load)).ceil() as u64).max(1);
        let mut plan = Plan {
            hashed,
            buckets,
            per_bucket,
            slots: 0,
        };
        let used = plan.positions().last().map_or(0, |p| p + 1);
        let used = used.max(buckets as usize * per_bucket);
        // At least one empty slot after the last used one: every scan ends inside the table.
        plan.slots = (used + 1).div_ceil(per_bucket) * per_bucket;
        Ok(Some(plan))
    }

    /// One build under `seed`: `Ok(None)` on a collision that another seed avoids.
    fn attempt(
        &self,
        path: &Path,
        seed: u64,
        progress: &mut dyn FnMut(BuildProgress),
    ) -> Result<Option<SnapshotInfo>, IndexError> {
        let hasher = WordHasher::new(seed);
        let Some(cards) = self.plan(
            self.cards.len(),
            |i| self.cards[i].0,
            |k| hasher.hash(k),
            |i| self.cards[i].1,
            CARD_SLOTS,
            self.card_load(),
            "card",
            |a, b| self.cards[a].0 == self.cards[b].0,
            progress,
        )?
        else {
            return Ok(None);
        };
        let blacklist = if self.profile == Profile::Police {
            match self.plan(
                self.blacklist.len(),
                |i| self.blacklist[i].0,
                |n| blacklist_hash(n, seed),
                |_| 0,
                BLACKLIST_SLOTS,
                self.load.unwrap_or(0.5),
                "blacklist",
                |a, b| self.blacklist[a].0 == self.blacklist[b].0,
                progress,
            )? {
                Some(p) => Some(p),
                None => return Ok(None),
            }
        } else {
            None
        };
        let filter_words = self
            .with_filter()
            .then(|| filter::words_for(self.cards.len()));
        let mut info = self.layout(seed, &cards, filter_words, blacklist.as_ref());
        let total = self.cards.len() as u64;

        progress(BuildProgress {
            stage: "mapping",
            done: 0,
            total: info.file_length,
        });
        let io = |e| IndexError::io(path, e);
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let tmp = tempfile::Builder::new()
            .prefix(".idcard-tmp-")
            .tempfile_in(dir)
            .map_err(io)?;
        // The file is composed in anonymous memory with huge pages (fewer TLB misses while the
        // filter and the table are filled at random; no page-cache pages allocated one at a
        // time through a file mapping: measured 2-3 s of 9-14 s at 10^8 cards) and written out
        // in one go once signed.
        let mut map = memmap2::MmapOptions::new()
            .len((info.file_length as usize).max(1))
            .map_anon()
            .map_err(io)?;
        #[cfg(target_os = "linux")]
        {
            let _ = map.advise(memmap2::Advice::HugePage);
        }
        let region = |kind: &str| region_of(&info.sections, kind);

        // Three things share the two cores: placing and proving the card table (this thread),
        // filling the filter (a second thread, from the start: it needs only the keys), and
        // writing the table to the file once it is placed (a third, while this one proves it:
        // the kernel hands out page-cache pages at about 0.5 GB/s here, so the write takes as
        // long as the rest together). The filter and blacklist follow the table in the file.
        let r = region("cards").expect("a card table is laid out");
        let (front, back) = map.split_at_mut(r.end);
        // What follows the filter (or the table) starts at `tail`.
        let tail = region("filter").map_or(r.end, |f| f.end);
        let (filter_part, blacklist_part) = back.split_at_mut(tail - r.end);
        let filter_part = region("filter").map(|f| &mut filter_part[f.start - r.end..]);
        let file = tmp.as_file();
        let proved = std::thread::scope(|scope| -> Result<bool, IndexError> {
            let filler = filter_part.map(|part| {
                scope.spawn(move || self.fill_filter(bytemuck::cast_slice_mut(part), seed))
            });
            {
                let slots: &mut [u64] = bytemuck::cast_slice_mut(&mut front[r.clone()]);
                for (j, (e, pos)) in cards.hashed.iter().zip(cards.positions()).enumerate() {
                    slots[pos] = ((fingerprint(e.h) << 24) | e.tag as u64).to_le();
                    if j % (1 << 22) == 0 {
                        progress(BuildProgress {
                            stage: "placing",
                            done: j as u64,
                            total,
                        });
                    }
                }
            }
            let front: &[u8] = front;
            let writer = scope.spawn(|| {
                use std::os::unix::fs::FileExt;
                file.write_all_at(&front[r.clone()], r.start as u64)
            });
            let proved = self.prove(
                &cards,
                &hasher,
                bytemuck::cast_slice(&front[r.clone()]),
                progress,
            );
            if let Some(bl) = &blacklist {
                let b = region("blacklist").expect("a police snapshot's blacklist is laid out");
                let slots: &mut [[u64; 2]] =
                    bytemuck::cast_slice_mut(&mut blacklist_part[b.start - tail..b.end - tail]);
                for (e, pos) in bl.hashed.iter().zip(bl.positions()) {
                    slots[pos] = [e.h.to_le(), self.blacklist[e.i as usize].1.to_le()];
                }
                // Full 64-bit hashes are stored and distinct: every lookup is exact.
            }
            if let Some(f) = filler {
                progress(BuildProgress {
                    stage: "filter",
                    done: 0,
                    total,
                });
                f.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
            }
            writer
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p))
                .map_err(io)?;
            Ok(proved)
        })?;
        if !proved {
            return Ok(None);
        }
        progress(BuildProgress {
            stage: "checksums",
            done: 0,
            total: info.file_length,
        });
        for s in &mut info.sections {
            s.checksum = xxh3_64(&map[s.offset as usize..(s.offset + s.length) as usize]);
        }
        let header = encode_header(&mut info);
        map[..HEADER_SIZE].copy_from_slice(&header);
        let block = match &self.signer {
            Some(signer) => {
                progress(BuildProgress {
                    stage: "signing",
                    done: 0,
                    total: info.file_length,
                });
                let hash =
                    super::copy::hash_bytes(&map, super::copy::copy_threads()).map_err(io)?;
                Some(crate::trust::signed::block(
                    FileKind::Snapshot,
                    info.file_length,
                    &hash,
                    signer.as_ref(),
                ))
            }
            None => None,
        };
        progress(BuildProgress {
            stage: "writing",
            done: 0,
            total: info.file_length,
        });
        {
            // The header (and the alignment before the table), then what follows the table,
            // then the signature block.
            use std::os::unix::fs::FileExt;
            let f = tmp.as_file();
            f.write_all_at(&map[..r.start], 0).map_err(io)?;
            f.write_all_at(&map[r.end..info.file_length as usize], r.end as u64)
                .map_err(io)?;
            drop(map);
            if let Some(block) = block {
                f.write_all_at(&block, info.file_length).map_err(io)?;
            }
        }
        tmp.as_file().sync_all().map_err(io)?;
        tmp.persist(path).map_err(|e| io(e.error))?;
        crate::fsutil::sync_dir(dir).map_err(io)?;
        progress(BuildProgress {
            stage: "done",
            done: info.file_length,
            total: info.file_length,
        });
        Ok(Some(info))
    }

    /// Whether every listed card's scan finds exactly its own slot and every known unlisted
    /// card's scan finds none (docs/FORMAT.md §4.3); `false`: try another seed.
    fn prove(
        &self,
        cards: &Plan,
        hasher: &WordHasher,
        slots: &[u64],
        progress: &mut dyn FnMut(BuildProgress),
    ) -> bool {
        let total = self.cards.len() as u64;
        for (j, (&Hashed { h, .. }, pos)) in cards.hashed.iter().zip(cards.positions()).enumerate()
        {
            if j % (1 << 22) == 0 {
                progress(BuildProgress {
                    stage: "proving",
                    done: j as u64,
                    total,
                });
            }
            if card_matches(slots, cards.buckets, h) != (1, Some(pos)) {
                return false;
            }
        }
        for &k in &self.known {
            let h = hasher.hash(k);
            if card_matches(slots, cards.buckets, h).0 > 0 {
                let listed = cards
                    .hashed
                    .binary_search_by_key(&h, |e| e.h)
                    .is_ok_and(|j| self.cards[cards.hashed[j].i as usize].0 == k);
                if !listed {
                    return false;
                }
            }
        }
        true
    }

    /// Set every card's bits in the filter (docs/FORMAT.md §4.4).
    fn fill_filter(&self, words: &mut [u64], seed: u64) {
        let fseed = filter::filter_seed(seed);
        // Each card sets bits in a random word: prefetch the word 32 cards ahead.
        const AHEAD: usize = 32;
        let n = self.cards.len();
        for i in 0..n {
            if i + AHEAD < n {
                let f = filter::filter_hash(self.cards[i + AHEAD].0, fseed);
                prefetch(
                    words
                        .as_ptr()
                        .wrapping_add(filter::word_of(f, words.len() as u64)),
                );
            }
            filter::insert(words, filter::filter_hash(self.cards[i].0, fseed));
        }
    }

    fn layout(
        &self,
        seed: u64,
        cards: &Plan,
        filter_words: Option<usize>,
        bl: Option<&Plan>,
    ) -> SnapshotInfo {
        let mut sections = Vec::new();
        let mut at = HEADER_SIZE as u64;
        let mut place =
            |kind: &'static str, length: u64, slot_size: u32, hash_buckets: u64, entries: u64| {
                let align = if length >= 2 * LARGE_SECTION_ALIGN {
                    LARGE_SECTION_ALIGN
                } else {
                    SECTION_ALIGN
                };
                let offset = at.next_multiple_of(align);
                at = offset + length;
                sections.push(SectionInfo {
                    kind,
                    offset,
                    length,
                    slot_size,
                    hash_buckets,
                    entries,
                    checksum: 0,
                    checksum_verified: None,
                });
            };
        let n = self.cards.len() as u64;
        place("cards", cards.slots as u64 * 8, 8, cards.buckets, n);
        if let Some(words) = filter_words {
            place("filter", words as u64 * 8, 8, words as u64, n);
        }
        if let Some(b) = bl {
            place(
                "blacklist",
                b.slots as u64 * 16,
                16,
                b.buckets,
                self.blacklist.len() as u64,
            );
        }
        SnapshotInfo {
            format_version: FORMAT_VERSION,
            profile: self.profile,
            snapshot_id: 0,
            as_of: self.as_of,
            journal_seq: self.journal_seq,
            hash_seed: seed,
            file_length: at,
            card_count: n,
            blacklist_count: bl.map_or(0, |_| self.blacklist.len() as u64),
            sections,
            signature: super::Signature::Unsigned,
        }
    }
}

/// The byte range of a section of the layout.
fn region_of(sections: &[SectionInfo], kind: &str) -> Option<std::ops::Range<usize>> {
    let s = sections.iter().find(|s| s.kind == kind)?;
    Some(s.offset as usize..(s.offset + s.length) as usize)
}

/// The seed a build tries after `seed` (docs/FORMAT.md §4.3).
pub fn next_seed(seed: u64) -> u64 {
    xxh3_64_with_seed(&seed.to_le_bytes(), 0x5eed)
}

/// Hash every key and sort by hash: a counting pass and a scatter pass on the top 16 bits of
/// the hash (hashing twice instead of keeping an unsorted copy: memory, not arithmetic, is the
/// cost at 10^8 keys), then the partitions sorted in cache, on all cores.
fn hash_sorted(
    n: usize,
    key: impl Fn(usize) -> u64 + Sync,
    hash: impl Fn(u64) -> u64 + Sync,
    tag: impl Fn(usize) -> u32 + Sync,
) -> Vec<Hashed> {
    // 1,024 partitions: few enough that the scatter's writes stay in cache and in the TLB,
    // many enough that each partition sorts in cache (measured at 10^8 entries: 2^16 partitions
    // 5.8 s, 2^13 3.5 s, 2^10 2.8-3.1 s).
    let bits: u32 = 10;
    let shift = 64 - bits;
    let entry = |i: usize, h: u64| Hashed {
        h,
        i: i as u32,
        tag: tag(i),
    };
    if n < 1 << 16 {
        let mut v: Vec<Hashed> = (0..n).map(|i| entry(i, hash(key(i)))).collect();
        v.sort_unstable();
        return v;
    }
    let mut starts = vec![0usize; (1 << bits) + 1];
    for i in 0..n {
        starts[(hash(key(i)) >> shift) as usize + 1] += 1;
    }
    for i in 1..starts.len() {
        starts[i] += starts[i - 1];
    }
    let mut out = vec![Hashed::default(); n];
    let mut fill = starts.clone();
    for i in 0..n {
        let h = hash(key(i));
        let p = (h >> shift) as usize;
        out[fill[p]] = entry(i, h);
        fill[p] += 1;
    }
    drop(fill);
    // Split the partitions into one contiguous run per core, with about equal item counts.
    let threads = std::thread::available_parallelism()
        .map_or(1, |t| t.get())
        .clamp(1, 8);
    let mut cuts = vec![0usize];
    for t in 1..threads {
        let target = n * t / threads;
        let p = starts.partition_point(|&s| s < target);
        cuts.push(p.min(1 << bits));
    }
    cuts.push(1 << bits);
    std::thread::scope(|scope| {
        let mut rest: &mut [Hashed] = &mut out;
        let mut taken = 0usize;
        for w in cuts.windows(2) {
            let (p0, p1) = (w[0], w[1]);
            let (chunk, tail) = rest.split_at_mut(starts[p1] - taken);
            rest = tail;
            taken = starts[p1];
            let starts = &starts;
            scope.spawn(move || {
                let base = starts[p0];
                for p in p0..p1 {
                    chunk[starts[p] - base..starts[p + 1] - base].sort_unstable();
                }
            });
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_sorted_sorts_large_inputs() {
        let keys: Vec<u64> = (0..300_000u64).collect();
        let h = |k: u64| k.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29);
        let tag = |i: usize| (i as u32).wrapping_mul(7);
        let entry = |k: u64| Hashed {
            h: h(k),
            i: k as u32,
            tag: tag(k as usize),
        };
        let mut expected: Vec<Hashed> = keys.iter().map(|&k| entry(k)).collect();
        expected.sort_unstable();
        assert_eq!(hash_sorted(keys.len(), |i| keys[i], h, tag), expected);
        assert_eq!(hash_sorted(100, |i| keys[i], h, tag), {
            let mut e: Vec<Hashed> = keys[..100].iter().map(|&k| entry(k)).collect();
            e.sort_unstable();
            e
        });
    }

    #[test]
    fn positions_are_linear_probing_in_bucket_order() {
        // Three items in home bucket 0 of 1 bucket with 2 slots per bucket: 0, 1, then 2.
        let plan = Plan {
            hashed: [1u64, 2, 3]
                .iter()
                .map(|&h| Hashed {
                    h,
                    ..Hashed::default()
                })
                .collect(),
            buckets: 1,
            per_bucket: 2,
            slots: 4,
        };
        assert_eq!(plan.positions().collect::<Vec<_>>(), vec![0, 1, 2]);
    }
}
