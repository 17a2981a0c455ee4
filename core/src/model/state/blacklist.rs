//! The blacklist of people refused off-site applications (A6).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{Applied, deref_map};
use crate::index::BlacklistEntry;
use crate::model::event::Event;
use crate::number::IdNumber;
use crate::station::Actor;

/// A blacklist entry on record (A6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlacklistRecord {
    /// Reasons, source, date.
    pub entry: BlacklistEntry,
    /// Who listed them.
    pub by: Actor,
}

/// Blacklisted people by number.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blacklist {
    by_number: HashMap<IdNumber, BlacklistRecord>,
}
deref_map!(Blacklist => by_number: HashMap<IdNumber, BlacklistRecord>);

impl Blacklist {
    pub(super) fn apply(&mut self, at: &Applied<'_>, event: &Event) {
        let record = |entry: &BlacklistEntry| BlacklistRecord {
            entry: *entry,
            by: at.actor.clone(),
        };
        match event {
            Event::BlacklistAdded(e) => {
                self.by_number.insert(e.number, record(&e.entry));
            }
            Event::BlacklistBulkAdded(e) => {
                for (number, entry) in &e.entries {
                    self.by_number.insert(*number, record(entry));
                }
            }
            Event::BlacklistRemoved(e) => {
                self.by_number.remove(&e.number);
            }
            _ => {}
        }
    }
}
