//! Temporary papers — requirements A8 and T1-T5.
//!
//! - A8: a temporary identity certificate (临时身份证明) for someone whose card is lost, stolen
//!   or forgotten and who must fly, take a train or check into a hotel: issued by airport,
//!   railway station or hotel-precinct police after a population-system check, for that one
//!   flight, train or stay; verifiable; used up by its use.
//! - T1-T5: a temporary resident identity card (临时居民身份证) while a renewal or replacement is
//!   in progress: applied for at the police station of the place of permanent residence (a
//!   guardian for under-16s), household booklet and a recent one-inch bareheaded photo, issued
//!   by the county bureau within 3 days, valid 3 months, handed back when the resident card is
//!   collected.

use crate::engine::{Command, Ctx, EngineError, InPerson};
pub use crate::model::view::CertificateCheck;
use crate::model::{
    Event, State, TemporaryCardApplied, TemporaryCardIssued, TemporaryCardReturned,
    TemporaryCertificateIssued, TemporaryCertificateUsed,
};
pub use crate::model::{MissingCard, TempCard, TempCardState, TempCertificate, Trip};
use crate::number::IdNumber;
use crate::population::PersonCategory;
use crate::station::{CommandKind, StationKind};

/// Papers for a temporary card (T3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TempCardMaterials {
    /// The household register booklet.
    pub household_booklet: bool,
    /// A recent one-inch bareheaded photograph.
    pub photo: bool,
    /// The application form.
    pub registration_form: bool,
}

impl TempCardMaterials {
    /// Every paper T3 asks for.
    pub const COMPLETE: TempCardMaterials = TempCardMaterials {
        household_booklet: true,
        photo: true,
        registration_form: true,
    };

    /// Every missing paper, at once (T3).
    pub fn missing(&self) -> Vec<&'static str> {
        let mut missing = Vec::new();
        if !self.household_booklet {
            missing.push("the household register booklet");
        }
        if !self.photo {
            missing.push("a recent one-inch bareheaded photograph");
        }
        if !self.registration_form {
            missing.push("the application form");
        }
        missing
    }
}

/// Issue a temporary identity certificate for one trip (A8), after checking the traveller, in
/// person, in the population system: airport police for a flight, railway station police for a
/// train, the hotel's precinct station for a stay. Valid from issue to the end of the day after
/// the trip's date in China (a margin for a departure after midnight); the trip is at most
/// [`MAX_DAYS_AHEAD`] days ahead. An active serviceman or armed policeman shows their unit's
/// letter (L5).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IssueTemporaryCertificate {
    /// Who it identifies.
    pub number: IdNumber,
    /// Why they have no card.
    pub missing: MissingCard,
    /// The one trip it is for.
    pub trip: Trip,
    /// The trip's date (`None`: today).
    pub trip_date: Option<chrono::NaiveDate>,
    /// The person present: must be the traveller.
    pub present: InPerson,
    /// A serviceman's unit letter was shown (L5).
    pub unit_letter: bool,
}

/// How many days ahead a certificate may be issued for (the airport police's longest validity
/// of 15 days).
pub const MAX_DAYS_AHEAD: u64 = 15;

impl IssueTemporaryCertificate {
    /// A certificate for `number`, present in person, for `trip` today.
    pub fn new(number: IdNumber, missing: MissingCard, trip: Trip) -> Self {
        IssueTemporaryCertificate {
            number,
            missing,
            trip,
            trip_date: None,
            present: InPerson::holder(number),
            unit_letter: false,
        }
    }
}

impl Command for IssueTemporaryCertificate {
    const KIND: CommandKind = CommandKind::IssueTemporaryCertificate;
    type Decided = ();
    type Output = TempCertificate;

    fn decide(&self, ctx: &Ctx<'_>) -> Result<(Vec<Event>, ()), EngineError> {
        let issued_here = matches!(
            (ctx.station.kind, &self.trip),
            (StationKind::AirportPolice, Trip::Flight(_))
                | (StationKind::RailwayPolice, Trip::Train(_))
                | (StationKind::HotelPrecinctStation, Trip::HotelStay(_))
        );
        if !issued_here {
            return Err(ctx.refuse(
                "trip_kind_not_issued_here",
                format!(
                    "a {} issues certificates for {} only (A8)",
                    ctx.station.kind,
                    match ctx.station.kind {
                        StationKind::AirportPolice => "flights",
                        StationKind::RailwayPolice => "trains",
                        _ => "hotel stays in its precinct",
                    }
                ),
            ));
        }
        if self.present.number != self.number {
            return Err(ctx.refuse(
                "not_the_holder",
                "the certificate is issued to the traveller in person, checked against the population system (A8)",
            ));
        }
        let person = ctx.living_person(self.number)?;
        if matches!(
            person.category,
            PersonCategory::Serviceman | PersonCategory::ArmedPolice
        ) && !self.unit_letter
        {
            return Err(ctx.refuse(
                "unit_letter_required",
                "an active serviceman or armed policeman shows a letter of their unit (L5)",
            ));
        }
        if self.trip.reference().trim().is_empty() {
            return Err(ctx.refuse(
                "trip_required",
                "name the flight, train or stay the certificate is for (A8)",
            ));
        }
        let trip_date = self.trip_date.unwrap_or(ctx.today);
        if trip_date < ctx.today {
            return Err(ctx.refuse(
                "trip_in_the_past",
                format!("the trip's date {trip_date} is before today {}", ctx.today),
            ));
        }
        if trip_date > ctx.today + chrono::Days::new(MAX_DAYS_AHEAD) {
            return Err(ctx.refuse(
                "trip_too_far_ahead",
                format!("a certificate is issued at most {MAX_DAYS_AHEAD} days before the trip"),
            ));
        }
        let event = Event::TemporaryCertificateIssued(TemporaryCertificateIssued {
            number: self.number,
            missing: self.missing,
            trip: self.trip.clone(),
            valid_until_ms: crate::time::end_of_china_day(trip_date + chrono::Days::new(1))
                .timestamp_millis(),
        });
        Ok((vec![event], ()))
    }

