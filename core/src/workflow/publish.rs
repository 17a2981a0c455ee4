//! Publishing from the system of record: full snapshots (bank or police profile) and deltas
//! since a snapshot, in the index's formats (L3, A6; S2: a bank gets no blacklist and no reasons
//! or dates), signed by the platform's publishing key, and signed timestamps that keep
//! verifiers fresh.
//!
//! Each subscriber (a bank, an airline) can get files of its own: the snapshot's hash seed is
//! derived from the subscriber's id and a secret of the record, so two subscribers' files differ
//! in every table byte and a leaked file names its leaker ([`attribute`]).
//!
//! A publication reads the state under the engine's lock (authorised like any command), writes
//! its file after releasing it, then records a `PublishedV2` event.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use crate::card::CardKey;
use crate::engine::{Command, Ctx, Engine, EngineError, secrets};
use crate::index::{DeltaBuilder, Profile, Snapshot, SnapshotInfo, Timestamp};
use crate::model::{Event, PublishedKind, PublishedV2, State, SubscriberRegistered};
use crate::projection::files;
use crate::station::{Actor, CommandKind, SubscriberId};
use crate::trust::signed::Sign;

/// What a publication produced.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Published {
    /// The file written.
    pub path: String,
    /// `snapshot` or `delta`.
    pub what: &'static str,
    /// Bank or police.
    pub profile: Profile,
    /// The snapshot (or, for a delta, its base snapshot).
    pub snapshot_id: String,
    /// Whose file it is.
    pub subscriber: Option<SubscriberId>,
    /// The key that signed it.
    pub signed_by: Option<String>,
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

/// How to publish: signed or not, for whom.
#[derive(Clone, Default)]
pub struct PublishOptions {
    /// The publishing key (with its certificate). Verifiers refuse unsigned files unless told
    /// to accept them.
    pub signer: Option<Arc<dyn Sign + Send + Sync>>,
    /// The subscriber whose file this is. A snapshot gets the subscriber's own hash seed; a delta
    /// continues its base snapshot's chain, which must have been published for this subscriber
    /// (refused otherwise, so a subscriber's feed never carries another's delta).
    pub subscriber: Option<SubscriberId>,
}

impl std::fmt::Debug for PublishOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublishOptions")
            .field("signed", &self.signer.is_some())
            .field("subscriber", &self.subscriber)
            .finish()
    }
}

impl PublishOptions {
    /// Signed by `signer`.
    pub fn signed(signer: Arc<dyn Sign + Send + Sync>) -> PublishOptions {
        PublishOptions {
            signer: Some(signer),
            subscriber: None,
        }
    }

    fn key_id(&self) -> Option<[u8; 8]> {
        self.signer.as_ref().map(|s| s.public().id().0)
    }
}

/// Register a subscriber (a county bureau officer; S2: its files are its own).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RegisterSubscriber {
    /// Identifier.
    pub id: SubscriberId,
    /// Name.
    pub name: String,
    /// The profile of its files (a bank: `bank`).
    pub profile: Profile,
}

impl Command for RegisterSubscriber {
    const KIND: CommandKind = CommandKind::RegisterSubscriber;
    type Decided = ();
    type Output = ();

    fn decide(&self, ctx: &Ctx<'_>) -> Result<(Vec<Event>, ()), EngineError> {
        if ctx.state.subscribers.contains_key(&self.id) {
            return Err(ctx.refuse(
                "already_exists",
                format!("subscriber {} is already registered", self.id),
            ));
        }
        let event = Event::SubscriberRegistered(SubscriberRegistered {
            id: self.id.clone(),
            name: self.name.clone(),
            profile: self.profile,
        });
        Ok((vec![event], ()))
    }

    fn finish(_: (), _: u64, _: &State) {}
}

/// Record that a snapshot or delta was published (the last step of a publication).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RecordPublication(pub PublishedV2);

impl Command for RecordPublication {
    const KIND: CommandKind = CommandKind::Publish;
    type Decided = ();
    type Output = ();

    fn decide(&self, _: &Ctx<'_>) -> Result<(Vec<Event>, ()), EngineError> {
        Ok((vec![Event::PublishedV2(self.0.clone())], ()))
    }

