//! Subscribers and what was published to whom (L3; S2: a leaked file names its subscriber).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Applied, deref_map};
use crate::index::Profile;
use crate::model::event::{Event, PublishedKind};
use crate::station::SubscriberId;

/// A subscriber: a unit that receives snapshots and deltas of its own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscriber {
    /// Identifier.
    pub id: SubscriberId,
    /// Name.
    pub name: String,
    /// The profile of its files.
    pub profile: Profile,
    /// When it was registered (Unix ms).
    pub registered_ms: i64,
}

/// Registered subscribers by identifier.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscribers {
    by_id: BTreeMap<SubscriberId, Subscriber>,
}
deref_map!(Subscribers => by_id: BTreeMap<SubscriberId, Subscriber>);

impl Subscribers {
    pub(super) fn apply(&mut self, at: &Applied<'_>, event: &Event) {
        if let Event::SubscriberRegistered(e) = event {
            self.by_id.insert(
                e.id.clone(),
                Subscriber {
                    id: e.id.clone(),
                    name: e.name.clone(),
                    profile: e.profile,
                    registered_ms: at.at_ms,
                },
            );
        }
    }
}

/// A published snapshot and the deltas published on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Publication {
    /// The snapshot.
    pub snapshot_id: u64,
    /// Its profile.
    pub profile: Profile,
    /// The journal sequence it reflects.
    pub journal_seq: u64,
    /// Whose file it is (`None`: the common file).
    pub subscriber: Option<SubscriberId>,
    /// When it was published (Unix ms).
    pub published_ms: i64,
    /// The end of the last delta published on it.
    pub last_delta_to: Option<u64>,
    /// Deltas published on it.
    pub deltas: u64,
}

impl Publication {
    /// Where the next delta on it starts: after the last one, or at the snapshot.
    pub fn next_from(&self) -> u64 {
        self.last_delta_to.unwrap_or(self.journal_seq)
    }
}

/// Publications by snapshot id.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Publications {
    by_snapshot: BTreeMap<u64, Publication>,
}
deref_map!(Publications => by_snapshot: BTreeMap<u64, Publication>);

impl Publications {
    pub(super) fn apply(&mut self, at: &Applied<'_>, event: &Event) {
        let Event::PublishedV2(p) = event else {
            return;
        };
        match p.kind {
            PublishedKind::Snapshot => {
                self.by_snapshot.insert(
                    p.snapshot_id,
                    Publication {
                        snapshot_id: p.snapshot_id,
                        profile: p.profile,
                        journal_seq: p.journal_seq,
                        subscriber: p.subscriber.clone(),
                        published_ms: at.at_ms,
                        last_delta_to: None,
                        deltas: 0,
                    },
                );
            }
            PublishedKind::Delta => {
                if let Some(pb) = self.by_snapshot.get_mut(&p.snapshot_id) {
                    pb.last_delta_to = Some(pb.last_delta_to.unwrap_or(0).max(p.journal_seq));
                    pb.deltas += 1;
                }
            }
        }
    }
}
