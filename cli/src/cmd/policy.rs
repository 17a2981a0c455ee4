//! `idcard policy`.

use std::process::ExitCode;

use anyhow::Context;
use idcard::policy::Policy;
use idcard::workflow::Commands;

use crate::args::policy::PolicyCommand;
use crate::output::{command, open};

pub fn policy(cmd: PolicyCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        PolicyCommand::Show { data } => {
            let engine = open(&data)?;
            let p = engine.with_state(|s| s.policy.clone());
            println!("{}", serde_json::to_string_pretty(&p)?);
            Ok(ExitCode::SUCCESS)
        }
        PolicyCommand::Set { data, who, file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let p: Policy = serde_json::from_str(&text)
                .with_context(|| format!("{}: not a policy", file.display()))?;
            command(
                &data,
                |e| Ok(e.set_policy(&who.actor()?, p)?),
                |_| "policy in force".into(),
            )
        }
    }
}
