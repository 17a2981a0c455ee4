//! The card register (N4-N6) and the loss reports on its cards (L1).

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use std::sync::Arc;

use super::Applied;
use crate::card::{CardKey, ValidityPeriod};
use crate::index::{CardEntry, CardReason, CardStatus};
use crate::model::event::Event;
use crate::number::IdNumber;
use crate::station::Actor;
use crate::store::{Batch, RowStore, StoreError, Table};

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
///
/// In an engine the cards live in the population store ([`crate::store`]); the slice holds the
/// changes not yet written there (read first). A state of its own ([`super::State::default`],
/// replays for checking) holds every card in memory.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Cards {
    /// Every card (no store), or those changed since the last flush.
    by_key: HashMap<CardKey, CardRecord>,
    /// Derived from `by_key`; not stored in checkpoints.
    #[serde(skip)]
    by_person: HashMap<IdNumber, Vec<CardKey>>,
    #[serde(skip)]
    store: Option<Arc<dyn RowStore>>,
}

/// Every card as of the moment [`Cards::view`] was called, however the register changes
/// afterwards.
pub struct CardsView {
    view: Box<dyn crate::store::RowView>,
    changed: HashMap<CardKey, CardRecord>,
}

impl CardsView {
    /// Every card: from the store's view in key order (streamed), then the changes that were not
    /// yet written to it.
    pub fn for_each(&self, mut f: impl FnMut(&CardRecord)) -> Result<(), StoreError> {
        self.view.for_each(Table::Cards, |_, c: CardRecord| {
            if !self.changed.contains_key(&c.key) {
                f(&c);
            }
            Ok(())
        })?;
        self.changed.values().for_each(f);
        Ok(())
    }
}

/// Two registers are equal when they hold the same cards in memory (the store is compared by
/// [`crate::engine::verify_journal`] through its contents).
impl PartialEq for Cards {
    fn eq(&self, other: &Self) -> bool {
        self.by_key == other.by_key
    }
}

impl Eq for Cards {}

impl Cards {
    /// A card.
    pub fn get(&self, key: CardKey) -> Result<Option<CardRecord>, StoreError> {
        match (self.by_key.get(&key), &self.store) {
            (Some(c), _) => Ok(Some(c.clone())),
            (None, Some(s)) => s.get(Table::Cards, key.to_u64()),
            (None, None) => Ok(None),
        }
    }

    /// Whether the card is registered.
    pub fn contains(&self, key: CardKey) -> Result<bool, StoreError> {
        Ok(self.by_key.contains_key(&key) || self.get(key)?.is_some())
    }

    /// A person's cards, oldest first.
    pub fn of(&self, number: IdNumber) -> Result<Vec<CardRecord>, StoreError> {
        let pending = self
            .by_person
            .get(&number)
            .map_or(&[][..], |l| l.as_slice());
        let Some(store) = &self.store else {
            return Ok(pending
                .iter()
                .filter_map(|k| self.by_key.get(k))
                .cloned()
                .collect());
        };
        let (lo, hi) = CardKey::range_of(number);
        let mut all: Vec<CardRecord> = store.range(Table::Cards, lo, hi)?;
        if !pending.is_empty() {
            for k in pending {
                let c = &self.by_key[k];
                match all.binary_search_by_key(&k.to_u64(), |c| c.key.to_u64()) {
                    Ok(i) => all[i] = c.clone(),
                    Err(i) => all.insert(i, c.clone()),
                }
            }
        }
        Ok(all)
    }

    /// Whether the person has any card in the register.
    pub fn has_any(&self, number: IdNumber) -> Result<bool, StoreError> {
        Ok(!self.of(number)?.is_empty())
    }

    /// A person's newest card.
    pub fn current(&self, number: IdNumber) -> Result<Option<CardRecord>, StoreError> {
        Ok(self.of(number)?.pop())
    }

    /// Whether the person has a card newer than `card` (a replacement or renewal, F2).
    pub fn has_newer(&self, card: CardKey) -> Result<bool, StoreError> {
        Ok(self
            .of(card.number())?
            .iter()
            .any(|c| c.key.valid_from() > card.valid_from()))
    }

    /// The status a snapshot must answer for a card (valid when not registered).
    pub fn status(&self, card: CardKey) -> Result<CardStatus, StoreError> {
        Ok(self.get(card)?.map_or(CardStatus::Valid, |c| c.status))
    }

