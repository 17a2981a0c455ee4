//! Timestamps (TUF's word): a small signed file the publisher refreshes with every delta and at
//! least every few minutes when nothing changes, stating "as of T, the newest sequence published
//! on snapshot X is S" (docs/FORMAT.md §5a). A verifier's freshness is the newest valid
//! timestamp it has seen whose sequence it has reached: an attacker who withholds files cannot
//! keep it fresh, and no delta may go past the newest timestamp.

use std::path::Path;

use chrono::{DateTime, Utc};
use xxhash_rust::xxh3::xxh3_64;

use super::{IndexError, Profile, Signature, SignaturePolicy};
use crate::trust::FileKind;
use crate::trust::signed::{Block, Sign};

const MAGIC: [u8; 8] = *b"IDCTIME\0";
const VERSION: u32 = 1;
const SIZE: usize = 48;
/// Largest timestamp file read (a timestamp and its signature block are well under 4 KiB).
pub const MAX_TIMESTAMP_BYTES: u64 = 64 * 1024;

/// A timestamp (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Timestamp {
    /// The profile of the snapshot it speaks of.
    pub profile: Profile,
    /// The snapshot the chain of deltas continues.
    pub snapshot_id: u64,
    /// The newest journal sequence published on that snapshot.
    pub journal_seq: u64,
    /// When the publisher made it.
    pub created_at: DateTime<Utc>,
    /// Whether and by whom it was signed, as checked when it was read.
    pub signature: Signature,
}

impl Timestamp {
    /// A timestamp for the chain on `snapshot_id` (of `profile`) up to `journal_seq`, now.
    pub fn new(
        profile: Profile,
        snapshot_id: u64,
        journal_seq: u64,
        created_at: DateTime<Utc>,
    ) -> Timestamp {
        Timestamp {
            profile,
            snapshot_id,
            journal_seq,
            created_at: DateTime::from_timestamp(created_at.timestamp(), 0).unwrap_or(created_at),
            signature: Signature::Unsigned,
        }
    }

    /// The file's bytes, signed by `signer`.
    pub fn encode_signed(&self, signer: &dyn Sign) -> Result<Vec<u8>, IndexError> {
        let mut b = vec![0u8; SIZE];
        b[..8].copy_from_slice(&MAGIC);
        b[8..12].copy_from_slice(&VERSION.to_le_bytes());
        b[12] = self.profile as u8;
        b[16..24].copy_from_slice(&self.snapshot_id.to_le_bytes());
        b[24..32].copy_from_slice(&self.journal_seq.to_le_bytes());
        b[32..40].copy_from_slice(&self.created_at.timestamp().to_le_bytes());
        let sum = xxh3_64(&b[..40]);
        b[40..48].copy_from_slice(&sum.to_le_bytes());
        crate::trust::signed::append(&mut b, FileKind::Timestamp, signer).map_err(|source| {
            IndexError::Trust {
                path: "<timestamp>".into(),
                source,
            }
        })?;
        Ok(b)
    }

    /// Write atomically to `path`, signed.
    pub fn write(&self, path: impl AsRef<Path>, signer: &dyn Sign) -> Result<(), IndexError> {
        let path = path.as_ref();
        let bytes = self.encode_signed(signer)?;
        crate::fsutil::write_atomically(path, |w| w.write_all(&bytes))
            .map_err(|e| IndexError::io(path, e))
    }

    /// Read and check a timestamp file (at most [`MAX_TIMESTAMP_BYTES`], checked first).
    pub fn read(path: impl AsRef<Path>, policy: &SignaturePolicy) -> Result<Timestamp, IndexError> {
        Self::read_expecting(path.as_ref(), policy, None)
    }

    /// [`Timestamp::read`], the file opened required to be `expect` (device, inode) when given.
    pub(crate) fn read_expecting(
        path: &Path,
        policy: &SignaturePolicy,
        expect: Option<(u64, u64)>,
    ) -> Result<Timestamp, IndexError> {
        let bytes = super::read_bounded(path, "timestamp", MAX_TIMESTAMP_BYTES, expect)?;
        Timestamp::decode(&path.display().to_string(), &bytes, policy)
    }

    /// Check and decode a timestamp file's bytes: the signature first, then the fields.
    pub fn decode(
        name: &str,
        bytes: &[u8],
        policy: &SignaturePolicy,
    ) -> Result<Timestamp, IndexError> {
        let corrupt = |offset: usize, what: String| IndexError::Corrupt {
            path: name.to_string(),
            kind: "timestamp",
            offset: offset as u64,
            what,
        };
        if bytes.len() < 8 || bytes[..8] != MAGIC {
            return Err(IndexError::BadMagic {
                path: name.to_string(),
                kind: "timestamp",
                found: bytes[..bytes.len().min(8)].to_vec(),
            });
        }
        let block = Block::parse(bytes).map_err(|source| IndexError::Trust {
            path: name.to_string(),
            source,
        })?;
        let (signature, expected) = policy.check(FileKind::Timestamp, block.as_ref(), name)?;
        let content = &bytes[..block.as_ref().map_or(bytes.len(), |b| b.content_len)];
        if let Some(want) = expected
            && blake3::hash(content).as_bytes() != &want
        {
            return Err(IndexError::Trust {
                path: name.to_string(),
                source: crate::trust::TrustError::HashMismatch,
            });
        }
        if content.len() != SIZE {
            return Err(corrupt(
                content.len(),
                format!("{} bytes, not {SIZE}", content.len()),
            ));
        }
        let u64_at = |at: usize| u64::from_le_bytes(content[at..at + 8].try_into().expect("8"));
        let version = u32::from_le_bytes(content[8..12].try_into().expect("4"));
        if version != VERSION {
            return Err(IndexError::UnsupportedVersion {
                path: name.to_string(),
                kind: "timestamp",
                found: version,
                supported: VERSION,
            });
        }
        if u64_at(40) != xxh3_64(&content[..40]) {
            return Err(corrupt(40, "checksum mismatch".into()));
        }
        let profile = Profile::from_u8(content[12])
            .ok_or_else(|| corrupt(12, format!("profile byte {}", content[12])))?;
        if content[13..16].iter().any(|&b| b != 0) {
            return Err(corrupt(13, "reserved bytes are not zero".into()));
        }
        let created_at = DateTime::from_timestamp(u64_at(32) as i64, 0)
            .ok_or_else(|| corrupt(32, "time out of range".into()))?;
        Ok(Timestamp {
            profile,
            snapshot_id: u64_at(16),
            journal_seq: u64_at(24),
            created_at,
            signature,
        })
    }
}
