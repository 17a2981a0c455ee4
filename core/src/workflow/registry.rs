//! Keeping the registries: stations and officers (S1), the embedded population directory, the
//! card register (N4-N6), and their CSV imports (`docs/FORMAT.md` §6).

use std::io::Read;

use chrono::NaiveDate;

use crate::card::{CardKey, ValidityPeriod};
use crate::division::{DivisionCode, DivisionTable};
use crate::engine::{Command, Ctx, EngineError};
use crate::index::ImportError;
use crate::index::{CardReason, CardStatus};
use crate::model::{
    CardRegistration, CardStatusChanged, CardsRegistered, Event, OfficerDeactivated, OfficerKeySet,
    OfficerRegisteredV2, PeopleRegistered, PersonDied, PersonEntry, State, StationRegistered,
    Subject,
};
use crate::number::{IdNumber, NumberKind, Parser};
use crate::population::{Person, TemplateDigest};
use crate::station::{CommandKind, Officer, OfficerId, OfficerKey, Station};

/// Records per event in bulk registrations (keeps each journal record a few hundred KB).
const BATCH: usize = 10_000;

/// Register a station (a county bureau officer, S1). The division must exist in the division
/// table; the id must be new.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RegisterStation(pub Station);

impl Command for RegisterStation {
    const KIND: CommandKind = CommandKind::RegisterStation;
    type Decided = ();
    type Output = ();

    fn decide(&self, ctx: &Ctx<'_>) -> Result<(Vec<Event>, ()), EngineError> {
        let s = &self.0;
        if !ctx.station.kind.may_register(s.kind) {
            return Err(ctx.refuse(
                "may_not_register",
                format!("a {} may not register a {}", ctx.station.kind, s.kind),
            ));
        }
        if ctx.state.stations.contains_key(&s.id) {
            return Err(ctx.refuse(
                "already_exists",
                format!("station {} is already registered", s.id),
            ));
        }
        if !DivisionTable::builtin().contains(s.division) {
            return Err(ctx.refuse(
                "invalid_division",
                format!("division {} does not exist", s.division),
            ));
        }
        let event = Event::StationRegistered(StationRegistered {
            id: s.id.clone(),
            kind: s.kind,
            division: s.division,
            name: s.name.clone(),
        });
        Ok((vec![event], ()))
    }

    fn territories(&self, _: &Ctx<'_>) -> Result<Vec<DivisionCode>, EngineError> {
        Ok(vec![self.0.division])
    }

    fn subject(&self) -> Option<crate::model::Subject> {
        Some(crate::model::Subject::Station(self.0.id.clone()))
    }

    fn finish(_: (), _: u64, _: &State) {}
}

/// Register an officer at an existing station (a county bureau officer, S1). The officer is
/// active from registration (`active` of the request is not consulted).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RegisterOfficer(pub Officer);

impl Command for RegisterOfficer {
    const KIND: CommandKind = CommandKind::RegisterOfficer;
    type Decided = ();
    type Output = ();

    fn decide(&self, ctx: &Ctx<'_>) -> Result<(Vec<Event>, ()), EngineError> {
        let o = &self.0;
        if ctx.state.officers.contains_key(&o.id) {
            return Err(ctx.refuse(
                "already_exists",
                format!("officer {} is already registered", o.id),
            ));
        }
        let Some(station) = ctx.state.stations.get(&o.station) else {
            return Err(ctx.refuse(
                "unknown_station",
                format!("station {} is not registered", o.station),
            ));
        };
        // Officers of the bureau's own station, or of a station it may register.
        if station.id != ctx.station.id && !ctx.station.kind.may_register(station.kind) {
            return Err(ctx.refuse(
                "may_not_register",
                format!(
                    "a {} may not register officers of a {}",
                    ctx.station.kind, station.kind
                ),
            ));
        }
        if let Some(key) = &o.key
            && key.id().is_none()
        {
            return Err(ctx.refuse(
                "invalid_key",
                format!("officer {}'s public key is not a valid key", o.id),
            ));
        }
        let event = Event::OfficerRegisteredV2(OfficerRegisteredV2 {
            id: o.id.clone(),
            name: o.name.clone(),
            station: o.station.clone(),
            key: o.key.clone(),
        });
        Ok((vec![event], ()))
    }

    fn territories(&self, ctx: &Ctx<'_>) -> Result<Vec<DivisionCode>, EngineError> {
        Ok(ctx
            .state
            .stations
            .get(&self.0.station)
            .map(|s| s.division)
            .into_iter()
            .collect())
    }