    fn subject(&self) -> Option<crate::model::Subject> {
        Some(crate::model::Subject::Person(self.number))
    }

    fn finish(_: (), seq: u64, state: &State) -> TempCertificate {
        state.temp_certs[&seq].clone()
    }
}

/// Use a certificate for its trip (boarding, checking in): it must be valid for this person and
/// trip now, and afterwards it is used up (A8). Checked and used in one command, so two
/// counters cannot both use it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UseTemporaryCertificate {
    /// The certificate.
    pub certificate: u64,
    /// The traveller.
    pub number: IdNumber,
    /// The trip it is presented for.
    pub trip_reference: String,
}

impl Command for UseTemporaryCertificate {
    const KIND: CommandKind = CommandKind::UseTemporaryCertificate;
    type Decided = ();
    type Output = ();

    fn decide(&self, ctx: &Ctx<'_>) -> Result<(Vec<Event>, ()), EngineError> {
        let id = self.certificate;
        let check = crate::model::view::check_certificate(
            ctx.state,
            id,
            self.number,
            &self.trip_reference,
            ctx.now.timestamp_millis(),
        );
        match check {
            CertificateCheck::Valid => Ok((
                vec![Event::TemporaryCertificateUsed(TemporaryCertificateUsed {
                    certificate: id,
                })],
                (),
            )),
            other => Err(ctx.refuse(
                "certificate_not_valid",
                format!("certificate {id} is {other:?}"),
            )),
        }
    }

    fn subject(&self) -> Option<crate::model::Subject> {
        Some(crate::model::Subject::TemporaryCertificate(
            self.certificate,
        ))
    }

    fn finish(_: (), _: u64, _: &State) {}
}

/// Apply for a temporary resident card (T1-T3) at the station of permanent residence, while a
/// renewal or replacement is in progress; under-16s through a guardian (T2).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ApplyTemporaryCard {
    /// The holder.
    pub number: IdNumber,
    /// The person present (the holder, or the guardian of an under-16).
    pub present: InPerson,
    /// The guardian, for an under-16.
    pub guardian: Option<IdNumber>,
    /// The papers presented (T3).
    pub materials: TempCardMaterials,
}

impl Command for ApplyTemporaryCard {
    const KIND: CommandKind = CommandKind::ApplyTemporaryCard;
    type Decided = ();
    type Output = TempCard;

    fn decide(&self, ctx: &Ctx<'_>) -> Result<(Vec<Event>, ()), EngineError> {
        let (number, guardian, materials) = (self.number, self.guardian, self.materials);
        let person = ctx.living_person(number)?;
        if ctx.station.division != person.hukou_division {
            return Err(ctx.refuse(
                "not_permanent_residence",
                format!(
                    "apply at the police station of the place of permanent residence ({}) (T2)",
                    person.hukou_division
                ),
            ));
        }
        let age = number.age_on(ctx.today).unwrap_or(0);
        match (age < 16, guardian) {
            (true, None) => {
                return Err(ctx.refuse("guardian_required", "under 16: the guardian applies (T2)"));
            }
            (true, Some(g)) => {
                if self.present.number != g {
                    return Err(ctx.refuse(
                        "not_the_guardian",
                        "the guardian named must be the person present (T2)",
                    ));
                }
                let g_person = ctx.living_person(g)?;
                if g.age_on(ctx.today).unwrap_or(0) < 18 {
                    return Err(ctx.refuse(
                        "guardian_minor",
                        format!("the guardian {} is not of age", g_person.number),
                    ));
                }
            }
            (false, _) => {
                if self.present.number != number {
                    return Err(ctx.refuse(
                        "not_the_holder",
                        "the applicant applies in person (T2, A10)",
                    ));
                }
            }
        }
        if ctx.state.applications.open_of(number).is_none() {
            return Err(ctx.refuse(
                "no_application_in_progress",
                "a temporary card is for while a renewal or replacement is in progress (T1)",
            ));
        }
        if ctx
            .state
            .temp_cards
            .of(number)
            .any(|t| t.state != TempCardState::Returned)
        {
            return Err(ctx.refuse(
                "temporary_card_out",
                "a temporary card of this person is already applied for or out",
            ));
        }
        let missing = materials.missing();
        if !missing.is_empty() {
            return Err(ctx.refuse(
                "materials_incomplete",
                format!("missing: {} (T3)", missing.join("; ")),
            ));
        }
        let event = Event::TemporaryCardApplied(TemporaryCardApplied {
            number,
            guardian: if age < 16 { guardian } else { None },
            applied_on: ctx.today,
            issue_by: ctx.today + chrono::Days::new(3),
            fee_fen: ctx.state.policy.fees.temporary_card_fen,
        });
        Ok((vec![event], ()))
    }

