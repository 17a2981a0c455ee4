//! Keeping the registries: stations and officers (S1), the embedded population directory, the
//! card register (N4-N6), and their CSV imports (`docs/FORMAT.md` §6).

use std::io::Read;

use chrono::NaiveDate;

use crate::card::{CardKey, ValidityPeriod};
use crate::division::{DivisionCode, DivisionTable};
use crate::engine::{CardRegistration, Engine, EngineError, Event};
use crate::index::ImportError;
use crate::index::{CardReason, CardStatus};
use crate::number::{IdNumber, Parser};
use crate::population::{Person, TemplateDigest};
use crate::station::{Actor, CommandKind, Officer, OfficerId, Station};

/// Records per event in bulk registrations (keeps each journal record a few hundred KB).
const BATCH: usize = 10_000;

impl Engine {
    /// Register a station (a county bureau officer). The division must exist in the division
    /// table; the id must be new.
    pub fn register_station(&self, actor: &Actor, station: Station) -> Result<(), EngineError> {
        self.run(actor, CommandKind::RegisterStation, |ctx| {
            if ctx.state.stations.contains_key(&station.id) {
                return Err(ctx.refuse(
                    "already_exists",
                    format!("station {} is already registered", station.id),
                ));
            }
            if !DivisionTable::builtin().contains(station.division) {
                return Err(ctx.refuse(
                    "invalid_division",
                    format!("division {} does not exist", station.division),
                ));
            }
            Ok((vec![Event::StationRegistered(station)], ()))
        })
    }

    /// Register an officer at an existing station (a county bureau officer).
    pub fn register_officer(&self, actor: &Actor, officer: Officer) -> Result<(), EngineError> {
        self.run(actor, CommandKind::RegisterOfficer, |ctx| {
            if ctx.state.officers.contains_key(&officer.id) {
                return Err(ctx.refuse(
                    "already_exists",
                    format!("officer {} is already registered", officer.id),
                ));
            }
            if !ctx.state.stations.contains_key(&officer.station) {
                return Err(ctx.refuse(
                    "unknown_station",
                    format!("station {} is not registered", officer.station),
                ));
            }
            Ok((vec![Event::OfficerRegistered(officer)], ()))
        })
    }

    /// Deactivate an officer.
    pub fn deactivate_officer(
        &self,
        actor: &Actor,
        officer: &OfficerId,
    ) -> Result<(), EngineError> {
        self.run(actor, CommandKind::DeactivateOfficer, |ctx| {
            match ctx.state.officers.get(officer) {
                Some(o) if o.active => Ok((
                    vec![Event::OfficerDeactivated {
                        officer: officer.clone(),
                    }],
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
        })
    }

    /// Enter people in the embedded population directory (a county bureau officer).
    pub fn register_people(
        &self,
        actor: &Actor,
        people: Vec<Person>,
    ) -> Result<usize, EngineError> {
        let n = people.len();
        self.run(actor, CommandKind::RegisterPeople, |ctx| {
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
                .map(|c| Event::PeopleRegistered(c.to_vec()))
                .collect();
            Ok((events, n))
        })
    }

    /// Record a death (A10: a dead person's papers must not be used): the person's valid cards
    /// become invalidated (reason `holder_deceased`), so verifiers refuse them; lost or stolen
    /// cards stay listed as they are.
    pub fn record_death(&self, actor: &Actor, number: IdNumber) -> Result<(), EngineError> {
        self.run(actor, CommandKind::RecordDeath, |ctx| {
            ctx.living_person(number)?;
            let mut events = vec![Event::PersonDied { number }];
            for key in ctx.state.cards_of.get(&number).into_iter().flatten() {
                if ctx.state.cards.get(key).map(|c| c.status) == Some(CardStatus::Valid) {
                    events.push(Event::CardStatusChanged {
                        card: *key,
                        status: CardStatus::Invalidated,
                        reason: CardReason::HOLDER_DECEASED,
                    });
                }
            }
            Ok((events, ()))
        })
    }

    /// Enter cards in the card register (an import of cards issued before or elsewhere).
    pub fn register_cards(
        &self,
        actor: &Actor,
        cards: Vec<CardRegistration>,
    ) -> Result<usize, EngineError> {
        let n = cards.len();
        self.run(actor, CommandKind::RegisterCards, |ctx| {
            if let Some(c) = cards.iter().find(|c| ctx.state.cards.contains_key(&c.key)) {
                return Err(ctx.refuse(
                    "already_exists",
                    format!("card {:?} is already registered", c.key),
                ));
            }
            let events = cards
                .chunks(BATCH)
                .map(|c| Event::CardsRegistered(c.to_vec()))
                .collect();
            Ok((events, n))
        })
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

fn csv_line(e: &csv::Error) -> u64 {
    e.position().map_or(0, crate::index::import_line_of)
}

/// Read `PEOPLE.csv`: `number,name,hukou_division[,category][,fingerprint][,contact][,deceased][,fee_exempt]`.
/// `fingerprint` is the enrolled template (only its digest is kept).
pub fn read_people_csv<R: Read>(input: R) -> Result<Vec<Person>, ImportError> {
    let mut r = csv_reader(input);
    let headers = r
        .headers()
        .map_err(|e| ImportError::Csv {
            line: csv_line(&e),
            message: e.to_string(),
        })?
        .clone();
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
    let mut out = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| ImportError::Csv {
            line: csv_line(&e),
            message: e.to_string(),
        })?;
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
        out.push(Person {
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
        });
    }
    Ok(out)
}

/// Read `ISSUED.csv`: `number,valid_from[,applied_on][,fingerprints]`. The validity period
/// follows the age on `applied_on` (default: `valid_from`), N5.
pub fn read_issued_cards_csv<R: Read>(input: R) -> Result<Vec<CardRegistration>, ImportError> {
    let mut r = csv_reader(input);
    let headers = r
        .headers()
        .map_err(|e| ImportError::Csv {
            line: csv_line(&e),
            message: e.to_string(),
        })?
        .clone();
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
    let mut out = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| ImportError::Csv {
            line: csv_line(&e),
            message: e.to_string(),
        })?;
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
        let age = number
            .age_on(applied)
            .ok_or_else(|| field_err(line, "applied_on", "before the holder's birth"))?;
        let key = CardKey::new(number, valid_from)
            .map_err(|e| field_err(line, "valid_from", e.to_string()))?;
        out.push(CardRegistration {
            key,
            period: ValidityPeriod::for_age(age),
            fingerprints: parse_bool(get(&rec, cols[3]), line, "fingerprints")?,
        });
    }
    Ok(out)
}
