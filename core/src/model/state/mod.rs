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
pub use cards::{CardRecord, Cards, LossReport};
pub use found::{FoundCard, FoundCards, FoundOutcome};
pub use hits::{Hit, HitAcknowledgement, Hits};
pub use nonces::{MAX_SKEW_MS, NONCE_WINDOW_MS, Nonces};
pub use org::{Officers, Stations};
pub use people::People;
pub use publications::{Publication, Publications, Subscriber, Subscribers};
pub use stats::Stats;
pub use temporary::{TempCard, TempCardState, TempCards, TempCertificate, TempCertificates};

use super::event::Record;
use crate::policy::Policy;
use crate::station::Actor;

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
}

impl State {
    /// Apply one record. Never fails: the engine decides commands before recording them, and an
    /// event about something unknown changes nothing.
    pub fn apply(&mut self, seq: u64, record: &Record) {
        self.last_seq = seq;
        self.last_at_ms = record.at_ms;
        let at = Applied {
            seq,
            at_ms: record.at_ms,
            date: record.china_date(),
            actor: &record.actor,
        };
        let e = &record.event;
        self.nonces.apply(record.at_ms, record.auth.as_ref());
        self.stats.apply(e);
        self.stations.apply(e);
        self.officers.apply(e);
        self.people.apply(e);
        self.cards.apply(&at, e);
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
