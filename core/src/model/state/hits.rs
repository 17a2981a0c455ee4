//! Hit reports (L4).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Applied, deref_map};
use crate::card::CardKey;
use crate::model::event::Event;
use crate::station::{Actor, OfficerId, StationId};

/// The police station's acknowledgement of a hit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HitAcknowledgement {
    /// When (Unix ms).
    pub at_ms: i64,
    /// By whom.
    pub officer: OfficerId,
    /// Notes of the follow-up.
    pub note: String,
}

/// A hit report (L4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hit {
    /// Identifier: the sequence number of the report.
    pub id: u64,
    /// The card presented.
    pub card: CardKey,
    /// The reporting unit and officer.
    pub by: Actor,
    /// The police station it went to.
    pub routed_to: StationId,
    /// When (Unix ms).
    pub at_ms: i64,
    /// What happened.
    pub note: String,
    /// The acknowledgement, once given.
    pub acknowledged: Option<HitAcknowledgement>,
}

/// Hit reports by identifier.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hits {
    by_id: BTreeMap<u64, Hit>,
}
deref_map!(Hits => by_id: BTreeMap<u64, Hit>);

impl Hits {
    pub(super) fn apply(&mut self, at: &Applied<'_>, event: &Event) {
        match event {
            Event::HitReported(e) => {
                self.by_id.insert(
                    at.seq,
                    Hit {
                        id: at.seq,
                        card: e.card,
                        by: at.actor.clone(),
                        routed_to: e.routed_to.clone(),
                        at_ms: at.at_ms,
                        note: e.note.clone(),
                        acknowledged: None,
                    },
                );
            }
            Event::HitAcknowledged(e) => {
                if let Some(h) = self.by_id.get_mut(&e.hit) {
                    h.acknowledged = Some(HitAcknowledgement {
                        at_ms: at.at_ms,
                        officer: at.actor.officer.clone(),
                        note: e.note.clone(),
                    });
                }
            }
            _ => {}
        }
    }
}
