//! The snapshot header: layout constants, encoding and checked decoding (`docs/FORMAT.md` §4).

use chrono::{DateTime, Utc};
use xxhash_rust::xxh3::xxh3_64;

use super::hash::{BLACKLIST_SLOTS, CARD_SLOTS};
use super::{IndexError, Profile};

/// Magic bytes at offset 0 of a snapshot.
pub(crate) const MAGIC: [u8; 8] = *b"IDCSNAP\0";
/// The snapshot format version this library writes. Version 3 replaces the card filter with one
/// a card checked on its own tests in one word (docs/FORMAT.md §4.4); version 2 files may end
/// with a signature block after the content the header describes (§11); versions 1 (never signed)
/// and 2 are still read, their split-block filter left unused (the card table answers alone).
pub const FORMAT_VERSION: u32 = 3;
/// The oldest snapshot format version this library reads.
pub const OLDEST_FORMAT_VERSION: u32 = 1;
/// Size of the header.
pub(crate) const HEADER_SIZE: usize = 256;
const SECTIONS_AT: usize = 80;
const SECTION_SIZE: usize = 48;
const MAX_SECTIONS: usize = 3;
const CHECKSUM_AT: usize = 248;
/// Every section offset is a multiple of this (a cache line).
pub(crate) const SECTION_ALIGN: u64 = 64;
/// Large sections start on a 2 MiB boundary so the kernel can map them with huge folios.
pub(crate) const LARGE_SECTION_ALIGN: u64 = 2 << 20;
pub(crate) const BUCKET_BYTES: u64 = 64;

/// Section kinds.
pub(crate) const KIND_CARDS: u32 = 1;
pub(crate) const KIND_BLACKLIST: u32 = 2;
/// The split-block Bloom filter of versions 1 and 2 (read, not used).
pub(crate) const KIND_FILTER_V2: u32 = 3;
/// The register-blocked filter of version 3.
pub(crate) const KIND_FILTER: u32 = 4;

/// One section of a snapshot, as described by its header.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SectionInfo {
    /// `cards`, `blacklist` or `filter` (`filter-v2`: the split-block filter of format versions
    /// 1 and 2, read and checked but not used).
    pub kind: &'static str,
    /// Byte offset in the file.
    pub offset: u64,
    /// Length in bytes.
    pub length: u64,
    /// Size of one slot in bytes.
    pub slot_size: u32,
    /// Number of home buckets the hash ranges over (for the filter: its 64-bit words; for a
    /// version 1-2 filter, its 32-byte blocks).
    pub hash_buckets: u64,
    /// Number of entries.
    pub entries: u64,
    /// xxh3-64 of the section's bytes.
    pub checksum: u64,
    /// `Some(true)` when the checksum was verified at open, `None` when the check was skipped.
    pub checksum_verified: Option<bool>,
}

/// The facts in a snapshot's header.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SnapshotInfo {
    /// Format version.
    pub format_version: u32,
    /// Bank or police.
    pub profile: Profile,
    /// Identity of the snapshot (deltas name it): xxh3-64 of the header after this field.
    pub snapshot_id: u64,
    /// The time of the record the snapshot reflects.
    pub as_of: DateTime<Utc>,
    /// The journal sequence number the snapshot reflects (deltas continue from it).
    pub journal_seq: u64,
    /// The seed of the keyed fingerprints.
    pub hash_seed: u64,
    /// Length of the content the header describes, in bytes (a signed file's signature block
    /// follows it).
    pub file_length: u64,
    /// Number of listed cards.
    pub card_count: u64,
    /// Number of blacklisted people (0 for the bank profile).
    pub blacklist_count: u64,
    /// The sections.
    pub sections: Vec<SectionInfo>,
    /// Whether and by whom the file is signed, as checked at open.
    pub signature: super::Signature,
}

impl SnapshotInfo {
    /// Bytes of the card table per listed card.
    /// Bytes of the card table and its filter per listed card.
    pub fn bytes_per_card(&self) -> f64 {
        let bytes: u64 = self
            .sections
            .iter()
            .filter(|s| s.kind != "blacklist")
            .map(|s| s.length)
            .sum();
        if self.card_count > 0 {
            bytes as f64 / self.card_count as f64
        } else {
            0.0
        }
    }

    pub(crate) fn section(&self, kind: &str) -> Option<&SectionInfo> {
        self.sections.iter().find(|s| s.kind == kind)
    }
}

fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

fn get_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn get_u64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

