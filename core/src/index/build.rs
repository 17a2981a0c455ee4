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
    card_payload, card_probe, fingerprint, home_bucket, payload_status, prefetch,
};
use super::spill::SpillFile;
use super::{BlacklistEntry, CardEntry, CardStatus, IndexError, Profile};
use crate::card::CardKey;
use crate::number::IdNumber;

/// Progress of a build, for progress bars.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BuildProgress {
    /// `sorting`, `mapping`, `placing`, `proving`, `filter`, `writing`, `checksums`, `signing`,
    /// `writing` (the rest of the file), `done`.
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
    /// Cards kept in temporary files instead of `cards` and `known` ([`SnapshotBuilder::spill_to`]).
    spill: Option<Spill>,
    signer: Option<std::sync::Arc<dyn Sign + Send + Sync>>,
}

/// A builder's cards in temporary files: the listed ones (key and payload, 12 bytes each, in
/// input order) and the known ones (keys), with how many listed cards' hashes a group holds.
struct Spill {
    listed: SpillFile<12>,
    known: SpillFile<8>,
    group: usize,
}

/// Default memory for one group's hashes in a spilled build: 128 MiB (16 bytes a listed card).
pub const DEFAULT_SPILL_GROUP_BYTES: usize = 128 << 20;

fn listed_record(key: u64, payload: u32) -> [u8; 12] {
    let mut r = [0u8; 12];
    r[..8].copy_from_slice(&key.to_le_bytes());
    r[8..].copy_from_slice(&payload.to_le_bytes());
    r
}

fn record_key(r: &[u8]) -> u64 {
    u64::from_le_bytes(r[..8].try_into().expect("8 bytes"))
}

