//! The signature block every signed file ends with (docs/FORMAT.md §11.1).
//!
//! ```text
//! content                              bytes 0..N (the file as it would be unsigned)
//! block   magic "IDCSIG\0\0"           8
//!         version (u16, 1)             2
//!         algorithm (u8)               1
//!         flags (u8): bit 0 certificate present
//!         N, the content length (u64)  8
//!         BLAKE3-256 of the content    32
//!         signer key id                8
//!         certificate length (u32)     4, then the certificate's bytes
//!         signature length (u16)       2, then the signature
//!         block length (u32)           4   (the file's last 4 bytes)
//! ```
//!
//! The signature covers `"idcard-signature-v1\0"`, the kind of file (`snapshot\0`, `delta\0` …),
//! `N` and the content hash: a delta cannot be passed off as a timestamp, nor a file cut or
//! extended.

use super::TrustError;
use super::keys::{Algorithm, KeyId, PublicKey};

const MAGIC: [u8; 8] = *b"IDCSIG\0\0";
const VERSION: u16 = 1;
/// Fixed part of a block: everything but the certificate and the signature.
const FIXED: usize = 8 + 2 + 1 + 1 + 8 + 32 + 8 + 4 + 2 + 4;
/// Largest block accepted (a certificate and a signature are a few hundred bytes).
pub(crate) const MAX_BLOCK: usize = 64 * 1024;

/// What a signature is for: bound into the signed message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    /// A snapshot (`*.idcs`).
    Snapshot,
    /// A delta (`*.idcd`).
    Delta,
    /// A timestamp (`*.idct`).
    Timestamp,
    /// A key certificate (`*.idck`).
    Certificate,
    /// A signed journal head.
    JournalHead,
    /// A checkpoint of the record's state (signed by the journal-head key).
    Checkpoint,
}

impl FileKind {
    /// The name bound into signatures.
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Snapshot => "snapshot",
            FileKind::Delta => "delta",
            FileKind::Timestamp => "timestamp",
            FileKind::Certificate => "certificate",
            FileKind::JournalHead => "journal_head",
            FileKind::Checkpoint => "checkpoint",
        }
    }
}

/// Something that signs: a root key directly, or a certified key.
pub trait Sign {
    /// The public key.
    fn public(&self) -> PublicKey;
    /// The certificate's bytes to embed (`None` for a root).
    fn certificate(&self) -> Option<&[u8]>;
    /// Sign a message.
    fn sign(&self, message: &[u8]) -> Vec<u8>;
}

/// The message a signature covers.
pub(crate) fn message(kind: FileKind, len: u64, hash: &[u8; 32]) -> Vec<u8> {
    let mut m = Vec::with_capacity(64);
    m.extend_from_slice(b"idcard-signature-v1\0");
    m.extend_from_slice(kind.as_str().as_bytes());
    m.push(0);
    m.extend_from_slice(&len.to_le_bytes());
    m.extend_from_slice(hash);
    m
}

/// The signature block for content of `len` bytes hashing to `hash`.
pub fn block(kind: FileKind, len: u64, hash: &[u8; 32], signer: &dyn Sign) -> Vec<u8> {
    let public = signer.public();
    let cert = signer.certificate().unwrap_or(&[]);
    let signature = signer.sign(&message(kind, len, hash));
    let mut b = Vec::with_capacity(FIXED + cert.len() + signature.len());
    b.extend_from_slice(&MAGIC);
    b.extend_from_slice(&VERSION.to_le_bytes());
    b.push(public.algorithm().code());
    b.push(u8::from(signer.certificate().is_some()));
    b.extend_from_slice(&len.to_le_bytes());
    b.extend_from_slice(hash);
    b.extend_from_slice(&public.id().0);
    b.extend_from_slice(&(cert.len() as u32).to_le_bytes());
    b.extend_from_slice(cert);
    b.extend_from_slice(&(signature.len() as u16).to_le_bytes());
    b.extend_from_slice(&signature);
    let total = (b.len() + 4) as u32;
    b.extend_from_slice(&total.to_le_bytes());
    b
}

/// Sign `content` in place: append its signature block.
pub fn append(content: &mut Vec<u8>, kind: FileKind, signer: &dyn Sign) -> Result<(), TrustError> {
    let hash = *blake3::hash(content).as_bytes();
    let b = block(kind, content.len() as u64, &hash, signer);
    if b.len() > MAX_BLOCK {
        return Err(TrustError::Malformed {
            what: "signature block",
            message: format!("{} bytes, more than {MAX_BLOCK}", b.len()),
        });
    }
    content.extend_from_slice(&b);
    Ok(())
}

