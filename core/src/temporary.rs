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

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::engine::{Ctx, Engine, EngineError, Event, InPerson};
use crate::number::IdNumber;
use crate::station::{Actor, CommandKind, StationId};

/// Why the traveller has no card with them (A8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissingCard {
    /// Lost.
    Lost,
    /// Stolen.
    Stolen,
    /// Forgotten.
    Forgotten,
}

impl std::str::FromStr for MissingCard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "lost" => Ok(MissingCard::Lost),
            "stolen" => Ok(MissingCard::Stolen),
            "forgotten" => Ok(MissingCard::Forgotten),
            _ => Err(format!("{s:?}: lost, stolen or forgotten")),
        }
    }
}

/// The one trip a certificate is for (A8).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trip {
    /// A flight, e.g. `CA1831 2026-01-15`.
    Flight(String),
    /// A train, e.g. `G101 2026-01-15`.
    Train(String),
    /// A hotel stay, e.g. `Hotel name, 2026-01-15`.
    HotelStay(String),
}

impl Trip {
    /// The reference printed on the certificate.
    pub fn reference(&self) -> &str {
        match self {
            Trip::Flight(r) | Trip::Train(r) | Trip::HotelStay(r) => r,
        }
    }
}

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
    /// Last valid moment (Unix ms): the end of the day after issue, China time.
    pub valid_until_ms: i64,
    /// Used (Unix ms) and by which station or unit.
    pub used: Option<(i64, StationId)>,
}

/// How a check of a certificate came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CertificateCheck {
    /// Good for this person and trip now.
    Valid,
    /// No such certificate.
    Unknown,
    /// Issued to someone else or for another trip.
    Mismatch,
    /// Already used.
    Used,
    /// Expired.
    Expired,
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
    /// Fee in fen (A7: 10 yuan).
    pub fee_fen: u32,
    /// Issued on, valid until (T5: 3 months).
    pub issued: Option<(NaiveDate, NaiveDate)>,
    /// Where it stands.
    pub state: TempCardState,
}

/// Papers for a temporary card (T3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
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
}

fn end_of_next_china_day(now: DateTime<Utc>) -> i64 {
    let china = now + chrono::Duration::hours(8);
    let next_midnight = (china.date_naive() + chrono::Days::new(2))
        .and_hms_opt(0, 0, 0)
        .expect("midnight");
    (next_midnight.and_utc() - chrono::Duration::hours(8)).timestamp_millis() - 1
}

impl Ctx<'_> {
    fn in_progress(&self, number: IdNumber) -> bool {
        self.state.applications_of(number).any(|a| {
            !matches!(
                a.state,
                crate::offsite::ApplicationState::Issued
                    | crate::offsite::ApplicationState::Rejected(_)
            )
        })
    }
}

impl Engine {
    /// Issue a temporary identity certificate for one trip (A8), after checking the person in
    /// the population system.
    pub fn issue_temporary_certificate(
        &self,
        actor: &Actor,
        number: IdNumber,
        missing: MissingCard,
        trip: Trip,
    ) -> Result<TempCertificate, EngineError> {
        let (_, id) = self.run_seq(actor, CommandKind::IssueTemporaryCertificate, |ctx| {
            ctx.living_person(number)?;
            if trip.reference().trim().is_empty() {
                return Err(ctx.refuse(
                    "trip_required",
                    "name the flight, train or stay the certificate is for (A8)",
                ));
            }
            let cert = TempCertificate {
                id: 0,
                number,
                missing,
                trip: trip.clone(),
                station: ctx.actor.station.clone(),
                issued_ms: ctx.now.timestamp_millis(),
                valid_until_ms: end_of_next_china_day(ctx.now),
                used: None,
            };
            Ok((vec![Event::TemporaryCertificateIssued(Box::new(cert))], ()))
        })?;
        Ok(self.with_state(|s| s.temp_certs[&id].clone()))
    }

    /// Check a certificate presented for a trip (anyone may check: no record is written).
    pub fn check_temporary_certificate(
        &self,
        id: u64,
        number: IdNumber,
        trip_reference: &str,
    ) -> CertificateCheck {
        let now = self.clock().now().timestamp_millis();
        self.with_state(|s| match s.temp_certs.get(&id) {
            None => CertificateCheck::Unknown,
            Some(c) if c.number != number || c.trip.reference() != trip_reference => {
                CertificateCheck::Mismatch
            }
            Some(c) if c.used.is_some() => CertificateCheck::Used,
            Some(c) if now > c.valid_until_ms => CertificateCheck::Expired,
            Some(_) => CertificateCheck::Valid,
        })
    }

    /// Use a certificate for its trip (boarding, checking in): afterwards it is used up (A8).
    pub fn use_temporary_certificate(
        &self,
        actor: &Actor,
        id: u64,
        number: IdNumber,
        trip_reference: &str,
    ) -> Result<(), EngineError> {
        let check = self.check_temporary_certificate(id, number, trip_reference);
        self.run(
            actor,
            CommandKind::UseTemporaryCertificate,
            |ctx| match check {
                CertificateCheck::Valid => Ok((
                    vec![Event::TemporaryCertificateUsed { certificate: id }],
                    (),
                )),
                other => Err(ctx.refuse(
                    "certificate_not_valid",
                    format!("certificate {id} is {other:?}"),
                )),
            },
        )
    }