fn record_payload(r: &[u8; 12]) -> u32 {
    u32::from_le_bytes(r[8..].try_into().expect("4 bytes"))
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
            spill: None,
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

    /// Keep the cards given from now on (and those given so far) in unnamed temporary files in
    /// `dir` instead of memory, and build in groups: the build then holds the file being made
    /// (about 16 bytes a listed card), one group's hashes
    /// ([`DEFAULT_SPILL_GROUP_BYTES`], see [`SnapshotBuilder::spill_group_bytes`]) and the
    /// filter, whatever the number of known cards. The bytes written are the same as without.
    ///
    /// ```
    /// use chrono::NaiveDate;
    /// use idcard::index::{CardEntry, CardStatus, Profile, SnapshotBuilder};
    /// use idcard::CardKey;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let n = "11010519491231002X".parse()?;
    /// let old = CardKey::new(n, NaiveDate::from_ymd_opt(2005, 3, 1).unwrap())?;
    /// let new = CardKey::new(n, NaiveDate::from_ymd_opt(2025, 3, 1).unwrap())?;
    /// let mut b = SnapshotBuilder::new(Profile::Bank);
    /// b.spill_to(dir.path())?;
    /// b.add_card(old, CardEntry::new(CardStatus::Superseded)).known_cards([new]);
    /// let info = b.write(dir.path().join("bank.idcs"))?;
    /// assert_eq!(info.card_count, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn spill_to(&mut self, dir: impl AsRef<Path>) -> Result<&mut Self, IndexError> {
        let dir = dir.as_ref();
        let io = |e| IndexError::io(dir, e);
        if self.spill.is_none() {
            let mut spill = Spill {
                listed: SpillFile::new(dir).map_err(io)?,
                known: SpillFile::new(dir).map_err(io)?,
                group: DEFAULT_SPILL_GROUP_BYTES / std::mem::size_of::<Hashed>(),
            };
            for (k, p) in std::mem::take(&mut self.cards) {
                spill.listed.push(listed_record(k, p));
            }
            for k in std::mem::take(&mut self.known) {
                spill.known.push(k.to_le_bytes());
            }
            self.spill = Some(spill);
        }
        Ok(self)
    }

    /// Memory for one group's hashes in a spilled build (16 bytes a listed card; at least one
    /// of the 1,024 hash partitions is taken at a time). No effect without
    /// [`SnapshotBuilder::spill_to`].
    pub fn spill_group_bytes(&mut self, bytes: usize) -> &mut Self {
        if let Some(s) = &mut self.spill {
            s.group = (bytes / std::mem::size_of::<Hashed>()).max(1);
        }
        self
    }

    fn push_card(&mut self, key: u64, payload: u32) {
        match &mut self.spill {
            Some(s) => s.listed.push(listed_record(key, payload)),
            None => self.cards.push((key, payload)),
        }
    }

    /// List a card (its status must be lost, stolen, superseded or invalidated).
    pub fn add_card(&mut self, key: CardKey, entry: CardEntry) -> &mut Self {
        let entry = self.profile.least_data(entry);
        self.push_card(key.to_u64(), card_payload(&entry) as u32);
        self
    }

    /// List many cards.
    pub fn extend_cards(
        &mut self,
        cards: impl IntoIterator<Item = (CardKey, CardEntry)>,
    ) -> &mut Self {
        let cards = cards.into_iter();
        let profile = self.profile;
        let payload = move |e: CardEntry| card_payload(&profile.least_data(e)) as u32;
        match &mut self.spill {
            Some(s) => {
                for (k, e) in cards {
                    s.listed.push(listed_record(k.to_u64(), payload(e)));
                }
            }
            None => {
                self.cards.reserve(cards.size_hint().0);
                self.cards
                    .extend(cards.map(|(k, e)| (k.to_u64(), payload(e))));
            }
        }
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
    /// that is not listed answers anything but valid. A spilled build
    /// ([`SnapshotBuilder::spill_to`]) keeps about 9 bytes in memory for each known card that
    /// is also listed: pass only the unlisted ones there.
    pub fn known_cards(&mut self, keys: impl IntoIterator<Item = CardKey>) -> &mut Self {
        match &mut self.spill {
            Some(s) => {
                for k in keys {
                    s.known.push(k.to_u64().to_le_bytes());
                }
            }
            None => self.known.extend(keys.into_iter().map(CardKey::to_u64)),
        }
        self
    }

    /// Number of cards listed so far.
    pub fn card_count(&self) -> usize {
        match &self.spill {
            Some(s) => s.listed.len() as usize,
            None => self.cards.len(),
        }
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
            let attempt = match &self.spill {
                Some(spill) => self.attempt_spilled(spill, path, seed, progress)?,
                None => self.attempt(path, seed, progress)?,
            };
            if let Some(info) = attempt {
                return Ok(info);
            }
            seed = next_seed(seed);
        }
        Err(IndexError::InvalidInput(format!(
            "no exact table after {MAX_SEEDS} seeds; the input is degenerate"
        )))
    }

    fn check_input(&self) -> Result<(), IndexError> {
        let unlisted = |i: u64, p: u32| {
            let status = CardStatus::from_u8(payload_status(p as u64)).unwrap_or_default();
            (!status.is_listable()).then(|| {
                IndexError::InvalidInput(format!(
                    "card entry #{}: status {status} cannot be listed (lost, stolen, superseded or invalidated)",
                    i + 1,
                ))
            })
        };
        match &self.spill {
            Some(s) => {
                let mut first = None;
                s.listed
                    .for_each(|i, r| {
                        if first.is_none() {
                            first = unlisted(i, record_payload(r));
                        }
                    })
                    .map_err(|e| IndexError::io(s.listed.dir(), e))?;
                if let Some(e) = first {
                    return Err(e);
                }
            }
            None => {
                for (i, &(_, p)) in self.cards.iter().enumerate() {
                    if let Some(e) = unlisted(i as u64, p) {
                        return Err(e);
                    }
                }
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
        if self.card_count() >= u32::MAX as usize || self.blacklist.len() >= u32::MAX as usize {
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
        b.extend_from_slice(&(self.card_count() as u64).to_le_bytes());
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
        let info = self.layout(seed, &cards, filter_words, blacklist.as_ref());
        let total = self.cards.len() as u64;

        progress(BuildProgress {
            stage: "mapping",
            done: 0,
            total: info.file_length,
        });
        let io = |e| IndexError::io(path, e);
        let (tmp, mut map) = scratch(path, info.file_length as usize)?;
        let region = |kind: &str| region_of(&info.sections, kind);

        // Three things share the two cores: placing and proving the card table (this thread),
        // filling the filter (a second thread, from the start: it needs only the keys), and
        // writing the table to the file (a third, chunk by chunk as it is placed, then while
        // this one proves it: the kernel hands out page-cache pages at about 0.5 GB/s here, so
        // the write is what the build waits for last). The filter and blacklist follow the
        // table in the file.
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
            // The table is placed front to back (positions increase with the hash) and handed
            // to the writer a chunk at a time as soon as each is final, so that writing it
            // overlaps placing. The slots are reached through one raw pointer: this thread
            // writes slots at or after the last chunk handed over, the writer reads only chunks
            // handed over, and the channel orders the two.
            let table = &mut front[r.clone()];
            let slot_count = table.len() / 8;
            debug_assert!(
                table.len() % 8 == 0 && table.as_ptr().align_offset(8) == 0,
                "the card table is whole, aligned 64-bit slots"
            );
            let base = SlotsPtr(table.as_mut_ptr().cast::<u64>());
            let (chunks, placed) = std::sync::mpsc::channel::<std::ops::Range<usize>>();
            let table_at = r.start as u64;
            let writer = scope.spawn(move || -> std::io::Result<()> {
                use std::os::unix::fs::FileExt;
                for range in placed {
                    // SAFETY: `range` is within the table, its slots are final (handed over
                    // after being placed), and nothing writes them while this reads.
                    let bytes = unsafe {
                        std::slice::from_raw_parts(
                            base.get().add(range.start).cast::<u8>(),
                            range.len() * 8,
                        )
                    };
                    file.write_all_at(bytes, table_at + range.start as u64 * 8)?;
                }
                Ok(())
            });
            let mut handed = 0usize;
            for (j, (e, pos)) in cards.hashed.iter().zip(cards.positions()).enumerate() {
                assert!(pos < slot_count, "a planned position is inside the table");
                if pos >= handed + WRITE_CHUNK_SLOTS {
                    // Every slot before `pos` is final: later positions are greater.
                    chunks.send(handed..pos).ok();
                    handed = pos;
                }
                // SAFETY: `pos` is in the table and at or after `handed`: not handed over yet.
                unsafe {
                    base.get()
                        .add(pos)
                        .write(((fingerprint(e.h) << 24) | e.tag as u64).to_le());
                }
                if j % (1 << 22) == 0 {
                    progress(BuildProgress {
                        stage: "placing",
                        done: j as u64,
                        total,
                    });
                }
            }
            chunks.send(handed..slot_count).ok();
            drop(chunks);
            // SAFETY: every slot is placed; from here on the table is only read (here and by
            // the writer).
            let slots: &[u64] = unsafe { std::slice::from_raw_parts(base.get(), slot_count) };
            let proved = self.prove(&cards, &hasher, slots, progress);
            if let Some(bl) = &blacklist {
                let b = region("blacklist").expect("a police snapshot's blacklist is laid out");
                self.place_blacklist(bl, &mut blacklist_part[b.start - tail..b.end - tail]);
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
            progress(BuildProgress {
                stage: "writing",
                done: 0,
                total: info.file_length,
            });
            writer
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p))
                .map_err(io)?;
            Ok(proved)
        })?;
        if !proved {
            return Ok(None);
        }
        self.finish(path, tmp, map, info, r, progress).map(Some)
    }

    /// Fill the blacklist section `bytes` from its plan: each entry's full hash and value.
    fn place_blacklist(&self, bl: &Plan, bytes: &mut [u8]) {
        let slots: &mut [[u64; 2]] = bytemuck::cast_slice_mut(bytes);
        for (e, pos) in bl.hashed.iter().zip(bl.positions()) {
            slots[pos] = [e.h.to_le(), self.blacklist[e.i as usize].1.to_le()];
        }
    }

    /// Checksums, header, signature; then write what of the file is not written yet (all but
    /// `written`, the table's bytes already in the file) and put it in place.
    fn finish(
        &self,
        path: &Path,
        tmp: tempfile::NamedTempFile,
        mut map: memmap2::MmapMut,
        mut info: SnapshotInfo,
        written: std::ops::Range<usize>,
        progress: &mut dyn FnMut(BuildProgress),
    ) -> Result<SnapshotInfo, IndexError> {
        let io = |e| IndexError::io(path, e);
        let dir = crate::fsutil::parent_dir(path);
        let len = info.file_length as usize;
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
                let hash = super::copy::hash_bytes(&map[..len], super::copy::copy_threads())
                    .map_err(io)?;
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
            // What is before the table (the header and alignment), then what follows it, then
            // the signature block.
            use std::os::unix::fs::FileExt;
            let f = tmp.as_file();
            f.write_all_at(&map[..written.start], 0).map_err(io)?;
            f.write_all_at(&map[written.end..len], written.end as u64)
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
        Ok(info)
    }

    /// One build under `seed` from spilled cards (see [`SnapshotBuilder::spill_to`]): the same
    /// bytes as [`SnapshotBuilder::attempt`], in bounded memory. The listed cards are read once
    /// to count them per hash partition, then once per group of partitions: each group is
    /// gathered, sorted and placed in order, and every answer already final is proved at once
    /// (a scan that stops before the next group's first home bucket cannot change); the few
    /// others are proved once the table is complete. The filter is filled from a third read on
    /// a second thread; then the known cards are read and proved against the finished table.
    fn attempt_spilled(
        &self,
        spill: &Spill,
        path: &Path,
        seed: u64,
        progress: &mut dyn FnMut(BuildProgress),
    ) -> Result<Option<SnapshotInfo>, IndexError> {
        const BITS: u32 = 10;
        const PARTS: usize = 1 << BITS;
        let shift = 64 - BITS;
        let sio = |e| IndexError::io(spill.listed.dir(), e);
        let hasher = WordHasher::new(seed);
        let n = spill.listed.len() as usize;
        let total = n as u64;
        progress(BuildProgress {
            stage: "sorting",
            done: 0,
            total,
        });
        let mut starts = vec![0usize; PARTS + 1];
        spill
            .listed
            .for_each(|_, r| starts[(hasher.hash(record_key(r)) >> shift) as usize + 1] += 1)
            .map_err(sio)?;
        for p in 1..starts.len() {
            starts[p] += starts[p - 1];
        }
        // Groups of partitions: as many whole partitions as the group's memory holds, at least one.
        let mut groups = Vec::new();
        let mut p0 = 0;
        while p0 < PARTS {
            let mut p1 = p0 + 1;
            while p1 < PARTS && starts[p1 + 1] - starts[p0] <= spill.group {
                p1 += 1;
            }
            groups.push((p0, p1));
            p0 = p1;
        }
        let buckets = ((n as f64 / (CARD_SLOTS as f64 * self.card_load())).ceil() as u64).max(1);
        // Planned now for the layout; a duplicate or a collision in it is reported after the
        // cards' own, as a build in memory does.
        let mut blacklist_refused = None;
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
            ) {
                Ok(Some(p)) => Some(p),
                Ok(None) => {
                    blacklist_refused = Some(Ok(None));
                    None
                }
                Err(e) => {
                    blacklist_refused = Some(Err(e));
                    None
                }
            }
        } else {
            None
        };
        let filter_words = self.with_filter().then(|| filter::words_for(n));
        // The table's size is known once it is placed: compose in memory laid out for the most
        // it can take (every entry probing past the last bucket; pages never touched cost
        // nothing), then move what follows it.
        let mut plan = Plan {
            hashed: Vec::new(),
            buckets,
            per_bucket: CARD_SLOTS,
            slots: (buckets as usize * CARD_SLOTS + n + 2).div_ceil(CARD_SLOTS) * CARD_SLOTS,
        };
        let most = self.layout(seed, &plan, filter_words, blacklist.as_ref());
        progress(BuildProgress {
            stage: "mapping",
            done: 0,
            total: most.file_length,
        });
        let (tmp, mut map) = scratch(path, most.file_length as usize)?;
        let up = region_of(&most.sections, "cards").expect("a card table is laid out");

        let placed = std::thread::scope(|scope| -> Result<Option<_>, IndexError> {
            let filler = filter_words.map(|words| {
                scope.spawn(move || -> std::io::Result<Vec<u64>> {
                    let mut w = vec![0u64; words];
                    let mut keys = Vec::new();
                    spill.listed.for_each_chunk(|_, chunk| {
                        keys.clear();
                        keys.extend(chunk.chunks_exact(12).map(record_key));
                        fill_filter_with(&mut w, seed, keys.len(), |i| keys[i]);
                    })?;
                    Ok(w)
                })
            });
            let slots: &mut [u64] = bytemuck::cast_slice_mut(&mut map[up.clone()]);
            let mut next = 0usize;
            let mut deferred = Vec::new();
            // Whether every answer proved so far is exact. Once one is not, the table is given
            // up, but the later groups are still read for duplicates: a build in memory finds
            // every duplicate before it proves anything.
            let mut exact = true;
            let mut group: Vec<Hashed> = Vec::new();
            for &(p0, p1) in &groups {
                let base = starts[p0];
                group.clear();
                group.resize(starts[p1] - base, Hashed::default());
                let mut fill: Vec<usize> = starts[p0..p1].iter().map(|s| s - base).collect();
                spill
                    .listed
                    .for_each(|i, r| {
                        let h = hasher.hash(record_key(r));
                        let p = (h >> shift) as usize;
                        if (p0..p1).contains(&p) {
                            group[fill[p - p0]] = Hashed {
                                h,
                                i: i as u32,
                                tag: record_payload(r),
                            };
                            fill[p - p0] += 1;
                        }
                    })
                    .map_err(sio)?;
                let rel: Vec<usize> = starts[p0..=p1].iter().map(|s| s - base).collect();
                sort_partitions(&mut group, &rel);
                for w in group.windows(2) {
                    if w[0].h == w[1].h {
                        let (a, b) = (w[0].i.min(w[1].i), w[0].i.max(w[1].i));
                        let key = |i: u32| spill.listed.get(i as u64).map(|r| record_key(&r));
                        if key(a).map_err(sio)? == key(b).map_err(sio)? {
                            return Err(IndexError::InvalidInput(format!(
                                "card entries #{} and #{} are the same card",
                                a + 1,
                                b + 1
                            )));
                        }
                        return Ok(None);
                    }
                }
                if !exact {
                    continue;
                }
                let first = next;
                for e in &group {
                    let pos = next.max(home_bucket(e.h, buckets) * CARD_SLOTS);
                    next = pos + 1;
                    slots[pos] = ((fingerprint(e.h) << 24) | e.tag as u64).to_le();
                }
                // Every later entry is placed at or after the next partition's first home bucket.
                let limit = if p1 == PARTS {
                    usize::MAX
                } else {
                    home_bucket((p1 as u64) << shift, buckets)
                };
                let mut at = first;
                for e in &group {
                    let pos = at.max(home_bucket(e.h, buckets) * CARD_SLOTS);
                    at = pos + 1;
                    let (count, found, stop) = card_probe(slots, buckets, e.h);
                    if stop >= limit {
                        deferred.push((e.h, pos));
                    } else if (count, found) != (1, Some(pos)) {
                        exact = false;
                    }
                }
                progress(BuildProgress {
                    stage: "placing",
                    done: starts[p1] as u64,
                    total,
                });
            }
            drop(group);
            let used = next.max(buckets as usize * CARD_SLOTS);
            // At least one empty slot after the last used one: every scan ends inside the table.
            let table = (used + 1).div_ceil(CARD_SLOTS) * CARD_SLOTS;
            exact = exact
                && deferred
                    .iter()
                    .all(|&(h, pos)| card_matches(&slots[..table], buckets, h) == (1, Some(pos)));
            let words = match filler {
                Some(f) => Some(
                    f.join()
                        .unwrap_or_else(|p| std::panic::resume_unwind(p))
                        .map_err(sio)?,
                ),
                None => None,
            };
            Ok(Some((table, words, exact)))
        })?;
        let Some((table, words, exact)) = placed else {
            return Ok(None);
        };
        if let Some(refused) = blacklist_refused {
            return refused;
        }
        if !exact {
            return Ok(None);
        }
        plan.slots = table;
        let info = self.layout(seed, &plan, filter_words, blacklist.as_ref());
        let r = region_of(&info.sections, "cards").expect("a card table is laid out");
        if r.start != up.start {
            // A smaller table may be aligned less (docs/FORMAT.md §4.1): move it, and clear
            // what it leaves behind.
            map.copy_within(up.start..up.start + r.len(), r.start);
            let stale = r.end.max(up.start)..up.start + r.len();
            if !stale.is_empty() {
                map[stale].fill(0);
            }
        }
        let region = |kind: &str| region_of(&info.sections, kind);
        let (front, back) = map.split_at_mut(r.end);
        let io = |e| IndexError::io(path, e);
        let file = tmp.as_file();
        let proved = std::thread::scope(|scope| -> Result<bool, IndexError> {
            let front: &[u8] = front;
            let writer = scope.spawn(|| {
                use std::os::unix::fs::FileExt;
                file.write_all_at(&front[r.clone()], r.start as u64)
            });
            if let (Some(f), Some(words)) = (region("filter"), &words) {
                back[f.start - r.end..f.end - r.end].copy_from_slice(bytemuck::cast_slice(words));
            }
            if let Some(bl) = &blacklist {
                let b = region("blacklist").expect("a police snapshot's blacklist is laid out");
                self.place_blacklist(bl, &mut back[b.start - r.end..b.end - r.end]);
            }
            progress(BuildProgress {
                stage: "proving",
                done: 0,
                total: spill.known.len(),
            });
            let slots: &[u64] = bytemuck::cast_slice(&front[r.clone()]);
            let proved = self.prove_known_spilled(spill, &hasher, slots, buckets)?;
            writer
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p))
                .map_err(io)?;
            Ok(proved)
        })?;
        if !proved {
            return Ok(None);
        }
        self.finish(path, tmp, map, info, r, progress).map(Some)
    }

    /// Whether every known card that is not listed answers valid in the finished table.
    /// A known card whose scan finds a fingerprint is a suspect: fine if it is listed (one more
    /// read of the listed cards settles the suspects), a collision otherwise.
    fn prove_known_spilled(
        &self,
        spill: &Spill,
        hasher: &WordHasher,
        slots: &[u64],
        buckets: u64,
    ) -> Result<bool, IndexError> {
        const AHEAD: usize = 16;
        let sio = |e| IndexError::io(spill.listed.dir(), e);
        let mut suspects = Vec::new();
        let mut hashes = Vec::new();
        spill
            .known
            .for_each_chunk(|_, chunk| {
                hashes.clear();
                hashes.extend(chunk.chunks_exact(8).map(|r| hasher.hash(record_key(r))));
                for (j, &h) in hashes.iter().enumerate() {
                    if let Some(&ahead) = hashes.get(j + AHEAD) {
                        prefetch(
                            slots
                                .as_ptr()
                                .wrapping_add(home_bucket(ahead, buckets) * CARD_SLOTS),
                        );
                    }
                    if card_matches(slots, buckets, h).0 > 0 {
                        suspects.push(record_key(&chunk[j * 8..]));
                    }
                }
            })
            .map_err(sio)?;
        if suspects.is_empty() {
            return Ok(true);
        }
        suspects.sort_unstable();
        suspects.dedup();
        let mut listed = vec![false; suspects.len()];
        spill
            .listed
            .for_each(|_, r| {
                if let Ok(j) = suspects.binary_search(&record_key(r)) {
                    listed[j] = true;
                }
            })
            .map_err(sio)?;
        Ok(listed.iter().all(|&l| l))
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
        fill_filter_with(words, seed, self.cards.len(), |i| self.cards[i].0);
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
        let n = self.card_count() as u64;
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
    sort_partitions(&mut out, &starts);
    out
}