    fn subject(&self) -> Option<crate::model::Subject> {
        Some(crate::model::Subject::Officer(self.0.id.clone()))
    }

    fn finish(_: (), _: u64, _: &State) {}
}

/// Deactivate an officer: they may no longer act (S1).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeactivateOfficer(pub OfficerId);

impl Command for DeactivateOfficer {
    const KIND: CommandKind = CommandKind::DeactivateOfficer;
    type Decided = ();
    type Output = ();

    fn decide(&self, ctx: &Ctx<'_>) -> Result<(Vec<Event>, ()), EngineError> {
        let officer = &self.0;
        match ctx.state.officers.get(officer) {
            Some(o) if o.active => Ok((
                vec![Event::OfficerDeactivated(OfficerDeactivated {
                    officer: officer.clone(),
                })],
                (),
            )),
            Some(_) => Err(ctx.refuse(
                "officer_inactive",
                format!("officer {officer} is already inactive"),
            )),
            None => Err(ctx.refuse(
                "unknown_officer",
                format!("officer {officer} is not registered"),
            )),
        }
    }

    fn territories(&self, ctx: &Ctx<'_>) -> Result<Vec<DivisionCode>, EngineError> {
        Ok(ctx
            .state
            .officers
            .get(&self.0)
            .and_then(|o| ctx.state.stations.get(&o.station))
            .map(|s| s.division)
            .into_iter()
            .collect())
    }

    fn subject(&self) -> Option<crate::model::Subject> {
        Some(crate::model::Subject::Officer(self.0.clone()))
    }

    fn finish(_: (), _: u64, _: &State) {}
}

/// Give an officer a new key (a new certificate): from this record on only the new key signs
/// for them. By whoever may register the officer (S1).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SetOfficerKey {
    /// The officer.
    pub officer: OfficerId,
    /// The new public key.
    pub key: OfficerKey,
}

impl Command for SetOfficerKey {
    const KIND: CommandKind = CommandKind::SetOfficerKey;
    type Decided = ();
    type Output = ();

    fn decide(&self, ctx: &Ctx<'_>) -> Result<(Vec<Event>, ()), EngineError> {
        let Some(officer) = ctx.state.officers.get(&self.officer) else {
            return Err(ctx.refuse(
                "unknown_officer",
                format!("officer {} is not registered", self.officer),
            ));
        };
        let station = ctx.state.stations.get(&officer.station);
        if let Some(station) = station
            && station.id != ctx.station.id
            && !ctx.station.kind.may_register(station.kind)
        {
            return Err(ctx.refuse(
                "may_not_register",
                format!(
                    "a {} may not set the keys of officers of a {}",
                    ctx.station.kind, station.kind
                ),
            ));
        }
        if self.key.id().is_none() {
            return Err(ctx.refuse("invalid_key", "the public key is not a valid key"));
        }
        let event = Event::OfficerKeySet(OfficerKeySet {
            officer: self.officer.clone(),
            key: self.key.clone(),
        });
        Ok((vec![event], ()))
    }

    fn territories(&self, ctx: &Ctx<'_>) -> Result<Vec<DivisionCode>, EngineError> {
        Ok(ctx
            .state
            .officers
            .get(&self.officer)
            .and_then(|o| ctx.state.stations.get(&o.station))
            .map(|s| s.division)
            .into_iter()
            .collect())
    }

    fn subject(&self) -> Option<Subject> {
        Some(Subject::Officer(self.officer.clone()))
    }

    fn finish(_: (), _: u64, _: &State) {}
}

/// Enter people in the embedded population directory (a county bureau officer); returns how
/// many.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RegisterPeople(pub Vec<Person>);

impl Command for RegisterPeople {
    const KIND: CommandKind = CommandKind::RegisterPeople;
    type Decided = usize;
    type Output = usize;

    fn decide(&self, ctx: &Ctx<'_>) -> Result<(Vec<Event>, usize), EngineError> {
        let people = &self.0;
        if let Some(p) = people
            .iter()
            .find(|p| p.number.kind() != NumberKind::Citizen)
        {
            return Err(not_a_citizen(ctx, p.number));
        }
        if let Some(p) = people
            .iter()
            .find(|p| !DivisionTable::builtin().contains(p.hukou_division))
        {
            return Err(ctx.refuse(
                "invalid_division",
                format!(
                    "{}: household registration division {} does not exist",
                    p.number, p.hukou_division
                ),
            ));
        }
        let events = people
            .chunks(BATCH)
            .map(|c| {
                Event::PeopleRegistered(PeopleRegistered {
                    people: c.iter().map(person_entry).collect(),
                })
            })
            .collect();
        Ok((events, people.len()))
    }

