//! `idcard temporary`.

use std::process::ExitCode;

use idcard::engine::InPerson;
use idcard::model::view;
use idcard::workflow::Commands;
use idcard::workflow::temporary::{CertificateCheck, TempCardMaterials, Trip};
use serde_json::json;

use crate::args::number;
use crate::args::temporary::TemporaryCommand;
use crate::output::{command, open};

pub fn temporary(cmd: TemporaryCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        TemporaryCommand::Certificate {
            data,
            who,
            number: n,
            missing,
            flight,
            train,
            hotel,
            date,
            present,
            unit_letter,
        } => {
            let trip = match (flight, train, hotel) {
                (Some(f), _, _) => Trip::Flight(f),
                (_, Some(t), _) => Trip::Train(t),
                (_, _, Some(h)) => Trip::HotelStay(h),
                _ => anyhow::bail!("name the trip: --flight, --train or --hotel"),
            };
            let mut req = idcard::workflow::temporary::IssueTemporaryCertificate::new(
                number(&n)?,
                missing,
                trip,
            );
            req.trip_date = date;
            req.present = InPerson::holder(number(&present)?);
            req.unit_letter = unit_letter;
            command(
                &data,
                |e| Ok(e.execute(&who.actor()?, &req)?),
                |c| {
                    format!(
                        "certificate {} for {} issued, valid until {}",
                        c.id,
                        c.trip.reference(),
                        chrono::DateTime::from_timestamp_millis(c.valid_until_ms)
                            .map(|t| t
                                .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
                                .to_rfc3339())
                            .unwrap_or_default()
                    )
                },
            )
        }
        TemporaryCommand::Check {
            data,
            id,
            number: n,
            trip,
        } => {
            let traveller = number(&n)?;
            let engine = open(&data)?;
            let check = engine.check_temporary_certificate(id, traveller, &trip);
            if data.json {
                println!("{}", json!({"id": id, "check": check}));
            } else {
                println!("certificate {id}: {check:?}");
            }
            Ok(if check == CertificateCheck::Valid {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        TemporaryCommand::Use {
            data,
            who,
            id,
            number: n,
            trip,
        } => {
            let traveller = number(&n)?;
            command(
                &data,
                |e| Ok(e.use_temporary_certificate(&who.actor()?, id, traveller, &trip)?),
                |_| format!("certificate {id} used"),
            )
        }
        TemporaryCommand::CardApply {
            data,
            who,
            number: n,
            present,
            guardian,
            household_booklet,
            photo,
            form,
        } => {
            let holder = number(&n)?;
            let guardian = guardian.as_deref().map(number).transpose()?;
            let present = number(&present)?;
            let materials = TempCardMaterials {
                household_booklet,
                photo,
                registration_form: form,
            };
            command(
                &data,
                |e| {
                    Ok(e.apply_temporary_card(
                        &who.actor()?,
                        holder,
                        &InPerson::holder(present),
                        guardian,
                        materials,
                    )?)
                },
                |t| {
                    format!(
                        "temporary card {} applied for; to be issued by {}",
                        t.id, t.issue_by
                    )
                },
            )
        }
        TemporaryCommand::CardIssue { data, who, id } => command(
            &data,
            |e| Ok(e.issue_temporary_card(&who.actor()?, id)?),
            |t| {
                format!(
                    "temporary card {} issued, valid until {}",
                    t.id,
                    t.issued.map(|(_, u)| u.to_string()).unwrap_or_default()
                )
            },
        ),
        TemporaryCommand::CardReturn { data, who, id } => command(
            &data,
            |e| Ok(e.return_temporary_card(&who.actor()?, id)?),
            |_| format!("temporary card {id} handed back"),
        ),
        TemporaryCommand::Overdue { data, reader, date } => {
            let engine = open(&data)?;
            let today = date.unwrap_or_else(|| engine.clock().china_today());
            let o = match engine.read_personal(
                &reader.who.actor()?,
                "temporary_cards_overdue",
                Some(idcard::model::Subject::Many(
                    "overdue temporary cards".into(),
                )),
                &reader.purpose,
                |s| {
                    let o = view::temp_cards_overdue(s, today);
                    let n = (o.not_issued_in_3_days.len() + o.expired_not_returned.len()) as u64;
                    (o, n)
                },
            ) {
                Ok(o) => o,
                Err(e) => {
                    let code =
                        crate::output::finish::<()>(data.json, Err(e.into()), |_| String::new())?;
                    engine.close()?;
                    return Ok(code);
                }
            };
            if data.json {
                println!("{}", serde_json::to_string(&o)?);
            } else {
                for t in &o.not_issued_in_3_days {
                    println!(
                        "not issued within 3 days\t{}\t{}\tapplied {}",
                        t.id, t.number, t.applied_on
                    );
                }
                for t in &o.expired_not_returned {
                    println!("expired, not handed back\t{}\t{}", t.id, t.number);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
