//! The system-of-record commands: `idcard <area> <action> --data DIR ...` (issue: journal,
//! stations and officers, loss reporting, lost-and-found, blacklist, publishing).
//!
//! Exit status: 0 done, 1 refused by a rule (the refusal is recorded), 2 could not run.

use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chrono::NaiveDate;
use clap::{Args, Subcommand};
use idcard::blacklist::CsvCreditFeed;
use idcard::engine::{Engine, EngineError, EngineOptions, FoundOutcome, InPerson};
use idcard::index::{BlacklistEntry, BlacklistReasons, BlacklistSource, Profile};
use idcard::loss::{CardRef, LossRequest};
use idcard::station::{Actor, Officer, OfficerId, Station, StationKind};
use idcard::{CardKey, DivisionCode, IdNumber};
use serde::Serialize;
use serde_json::{Value, json};

use crate::progress;

#[derive(Args, Clone)]
pub struct Data {
    /// The data directory (journal, checkpoints).
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Clone)]
pub struct Who {
    /// The officer running the command (S2: every action is attributed).
    #[arg(long, value_name = "ID")]
    pub officer: String,
    /// The station the officer works at.
    #[arg(long, value_name = "ID")]
    pub station: String,
}

impl Who {
    pub(crate) fn actor(&self) -> anyhow::Result<Actor> {
        Actor::new(&self.officer, &self.station).map_err(anyhow::Error::msg)
    }
}

#[derive(Args, Clone)]
pub struct CardArg {
    /// The holder's identity number.
    #[arg(long)]
    pub number: String,
    /// The card's validity start (YYYY-MM-DD); default: the holder's newest card.
    #[arg(long, value_name = "DATE")]
    pub valid_from: Option<NaiveDate>,
}

impl CardArg {
    pub(crate) fn card_ref(&self) -> anyhow::Result<CardRef> {
        Ok(CardRef {
            number: parse_number(&self.number)?,
            valid_from: self.valid_from,
        })
    }

    fn key(&self, engine: &Engine) -> anyhow::Result<CardKey> {
        let r = self.card_ref()?;
        match r.valid_from {
            Some(d) => Ok(CardKey::new(r.number, d)?),
            None => engine
                .with_state(|s| s.current_card(r.number).map(|c| c.key))
                .with_context(|| {
                    format!("no card of {} is registered; give --valid-from", r.number)
                }),
        }
    }
}

#[derive(Args, Clone)]
pub struct Present {
    /// The identity number of the person at the counter (default: the card holder).
    #[arg(long, value_name = "NUMBER")]
    pub present: Option<String>,
    /// A fingerprint sample taken on the spot (required when the card has fingerprints, L2).
    #[arg(long, value_name = "SAMPLE")]
    pub fingerprint: Option<String>,
}

impl Present {
    pub(crate) fn person(&self, holder: IdNumber) -> anyhow::Result<InPerson> {
        let number = match &self.present {
            Some(s) => parse_number(s)?,
            None => holder,
        };
        Ok(InPerson {
            number,
            fingerprint: self.fingerprint.as_ref().map(|f| f.as_bytes().to_vec()),
        })
    }
}

fn parse_number(s: &str) -> anyhow::Result<IdNumber> {
    IdNumber::parse(s).with_context(|| format!("identity number {s:?}"))
}

#[derive(Args)]
pub struct InitArgs {
    #[command(flatten)]
    data: Data,
    /// Identifier of the first county bureau.
    #[arg(long)]
    bureau_id: String,
    /// Its division code.
    #[arg(long)]
    division: u32,
    /// Its name.
    #[arg(long)]
    name: String,
    /// Identifier of its first officer.
    #[arg(long)]
    officer_id: String,
    /// The officer's name.
    #[arg(long)]
    officer_name: String,
}

