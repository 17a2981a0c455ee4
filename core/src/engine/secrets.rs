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

/// Create the keys a directory lacks (a new record, or one made before keys existed).
pub(crate) fn ensure(dir: &Path) -> Result<(), EngineError> {
    ensure_key(&pseudonym_key_path(dir))?;
    ensure_key(&subscriber_key_path(dir))
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
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir).map_err(|e| EngineError::io(dir, e))
}

fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)
}