    fn territories(&self, ctx: &Ctx<'_>) -> Result<Vec<crate::DivisionCode>, EngineError> {
        Ok(vec![ctx.hukou_of(self.number)?])
    }

    fn subject(&self) -> Option<crate::model::Subject> {
        Some(crate::model::Subject::Person(self.number))
    }

    fn finish(_: (), seq: u64, state: &State) -> TempCard {
        state.temp_cards[&seq].clone()
    }
}

/// Issue a temporary card at the county bureau of permanent residence (T3-T4): valid 3 months
/// from issue (T5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IssueTemporaryCard {
    /// The temporary card application.
    pub temp_card: u64,
}

impl Command for IssueTemporaryCard {
    const KIND: CommandKind = CommandKind::IssueTemporaryCard;
    type Decided = u64;
    type Output = TempCard;

    fn decide(&self, ctx: &Ctx<'_>) -> Result<(Vec<Event>, u64), EngineError> {
        let id = self.temp_card;
        let t = ctx.state.temp_cards.get(&id).ok_or_else(|| {
            ctx.refuse(
                "unknown_temporary_card",
                format!("no temporary card application {id}"),
            )
        })?;
        if t.state != TempCardState::Applied {
            return Err(ctx.refuse(
                "wrong_state",
                format!("temporary card {id} is {:?}", t.state),
            ));
        }
        let same_prefecture = ctx
            .state
            .stations
            .get(&t.station)
            .is_some_and(|s| s.division.prefecture() == ctx.station.division.prefecture());
        if !same_prefecture {
            return Err(ctx.refuse(
                "not_responsible",
                "issued by the county-level bureau of permanent residence (T3)",
            ));
        }
        let until = ctx
            .today
            .checked_add_months(chrono::Months::new(3))
            .unwrap_or(ctx.today);
        let event = Event::TemporaryCardIssued(TemporaryCardIssued {
            temp_card: id,
            valid_until: until,
        });
        Ok((vec![event], id))
    }

    fn territories(&self, ctx: &Ctx<'_>) -> Result<Vec<crate::DivisionCode>, EngineError> {
        match ctx.state.temp_cards.get(&self.temp_card) {
            Some(t) => Ok(vec![ctx.hukou_of(t.number)?]),
            None => Ok(Vec::new()),
        }
    }

    fn subject(&self) -> Option<crate::model::Subject> {
        Some(crate::model::Subject::TemporaryCard(self.temp_card))
    }

    fn finish(id: u64, _: u64, state: &State) -> TempCard {
        state.temp_cards[&id].clone()
    }
}

/// Take back a temporary card (T5), at the station of permanent residence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReturnTemporaryCard {
    /// The temporary card.
    pub temp_card: u64,
}

impl Command for ReturnTemporaryCard {
    const KIND: CommandKind = CommandKind::ReturnTemporaryCard;
    type Decided = ();
    type Output = ();

    fn decide(&self, ctx: &Ctx<'_>) -> Result<(Vec<Event>, ()), EngineError> {
        let id = self.temp_card;
        match ctx.state.temp_cards.get(&id) {
            Some(t) if t.state == TempCardState::Issued => Ok((
                vec![Event::TemporaryCardReturned(TemporaryCardReturned {
                    temp_card: id,
                })],
                (),
            )),
            Some(t) => Err(ctx.refuse(
                "wrong_state",
                format!("temporary card {id} is {:?}", t.state),
            )),
            None => Err(ctx.refuse("unknown_temporary_card", format!("no temporary card {id}"))),
        }
    }

    fn territories(&self, ctx: &Ctx<'_>) -> Result<Vec<crate::DivisionCode>, EngineError> {
        match ctx.state.temp_cards.get(&self.temp_card) {
            Some(t) => Ok(vec![ctx.hukou_of(t.number)?]),
            None => Ok(Vec::new()),
        }
    }

    fn subject(&self) -> Option<crate::model::Subject> {
        Some(crate::model::Subject::TemporaryCard(self.temp_card))
    }

    fn finish(_: (), _: u64, _: &State) {}
}