/// Sort each partition of `out` (partition `p` is `starts[p]..starts[p + 1]`, `starts[0]` is 0),
/// one contiguous run of partitions per core, with about equal item counts.
fn sort_partitions(out: &mut [Hashed], starts: &[usize]) {
    let parts = starts.len() - 1;
    let n = starts[parts];
    let threads = std::thread::available_parallelism()
        .map_or(1, |t| t.get())
        .clamp(1, 8);
    let mut cuts = vec![0usize];
    for t in 1..threads {
        let target = n * t / threads;
        let p = starts.partition_point(|&s| s < target);
        cuts.push(p.min(parts));
    }
    cuts.push(parts);
    std::thread::scope(|scope| {
        let mut rest: &mut [Hashed] = out;
        let mut taken = 0usize;
        for w in cuts.windows(2) {
            let (p0, p1) = (w[0], w[1].max(w[0]));
            let (chunk, tail) = rest.split_at_mut(starts[p1] - taken);
            rest = tail;
            taken = starts[p1];
            scope.spawn(move || {
                let base = starts[p0];
                for p in p0..p1 {
                    chunk[starts[p] - base..starts[p + 1] - base].sort_unstable();
                }
            });
        }
    });
}

/// Slots handed to the file writer at a time while the table is placed (16 MiB; 8 KiB in unit
/// tests, so that small tables are written in many chunks).
#[cfg(not(test))]
const WRITE_CHUNK_SLOTS: usize = 1 << 21;
#[cfg(test)]
const WRITE_CHUNK_SLOTS: usize = 1 << 10;

