//! The embedded population directory (used when no outside directory is plugged in).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::deref_map;
use crate::model::event::Event;
use crate::number::IdNumber;
use crate::population::Person;

/// People by identity number.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct People {
    by_number: HashMap<IdNumber, Person>,
    /// Guardians on record, by child (law art. 7).
    guardians: HashMap<IdNumber, Vec<IdNumber>>,
}
deref_map!(People => by_number: HashMap<IdNumber, Person>);

impl People {
    /// The guardians on record of `child`.
    pub fn guardians_of(&self, child: IdNumber) -> &[IdNumber] {
        self.guardians.get(&child).map_or(&[], |v| v.as_slice())
    }

    pub(super) fn apply(&mut self, event: &Event) {
        match event {
            Event::PeopleRegistered(e) => {
                for p in &e.people {
                    self.by_number.insert(
                        p.number,
                        Person {
                            number: p.number,
                            name: p.name.clone(),
                            hukou_division: p.hukou_division,
                            category: p.category,
                            fingerprint: p.fingerprint,
                            contact: p.contact.clone(),
                            deceased: p.deceased,
                            fee_exempt: p.fee_exempt,
                        },
                    );
                }
            }
            Event::GuardiansRecorded(e) => {
                for (child, guardian) in &e.pairs {
                    let list = self.guardians.entry(*child).or_default();
                    if !list.contains(guardian) {
                        list.push(*guardian);
                    }
                }
            }
            Event::PersonDied(e) => {
                if let Some(p) = self.by_number.get_mut(&e.number) {
                    p.deceased = true;
                }
            }
            _ => {}
        }
    }
}
