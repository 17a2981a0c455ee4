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

/// Rows a command of an import carries: the import of a province streams through commands of
/// this many rows, in bounded memory.
const IMPORT_CHUNK: usize = 100_000;

/// Run `submit` on the rows `read` streams, IMPORT_CHUNK at a time; the rows submitted in all.
/// A failure names how many were imported before it (those stay: each chunk is a command).
fn chunked<T>(
    read: impl FnOnce(&mut dyn FnMut(T) -> anyhow::Result<()>) -> anyhow::Result<u64>,
    mut submit: impl FnMut(Vec<T>) -> anyhow::Result<usize>,
) -> anyhow::Result<usize> {
    let mut done = 0usize;
    let mut chunk = Vec::with_capacity(IMPORT_CHUNK);
    read(&mut |row| {
        chunk.push(row);
        if chunk.len() == IMPORT_CHUNK {
            done += submit(std::mem::take(&mut chunk))
                .with_context(|| format!("after {done} rows imported"))?;
        }
        Ok(())
    })?;
    if !chunk.is_empty() {
        done += submit(chunk).with_context(|| format!("after {done} rows imported"))?;
    }
    Ok(done)
}

pub fn population(cmd: PopulationCommand, quiet: bool) -> anyhow::Result<ExitCode> {
    match cmd {
        PopulationCommand::Import { data, who, file } => {
            // Two passes, neither holding the file: every row checked first (a bad row imports
            // nothing), then commands of IMPORT_CHUNK people each.
            let pb = progress::spinner(quiet, "checking");
            idcard::workflow::registry::for_each_person_csv(
                BufReader::new(read_file(&file)?),
                |_| Ok::<(), idcard::index::ImportError>(()),
            )
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            pb.finish_and_clear();
            command(
                &data,
                |e| {
                    let actor = who.actor()?;
                    let imported = chunked(
                        |f| {
                            idcard::workflow::registry::for_each_person_csv(
                                BufReader::new(read_file(&file)?),
                                f,
                            )
                        },
                        |people| Ok(e.register_people(&actor, people)?),
                    )?;
                    Ok(json!({ "imported": imported }))
                },
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
            idcard::workflow::registry::for_each_issued_card_csv(
                BufReader::new(read_file(&file)?),
                |_| Ok::<(), idcard::index::ImportError>(()),
            )
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            command(
                &data,
                |e| {
                    let actor = who.actor()?;
                    let imported = chunked(
                        |f| {
                            idcard::workflow::registry::for_each_issued_card_csv(
                                BufReader::new(read_file(&file)?),
                                f,
                            )
                        },
                        |cards| Ok(e.register_cards(&actor, cards)?),
                    )?;
                    Ok(json!({ "imported": imported }))
                },
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

#[cfg(test)]
mod tests {
    /// Issue 19: an import streams through commands of IMPORT_CHUNK rows; a failure says how many
    /// were imported before it.
    #[test]
    fn imports_are_submitted_in_chunks_and_a_failure_names_what_was_imported() {
        let n = super::IMPORT_CHUNK * 2 + 7;
        let read = |f: &mut dyn FnMut(usize) -> anyhow::Result<()>| {
            for i in 0..n {
                f(i)?;
            }
            Ok(n as u64)
        };
        let mut sizes = Vec::new();
        let done = super::chunked(read, |c| {
            sizes.push(c.len());
            Ok(c.len())
        })
        .unwrap();
        assert_eq!(done, n);
        assert_eq!(
            sizes,
            [super::IMPORT_CHUNK, super::IMPORT_CHUNK, 7],
            "bounded commands"
        );
        let mut calls = 0;
        let e = super::chunked(read, |c| {
            calls += 1;
            if calls == 2 {
                anyhow::bail!("refused");
            }
            Ok(c.len())
        })
        .unwrap_err();
        assert!(
            format!("{e:#}").contains(&format!("after {} rows imported", super::IMPORT_CHUNK)),
            "{e:#}"
        );
    }
}
