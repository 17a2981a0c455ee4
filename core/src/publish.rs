//! Publishing from the system of record: full snapshots (bank or police profile) and deltas
//! since a snapshot, in the index's formats (L3, A6, S2: a bank gets no blacklist).

use std::path::Path;

use chrono::{DateTime, Utc};

use crate::card::CardKey;
use crate::engine::{Engine, EngineError, Event, State, card_entry};
use crate::index::{DeltaBuilder, Profile, Snapshot, SnapshotBuilder, SnapshotInfo};
use crate::number::IdNumber;
use crate::station::{Actor, CommandKind};

/// Build a snapshot of `state`. Every registered card is passed as known, so the snapshot is
/// exact for every real card (docs/FORMAT.md §4.3).
pub(crate) fn build_snapshot(
    state: &State,
    profile: Profile,
    path: &Path,
    now: DateTime<Utc>,
) -> Result<SnapshotInfo, EngineError> {
    let mut b = SnapshotBuilder::new(profile);
    b.as_of(now).journal_seq(state.last_seq);
    b.extend_cards(
        state
            .cards
            .values()
            .filter(|c| c.status.is_listable())
            .map(|c| (c.key, card_entry(c))),
    );
    b.known_cards(state.cards.keys().copied());
    if profile == Profile::Police {
        b.extend_blacklist(state.blacklist.iter().map(|(n, r)| (*n, r.entry)));
    }
    Ok(b.write(path)?)
}

/// Add to `d` the changes that bring a verifier's answers for `cards` and `people` to what
/// `state` says.
pub(crate) fn delta_ops(
    state: &State,
    profile: Profile,
    d: &mut DeltaBuilder,
    cards: &[CardKey],
    people: &[IdNumber],
) -> Result<(), EngineError> {
    for key in cards {
        match state.cards.get(key) {
            Some(c) if c.status.is_listable() => {
                d.set_card(*key, card_entry(c))?;
            }
            _ => {
                d.clear_card(*key);
            }
        }
    }
    if profile == Profile::Police {
        for n in people {
            match state.blacklist.get(n) {
                Some(r) => {
                    d.set_blacklist(*n, r.entry)?;
                }
                None => {
                    d.clear_blacklist(*n)?;
                }
            }
        }
    }
    Ok(())
}

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

impl Engine {
    /// Publish a full snapshot of the record (a county bureau officer).
    pub fn publish_snapshot(
        &self,
        actor: &Actor,
        profile: Profile,
        path: impl AsRef<Path>,
    ) -> Result<Published, EngineError> {
        let path = path.as_ref();
        self.run(actor, CommandKind::Publish, |ctx| {
            let info = build_snapshot(ctx.state, profile, path, ctx.now)?;
            let event = Event::Published {
                what: "snapshot".into(),
                profile,
                journal_seq: info.journal_seq,
                snapshot_id: info.snapshot_id,
            };
            Ok((
                vec![event],
                Published {
                    path: path.display().to_string(),
                    what: "snapshot",
                    profile,
                    snapshot_id: format!("{:016x}", info.snapshot_id),
                    from_seq: 0,
                    to_seq: info.journal_seq,
                    cards: info.card_count,
                    blacklist: info.blacklist_count,
                    bytes: info.file_length,
                },
            ))
        })
    }

    /// Publish a delta from the snapshot `base` (published earlier from this record) to now: the
    /// final answer for every card and person that changed since the snapshot's sequence.
    pub fn publish_delta(
        &self,
        actor: &Actor,
        base: impl AsRef<Path>,
        path: impl AsRef<Path>,
    ) -> Result<Published, EngineError> {
        self.publish_delta_since(actor, base, None, path)
    }

    /// Publish a delta on the snapshot `base` that starts at journal sequence `since` (the
    /// `to_seq` of the previous delta of a chain; `None`: the snapshot's own sequence). A
    /// verifier that has applied the chain up to `since` applies it next (docs/FORMAT.md §5).
    ///
    /// ```
    /// # use idcard::engine::{Engine, EngineOptions};
    /// # use idcard::index::{Profile, Verifier};
    /// # use idcard::station::{Actor, Officer, Station, StationKind};
    /// # let dir = tempfile::tempdir()?;
    /// # let (engine, _) = Engine::open(dir.path().join("data"), EngineOptions::default())?;
    /// # let bureau = Station { id: "B".parse()?, kind: StationKind::CountyBureau,
    /// #     division: idcard::DivisionCode::new(110105).unwrap(), name: "b".into() };
    /// # engine.bootstrap(bureau, Officer { id: "O".parse()?, name: "o".into(),
    /// #     station: "B".parse()?, active: true })?;
    /// let chief = Actor::new("O", "B")?;
    /// let base = dir.path().join("bank.idcs");
    /// engine.publish_snapshot(&chief, Profile::Bank, &base)?;
    /// let verifier = Verifier::open(&base)?;
    /// // … commands …
    /// let first = engine.publish_delta_since(&chief, &base, None, dir.path().join("1.idcd"))?;
    /// verifier.apply_delta_file(&first.path)?;
    /// // … more commands …
    /// let second = engine.publish_delta_since(&chief, &base, Some(first.to_seq),
    ///     dir.path().join("2.idcd"))?;
    /// verifier.apply_delta_file(&second.path)?;
    /// assert_eq!(verifier.info().journal_seq, second.to_seq);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn publish_delta_since(
        &self,
        actor: &Actor,
        base: impl AsRef<Path>,
        since: Option<u64>,
        path: impl AsRef<Path>,
    ) -> Result<Published, EngineError> {
        let (base, path) = (base.as_ref(), path.as_ref());
        let snapshot = Snapshot::open(base)?;
        let info = snapshot.info().clone();
        drop(snapshot);
        self.run(actor, CommandKind::Publish, |ctx| {
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
            delta_ops(ctx.state, info.profile, &mut d, &cards, &people)?;
            let delta = d.build();
            delta.write(path)?;
            let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            let event = Event::Published {
                what: "delta".into(),
                profile: info.profile,
                journal_seq: to,
                snapshot_id: info.snapshot_id,
            };
            Ok((
                vec![event],
                Published {
                    path: path.display().to_string(),
                    what: "delta",
                    profile: info.profile,
                    snapshot_id: format!("{:016x}", info.snapshot_id),
                    from_seq: from,
                    to_seq: to,
                    cards: cards.len() as u64,
                    blacklist: if info.profile == Profile::Police {
                        people.len() as u64
                    } else {
                        0
                    },
                    bytes,
                },
            ))
        })
    }
}
