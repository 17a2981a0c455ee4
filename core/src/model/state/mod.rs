//! The state of the system of record: a pure function of the journal.
//!
//! [`State::apply`] is the only way it changes, and it only hands the record to each slice in
//! turn; a slice holds one kind of thing (stations, people, cards, found cards …) and its own
//! `apply` decides which events concern it. Replaying the journal from the start (or from a
//! checkpoint) rebuilds the state exactly. Slices are read through `Deref` to their map (and a
//! few lookups of their own); nothing outside `apply` can change them.
//!
//! ```
//! use idcard::model::{Event, PersonDied, Record, State};
//! use idcard::station::Actor;
//! let mut state = State::default();
//! let record = Record {
//!     at_ms: 1_768_442_400_000,
//!     actor: Actor::new("A0001", "110105-PSB")?,
//!     event: Event::PersonDied(PersonDied { number: "11010519491231002X".parse()? }),
//!     auth: None,
//! };
//! state.apply(1, &record);
//! assert_eq!((state.last_seq, state.stats.events["person_died"]), (1, 1));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod applications;
mod blacklist;
mod cards;
mod found;
mod hits;
mod nonces;
mod org;
mod people;
mod publications;
mod stats;
mod temporary;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

pub use applications::{Application, ApplicationState, Applications};
pub use blacklist::{Blacklist, BlacklistRecord};
pub use cards::{CardRecord, Cards, CardsView, LossReport};
pub use found::{FoundCard, FoundCards, FoundOutcome};
pub use hits::{Hit, HitAcknowledgement, Hits};
pub use nonces::{MAX_SKEW_MS, NONCE_WINDOW_MS, Nonces};
pub use org::{Officers, Stations};
pub use people::People;
pub use publications::{Publication, Publications, Subscriber, Subscribers};
pub use stats::Stats;
pub use temporary::{TempCard, TempCardState, TempCards, TempCertificate, TempCertificates};

use std::sync::Arc;

use super::event::Record;
use crate::policy::Policy;
use crate::station::Actor;
use crate::store::{Batch, RowStore, StoreError, Table};

/// What every slice knows about the record being applied besides its event.
#[derive(Clone, Copy, Debug)]
pub struct Applied<'a> {
    /// The record's sequence number (the identifier of what it creates).
    pub seq: u64,
    /// Its time (Unix ms).
    pub at_ms: i64,
    /// Its date in China.
    pub date: NaiveDate,
    /// Who.
    pub actor: &'a Actor,
}

/// The whole state (see the module documentation).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// The last applied sequence number.
    pub last_seq: u64,
    /// The time of the last applied record (Unix ms).
    pub last_at_ms: i64,
    /// Stations (S1, A2).
    pub stations: Stations,
    /// Officers (S1).
    pub officers: Officers,
    /// The embedded population directory.
    pub people: People,
    /// The card register (N4-N6) with loss reports (L1).
    pub cards: Cards,
    /// Hit reports (L4).
    pub hits: Hits,
    /// The found-card database (F1, F2).
    pub found: FoundCards,
    /// The blacklist (A6).
    pub blacklist: Blacklist,
    /// The policy in force (A7, A12).
    pub policy: Policy,
    /// Applications (A1-A4).
    pub applications: Applications,
    /// Temporary identity certificates (A8).
    pub temp_certs: TempCertificates,
    /// Temporary resident cards (T1-T5).
    pub temp_cards: TempCards,
    /// Subscribers to published files.
    pub subscribers: Subscribers,
    /// What was published, by snapshot.
    pub publications: Publications,
    /// Counters of events and refusals.
    pub stats: Stats,
    /// Recently used command nonces (replays are refused).
    pub nonces: Nonces,
    /// The population store below `people` and `cards`, when there is one.
    #[serde(skip)]
    link: StoreLink,
}

/// The state's link to its population store ([`crate::store`]): not part of what the state
/// is (equal whatever it holds), not in checkpoints.
#[derive(Clone, Debug, Default)]
struct StoreLink {
    store: Option<Arc<dyn RowStore>>,
    /// People and cards skip records up to this one: the store has them.
    seq: u64,
    /// The last record people and cards applied: what the next flush reflects (during a
    /// replay from a store behind the checkpoint, earlier than `State::last_seq`).
    applied: u64,
    /// The first error of the store while applying: the state no longer follows the journal
    /// (the engine refuses to go on; reopening replays from the store's sequence).
    failure: Option<StoreError>,
    /// The journal's records since the last flush, for a store that keeps them
    /// ([`crate::store::RowStore::wants_events`]).
    events: Vec<crate::store::EventRow>,
}

