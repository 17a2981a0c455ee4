//! `idcard id ...`: identity numbers.

use std::io::{BufRead, BufWriter, Write};
use std::process::ExitCode;

use crate::args::id::{CheckArgs, IdCommand};
use anyhow::Context;
use idcard::{DivisionTable, NumberError, ParsedNumber, Parser};
use serde::Serialize;

pub fn run(cmd: IdCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        IdCommand::Check(args) => check(args),
    }
}

#[derive(Serialize)]
struct ErrorJson<'a> {
    kind: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    position: Option<usize>,
}

#[derive(Serialize, Default)]
struct CheckJson<'a> {
    input: &'a str,
    valid: bool,
    number: Option<String>,
    /// `citizen`, `foreign_permanent_resident`, `hong_kong_resident`, `macao_resident` or
    /// `taiwan_resident`.
    kind: Option<&'static str>,
    /// For a foreign permanent resident: the ISO 3166-1 numeric nationality code.
    #[serde(skip_serializing_if = "Option::is_none")]
    nationality: Option<u16>,
    upgraded_from_15: bool,
    division_code: Option<String>,
    division_name: Option<&'a str>,
    province: Option<&'a str>,
    prefecture: Option<&'a str>,
    county: Option<&'a str>,
    birth_date: Option<String>,
    sex: Option<&'static str>,
    error: Option<ErrorJson<'a>>,
}

fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let merged;
    let table: &DivisionTable = match &args.divisions {
        Some(path) => {
            let newer = DivisionTable::load(path)?;
            merged = DivisionTable::builtin().merged(&newer);
            &merged
        }
        None => DivisionTable::builtin(),
    };
    let mut parser = Parser::with_table(table).strict(args.strict);
    if let Some(today) = args.today {
        parser = parser.with_today(today);
    }
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut any_invalid = false;
    let mut one = |input: &[u8], out: &mut BufWriter<_>| -> anyhow::Result<()> {
        let result = parser.parse_bytes(input);
        any_invalid |= result.is_err();
        let text = String::from_utf8_lossy(input);
        let text = text.trim_end_matches(['\r', '\n']);
        if args.json {
            serde_json::to_writer(&mut *out, &to_json(text, &result, table))?;
            writeln!(out)?;
        } else {
            write_plain(out, text, &result, table)?;
        }
        Ok(())
    };
    if args.numbers.is_empty() {
        let stdin = std::io::stdin();
        for line in stdin.lock().split(b'\n') {
            let mut line = line.context("reading stdin")?;
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            one(&line, &mut out)?;
        }
    } else {
        for n in &args.numbers {
            one(n.as_bytes(), &mut out)?;
        }
    }
    out.flush()?;
    Ok(if any_invalid {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn to_json<'a>(
    input: &'a str,
    result: &'a Result<ParsedNumber, NumberError>,
    table: &'a DivisionTable,
) -> CheckJson<'a> {
    match result {
        Ok(p) => {
            let n = p.number;
            let birth = n.birth_date();
            let foreign = n.foreign_resident_fields();
            // The division named: a citizen's place of first registration, a foreign permanent
            // resident's province of acceptance, none for a residence permit.
            let code = match (n.kind(), foreign) {
                (idcard::NumberKind::Citizen, _) => Some(n.division()),
                (_, Some((province, _))) => Some(province),
                _ => None,
            };
            let d = code.and_then(|c| table.division_on(c, birth));
            CheckJson {
                input,
                valid: true,
                number: Some(n.to_string()),
                kind: Some(n.kind().as_str()),
                nationality: foreign.map(|(_, nat)| nat),
                upgraded_from_15: p.upgraded_from_15,
                division_code: code.map(|c| c.to_string()),
                division_name: d.map(|d| d.name),
                province: d.and_then(|d| d.province),
                prefecture: d.and_then(|d| d.prefecture),
                county: d.and_then(|d| d.county),
                birth_date: Some(birth.to_string()),
                sex: Some(n.sex().as_str()),
                error: None,
            }
        }
        Err(e) => CheckJson {
            input,
            valid: false,
            error: Some(ErrorJson {
                kind: e.kind(),
                message: e.to_string(),
                position: e.position(),
            }),
            ..Default::default()
        },
    }
}

fn write_plain(
    out: &mut impl Write,
    input: &str,
    result: &Result<ParsedNumber, NumberError>,
    table: &DivisionTable,
) -> std::io::Result<()> {
    match result {
        Ok(p) => {
            let n = p.number;
            let birth = n.birth_date();
            let place_of = |code| {
                table
                    .division_on(code, birth)
                    .map(|d| {
                        [d.province, d.prefecture, d.county]
                            .into_iter()
                            .flatten()
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .unwrap_or_default()
            };
            let place = match (n.kind(), n.foreign_resident_fields()) {
                (idcard::NumberKind::Citizen, _) => {
                    format!("{} {}", n.division(), place_of(n.division()))
                }
                (_, Some((province, nationality))) => format!(
                    "accepted in {province} {}, nationality {nationality:03}",
                    place_of(province)
                ),
                (kind, None) => kind.describe().to_string(),
            };
            writeln!(
                out,
                "{input}\tvalid\t{n}{}\t{place}\t{birth}\t{}\t{}",
                if p.upgraded_from_15 {
                    " (upgraded from 15 digits)"
                } else {
                    ""
                },
                n.sex(),
                n.kind()
            )
        }
        Err(e) => writeln!(out, "{input}\tinvalid\t{e}"),
    }
}
