//! The data directory's secrets (S2): the pseudonymisation key that turns card keys into
//! analysts' pseudonyms ([`crate::analyst`]). It is created with the record (32 random bytes,
//! `secrets/pseudonym.key`, mode 0600 in a 0700 directory), never leaves the data directory and
//! is not in the source: without it a pseudonym cannot be linked to a card, even by someone who
//! tries every identity number.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::EngineError;

/// Length of the pseudonymisation key.
pub const KEY_LEN: usize = 32;

/// The key file of data directory `dir`.
pub fn pseudonym_key_path(dir: &Path) -> PathBuf {
    dir.join("secrets").join("pseudonym.key")
}

/// Create the key if the directory has none (a new record, or one made before keys existed).
pub(crate) fn ensure(dir: &Path) -> Result<(), EngineError> {
    let path = pseudonym_key_path(dir);
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
    let tmp = secrets.join("pseudonym.key.tmp");
    let mut f = private_file(&tmp).map_err(|e| EngineError::io(&tmp, e))?;
    f.write_all(&key)
        .and_then(|_| f.sync_all())
        .map_err(|e| EngineError::io(&tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| EngineError::io(&path, e))?;
    Ok(())
}

/// Read the pseudonymisation key of data directory `dir`.
pub fn pseudonym_key(dir: &Path) -> Result<[u8; KEY_LEN], EngineError> {
    let path = pseudonym_key_path(dir);
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
