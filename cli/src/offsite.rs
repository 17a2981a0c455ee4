//! `idcard offsite ...`, `idcard temporary ...`, `idcard policy ...`: off-site acceptance (A1-A12)
//! and temporary papers (A8, T1-T5). Exit status: 0 done, 1 refused (recorded), 2 could not run.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chrono::NaiveDate;
use clap::{Args, Subcommand};
use idcard::offsite::{Appearance, ApplicationKind, ApplicationRequest, Materials};
use idcard::policy::Policy;
use idcard::temporary::{MissingCard, TempCardMaterials, Trip};
use serde_json::json;

use crate::record::{CardArg, Data, Present, Who, finish, open, plain};

#[derive(Subcommand)]
pub enum OffsiteCommand {
    /// Accept an application for renewal or replacement at an acceptance point (A1-A7, A9-A12).
    Apply(ApplyArgs),
    /// Review and sign off (or reject) at the hukou-place county bureau (A4, A11).
    Review {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// The application.
        #[arg(long)]
        id: u64,
        /// Reject instead of signing off.
        #[arg(long)]
        reject: bool,
        /// Notes (the reason of a rejection).
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Produce and check the new card at the accepting point (A4).
    Produce {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// The application.
        #[arg(long)]
        id: u64,
    },
    /// Hand the new card to the applicant against the pickup receipt (A4, T5).
    Issue {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// The application.
        #[arg(long)]
        id: u64,
        /// The pickup receipt code.
        #[arg(long)]
        receipt: String,
        /// The person collecting (default: the applicant).
        #[arg(long)]
        present: Option<String>,
        /// The old card was handed back (renewal).
        #[arg(long)]
        old_card_returned: bool,
        /// A temporary card still out was handed back (T5).
        #[arg(long)]
        temporary_card_returned: bool,
    },
    /// Extend the deadline for a remote area (A4: at most 30 days in all).
    Extend {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// The application.
        #[arg(long)]
        id: u64,
        /// Days to add.
        #[arg(long)]
        days: u32,
        /// Why.
        #[arg(long)]
        reason: String,
    },
    /// Applications past their deadline (A4), of a point or a reviewing bureau.
    Overdue {
        #[command(flatten)]
        data: Data,
        /// As of this date (default: today in China).
        #[arg(long)]
        date: Option<NaiveDate>,
        /// Only those of this acceptance point or reviewing bureau.
        #[arg(long, value_name = "STATION")]
        at: Option<String>,
    },
    /// List applications.
    List {
        #[command(flatten)]
        data: Data,
    },
}

#[derive(Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    data: Data,
    #[command(flatten)]
    who: Who,
    /// renewal, damaged_renewal or replacement.
    #[arg(long)]
    kind: ApplicationKind,
    #[command(flatten)]
    card: CardArg,
    #[command(flatten)]
    present: Present,
    /// The officer's comparison with the population system's photograph.
    #[arg(long, default_value = "matches")]
    appearance: Appearance,
    /// The registration form was filled in.
    #[arg(long)]
    form: bool,
    /// The current card was handed in (renewal).
    #[arg(long)]
    current_card: bool,
    /// The household register booklet was shown (replacement).
    #[arg(long)]
    household_booklet: bool,
    /// A residence permit was shown (replacement).
    #[arg(long)]
    residence_permit: bool,
    /// Register fingerprints on the new card.
    #[arg(long)]
    new_fingerprints: bool,
}

#[derive(Subcommand)]
pub enum TemporaryCommand {
    /// Issue a temporary identity certificate for one flight, train or stay (A8).
    Certificate {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// The traveller.
        #[arg(long)]
        number: String,
        /// lost, stolen or forgotten.
        #[arg(long)]
        missing: MissingCard,
        /// A flight, e.g. "CA1831 2026-01-15".
        #[arg(long, group = "trip")]
        flight: Option<String>,
        /// A train.
        #[arg(long, group = "trip")]
        train: Option<String>,
        /// A hotel stay.
        #[arg(long, group = "trip")]
        hotel: Option<String>,
    },
    /// Check a certificate presented for a trip (no record written).
    Check {
        #[command(flatten)]
        data: Data,
        /// Certificate id.
        #[arg(long)]
        id: u64,
        /// The traveller's number.
        #[arg(long)]
        number: String,
        /// The trip reference.
        #[arg(long)]
        trip: String,
    },
    /// Use a certificate for its trip (boarding, check-in): it is used up.
    Use {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// Certificate id.
        #[arg(long)]
        id: u64,
        /// The traveller's number.
        #[arg(long)]
        number: String,
        /// The trip reference.
        #[arg(long)]
        trip: String,
    },
    /// Apply for a temporary resident card (T1-T3).
    CardApply {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// The holder.
        #[arg(long)]
        number: String,
        /// The person present (default: the holder; the guardian for under-16s).
        #[arg(long)]
        present: Option<String>,
        /// The guardian applying for an under-16 (T2).
        #[arg(long)]
        guardian: Option<String>,
        /// The household register booklet was shown.
        #[arg(long)]
        household_booklet: bool,
        /// A recent one-inch bareheaded photo was given.
        #[arg(long)]
        photo: bool,
        /// The application form was filled in.
        #[arg(long)]
        form: bool,
    },
    /// Issue a temporary resident card at the county bureau (T3-T5).
    CardIssue {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// Temporary card id.
        #[arg(long)]
        id: u64,
    },
    /// Take back a temporary resident card (T5).
    CardReturn {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// Temporary card id.
        #[arg(long)]
        id: u64,
    },
    /// Temporary cards not issued within 3 days, and expired ones not handed back (T4, T5).
    Overdue {
        #[command(flatten)]
        data: Data,
        /// As of this date (default: today in China).
        #[arg(long)]
        date: Option<NaiveDate>,
    },
}

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Print the policy in force (rollout, fees, processing days) as JSON.
    Show {
        #[command(flatten)]
        data: Data,
    },
    /// Put a policy in force from a JSON file (the format `policy show` prints).
    Set {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        who: Who,
        /// The policy file.
        #[arg(long)]
        file: PathBuf,
    },
}