    fn territories(&self, _: &Ctx<'_>) -> Result<Vec<DivisionCode>, EngineError> {
        let mut d: Vec<DivisionCode> = self.0.iter().map(|p| p.hukou_division).collect();
        d.sort_unstable();
        d.dedup();
        Ok(d)
    }

    fn finish(n: usize, _: u64, _: &State) -> usize {
        n
    }
}

fn person_entry(p: &Person) -> PersonEntry {
    PersonEntry {
        number: p.number,
        name: p.name.clone(),
        hukou_division: p.hukou_division,
        category: p.category,
        fingerprint: p.fingerprint,
        contact: p.contact.clone(),
        deceased: p.deceased,
        fee_exempt: p.fee_exempt,
    }
}

/// Record a death (A10: a dead person's papers must not be used): the person's valid cards
/// become invalidated (reason `holder_deceased`), so verifiers refuse them; lost or stolen
/// cards stay listed as they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RecordDeath(pub IdNumber);

impl Command for RecordDeath {
    const KIND: CommandKind = CommandKind::RecordDeath;
    type Decided = ();
    type Output = ();

    fn decide(&self, ctx: &Ctx<'_>) -> Result<(Vec<Event>, ()), EngineError> {
        let number = self.0;
        ctx.living_person(number)?;
        let mut events = vec![Event::PersonDied(PersonDied { number })];
        for c in ctx.state.cards.of(number)? {
            if c.status == CardStatus::Valid {
                events.push(Event::CardStatusChanged(CardStatusChanged {
                    card: c.key,
                    status: CardStatus::Invalidated,
                    reason: CardReason::HOLDER_DECEASED,
                }));
            }
        }
        // An application in progress is closed: no card is made for the dead (A10).
        for a in ctx.state.applications.of(number).filter(|a| a.is_open()) {
            events.push(Event::ApplicationReviewed(
                crate::model::ApplicationReviewed {
                    application: a.id,
                    approved: false,
                    note: "the applicant died".into(),
                },
            ));
        }
        Ok((events, ()))
    }

    fn territories(&self, ctx: &Ctx<'_>) -> Result<Vec<DivisionCode>, EngineError> {
        Ok(vec![ctx.hukou_of(self.0)?])
    }

    fn subject(&self) -> Option<crate::model::Subject> {
        Some(crate::model::Subject::Person(self.0))
    }

    fn finish(_: (), _: u64, _: &State) {}
}

/// Enter cards in the card register (an import of cards issued before or elsewhere); returns
/// how many.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RegisterCards(pub Vec<CardRegistration>);

/// The refusal for a number that is not a citizen's: the household register and the card
/// register hold citizens only (a foreign permanent resident's card is the National Immigration
/// Administration's; a residence permit holder has no resident identity card).
fn not_a_citizen(ctx: &Ctx<'_>, number: IdNumber) -> EngineError {
    ctx.refuse(
        "not_a_citizen",
        format!(
            "{number} is a {}: the household and card registers hold citizens only",
            number.kind().describe()
        ),
    )
}

/// Record guardians of minors in the embedded population directory (law art. 7, T2): `(child,
/// guardian)` pairs, both people on record, the guardian of age. Returns how many pairs.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RecordGuardians(pub Vec<(IdNumber, IdNumber)>);

impl Command for RecordGuardians {
    const KIND: CommandKind = CommandKind::RecordGuardians;
    type Decided = usize;
    type Output = usize;

    fn decide(&self, ctx: &Ctx<'_>) -> Result<(Vec<Event>, usize), EngineError> {
        for &(child, guardian) in &self.0 {
            ctx.living_person(child)?;
            ctx.living_person(guardian)?;
            if child == guardian {
                return Err(ctx.refuse(
                    "not_a_guardian",
                    format!("{child} cannot be their own guardian"),
                ));
            }
            if guardian.age_on(ctx.today).unwrap_or(0) < 18 {
                return Err(ctx.refuse(
                    "guardian_minor",
                    format!("the guardian {guardian} is not of age"),
                ));
            }
        }
        let event = Event::GuardiansRecorded(crate::model::GuardiansRecorded {
            pairs: self.0.clone(),
        });
        Ok((vec![event], self.0.len()))
    }

