//! Counters derived from the journal.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::event::Event;
use crate::station::CommandKind;

/// Records by event kind and refusals by command and reason code.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Records by event kind ([`Event::kind`]).
    pub events: BTreeMap<String, u64>,
    /// Refusals by command and reason code.
    pub refusals: BTreeMap<(CommandKind, String), u64>,
}

impl Stats {
    pub(super) fn apply(&mut self, event: &Event) {
        let kind = event.kind();
        match self.events.get_mut(kind) {
            Some(n) => *n += 1,
            None => {
                self.events.insert(kind.to_string(), 1);
            }
        }
        match event {
            Event::CommandRefused(r) => {
                *self
                    .refusals
                    .entry((r.command, r.code.clone()))
                    .or_default() += 1;
            }
            Event::CommandRefusedV2(r) => {
                *self
                    .refusals
                    .entry((r.command, r.code.clone()))
                    .or_default() += 1;
            }
            Event::AuthenticationFailed(r) => {
                *self
                    .refusals
                    .entry((r.command, r.code.clone()))
                    .or_default() += 1;
            }
            _ => {}
        }
    }
}
