//! The data directory's secrets (S2), created with the record (32 random bytes each, mode 0600
//! in a 0700 directory), never leaving the data directory and not in the source:
//!
//! - `secrets/pseudonym.key` turns card keys into analysts' pseudonyms ([`crate::analyst`]):
//!   without it a pseudonym cannot be linked to a card, even by someone who tries every number;
//! - `secrets/subscriber.key` derives each subscriber's hash seed ([`subscriber_seed`]), so every
//!   subscriber's snapshot is a different file and a leaked one names its subscriber.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::EngineError;

/// Length of the pseudonymisation key.
pub const KEY_LEN: usize = 32;

/// The key file of data directory `dir`.
pub fn pseudonym_key_path(dir: &Path) -> PathBuf {
    dir.join("secrets").join("pseudonym.key")
}

/// The subscriber-seed key file of data directory `dir`.
pub fn subscriber_key_path(dir: &Path) -> PathBuf {
    dir.join("secrets").join("subscriber.key")
}

/// The record's journal-head signing key (`secrets/journal-head.key`, its public half beside
/// it as `journal-head.pub`): signs the heads written at checkpoints and publications unless the
/// engine is given the platform's key ([`super::EngineOptions::head_signer`]).
pub fn head_key_path(dir: &Path) -> PathBuf {
    dir.join("secrets").join("journal-head.key")
}

/// A certificate for the record's head key from the platform's root (`secrets/journal-head.idck`,
/// role `journal_head`), carried in every head when present (see `idcard key certify`).
pub fn head_cert_path(dir: &Path) -> PathBuf {
    dir.join("secrets").join("journal-head.idck")
}

/// Create the keys a directory lacks (a new record, or one made before keys existed).
pub(crate) fn ensure(dir: &Path) -> Result<(), EngineError> {
    ensure_key(&pseudonym_key_path(dir))?;
    ensure_key(&subscriber_key_path(dir))?;
    let head = head_key_path(dir);
    if !head.exists() {
        let name = format!(
            "journal head of {}",
            dir.file_name()
                .map_or("a record".into(), |n| n.to_string_lossy())
        );
        let key = crate::trust::SecretKey::generate(crate::trust::Algorithm::Ed25519, name)
            .map_err(|e| EngineError::io(&head, std::io::Error::other(e.to_string())))?;
        key.write_files(&head)
            .map_err(|e| EngineError::io(&head, std::io::Error::other(e.to_string())))?;
    }
    Ok(())
}

/// The record's own head signer: its key, with the platform's certificate when there is one.
pub fn head_signer(dir: &Path) -> Result<crate::trust::Signer, EngineError> {
    let cert = head_cert_path(dir);
    let cert = cert.exists().then_some(cert);
    crate::trust::Signer::read(head_key_path(dir), cert.as_deref())
        .map_err(|e| EngineError::io(&head_key_path(dir), std::io::Error::other(e.to_string())))
}

/// The public half of the record's own head key.
pub fn head_public(dir: &Path) -> Result<crate::trust::PublicKey, EngineError> {
    let path = head_key_path(dir).with_extension("pub");
    crate::trust::PublicKey::read(&path)
        .map_err(|e| EngineError::io(&path, std::io::Error::other(e.to_string())))
}

fn ensure_key(path: &Path) -> Result<(), EngineError> {
    let path = path.to_path_buf();
    if path.exists() {
        return Ok(());
    }
    let secrets = path.parent().expect("secrets/ has a parent");
    create_private_dir(secrets)?;
    let mut key = [0u8; KEY_LEN];
    getrandom::fill(&mut key).map_err(|e| EngineError::Io {
        path: path.display().to_string(),
        source: std::io::Error::other(format!("no randomness for the key: {e}")),
    })?;
    let tmp = path.with_extension("tmp");
    let mut f = private_file(&tmp).map_err(|e| EngineError::io(&tmp, e))?;
    f.write_all(&key)
        .and_then(|_| f.sync_all())
        .map_err(|e| EngineError::io(&tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| EngineError::io(&path, e))?;
    Ok(())
}

/// Read the pseudonymisation key of data directory `dir`.
pub fn pseudonym_key(dir: &Path) -> Result<[u8; KEY_LEN], EngineError> {
    read_key(&pseudonym_key_path(dir))
}

/// The hash seed of subscriber `id`'s files: BLAKE3 keyed with the subscriber-seed key over
/// `subscriber-seed\0` and the id (the first 8 bytes, little-endian).
pub fn subscriber_seed(dir: &Path, id: &crate::station::SubscriberId) -> Result<u64, EngineError> {
    let key = read_key(&subscriber_key_path(dir))?;
    let mut h = blake3::Hasher::new_keyed(&key);
    h.update(b"subscriber-seed\0");
    h.update(id.as_str().as_bytes());
    Ok(u64::from_le_bytes(
        h.finalize().as_bytes()[..8].try_into().expect("8 bytes"),
    ))
}

fn read_key(path: &Path) -> Result<[u8; KEY_LEN], EngineError> {
    let path = path.to_path_buf();
    let bytes = std::fs::read(&path).map_err(|e| EngineError::io(&path, e))?;
    bytes.try_into().map_err(|b: Vec<u8>| EngineError::Io {
        path: path.display().to_string(),
        source: std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("the key is {} bytes, not {KEY_LEN}", b.len()),
        ),
    })
}

fn create_private_dir(dir: &Path) -> Result<(), EngineError> {
    crate::fsutil::create_private_dir(dir).map_err(|e| EngineError::io(dir, e))
}

fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    crate::fsutil::private_file(path)
}