#[derive(Subcommand)]
pub enum StationCommand {
    /// Register a station (county bureau officers).
    Add {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// New station's identifier.
        #[arg(long)]
        id: String,
        /// Kind: household_registration_station, registration_hall, offsite_acceptance_point,
        /// airport_police, railway_police, hotel_precinct_station, lost_and_found_window,
        /// county_bureau, checking_unit.
        #[arg(long)]
        kind: StationKind,
        /// Division code it serves.
        #[arg(long)]
        division: u32,
        /// Name.
        #[arg(long)]
        name: String,
    },
    /// List stations (optionally of one kind, e.g. the published acceptance points, A2).
    List {
        #[command(flatten)]
        data: Data,
        /// Only this kind.
        #[arg(long)]
        kind: Option<StationKind>,
        /// Only in this division (or below it: 110000 lists all of Beijing).
        #[arg(long)]
        division: Option<u32>,
    },
}

#[derive(Subcommand)]
pub enum OfficerCommand {
    /// Register an officer at a station.
    Add {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// New officer's identifier.
        #[arg(long)]
        id: String,
        /// Name.
        #[arg(long)]
        name: String,
        /// The station they work at.
        #[arg(long, value_name = "STATION")]
        at: String,
    },
    /// Deactivate an officer.
    Deactivate {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// The officer.
        #[arg(long)]
        id: String,
    },
    /// List officers.
    List {
        #[command(flatten)]
        data: Data,
    },
}

#[derive(Subcommand)]
pub enum PopulationCommand {
    /// Load PEOPLE.csv into the embedded population directory.
    Import {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// number,name,hukou_division[,category][,fingerprint][,contact][,deceased][,fee_exempt]
        #[arg(long, value_name = "PEOPLE.csv")]
        file: PathBuf,
    },
    /// Record a death (A10).
    Death {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// The person.
        #[arg(long)]
        number: String,
    },
}

#[derive(Subcommand)]
pub enum CardCommand {
    /// Load ISSUED.csv into the card register.
    Import {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// number,valid_from[,applied_on][,fingerprints]
        #[arg(long, value_name = "ISSUED.csv")]
        file: PathBuf,
    },
    /// A person's cards and their statuses.
    Show {
        #[command(flatten)]
        data: Data,
        /// The holder.
        #[arg(long)]
        number: String,
    },
}

