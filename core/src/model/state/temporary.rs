//! Temporary papers: identity certificates for one trip (A8) and temporary resident cards
//! (T1-T5).

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{Applied, deref_map};
use crate::model::event::{Event, MissingCard, Trip};
use crate::number::IdNumber;
use crate::station::StationId;

/// A temporary identity certificate (A8).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TempCertificate {
    /// Identifier (the sequence number of its issue).
    pub id: u64,
    /// Who it identifies.
    pub number: IdNumber,
    /// Why they have no card.
    pub missing: MissingCard,
    /// The one trip it is for.
    pub trip: Trip,
    /// Issued where.
    pub station: StationId,
    /// Issued when (Unix ms).
    pub issued_ms: i64,
    /// Last valid moment (Unix ms).
    pub valid_until_ms: i64,
    /// Used (Unix ms) and by which station or unit.
    pub used: Option<(i64, StationId)>,
}

/// Temporary identity certificates by identifier.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TempCertificates {
    by_id: BTreeMap<u64, TempCertificate>,
}
deref_map!(TempCertificates => by_id: BTreeMap<u64, TempCertificate>);

impl TempCertificates {
    pub(super) fn apply(&mut self, at: &Applied<'_>, event: &Event) {
        match event {
            Event::TemporaryCertificateIssued(e) => {
                self.by_id.insert(
                    at.seq,
                    TempCertificate {
                        id: at.seq,
                        number: e.number,
                        missing: e.missing,
                        trip: e.trip.clone(),
                        station: at.actor.station.clone(),
                        issued_ms: at.at_ms,
                        valid_until_ms: e.valid_until_ms,
                        used: None,
                    },
                );
            }
            Event::TemporaryCertificateUsed(e) => {
                if let Some(c) = self.by_id.get_mut(&e.certificate) {
                    c.used = Some((at.at_ms, at.actor.station.clone()));
                }
            }
            _ => {}
        }
    }
}

/// Where a temporary resident card stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TempCardState {
    /// Applied for; to be issued within 3 days (T4).
    Applied,
    /// Issued; valid until its date (T5).
    Issued,
    /// Handed back (T5).
    Returned,
}

/// A temporary resident identity card (T1-T5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TempCard {
    /// Identifier (the sequence number of the application).
    pub id: u64,
    /// The holder.
    pub number: IdNumber,
    /// The guardian who applied, for an under-16 (T2).
    pub guardian: Option<IdNumber>,
    /// The station of permanent residence that took the application (T2).
    pub station: StationId,
    /// Applied on.
    pub applied_on: NaiveDate,
    /// To be issued by (T4: 3 days).
    pub issue_by: NaiveDate,
    /// Fee in fen (A7).
    pub fee_fen: u32,
    /// Issued on, valid until (T5: 3 months).
    pub issued: Option<(NaiveDate, NaiveDate)>,
    /// Where it stands.
    pub state: TempCardState,
}

/// Temporary resident cards by identifier, and each person's, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TempCards {
    by_id: BTreeMap<u64, TempCard>,
    /// Derived from `by_id`; not stored in checkpoints.
    #[serde(skip)]
    by_person: HashMap<IdNumber, Vec<u64>>,
}
deref_map!(TempCards => by_id: BTreeMap<u64, TempCard>);

impl TempCards {
    /// The person's temporary cards, oldest first.
    pub fn of(&self, number: IdNumber) -> impl Iterator<Item = &TempCard> {
        self.by_person
            .get(&number)
            .into_iter()
            .flatten()
            .filter_map(|id| self.by_id.get(id))
    }

    pub(super) fn apply(&mut self, at: &Applied<'_>, event: &Event) {
        match event {
            Event::TemporaryCardApplied(e) => {
                self.by_person.entry(e.number).or_default().push(at.seq);
                self.by_id.insert(
                    at.seq,
                    TempCard {
                        id: at.seq,
                        number: e.number,
                        guardian: e.guardian,
                        station: at.actor.station.clone(),
                        applied_on: e.applied_on,
                        issue_by: e.issue_by,
                        fee_fen: e.fee_fen,
                        issued: None,
                        state: TempCardState::Applied,
                    },
                );
            }
            Event::TemporaryCardIssued(e) => {
                if let Some(t) = self.by_id.get_mut(&e.temp_card) {
                    t.issued = Some((at.date, e.valid_until));
                    t.state = TempCardState::Issued;
                }
            }
            Event::TemporaryCardReturned(e) => {
                if let Some(t) = self.by_id.get_mut(&e.temp_card) {
                    t.state = TempCardState::Returned;
                }
            }
            _ => {}
        }
    }

    pub(super) fn rebuild_derived(&mut self) {
        self.by_person.clear();
        for (id, t) in &self.by_id {
            self.by_person.entry(t.number).or_default().push(*id);
        }
    }
}