fn kind_code(kind: &str) -> u32 {
    match kind {
        "cards" => KIND_CARDS,
        "blacklist" => KIND_BLACKLIST,
        "filter-v2" => KIND_FILTER_V2,
        _ => KIND_FILTER,
    }
}

/// Encode a header; fills in `snapshot_id` and returns the bytes.
pub(crate) fn encode_header(info: &mut SnapshotInfo) -> [u8; HEADER_SIZE] {
    let mut b = [0u8; HEADER_SIZE];
    b[0..8].copy_from_slice(&MAGIC);
    put_u32(&mut b, 8, info.format_version);
    put_u32(&mut b, 12, HEADER_SIZE as u32);
    b[16] = info.profile as u8;
    put_u32(&mut b, 20, info.sections.len() as u32);
    put_u64(&mut b, 32, info.as_of.timestamp() as u64);
    put_u64(&mut b, 40, info.journal_seq);
    put_u64(&mut b, 48, info.hash_seed);
    put_u64(&mut b, 56, info.file_length);
    put_u64(&mut b, 64, info.card_count);
    put_u64(&mut b, 72, info.blacklist_count);
    for (i, s) in info.sections.iter().enumerate() {
        let at = SECTIONS_AT + i * SECTION_SIZE;
        put_u32(&mut b, at, kind_code(s.kind));
        put_u32(&mut b, at + 4, s.slot_size);
        put_u64(&mut b, at + 8, s.offset);
        put_u64(&mut b, at + 16, s.length);
        put_u64(&mut b, at + 24, s.hash_buckets);
        put_u64(&mut b, at + 32, s.entries);
        put_u64(&mut b, at + 40, s.checksum);
    }
    info.snapshot_id = xxh3_64(&b[32..CHECKSUM_AT]);
    put_u64(&mut b, 24, info.snapshot_id);
    let sum = xxh3_64(&b[..CHECKSUM_AT]);
    put_u64(&mut b, CHECKSUM_AT, sum);
    b
}

/// For the fuzz targets: recompute a mutated snapshot's section checksums (where the section
/// lies within the bytes), its snapshot id and its header checksum, so that the fuzzer reaches
/// the checks behind them.
#[cfg(fuzzing)]
pub(crate) fn reseal(bytes: &mut [u8]) {
    if bytes.len() < HEADER_SIZE {
        return;
    }
    let n = (get_u32(bytes, 20) as usize).min(MAX_SECTIONS);
    for i in 0..n {
        let at = SECTIONS_AT + i * SECTION_SIZE;
        let (offset, length) = (get_u64(bytes, at + 8), get_u64(bytes, at + 16));
        if let Some(end) = offset.checked_add(length)
            && end <= bytes.len() as u64
        {
            let sum = xxh3_64(&bytes[offset as usize..end as usize]);
            put_u64(bytes, at + 40, sum);
        }
    }
    let id = xxh3_64(&bytes[32..CHECKSUM_AT]);
    put_u64(bytes, 24, id);
    let sum = xxh3_64(&bytes[..CHECKSUM_AT]);
    put_u64(bytes, CHECKSUM_AT, sum);
}

/// The first check of a file that should be a snapshot: its magic and format version.
pub(crate) fn check_magic_and_version(path: &str, bytes: &[u8]) -> Result<(), IndexError> {
    if bytes.len() < 8 || bytes[0..8] != MAGIC {
        return Err(IndexError::BadMagic {
            path: path.to_string(),
            kind: "snapshot",
            found: bytes[..bytes.len().min(8)].to_vec(),
        });
    }
    if bytes.len() >= 12 {
        let version = get_u32(bytes, 8);
        if !(OLDEST_FORMAT_VERSION..=FORMAT_VERSION).contains(&version) {
            return Err(IndexError::UnsupportedVersion {
                path: path.to_string(),
                kind: "snapshot",
                found: version,
                supported: FORMAT_VERSION,
            });
        }
    }
    Ok(())
}