#[derive(Subcommand)]
pub enum LossCommand {
    /// Report a card lost or stolen: the holder in person (L1, L2, A10).
    Report {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        #[command(flatten)]
        card: CardArg,
        #[command(flatten)]
        present: Present,
        /// Stolen rather than lost.
        #[arg(long)]
        stolen: bool,
    },
    /// Withdraw a loss report (the card was recovered).
    Cancel {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        #[command(flatten)]
        card: CardArg,
        #[command(flatten)]
        present: Present,
    },
    /// List the cards reported lost or stolen (optionally at one station).
    List {
        #[command(flatten)]
        data: Data,
        /// Only reports taken at this station.
        #[arg(long, value_name = "STATION")]
        at: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum HitCommand {
    /// Report a card used by someone else (L4).
    Report {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        #[command(flatten)]
        card: CardArg,
        /// What happened.
        #[arg(long)]
        note: String,
    },
    /// Acknowledge a hit at the station it was routed to.
    Ack {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// The hit's identifier.
        #[arg(long)]
        id: u64,
        /// Follow-up notes.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// List hit reports.
    List {
        #[command(flatten)]
        data: Data,
        /// Only those routed to this station.
        #[arg(long, value_name = "STATION")]
        routed_to: Option<String>,
        /// Only unacknowledged ones.
        #[arg(long)]
        open: bool,
    },
}

#[derive(Subcommand)]
pub enum FoundCommand {
    /// Take in a found card at a lost-and-found window (F1, F2).
    Intake {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        #[command(flatten)]
        card: CardArg,
        /// The finder, if they left a name.
        #[arg(long)]
        finder: Option<String>,
    },
    /// Return a held card to its owner: identity verified, photographed (F2).
    Return {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        #[command(flatten)]
        card: CardArg,
        #[command(flatten)]
        present: Present,
        /// Reference of the photograph taken of the claimant.
        #[arg(long)]
        photo: String,
    },
    /// A citizen's query: were my cards found, where can I collect them (F1)?
    Query {
        #[command(flatten)]
        data: Data,
        /// The citizen's number.
        #[arg(long)]
        number: String,
    },
    /// The found-card database (optionally of one window).
    List {
        #[command(flatten)]
        data: Data,
        /// Only this window.
        #[arg(long)]
        window: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum RecordBlacklistCommand {
    /// Check people against a police snapshot's blacklist (A6).
    Check(crate::snapshot::BlacklistCheckArgs),
    /// Blacklist a person (A6).
    Add {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// The person.
        #[arg(long)]
        number: String,
        /// Reasons joined by `|`, e.g. forged|identity_card.
        #[arg(long)]
        reason: BlacklistReasons,
        /// public_security (default) or credit_platform.
        #[arg(long)]
        source: Option<BlacklistSource>,
    },
    /// Remove a person from the blacklist, with the reason.
    Remove {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// The person.
        #[arg(long)]
        number: String,
        /// Why (recorded).
        #[arg(long)]
        reason: String,
    },
    /// Import a push of the national credit platform (CSV number,reason[,listed_on]).
    Import {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// The push file.
        #[arg(long)]
        file: PathBuf,
    },
    /// List the blacklist.
    List {
        #[command(flatten)]
        data: Data,
    },
}

#[derive(Subcommand)]
pub enum PublishCommand {
    /// Publish a full snapshot.
    Snapshot {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// bank (cards only) or police (cards and blacklist).
        #[arg(long)]
        profile: Profile,
        /// Output file.
        #[arg(short = 'o', long)]
        output: PathBuf,
    },
    /// Publish a delta from a snapshot published earlier.
    Delta {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// The base snapshot.
        #[arg(long)]
        base: PathBuf,
        /// Start at this journal sequence: the `to` of the previous delta of a chain (default:
        /// the snapshot's own sequence).
        #[arg(long)]
        since: Option<u64>,
        /// Output file.
        #[arg(short = 'o', long)]
        output: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum JournalCommand {
    /// Print records.
    Show {
        #[command(flatten)]
        data: Data,
        /// From this sequence number.
        #[arg(long, default_value_t = 1)]
        from: u64,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Read and check every record of every segment.
    Verify {
        #[command(flatten)]
        data: Data,
    },
    /// Counts of events and refusals.
    Stats {
        #[command(flatten)]
        data: Data,
    },
    /// Write a checkpoint now.
    Checkpoint {
        #[command(flatten)]
        data: Data,
    },
}

/// Open the record at `--data`; it must exist (`idcard init` creates it), so a mistyped path
/// is an error, not a new empty record.
pub(crate) fn open(data: &Data) -> anyhow::Result<Engine> {
    open_with(data, false)
}

fn open_with(data: &Data, create: bool) -> anyhow::Result<Engine> {
    let options = EngineOptions::default();
    let opened = if create {
        Engine::open(&data.data, options)
    } else {
        Engine::open_existing(&data.data, options)
    };
    let (engine, report) = opened.map_err(|e| match e {
        EngineError::NoRecord(_) => anyhow::anyhow!("{e}: `idcard init` creates one"),
        e => e.into(),
    })?;
    if let Some(t) = &report.recovery.truncated {
        eprintln!(
            "idcard: recovered the journal: cut a torn last record of {} bytes at byte {} of {}",
            t.bytes, t.offset, t.segment
        );
    }
    Ok(engine)
}

/// A JSON value for the terminal: strings without their quotes.
pub(crate) fn plain(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_string)
}

/// The named fields of a JSON object for the terminal, tab-separated.
fn columns(j: &Value, keys: &[&str]) -> String {
    keys.iter()
        .map(|k| plain(&j[*k]))
        .collect::<Vec<_>>()
        .join("\t")
}

/// Print the outcome of a command and choose the exit status.
pub(crate) fn finish<T: Serialize>(
    json: bool,
    result: Result<T, EngineError>,
    plain: impl FnOnce(&T) -> String,
) -> anyhow::Result<ExitCode> {
    match result {
        Ok(v) => {
            if json {
                let mut out = serde_json::to_value(&v)?;
                if !out.is_object() {
                    out = json!({ "result": out });
                }
                out["ok"] = json!(true);
                println!("{out}");
            } else {
                println!("{}", plain(&v));
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(EngineError::Refused(r)) => {
            if json {
                println!(
                    "{}",
                    json!({"ok": false, "refused": {"code": r.code, "message": r.message}})
                );
            } else {
                eprintln!("refused ({}): {}", r.code, r.message);
            }
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(e.into()),
    }
}

fn close(engine: Engine, code: ExitCode) -> anyhow::Result<ExitCode> {
    engine.close()?;
    Ok(code)
}

pub fn init(a: InitArgs) -> anyhow::Result<ExitCode> {
    let engine = open_with(&a.data, true)?;
    let division = DivisionCode::new(a.division).context("division code")?;
    let station = Station {
        id: a.bureau_id.parse().map_err(anyhow::Error::msg)?,
        kind: StationKind::CountyBureau,
        division,
        name: a.name,
    };
    let officer = Officer {
        id: a.officer_id.parse().map_err(anyhow::Error::msg)?,
        name: a.officer_name,
        station: station.id.clone(),
        active: true,
    };
    let r = engine.bootstrap(station, officer);
    let code = finish(a.data.json, r, |_| {
        "initialised: the first county bureau and its officer are registered".into()
    })?;
    close(engine, code)
}

pub fn station(cmd: StationCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        StationCommand::Add {
            data,
            who,
            id,
            kind,
            division,
            name,
        } => {
            let engine = open(&data)?;
            let station = Station {
                id: id.parse().map_err(anyhow::Error::msg)?,
                kind,
                division: DivisionCode::new(division).context("division code")?,
                name,
            };
            let r = engine.register_station(&who.actor()?, station);
            let code = finish(data.json, r, |_| format!("station {id} registered"))?;
            close(engine, code)
        }
        StationCommand::List {
            data,
            kind,
            division,
        } => {
            let engine = open(&data)?;
            let list: Vec<Station> = engine.with_state(|s| {
                s.stations
                    .values()
                    .filter(|st| kind.is_none_or(|k| st.kind == k))
                    .filter(|st| division.is_none_or(|d| within(st.division.get(), d)))
                    .cloned()
                    .collect()
            });
            print_list(data.json, &list, |s| {
                format!("{}\t{}\t{}\t{}", s.id, s.kind, s.division, s.name)
            })
        }
    }
}

/// Whether `code` is `area` or lies below it (`110000` contains `110105`).
fn within(code: u32, area: u32) -> bool {
    if area.is_multiple_of(10_000) {
        code / 10_000 == area / 10_000
    } else if area.is_multiple_of(100) {
        code / 100 == area / 100
    } else {
        code == area
    }
}

fn print_list<T: Serialize>(
    json: bool,
    list: &[T],
    line: impl Fn(&T) -> String,
) -> anyhow::Result<ExitCode> {
    if json {
        for item in list {
            println!("{}", serde_json::to_string(item)?);
        }
    } else {
        for item in list {
            println!("{}", line(item));
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn officer(cmd: OfficerCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        OfficerCommand::Add {
            data,
            who,
            id,
            name,
            at,
        } => {
            let engine = open(&data)?;
            let officer = Officer {
                id: id.parse().map_err(anyhow::Error::msg)?,
                name,
                station: at.parse().map_err(anyhow::Error::msg)?,
                active: true,
            };
            let r = engine.register_officer(&who.actor()?, officer);
            let code = finish(data.json, r, |_| format!("officer {id} registered at {at}"))?;
            close(engine, code)
        }
        OfficerCommand::Deactivate { data, who, id } => {
            let engine = open(&data)?;
            let officer: OfficerId = id.parse().map_err(anyhow::Error::msg)?;
            let r = engine.deactivate_officer(&who.actor()?, &officer);
            let code = finish(data.json, r, |_| format!("officer {id} deactivated"))?;
            close(engine, code)
        }
        OfficerCommand::List { data } => {
            let engine = open(&data)?;
            let list: Vec<Officer> = engine.with_state(|s| s.officers.values().cloned().collect());
            print_list(data.json, &list, |o| {
                format!(
                    "{}\t{}\t{}\t{}",
                    o.id,
                    o.station,
                    if o.active { "active" } else { "inactive" },
                    o.name
                )
            })
        }
    }
}

pub fn population(cmd: PopulationCommand, quiet: bool) -> anyhow::Result<ExitCode> {
    match cmd {
        PopulationCommand::Import { data, who, file } => {
            let engine = open(&data)?;
            let pb = progress::spinner(quiet, "reading");
            let f = File::open(&file).with_context(|| format!("opening {}", file.display()))?;
            let people = idcard::registry::read_people_csv(BufReader::new(f))
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            pb.finish_and_clear();
            let r = engine
                .register_people(&who.actor()?, people)
                .map(|n| json!({ "imported": n }));
            let code = finish(data.json, r, |v| {
                format!("{} people imported", v["imported"])
            })?;
            close(engine, code)
        }
        PopulationCommand::Death { data, who, number } => {
            let engine = open(&data)?;
            let r = engine.record_death(&who.actor()?, parse_number(&number)?);
            let code = finish(data.json, r, |_| format!("death of {number} recorded"))?;
            close(engine, code)
        }
    }
}

pub fn card(cmd: CardCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        CardCommand::Import { data, who, file } => {
            let engine = open(&data)?;
            let f = File::open(&file).with_context(|| format!("opening {}", file.display()))?;
            let cards = idcard::registry::read_issued_cards_csv(BufReader::new(f))
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let r = engine
                .register_cards(&who.actor()?, cards)
                .map(|n| json!({ "imported": n }));
            let code = finish(data.json, r, |v| {
                format!("{} cards imported", v["imported"])
            })?;
            close(engine, code)
        }
        CardCommand::Show { data, number } => {
            let engine = open(&data)?;
            let n = parse_number(&number)?;
            let cards: Vec<serde_json::Value> = engine.with_state(|s| {
                s.cards_of
                    .get(&n)
                    .into_iter()
                    .flatten()
                    .filter_map(|k| s.cards.get(k))
                    .map(|c| {
                        json!({
                            "number": n.to_string(),
                            "valid_from": c.key.valid_from().to_string(),
                            "valid_until": idcard::Card::from_parts(c.key, c.period, c.fingerprints).valid_until().map(|d| d.to_string()),
                            "fingerprints": c.fingerprints,
                            "status": c.status.as_str(),
                            "reason": c.reason.to_string(),
                            "changed_on": c.changed_on.map(|d| d.to_string()),
                        })
                    })
                    .collect()
            });
            print_list(data.json, &cards, |c| {
                format!(
                    "{}\t{}\t{}\t{}",
                    c["valid_from"].as_str().unwrap_or(""),
                    c["valid_until"].as_str().unwrap_or("long-term"),
                    c["status"].as_str().unwrap_or(""),
                    c["reason"].as_str().unwrap_or("")
                )
            })
        }
    }
}

pub fn loss(cmd: LossCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        LossCommand::Report {
            data,
            who,
            card,
            present,
            stolen,
        } => {
            let engine = open(&data)?;
            let r = card.card_ref()?;
            let req = LossRequest {
                card: r,
                stolen,
                present: present.person(r.number)?,
            };
            let result = engine.report_loss(&who.actor()?, &req).map(|rc| {
                json!({
                    "number": rc.card.number().to_string(),
                    "valid_from": rc.card.valid_from().to_string(),
                    "status": rc.status.as_str(),
                    "at_hukou_place": rc.at_hukou_place,
                    "seq": rc.seq,
                })
            });
            let code = finish(data.json, result, |v| {
                format!(
                    "card {} valid from {} is now {}",
                    plain(&v["number"]),
                    plain(&v["valid_from"]),
                    plain(&v["status"])
                )
            })?;
            close(engine, code)
        }
        LossCommand::Cancel {
            data,
            who,
            card,
            present,
        } => {
            let engine = open(&data)?;
            let r = card.card_ref()?;
            let result = engine
                .cancel_loss(&who.actor()?, r, &present.person(r.number)?)
                .map(|k| json!({"number": k.number().to_string(), "valid_from": k.valid_from().to_string(), "status": "valid"}));
            let code = finish(data.json, result, |v| {
                format!(
                    "loss report on the card valid from {} withdrawn",
                    plain(&v["valid_from"])
                )
            })?;
            close(engine, code)
        }
        LossCommand::List { data, at } => {
            let engine = open(&data)?;
            let list: Vec<serde_json::Value> = engine.with_state(|s| {
                let mut v: Vec<_> = s
                    .cards
                    .values()
                    .filter_map(|c| c.loss.as_ref().map(|l| (c, l)))
                    .filter(|(_, l)| at.as_ref().is_none_or(|a| l.by.station.as_str() == a))
                    .map(|(c, l)| {
                        json!({
                            "number": c.key.number().to_string(),
                            "valid_from": c.key.valid_from().to_string(),
                            "status": c.status.as_str(),
                            "at_ms": l.at_ms,
                            "station": l.by.station.as_str(),
                            "officer": l.by.officer.as_str(),
                            "at_hukou_place": l.at_hukou_place,
                        })
                    })
                    .collect();
                v.sort_by_key(|j| j["at_ms"].as_i64());
                v
            });
            print_list(data.json, &list, |j| {
                columns(j, &["number", "valid_from", "status", "station"])
            })
        }
    }
}

pub fn hit(cmd: HitCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        HitCommand::Report {
            data,
            who,
            card,
            note,
        } => {
            let engine = open(&data)?;
            let key = card.key(&engine)?;
            let r = engine.report_hit(&who.actor()?, key, &note);
            let code = finish(data.json, r, |h| {
                format!("hit {} routed to {}", h.id, h.routed_to)
            })?;
            close(engine, code)
        }
        HitCommand::Ack {
            data,
            who,
            id,
            note,
        } => {
            let engine = open(&data)?;
            let r = engine.acknowledge_hit(&who.actor()?, id, &note);
            let code = finish(data.json, r, |_| format!("hit {id} acknowledged"))?;
            close(engine, code)
        }
        HitCommand::List {
            data,
            routed_to,
            open: only_open,
        } => {
            let engine = open(&data)?;
            let list: Vec<idcard::engine::Hit> = engine.with_state(|s| {
                s.hits
                    .values()
                    .filter(|h| routed_to.as_ref().is_none_or(|r| h.routed_to.as_str() == r))
                    .filter(|h| !only_open || h.acknowledged.is_none())
                    .cloned()
                    .collect()
            });
            print_list(data.json, &list, |h| {
                format!(
                    "{}\t{}\t{}\t{}\t{}",
                    h.id,
                    h.routed_to,
                    h.by.station,
                    if h.acknowledged.is_some() {
                        "acknowledged"
                    } else {
                        "open"
                    },
                    h.note
                )
            })
        }
    }
}

pub fn found(cmd: FoundCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        FoundCommand::Intake {
            data,
            who,
            card,
            finder,
        } => {
            let engine = open(&data)?;
            let key = card.key(&engine)?;
            let r = engine.intake_found(&who.actor()?, key, finder.as_deref());
            let code = finish(data.json, r, |o| match o {
                idcard::found::IntakeOutcome::Held { notified: Some(c) } => {
                    format!("held; owner notified via {c}")
                }
                idcard::found::IntakeOutcome::Held { notified: None } => {
                    "held; no contact on record".into()
                }
                idcard::found::IntakeOutcome::Destroyed => {
                    "destroyed: the owner already has a replacement (F2)".into()
                }
            })?;
            close(engine, code)
        }
        FoundCommand::Return {
            data,
            who,
            card,
            present,
            photo,
        } => {
            let engine = open(&data)?;
            let key = card.key(&engine)?;
            let r = engine.return_found(&who.actor()?, key, &present.person(key.number())?, &photo);
            let code = finish(data.json, r, |_| "returned to the owner".into())?;
            close(engine, code)
        }
        FoundCommand::Query { data, number } => {
            let engine = open(&data)?;
            let answers = engine.found_query(parse_number(&number)?);
            print_list(data.json, &answers, |a| {
                format!(
                    "card valid from {}: {}{}",
                    a.valid_from,
                    a.state,
                    a.window
                        .as_ref()
                        .map(|w| format!(" at {w}"))
                        .unwrap_or_default()
                )
            })
        }
        FoundCommand::List { data, window } => {
            let engine = open(&data)?;
            let list: Vec<serde_json::Value> = engine.with_state(|s| {
                let mut v: Vec<_> = s
                    .found
                    .values()
                    .filter(|f| window.as_ref().is_none_or(|w| f.window.as_str() == w))
                    .map(|f| {
                        json!({
                            "number": f.card.number().to_string(),
                            "valid_from": f.card.valid_from().to_string(),
                            "window": f.window.as_str(),
                            "at_ms": f.at_ms,
                            "state": match f.outcome { FoundOutcome::Held => "held", FoundOutcome::Destroyed { .. } => "destroyed", FoundOutcome::Returned { .. } => "returned" },
                            "notified": f.notified,
                        })
                    })
                    .collect();
                v.sort_by_key(|j| j["at_ms"].as_i64());
                v
            });
            print_list(data.json, &list, |j| {
                columns(j, &["number", "valid_from", "window", "state"])
            })
        }
    }
}

pub fn blacklist(cmd: RecordBlacklistCommand, quiet: bool) -> anyhow::Result<ExitCode> {
    match cmd {
        RecordBlacklistCommand::Check(a) => crate::snapshot::blacklist_check(a),
        RecordBlacklistCommand::Add {
            data,
            who,
            number,
            reason,
            source,
        } => {
            let engine = open(&data)?;
            let entry = BlacklistEntry {
                reasons: reason,
                source: source.unwrap_or(BlacklistSource::PublicSecurity),
                listed_on: None,
            };
            let r = engine.add_blacklist(&who.actor()?, parse_number(&number)?, entry);
            let code = finish(data.json, r, |_| format!("{number} blacklisted ({reason})"))?;
            close(engine, code)
        }
        RecordBlacklistCommand::Remove {
            data,
            who,
            number,
            reason,
        } => {
            let engine = open(&data)?;
            let r = engine.remove_blacklist(&who.actor()?, parse_number(&number)?, &reason);
            let code = finish(data.json, r, |_| {
                format!("{number} removed from the blacklist")
            })?;
            close(engine, code)
        }
        RecordBlacklistCommand::Import { data, who, file } => {
            let engine = open(&data)?;
            let f = File::open(&file).with_context(|| format!("opening {}", file.display()))?;
            let mut feed = CsvCreditFeed::new(BufReader::new(f));
            let pb = progress::spinner(quiet, "importing");
            let r =
                engine.import_credit_push(&who.actor()?, &mut feed, &mut |n| pb.set_position(n));
            pb.finish_and_clear();
            let code = finish(data.json, r, |s| {
                format!(
                    "{} credit records imported in {} records",
                    s.imported, s.records
                )
            })?;
            close(engine, code)
        }
        RecordBlacklistCommand::List { data } => {
            let engine = open(&data)?;
            let list: Vec<serde_json::Value> = engine.with_state(|s| {
                let mut v: Vec<_> = s
                    .blacklist
                    .iter()
                    .map(|(n, r)| {
                        json!({
                            "number": n.to_string(),
                            "reasons": r.entry.reasons.names().collect::<Vec<_>>(),
                            "source": r.entry.source.as_str(),
                            "listed_on": r.entry.listed_on.map(|d| d.to_string()),
                            "by_station": r.by.station.as_str(),
                        })
                    })
                    .collect();
                v.sort_by(|a, b| a["number"].as_str().cmp(&b["number"].as_str()));
                v
            });
            print_list(data.json, &list, |j| {
                columns(j, &["number", "reasons", "source"])
            })
        }
    }
}

pub fn publish(cmd: PublishCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        PublishCommand::Snapshot {
            data,
            who,
            profile,
            output,
        } => {
            let engine = open(&data)?;
            let r = engine.publish_snapshot(&who.actor()?, profile, &output);
            let code = finish(data.json, r, |p| {
                format!(
                    "published {} ({} profile): {} cards listed, {} blacklisted, up to sequence {}, {} bytes",
                    p.path, p.profile, p.cards, p.blacklist, p.to_seq, p.bytes
                )
            })?;
            close(engine, code)
        }
        PublishCommand::Delta {
            data,
            who,
            base,
            since,
            output,
        } => {
            let engine = open(&data)?;
            let r = engine.publish_delta_since(&who.actor()?, &base, since, &output);
            let code = finish(data.json, r, |p| {
                format!(
                    "published {}: sequence {} to {}, {} card changes, {} blacklist changes, {} bytes",
                    p.path, p.from_seq, p.to_seq, p.cards, p.blacklist, p.bytes
                )
            })?;
            close(engine, code)
        }
    }
}

pub fn journal(cmd: JournalCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        JournalCommand::Show { data, from, limit } => {
            let engine = open(&data)?;
            for item in engine.records(from)?.take(limit) {
                let (seq, r) = item?;
                if data.json {
                    println!(
                        "{}",
                        json!({"seq": seq, "at": r.at().to_rfc3339(), "officer": r.actor.officer.as_str(), "station": r.actor.station.as_str(), "kind": r.event.kind(), "event": format!("{:?}", r.event)})
                    );
                } else {
                    println!(
                        "{seq}\t{}\t{}@{}\t{:?}",
                        r.at().to_rfc3339(),
                        r.actor.officer,
                        r.actor.station,
                        r.event
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        JournalCommand::Verify { data } => {
            let engine = open(&data)?;
            let mut n = 0u64;
            for item in engine.records(1)? {
                item?;
                n += 1;
            }
            if data.json {
                println!(
                    "{}",
                    json!({"ok": true, "records": n, "last_seq": engine.last_seq()})
                );
            } else {
                println!("journal ok: {n} records, every frame checked");
            }
            Ok(ExitCode::SUCCESS)
        }
        JournalCommand::Stats { data } => {
            let engine = open(&data)?;
            let stats = engine.with_state(|s| s.stats.clone());
            if data.json {
                let refusals: Vec<_> = stats
                    .refusals
                    .iter()
                    .map(|((c, code), n)| json!({"command": c, "code": code, "count": n}))
                    .collect();
                println!("{}", json!({"events": stats.events, "refusals": refusals}));
            } else {
                for (k, n) in &stats.events {
                    println!("event\t{k}\t{n}");
                }
                for ((c, code), n) in &stats.refusals {
                    println!("refusal\t{c:?}\t{code}\t{n}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        JournalCommand::Checkpoint { data } => {
            let engine = open(&data)?;
            let seq = engine.checkpoint()?;
            println!("checkpoint written at sequence {seq}");
            Ok(ExitCode::SUCCESS)
        }
    }
}