fn number(s: &str) -> anyhow::Result<idcard::IdNumber> {
    idcard::IdNumber::parse(s).with_context(|| format!("identity number {s:?}"))
}

pub fn offsite(cmd: OffsiteCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        OffsiteCommand::Apply(a) => {
            let engine = open(&a.data)?;
            let card = a.card.card_ref()?;
            let req = ApplicationRequest {
                kind: a.kind,
                card,
                present: a.present.person(card.number)?,
                appearance: a.appearance,
                materials: Materials {
                    registration_form: a.form,
                    current_card: a.current_card,
                    household_booklet: a.household_booklet,
                    residence_permit: a.residence_permit,
                },
                fingerprints: a.new_fingerprints,
            };
            let r = engine.apply_offsite(&a.who.actor()?, &req);
            let code = finish(a.data.json, r, |app| {
                format!(
                    "application {} accepted; to {} for review; fee {}.{:02} yuan; deadline {}; pickup receipt {}",
                    app.id,
                    app.hukou_bureau,
                    app.fee_fen / 100,
                    app.fee_fen % 100,
                    app.deadline,
                    app.pickup_receipt
                )
            })?;
            engine.close()?;
            Ok(code)
        }
        OffsiteCommand::Review {
            data,
            who,
            id,
            reject,
            note,
        } => {
            let engine = open(&data)?;
            let r = engine.review_application(&who.actor()?, id, !reject, &note);
            let code = finish(data.json, r, |_| {
                format!(
                    "application {id} {}",
                    if reject { "rejected" } else { "signed off" }
                )
            })?;
            engine.close()?;
            Ok(code)
        }
        OffsiteCommand::Produce { data, who, id } => {
            let engine = open(&data)?;
            let r = engine
                .produce_card(&who.actor()?, id)
                .map(|k| json!({"number": k.number().to_string(), "valid_from": k.valid_from().to_string()}));
            let code = finish(data.json, r, |v| {
                format!(
                    "card valid from {} produced for application {id}",
                    plain(&v["valid_from"])
                )
            })?;
            engine.close()?;
            Ok(code)
        }
        OffsiteCommand::Issue {
            data,
            who,
            id,
            receipt,
            present,
            old_card_returned,
            temporary_card_returned,
        } => {
            let engine = open(&data)?;
            let applicant = engine
                .with_state(|s| s.applications.get(&id).map(|a| a.number))
                .with_context(|| format!("no application {id}"))?;
            let present = match present {
                Some(p) => number(&p)?,
                None => applicant,
            };
            let r = engine
                .issue_card(&who.actor()?, id, &receipt, &idcard::engine::InPerson::holder(present), old_card_returned, temporary_card_returned)
                .map(|k| json!({"number": k.number().to_string(), "valid_from": k.valid_from().to_string()}));
            let code = finish(data.json, r, |v| {
                format!("card valid from {} issued", plain(&v["valid_from"]))
            })?;
            engine.close()?;
            Ok(code)
        }
        OffsiteCommand::Extend {
            data,
            who,
            id,
            days,
            reason,
        } => {
            let engine = open(&data)?;
            let r = engine
                .extend_deadline(&who.actor()?, id, days, &reason)
                .map(|d| json!({"deadline": d.to_string()}));
            let code = finish(data.json, r, |v| {
                format!("deadline now {}", plain(&v["deadline"]))
            })?;
            engine.close()?;
            Ok(code)
        }
        OffsiteCommand::Overdue { data, date, at } => {
            let engine = open(&data)?;
            let today = date.unwrap_or_else(idcard::china_today);
            let at = at
                .map(|s| s.parse())
                .transpose()
                .map_err(anyhow::Error::msg)?;
            let list = engine.overdue_applications(today, at.as_ref());
            print(data.json, &list, |a| {
                format!(
                    "{}\t{}\t{}\tdeadline {}\t{:?}",
                    a.id, a.point, a.hukou_bureau, a.deadline, a.state
                )
            })
        }
        OffsiteCommand::List { data } => {
            let engine = open(&data)?;
            let list: Vec<_> = engine.with_state(|s| s.applications.values().cloned().collect());
            print(data.json, &list, |a| {
                format!(
                    "{}\t{}\t{}\t{}\t{:?}",
                    a.id,
                    a.kind.as_str(),
                    a.number,
                    a.point,
                    a.state
                )
            })
        }
    }
}