    /// Apply for a temporary resident card (T1-T3) at the station of permanent residence, while
    /// a renewal or replacement is in progress; under-16s through a guardian (T2).
    pub fn apply_temporary_card(
        &self,
        actor: &Actor,
        number: IdNumber,
        present: &InPerson,
        guardian: Option<IdNumber>,
        materials: TempCardMaterials,
    ) -> Result<TempCard, EngineError> {
        let (_, id) = self.run_seq(actor, CommandKind::ApplyTemporaryCard, |ctx| {
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
                    return Err(
                        ctx.refuse("guardian_required", "under 16: the guardian applies (T2)")
                    );
                }
                (true, Some(g)) => {
                    if present.number != g {
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
                    if present.number != number {
                        return Err(ctx.refuse(
                            "not_the_holder",
                            "the applicant applies in person (T2, A10)",
                        ));
                    }
                }
            }
            if !ctx.in_progress(number) {
                return Err(ctx.refuse(
                    "no_application_in_progress",
                    "a temporary card is for while a renewal or replacement is in progress (T1)",
                ));
            }
            if ctx
                .state
                .temp_cards_of(number)
                .any(|t| t.state != TempCardState::Returned)
            {
                return Err(ctx.refuse(
                    "temporary_card_out",
                    "a temporary card of this person is already applied for or out",
                ));
            }
            let mut missing = Vec::new();
            if !materials.household_booklet {
                missing.push("the household register booklet");
            }
            if !materials.photo {
                missing.push("a recent one-inch bareheaded photograph");
            }
            if !materials.registration_form {
                missing.push("the application form");
            }
            if !missing.is_empty() {
                return Err(ctx.refuse(
                    "materials_incomplete",
                    format!("missing: {} (T3)", missing.join("; ")),
                ));
            }
            let card = TempCard {
                id: 0,
                number,
                guardian: if age < 16 { guardian } else { None },
                station: ctx.actor.station.clone(),
                applied_on: ctx.today,
                issue_by: ctx.today + chrono::Days::new(3),
                fee_fen: ctx.state.policy.fees.temporary_card_fen,
                issued: None,
                state: TempCardState::Applied,
            };
            Ok((vec![Event::TemporaryCardApplied(Box::new(card))], ()))
        })?;
        Ok(self.with_state(|s| s.temp_cards[&id].clone()))
    }

    /// Issue a temporary card at the county bureau of permanent residence (T3-T4): valid 3
    /// months from issue (T5).
    pub fn issue_temporary_card(&self, actor: &Actor, id: u64) -> Result<TempCard, EngineError> {
        self.run(actor, CommandKind::IssueTemporaryCard, |ctx| {
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
            let station_division = ctx
                .state
                .stations
                .get(&t.station)
                .map(|s| s.division.get())
                .unwrap_or(0);
            if ctx.station.division.get() / 100 != station_division / 100 {
                return Err(ctx.refuse(
                    "not_responsible",
                    "issued by the county-level bureau of permanent residence (T3)",
                ));
            }
            let until = ctx
                .today
                .checked_add_months(chrono::Months::new(3))
                .unwrap_or(ctx.today);
            let mut issued = t.clone();
            issued.issued = Some((ctx.today, until));
            issued.state = TempCardState::Issued;
            Ok((
                vec![Event::TemporaryCardIssued {
                    temp_card: id,
                    valid_until: until,
                }],
                issued,
            ))
        })
    }

    /// Take back a temporary card (T5), at the station of permanent residence.
    pub fn return_temporary_card(&self, actor: &Actor, id: u64) -> Result<(), EngineError> {
        self.run(actor, CommandKind::ReturnTemporaryCard, |ctx| {
            match ctx.state.temp_cards.get(&id) {
                Some(t) if t.state == TempCardState::Issued => {
                    Ok((vec![Event::TemporaryCardReturned { temp_card: id }], ()))
                }
                Some(t) => Err(ctx.refuse(
                    "wrong_state",
                    format!("temporary card {id} is {:?}", t.state),
                )),
                None => {
                    Err(ctx.refuse("unknown_temporary_card", format!("no temporary card {id}")))
                }
            }
        })
    }

    /// Temporary cards not issued within 3 days (T4), and issued ones past their validity that
    /// were not handed back (T5), on `today`.
    pub fn temporary_cards_overdue(&self, today: NaiveDate) -> (Vec<TempCard>, Vec<TempCard>) {
        self.with_state(|s| {
            let late = s
                .temp_cards
                .values()
                .filter(|t| t.state == TempCardState::Applied && t.issue_by < today)
                .cloned()
                .collect();
            let expired = s
                .temp_cards
                .values()
                .filter(|t| {
                    t.state == TempCardState::Issued
                        && t.issued.is_some_and(|(_, until)| until < today)
                })
                .cloned()
                .collect();
            (late, expired)
        })
    }
}

/// State changes of temporary papers (called by `State::apply`).
pub(crate) fn apply(state: &mut crate::engine::State, seq: u64, record: &crate::engine::Record) {
    let at_ms = record.at_ms;
    match &record.event {
        Event::TemporaryCertificateIssued(c) => {
            let mut c = (**c).clone();
            c.id = seq;
            state.temp_certs.insert(seq, c);
        }
        Event::TemporaryCertificateUsed { certificate } => {
            if let Some(c) = state.temp_certs.get_mut(certificate) {
                c.used = Some((at_ms, record.actor.station.clone()));
            }
        }
        Event::TemporaryCardApplied(t) => {
            let mut t = (**t).clone();
            t.id = seq;
            state.temp_cards_of.entry(t.number).or_default().push(seq);
            state.temp_cards.insert(seq, t);
        }
        Event::TemporaryCardIssued {
            temp_card,
            valid_until,
        } => {
            let day = record.china_date();
            if let Some(t) = state.temp_cards.get_mut(temp_card) {
                t.issued = Some((day, *valid_until));
                t.state = TempCardState::Issued;
            }
        }
        Event::TemporaryCardReturned { temp_card } => {
            if let Some(t) = state.temp_cards.get_mut(temp_card) {
                t.state = TempCardState::Returned;
            }
        }
        _ => {}
    }
}