    fn territories(&self, ctx: &Ctx<'_>) -> Result<Vec<DivisionCode>, EngineError> {
        let mut d = Vec::new();
        for (child, _) in &self.0 {
            d.push(ctx.hukou_of(*child)?);
        }
        d.sort_unstable();
        d.dedup();
        Ok(d)
    }

    fn subject(&self) -> Option<Subject> {
        match self.0.as_slice() {
            [(child, _)] => Some(Subject::Person(*child)),
            _ => Some(Subject::Many(format!("{} guardianships", self.0.len()))),
        }
    }

    fn finish(n: usize, _: u64, _: &State) -> usize {
        n
    }
}

/// Read `GUARDIANS.csv`: `child,guardian` (a header row, then one pair per line).
pub fn read_guardians_csv<R: Read>(input: R) -> Result<Vec<(IdNumber, IdNumber)>, ImportError> {
    let parser = Parser::new();
    let mut rdr = csv_reader(input);
    let headers = rdr.headers().map_err(|e| csv_error(&e))?.clone();
    let cols = header_index(&headers, &["child", "guardian"], &[])?;
    let mut out = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| csv_error(&e))?;
        let line = rec.position().map_or(0, crate::index::import_line_of);
        let num = |c: Option<usize>, column: &'static str| {
            parser
                .parse(get(&rec, c))
                .map(|p| p.number)
                .map_err(|e| ImportError::Field {
                    line,
                    column,
                    message: e.to_string(),
                })
        };
        out.push((num(cols[0], "child")?, num(cols[1], "guardian")?));
    }
    Ok(out)
}

/// The events that leave `keep` the only valid card of `number`: every other card of the person
/// still valid becomes superseded with `reason` (cards lost, stolen or invalidated stay so).
/// The one place the rule "one valid card per person" is applied.
pub(crate) fn supersede_all_but(
    state: &State,
    number: IdNumber,
    keep: CardKey,
    reason: CardReason,
) -> Result<Vec<Event>, crate::store::StoreError> {
    Ok(state
        .cards
        .of(number)?
        .into_iter()
        .filter(|c| c.key != keep && c.status == CardStatus::Valid)
        .map(|c| {
            Event::CardStatusChanged(CardStatusChanged {
                card: c.key,
                status: CardStatus::Superseded,
                reason,
            })
        })
        .collect())
}

impl Command for RegisterCards {
    const KIND: CommandKind = CommandKind::RegisterCards;
    type Decided = usize;
    type Output = usize;

