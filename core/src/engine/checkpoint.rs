//! Checkpoints of the state (`docs/FORMAT.md` §9): `checkpoints/{seq:020}.ckpt`, written
//! atomically, the newest two kept. A checkpoint only spares replaying the journal, which stays
//! the record: one that is damaged, beyond the journal's end or of an older format version is
//! skipped (and reported) and the journal replayed instead.
//!
//! Format versions: 1 (main up to c5b267a), 2 (before subscribers and publications were part
//! of the state), 3 (before the journal's hash chain) and 4 (before officers' keys and command
//! nonces), 5 (before applications at home, guardians and escalations) and 6 (people and cards
//! in the checkpoint, before the population store) are no longer read: opening replays the
//! journal (upcasting older records) and the next checkpoint is version 7. From version 7 a
//! checkpoint holds no people and no cards: those are in the population store
//! ([`crate::store`]), written just before the checkpoint. A checkpoint records the journal's chain hash at its sequence; at open it must agree with the
//! journal, or it is skipped and the journal replayed (and checked) from the start.

use std::path::Path;

use xxhash_rust::xxh3::xxh3_64;

use super::EngineError;
use crate::journal::Chain;
use crate::model::State;

const MAGIC: [u8; 8] = *b"IDCCKPT\0";
/// The checkpoint format version this library writes and reads.
pub(crate) const VERSION: u32 = 7;
const HEAD: usize = 72;

/// The bytes of a checkpoint of `state` (header and body, then a signature block by `signer`,
/// the journal-head key); `chain` is the journal's chain hash after record `state.last_seq`.
pub(super) fn encode(
    state: &State,
    chain: &Chain,
    signer: &dyn crate::trust::signed::Sign,
) -> Result<Vec<u8>, EngineError> {
    let bad = |e: postcard::Error| EngineError::Checkpoint {
        path: "(encoding)".into(),
        what: e.to_string(),
    };
    // Encoded once into a buffer of the exact size (with room for the signature block): at
    // national scale the state is large, and growing a buffer by doubling, then copying the
    // body behind the header, held up to three times its size at once.
    let size = postcard::experimental::serialized_size(state).map_err(bad)?;
    let mut out = Vec::with_capacity(HEAD + size + crate::trust::signed::MAX_BLOCK);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&state.last_seq.to_le_bytes());
    out.extend_from_slice(&(size as u64).to_le_bytes());
    out.extend_from_slice(&[0; 8]); // the body's checksum, below
    out.extend_from_slice(chain);
    debug_assert_eq!(out.len(), HEAD);
    let mut out = postcard::to_extend(state, out).map_err(bad)?;
    if out.len() != HEAD + size {
        return Err(EngineError::Checkpoint {
            path: "(encoding)".into(),
            what: format!("{} bytes encoded, {size} expected", out.len() - HEAD),
        });
    }
    let sum = xxh3_64(&out[HEAD..]);
    out[32..40].copy_from_slice(&sum.to_le_bytes());
    crate::trust::signed::append(&mut out, crate::trust::FileKind::Checkpoint, signer).map_err(
        |e| EngineError::Checkpoint {
            path: "(signing)".into(),
            what: e.to_string(),
        },
    )?;
    Ok(out)
}

/// Write the checkpoint `bytes` of sequence `seq`; delete all but the newest two.
pub(super) fn write(dir: &Path, seq: u64, bytes: &[u8]) -> Result<(), EngineError> {
    crate::fsutil::create_private_dir(dir).map_err(|e| EngineError::io(dir, e))?;
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

/// Whether the file is a checkpoint of the format this library reads (older ones are skipped,
/// not errors: the journal is replayed instead).
pub(crate) fn is_current_format(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 12];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|_| {
            head[..8] == MAGIC && u32::from_le_bytes(head[8..12].try_into().expect("4")) == VERSION
        })
}

/// Read and check one checkpoint: its signature (by a key `trust` holds or certifies for
/// journal heads), then the state and the chain hash it recorded.
pub(crate) fn read(
    path: &Path,
    trust: &crate::trust::TrustStore,
) -> Result<(State, Chain), EngineError> {
    let bad = |what: String| EngineError::Checkpoint {
        path: path.display().to_string(),
        what,
    };
    let file = std::fs::read(path).map_err(|e| EngineError::io(path, e))?;
    if file.len() < HEAD || file[..8] != MAGIC {
        return Err(bad("not a checkpoint file".into()));
    }
    let version = u32::from_le_bytes(file[8..12].try_into().expect("4"));
    if version != VERSION {
        return Err(bad(format!(
            "format version {version} is not read by this library (it reads {VERSION}); \
             the journal is replayed instead"
        )));
    }
    // The signature covers the header and the state: a checkpoint edited after it was written
    // (its checksum recomputed, or its chain hash) is not loaded.
    let verified = trust
        .verify(
            crate::trust::FileKind::Checkpoint,
            &file,
            chrono::Utc::now(),
        )
        .map_err(|e| bad(format!("signature: {e}")))?;
    let bytes = &file[..verified.content_len];
    let seq = u64::from_le_bytes(bytes[16..24].try_into().expect("8"));
    let len = u64::from_le_bytes(bytes[24..32].try_into().expect("8"));
    let sum = u64::from_le_bytes(bytes[32..40].try_into().expect("8"));
    let chain: Chain = bytes[40..72].try_into().expect("32");
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
    Ok((state, chain))
}

/// What [`load_newest`] found: the state, the checkpoint's sequence and chain hash (if one was
/// loaded), the checkpoints skipped with the reason.
pub(super) type Loaded = (State, Option<(u64, Chain)>, Vec<String>);

/// The newest good checkpoint at or before `upto` (the journal's durable end) whose chain hash
/// agrees with the journal's (`chain_at`), or an empty state. Returns the state, the
/// checkpoint's sequence and chain hash, and the ones skipped with the reason.
pub(super) fn load_newest(
    dir: &Path,
    upto: u64,
    trust: &crate::trust::TrustStore,
    chain_at: &dyn Fn(u64) -> Result<Chain, EngineError>,
) -> Result<Loaded, EngineError> {
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
        match read(&path, trust) {
            Ok((state, chain)) => {
                let journal = chain_at(seq)?;
                if journal == chain {
                    return Ok((state, Some((seq, chain)), skipped));
                }
                skipped.push(format!(
                    "{}: its chain hash {} disagrees with the journal's {} at sequence {seq}",
                    path.display(),
                    crate::journal::chain_hex(&chain),
                    crate::journal::chain_hex(&journal)
                ));
            }
            Err(e) => skipped.push(e.to_string()),
        }
    }
    Ok((State::default(), None, skipped))
}
