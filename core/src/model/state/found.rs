//! The found-card database (F1, F2).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{Applied, deref_map};
use crate::card::CardKey;
use crate::model::event::Event;
use crate::station::StationId;

/// What became of a found card (F2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FoundOutcome {
    /// Held at the window, waiting for its owner.
    Held,
    /// Destroyed: the owner already had a replacement.
    Destroyed {
        /// When (Unix ms).
        at_ms: i64,
    },
    /// Returned to the owner.
    Returned {
        /// When (Unix ms).
        at_ms: i64,
        /// The photograph's reference.
        photo_ref: String,
    },
}

impl FoundOutcome {
    /// `held`, `destroyed` or `returned`.
    pub fn as_str(&self) -> &'static str {
        match self {
            FoundOutcome::Held => "held",
            FoundOutcome::Destroyed { .. } => "destroyed",
            FoundOutcome::Returned { .. } => "returned",
        }
    }
}

/// A card in the found-card database (F1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoundCard {
    /// The card.
    pub card: CardKey,
    /// The window that holds it.
    pub window: StationId,
    /// When it was handed in (Unix ms).
    pub at_ms: i64,
    /// The finder, if named.
    pub finder: Option<String>,
    /// What became of it.
    pub outcome: FoundOutcome,
    /// The owner was notified via this contact.
    pub notified: Option<String>,
}

impl FoundCard {
    /// Whether it is held at its window.
    pub fn is_held(&self) -> bool {
        self.outcome == FoundOutcome::Held
    }
}

/// Found cards by card.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoundCards {
    by_card: HashMap<CardKey, FoundCard>,
}
deref_map!(FoundCards => by_card: HashMap<CardKey, FoundCard>);

impl FoundCards {
    /// The card, if it is held at a window now.
    pub fn held(&self, card: CardKey) -> Option<&FoundCard> {
        self.by_card.get(&card).filter(|f| f.is_held())
    }

    pub(super) fn apply(&mut self, at: &Applied<'_>, event: &Event) {
        match event {
            Event::FoundCardTakenIn(e) => {
                self.by_card.insert(
                    e.card,
                    FoundCard {
                        card: e.card,
                        window: at.actor.station.clone(),
                        at_ms: at.at_ms,
                        finder: e.finder.clone(),
                        outcome: FoundOutcome::Held,
                        notified: None,
                    },
                );
            }
            Event::FoundCardDestroyed(e) => {
                if let Some(f) = self.by_card.get_mut(&e.card) {
                    f.outcome = FoundOutcome::Destroyed { at_ms: at.at_ms };
                }
            }
            Event::OwnerNotified(e) => {
                if let Some(f) = self.by_card.get_mut(&e.card) {
                    f.notified = Some(e.contact.clone());
                }
            }
            Event::FoundCardReturned(e) => {
                if let Some(f) = self.by_card.get_mut(&e.card) {
                    f.outcome = FoundOutcome::Returned {
                        at_ms: at.at_ms,
                        photo_ref: e.photo_ref.clone(),
                    };
                }
            }
            _ => {}
        }
    }
}
