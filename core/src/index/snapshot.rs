//! Opening and querying a snapshot file.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use xxhash_rust::xxh3::xxh3_64;

use super::format::{HEADER_SIZE, SnapshotInfo, check_magic_and_version, decode_header};
use super::hash::{
    BLACKLIST_SLOTS, CARD_SLOTS, WordHasher, blacklist_hash, decode_blacklist_value,
    decode_card_payload, find_blacklist, find_card, home_bucket, payload_status, prefetch,
};
use super::{BlacklistEntry, CardEntry, CardStatus, IndexError, SignaturePolicy};
use crate::trust::FileKind;
use crate::trust::signed::Block;

/// How much of a file's end is read to find its signature block.
const MAX_TAIL: usize = 64 * 1024;
use crate::card::CardKey;
use crate::number::IdNumber;

/// How to open a snapshot.
#[derive(Clone, Debug)]
pub struct OpenOptions {
    /// Signatures: the trust file, and whether unsigned files are allowed. The default requires
    /// a signature checked against a trust file, so `OpenOptions::default()` opens nothing
    /// until one is given (fail closed).
    pub signatures: SignaturePolicy,
    /// For files that are not verified by a signature: check every section's checksum and
    /// scan the slots (the default). A verified signature covers the whole content and makes
    /// these checks redundant; they are skipped then.
    pub verify_checksums: bool,
    /// Map the file in place instead of reading it into memory private to this process. Opening
    /// is then O(1) for unsigned files without checksums, but another process truncating or
    /// rewriting the file can kill this one (SIGBUS) or change its answers: use it only for a
    /// file nobody else can write (one this process wrote itself, a read-only mount).
    pub map_in_place: bool,
    /// With [`OpenOptions::map_in_place`]: ask the kernel to read the whole file in at open
    /// (`MAP_POPULATE`), so the first lookups do not fault.
    pub populate: bool,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            signatures: SignaturePolicy::default(),
            verify_checksums: true,
            map_in_place: false,
            populate: false,
        }
    }
}

impl OpenOptions {
    /// Require signatures by these roots (the bank's setting).
    pub fn trusting(trust: crate::trust::TrustStore) -> OpenOptions {
        OpenOptions {
            signatures: SignaturePolicy::trusting(trust),
            ..OpenOptions::default()
        }
    }

    /// Open unsigned files (an analyst's own snapshot, tests); fully checked.
    pub fn unsigned() -> OpenOptions {
        OpenOptions {
            signatures: SignaturePolicy::unsigned(),
            ..OpenOptions::default()
        }
    }
}

enum Backing {
    /// The file mapped in place (`OpenOptions::map_in_place`), and the content's length.
    Mapped(memmap2::Mmap, usize),
    /// A private, read-only copy of the content in anonymous memory: nothing another process
    /// does to the file reaches it.
    Copied(memmap2::Mmap),
    /// Aligned words and the byte length. A `Vec`, not a `Box`: moving a `Box` asserts unique
    /// access to its contents, which would invalidate the pointers derived at open (Miri's
    /// Stacked Borrows check found it; `tests/mapped_bytes.rs`).
    Owned(Vec<u64>, usize),
}

impl Backing {
    fn bytes(&self) -> &[u8] {
        match self {
            Backing::Mapped(m, len) => &m[..*len],
            Backing::Copied(m) => m,
            Backing::Owned(words, len) => &bytemuck::cast_slice(words)[..*len],
        }
    }
}

/// Read `len` bytes of `file` into a private anonymous mapping, hashing them as they come
/// (on every core for large files: [`super::copy`]). Returns the mapping and the hash.
fn copy_in(
    file: &File,
    len: usize,
    hash: bool,
) -> std::io::Result<(memmap2::Mmap, Option<[u8; 32]>)> {
    let mut map = memmap2::MmapOptions::new().len(len.max(1)).map_anon()?;
    #[cfg(target_os = "linux")]
    {
        // Huge pages for fewer TLB misses while looking up (a filter or table word a card reads
        // is a TLB miss with 4 KiB pages once the tables outgrow the TLB's reach: one at a time
        // from 14 to 19 M/s, batched from 61 to 86 M/s at 10 M cards here), asked for before
        // filling so that the pages are huge from the first fault. The kernel may compact memory
        // for them first: an open can then take several times longer (measured 36-40 ms once
        // memory is compacted, 220 ms the first time, for a 158 MB file).
        let _ = map.advise(memmap2::Advice::HugePage);
    }
    let hash = super::copy::read_hashed(file, &mut map[..len], hash, super::copy::copy_threads())?;
    let map = map.make_read_only()?;
    Ok((map, hash))
}