impl PartialEq for StoreLink {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl State {
    /// Apply one record. Never fails: the engine decides commands before recording them, and an
    /// event about something unknown changes nothing.
    pub fn apply(&mut self, seq: u64, record: &Record) {
        let at = Applied {
            seq,
            at_ms: record.at_ms,
            date: record.china_date(),
            actor: &record.actor,
        };
        let e = &record.event;
        // People and cards, when their store already has the record (replayed from the store's
        // sequence, earlier than the checkpoint's), skip it; so does the rest, when the
        // checkpoint has it.
        if seq > self.link.seq && self.link.failure.is_none() {
            let r = self.people.apply(e).and_then(|()| self.cards.apply(&at, e));
            match r {
                Ok(()) => self.link.applied = seq,
                Err(err) => self.link.failure = Some(err),
            }
        }
        if seq <= self.last_seq {
            return;
        }
        self.last_seq = seq;
        self.last_at_ms = record.at_ms;
        self.nonces.apply(record.at_ms, record.auth.as_ref());
        self.stats.apply(e);
        self.stations.apply(e);
        self.officers.apply(e);
        self.hits.apply(&at, e);
        self.found.apply(&at, e);
        self.blacklist.apply(&at, e);
        if let super::event::Event::PolicySet(p) = e
            && let Ok(policy) = serde_json::from_str(&p.policy_json)
        {
            self.policy = policy;
        }
        self.applications.apply(&at, e);
        self.temp_certs.apply(&at, e);
        self.temp_cards.apply(&at, e);
        self.subscribers.apply(&at, e);
        self.publications.apply(&at, e);
    }

    /// The first difference between the people and cards of this state (in memory) and those
    /// of `store`, if any: for checking a store against a replay of the journal.
    pub fn population_differs(&self, store: &dyn RowStore) -> Result<Option<String>, StoreError> {
        let (mut people, mut cards, mut guardians) = (0usize, 0usize, 0usize);
        let mut diff: Option<String> = None;
        store.for_each(Table::People, |_, p: crate::population::Person| {
            people += 1;
            if diff.is_none() && self.people.get(p.number)?.as_ref() != Some(&p) {
                diff = Some(format!("person {} differs", p.number));
            }
            Ok(())
        })?;
        store.for_each(Table::Cards, |_, c: CardRecord| {
            cards += 1;
            if diff.is_none() && self.cards.get(c.key)?.as_ref() != Some(&c) {
                diff = Some(format!("card {:?} differs", c.key));
            }
            Ok(())
        })?;
        store.for_each(Table::Guardians, |k, list: Vec<crate::number::IdNumber>| {
            guardians += 1;
            let child = crate::number::IdNumber::from_u64(k)
                .map_err(|e| store.err(format!("guardians {k:#x}: {e}")))?;
            if diff.is_none() && self.people.guardians_of(child)? != list {
                diff = Some(format!("guardians of {child} differ"));
            }
            Ok(())
        })?;
        // How many this state holds: in memory, or (flushed) in its own store.
        let held = match &self.link.store {
            Some(own) if self.pending() == 0 => (
                own.count(Table::People)? as usize,
                own.count(Table::Cards)? as usize,
                own.count(Table::Guardians)? as usize,
            ),
            Some(_) => {
                return Err(store.err("compared with a state whose changes are not all written"));
            }
            None => (
                self.people.held().0,
                self.cards.held(),
                self.people.held().1,
            ),
        };
        if diff.is_none() && (people, cards, guardians) != held {
            diff = Some(format!(
                "the store holds {people} people, {cards} cards and {guardians} guardians' lists; the journal replays to {}, {} and {}",
                held.0, held.1, held.2
            ));
        }
        Ok(diff)
    }

    /// Whether two states hold the same things besides people and cards (a checkpoint of an
    /// engine holds those in its store).
    pub fn same_besides_population(&self, other: &State) -> bool {
        self.without_population() == other.without_population()
    }

    /// A copy held entirely in memory, with every person and card read from the store: for
    /// comparing states in tests and small records (it reads everything).
    pub fn to_memory(&self) -> Result<State, StoreError> {
        let mut s = self.without_population();
        s.people = self.people.to_memory()?;
        s.cards = self.cards.to_memory()?;
        Ok(s)
    }