    fn finish(_: (), _: u64, _: &State) {}
}

fn key_hex(id: Option<[u8; 8]>) -> Option<String> {
    id.map(|k| crate::trust::KeyId(k).to_string())
}

/// Publish a full snapshot of the record (a county bureau officer), signed and for a
/// subscriber as `options` say.
pub fn publish_snapshot(
    engine: &Engine,
    actor: &Actor,
    profile: Profile,
    path: &Path,
    options: &PublishOptions,
) -> Result<Published, EngineError> {
    let seed = match &options.subscriber {
        Some(id) => Some(secrets::subscriber_seed(engine.dir(), id)?),
        None => None,
    };
    let source = engine.authorized_read(actor, CommandKind::Publish, |ctx| {
        if let Some(id) = &options.subscriber {
            match ctx.state.subscribers.get(id) {
                None => {
                    return Err(ctx.refuse(
                        "unknown_subscriber",
                        format!("subscriber {id} is not registered"),
                    ));
                }
                Some(s) if s.profile != profile => {
                    return Err(ctx.refuse(
                        "wrong_profile",
                        format!(
                            "subscriber {id} receives {} files, not {profile}",
                            s.profile
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        let dir = crate::fsutil::parent_dir(path);
        Ok(files::snapshot_source(ctx.state, profile, ctx.now, dir)?)
    })?;
    // The cards are read from the store's view taken above, the engine's lock released.
    let mut builder = source.finish()?;
    if let Some(seed) = seed {
        builder.seed(seed);
    }
    if let Some(s) = &options.signer {
        builder.signer(Arc::clone(s));
    }
    let info = builder.write(path)?;
    engine.execute(
        actor,
        &RecordPublication(PublishedV2 {
            kind: PublishedKind::Snapshot,
            profile,
            from_seq: info.journal_seq,
            journal_seq: info.journal_seq,
            snapshot_id: info.snapshot_id,
            subscriber: options.subscriber.clone(),
            signed_by: options.key_id(),
        }),
    )?;
    // The journal's signed head beside the file: whoever holds it can hold the record to it.
    engine.publish_head(&path.with_extension("idch"))?;
    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    Ok(Published {
        path: path.display().to_string(),
        what: "snapshot",
        profile,
        snapshot_id: format!("{:016x}", info.snapshot_id),
        subscriber: options.subscriber.clone(),
        signed_by: key_hex(options.key_id()),
        from_seq: 0,
        to_seq: info.journal_seq,
        cards: info.card_count,
        blacklist: info.blacklist_count,
        bytes,
    })
}

/// Publish a delta on the snapshot `base` that starts at journal sequence `since` (`None`: where
/// the last delta published on that snapshot ended, or at the snapshot): the final answer for
/// every card and person that changed since, and nothing about a card that was never listed
/// (docs/FORMAT.md §5). A verifier that has applied the chain up to `since` applies it next.
pub fn publish_delta(
    engine: &Engine,
    actor: &Actor,
    base: &Path,
    since: Option<u64>,
    path: &Path,
    options: &PublishOptions,
) -> Result<Published, EngineError> {
    let info = Snapshot::read_info(base)?;
    let (delta, from, to, subscriber, cards, people) =
        engine.authorized_read(actor, CommandKind::Publish, |ctx| {
            let publication = ctx.state.publications.get(&info.snapshot_id);
            if let Some(want) = &options.subscriber {
                let whose = publication.and_then(|p| p.subscriber.as_ref());
                if whose != Some(want) {
                    return Err(ctx.refuse(
                        "not_subscribers_snapshot",
                        format!(
                            "{} is not a snapshot published for subscriber {want} ({}): a delta continues its base snapshot's chain",
                            base.display(),
                            whose.map_or("it was published for no subscriber".to_string(), |w| {
                                format!("it is {w}'s")
                            })
                        ),
                    ));
                }
            }
            let from = since
                .or_else(|| publication.map(|p| p.next_from()))
                .unwrap_or(info.journal_seq);
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
            let mut first: HashMap<CardKey, bool> = HashMap::new();
            let mut people = Vec::new();
            for item in ctx.durable_records(from + 1)? {
                let (seq, record) = item?;
                if seq > to {
                    break;
                }
                let mut touched = Vec::new();
                record.event.touches(&mut touched, &mut people);
                let before = files::listed_before(&record.event);
                for k in touched {
                    first.entry(k).or_insert(before);
                }
            }
            let mut cards: Vec<(CardKey, bool)> = first.into_iter().collect();
            cards.sort_unstable();
            people.sort_unstable();
            people.dedup();
            let mut d = DeltaBuilder::new(&info, from, to);
            d.created_at(ctx.now.timestamp());
            files::delta_ops(ctx.state, info.profile, &mut d, &cards, &people)?;
            let delta = d.build();
            let blacklist = delta.ops.iter().filter(|o| o.is_blacklist()).count() as u64;
            let cards = delta.ops.len() as u64 - blacklist;
            Ok((
                delta,
                from,
                to,
                publication.and_then(|p| p.subscriber.clone()),
                cards,
                blacklist,
            ))
        })?;
    delta.write(path, options.signer.as_deref().map(|s| s as &dyn Sign))?;
    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    engine.execute(
        actor,
        &RecordPublication(PublishedV2 {
            kind: PublishedKind::Delta,
            profile: info.profile,
            from_seq: from,
            journal_seq: to,
            snapshot_id: info.snapshot_id,
            subscriber: subscriber.clone(),
            signed_by: options.key_id(),
        }),
    )?;
    engine.publish_head(&path.with_extension("idch"))?;
    Ok(Published {
        path: path.display().to_string(),
        what: "delta",
        profile: info.profile,
        snapshot_id: format!("{:016x}", info.snapshot_id),
        subscriber,
        signed_by: key_hex(options.key_id()),
        from_seq: from,
        to_seq: to,
        cards,
        blacklist: people,
        bytes,
    })
}

/// Write a signed timestamp for the chain on snapshot `base`: now, the newest sequence published
/// on it (docs/FORMAT.md §5a). Nothing is recorded: timestamps are refreshed every few minutes.
pub fn publish_timestamp(
    engine: &Engine,
    actor: &Actor,
    base: &Path,
    path: &Path,
    signer: &dyn Sign,
) -> Result<Timestamp, EngineError> {
    let info = Snapshot::read_info(base)?;
    let (seq, now) = engine.authorized_read(actor, CommandKind::Publish, |ctx| {
        let seq = ctx
            .state
            .publications
            .get(&info.snapshot_id)
            .map_or(info.journal_seq, |p| p.next_from());
        Ok((seq, ctx.now))
    })?;
    let ts = Timestamp::new(info.profile, info.snapshot_id, seq, now);
    ts.write(path, signer)?;
    Ok(ts)
}

/// Whose file a snapshot is.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Attribution {
    /// The subscriber (`None`: the common file, or a file this record did not publish).
    pub subscriber: Option<SubscriberId>,
    /// How it was told: `journal` (the record published a snapshot with this id) or `seed`
    /// (the hash seed is the one derived for the subscriber).
    pub by: &'static str,
}

/// Which subscriber a leaked snapshot was published for: by its id in the record's
/// publications, else by its hash seed (derived from each registered subscriber's id and the
/// record's secret; a subscriber's build may have moved on to a later seed after a collision).
pub fn attribute(engine: &Engine, info: &SnapshotInfo) -> Result<Option<Attribution>, EngineError> {
    let (published, subscribers) = engine.with_state(|s| {
        (
            s.publications
                .get(&info.snapshot_id)
                .map(|p| p.subscriber.clone()),
            s.subscribers.keys().cloned().collect::<Vec<_>>(),
        )
    });
    if let Some(subscriber) = published {
        return Ok(Some(Attribution {
            subscriber,
            by: "journal",
        }));
    }
    for id in subscribers {
        let mut seed = secrets::subscriber_seed(engine.dir(), &id)?;
        for _ in 0..crate::index::MAX_SEEDS {
            if seed == info.hash_seed {
                return Ok(Some(Attribution {
                    subscriber: Some(id),
                    by: "seed",
                }));
            }
            seed = crate::index::next_seed(seed);
        }
    }
    Ok(None)
}
