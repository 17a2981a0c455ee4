//! `idcard journal`.

use std::process::ExitCode;

use idcard::model::view;
use serde_json::json;

use crate::args::journal::JournalCommand;
use crate::output::{open, show};

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
        JournalCommand::Verify { data, trust, head } => {
            let trust = trust.map(idcard::trust::TrustStore::read).transpose()?;
            let check = idcard::engine::verify_journal(&data.data, trust.as_ref(), &head)
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
