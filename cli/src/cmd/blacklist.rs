//! `idcard blacklist`.

use std::io::BufReader;
use std::process::ExitCode;

use idcard::index::{BlacklistEntry, BlacklistSource};
use idcard::model::Subject;
use idcard::model::view;
use idcard::workflow::Commands;
use idcard::workflow::blacklist::CsvCreditFeed;

use crate::args::blacklist::RecordBlacklistCommand;
use crate::args::number;
use crate::output::{columns, command, read_file, read_list};
use crate::progress;

pub fn blacklist(cmd: RecordBlacklistCommand, quiet: bool) -> anyhow::Result<ExitCode> {
    match cmd {
        RecordBlacklistCommand::Check(a) => super::snapshot::blacklist_check(a),
        RecordBlacklistCommand::Add {
            data,
            who,
            number: n,
            reason,
            source,
        } => {
            let person = number(&n)?;
            let entry = BlacklistEntry {
                reasons: reason,
                source: source.unwrap_or(BlacklistSource::PublicSecurity),
                listed_on: None,
            };
            command(
                &data,
                |e| Ok(e.add_blacklist(&who.actor()?, person, entry)?),
                |_| format!("{n} blacklisted ({reason})"),
            )
        }
        RecordBlacklistCommand::Remove {
            data,
            who,
            number: n,
            reason,
        } => {
            let person = number(&n)?;
            command(
                &data,
                |e| Ok(e.remove_blacklist(&who.actor()?, person, &reason)?),
                |_| format!("{n} removed from the blacklist"),
            )
        }
        RecordBlacklistCommand::Import { data, who, file } => {
            let mut feed = CsvCreditFeed::new(BufReader::new(read_file(&file)?));
            command(
                &data,
                |e| {
                    let pb = progress::spinner(quiet, "importing");
                    let r =
                        e.import_credit_push(&who.actor()?, &mut feed, &mut |n| pb.set_position(n));
                    pb.finish_and_clear();
                    Ok(r?)
                },
                |s| {
                    format!(
                        "{} credit records imported in {} records",
                        s.imported, s.records
                    )
                },
            )
        }
        RecordBlacklistCommand::List { data, reader } => read_list(
            &data,
            &reader,
            "blacklist_list",
            Some(Subject::Many("the blacklist".into())),
            view::blacklist,
            |b| columns(b, &["number", "reasons", "source"]),
        ),
    }
}
