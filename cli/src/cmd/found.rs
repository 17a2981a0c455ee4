//! `idcard found`.

use std::process::ExitCode;

use idcard::model::Subject;
use idcard::model::view;
use idcard::workflow::Commands;
use idcard::workflow::found::IntakeOutcome;

use crate::args::found::FoundCommand;
use crate::args::{id, number};
use crate::output::{columns, command, read_list};

use super::card_key;

pub fn found(cmd: FoundCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        FoundCommand::Intake {
            data,
            who,
            card,
            finder,
        } => command(
            &data,
            |e| Ok(e.intake_found(&who.actor()?, card_key(&card, e)?, finder.as_deref())?),
            |o| match o {
                IntakeOutcome::Held { notified: Some(c) } => {
                    format!("held; owner notified via {c}")
                }
                IntakeOutcome::Held { notified: None } => "held; no contact on record".into(),
                IntakeOutcome::Destroyed => {
                    "destroyed: the owner already has a replacement (F2)".into()
                }
            },
        ),
        FoundCommand::Return {
            data,
            who,
            card,
            present,
            photo,
        } => command(
            &data,
            |e| {
                let key = card_key(&card, e)?;
                let present = present.person()?;
                Ok(e.return_found(&who.actor()?, key, &present, &photo)?)
            },
            |_| "returned to the owner".into(),
        ),
        FoundCommand::Query {
            data,
            reader,
            number: n,
        } => {
            let holder = number(&n)?;
            crate::output::read_list_or(
                &data,
                &reader,
                "found_query",
                Some(Subject::Person(holder)),
                |s| view::found_query(s, holder),
                |a| {
                    let at = match (&a.window, &a.window_name) {
                        (Some(w), Some(name)) => format!(" at {w} ({name})"),
                        (Some(w), None) => format!(" at {w}"),
                        _ => String::new(),
                    };
                    format!(
                        "card valid from {}: {}{at}, handed in on {}",
                        a.valid_from, a.state, a.since
                    )
                },
                Some(&format!("no found card of {n}")),
            )
        }
        FoundCommand::List {
            data,
            reader,
            window,
        } => {
            let window = window.as_deref().map(id).transpose()?;
            read_list(
                &data,
                &reader,
                "found_list",
                Some(Subject::Many("found cards".into())),
                |s| view::found(s, window.as_ref()),
                |f| columns(f, &["number", "valid_from", "window", "state"]),
            )
        }
    }
}
