//! `idcard publish`.

use std::process::ExitCode;

use idcard::workflow::Commands;

use crate::args::publish::PublishCommand;
use crate::output::command;

pub fn publish(cmd: PublishCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        PublishCommand::Snapshot {
            data,
            who,
            profile,
            output,
        } => command(
            &data,
            |e| Ok(e.publish_snapshot(&who.actor()?, profile, &output)?),
            |p| {
                format!(
                    "published {} ({} profile): {} cards listed, {} blacklisted, up to sequence {}, {} bytes",
                    p.path, p.profile, p.cards, p.blacklist, p.to_seq, p.bytes
                )
            },
        ),
        PublishCommand::Delta {
            data,
            who,
            base,
            since,
            output,
        } => command(
            &data,
            |e| Ok(e.publish_delta_since(&who.actor()?, &base, since, &output)?),
            |p| {
                format!(
                    "published {}: sequence {} to {}, {} card changes, {} blacklist changes, {} bytes",
                    p.path, p.from_seq, p.to_seq, p.cards, p.blacklist, p.bytes
                )
            },
        ),
    }
}
