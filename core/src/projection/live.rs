//! The engine's live verifier (L3): a verifier kept in step with every applied record, so an
//! accepted loss report answers `lost` as soon as the command returns.

use std::path::PathBuf;
use std::sync::OnceLock;

use super::{Projection, ProjectionError, files};
use crate::index::{DeltaBuilder, Profile, SnapshotInfo, Verifier, VerifierOptions};
use crate::model::{Record, State};

struct Started {
    verifier: Verifier,
    info: SnapshotInfo,
}

/// A verifier of one profile fed by the record (see the module documentation).
pub struct LiveVerifier {
    profile: Profile,
    path: PathBuf,
    started: OnceLock<Started>,
}

impl LiveVerifier {
    /// A live verifier of `profile` whose base snapshot is written to `path` when the engine
    /// opens.
    pub fn new(profile: Profile, path: impl Into<PathBuf>) -> LiveVerifier {
        LiveVerifier {
            profile,
            path: path.into(),
            started: OnceLock::new(),
        }
    }

    /// The verifier, once the engine has started the projection.
    pub fn verifier(&self) -> Option<&Verifier> {
        self.started.get().map(|s| &s.verifier)
    }
}

impl Projection for LiveVerifier {
    fn name(&self) -> &str {
        "live verifier"
    }

    fn start(&self, state: &State) -> Result<(), ProjectionError> {
        let dir = crate::fsutil::parent_dir(&self.path);
        std::fs::create_dir_all(dir)?;
        let now = chrono::DateTime::from_timestamp_millis(state.last_at_ms).unwrap_or_default();
        let info = files::snapshot_builder(state, self.profile, now, dir)?.write(&self.path)?;
        // The engine's own file, in its own directory: unsigned, and it never goes stale (it
        // is the record).
        let verifier = Verifier::open_with(&self.path, VerifierOptions::unsigned())?;
        let _ = self.started.set(Started { verifier, info });
        Ok(())
    }

    fn applied(&self, state: &State, seq: u64, record: &Record) -> Result<(), ProjectionError> {
        let Some(s) = self.started.get() else {
            return Ok(());
        };
        let mut cards = Vec::new();
        let mut people = Vec::new();
        record.event.touches(&mut cards, &mut people);
        let mut d = DeltaBuilder::new(&s.info, seq - 1, seq);
        d.created_at(record.at_ms / 1000);
        let before = files::listed_before(&record.event);
        let cards: Vec<_> = cards.into_iter().map(|k| (k, before)).collect();
        files::delta_ops(state, self.profile, &mut d, &cards, &people)?;
        s.verifier.apply_delta(&d.build())?;
        Ok(())
    }
}
