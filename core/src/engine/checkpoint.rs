//! Checkpoints of the state (`docs/FORMAT.md` §9): `checkpoints/{seq:020}.ckpt`, written
//! atomically, the newest two kept. A damaged checkpoint is skipped (and reported); the journal
//! is the record, the checkpoint only spares replaying it.

use std::path::Path;

use xxhash_rust::xxh3::xxh3_64;

use super::EngineError;
use super::state::State;

const MAGIC: [u8; 8] = *b"IDCCKPT\0";
const VERSION: u32 = 1;
const HEAD: usize = 40;

/// Write a checkpoint of `state`; delete all but the newest two.
pub(super) fn write(dir: &Path, state: &State) -> Result<(), EngineError> {
    std::fs::create_dir_all(dir).map_err(|e| EngineError::io(dir, e))?;
    let body = postcard::to_allocvec(state).map_err(|e| EngineError::Checkpoint {
        path: dir.display().to_string(),
        what: e.to_string(),
    })?;
    let mut head = [0u8; HEAD];
    head[..8].copy_from_slice(&MAGIC);
    head[8..12].copy_from_slice(&VERSION.to_le_bytes());
    head[16..24].copy_from_slice(&state.last_seq.to_le_bytes());
    head[24..32].copy_from_slice(&(body.len() as u64).to_le_bytes());
    head[32..40].copy_from_slice(&xxh3_64(&body).to_le_bytes());
    let path = dir.join(format!("{:020}.ckpt", state.last_seq));
    crate::fsutil::write_atomically(&path, |w| {
        w.write_all(&head)?;
        w.write_all(&body)
    })
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
pub(super) fn read(path: &Path) -> Result<State, EngineError> {
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
        return Err(bad(format!("version {version} is not supported")));
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
/// state. Returns the state, the checkpoint's sequence, and the damaged ones skipped.
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
