//! Deltas: the changes after a snapshot, as a file of checksummed records (`docs/FORMAT.md` §5).

use std::path::Path;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use super::format::SnapshotInfo;
use super::hash::{
    blacklist_hash, blacklist_value, card_hash, card_payload, decode_blacklist_value,
    decode_card_payload,
};
use super::{BlacklistEntry, CardEntry, IndexError, Profile, SignaturePolicy};
use crate::card::CardKey;
use crate::number::IdNumber;
use crate::trust::FileKind;
use crate::trust::signed::{Block, Sign};

pub(crate) const DELTA_MAGIC: [u8; 8] = *b"IDCDELTA";
/// The delta format version this library writes. Version 2 files may end with a signature
/// block after the records (docs/FORMAT.md §5, §11); version 1 files (never signed) are still
/// read.
pub const DELTA_VERSION: u32 = 2;
const OLDEST_DELTA_VERSION: u32 = 1;
/// Largest delta file a verifier reads by default (checked before reading it).
pub const MAX_DELTA_BYTES: u64 = 256 << 20;
const DELTA_HEADER: usize = 64;
/// Largest record payload accepted (a record is a few dozen bytes).
const MAX_RECORD: u32 = 1024;

/// One change. Keys are the keyed hashes of the base snapshot (no identity numbers, S2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeltaOp {
    /// A card becomes listed (or its entry changes): hash, 24-bit payload.
    SetCard {
        /// Keyed hash of the card key.
        h: u64,
        /// Status, reason and date (the snapshot slot's payload bits).
        payload: u32,
    },
    /// A card is no longer listed (e.g. a lost card recovered, F2): it answers valid.
    ClearCard {
        /// Keyed hash of the card key.
        h: u64,
    },
    /// A person is blacklisted (or their entry changes).
    SetBlacklist {
        /// Keyed hash of the number.
        h: u64,
        /// Reasons, date, source (the snapshot slot's value).
        value: u64,
    },
    /// A person is removed from the blacklist.
    ClearBlacklist {
        /// Keyed hash of the number.
        h: u64,
    },
}

impl DeltaOp {
    fn check(&self) -> Result<(), String> {
        match *self {
            DeltaOp::SetCard { h, payload } => {
                if h == 0 {
                    return Err("zero hash".into());
                }
                if payload >> 24 != 0 || decode_card_payload(payload as u64).is_none() {
                    return Err(format!("card payload {payload:#x} is not a listed status"));
                }
            }
            DeltaOp::SetBlacklist { h, value } => {
                if h == 0 {
                    return Err("zero hash".into());
                }
                if decode_blacklist_value(value).is_none_or(|e| e.reasons.is_empty()) {
                    return Err(format!("blacklist value {value:#x} is invalid"));
                }
            }
            DeltaOp::ClearCard { h } | DeltaOp::ClearBlacklist { h } => {
                if h == 0 {
                    return Err("zero hash".into());
                }
            }
        }
        Ok(())
    }

    /// Whether it changes the blacklist (not a card).
    pub fn is_blacklist(&self) -> bool {
        matches!(
            self,
            DeltaOp::SetBlacklist { .. } | DeltaOp::ClearBlacklist { .. }
        )
    }
}

/// A parsed, fully checked delta.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delta {
    /// The snapshot it applies to.
    pub base_snapshot_id: u64,
    /// The profile of that snapshot.
    pub profile: Profile,
    /// The journal sequence it starts after (the verifier must be at it).
    pub from_seq: u64,
    /// The journal sequence it brings the verifier to.
    pub to_seq: u64,
    /// When it was made (unix seconds).
    pub created_at: i64,
    /// The changes, in order.
    pub ops: Vec<DeltaOp>,
    /// Whether and by whom the file was signed, as checked when it was read.
    pub signature: super::Signature,
}

/// For the fuzz targets: recompute a mutated delta's header checksum and the checksum of every
/// record whose announced length fits, so that the fuzzer reaches the decoding behind them.
#[cfg(fuzzing)]
pub(crate) fn reseal(bytes: &mut [u8]) {
    if bytes.len() < DELTA_HEADER {
        return;
    }
    let sum = xxh3_64(&bytes[..56]);
    bytes[56..64].copy_from_slice(&sum.to_le_bytes());
    let mut at = DELTA_HEADER;
    while bytes.len() - at >= 12 {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4")) as usize;
        let body = at + 12;
        if len == 0 || len > MAX_RECORD as usize || body + len > bytes.len() {
            return;
        }
        let sum = xxh3_64(&bytes[body..body + len]);
        bytes[at + 4..at + 12].copy_from_slice(&sum.to_le_bytes());
        at = body + len;
    }
}

