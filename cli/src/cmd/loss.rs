//! `idcard loss`, `idcard hit`.

use std::process::ExitCode;

use idcard::model::Subject;
use idcard::model::view;
use idcard::workflow::Commands;
use idcard::workflow::loss::LossRequest;
use serde_json::json;

use crate::args::id;
use crate::args::loss::{HitCommand, LossCommand};
use crate::output::{columns, command, plain, read_list};

use super::card_key;

pub fn loss(cmd: LossCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        LossCommand::Report {
            data,
            who,
            card,
            present,
            stolen,
        } => {
            let r = card.card_ref()?;
            let req = LossRequest {
                card: r,
                stolen,
                present: present.person()?,
            };
            command(
                &data,
                |e| {
                    let rc = e.report_loss(&who.actor()?, &req)?;
                    Ok(json!({
                        "number": rc.card.number().to_string(),
                        "valid_from": rc.card.valid_from().to_string(),
                        "status": rc.status.as_str(),
                        "at_hukou_place": rc.at_hukou_place,
                        "seq": rc.seq,
                    }))
                },
                |v| {
                    format!(
                        "card {} valid from {} is now {}",
                        plain(&v["number"]),
                        plain(&v["valid_from"]),
                        plain(&v["status"])
                    )
                },
            )
        }
        LossCommand::Cancel {
            data,
            who,
            card,
            present,
        } => {
            let r = card.card_ref()?;
            let present = present.person()?;
            command(
                &data,
                |e| {
                    let k = e.cancel_loss(&who.actor()?, r, &present)?;
                    Ok(json!({
                        "number": k.number().to_string(),
                        "valid_from": k.valid_from().to_string(),
                        "status": "valid",
                    }))
                },
                |v| {
                    format!(
                        "loss report on the card valid from {} withdrawn",
                        plain(&v["valid_from"])
                    )
                },
            )
        }
        LossCommand::List { data, reader, at } => {
            let at = at.as_deref().map(id).transpose()?;
            read_list(
                &data,
                &reader,
                "loss_list",
                Some(Subject::Many("loss reports".into())),
                |s| view::losses(s, at.as_ref()),
                |l| columns(l, &["number", "valid_from", "status", "station"]),
            )
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
        } => command(
            &data,
            |e| Ok(e.report_hit(&who.actor()?, card_key(&card, e)?, &note)?),
            |h| format!("hit {} routed to {}", h.id, h.routed_to),
        ),
        HitCommand::Ack {
            data,
            who,
            id: hit,
            note,
        } => command(
            &data,
            |e| Ok(e.acknowledge_hit(&who.actor()?, hit, &note)?),
            |_| format!("hit {hit} acknowledged"),
        ),
        HitCommand::List {
            data,
            reader,
            routed_to,
            open,
        } => {
            let routed_to = routed_to.as_deref().map(id).transpose()?;
            read_list(
                &data,
                &reader,
                "hit_list",
                Some(Subject::Many("hit reports".into())),
                |s| view::hits(s, routed_to.as_ref(), open),
                |h| {
                    let state = if h.acknowledged.is_some() {
                        "acknowledged"
                    } else {
                        "open"
                    };
                    format!(
                        "{}\t{}\t{}\t{state}\t{}",
                        h.id, h.routed_to, h.by.station, h.note
                    )
                },
            )
        }
    }
}
