//! Stations and officers (S1, A2).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::deref_map;
use crate::model::event::Event;
use crate::station::{Officer, OfficerId, Station, StationId};

/// Registered stations and units by identifier.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stations {
    by_id: BTreeMap<StationId, Station>,
}
deref_map!(Stations => by_id: BTreeMap<StationId, Station>);

impl Stations {
    pub(super) fn apply(&mut self, event: &Event) {
        if let Event::StationRegistered(s) = event {
            self.by_id.insert(
                s.id.clone(),
                Station {
                    id: s.id.clone(),
                    kind: s.kind,
                    division: s.division,
                    name: s.name.clone(),
                },
            );
        }
    }
}

/// Registered officers by identifier.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Officers {
    by_id: BTreeMap<OfficerId, Officer>,
}
deref_map!(Officers => by_id: BTreeMap<OfficerId, Officer>);

impl Officers {
    pub(super) fn apply(&mut self, event: &Event) {
        match event {
            // (Version-1 payloads arrive upcast as version 2.)
            Event::OfficerRegisteredV2(o) => {
                self.by_id.insert(
                    o.id.clone(),
                    Officer {
                        id: o.id.clone(),
                        name: o.name.clone(),
                        station: o.station.clone(),
                        active: true,
                        key: o.key.clone(),
                    },
                );
            }
            Event::OfficerKeySet(k) => {
                if let Some(o) = self.by_id.get_mut(&k.officer) {
                    o.key = Some(k.key.clone());
                }
            }
            Event::OfficerDeactivated(d) => {
                if let Some(o) = self.by_id.get_mut(&d.officer) {
                    o.active = false;
                }
            }
            _ => {}
        }
    }
}