impl Delta {
    /// Read and check a delta file under a signature policy, reading no more than `max_bytes`
    /// (checked before anything is read): the header first, then the signature block, then the
    /// records (hashed against the signature before they are decoded).
    pub fn read(
        path: impl AsRef<Path>,
        policy: &SignaturePolicy,
        max_bytes: u64,
    ) -> Result<Delta, IndexError> {
        Self::read_expecting(path.as_ref(), policy, max_bytes, None)
    }

    /// [`Delta::read`], the file opened required to be `expect` (device, inode) when given.
    pub(crate) fn read_expecting(
        path: &Path,
        policy: &SignaturePolicy,
        max_bytes: u64,
        expect: Option<(u64, u64)>,
    ) -> Result<Delta, IndexError> {
        let name = path.display().to_string();
        // The header first: a file that is no delta is refused before its body is read.
        let bytes = super::read_bounded_checked(
            path,
            "delta",
            max_bytes,
            expect,
            DELTA_HEADER,
            &|head, len| decode_header(&name, head, len),
        )?;
        Self::decode_file(&name, &bytes, policy)
    }

    /// Check and decode the bytes of a delta file (signature block included) under a
    /// signature policy; `name` is used in errors.
    pub fn decode_file(
        name: &str,
        bytes: &[u8],
        policy: &SignaturePolicy,
    ) -> Result<Delta, IndexError> {
        decode_header(name, bytes, bytes.len())?;
        let block = Block::parse(bytes).map_err(|source| IndexError::Trust {
            path: name.to_string(),
            source,
        })?;
        let (signature, expected) = policy.check(FileKind::Delta, block.as_ref(), name)?;
        let content = &bytes[..block.as_ref().map_or(bytes.len(), |b| b.content_len)];
        if let Some(want) = expected
            && blake3::hash(content).as_bytes() != &want
        {
            return Err(IndexError::Trust {
                path: name.to_string(),
                source: crate::trust::TrustError::HashMismatch,
            });
        }
        let mut delta = Self::decode(name, content)?;
        delta.signature = signature;
        Ok(delta)
    }