    fn decide(&self, ctx: &Ctx<'_>) -> Result<(Vec<Event>, usize), EngineError> {
        let cards = &self.0;
        if let Some(c) = cards
            .iter()
            .find(|c| c.key.number().kind() != NumberKind::Citizen)
        {
            return Err(not_a_citizen(ctx, c.key.number()));
        }
        let mut existing = None;
        for c in cards {
            if ctx.state.cards.contains(c.key)? {
                existing = Some(c);
                break;
            }
        }
        if let Some(c) = existing {
            return Err(ctx.refuse(
                "already_exists",
                format!("card {:?} is already registered", c.key),
            ));
        }
        let mut events: Vec<Event> = cards
            .chunks(BATCH)
            .map(|c| Event::CardsRegistered(CardsRegistered { cards: c.to_vec() }))
            .collect();
        // One valid card per person: of a person's cards (on record and in this batch) only the
        // newest stays valid; older valid ones are registered as superseded by it.
        let mut newest: std::collections::HashMap<IdNumber, CardKey> = Default::default();
        let mut people_with_several = Vec::new();
        for c in cards {
            let n = c.key.number();
            match newest.entry(n) {
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(c.key);
                    if ctx.state.cards.has_any(n)? {
                        people_with_several.push(n);
                    }
                }
                std::collections::hash_map::Entry::Occupied(mut o) => {
                    if o.get().valid_from() < c.key.valid_from() {
                        o.insert(c.key);
                    }
                    people_with_several.push(n);
                }
            }
        }
        // A dead person's cards are registered invalidated (A10): history, never a valid card.
        for c in cards {
            if ctx
                .state
                .people
                .get(c.key.number())?
                .is_some_and(|p| p.deceased)
            {
                events.push(Event::CardStatusChanged(CardStatusChanged {
                    card: c.key,
                    status: CardStatus::Invalidated,
                    reason: CardReason::HOLDER_DECEASED,
                }));
            }
        }
        people_with_several.sort_unstable();
        people_with_several.dedup();
        // The batch's cards of each of them, in batch order (one pass: an import of millions
        // has as many people with several cards).
        let mut batch_cards: std::collections::HashMap<IdNumber, Vec<CardKey>> = Default::default();
        for c in cards {
            if newest.contains_key(&c.key.number()) {
                batch_cards.entry(c.key.number()).or_default().push(c.key);
            }
        }
        for n in people_with_several {
            let on_record = ctx.state.cards.current(n)?.map(|c| c.key);
            let batch_newest = newest[&n];
            let keep = match on_record {
                Some(k) if k.valid_from() > batch_newest.valid_from() => k,
                _ => batch_newest,
            };
            events.extend(supersede_all_but(ctx.state, n, keep, CardReason::RENEWED)?);
            events.extend(
                batch_cards
                    .get(&n)
                    .into_iter()
                    .flatten()
                    .filter(|&&k| k != keep)
                    .map(|&card| {
                        Event::CardStatusChanged(CardStatusChanged {
                            card,
                            status: CardStatus::Superseded,
                            reason: CardReason::RENEWED,
                        })
                    }),
            );
        }
        Ok((events, cards.len()))
    }

    fn territories(&self, ctx: &Ctx<'_>) -> Result<Vec<DivisionCode>, EngineError> {
        let mut d = Vec::new();
        for c in &self.0 {
            d.push(ctx.hukou_of(c.key.number())?);
        }
        d.sort_unstable();
        d.dedup();
        Ok(d)
    }

    fn finish(n: usize, _: u64, _: &State) -> usize {
        n
    }
}

fn csv_reader<R: Read>(input: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(input)
}

