//! The trust file and signature checks.

use std::path::Path;

use chrono::{DateTime, Utc};

use super::TrustError;
use super::cert::{KeyCertificate, Roles};
use super::keys::{KeyId, PublicKey};
use super::signed::{Block, FileKind, message};

/// Who signed a file, as checked.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SignedBy {
    /// The signing key.
    pub key_id: KeyId,
    /// Its name.
    pub key_name: String,
    /// The pinned root it chains to (the key itself when a root signed).
    pub root_key_id: KeyId,
    /// The certificate's validity window, when a certified key signed.
    pub valid_until: Option<DateTime<Utc>>,
}

/// The keys a verifier pins: the platform's root keys (a trust file is one or more public key
/// files, one after the other).
#[derive(Clone, Debug)]
pub struct TrustStore {
    roots: Vec<PublicKey>,
    /// Certificates whose root signature has been checked (by the BLAKE3 hash of their bytes):
    /// every delta of a publishing key carries the same certificate, so its signature is
    /// checked once, not on every delta. Validity and roles are still checked every time.
    checked: std::sync::Arc<std::sync::Mutex<Vec<[u8; 32]>>>,
}

impl PartialEq for TrustStore {
    fn eq(&self, other: &TrustStore) -> bool {
        self.roots == other.roots
    }
}

impl Eq for TrustStore {}

/// Certificates remembered as checked (a few publishing keys at a time, rotations included).
const CHECKED_CERTIFICATES: usize = 16;

/// A signer's clock may run a little ahead of the verifier's.
const CLOCK_SKEW: chrono::Duration = chrono::Duration::minutes(5);

impl TrustStore {
    /// Trust these root keys.
    pub fn new(roots: Vec<PublicKey>) -> TrustStore {
        TrustStore {
            roots,
            checked: Default::default(),
        }
    }

    /// The root keys.
    pub fn roots(&self) -> &[PublicKey] {
        &self.roots
    }

    /// Parse a trust file: public key files concatenated (each starting `idcard-key 1`); lines
    /// starting with `#` are comments.
    pub fn from_text(text: &str, path: &str) -> Result<TrustStore, TrustError> {
        let mut roots = Vec::new();
        let mut chunk = String::new();
        let lines = text.lines().filter(|l| !l.trim_start().starts_with('#'));
        for line in lines.chain(std::iter::once("idcard-key 1")) {
            if line.trim() == "idcard-key 1" && !chunk.trim().is_empty() {
                roots.push(PublicKey::from_file_text(&chunk, path)?);
                chunk.clear();
            }
            chunk.push_str(line);
            chunk.push('\n');
        }
        if roots.is_empty() {
            return Err(TrustError::KeyFile {
                path: path.to_string(),
                message: "no key in the trust file".into(),
            });
        }
        Ok(TrustStore::new(roots))
    }

    /// Read a trust file.
    pub fn read(path: impl AsRef<Path>) -> Result<TrustStore, TrustError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| TrustError::KeyFile {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        TrustStore::from_text(&text, &path.display().to_string())
    }

    /// The trust file's text.
    pub fn to_text(&self) -> String {
        self.roots
            .iter()
            .map(PublicKey::to_file_text)
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn was_checked(&self, fingerprint: &[u8; 32]) -> bool {
        self.checked
            .lock()
            .map(|c| c.contains(fingerprint))
            .unwrap_or(false)
    }

    fn remember_checked(&self, fingerprint: [u8; 32]) {
        if let Ok(mut c) = self.checked.lock() {
            if c.len() == CHECKED_CERTIFICATES {
                c.remove(0);
            }
            c.push(fingerprint);
        }
    }

    fn root(&self, id: KeyId) -> Option<&PublicKey> {
        self.roots.iter().find(|r| r.id() == id)
    }

    /// Check a signature block: the signer is a pinned root, or carries a certificate a root
    /// signed that grants `kind` and is valid at `now`; the signature covers `kind`, the length
    /// and the hash. The content itself is not read: compare [`Block::hash`] with the content's
    /// hash afterwards (or use [`TrustStore::verify`]).
    pub fn check_block(
        &self,
        kind: FileKind,
        block: &Block,
        now: DateTime<Utc>,
    ) -> Result<SignedBy, TrustError> {
        let (key, by) = match (self.root(block.signer), &block.certificate) {
            (Some(root), _) => (
                root.clone(),
                SignedBy {
                    key_id: root.id(),
                    key_name: root.name().to_string(),
                    root_key_id: root.id(),
                    valid_until: None,
                },
            ),
            (None, None) => return Err(TrustError::UnknownKey(block.signer)),
            (None, Some(bytes)) => {
                let cert = KeyCertificate::parse(bytes)?;
                let root = self
                    .root(cert.issuer())
                    .ok_or(TrustError::UnknownKey(block.signer))?;
                let fingerprint = *blake3::hash(bytes).as_bytes();
                if !self.was_checked(&fingerprint) {
                    let cert_block = Block::parse(bytes)?.ok_or(TrustError::Unsigned)?;
                    if cert_block.signer != root.id() {
                        return Err(TrustError::UnknownKey(cert_block.signer));
                    }
                    root.verify(
                        &message(
                            FileKind::Certificate,
                            cert_block.content_len as u64,
                            &cert_block.hash,
                        ),
                        &cert_block.signature,
                    )?;
                    if blake3::hash(&bytes[..cert_block.content_len]).as_bytes() != &cert_block.hash
                    {
                        return Err(TrustError::HashMismatch);
                    }
                    self.remember_checked(fingerprint);
                }
                if cert.key().id() != block.signer {
                    return Err(TrustError::UnknownKey(block.signer));
                }
                let role = match kind {
                    FileKind::JournalHead | FileKind::Checkpoint => Roles::JOURNAL_HEAD,
                    FileKind::Certificate => {
                        return Err(TrustError::WrongRole {
                            key: block.signer,
                            kind: kind.as_str(),
                        });
                    }
                    _ => Roles::PUBLISH,
                };
                if !cert.roles().contains(role) {
                    return Err(TrustError::WrongRole {
                        key: block.signer,
                        kind: kind.as_str(),
                    });
                }
                if now + CLOCK_SKEW < cert.valid_from() || now > cert.valid_until() {
                    return Err(TrustError::KeyNotValid {
                        key: block.signer,
                        at: now,
                        from: cert.valid_from(),
                        until: cert.valid_until(),
                    });
                }
                (
                    cert.key().clone(),
                    SignedBy {
                        key_id: cert.key().id(),
                        key_name: cert.key().name().to_string(),
                        root_key_id: root.id(),
                        valid_until: Some(cert.valid_until()),
                    },
                )
            }
        };
        if key.algorithm() != block.algorithm {
            return Err(TrustError::BadSignature(block.signer));
        }
        key.verify(
            &message(kind, block.content_len as u64, &block.hash),
            &block.signature,
        )?;
        Ok(by)
    }

    /// Check a whole signed file held in memory: the block, then the content's hash. Returns
    /// who signed it and how long the content is.
    pub fn verify(
        &self,
        kind: FileKind,
        file: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Verified, TrustError> {
        let block = Block::parse(file)?.ok_or(TrustError::Unsigned)?;
        let by = self.check_block(kind, &block, now)?;
        if blake3::hash(&file[..block.content_len]).as_bytes() != &block.hash {
            return Err(TrustError::HashMismatch);
        }
        Ok(Verified {
            content_len: block.content_len,
            signed_by: by,
        })
    }
}

/// A file whose signature checked out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The content's length (the signature block follows it).
    pub content_len: usize,
    /// Who signed it.
    pub signed_by: SignedBy,
}
