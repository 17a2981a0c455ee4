//! `idcard journal`.

use std::process::ExitCode;

use idcard::model::view;
use serde_json::json;

use crate::args::journal::JournalCommand;
use crate::output::{open, show};

pub fn journal(cmd: JournalCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        JournalCommand::Show {
            data,
            reader,
            reader_station,
            key,
            purpose,
            officer,
            from,
            limit,
        } => {
            let engine = open(&data)?;
            let who = crate::args::Who {
                officer: reader,
                station: reader_station,
                officer_key: key,
            };
            let actor = who.actor()?;
            let trail: Option<idcard::station::OfficerId> =
                officer.as_deref().map(crate::args::id).transpose()?;
            let subject = Some(match &trail {
                Some(o) => idcard::model::Subject::Officer(o.clone()),
                None => idcard::model::Subject::Many("journal records".into()),
            });
            // The read is recorded first (with the number of records it may return).
            let in_trail = |r: &idcard::model::Record| match &trail {
                None => true,
                Some(o) => {
                    r.actor.officer == *o
                        || matches!(&r.event, idcard::model::Event::AuthenticationFailed(f) if f.claimed_officer == *o)
                }
            };
            let read = engine.read_personal(&actor, "journal_show", subject, &purpose, |s| {
                (
                    (),
                    s.last_seq
                        .saturating_sub(from.saturating_sub(1))
                        .min(limit as u64),
                )
            });
            if let Err(e) = read {
                let code =
                    crate::output::finish::<()>(data.json, Err(e.into()), |_| String::new())?;
                engine.close()?;
                return Ok(code);
            }
            let mut shown = 0;
            for item in engine.records(from)? {
                if shown == limit {
                    break;
                }
                let (seq, r) = item?;
                if !in_trail(&r) {
                    continue;
                }
                shown += 1;
                let signed = r
                    .auth
                    .as_ref()
                    .map(|a| idcard::trust::KeyId(a.key_id).to_string());
                if data.json {
                    println!(
                        "{}",
                        json!({"seq": seq, "at": r.at().to_rfc3339(), "officer": r.actor.officer.as_str(), "station": r.actor.station.as_str(), "kind": r.event.kind(), "signed_by": signed, "event": format!("{:?}", r.event)})
                    );
                } else {
                    println!(
                        "{seq}\t{}\t{}@{}\t{}\t{:?}",
                        r.at().to_rfc3339(),
                        r.actor.officer,
                        r.actor.station,
                        signed.map_or("unsigned".into(), |k| format!("signed {k}")),
                        r.event
                    );
                }
            }
            engine.close()?;
            Ok(ExitCode::SUCCESS)
        }
        JournalCommand::Verify { data, trust, head } => {
            let trust = trust.map(idcard::trust::TrustStore::read).transpose()?;
            let store = data.store.provider()?;
            let check = idcard::engine::verify_journal_with(
                &data.data,
                trust.as_ref(),
                &head,
                store.as_deref(),
            )
            .map_err(crate::output::engine_error)?;
            if data.json {
                let mut v = serde_json::to_value(&check)?;
                v["ok"] = json!(check.ok());
                println!("{v}");
            } else {
                for h in &check.heads {
                    match (&h.error, &h.signed_by) {
                        (Some(e), _) => println!("head {}: FAILED: {e}", h.path),
                        (None, Some(by)) => println!(
                            "head {} (sequence {}): signed by {by}, {}",
                            h.path,
                            h.seq,
                            if h.ok { "agrees" } else { "DISAGREES" }
                        ),
                        (None, None) => {}
                    }
                }
                for (seq, ok) in &check.checkpoints {
                    println!(
                        "checkpoint {seq}: {}",
                        if *ok {
                            "agrees (chain and state)"
                        } else {
                            "DISAGREES"
                        }
                    );
                }
                match check.store {
                    Some((seq, true)) => {
                        println!("population store (sequence {seq}): agrees, row by row")
                    }
                    Some((seq, false)) => println!("population store (sequence {seq}): DISAGREES"),
                    None => println!(
                        "population store: not compared (an engine has it open, or it is empty)"
                    ),
                }
                match &check.problem {
                    None => println!(
                        "journal ok: {} records, every frame and the hash chain checked (head {})",
                        check.records, check.chain
                    ),
                    Some(p) => println!("journal NOT ok: {p}"),
                }
            }
            Ok(if check.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        JournalCommand::Head { data, output } => {
            let engine = open(&data)?;
            let head = engine.sign_head(output.as_deref())?;
            if data.json {
                println!("{}", serde_json::to_string(&head)?);
            } else {
                println!(
                    "journal head: {} records, chain {}, signed at {}",
                    head.seq,
                    idcard::journal::chain_hex(&head.chain),
                    head.at.to_rfc3339()
                );
            }
            engine.close()?;
            Ok(ExitCode::SUCCESS)
        }
        JournalCommand::Stats { data } => show(&data, view::stats, |s| {
            let mut lines: Vec<String> = s
                .events
                .iter()
                .map(|(k, n)| format!("event\t{k}\t{n}"))
                .collect();
            lines.extend(
                s.refusals
                    .iter()
                    .map(|r| format!("refusal\t{:?}\t{}\t{}", r.command, r.code, r.count)),
            );
            lines.join("\n")
        }),
        JournalCommand::Checkpoint { data } => {
            let engine = open(&data)?;
            let seq = engine.checkpoint()?;
            println!("checkpoint written at sequence {seq}");
            Ok(ExitCode::SUCCESS)
        }
    }
}