fn print<T: serde::Serialize>(
    json: bool,
    list: &[T],
    line: impl Fn(&T) -> String,
) -> anyhow::Result<ExitCode> {
    for item in list {
        if json {
            println!("{}", serde_json::to_string(item)?);
        } else {
            println!("{}", line(item));
        }
    }
    Ok(ExitCode::SUCCESS)
}

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
        } => {
            let engine = open(&data)?;
            let trip = match (flight, train, hotel) {
                (Some(f), _, _) => Trip::Flight(f),
                (_, Some(t), _) => Trip::Train(t),
                (_, _, Some(h)) => Trip::HotelStay(h),
                _ => anyhow::bail!("name the trip: --flight, --train or --hotel"),
            };
            let r = engine.issue_temporary_certificate(&who.actor()?, number(&n)?, missing, trip);
            let code = finish(data.json, r, |c| {
                format!("certificate {} for {} issued", c.id, c.trip.reference())
            })?;
            engine.close()?;
            Ok(code)
        }
        TemporaryCommand::Check {
            data,
            id,
            number: n,
            trip,
        } => {
            let engine = open(&data)?;
            let check = engine.check_temporary_certificate(id, number(&n)?, &trip);
            if data.json {
                println!("{}", json!({"id": id, "check": check}));
            } else {
                println!("certificate {id}: {check:?}");
            }
            Ok(if check == idcard::temporary::CertificateCheck::Valid {
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
            let engine = open(&data)?;
            let r = engine.use_temporary_certificate(&who.actor()?, id, number(&n)?, &trip);
            let code = finish(data.json, r, |_| format!("certificate {id} used"))?;
            engine.close()?;
            Ok(code)
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
            let engine = open(&data)?;
            let holder = number(&n)?;
            let present = match &present {
                Some(p) => number(p)?,
                None => match &guardian {
                    Some(g) => number(g)?,
                    None => holder,
                },
            };
            let guardian = guardian.as_deref().map(number).transpose()?;
            let r = engine.apply_temporary_card(
                &who.actor()?,
                holder,
                &idcard::engine::InPerson::holder(present),
                guardian,
                TempCardMaterials {
                    household_booklet,
                    photo,
                    registration_form: form,
                },
            );
            let code = finish(data.json, r, |t| {
                format!(
                    "temporary card {} applied for; to be issued by {}",
                    t.id, t.issue_by
                )
            })?;
            engine.close()?;
            Ok(code)
        }
        TemporaryCommand::CardIssue { data, who, id } => {
            let engine = open(&data)?;
            let r = engine.issue_temporary_card(&who.actor()?, id);
            let code = finish(data.json, r, |t| {
                format!(
                    "temporary card {} issued, valid until {}",
                    t.id,
                    t.issued.map(|(_, u)| u.to_string()).unwrap_or_default()
                )
            })?;
            engine.close()?;
            Ok(code)
        }
        TemporaryCommand::CardReturn { data, who, id } => {
            let engine = open(&data)?;
            let r = engine.return_temporary_card(&who.actor()?, id);
            let code = finish(data.json, r, |_| format!("temporary card {id} handed back"))?;
            engine.close()?;
            Ok(code)
        }
        TemporaryCommand::Overdue { data, date } => {
            let engine = open(&data)?;
            let (late, expired) =
                engine.temporary_cards_overdue(date.unwrap_or_else(idcard::china_today));
            if data.json {
                println!(
                    "{}",
                    json!({"not_issued_in_3_days": late, "expired_not_returned": expired})
                );
            } else {
                for t in &late {
                    println!(
                        "not issued within 3 days\t{}\t{}\tapplied {}",
                        t.id, t.number, t.applied_on
                    );
                }
                for t in &expired {
                    println!("expired, not handed back\t{}\t{}", t.id, t.number);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub fn policy(cmd: PolicyCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        PolicyCommand::Show { data } => {
            let engine = open(&data)?;
            let p = engine.with_state(|s| s.policy.clone());
            println!("{}", serde_json::to_string_pretty(&p)?);
            Ok(ExitCode::SUCCESS)
        }
        PolicyCommand::Set { data, who, file } => {
            let engine = open(&data)?;
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let p: Policy = serde_json::from_str(&text)
                .with_context(|| format!("{}: not a policy", file.display()))?;
            let r = engine.set_policy(&who.actor()?, p);
            let code = finish(data.json, r, |_| "policy in force".into())?;
            engine.close()?;
            Ok(code)
        }
    }
}