    /// Check and decode delta bytes; `name` is used in errors.
    pub fn decode(name: &str, bytes: &[u8]) -> Result<Delta, IndexError> {
        let corrupt = |kind: &'static str, offset: usize, what: String| IndexError::Corrupt {
            path: name.to_string(),
            kind,
            offset: offset as u64,
            what,
        };
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4"));
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8"));
        decode_header(name, bytes, bytes.len())?;
        let profile = Profile::from_u8(bytes[12])
            .ok_or_else(|| corrupt("delta header", 12, format!("profile byte {}", bytes[12])))?;
        if bytes[13..16].iter().any(|&b| b != 0) {
            return Err(corrupt(
                "delta header",
                13,
                "reserved bytes are not zero".into(),
            ));
        }
        let base_snapshot_id = u64_at(16);
        let from_seq = u64_at(24);
        let to_seq = u64_at(32);
        let created_at = u64_at(40) as i64;
        let count = u64_at(48);
        if to_seq < from_seq {
            return Err(corrupt(
                "delta header",
                32,
                format!("to_seq {to_seq} is before from_seq {from_seq}"),
            ));
        }
        // Every record takes at least 13 bytes: bound the count before allocating.
        if count > (bytes.len() / 13) as u64 {
            return Err(corrupt(
                "delta header",
                48,
                format!("record count {count} cannot fit in {} bytes", bytes.len()),
            ));
        }
        let mut ops = Vec::with_capacity(count as usize);
        let mut at = DELTA_HEADER;
        for i in 0..count {
            if bytes.len() - at < 12 {
                return Err(corrupt(
                    "delta record",
                    at,
                    format!("record {i} of {count}: truncated record header"),
                ));
            }
            let len = u32_at(at);
            let sum = u64_at(at + 4);
            if len == 0 || len > MAX_RECORD {
                return Err(corrupt(
                    "delta record",
                    at,
                    format!("record {i}: length {len} is not 1..={MAX_RECORD}"),
                ));
            }
            let body_at = at + 12;
            let Some(body) = bytes.get(body_at..body_at + len as usize) else {
                return Err(corrupt(
                    "delta record",
                    at,
                    format!("record {i} of {count}: truncated ({len} bytes announced)"),
                ));
            };
            if xxh3_64(body) != sum {
                return Err(corrupt(
                    "delta record",
                    at,
                    format!("record {i}: checksum mismatch"),
                ));
            }
            let op: DeltaOp = postcard::from_bytes(body)
                .map_err(|e| corrupt("delta record", body_at, format!("record {i}: {e}")))?;
            op.check()
                .map_err(|e| corrupt("delta record", body_at, format!("record {i}: {e}")))?;
            if profile == Profile::Bank && op.is_blacklist() {
                return Err(corrupt(
                    "delta record",
                    body_at,
                    format!("record {i}: a bank delta carries a blacklist change"),
                ));
            }
            ops.push(op);
            at = body_at + len as usize;
        }
        if at != bytes.len() {
            return Err(corrupt(
                "delta record",
                at,
                format!(
                    "{} bytes after the last of {count} records",
                    bytes.len() - at
                ),
            ));
        }
        Ok(Delta {
            base_snapshot_id,
            profile,
            from_seq,
            to_seq,
            created_at,
            ops,
            signature: super::Signature::Unsigned,
        })
    }

    /// Encode as the bytes of a delta file, signed by `signer` when one is given.
    pub fn encode_signed(&self, signer: Option<&dyn Sign>) -> Result<Vec<u8>, IndexError> {
        let mut bytes = self.encode();
        if let Some(s) = signer {
            crate::trust::signed::append(&mut bytes, FileKind::Delta, s).map_err(|source| {
                IndexError::Trust {
                    path: "<delta>".into(),
                    source,
                }
            })?;
        }
        Ok(bytes)
    }

    /// Encode as the bytes of a delta file (unsigned).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![0u8; DELTA_HEADER];
        out[..8].copy_from_slice(&DELTA_MAGIC);
        out[8..12].copy_from_slice(&DELTA_VERSION.to_le_bytes());
        out[12] = self.profile as u8;
        out[16..24].copy_from_slice(&self.base_snapshot_id.to_le_bytes());
        out[24..32].copy_from_slice(&self.from_seq.to_le_bytes());
        out[32..40].copy_from_slice(&self.to_seq.to_le_bytes());
        out[40..48].copy_from_slice(&self.created_at.to_le_bytes());
        out[48..56].copy_from_slice(&(self.ops.len() as u64).to_le_bytes());
        let sum = xxh3_64(&out[..56]);
        out[56..64].copy_from_slice(&sum.to_le_bytes());
        for op in &self.ops {
            let body = postcard::to_allocvec(op).expect("encoding to memory cannot fail");
            out.extend_from_slice(&(body.len() as u32).to_le_bytes());
            out.extend_from_slice(&xxh3_64(&body).to_le_bytes());
            out.extend_from_slice(&body);
        }
        out
    }

    /// Write atomically to `path`, signed by `signer` when one is given.
    pub fn write(
        &self,
        path: impl AsRef<Path>,
        signer: Option<&dyn Sign>,
    ) -> Result<(), IndexError> {
        let path = path.as_ref();
        let bytes = self.encode_signed(signer)?;
        crate::fsutil::write_atomically(path, |w| w.write_all(&bytes))
            .map_err(|e| IndexError::io(path, e))
    }
}

/// Check a delta's header: magic, version, length, checksum. `file_len` is the whole file's.
fn decode_header(name: &str, bytes: &[u8], file_len: usize) -> Result<(), IndexError> {
    let corrupt = |offset: usize, what: String| IndexError::Corrupt {
        path: name.to_string(),
        kind: "delta header",
        offset: offset as u64,
        what,
    };
    if bytes.len() < 8 || bytes[..8] != DELTA_MAGIC {
        return Err(IndexError::BadMagic {
            path: name.to_string(),
            kind: "delta",
            found: bytes[..bytes.len().min(8)].to_vec(),
        });
    }
    if bytes.len() < 12 {
        return Err(corrupt(bytes.len(), "truncated header".into()));
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4"));
    if !(OLDEST_DELTA_VERSION..=DELTA_VERSION).contains(&version) {
        return Err(IndexError::UnsupportedVersion {
            path: name.to_string(),
            kind: "delta",
            found: version,
            supported: DELTA_VERSION,
        });
    }
    if bytes.len() < DELTA_HEADER || file_len < DELTA_HEADER {
        return Err(corrupt(
            bytes.len(),
            format!(
                "file is {} bytes, shorter than the {DELTA_HEADER}-byte header",
                file_len.min(bytes.len())
            ),
        ));
    }
    let sum = u64::from_le_bytes(bytes[56..64].try_into().expect("8"));
    if sum != xxh3_64(&bytes[..56]) {
        return Err(corrupt(56, "header checksum mismatch".into()));
    }
    Ok(())
}

/// The header fields a verifier sorts and screens a folder of deltas by, read from the first
/// 64 bytes alone: base snapshot id, from, to.
pub(crate) fn peek_header(
    name: &str,
    head: &[u8],
    file_len: usize,
) -> Result<(u64, u64, u64), IndexError> {
    decode_header(name, head, file_len)?;
    let u64_at = |at: usize| u64::from_le_bytes(head[at..at + 8].try_into().expect("8"));
    Ok((u64_at(16), u64_at(24), u64_at(32)))
}

/// Builds a delta for a given snapshot: keys are hashed with that snapshot's seed.
///
/// ```
/// # use idcard::index::*;
/// # use idcard::{CardKey, IdNumber};
/// # let dir = tempfile::tempdir()?;
/// # let n: IdNumber = "11010519491231002X".parse()?;
/// # let key = CardKey::new(n, chrono::NaiveDate::from_ymd_opt(2005, 6, 1).unwrap())?;
/// let mut b = SnapshotBuilder::new(Profile::Bank);
/// b.journal_seq(10);
/// let info = b.write(dir.path().join("s.idcs"))?;
/// let v = Verifier::open_with(dir.path().join("s.idcs"), VerifierOptions::unsigned())?;
///
/// let mut d = DeltaBuilder::new(&info, 10, 11);
/// d.set_card(key, CardEntry::new(CardStatus::Stolen));
/// d.build().write(dir.path().join("d1.idcd"), None)?;
/// v.apply_delta_file(dir.path().join("d1.idcd"))?;
/// assert_eq!(v.verify(key), CardStatus::Stolen);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct DeltaBuilder {
    seed: u64,
    delta: Delta,
}

