//! `idcard init`, `station`, `officer`, `population`, `card`.

use std::io::BufReader;
use std::process::ExitCode;

use anyhow::Context;
use idcard::DivisionCode;
use idcard::model::{Subject, view};
use idcard::station::{Officer, Station};
use idcard::workflow::Commands;
use serde_json::json;

use crate::args::record::{
    CardCommand, InitArgs, OfficerCommand, PopulationCommand, StationCommand,
};
use crate::args::{id, number};
use crate::output::{command, finish, list, open_with, read_file, read_list};
use crate::progress;

pub fn init(a: InitArgs) -> anyhow::Result<ExitCode> {
    let engine = open_with(&a.data, true)?;
    let division = DivisionCode::new(a.division).context("division code")?;
    let station = Station {
        id: id(&a.bureau_id)?,
        kind: a.kind,
        division,
        name: a.name,
    };
    let officer = Officer {
        id: id(&a.officer_id)?,
        name: a.officer_name,
        station: station.id.clone(),
        active: true,
        key: Some(public_key(&a.officer_key)?),
    };
    let r = engine.bootstrap(station, officer).map_err(Into::into);
    let code = finish(a.data.json, r, |_| {
        "initialised: the first station and its officer are registered".into()
    })?;
    engine.close()?;
    Ok(code)
}

pub fn station(cmd: StationCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        StationCommand::Add {
            data,
            who,
            id: sid,
            kind,
            division,
            name,
        } => {
            let station = Station {
                id: id(&sid)?,
                kind,
                division: DivisionCode::new(division).context("division code")?,
                name,
            };
            command(
                &data,
                |e| Ok(e.register_station(&who.actor()?, station)?),
                |_| format!("station {sid} registered"),
            )
        }
        StationCommand::List {
            data,
            kind,
            division,
        } => {
            let within = division
                .map(|d| DivisionCode::new(d).context("division code"))
                .transpose()?;
            list(
                &data,
                |s| view::stations(s, kind, within),
                |s| format!("{}\t{}\t{}\t{}", s.id, s.kind, s.division, s.name),
            )
        }
    }
}

/// An officer's public key from its file.
fn public_key(path: &std::path::Path) -> anyhow::Result<idcard::station::OfficerKey> {
    Ok(idcard::station::OfficerKey::of(
        &idcard::trust::PublicKey::read(path)?,
    ))
}

pub fn officer(cmd: OfficerCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        OfficerCommand::Add {
            data,
            who,
            id: oid,
            name,
            at,
            public_key: key,
        } => {
            let officer = Officer {
                id: id(&oid)?,
                name,
                station: id(&at)?,
                active: true,
                key: Some(public_key(&key)?),
            };
            command(
                &data,
                |e| Ok(e.register_officer(&who.actor()?, officer)?),
                |_| format!("officer {oid} registered at {at}"),
            )
        }
        OfficerCommand::Deactivate { data, who, id: oid } => {
            let officer = id(&oid)?;
            command(
                &data,
                |e| Ok(e.deactivate_officer(&who.actor()?, &officer)?),
                |_| format!("officer {oid} deactivated"),
            )
        }
        OfficerCommand::Enroll {
            data,
            id: oid,
            public_key: key,
        } => {
            let officer = id(&oid)?;
            let key = public_key(&key)?;
            command(
                &data,
                |e| Ok(e.enroll_first_key(&officer, key)?),
                |_| format!("officer {oid} enrolled with a key"),
            )
        }
        OfficerCommand::Rekey {
            data,
            who,
            id: oid,
            public_key: key,
        } => {
            let officer = id(&oid)?;
            let key = public_key(&key)?;
            command(
                &data,
                |e| Ok(e.set_officer_key(&who.actor()?, &officer, key)?),
                |_| format!("officer {oid}'s key replaced"),
            )
        }
        OfficerCommand::List { data, reader } => read_list(
            &data,
            &reader,
            "officer_list",
            Some(Subject::Many("officers".into())),
            view::officers,
            |o| {
                let active = if o.active { "active" } else { "inactive" };
                let key = o
                    .key
                    .as_ref()
                    .and_then(|k| k.id())
                    .map_or("no key".to_string(), |k| format!("key {k}"));
                format!("{}\t{}\t{active}\t{key}\t{}", o.id, o.station, o.name)
            },
        ),
    }
}

pub fn population(cmd: PopulationCommand, quiet: bool) -> anyhow::Result<ExitCode> {
    match cmd {
        PopulationCommand::Import { data, who, file } => {
            let pb = progress::spinner(quiet, "reading");
            let people =
                idcard::workflow::registry::read_people_csv(BufReader::new(read_file(&file)?))
                    .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            pb.finish_and_clear();
            command(
                &data,
                |e| Ok(json!({ "imported": e.register_people(&who.actor()?, people)? })),
                |v| format!("{} people imported", v["imported"]),
            )
        }
        PopulationCommand::Guardians { data, who, file } => {
            let pairs =
                idcard::workflow::registry::read_guardians_csv(BufReader::new(read_file(&file)?))
                    .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            command(
                &data,
                |e| {
                    let n = e.execute(
                        &who.actor()?,
                        &idcard::workflow::registry::RecordGuardians(pairs),
                    )?;
                    Ok(json!({ "recorded": n }))
                },
                |v| format!("{} guardianships recorded", v["recorded"]),
            )
        }
        PopulationCommand::Death {
            data,
            who,
            number: n,
        } => {
            let person = number(&n)?;
            command(
                &data,
                |e| Ok(e.record_death(&who.actor()?, person)?),
                |_| format!("death of {n} recorded"),
            )
        }
    }
}

pub fn card(cmd: CardCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        CardCommand::Import { data, who, file } => {
            let cards = idcard::workflow::registry::read_issued_cards_csv(BufReader::new(
                read_file(&file)?,
            ))
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            command(
                &data,
                |e| Ok(json!({ "imported": e.register_cards(&who.actor()?, cards)? })),
                |v| format!("{} cards imported", v["imported"]),
            )
        }
        CardCommand::Show {
            data,
            reader,
            number: n,
        } => {
            let holder = number(&n)?;
            read_list(
                &data,
                &reader,
                "card_show",
                Some(Subject::Person(holder)),
                |s| view::cards_of(s, holder, idcard::time::china_today()),
                |c| {
                    format!(
                        "{}\t{}\t{}\t{}",
                        c.valid_from,
                        c.valid_until
                            .map_or("long-term".to_string(), |d| d.to_string()),
                        c.status,
                        c.reason
                    )
                },
            )
        }
    }
}
