//! The state of the system of record: a pure function of the journal. [`State::apply`] is the
//! only way it changes; replaying the journal from the start (or from a checkpoint) rebuilds it
//! exactly.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::event::{Event, Record};
use crate::card::{CardKey, ValidityPeriod};
use crate::index::{BlacklistEntry, CardReason, CardStatus};
use crate::number::IdNumber;
use crate::population::Person;
use crate::station::{Actor, CommandKind, Officer, OfficerId, Station, StationId};

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
    /// Acknowledged: when, by whom, with what note.
    pub acknowledged: Option<(i64, OfficerId, String)>,
}

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

/// A blacklist entry on record (A6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlacklistRecord {
    /// Reasons, source, date.
    pub entry: BlacklistEntry,
    /// Who listed them.
    pub by: Actor,
}

/// Counters derived from the journal.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Records by event kind.
    pub events: BTreeMap<String, u64>,
    /// Refusals by command and reason code.
    pub refusals: BTreeMap<(CommandKind, String), u64>,
}

/// The whole state (see the module documentation).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// The last applied sequence number.
    pub last_seq: u64,
    /// The time of the last applied record (Unix ms).
    pub last_at_ms: i64,
    /// Stations.
    pub stations: BTreeMap<StationId, Station>,
    /// Officers.
    pub officers: BTreeMap<OfficerId, Officer>,
    /// The embedded population directory.
    pub people: HashMap<IdNumber, Person>,
    /// The card register.
    pub cards: HashMap<CardKey, CardRecord>,
    /// Each person's cards, oldest first (N4).
    pub cards_of: HashMap<IdNumber, Vec<CardKey>>,
    /// Hit reports by id.
    pub hits: BTreeMap<u64, Hit>,
    /// The found-card database.
    pub found: HashMap<CardKey, FoundCard>,
    /// The blacklist.
    pub blacklist: HashMap<IdNumber, BlacklistRecord>,
    /// Counters.
    pub stats: Stats,
    /// The policy in force (A7, A12).
    pub policy: crate::policy::Policy,
    /// Off-site applications by id (A1-A4).
    pub applications: BTreeMap<u64, crate::offsite::Application>,
    /// Temporary identity certificates by id (A8).
    pub temp_certs: BTreeMap<u64, crate::temporary::TempCertificate>,
    /// Temporary resident cards by id (T1-T5).
    pub temp_cards: BTreeMap<u64, crate::temporary::TempCard>,
    /// Each person's off-site applications, oldest first (derived from `applications`; not
    /// stored in checkpoints, rebuilt when one is loaded).
    #[serde(skip)]
    pub applications_of: HashMap<IdNumber, Vec<u64>>,
    /// Each person's temporary resident cards, oldest first (derived from `temp_cards`).
    #[serde(skip)]
    pub temp_cards_of: HashMap<IdNumber, Vec<u64>>,
}