    /// A copy of everything but people and cards (and with no link to the store: a full
    /// clone of an engine's state keeps its store open).
    pub fn without_population(&self) -> State {
        State {
            last_seq: self.last_seq,
            last_at_ms: self.last_at_ms,
            stations: self.stations.clone(),
            officers: self.officers.clone(),
            people: People::default(),
            cards: Cards::default(),
            hits: self.hits.clone(),
            found: self.found.clone(),
            blacklist: self.blacklist.clone(),
            policy: self.policy.clone(),
            applications: self.applications.clone(),
            temp_certs: self.temp_certs.clone(),
            temp_cards: self.temp_cards.clone(),
            subscribers: self.subscribers.clone(),
            publications: self.publications.clone(),
            stats: self.stats.clone(),
            nonces: self.nonces.clone(),
            link: StoreLink::default(),
        }
    }

    /// Put `people` and `cards` on `store`, which holds them as of record `seq`: they skip the
    /// records up to it when replayed. Whatever they held in memory is dropped.
    pub(crate) fn attach_store(&mut self, store: Arc<dyn RowStore>, seq: u64) {
        self.people = People::default();
        self.cards = Cards::default();
        self.people.attach(store.clone());
        self.cards.attach(store.clone());
        self.link = StoreLink {
            store: Some(store),
            seq,
            applied: seq,
            failure: None,
            events: Vec::new(),
        };
    }

    /// Whether the state's store keeps the journal's records ([`crate::store::RowStore::wants_events`]).
    pub fn store_keeps_events(&self) -> bool {
        self.link.store.as_ref().is_some_and(|s| s.wants_events())
    }

    /// After applying record `seq` (`payload`, the journal's bytes, with `chain` after it): keep
    /// it for the next flush when the store keeps the events and does not have it yet.
    pub(crate) fn keep_event(
        &mut self,
        seq: u64,
        chain: &crate::journal::Chain,
        payload: &[u8],
        record: &Record,
    ) {
        if !self.store_keeps_events() || seq <= self.link.seq {
            return;
        }
        let province = self
            .stations
            .get(&record.actor.station)
            .map_or(0, |s| s.division.province_number());
        self.link.events.push(crate::store::EventRow {
            seq,
            chain: *chain,
            province,
            payload: payload.to_vec(),
        });
    }

    /// The population store, if the state has one.
    pub fn store(&self) -> Option<&Arc<dyn RowStore>> {
        self.link.store.as_ref()
    }

    /// How many changes to people and cards wait to be written to the store.
    pub fn pending(&self) -> usize {
        self.people.pending() + self.cards.pending() + self.link.events.len()
    }

    /// The store's error that stopped the state following the journal, if any.
    pub fn store_failure(&self) -> Option<&StoreError> {
        self.link.failure.as_ref()
    }

    /// The last record people and cards applied, which the next [`State::flush`] tags the
    /// store with (its chain hash is the caller's to give).
    pub fn population_seq(&self) -> u64 {
        self.link.applied
    }

    /// Write the changes to people and cards to the store, tagged with the last record they
    /// applied ([`State::population_seq`]) and `chain` (the journal's chain hash after it). The
    /// caller makes sure that record is durable. Without a store: nothing to do.
    pub(crate) fn flush(&mut self, chain: &crate::journal::Chain) -> Result<(), StoreError> {
        if let Some(e) = &self.link.failure {
            return Err(e.clone());
        }
        let Some(store) = self.link.store.clone() else {
            return Ok(());
        };
        {
            let mut batch = Batch::default();
            self.people.batch(&mut batch)?;
            self.cards.batch(&mut batch)?;
            batch.set_events(std::mem::take(&mut self.link.events));
            if let Err(e) = store.write(&batch, self.link.applied, chain) {
                // Kept for the next attempt: the store has none of it.
                self.link.events = batch.take_events();
                return Err(e);
            }
        }
        self.people.flushed();
        self.cards.flushed();
        self.link.seq = self.link.applied;
        Ok(())
    }

    /// Rebuild what a checkpoint does not store (per-person indexes) after loading one.
    pub(crate) fn rebuild_derived(&mut self) {
        self.cards.rebuild_derived();
        self.applications.rebuild_derived();
        self.temp_cards.rebuild_derived();
    }
}

/// Read-only access to a slice's map; a slice changes only in its `apply`.
macro_rules! deref_map {
    ($slice:ty => $field:ident: $map:ty) => {
        impl std::ops::Deref for $slice {
            type Target = $map;
            fn deref(&self) -> &$map {
                &self.$field
            }
        }
    };
}
pub(crate) use deref_map;