/// A parsed signature block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// The content's length: the block starts there.
    pub content_len: usize,
    /// The content's hash, as signed.
    pub hash: [u8; 32],
    /// The signer's key id.
    pub signer: KeyId,
    /// The signer's certificate, when it is not a root.
    pub certificate: Option<Vec<u8>>,
    /// The signature.
    pub signature: Vec<u8>,
}

impl Block {
    /// The signature block at the end of `file`, `None` when the file has none (its last bytes
    /// do not lead to the block's magic). Only the block's own bytes are read.
    pub fn parse(file: &[u8]) -> Result<Option<Block>, TrustError> {
        Block::parse_tail(file, file.len() as u64)
    }

    /// The signature block of the file at `path` (only its last bytes are read), `None` when it
    /// has none. Nothing is checked against a trust file: see [`super::TrustStore::check_block`].
    pub fn read_from_file(path: &std::path::Path) -> Result<Option<Block>, TrustError> {
        use std::os::unix::fs::FileExt;
        let err = |e: std::io::Error| TrustError::KeyFile {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        let file = std::fs::File::open(path).map_err(err)?;
        let len = file.metadata().map_err(err)?.len();
        let tail_len = (len as usize).min(MAX_BLOCK);
        let mut tail = vec![0u8; tail_len];
        file.read_exact_at(&mut tail, len - tail_len as u64)
            .map_err(err)?;
        Block::parse_tail(&tail, len)
    }

    /// The certificate the block carries, parsed (structure only).
    pub fn parsed_certificate(&self) -> Result<Option<super::KeyCertificate>, TrustError> {
        self.certificate
            .as_deref()
            .map(super::KeyCertificate::parse)
            .transpose()
    }

    /// As [`Block::parse`] from the last bytes of a file of `file_len` bytes (`tail` holds at
    /// least the block: a snapshot is not read whole to find it).
    pub fn parse_tail(tail: &[u8], file_len: u64) -> Result<Option<Block>, TrustError> {
        let bad = |m: String| TrustError::Malformed {
            what: "signature block",
            message: m,
        };
        if tail.len() < 4 {
            return Ok(None);
        }
        let total = u32::from_le_bytes(tail[tail.len() - 4..].try_into().expect("4")) as usize;
        if !(FIXED..=MAX_BLOCK).contains(&total) || total > tail.len() || total as u64 > file_len {
            return Ok(None);
        }
        let b = &tail[tail.len() - total..];
        if b[..8] != MAGIC {
            return Ok(None);
        }
        let version = u16::from_le_bytes(b[8..10].try_into().expect("2"));
        if version != VERSION {
            return Err(bad(format!(
                "version {version} is not supported (this library reads 1)"
            )));
        }
        let algorithm = Algorithm::from_code(b[10])?;
        let flags = b[11];
        if flags > 1 {
            return Err(bad(format!("unknown flags {flags:#x}")));
        }
        let content_len = u64::from_le_bytes(b[12..20].try_into().expect("8"));
        if content_len != file_len - total as u64 {
            return Err(bad(format!(
                "it signs {content_len} bytes of content, the file has {} before the block",
                file_len - total as u64
            )));
        }
        let hash: [u8; 32] = b[20..52].try_into().expect("32");
        let signer = KeyId(b[52..60].try_into().expect("8"));
        let cert_len = u32::from_le_bytes(b[60..64].try_into().expect("4")) as usize;
        if 64 + cert_len + 2 + 4 > total {
            return Err(bad("the certificate runs past the block".into()));
        }
        if (cert_len > 0) != (flags == 1) {
            return Err(bad("the certificate flag and length disagree".into()));
        }
        let certificate = (cert_len > 0).then(|| b[64..64 + cert_len].to_vec());
        let at = 64 + cert_len;
        let sig_len = u16::from_le_bytes(b[at..at + 2].try_into().expect("2")) as usize;
        if at + 2 + sig_len + 4 != total {
            return Err(bad(
                "the signature's length does not match the block's".into()
            ));
        }
        Ok(Some(Block {
            algorithm,
            content_len: content_len as usize,
            hash,
            signer,
            certificate,
            signature: b[at + 2..at + 2 + sig_len].to_vec(),
        }))
    }
}

/// The length of the content of a signed file (the whole file when it is unsigned).
pub fn content_len(file: &[u8]) -> usize {
    match Block::parse(file) {
        Ok(Some(b)) => b.content_len,
        _ => file.len(),
    }
}
