//! Checkpoints of the state (`docs/FORMAT.md` §9): `checkpoints/{seq:020}.ckpt`, written
//! atomically, the newest two kept. A checkpoint only spares replaying the journal, which stays
//! the record: one that is damaged, beyond the journal's end or of an older format version is
//! skipped (and reported) and the journal replayed instead.
//!
//! Format versions: 1 (main up to c5b267a) and 2 (before subscribers and publications were part
//! of the state) are no longer read: opening replays the journal (upcasting older records) and
//! the next checkpoint is version 3.

use std::path::Path;

use xxhash_rust::xxh3::xxh3_64;

use super::EngineError;
use crate::model::State;

const MAGIC: [u8; 8] = *b"IDCCKPT\0";
/// The checkpoint format version this library writes and reads.
pub(crate) const VERSION: u32 = 3;
const HEAD: usize = 40;

/// The bytes of a checkpoint of `state` (header and body).
pub(super) fn encode(state: &State) -> Result<Vec<u8>, EngineError> {
    let body = postcard::to_allocvec(state).map_err(|e| EngineError::Checkpoint {
        path: "(encoding)".into(),
        what: e.to_string(),
    })?;
    let mut out = Vec::with_capacity(HEAD + body.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&state.last_seq.to_le_bytes());
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(&xxh3_64(&body).to_le_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

/// Write the checkpoint `bytes` of sequence `seq`; delete all but the newest two.
pub(super) fn write(dir: &Path, seq: u64, bytes: &[u8]) -> Result<(), EngineError> {
    std::fs::create_dir_all(dir).map_err(|e| EngineError::io(dir, e))?;
    let path = dir.join(format!("{seq:020}.ckpt"));
    crate::fsutil::write_atomically(&path, |w| w.write_all(bytes))
        .map_err(|e| EngineError::io(&path, e))?;
    let mut all = list(dir)?;
    all.sort();
    while all.len() > 2 {
        let (_, p) = all.remove(0);
        let _ = std::fs::remove_file(p);
    }
    Ok(())
}

fn list(dir: &Path) -> Result<Vec<(u64, std::path::PathBuf)>, EngineError> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(out);
    };
    for e in entries {
        let e = e.map_err(|e| EngineError::io(dir, e))?;
        let name = e.file_name();
        let name = name.to_string_lossy();
        if let Some(stem) = name.strip_suffix(".ckpt")
            && let Ok(seq) = stem.parse::<u64>()
        {
            out.push((seq, e.path()));
        }
    }
    Ok(out)
}

/// Read and check one checkpoint.
pub(crate) fn read(path: &Path) -> Result<State, EngineError> {
    let bad = |what: String| EngineError::Checkpoint {
        path: path.display().to_string(),
        what,
    };
    let bytes = std::fs::read(path).map_err(|e| EngineError::io(path, e))?;
    if bytes.len() < HEAD || bytes[..8] != MAGIC {
        return Err(bad("not a checkpoint file".into()));
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4"));
    if version != VERSION {
        return Err(bad(format!(
            "format version {version} is not read by this library (it reads {VERSION}); \
             the journal is replayed instead"
        )));
    }
    let seq = u64::from_le_bytes(bytes[16..24].try_into().expect("8"));
    let len = u64::from_le_bytes(bytes[24..32].try_into().expect("8"));
    let sum = u64::from_le_bytes(bytes[32..40].try_into().expect("8"));
    let body = &bytes[HEAD..];
    if body.len() as u64 != len {
        return Err(bad(format!(
            "body is {} bytes, header says {len}",
            body.len()
        )));
    }
    if xxh3_64(body) != sum {
        return Err(bad("checksum mismatch".into()));
    }
    let mut state: State = postcard::from_bytes(body).map_err(|e| bad(e.to_string()))?;
    state.rebuild_derived();
    if state.last_seq != seq {
        return Err(bad(format!(
            "state is at {}, header says {seq}",
            state.last_seq
        )));
    }
    Ok(state)
}

/// The newest good checkpoint at or before `upto` (the journal's durable end), or an empty
/// state. Returns the state, the checkpoint's sequence, and the ones skipped with the reason.
pub(super) fn load_newest(
    dir: &Path,
    upto: u64,
) -> Result<(State, Option<u64>, Vec<String>), EngineError> {
    let mut all = list(dir)?;
    all.sort();
    let mut skipped = Vec::new();
    for (seq, path) in all.into_iter().rev() {
        if seq > upto {
            skipped.push(format!(
                "{}: beyond the journal's end ({upto})",
                path.display()
            ));
            continue;
        }
        match read(&path) {
            Ok(state) => return Ok((state, Some(seq), skipped)),
            Err(e) => skipped.push(e.to_string()),
        }
    }
    Ok((State::default(), None, skipped))
}