/// An open snapshot: the immutable card table and, for the police profile, the blacklist.
/// `Send + Sync`; share it between threads through an `Arc` (the [`super::Verifier`] does).
pub struct Snapshot {
    backing: Backing,
    info: SnapshotInfo,
    path: String,
    cards: (usize, usize),
    /// The card table as words: points into `backing`, derived once at open (the hot path does
    /// not re-slice and re-check alignment on every lookup).
    card_words: std::ptr::NonNull<u64>,
    card_words_len: usize,
    /// The filter's words, when the snapshot has a (version 3) filter (same ownership as
    /// `card_words`).
    filter_words: Option<(std::ptr::NonNull<u64>, usize)>,
    filter_seed: u64,
    hasher: WordHasher,
    card_buckets: u64,
    blacklist: Option<(usize, usize)>,
    blacklist_buckets: u64,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("path", &self.path)
            .field("info", &self.info)
            .finish()
    }
}

// SAFETY: the only non-Send/Sync field is `card_words`, a pointer into the immutable bytes owned
// by `backing` (a read-only mapping or a boxed slice); sharing it between threads is sharing
// `&[u64]`.
unsafe impl Send for Snapshot {}
unsafe impl Sync for Snapshot {}

/// Status bits as stored → status. Bits outside 1..=4 only occur in a damaged file opened without
/// verification; they answer `invalidated` so a damaged entry never reads as a valid card.
const STATUS_OF_BITS: [CardStatus; 8] = [
    CardStatus::Invalidated,
    CardStatus::Lost,
    CardStatus::Stolen,
    CardStatus::Superseded,
    CardStatus::Invalidated,
    CardStatus::Invalidated,
    CardStatus::Invalidated,
    CardStatus::Invalidated,
];

#[inline(always)]
pub(crate) fn status_of_payload(p: u64) -> CardStatus {
    STATUS_OF_BITS[payload_status(p) as usize]
}

impl Snapshot {
    /// Open a snapshot file: its signature checked against a trust file (see
    /// [`OpenOptions`]; the default options require one).
    pub fn open(path: impl AsRef<Path>, options: &OpenOptions) -> Result<Snapshot, IndexError> {
        Self::open_with(path, options)
    }