    /// Every card: from the store in key order (one consistent view, streamed), then the
    /// changes not yet written; in memory in no particular order.
    pub fn for_each(&self, mut f: impl FnMut(&CardRecord)) -> Result<(), StoreError> {
        if let Some(s) = &self.store {
            s.for_each(Table::Cards, |_, c: CardRecord| {
                if !self.by_key.contains_key(&c.key) {
                    f(&c);
                }
                Ok(())
            })?;
        }
        self.by_key.values().for_each(f);
        Ok(())
    }

    /// Every card as of now, to read after the state's lock is released: the store's
    /// consistent view ([`RowStore::view`]) and a copy of the changes not yet written to it
    /// (at most one flush's worth). `None` without a store, or when the store has no views: then
    /// read with [`Cards::for_each`] under the lock.
    pub fn view(&self) -> Result<Option<CardsView>, StoreError> {
        let Some(store) = &self.store else {
            return Ok(None);
        };
        Ok(store.view()?.map(|view| CardsView {
            view,
            changed: self.by_key.clone(),
        }))
    }

    /// A copy held in memory, every card read from the store.
    pub(super) fn to_memory(&self) -> Result<Cards, StoreError> {
        let mut out = Cards::default();
        self.for_each(|c| {
            out.by_key.insert(c.key, c.clone());
        })?;
        out.rebuild_derived();
        Ok(out)
    }

    /// How many cards are held in memory.
    pub(super) fn held(&self) -> usize {
        self.by_key.len()
    }

    /// How many changes wait to be written to the store (0 without one).
    pub(super) fn pending(&self) -> usize {
        if self.store.is_some() {
            self.by_key.len()
        } else {
            0
        }
    }

    pub(super) fn attach(&mut self, store: Arc<dyn RowStore>) {
        self.store = Some(store);
    }

    pub(super) fn batch(&self, batch: &mut Batch) -> Result<(), StoreError> {
        for c in self.by_key.values() {
            batch.put(Table::Cards, c.key.to_u64(), c)?;
        }
        Ok(())
    }

    /// After a flush: the store holds the changes.
    pub(super) fn flushed(&mut self) {
        self.by_key = HashMap::new();
        self.by_person = HashMap::new();
    }

    /// The card to change: from the changes, else read from the store into them.
    fn change(&mut self, key: CardKey) -> Result<Option<&mut CardRecord>, StoreError> {
        if !self.by_key.contains_key(&key)
            && let Some(s) = &self.store
            && let Some(c) = s.get::<CardRecord>(Table::Cards, key.to_u64())?
        {
            self.by_key.insert(key, c);
            self.index(key);
        }
        Ok(self.by_key.get_mut(&key))
    }

    pub(super) fn apply(&mut self, at: &Applied<'_>, event: &Event) -> Result<(), StoreError> {
        match event {
            Event::CardsRegistered(e) => {
                for c in &e.cards {
                    self.register(c.key, c.period, c.fingerprints)?;
                }
            }
            Event::LossReported(e) => {
                if let Some(c) = self.change(e.card)? {
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
            Event::LossCancelled(e) => self.clear_loss(e.card, at.date)?,
            // The owner has the card again: a loss report on it no longer holds.
            Event::FoundCardReturned(e) => self.clear_loss(e.card, at.date)?,
            Event::CardStatusChanged(e) => {
                if let Some(c) = self.change(e.card)? {
                    c.status = e.status;
                    c.reason = e.reason;
                    c.changed_on = Some(at.date);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn register(
        &mut self,
        key: CardKey,
        period: ValidityPeriod,
        fingerprints: bool,
    ) -> Result<(), StoreError> {
        if self.contains(key)? {
            return Ok(());
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
        Ok(())
    }

    fn index(&mut self, key: CardKey) {
        let list = self.by_person.entry(key.number()).or_default();
        let at = list.partition_point(|k| k.valid_from() < key.valid_from());
        if list.get(at) != Some(&key) {
            list.insert(at, key);
        }
    }

    fn clear_loss(&mut self, card: CardKey, date: NaiveDate) -> Result<(), StoreError> {
        if let Some(c) = self.change(card)?
            && matches!(c.status, CardStatus::Lost | CardStatus::Stolen)
        {
            c.status = CardStatus::Valid;
            c.reason = CardReason::UNSPECIFIED;
            c.changed_on = Some(date);
            c.loss = None;
        }
        Ok(())
    }

    pub(super) fn rebuild_derived(&mut self) {
        self.by_person.clear();
        let keys: Vec<CardKey> = self.by_key.keys().copied().collect();
        for k in keys {
            self.index(k);
        }
    }
}
