//! Applications for renewal and replacement (A1-A4, A7, A11).

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{Applied, deref_map};
use crate::card::{CardKey, ValidityPeriod};
use crate::model::event::{ApplicationKind, Event, FeeRelief, Place};
use crate::number::IdNumber;
use crate::station::StationId;

/// Where an application stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationState {
    /// Accepted; at the hukou-place bureau for review (A4).
    Accepted,
    /// Signed off; to be produced.
    Approved,
    /// Refused at review, with the reason (A11).
    Rejected(String),
    /// Produced and checked; ready for pickup at the point.
    Produced,
    /// Collected by the applicant.
    Issued,
}

impl ApplicationState {
    /// `awaiting_review`, `in_production`, `rejected`, `ready_for_pickup` or `issued`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ApplicationState::Accepted => "awaiting_review",
            ApplicationState::Approved => "in_production",
            ApplicationState::Rejected(_) => "rejected",
            ApplicationState::Produced => "ready_for_pickup",
            ApplicationState::Issued => "issued",
        }
    }
}

/// An application on record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    /// Identifier: the sequence number of its acceptance.
    pub id: u64,
    /// First application, renewal (expiry, damage, changed particulars), replacement.
    pub kind: ApplicationKind,
    /// At the household registration place or off-site.
    pub place: Place,
    /// The applicant.
    pub number: IdNumber,
    /// The card renewed or replaced (`None` for a first application).
    pub old_card: Option<CardKey>,
    /// The guardian who applied for an under-16.
    pub guardian: Option<IdNumber>,
    /// Where it was accepted (and the card is produced and collected): the acceptance point
    /// or the household registration station or hall.
    pub point: StationId,
    /// The county bureau of the household registration place that reviews it (A4, A11).
    pub hukou_bureau: StationId,
    /// Date of the registration form.
    pub accepted_on: NaiveDate,
    /// Date by which the card must be issued (A4), extensions included.
    pub deadline: NaiveDate,
    /// Days added for a remote area so far.
    pub extended_days: u32,
    /// The fee charged, in fen (A7).
    pub fee_fen: u32,
    /// Why the fee is below the schedule, if it is (A7).
    pub fee_relief: FeeRelief,
    /// Validity period of the new card, from the age on the application date (N5).
    pub period: ValidityPeriod,
    /// Fingerprints registered on the new card (N6).
    pub fingerprints: bool,
    /// The receipt code the applicant collects with (A4).
    pub pickup_receipt: String,
    /// The new card, once produced.
    pub new_card: Option<CardKey>,
    /// Where it stands.
    pub state: ApplicationState,
    /// Escalated to the reviewing bureau for missing its deadline (A4).
    pub escalated: bool,
}

impl Application {
    /// Still in progress: neither issued nor rejected. The one definition every rule uses (an
    /// application in progress blocks another, T1 needs one, A4 deadlines run on them).
    pub fn is_open(&self) -> bool {
        !matches!(
            self.state,
            ApplicationState::Issued | ApplicationState::Rejected(_)
        )
    }

    /// Open and past its deadline on `today` (A4).
    pub fn is_overdue(&self, today: NaiveDate) -> bool {
        self.is_open() && self.deadline < today
    }
}

/// The receipt code of an application (printed on the pickup receipt).
fn receipt(id: u64, number: IdNumber) -> String {
    let h = xxhash_rust::xxh3::xxh3_64(&[id.to_le_bytes(), number.to_u64().to_le_bytes()].concat());
    format!("R{id}-{:06}", h % 1_000_000)
}

/// Applications by identifier, and each person's, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applications {
    by_id: BTreeMap<u64, Application>,
    /// Derived from `by_id`; not stored in checkpoints.
    #[serde(skip)]
    by_person: HashMap<IdNumber, Vec<u64>>,
}
deref_map!(Applications => by_id: BTreeMap<u64, Application>);

impl Applications {
    /// The person's applications, oldest first.
    pub fn of(&self, number: IdNumber) -> impl Iterator<Item = &Application> {
        self.by_person
            .get(&number)
            .into_iter()
            .flatten()
            .filter_map(|id| self.by_id.get(id))
    }

    /// The person's application in progress, if any.
    pub fn open_of(&self, number: IdNumber) -> Option<&Application> {
        self.of(number).find(|a| a.is_open())
    }

    pub(super) fn apply(&mut self, at: &Applied<'_>, event: &Event) {
        let app = match event {
            Event::ApplicationAccepted(e) => Some(Application {
                id: at.seq,
                kind: e.kind,
                place: Place::Offsite,
                number: e.number,
                old_card: Some(e.old_card),
                guardian: None,
                point: at.actor.station.clone(),
                hukou_bureau: e.hukou_bureau.clone(),
                accepted_on: e.accepted_on,
                deadline: e.deadline,
                extended_days: 0,
                fee_fen: e.fee_fen,
                fee_relief: if e.fee_exempt {
                    FeeRelief::Waived
                } else {
                    FeeRelief::None
                },
                period: e.period,
                fingerprints: e.fingerprints,
                pickup_receipt: receipt(at.seq, e.number),
                new_card: None,
                state: ApplicationState::Accepted,
                escalated: false,
            }),
            Event::ApplicationAcceptedV2(e) => Some(Application {
                id: at.seq,
                kind: e.kind,
                place: e.place,
                number: e.number,
                old_card: e.old_card,
                guardian: e.guardian,
                point: at.actor.station.clone(),
                hukou_bureau: e.hukou_bureau.clone(),
                accepted_on: e.accepted_on,
                deadline: e.deadline,
                extended_days: 0,
                fee_fen: e.fee_fen,
                fee_relief: e.fee_relief,
                period: e.period,
                fingerprints: e.fingerprints,
                pickup_receipt: receipt(at.seq, e.number),
                new_card: None,
                state: ApplicationState::Accepted,
                escalated: false,
            }),
            _ => None,
        };
        if let Some(app) = app {
            self.accept(at, app);
            return;
        }
        let mut with = |id: &u64, f: &mut dyn FnMut(&mut Application)| {
            if let Some(a) = self.by_id.get_mut(id) {
                f(a)
            }
        };
        match event {
            Event::ApplicationEscalated(e) => with(&e.application, &mut |a| a.escalated = true),
            Event::ApplicationReviewed(e) => with(&e.application, &mut |a| {
                a.state = if e.approved {
                    ApplicationState::Approved
                } else {
                    ApplicationState::Rejected(e.note.clone())
                };
            }),
            Event::ApplicationCardProduced(e) => with(&e.application, &mut |a| {
                a.state = ApplicationState::Produced;
                a.new_card = Some(e.card);
            }),
            Event::ApplicationCardIssued(e) => with(&e.application, &mut |a| {
                a.state = ApplicationState::Issued;
            }),
            Event::DeadlineExtended(e) => with(&e.application, &mut |a| {
                a.extended_days += e.days;
                a.deadline = a.deadline + chrono::Days::new(e.days as u64);
            }),
            _ => {}
        }
    }

    fn accept(&mut self, at: &Applied<'_>, app: Application) {
        self.by_person.entry(app.number).or_default().push(at.seq);
        self.by_id.insert(at.seq, app);
    }

    pub(super) fn rebuild_derived(&mut self) {
        self.by_person.clear();
        for (id, a) in &self.by_id {
            self.by_person.entry(a.number).or_default().push(*id);
        }
    }
}
