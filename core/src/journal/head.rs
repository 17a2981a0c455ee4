//! Signed journal heads (docs/FORMAT.md §7a): "as of T, the journal holds N records and its
//! chain hash after record N is H", signed by a key the platform's root certified for the
//! `journal_head` role, as Certificate Transparency logs sign their tree heads. Anyone holding
//! a head can hold the record to its past: a journal rewritten after the head was published no
//! longer has that chain hash at that sequence.

use std::path::Path;

use chrono::{DateTime, Utc};
use xxhash_rust::xxh3::xxh3_64;

use super::Chain;
use crate::trust::signed::{self, Block, Sign};
use crate::trust::{FileKind, SignedBy, TrustError, TrustStore};

const MAGIC: [u8; 8] = *b"IDCHEAD\0";
const VERSION: u32 = 1;
/// The content's length: magic, version, reserved, sequence, time, chain, checksum.
pub const CONTENT_LEN: usize = 8 + 4 + 4 + 8 + 8 + 32 + 8;
/// Largest head file read.
const MAX_BYTES: u64 = 64 * 1024;

/// A journal head.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Head {
    /// Records in the journal (the sequence number of the last one).
    pub seq: u64,
    /// When it was signed.
    pub at: DateTime<Utc>,
    /// The chain hash after record `seq`.
    #[serde(serialize_with = "hex")]
    pub chain: Chain,
}

fn hex<S: serde::Serializer>(c: &Chain, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&super::chain_hex(c))
}

/// Why a head file is not accepted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HeadError {
    /// Reading it failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// Not a head, or damaged.
    #[error("{path}: {what}")]
    Malformed {
        /// The file.
        path: String,
        /// What is wrong.
        what: String,
    },
    /// Its signature is missing, wrong, or by a key not trusted for journal heads.
    #[error("{path}: {source}")]
    Trust {
        /// The file.
        path: String,
        /// Why.
        source: TrustError,
    },
}

impl Head {
    /// The content bytes (before the signature block).
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(CONTENT_LEN);
        b.extend_from_slice(&MAGIC);
        b.extend_from_slice(&VERSION.to_le_bytes());
        b.extend_from_slice(&[0; 4]);
        b.extend_from_slice(&self.seq.to_le_bytes());
        b.extend_from_slice(&self.at.timestamp_millis().to_le_bytes());
        b.extend_from_slice(&self.chain);
        let sum = xxh3_64(&b);
        b.extend_from_slice(&sum.to_le_bytes());
        b
    }

    /// The signed file's bytes.
    pub fn encode_signed(&self, signer: &dyn Sign) -> Result<Vec<u8>, TrustError> {
        let mut b = self.encode();
        signed::append(&mut b, FileKind::JournalHead, signer)?;
        Ok(b)
    }

    /// Write the signed head to `path` (atomically, owner-only; not waiting for the disk: a head
    /// is derived from the durable journal and can be signed again).
    pub fn write(&self, path: &Path, signer: &dyn Sign) -> Result<(), HeadError> {
        let bytes = self
            .encode_signed(signer)
            .map_err(|source| HeadError::Trust {
                path: path.display().to_string(),
                source,
            })?;
        crate::fsutil::replace_quickly(path, &bytes).map_err(|source| HeadError::Io {
            path: path.display().to_string(),
            source,
        })
    }

    /// Parse a head file's bytes (structure only; see [`Head::verify`]).
    pub fn decode(name: &str, bytes: &[u8]) -> Result<(Head, Option<Block>), HeadError> {
        let bad = |what: String| HeadError::Malformed {
            path: name.to_string(),
            what,
        };
        let block = Block::parse(bytes).map_err(|source| HeadError::Trust {
            path: name.to_string(),
            source,
        })?;
        let c = &bytes[..block.as_ref().map_or(bytes.len(), |b| b.content_len)];
        if c.len() != CONTENT_LEN || c[..8] != MAGIC {
            return Err(bad("not a journal head".into()));
        }
        let version = u32::from_le_bytes(c[8..12].try_into().expect("4"));
        if version != VERSION {
            return Err(bad(format!(
                "version {version} is not supported (this library reads 1)"
            )));
        }
        if c[12..16] != [0; 4] {
            return Err(bad("reserved bytes are not zero".into()));
        }
        let sum = u64::from_le_bytes(c[64..72].try_into().expect("8"));
        if xxh3_64(&c[..64]) != sum {
            return Err(bad("checksum mismatch".into()));
        }
        let seq = u64::from_le_bytes(c[16..24].try_into().expect("8"));
        let ms = i64::from_le_bytes(c[24..32].try_into().expect("8"));
        let at = DateTime::from_timestamp_millis(ms)
            .ok_or_else(|| bad(format!("time {ms} ms is out of range")))?;
        let chain: Chain = c[32..64].try_into().expect("32");
        Ok((Head { seq, at, chain }, block))
    }

    /// Read a head file and check its signature against `trust` (a key certified for
    /// `journal_head`, or a root). Returns the head and who signed it.
    pub fn read_verified(path: &Path, trust: &TrustStore) -> Result<(Head, SignedBy), HeadError> {
        let name = path.display().to_string();
        let len = std::fs::metadata(path)
            .map_err(|source| HeadError::Io {
                path: name.clone(),
                source,
            })?
            .len();
        if len > MAX_BYTES {
            return Err(HeadError::Malformed {
                path: name,
                what: format!("{len} bytes, more than a head ({MAX_BYTES})"),
            });
        }
        let bytes = std::fs::read(path).map_err(|source| HeadError::Io {
            path: name.clone(),
            source,
        })?;
        let (head, _) = Head::decode(&name, &bytes)?;
        let verified = trust
            .verify(FileKind::JournalHead, &bytes, head.at)
            .map_err(|source| HeadError::Trust {
                path: name.clone(),
                source,
            })?;
        Ok((head, verified.signed_by))
    }
}