/// Decode and check a header against the file length. Nothing is trusted: every field is
/// checked before use, and errors name the byte offset of the field.
pub(crate) fn decode_header(path: &str, bytes: &[u8]) -> Result<SnapshotInfo, IndexError> {
    let corrupt = |offset: usize, what: String| IndexError::Corrupt {
        path: path.to_string(),
        kind: "snapshot header",
        offset: offset as u64,
        what,
    };
    if bytes.len() < 8 || bytes[0..8] != MAGIC {
        return Err(IndexError::BadMagic {
            path: path.to_string(),
            kind: "snapshot",
            found: bytes[..bytes.len().min(8)].to_vec(),
        });
    }
    if bytes.len() < 16 {
        return Err(corrupt(
            bytes.len(),
            format!(
                "file is {} bytes, shorter than the {HEADER_SIZE}-byte header",
                bytes.len()
            ),
        ));
    }
    let version = get_u32(bytes, 8);
    if !(OLDEST_FORMAT_VERSION..=FORMAT_VERSION).contains(&version) {
        return Err(IndexError::UnsupportedVersion {
            path: path.to_string(),
            kind: "snapshot",
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    if bytes.len() < HEADER_SIZE {
        return Err(corrupt(
            bytes.len(),
            format!(
                "file is {} bytes, shorter than the {HEADER_SIZE}-byte header",
                bytes.len()
            ),
        ));
    }
    let h = &bytes[..HEADER_SIZE];
    let stored = get_u64(h, CHECKSUM_AT);
    let actual = xxh3_64(&h[..CHECKSUM_AT]);
    if stored != actual {
        return Err(corrupt(
            CHECKSUM_AT,
            format!("header checksum {stored:016x} does not match the header ({actual:016x})"),
        ));
    }
    if get_u32(h, 12) as usize != HEADER_SIZE {
        return Err(corrupt(
            12,
            format!("header size {} is not {HEADER_SIZE}", get_u32(h, 12)),
        ));
    }
    let profile = Profile::from_u8(h[16]).ok_or_else(|| {
        corrupt(
            16,
            format!("profile byte {} is not 1 (bank) or 2 (police)", h[16]),
        )
    })?;
    let section_count = get_u32(h, 20) as usize;
    if section_count == 0 || section_count > MAX_SECTIONS {
        return Err(corrupt(
            20,
            format!("section count {section_count} is not 1..={MAX_SECTIONS}"),
        ));
    }
    let file_length = get_u64(h, 56);
    if file_length != bytes.len() as u64 {
        return Err(corrupt(
            56,
            format!(
                "header says the file is {file_length} bytes; it is {} bytes (truncated or extended)",
                bytes.len()
            ),
        ));
    }
    let as_of_secs = get_u64(h, 32) as i64;
    let as_of = DateTime::<Utc>::from_timestamp(as_of_secs, 0)
        .ok_or_else(|| corrupt(32, format!("as-of time {as_of_secs} is out of range")))?;
    let mut sections = Vec::with_capacity(section_count);
    for i in 0..section_count {
        let at = SECTIONS_AT + i * SECTION_SIZE;
        let kind = match get_u32(h, at) {
            KIND_CARDS => "cards",
            KIND_BLACKLIST => "blacklist",
            KIND_FILTER_V2 if version <= 2 => "filter-v2",
            KIND_FILTER if version >= 3 => "filter",
            k => {
                return Err(corrupt(
                    at,
                    format!("section {i} has kind {k}, unknown in format version {version}"),
                ));
            }
        };
        if sections.iter().any(|s: &SectionInfo| s.kind == kind) {
            return Err(corrupt(at, format!("section {kind} appears twice")));
        }
        let (expected_slot, per_bucket) = match kind {
            "cards" => (8, CARD_SLOTS as u64),
            "blacklist" => (16, BLACKLIST_SLOTS as u64),
            "filter-v2" => (32, 1),
            _ => (8, 1),
        };
        let s = SectionInfo {
            kind,
            slot_size: get_u32(h, at + 4),
            offset: get_u64(h, at + 8),
            length: get_u64(h, at + 16),
            hash_buckets: get_u64(h, at + 24),
            entries: get_u64(h, at + 32),
            checksum: get_u64(h, at + 40),
            checksum_verified: None,
        };
        if s.slot_size != expected_slot {
            return Err(corrupt(
                at + 4,
                format!(
                    "{kind} slot size {} is not {expected_slot} (compiled layout)",
                    s.slot_size
                ),
            ));
        }
        let end = s.offset.checked_add(s.length);
        if s.offset < HEADER_SIZE as u64
            || !s.offset.is_multiple_of(SECTION_ALIGN)
            || end.is_none_or(|e| e > file_length)
        {
            return Err(corrupt(
                at + 8,
                format!(
                    "{kind} section at {}+{} is misaligned or outside the {file_length}-byte file",
                    s.offset, s.length
                ),
            ));
        }
        if s.length == 0 || !s.length.is_multiple_of(BUCKET_BYTES) {
            return Err(corrupt(
                at + 16,
                format!(
                    "{kind} section length {} is not a positive multiple of {BUCKET_BYTES}",
                    s.length
                ),
            ));
        }
        if kind == "filter" || kind == "filter-v2" {
            // Version 3: 64-bit words, a multiple of eight; versions 1-2: 32-byte blocks, even.
            let (unit, multiple) = if kind == "filter" { (8, 8) } else { (32, 2) };
            if s.hash_buckets == 0
                || !s.hash_buckets.is_multiple_of(multiple)
                || s.hash_buckets.checked_mul(unit) != Some(s.length)
            {
                return Err(corrupt(
                    at + 24,
                    format!(
                        "{kind} of {} {unit}-byte units does not fill its {} bytes",
                        s.hash_buckets, s.length
                    ),
                ));
            }
            sections.push(s);
            continue;
        }
        let physical = s.length / BUCKET_BYTES;
        if s.hash_buckets == 0 || s.hash_buckets >= physical {
            return Err(corrupt(
                at + 24,
                format!(
                    "{kind} hash bucket count {} does not fit {physical} buckets (one spare needed)",
                    s.hash_buckets
                ),
            ));
        }
        if s.entries >= physical * per_bucket {
            return Err(corrupt(
                at + 32,
                format!(
                    "{kind} entry count {} does not fit {} slots",
                    s.entries,
                    physical * per_bucket
                ),
            ));
        }
        sections.push(s);
    }
    // Sections must not overlap each other.
    for (i, a) in sections.iter().enumerate() {
        for b in &sections[i + 1..] {
            if a.offset < b.offset + b.length && b.offset < a.offset + a.length {
                return Err(corrupt(
                    SECTIONS_AT,
                    format!("sections {} and {} overlap", a.kind, b.kind),
                ));
            }
        }
    }
    let card_count = get_u64(h, 64);
    let blacklist_count = get_u64(h, 72);
    let cards = sections
        .iter()
        .find(|s| s.kind == "cards")
        .ok_or_else(|| corrupt(SECTIONS_AT, "no card table section".into()))?;
    if cards.entries != card_count {
        return Err(corrupt(
            64,
            format!(
                "card count {card_count} differs from the card table's {}",
                cards.entries
            ),
        ));
    }
    if let Some(f) = sections
        .iter()
        .find(|s| s.kind == "filter" || s.kind == "filter-v2")
        && f.entries != card_count
    {
        return Err(corrupt(
            64,
            format!(
                "card count {card_count} differs from the filter's {}",
                f.entries
            ),
        ));
    }
    match (profile, sections.iter().find(|s| s.kind == "blacklist")) {
        (Profile::Bank, Some(_)) => {
            return Err(corrupt(
                16,
                "a bank profile snapshot carries a blacklist section".into(),
            ));
        }
        (Profile::Police, None) => {
            return Err(corrupt(
                16,
                "a police profile snapshot has no blacklist section".into(),
            ));
        }
        (_, Some(b)) if b.entries != blacklist_count => {
            return Err(corrupt(
                72,
                format!(
                    "blacklist count {blacklist_count} differs from the section's {}",
                    b.entries
                ),
            ));
        }
        (Profile::Bank, None) if blacklist_count != 0 => {
            return Err(corrupt(
                72,
                format!("bank profile with blacklist count {blacklist_count}"),
            ));
        }
        _ => {}
    }
    let unused = SECTIONS_AT + section_count * SECTION_SIZE;
    if let Some(p) = h[unused..CHECKSUM_AT].iter().position(|&x| x != 0) {
        return Err(corrupt(unused + p, "reserved byte is not zero".into()));
    }
    if let Some(p) = h[17..20].iter().position(|&x| x != 0) {
        return Err(corrupt(17 + p, "reserved byte is not zero".into()));
    }
    let snapshot_id = get_u64(h, 24);
    if snapshot_id != xxh3_64(&h[32..CHECKSUM_AT]) {
        return Err(corrupt(24, "snapshot id does not match the header".into()));
    }
    Ok(SnapshotInfo {
        format_version: version,
        profile,
        snapshot_id,
        as_of,
        journal_seq: get_u64(h, 40),
        hash_seed: get_u64(h, 48),
        file_length,
        card_count,
        blacklist_count,
        sections,
        signature: super::Signature::Unsigned,
    })
}
