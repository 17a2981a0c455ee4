//! Publishing from the system of record: full snapshots (bank or police profile) and deltas
//! since a snapshot, in the index's formats (L3, A6; S2: a bank gets no blacklist).
//!
//! A publication reads the state under the engine's lock (authorised like any command), writes
//! its file after releasing it, then records a `Published` event.

use std::path::Path;

use crate::engine::{Command, Ctx, Engine, EngineError};
use crate::index::{DeltaBuilder, Profile, Snapshot};
use crate::model::{Event, PublishedKind, State};
use crate::projection::files;
use crate::station::{Actor, CommandKind};

/// What a publication produced.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Published {
    /// The file written.
    pub path: String,
    /// `snapshot` or `delta`.
    pub what: &'static str,
    /// Bank or police.
    pub profile: Profile,
    /// The snapshot (or, for a delta, its base snapshot).
    pub snapshot_id: String,
    /// The journal sequence published from (deltas; 0 for snapshots).
    pub from_seq: u64,
    /// The journal sequence published up to.
    pub to_seq: u64,
    /// Cards listed (snapshots) or card changes (deltas).
    pub cards: u64,
    /// Blacklisted people (snapshots) or blacklist changes (deltas).
    pub blacklist: u64,
    /// File size in bytes.
    pub bytes: u64,
}

/// Record that a snapshot or delta was published (the last step of a publication).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordPublication(pub crate::model::Published);

impl Command for RecordPublication {
    const KIND: CommandKind = CommandKind::Publish;
    type Decided = ();
    type Output = ();

    fn decide(&self, _: &Ctx<'_>) -> Result<(Vec<Event>, ()), EngineError> {
        Ok((vec![Event::Published(self.0.clone())], ()))
    }

    fn finish(_: (), _: u64, _: &State) {}
}

/// Publish a full snapshot of the record (a county bureau officer).
pub fn publish_snapshot(
    engine: &Engine,
    actor: &Actor,
    profile: Profile,
    path: &Path,
) -> Result<Published, EngineError> {
    let builder = engine.authorized_read(actor, CommandKind::Publish, |ctx| {
        Ok(files::snapshot_builder(ctx.state, profile, ctx.now))
    })?;
    let info = builder.write(path)?;
    engine.execute(
        actor,
        &RecordPublication(crate::model::Published {
            kind: PublishedKind::Snapshot,
            profile,
            journal_seq: info.journal_seq,
            snapshot_id: info.snapshot_id,
        }),
    )?;
    Ok(Published {
        path: path.display().to_string(),
        what: "snapshot",
        profile,
        snapshot_id: format!("{:016x}", info.snapshot_id),
        from_seq: 0,
        to_seq: info.journal_seq,
        cards: info.card_count,
        blacklist: info.blacklist_count,
        bytes: info.file_length,
    })
}

/// Publish a delta on the snapshot `base` that starts at journal sequence `since` (the `to_seq`
/// of the previous delta of a chain; `None`: the snapshot's own sequence): the final answer for
/// every card and person that changed since. A verifier that has applied the chain up to
/// `since` applies it next (docs/FORMAT.md §5).
pub fn publish_delta(
    engine: &Engine,
    actor: &Actor,
    base: &Path,
    since: Option<u64>,
    path: &Path,
) -> Result<Published, EngineError> {
    let snapshot = Snapshot::open(base)?;
    let info = snapshot.info().clone();
    drop(snapshot);
    let (delta, from, to, cards, people) =
        engine.authorized_read(actor, CommandKind::Publish, |ctx| {
            let from = since.unwrap_or(info.journal_seq);
            let to = ctx.state.last_seq;
            if from > to {
                return Err(ctx.refuse(
                    "snapshot_from_elsewhere",
                    format!("the delta would start at sequence {from}, beyond this record's {to}"),
                ));
            }
            if from < info.journal_seq {
                return Err(ctx.refuse(
                    "before_snapshot",
                    format!(
                        "the delta would start at sequence {from}, before its base snapshot's {}",
                        info.journal_seq
                    ),
                ));
            }
            let mut cards = Vec::new();
            let mut people = Vec::new();
            for item in ctx.durable_records(from + 1)? {
                let (seq, record) = item?;
                if seq > to {
                    break;
                }
                record.event.touches(&mut cards, &mut people);
            }
            cards.sort_unstable();
            cards.dedup();
            people.sort_unstable();
            people.dedup();
            let mut d = DeltaBuilder::new(&info, from, to);
            d.created_at(ctx.now.timestamp());
            files::delta_ops(ctx.state, info.profile, &mut d, &cards, &people)?;
            Ok((d.build(), from, to, cards.len(), people.len()))
        })?;
    delta.write(path)?;
    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    engine.execute(
        actor,
        &RecordPublication(crate::model::Published {
            kind: PublishedKind::Delta,
            profile: info.profile,
            journal_seq: to,
            snapshot_id: info.snapshot_id,
        }),
    )?;
    Ok(Published {
        path: path.display().to_string(),
        what: "delta",
        profile: info.profile,
        snapshot_id: format!("{:016x}", info.snapshot_id),
        from_seq: from,
        to_seq: to,
        cards: cards as u64,
        blacklist: if info.profile == Profile::Police {
            people as u64
        } else {
            0
        },
        bytes,
    })
}