fn header_index(
    headers: &csv::StringRecord,
    required: &[&'static str],
    optional: &[&'static str],
) -> Result<Vec<Option<usize>>, ImportError> {
    let names: Vec<String> = headers
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_ascii_lowercase())
        .collect();
    let mut out = Vec::new();
    for &c in required {
        out.push(Some(names.iter().position(|n| n == c).ok_or_else(
            || ImportError::MissingColumn {
                column: c,
                found: names.join(","),
            },
        )?));
    }
    for &c in optional {
        out.push(names.iter().position(|n| n == c));
    }
    Ok(out)
}

fn field_err(line: u64, column: &'static str, message: impl Into<String>) -> ImportError {
    ImportError::Field {
        line,
        column,
        message: message.into(),
    }
}

fn get(rec: &csv::StringRecord, idx: Option<usize>) -> &str {
    idx.and_then(|i| rec.get(i)).unwrap_or("")
}

fn parse_bool(s: &str, line: u64, column: &'static str) -> Result<bool, ImportError> {
    match s.to_ascii_lowercase().as_str() {
        "" | "0" | "false" | "no" | "n" => Ok(false),
        "1" | "true" | "yes" | "y" => Ok(true),
        _ => Err(field_err(line, column, format!("{s:?} is not true/false"))),
    }
}

/// A CSV error with the line it names.
fn csv_error(e: &csv::Error) -> ImportError {
    ImportError::Csv {
        line: csv_line(e),
        message: e.to_string(),
    }
}

fn csv_line(e: &csv::Error) -> u64 {
    e.position().map_or(0, crate::index::import_line_of)
}

/// Read `PEOPLE.csv`: `number,name,hukou_division[,category][,fingerprint][,contact][,deceased][,fee_exempt]`.
/// `fingerprint` is the enrolled template (only its digest is kept).
pub fn read_people_csv<R: Read>(input: R) -> Result<Vec<Person>, ImportError> {
    let mut out = Vec::new();
    for_each_person_csv(input, |p| {
        out.push(p);
        Ok::<(), ImportError>(())
    })?;
    Ok(out)
}

/// [`read_people_csv`] one row at a time, never the whole file in memory: `f` gets each person
/// in file order (an import of a province streams through it). Returns how many rows.
pub fn for_each_person_csv<R: Read, E: From<ImportError>>(
    input: R,
    mut f: impl FnMut(Person) -> Result<(), E>,
) -> Result<u64, E> {
    let mut r = csv_reader(input);
    let headers = r.headers().map_err(|e| csv_error(&e))?.clone();
    let cols = header_index(
        &headers,
        &["number", "name", "hukou_division"],
        &[
            "category",
            "fingerprint",
            "contact",
            "deceased",
            "fee_exempt",
        ],
    )?;
    let parser = Parser::new();
    let mut rows = 0;
    for rec in r.records() {
        let rec = rec.map_err(|e| csv_error(&e))?;
        let line = rec.position().map_or(0, crate::index::import_line_of);
        let number = parser
            .parse(get(&rec, cols[0]))
            .map_err(|e| field_err(line, "number", e.to_string()))?
            .number;
        let division = get(&rec, cols[2]);
        let hukou_division = division
            .parse::<u32>()
            .ok()
            .filter(|_| division.len() == 6)
            .and_then(DivisionCode::new)
            .ok_or_else(|| {
                field_err(
                    line,
                    "hukou_division",
                    format!("{division:?} is not a six-digit division code"),
                )
            })?;
        let fp = get(&rec, cols[4]);
        let contact = get(&rec, cols[5]);
        rows += 1;
        f(Person {
            number,
            name: get(&rec, cols[1]).to_string(),
            hukou_division,
            category: get(&rec, cols[3])
                .parse()
                .map_err(|m| field_err(line, "category", m))?,
            fingerprint: (!fp.is_empty()).then(|| TemplateDigest::of(fp.as_bytes())),
            contact: (!contact.is_empty()).then(|| contact.to_string()),
            deceased: parse_bool(get(&rec, cols[6]), line, "deceased")?,
            fee_exempt: parse_bool(get(&rec, cols[7]), line, "fee_exempt")?,
        })?;
    }
    Ok(rows)
}

/// Read `ISSUED.csv`: `number,valid_from[,applied_on][,fingerprints]`. The validity period
/// follows the age on `applied_on` (default: `valid_from`), N5.
pub fn read_issued_cards_csv<R: Read>(input: R) -> Result<Vec<CardRegistration>, ImportError> {
    let mut out = Vec::new();
    for_each_issued_card_csv(input, |c| {
        out.push(c);
        Ok::<(), ImportError>(())
    })?;
    Ok(out)
}

/// [`read_issued_cards_csv`] one row at a time (see [`for_each_person_csv`]).
pub fn for_each_issued_card_csv<R: Read, E: From<ImportError>>(
    input: R,
    mut f: impl FnMut(CardRegistration) -> Result<(), E>,
) -> Result<u64, E> {
    let mut r = csv_reader(input);
    let headers = r.headers().map_err(|e| csv_error(&e))?.clone();
    let cols = header_index(
        &headers,
        &["number", "valid_from"],
        &["applied_on", "fingerprints"],
    )?;
    let parser = Parser::new();
    let date = |s: &str, line: u64, column: &'static str| {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| field_err(line, column, format!("{s:?} is not a date YYYY-MM-DD")))
    };
    let mut rows = 0;
    for rec in r.records() {
        let rec = rec.map_err(|e| csv_error(&e))?;
        let line = rec.position().map_or(0, crate::index::import_line_of);
        let number = parser
            .parse(get(&rec, cols[0]))
            .map_err(|e| field_err(line, "number", e.to_string()))?
            .number;
        let valid_from = date(get(&rec, cols[1]), line, "valid_from")?;
        let applied = match get(&rec, cols[2]) {
            "" => valid_from,
            s => date(s, line, "applied_on")?,
        };
        let period = ValidityPeriod::on_application(number, applied)
            .map_err(|_| field_err(line, "applied_on", "before the holder's birth"))?;
        let key = CardKey::new(number, valid_from)
            .map_err(|e| field_err(line, "valid_from", e.to_string()))?;
        rows += 1;
        f(CardRegistration {
            key,
            period,
            fingerprints: parse_bool(get(&rec, cols[3]), line, "fingerprints")?,
        })?;
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    /// Found by fuzzing (fuzz/csv_import): with bare `\r` line ends the csv crate counts every
    /// row as line 1; errors must still name the row's line.
    #[test]
    fn n1_people_csv_with_carriage_return_line_ends_names_the_right_line() {
        let people = "number,name,hukou_division\r11010519491231002Y,a,110105\r";
        let e = super::read_people_csv(people.as_bytes()).unwrap_err();
        assert_eq!(e.line(), Some(2), "{e}");
    }
}