impl State {
    /// Apply one record. Never fails: the engine validates commands before recording them, and
    /// an event about something unknown changes nothing.
    pub fn apply(&mut self, seq: u64, record: &Record) {
        self.last_seq = seq;
        self.last_at_ms = record.at_ms;
        let kind = record.event.kind();
        match self.stats.events.get_mut(kind) {
            Some(n) => *n += 1,
            None => {
                self.stats.events.insert(kind.to_string(), 1);
            }
        }
        let date = record.china_date();
        match &record.event {
            Event::StationRegistered(s) => {
                self.stations.insert(s.id.clone(), s.clone());
            }
            Event::OfficerRegistered(o) => {
                self.officers.insert(o.id.clone(), o.clone());
            }
            Event::OfficerDeactivated { officer } => {
                if let Some(o) = self.officers.get_mut(officer) {
                    o.active = false;
                }
            }
            Event::PeopleRegistered(people) => {
                for p in people {
                    self.people.insert(p.number, p.clone());
                }
            }
            Event::PersonDied { number } => {
                if let Some(p) = self.people.get_mut(number) {
                    p.deceased = true;
                }
            }
            Event::CardsRegistered(list) => {
                for c in list {
                    self.register_card(c.key, c.period, c.fingerprints);
                }
            }
            Event::LossReported {
                card,
                stolen,
                at_hukou_place,
                ..
            } => {
                if let Some(c) = self.cards.get_mut(card) {
                    c.status = if *stolen {
                        CardStatus::Stolen
                    } else {
                        CardStatus::Lost
                    };
                    c.reason = if *stolen {
                        CardReason::STOLEN
                    } else if *at_hukou_place {
                        CardReason::REPORTED_AT_HUKOU_PLACE
                    } else {
                        CardReason::REPORTED_AWAY
                    };
                    c.changed_on = Some(date);
                    c.loss = Some(LossReport {
                        stolen: *stolen,
                        at_ms: record.at_ms,
                        by: record.actor.clone(),
                        at_hukou_place: *at_hukou_place,
                    });
                }
            }
            Event::LossCancelled { card, .. } => self.clear_loss(card, date),
            Event::HitReported {
                card,
                routed_to,
                note,
            } => {
                self.hits.insert(
                    seq,
                    Hit {
                        id: seq,
                        card: *card,
                        by: record.actor.clone(),
                        routed_to: routed_to.clone(),
                        at_ms: record.at_ms,
                        note: note.clone(),
                        acknowledged: None,
                    },
                );
            }
            Event::HitAcknowledged { hit, note } => {
                if let Some(h) = self.hits.get_mut(hit) {
                    h.acknowledged =
                        Some((record.at_ms, record.actor.officer.clone(), note.clone()));
                }
            }
            Event::FoundCardTakenIn { card, finder } => {
                self.found.insert(
                    *card,
                    FoundCard {
                        card: *card,
                        window: record.actor.station.clone(),
                        at_ms: record.at_ms,
                        finder: finder.clone(),
                        outcome: FoundOutcome::Held,
                        notified: None,
                    },
                );
            }
            Event::FoundCardDestroyed { card } => {
                if let Some(f) = self.found.get_mut(card) {
                    f.outcome = FoundOutcome::Destroyed {
                        at_ms: record.at_ms,
                    };
                }
            }
            Event::OwnerNotified { card, contact } => {
                if let Some(f) = self.found.get_mut(card) {
                    f.notified = Some(contact.clone());
                }
            }
            Event::FoundCardReturned {
                card, photo_ref, ..
            } => {
                if let Some(f) = self.found.get_mut(card) {
                    f.outcome = FoundOutcome::Returned {
                        at_ms: record.at_ms,
                        photo_ref: photo_ref.clone(),
                    };
                }
                // The owner has the card again: a loss report on it no longer holds.
                self.clear_loss(card, date);
            }
            Event::BlacklistAdded { number, entry } => {
                self.blacklist.insert(
                    *number,
                    BlacklistRecord {
                        entry: *entry,
                        by: record.actor.clone(),
                    },
                );
            }
            Event::BlacklistBulkAdded(list) => {
                for (number, entry) in list {
                    self.blacklist.insert(
                        *number,
                        BlacklistRecord {
                            entry: *entry,
                            by: record.actor.clone(),
                        },
                    );
                }
            }
            Event::BlacklistRemoved { number, .. } => {
                self.blacklist.remove(number);
            }
            Event::Published { .. } => {}
            Event::CommandRefused { command, code, .. } => {
                *self
                    .stats
                    .refusals
                    .entry((*command, code.clone()))
                    .or_default() += 1;
            }
            Event::CardStatusChanged {
                card,
                status,
                reason,
            } => {
                if let Some(c) = self.cards.get_mut(card) {
                    c.status = *status;
                    c.reason = *reason;
                    c.changed_on = Some(date);
                }
            }
            Event::PolicySet(p) => self.policy = (**p).clone(),
            Event::ApplicationAccepted(_)
            | Event::ApplicationReviewed { .. }
            | Event::ApplicationCardProduced { .. }
            | Event::ApplicationCardIssued { .. }
            | Event::DeadlineExtended { .. } => crate::offsite::apply(self, seq, &record.event),
            Event::TemporaryCertificateIssued(_)
            | Event::TemporaryCertificateUsed { .. }
            | Event::TemporaryCardApplied(_)
            | Event::TemporaryCardIssued { .. }
            | Event::TemporaryCardReturned { .. } => crate::temporary::apply(self, seq, record),
        }
    }

    /// Rebuild the derived indexes (`applications_of`, `temp_cards_of`) after loading a
    /// checkpoint.
    pub(crate) fn rebuild_derived(&mut self) {
        self.applications_of.clear();
        for (id, a) in &self.applications {
            self.applications_of.entry(a.number).or_default().push(*id);
        }
        self.temp_cards_of.clear();
        for (id, t) in &self.temp_cards {
            self.temp_cards_of.entry(t.number).or_default().push(*id);
        }
    }

    /// The person's off-site applications, oldest first.
    pub fn applications_of(
        &self,
        number: IdNumber,
    ) -> impl Iterator<Item = &crate::offsite::Application> {
        self.applications_of
            .get(&number)
            .into_iter()
            .flatten()
            .filter_map(|id| self.applications.get(id))
    }

    /// The person's temporary resident cards, oldest first.
    pub fn temp_cards_of(
        &self,
        number: IdNumber,
    ) -> impl Iterator<Item = &crate::temporary::TempCard> {
        self.temp_cards_of
            .get(&number)
            .into_iter()
            .flatten()
            .filter_map(|id| self.temp_cards.get(id))
    }

    fn register_card(&mut self, key: CardKey, period: ValidityPeriod, fingerprints: bool) {
        if self.cards.contains_key(&key) {
            return;
        }
        self.cards.insert(
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
        let list = self.cards_of.entry(key.number()).or_default();
        let at = list.partition_point(|k| k.valid_from() < key.valid_from());
        list.insert(at, key);
    }

    fn clear_loss(&mut self, card: &CardKey, date: NaiveDate) {
        if let Some(c) = self.cards.get_mut(card)
            && matches!(c.status, CardStatus::Lost | CardStatus::Stolen)
        {
            c.status = CardStatus::Valid;
            c.reason = CardReason::UNSPECIFIED;
            c.changed_on = Some(date);
            c.loss = None;
        }
    }

    /// A person's newest card.
    pub fn current_card(&self, number: IdNumber) -> Option<&CardRecord> {
        self.cards_of
            .get(&number)
            .and_then(|l| l.last())
            .and_then(|k| self.cards.get(k))
    }

    /// Whether the person has a card newer than `card` (a replacement or renewal, F2).
    pub fn has_newer_card(&self, card: CardKey) -> bool {
        self.cards_of
            .get(&card.number())
            .is_some_and(|l| l.iter().any(|k| k.valid_from() > card.valid_from()))
    }

    /// The status a snapshot must answer for a card (valid when not registered).
    pub fn card_status(&self, card: CardKey) -> CardStatus {
        self.cards
            .get(&card)
            .map_or(CardStatus::Valid, |c| c.status)
    }
}
