//! `idcard publish`.

use std::process::ExitCode;

use idcard::model::view;
use idcard::trust::Signer;
use idcard::workflow::Commands;
use idcard::workflow::publish::{self, PublishOptions};

use crate::args::id;
use crate::args::publish::PublishCommand;
use crate::output::{command, list};

fn signed_note(p: &publish::Published) -> String {
    match &p.signed_by {
        Some(k) => format!("signed by key {k}"),
        None => "UNSIGNED (verifiers refuse it unless told to accept unsigned files)".into(),
    }
}

pub fn publish(cmd: PublishCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        PublishCommand::Snapshot {
            data,
            who,
            profile,
            subscriber,
            sign,
            output,
        } => command(
            &data,
            |e| {
                let options = PublishOptions {
                    signer: sign.signer()?.map(|s| s as _),
                    subscriber: subscriber.as_deref().map(id).transpose()?,
                };
                Ok(e.publish_snapshot_with(&who.actor()?, profile, &output, &options)?)
            },
            |p| {
                format!(
                    "published {} ({} profile{}): {} cards listed, {} blacklisted, up to sequence {}, {} bytes, {}",
                    p.path,
                    p.profile,
                    p.subscriber
                        .as_ref()
                        .map(|s| format!(", for {s}"))
                        .unwrap_or_default(),
                    p.cards,
                    p.blacklist,
                    p.to_seq,
                    p.bytes,
                    signed_note(p)
                )
            },
        ),
        PublishCommand::Delta {
            data,
            who,
            base,
            since,
            subscriber,
            sign,
            output,
        } => command(
            &data,
            |e| {
                let options = PublishOptions {
                    signer: sign.signer()?.map(|s| s as _),
                    subscriber: subscriber.as_deref().map(id).transpose()?,
                };
                Ok(e.publish_delta_with(&who.actor()?, &base, since, &output, &options)?)
            },
            |p| {
                format!(
                    "published {}: sequence {} to {}, {} card changes, {} blacklist changes, {} bytes, {}",
                    p.path,
                    p.from_seq,
                    p.to_seq,
                    p.cards,
                    p.blacklist,
                    p.bytes,
                    signed_note(p)
                )
            },
        ),
        PublishCommand::Timestamp {
            data,
            who,
            base,
            key,
            cert,
            output,
        } => command(
            &data,
            |e| {
                let signer = Signer::read(&key, cert.as_deref())?;
                let ts = publish::publish_timestamp(e, &who.actor()?, &base, &output, &signer)?;
                Ok(serde_json::json!({
                    "path": output.display().to_string(),
                    "snapshot_id": format!("{:016x}", ts.snapshot_id),
                    "journal_seq": ts.journal_seq,
                    "at": ts.created_at,
                    "signed_by": signer.public().id(),
                }))
            },
            |v| {
                format!(
                    "wrote {}: snapshot {} up to sequence {} as of {}, signed by key {}",
                    v["path"].as_str().unwrap_or(""),
                    v["snapshot_id"].as_str().unwrap_or(""),
                    v["journal_seq"],
                    v["at"].as_str().unwrap_or(""),
                    v["signed_by"].as_str().unwrap_or("")
                )
            },
        ),
        PublishCommand::List { data } => list(&data, view::publications, |p| {
            format!(
                "{}\t{}\t{}\tseq {}\tnext {}\t{} deltas",
                p.snapshot_id,
                p.profile,
                p.subscriber.as_deref().unwrap_or("-"),
                p.journal_seq,
                p.next_from,
                p.deltas
            )
        }),
    }
}
