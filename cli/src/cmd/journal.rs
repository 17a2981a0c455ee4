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