impl DeltaBuilder {
    /// A delta on `base` from journal sequence `from_seq` to `to_seq`.
    pub fn new(base: &SnapshotInfo, from_seq: u64, to_seq: u64) -> DeltaBuilder {
        DeltaBuilder {
            seed: base.hash_seed,
            delta: Delta {
                base_snapshot_id: base.snapshot_id,
                profile: base.profile,
                from_seq,
                to_seq,
                created_at: chrono::Utc::now().timestamp(),
                ops: Vec::new(),
                signature: super::Signature::Unsigned,
            },
        }
    }

    /// List a card or change its entry. Valid, stale and invalid statuses are not listable:
    /// use [`DeltaBuilder::clear_card`] for a card that is valid again.
    pub fn set_card(&mut self, key: CardKey, entry: CardEntry) -> Result<&mut Self, IndexError> {
        if !entry.status.is_listable() {
            return Err(IndexError::InvalidInput(format!(
                "status {} cannot be listed; clear the card instead",
                entry.status
            )));
        }
        let entry = self.delta.profile.least_data(entry);
        self.delta.ops.push(DeltaOp::SetCard {
            h: card_hash(key.to_u64(), self.seed),
            payload: card_payload(&entry) as u32,
        });
        Ok(self)
    }

    /// The card answers valid again.
    pub fn clear_card(&mut self, key: CardKey) -> &mut Self {
        self.delta.ops.push(DeltaOp::ClearCard {
            h: card_hash(key.to_u64(), self.seed),
        });
        self
    }

    /// Blacklist a person (police profile only).
    pub fn set_blacklist(
        &mut self,
        number: IdNumber,
        entry: BlacklistEntry,
    ) -> Result<&mut Self, IndexError> {
        self.check_police()?;
        if entry.reasons.is_empty() {
            return Err(IndexError::InvalidInput(
                "blacklist entry without a reason".into(),
            ));
        }
        self.delta.ops.push(DeltaOp::SetBlacklist {
            h: blacklist_hash(number.to_u64(), self.seed),
            value: blacklist_value(&entry),
        });
        Ok(self)
    }

    /// Remove a person from the blacklist (police profile only).
    pub fn clear_blacklist(&mut self, number: IdNumber) -> Result<&mut Self, IndexError> {
        self.check_police()?;
        self.delta.ops.push(DeltaOp::ClearBlacklist {
            h: blacklist_hash(number.to_u64(), self.seed),
        });
        Ok(self)
    }

    fn check_police(&self) -> Result<(), IndexError> {
        if self.delta.profile != Profile::Police {
            return Err(IndexError::NoBlacklist {
                profile: self.delta.profile,
            });
        }
        Ok(())
    }

    /// Set the creation time (unix seconds; default now).
    pub fn created_at(&mut self, unix_seconds: i64) -> &mut Self {
        self.delta.created_at = unix_seconds;
        self
    }

    /// Number of changes so far.
    pub fn len(&self) -> usize {
        self.delta.ops.len()
    }

    /// No changes yet.
    pub fn is_empty(&self) -> bool {
        self.delta.ops.is_empty()
    }

    /// The finished delta.
    pub fn build(self) -> Delta {
        self.delta
    }
}
