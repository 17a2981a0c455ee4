//! `idcard offsite`.

use std::process::ExitCode;

use idcard::engine::InPerson;
use idcard::model::view;
use idcard::workflow::Commands;
use idcard::workflow::offsite::{ApplicationRequest, Materials};
use serde_json::json;

use crate::args::offsite::OffsiteCommand;
use crate::args::{id, number};
use crate::output::{command, plain};

pub fn offsite(cmd: OffsiteCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        OffsiteCommand::Apply(a) => {
            let card = a.card.card_ref()?;
            let req = ApplicationRequest {
                kind: a.kind,
                card,
                present: a.present.person()?,
                appearance: a.appearance,
                materials: Materials {
                    registration_form: a.form,
                    current_card: a.current_card,
                    household_booklet: a.household_booklet,
                    residence_permit: a.residence_permit,
                },
                fingerprints: a.new_fingerprints,
                guardian: a.guardian.as_deref().map(number).transpose()?,
                hardship_certificate: a.hardship_certificate,
                unit_application: a.unit_application,
            };
            command(
                &a.data,
                |e| Ok(e.apply_offsite(&a.who.actor()?, &req)?),
                |app| {
                    format!(
                        "application {} ({}, {}) accepted; to {} for review; fee {}.{:02} yuan{}; deadline {}; pickup receipt {}",
                        app.id,
                        app.kind.as_str(),
                        app.place.as_str(),
                        app.hukou_bureau,
                        app.fee_fen / 100,
                        app.fee_fen % 100,
                        match app.fee_relief {
                            idcard::model::FeeRelief::None => "",
                            idcard::model::FeeRelief::FirstApplicationFree =>
                                " (first application: free)",
                            idcard::model::FeeRelief::Waived => " (waived: low income)",
                            idcard::model::FeeRelief::Reduced => " (halved: hardship certificate)",
                        },
                        app.deadline,
                        app.pickup_receipt
                    )
                },
            )
        }
        OffsiteCommand::Review {
            data,
            who,
            id: app,
            approve: _,
            reject,
            note,
        } => command(
            &data,
            |e| Ok(e.review_application(&who.actor()?, app, !reject, &note)?),
            |_| {
                format!(
                    "application {app} {}",
                    if reject { "rejected" } else { "signed off" }
                )
            },
        ),
        OffsiteCommand::Produce { data, who, id: app } => command(
            &data,
            |e| {
                let k = e.produce_card(&who.actor()?, app)?;
                Ok(
                    json!({"number": k.number().to_string(), "valid_from": k.valid_from().to_string()}),
                )
            },
            |v| {
                format!(
                    "card valid from {} produced for application {app}",
                    plain(&v["valid_from"])
                )
            },
        ),
        OffsiteCommand::Issue {
            data,
            who,
            id: app,
            receipt,
            present,
            old_card_returned,
            temporary_card_returned,
        } => {
            let present = InPerson::holder(number(&present)?);
            command(
                &data,
                |e| {
                    let k = e.issue_card(
                        &who.actor()?,
                        app,
                        &receipt,
                        &present,
                        old_card_returned,
                        temporary_card_returned,
                    )?;
                    Ok(
                        json!({"number": k.number().to_string(), "valid_from": k.valid_from().to_string()}),
                    )
                },
                |v| format!("card valid from {} issued", plain(&v["valid_from"])),
            )
        }
        OffsiteCommand::Extend {
            data,
            who,
            id: app,
            days,
            reason,
        } => command(
            &data,
            |e| Ok(json!({"deadline": e.extend_deadline(&who.actor()?, app, days, &reason)?})),
            |v| format!("deadline now {}", plain(&v["deadline"])),
        ),
        OffsiteCommand::Overdue {
            data,
            reader,
            date,
            at,
        } => {
            let at = at.as_deref().map(id).transpose()?;
            let today = date.unwrap_or_else(idcard::time::china_today);
            crate::output::read_list(
                &data,
                &reader,
                "applications_overdue",
                Some(idcard::model::Subject::Many("overdue applications".into())),
                |s| view::overdue_applications(s, today, at.as_ref()),
                |a| {
                    format!(
                        "{}\t{}\t{}\tdeadline {}\t{:?}",
                        a.id, a.point, a.hukou_bureau, a.deadline, a.state
                    )
                },
            )
        }
        OffsiteCommand::Escalate { data, who } => command(
            &data,
            |e| Ok(e.execute(&who.actor()?, &idcard::workflow::offsite::EscalateOverdue)?),
            |ids: &Vec<u64>| {
                if ids.is_empty() {
                    "no overdue application to escalate".to_string()
                } else {
                    format!(
                        "escalated {} overdue application(s): {}",
                        ids.len(),
                        ids.iter()
                            .map(u64::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            },
        ),
        OffsiteCommand::Escalated {
            data,
            reader,
            bureau,
        } => {
            let bureau: idcard::station::StationId = match bureau {
                Some(b) => id(&b)?,
                None => id(&reader.who.station)?,
            };
            crate::output::read_list(
                &data,
                &reader,
                "applications_escalated",
                Some(idcard::model::Subject::Many(
                    "escalated applications".into(),
                )),
                |s| view::escalated_applications(s, &bureau),
                |a| {
                    format!(
                        "{}\t{}\t{}\t{}\tdeadline {}\t{}",
                        a.id,
                        a.kind.as_str(),
                        a.place.as_str(),
                        a.point,
                        a.deadline,
                        a.state.as_str()
                    )
                },
            )
        }
        OffsiteCommand::List { data, reader } => crate::output::read_list(
            &data,
            &reader,
            "application_list",
            Some(idcard::model::Subject::Many("applications".into())),
            view::applications,
            |a| {
                format!(
                    "{}\t{}\t{}\t{}\t{:?}",
                    a.id,
                    a.kind.as_str(),
                    a.number,
                    a.point,
                    a.state
                )
            },
        ),
    }
}
