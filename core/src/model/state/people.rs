//! The embedded population directory (used when no outside directory is plugged in).
//!
//! In an engine the people live in the population store ([`crate::store`]); the slice holds
//! the changes not yet written there (read first). A state of its own ([`State::default`],
//! replays for checking) holds everyone in memory.
//!
//! [`State::default`]: super::State

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::model::event::Event;
use crate::number::IdNumber;
use crate::population::Person;
use crate::store::{Batch, RowStore, StoreError, Table};

/// People by identity number.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct People {
    /// Everyone (no store), or those changed since the last flush.
    by_number: HashMap<IdNumber, Person>,
    /// Guardians on record, by child (law art. 7): all, or those changed since the last flush.
    guardians: HashMap<IdNumber, Vec<IdNumber>>,
    #[serde(skip)]
    store: Option<Arc<dyn RowStore>>,
}

/// Two directories are equal when they hold the same people in memory (the store is compared
/// by [`crate::engine::verify_journal`] through its contents).
impl PartialEq for People {
    fn eq(&self, other: &Self) -> bool {
        self.by_number == other.by_number && self.guardians == other.guardians
    }
}

impl Eq for People {}

impl People {
    /// A person.
    pub fn get(&self, number: IdNumber) -> Result<Option<Person>, StoreError> {
        match (self.by_number.get(&number), &self.store) {
            (Some(p), _) => Ok(Some(p.clone())),
            (None, Some(s)) => s.get(Table::People, number.to_u64()),
            (None, None) => Ok(None),
        }
    }

    /// The guardians on record of `child`.
    pub fn guardians_of(&self, child: IdNumber) -> Result<Vec<IdNumber>, StoreError> {
        match (self.guardians.get(&child), &self.store) {
            (Some(l), _) => Ok(l.clone()),
            (None, Some(s)) => Ok(s.get(Table::Guardians, child.to_u64())?.unwrap_or_default()),
            (None, None) => Ok(Vec::new()),
        }
    }

    /// Every person (in no particular order when in memory; in number order from the store,
    /// with the changes not yet written after).
    pub fn for_each(&self, mut f: impl FnMut(&Person)) -> Result<(), StoreError> {
        if let Some(s) = &self.store {
            s.for_each(Table::People, |_, p: Person| {
                if !self.by_number.contains_key(&p.number) {
                    f(&p);
                }
                Ok(())
            })?;
        }
        self.by_number.values().for_each(f);
        Ok(())
    }

    /// Every child's guardians' list (from the store, then the changes not yet written).
    pub fn for_each_guardians(
        &self,
        mut f: impl FnMut(IdNumber, &[IdNumber]),
    ) -> Result<(), StoreError> {
        if let Some(s) = &self.store {
            s.for_each(Table::Guardians, |k, list: Vec<IdNumber>| {
                let child =
                    IdNumber::from_u64(k).map_err(|e| s.err(format!("guardians {k:#x}: {e}")))?;
                if !self.guardians.contains_key(&child) {
                    f(child, &list);
                }
                Ok(())
            })?;
        }
        for (c, l) in &self.guardians {
            f(*c, l);
        }
        Ok(())
    }

    /// A copy held in memory, everyone read from the store.
    pub(super) fn to_memory(&self) -> Result<People, StoreError> {
        let mut out = People::default();
        self.for_each(|p| {
            out.by_number.insert(p.number, p.clone());
        })?;
        self.for_each_guardians(|c, l| {
            out.guardians.insert(c, l.to_vec());
        })?;
        Ok(out)
    }

    /// How many people and guardians' lists are held in memory.
    pub(super) fn held(&self) -> (usize, usize) {
        (self.by_number.len(), self.guardians.len())
    }

    /// How many changes wait to be written to the store (0 without one).
    pub(super) fn pending(&self) -> usize {
        if self.store.is_some() {
            self.by_number.len() + self.guardians.len()
        } else {
            0
        }
    }

    pub(super) fn attach(&mut self, store: Arc<dyn RowStore>) {
        self.store = Some(store);
    }

    pub(super) fn batch(&self, batch: &mut Batch) -> Result<(), StoreError> {
        for p in self.by_number.values() {
            batch.put(Table::People, p.number.to_u64(), p)?;
        }
        for (child, list) in &self.guardians {
            batch.put(Table::Guardians, child.to_u64(), list)?;
        }
        Ok(())
    }

    /// After a flush: the store holds the changes.
    pub(super) fn flushed(&mut self) {
        self.by_number = HashMap::new();
        self.guardians = HashMap::new();
    }

    pub(super) fn apply(&mut self, event: &Event) -> Result<(), StoreError> {
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
                    if !self.guardians.contains_key(child) {
                        let stored = self.guardians_of(*child)?;
                        self.guardians.insert(*child, stored);
                    }
                    let list = self.guardians.get_mut(child).expect("inserted above");
                    if !list.contains(guardian) {
                        list.push(*guardian);
                    }
                }
            }
            Event::PersonDied(e) => {
                if !self.by_number.contains_key(&e.number)
                    && let Some(p) = self.get(e.number)?
                {
                    self.by_number.insert(e.number, p);
                }
                if let Some(p) = self.by_number.get_mut(&e.number) {
                    p.deceased = true;
                }
            }
            _ => {}
        }
        Ok(())
    }
}
