//! The card register (N4-N6) and the loss reports on its cards (L1).

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{Applied, deref_map};
use crate::card::{CardKey, ValidityPeriod};
use crate::index::{CardEntry, CardReason, CardStatus};
use crate::model::event::Event;
use crate::number::IdNumber;
use crate::station::Actor;

/// A loss report on record (L1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LossReport {
    /// Stolen rather than lost.
    pub stolen: bool,
    /// When (Unix ms).
    pub at_ms: i64,
    /// Where and by whom it was taken.
    pub by: Actor,
    /// Reported at the household registration place.
    pub at_hukou_place: bool,
}

/// A card in the card register.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardRecord {
    /// The card.
    pub key: CardKey,
    /// Validity period (N5).
    pub period: ValidityPeriod,
    /// Fingerprints registered (N6).
    pub fingerprints: bool,
    /// Valid, lost, stolen, superseded or invalidated.
    pub status: CardStatus,
    /// Why.
    pub reason: CardReason,
    /// When the status last changed.
    pub changed_on: Option<NaiveDate>,
    /// The loss report, while the card is lost or stolen.
    pub loss: Option<LossReport>,
}

impl CardRecord {
    /// The card with its period (N5: validity end).
    pub fn card(&self) -> crate::Card {
        crate::Card::from_parts(self.key, self.period, self.fingerprints)
    }

    /// The card's entry as the verification index holds it.
    pub fn entry(&self) -> CardEntry {
        CardEntry {
            status: self.status,
            reason: self.reason,
            changed_on: self.changed_on,
        }
    }
}

/// Registered cards by key, and each person's cards oldest first (N4).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cards {
    by_key: HashMap<CardKey, CardRecord>,
    /// Derived from `by_key`; not stored in checkpoints.
    #[serde(skip)]
    by_person: HashMap<IdNumber, Vec<CardKey>>,
}
deref_map!(Cards => by_key: HashMap<CardKey, CardRecord>);

impl Cards {
    /// A person's cards, oldest first.
    pub fn of(&self, number: IdNumber) -> impl Iterator<Item = &CardRecord> {
        self.by_person
            .get(&number)
            .into_iter()
            .flatten()
            .filter_map(|k| self.by_key.get(k))
    }

    /// Whether the person has any card in the register.
    pub fn has_any(&self, number: IdNumber) -> bool {
        self.by_person.get(&number).is_some_and(|l| !l.is_empty())
    }

    /// A person's newest card.
    pub fn current(&self, number: IdNumber) -> Option<&CardRecord> {
        self.by_person
            .get(&number)
            .and_then(|l| l.last())
            .and_then(|k| self.by_key.get(k))
    }

    /// Whether the person has a card newer than `card` (a replacement or renewal, F2).
    pub fn has_newer(&self, card: CardKey) -> bool {
        self.by_person
            .get(&card.number())
            .is_some_and(|l| l.iter().any(|k| k.valid_from() > card.valid_from()))
    }

    /// The status a snapshot must answer for a card (valid when not registered).
    pub fn status(&self, card: CardKey) -> CardStatus {
        self.by_key
            .get(&card)
            .map_or(CardStatus::Valid, |c| c.status)
    }

    pub(super) fn apply(&mut self, at: &Applied<'_>, event: &Event) {
        match event {
            Event::CardsRegistered(e) => {
                for c in &e.cards {
                    self.register(c.key, c.period, c.fingerprints);
                }
            }
            Event::LossReported(e) => {
                if let Some(c) = self.by_key.get_mut(&e.card) {
                    c.status = if e.stolen {
                        CardStatus::Stolen
                    } else {
                        CardStatus::Lost
                    };
                    c.reason = if e.stolen {
                        CardReason::STOLEN
                    } else if e.at_hukou_place {
                        CardReason::REPORTED_AT_HUKOU_PLACE
                    } else {
                        CardReason::REPORTED_AWAY
                    };
                    c.changed_on = Some(at.date);
                    c.loss = Some(LossReport {
                        stolen: e.stolen,
                        at_ms: at.at_ms,
                        by: at.actor.clone(),
                        at_hukou_place: e.at_hukou_place,
                    });
                }
            }
            Event::LossCancelled(e) => self.clear_loss(e.card, at.date),
            // The owner has the card again: a loss report on it no longer holds.
            Event::FoundCardReturned(e) => self.clear_loss(e.card, at.date),
            Event::CardStatusChanged(e) => {
                if let Some(c) = self.by_key.get_mut(&e.card) {
                    c.status = e.status;
                    c.reason = e.reason;
                    c.changed_on = Some(at.date);
                }
            }
            _ => {}
        }
    }

    fn register(&mut self, key: CardKey, period: ValidityPeriod, fingerprints: bool) {
        if self.by_key.contains_key(&key) {
            return;
        }
        self.by_key.insert(
            key,
            CardRecord {
                key,
                period,
                fingerprints,
                status: CardStatus::Valid,
                reason: CardReason::UNSPECIFIED,
                changed_on: None,
                loss: None,
            },
        );
        self.index(key);
    }

    fn index(&mut self, key: CardKey) {
        let list = self.by_person.entry(key.number()).or_default();
        let at = list.partition_point(|k| k.valid_from() < key.valid_from());
        list.insert(at, key);
    }

    fn clear_loss(&mut self, card: CardKey, date: NaiveDate) {
        if let Some(c) = self.by_key.get_mut(&card)
            && matches!(c.status, CardStatus::Lost | CardStatus::Stolen)
        {
            c.status = CardStatus::Valid;
            c.reason = CardReason::UNSPECIFIED;
            c.changed_on = Some(date);
            c.loss = None;
        }
    }

    pub(super) fn rebuild_derived(&mut self) {
        self.by_person.clear();
        let keys: Vec<CardKey> = self.by_key.keys().copied().collect();
        for k in keys {
            self.index(k);
        }
    }
}