    /// Open with options (see [`OpenOptions`]). In order: the header's magic and version, the
    /// signature block at the end of the file (the signer against the trust file, the
    /// signature over the content's length and hash), then the content is read into private
    /// memory while it is hashed, and only then parsed.
    pub fn open_with(
        path: impl AsRef<Path>,
        options: &OpenOptions,
    ) -> Result<Snapshot, IndexError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let io = |e| IndexError::io(path, e);
        let file = File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        // Read the header with pread first: a short or foreign file is never read further.
        let mut head = vec![0u8; (len as usize).min(HEADER_SIZE)];
        file.read_exact_at(&mut head, 0).map_err(io)?;
        if len < HEADER_SIZE as u64 {
            // decode_header reports the precise problem (magic, version, truncation).
            decode_header(&name, &head)?;
        }
        // A foreign file or another version says so before anything about signatures.
        check_magic_and_version(&name, &head)?;
        let tail_len = (len as usize).min(MAX_TAIL);
        let mut tail = vec![0u8; tail_len];
        file.read_exact_at(&mut tail, len - tail_len as u64)
            .map_err(io)?;
        let block = Block::parse_tail(&tail, len).map_err(|source| IndexError::Trust {
            path: name.clone(),
            source,
        })?;
        let (signature, expected) =
            options
                .signatures
                .check(FileKind::Snapshot, block.as_ref(), &name)?;
        let content_len = block.as_ref().map_or(len as usize, |b| b.content_len);
        let mut hasher = expected.map(|_| blake3::Hasher::new());
        let mut copied_hash = None;
        let backing = if options.map_in_place {
            let mut mmap_options = memmap2::MmapOptions::new();
            if options.populate {
                mmap_options.populate();
            }
            // SAFETY: the mapping is read-only. `map_in_place` is documented as for files no
            // other process writes; lookups stay bounds-checked whatever the bytes are.
            let map = unsafe { mmap_options.map(&file) }.map_err(io)?;
            #[cfg(target_os = "linux")]
            {
                // Hints only: huge folios for the tables, no read-ahead around random lookups.
                let _ = map.advise(memmap2::Advice::HugePage);
            }
            if let Some(h) = hasher.as_mut() {
                h.update(&map[..content_len]);
            }
            Backing::Mapped(map, content_len)
        } else {
            let (map, hash) = copy_in(&file, content_len, hasher.take().is_some()).map_err(io)?;
            copied_hash = hash;
            Backing::Copied(map)
        };
        let got = hasher.map(|h| *h.finalize().as_bytes()).or(copied_hash);
        if let (Some(got), Some(want)) = (got, expected)
            && got != want
        {
            return Err(IndexError::Trust {
                path: name,
                source: crate::trust::TrustError::HashMismatch,
            });
        }
        let verify = options.verify_checksums && !signature.is_verified();
        let mut snapshot = Self::from_backing(backing, name, verify)?;
        snapshot.info.signature = signature;
        Ok(snapshot)
    }

    /// The header facts of a snapshot file this process trusts (its own publication), read in
    /// O(1): the file is mapped, not copied, its signature and checksums not checked.
    pub fn read_info(path: impl AsRef<Path>) -> Result<SnapshotInfo, IndexError> {
        let options = OpenOptions {
            verify_checksums: false,
            map_in_place: true,
            ..OpenOptions::unsigned()
        };
        Ok(Self::open_with(path, &options)?.info().clone())
    }

    /// Open a snapshot held in memory (copied into aligned memory) under `options`' signature
    /// policy (`map_in_place` does not apply).
    pub fn from_bytes_with(bytes: &[u8], options: &OpenOptions) -> Result<Snapshot, IndexError> {
        let name = "<memory>".to_string();
        let block =
            crate::trust::signed::Block::parse(bytes).map_err(|source| IndexError::Trust {
                path: name.clone(),
                source,
            })?;
        let (signature, expected) =
            options
                .signatures
                .check(FileKind::Snapshot, block.as_ref(), &name)?;
        let content = &bytes[..block.as_ref().map_or(bytes.len(), |b| b.content_len)];
        if let Some(want) = expected
            && blake3::hash(content).as_bytes() != &want
        {
            return Err(IndexError::Trust {
                path: name,
                source: crate::trust::TrustError::HashMismatch,
            });
        }
        let mut words = vec![0u64; content.len().div_ceil(8)];
        bytemuck::cast_slice_mut::<u64, u8>(&mut words)[..content.len()].copy_from_slice(content);
        let verify = options.verify_checksums && !signature.is_verified();
        let mut snapshot = Self::from_backing(Backing::Owned(words, content.len()), name, verify)?;
        snapshot.info.signature = signature;
        Ok(snapshot)
    }

    /// Open an unsigned snapshot held in memory. Fully verified.
    pub fn from_bytes(bytes: &[u8]) -> Result<Snapshot, IndexError> {
        Self::from_bytes_with(bytes, &OpenOptions::unsigned())
    }

    fn from_backing(
        backing: Backing,
        path: String,
        verify_checksums: bool,
    ) -> Result<Snapshot, IndexError> {
        let mut info = decode_header(&path, backing.bytes())?;
        let range = |kind: &str| {
            info.section(kind)
                .map(|s| (s.offset as usize, s.length as usize, s.hash_buckets))
        };
        let (co, cl, cb) = range("cards").expect("decode_header requires a card table");
        let bl = range("blacklist");
        let words: &[u64] =
            bytemuck::try_cast_slice(&backing.bytes()[co..co + cl]).map_err(|_| {
                IndexError::Corrupt {
                    path: path.clone(),
                    kind: "card table",
                    offset: co as u64,
                    what: "the card table is not 8-byte aligned in memory".into(),
                }
            })?;
        // From the whole slice (not its first element), so the pointer may read all of it.
        let (card_words, card_words_len) = (
            std::ptr::NonNull::new(words.as_ptr().cast_mut()).expect("a slice pointer"),
            words.len(),
        );
        // A version 1-2 filter ("filter-v2") is checked with the header but not used.
        let filter_words = match range("filter") {
            Some((fo, fl, _)) => {
                let words: &[u64] = bytemuck::try_cast_slice(&backing.bytes()[fo..fo + fl])
                    .map_err(|_| IndexError::Corrupt {
                        path: path.clone(),
                        kind: "filter",
                        offset: fo as u64,
                        what: "the filter is not 8-byte aligned in memory".into(),
                    })?;
                Some((
                    std::ptr::NonNull::new(words.as_ptr().cast_mut()).expect("a slice pointer"),
                    words.len(),
                ))
            }
            None => None,
        };
        let mut snapshot = Snapshot {
            hasher: WordHasher::new(info.hash_seed),
            filter_words,
            filter_seed: super::filter::filter_seed(info.hash_seed),
            card_words,
            card_words_len,
            cards: (co, cl),
            card_buckets: cb,
            blacklist: bl.map(|(o, l, _)| (o, l)),
            blacklist_buckets: bl.map_or(0, |(_, _, b)| b),
            backing,
            info: info.clone(),
            path,
        };
        snapshot.check_terminators()?;
        if verify_checksums {
            snapshot.verify()?;
            for s in &mut info.sections {
                s.checksum_verified = Some(true);
            }
        }
        snapshot.info = info;
        Ok(snapshot)
    }

    fn corrupt(&self, kind: &'static str, offset: usize, what: String) -> IndexError {
        IndexError::Corrupt {
            path: self.path.clone(),
            kind,
            offset: offset as u64,
            what,
        }
    }

    /// The last bucket of each table must hold an empty slot, so every scan ends inside it.
    fn check_terminators(&self) -> Result<(), IndexError> {
        let cards = self.card_slots();
        if cards[cards.len() - 1] != 0 {
            return Err(self.corrupt(
                "card table",
                self.cards.0 + self.cards.1 - 64,
                "the last slot of the table is not empty".into(),
            ));
        }
        if let Some(bl) = self.blacklist_slots() {
            let last = &bl[bl.len() - BLACKLIST_SLOTS..];
            if !last.iter().any(|s| s[0] == 0) {
                let (o, l) = self.blacklist.expect("slots exist");
                return Err(self.corrupt(
                    "blacklist",
                    o + l - 64,
                    "the last bucket has no empty slot".into(),
                ));
            }
        }
        Ok(())
    }

    /// Verify every section's checksum, and that every slot decodes. Runs at open unless
    /// [`OpenOptions::verify_checksums`] is off.
    pub fn verify(&self) -> Result<(), IndexError> {
        let bytes = self.backing.bytes();
        for s in &self.info.sections {
            let data = &bytes[s.offset as usize..(s.offset + s.length) as usize];
            let actual = xxh3_64(data);
            if actual != s.checksum {
                return Err(self.corrupt(
                    match s.kind {
                        "cards" => "card table",
                        "filter" | "filter-v2" => "filter",
                        _ => "blacklist",
                    },
                    s.offset as usize,
                    format!(
                        "section checksum {actual:016x} does not match the header's {:016x}",
                        s.checksum
                    ),
                ));
            }
        }
        // Slot contents: statuses in range, buckets filled from the start, counts as in the
        // header.
        let mut count = 0u64;
        for (i, &s) in self.card_slots().iter().enumerate() {
            let s = u64::from_le(s);
            if s != 0 && i % CARD_SLOTS != 0 && self.card_slots()[i - 1] == 0 {
                return Err(self.corrupt(
                    "card table",
                    self.cards.0 + i * 8,
                    "occupied slot after an empty one in its bucket".into(),
                ));
            }
            if s != 0 {
                count += 1;
                if decode_card_payload(s).is_none() {
                    return Err(self.corrupt(
                        "card table",
                        self.cards.0 + i * 8,
                        format!("slot has invalid status bits {}", payload_status(s)),
                    ));
                }
            }
        }
        if count != self.info.card_count {
            return Err(self.corrupt(
                "card table",
                self.cards.0,
                format!(
                    "{count} occupied slots, header says {}",
                    self.info.card_count
                ),
            ));
        }
        if let Some(bl) = self.blacklist_slots() {
            let mut count = 0u64;
            for (i, s) in bl.iter().enumerate() {
                if u64::from_le(s[0]) != 0 {
                    count += 1;
                    if decode_blacklist_value(u64::from_le(s[1])).is_none() {
                        return Err(self.corrupt(
                            "blacklist",
                            self.blacklist.expect("slots exist").0 + i * 16,
                            "slot has an invalid value".into(),
                        ));
                    }
                }
            }
            if count != self.info.blacklist_count {
                return Err(self.corrupt(
                    "blacklist",
                    self.blacklist.expect("slots exist").0,
                    format!(
                        "{count} occupied slots, header says {}",
                        self.info.blacklist_count
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The header facts.
    pub fn info(&self) -> &SnapshotInfo {
        &self.info
    }

    /// The path the snapshot was opened from.
    pub fn path(&self) -> &str {
        &self.path
    }

    #[inline(always)]
    pub(crate) fn card_slots(&self) -> &[u64] {
        // SAFETY: `card_words` points at `card_words_len` aligned words inside `backing`, which
        // lives as long as `self`, never moves its bytes (a mapping or a boxed slice) and is
        // never written: the slice is valid for the lifetime of `&self`.
        unsafe { std::slice::from_raw_parts(self.card_words.as_ptr(), self.card_words_len) }
    }

    /// The card filter, if the snapshot has a (version 3) filter.
    #[inline(always)]
    pub(crate) fn filter(&self) -> Option<super::filter::Filter<'_>> {
        // SAFETY: as for `card_slots`: a pointer into the immutable `backing`, derived at open.
        self.filter_words.and_then(|(p, n)| {
            super::filter::Filter::new(
                unsafe { std::slice::from_raw_parts(p.as_ptr(), n) },
                self.filter_seed,
            )
        })
    }

    pub(crate) fn blacklist_slots(&self) -> Option<&[[u64; 2]]> {
        let (o, l) = self.blacklist?;
        Some(bytemuck::cast_slice(&self.backing.bytes()[o..o + l]))
    }

    /// The card hash of a key under this snapshot's seed.
    #[inline(always)]
    pub(crate) fn card_hash(&self, key: CardKey) -> u64 {
        self.hasher.hash(key.to_u64())
    }

    /// The blacklist hash of a number under this snapshot's seed.
    #[inline(always)]
    pub(crate) fn blacklist_hash(&self, number: IdNumber) -> u64 {
        blacklist_hash(number.to_u64(), self.info.hash_seed)
    }

    /// The stored slot for a card hash.
    #[inline(always)]
    pub(crate) fn card_slot(&self, slots: &[u64], h: u64) -> Option<u64> {
        find_card(slots, self.card_buckets, h)
    }

    /// [`Snapshot::card_slot`] with AVX2.
    ///
    /// # Safety
    /// The CPU must support AVX2 ([`super::hash::have_avx2`]).
    #[cfg(all(target_arch = "x86_64", target_endian = "little", not(miri)))]
    #[inline(always)]
    pub(crate) unsafe fn card_slot_avx2(&self, slots: &[u64], h: u64) -> Option<u64> {
        // SAFETY: the caller guarantees AVX2.
        unsafe { super::hash::find_card_avx2(slots, self.card_buckets, h) }
    }

    /// Prefetch the home bucket of a card hash.
    #[inline(always)]
    pub(crate) fn prefetch_card(&self, slots: &[u64], h: u64) {
        let b = home_bucket(h, self.card_buckets) * CARD_SLOTS;
        if let Some(s) = slots.get(b) {
            prefetch(s as *const u64);
        }
    }

    /// The entry of a listed card; `None` when the card is not listed (valid).
    pub fn card(&self, key: CardKey) -> Option<CardEntry> {
        self.card_slot(self.card_slots(), self.card_hash(key))
            .and_then(decode_card_payload)
    }

    /// The status of a card from this snapshot alone: `Valid` when not listed.
    #[inline]
    pub fn status(&self, key: CardKey) -> CardStatus {
        if let Some(f) = self.filter()
            && !f.may_contain(key.to_u64())
        {
            return CardStatus::Valid;
        }
        match self.card_slot(self.card_slots(), self.card_hash(key)) {
            Some(s) => status_of_payload(s),
            None => CardStatus::Valid,
        }
    }

    /// The raw blacklist value for a hash (presence bit set), if listed.
    pub(crate) fn blacklist_value(&self, h: u64) -> Result<Option<u64>, IndexError> {
        let slots = self.blacklist_slots().ok_or(IndexError::NoBlacklist {
            profile: self.info.profile,
        })?;
        Ok(find_blacklist(slots, self.blacklist_buckets, h))
    }

    /// A person's blacklist entry from this snapshot alone. Bank snapshots carry no blacklist:
    /// [`IndexError::NoBlacklist`].
    pub fn blacklist(&self, number: IdNumber) -> Result<Option<BlacklistEntry>, IndexError> {
        Ok(self
            .blacklist_value(self.blacklist_hash(number))?
            .and_then(decode_blacklist_value))
    }
}
