//! `idcard subscriber`.

use std::process::ExitCode;

use idcard::model::view;
use idcard::workflow::Commands;

use crate::args::id;
use crate::args::subscriber::SubscriberCommand;
use crate::output::{command, list};

pub fn subscriber(cmd: SubscriberCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        SubscriberCommand::Add {
            data,
            who,
            id: sid,
            name,
            profile,
        } => command(
            &data,
            |e| {
                let sid: idcard::station::SubscriberId = id(&sid)?;
                e.register_subscriber(&who.actor()?, sid.clone(), &name, profile)?;
                Ok(
                    serde_json::json!({"subscriber": sid.to_string(), "name": name, "profile": profile}),
                )
            },
            |v| {
                format!(
                    "registered subscriber {} ({}, {} profile)",
                    v["subscriber"].as_str().unwrap_or(""),
                    v["name"].as_str().unwrap_or(""),
                    v["profile"].as_str().unwrap_or("")
                )
            },
        ),
        SubscriberCommand::List { data } => list(&data, view::subscribers, |s| {
            format!("{}\t{}\t{}", s.id, s.profile, s.name)
        }),
    }
}