/// The card table's slots, shared by the thread placing them and the thread writing them out
/// (see `attempt`: they never touch the same slot at the same time).
#[derive(Clone, Copy)]
struct SlotsPtr(*mut u64);

// SAFETY: a plain address; `attempt` orders every access to what it points to.
unsafe impl Send for SlotsPtr {}

impl SlotsPtr {
    /// The address (a method, so that closures capture the `Send` wrapper, not the field).
    fn get(self) -> *mut u64 {
        self.0
    }
}

/// Set the bits of `n` cards (keys `key(0..n)`) in the filter (docs/FORMAT.md §4.4).
fn fill_filter_with(words: &mut [u64], seed: u64, n: usize, key: impl Fn(usize) -> u64) {
    let fseed = filter::filter_seed(seed);
    // Each card sets bits in a random word: prefetch the word 32 cards ahead.
    const AHEAD: usize = 32;
    for i in 0..n {
        if i + AHEAD < n {
            let f = filter::filter_hash(key(i + AHEAD), fseed);
            prefetch(
                words
                    .as_ptr()
                    .wrapping_add(filter::word_of(f, words.len() as u64)),
            );
        }
        filter::insert(words, filter::filter_hash(key(i), fseed));
    }
}

/// A temporary file next to `path` and anonymous memory of `len` bytes to compose it in.
///
/// The file is composed in anonymous memory with huge pages (fewer TLB misses while the filter
/// and the table are filled at random; no page-cache pages allocated one at a time through a
/// file mapping: measured 2-3 s of 9-14 s at 10^8 cards) and written out in one go once signed.
fn scratch(
    path: &Path,
    len: usize,
) -> Result<(tempfile::NamedTempFile, memmap2::MmapMut), IndexError> {
    let io = |e| IndexError::io(path, e);
    let dir = crate::fsutil::parent_dir(path);
    let tmp = tempfile::Builder::new()
        .prefix(".idcard-tmp-")
        .tempfile_in(dir)
        .map_err(io)?;
    let map = memmap2::MmapOptions::new()
        .len(len.max(1))
        .map_anon()
        .map_err(io)?;
    #[cfg(target_os = "linux")]
    {
        let _ = map.advise(memmap2::Advice::HugePage);
    }
    Ok((tmp, map))
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

    /// L3: the table written to the file chunk by chunk while it is placed is the table the
    /// checksums were computed on, whole (opening checks every section's checksum), and it
    /// answers every card.
    #[test]
    fn l3_a_table_written_in_chunks_while_placed_is_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chunks.idcs");
        let n = 20_000u64;
        let key = |i: u64| {
            let number = IdNumber::from_parts(
                crate::DivisionCode::new(110105).unwrap(),
                chrono::NaiveDate::from_ymd_opt(1950, 1, 1).unwrap() + chrono::Days::new(i / 1000),
                (i % 1000) as u16,
            )
            .unwrap();
            CardKey::from_days(number, crate::civil::days_from_civil(2020, 1, 1)).unwrap()
        };
        let mut b = SnapshotBuilder::new(Profile::Bank);
        b.extend_cards((0..n).map(|i| (key(i), CardEntry::new(CardStatus::Lost))));
        let info = b.write(&path).unwrap();
        let cards = info.sections.iter().find(|s| s.kind == "cards").unwrap();
        assert!(
            cards.length as usize > 8 * WRITE_CHUNK_SLOTS * 10,
            "many chunks"
        );
        let snap = super::super::Snapshot::open_with(&path, &super::super::OpenOptions::unsigned())
            .unwrap();
        snap.verify().unwrap();
        assert!((0..n).all(|i| snap.status(key(i)) == CardStatus::Lost));
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
