//! The one way a record command runs: open the record, run, print, close ([`command`]), and
//! the one way a read prints a list ([`list`]). Exit status: 0 done, 1 refused by a rule (the
//! refusal is recorded) or a negative answer, 2 could not run.

use std::process::ExitCode;

use anyhow::Context;
use idcard::engine::{Engine, EngineError, EngineOptions};
use idcard::model::State;
use serde::Serialize;
use serde_json::{Value, json};

use crate::args::Data;

/// Open the record at `--data`; it must exist (`idcard init` creates it), so a mistyped path is
/// an error, not a new empty record.
pub fn open(data: &Data) -> anyhow::Result<Engine> {
    open_with(data, false)
}

/// Open the record at `--data`, creating it when `create`.
pub fn open_with(data: &Data, create: bool) -> anyhow::Result<Engine> {
    let options = EngineOptions {
        store_cache_bytes: data.store_cache_mb.max(1) << 20,
        store: data.store.provider()?,
        ..EngineOptions::default()
    };
    let opened = if create {
        Engine::open(&data.data, options)
    } else {
        Engine::open_existing(&data.data, options)
    };
    let (engine, report) = opened.map_err(engine_error)?;
    if let Some(t) = &report.recovery.truncated {
        eprintln!(
            "idcard: recovered the journal: cut a torn last record of {} bytes at byte {} of {}",
            t.bytes, t.offset, t.segment
        );
    }
    if let Some(why) = &report.store_rebuilt {
        eprintln!("idcard: {why}");
    }
    Ok(engine)
}

/// An engine error for people: a missing record says how to make one.
pub fn engine_error(e: EngineError) -> anyhow::Error {
    match e {
        EngineError::NoRecord(_) => anyhow::anyhow!("{e}: `idcard init` creates one"),
        e => e.into(),
    }
}

/// Run a command on the record: open it, run `f`, print the outcome (`plain` for people, the
/// value itself with `--json`), close it.
pub fn command<T: Serialize>(
    data: &Data,
    f: impl FnOnce(&Engine) -> anyhow::Result<T>,
    plain: impl FnOnce(&T) -> String,
) -> anyhow::Result<ExitCode> {
    let engine = open(data)?;
    let code = finish(data.json, f(&engine), plain)?;
    engine.close()?;
    Ok(code)
}

/// What a view gives: a list, or a list read from the population store (which may fail).
pub trait ViewList<T> {
    /// The list, or the store's error.
    fn into_list(self) -> Result<Vec<T>, idcard::store::StoreError>;
}

impl<T> ViewList<T> for Vec<T> {
    fn into_list(self) -> Result<Vec<T>, idcard::store::StoreError> {
        Ok(self)
    }
}

impl<T> ViewList<T> for Result<Vec<T>, idcard::store::StoreError> {
    fn into_list(self) -> Result<Vec<T>, idcard::store::StoreError> {
        self
    }
}

/// Read a list from the record with a view and print it, one item per line (a JSON object per
/// line with `--json`).
pub fn list<T: Serialize, L: ViewList<T>>(
    data: &Data,
    view: impl FnOnce(&State) -> L,
    line: impl Fn(&T) -> String,
) -> anyhow::Result<ExitCode> {
    let engine = open(data)?;
    let items = engine.with_state(|s| view(s).into_list())?;
    print_list(data.json, &items, line)?;
    Ok(ExitCode::SUCCESS)
}

/// Read personal data from the record with a view, as an audited read (S2: recorded with what
/// was read, about whom, why and how many items), and print it one item per line.
pub fn read_list<T: Serialize, L: ViewList<T>>(
    data: &Data,
    reader: &crate::args::Reader,
    what: &str,
    subject: Option<idcard::model::Subject>,
    view: impl FnOnce(&State) -> L,
    line: impl Fn(&T) -> String,
) -> anyhow::Result<ExitCode> {
    read_list_or(data, reader, what, subject, view, line, None)
}

/// As [`read_list`]; when the list is empty and `none` is given, print it (plain output) and
/// exit 1.
pub fn read_list_or<T: Serialize, L: ViewList<T>>(
    data: &Data,
    reader: &crate::args::Reader,
    what: &str,
    subject: Option<idcard::model::Subject>,
    view: impl FnOnce(&State) -> L,
    line: impl Fn(&T) -> String,
    none: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let engine = open(data)?;
    let actor = reader.who.actor()?;
    let items = match engine.read_personal(&actor, what, subject, &reader.purpose, |s| {
        let items = view(s).into_list();
        let n = items.as_ref().map_or(0, |i| i.len() as u64);
        (items, n)
    }) {
        Ok(Ok(items)) => items,
        Ok(Err(e)) => return Err(e.into()),
        Err(EngineError::Refused(r)) => {
            let code = finish::<()>(data.json, Err(EngineError::Refused(r).into()), |_| {
                String::new()
            })?;
            engine.close()?;
            return Ok(code);
        }
        Err(e) => return Err(e.into()),
    };
    engine.close()?;
    if let (true, Some(none)) = (items.is_empty(), none) {
        if data.json {
            println!("[]");
        } else {
            println!("{none}");
        }
        return Ok(ExitCode::from(1));
    }
    print_list(data.json, &items, line)?;
    Ok(ExitCode::SUCCESS)
}

/// Read one value from the record with a view and print it.
pub fn show<T: Serialize>(
    data: &Data,
    view: impl FnOnce(&State) -> T,
    plain: impl FnOnce(&T) -> String,
) -> anyhow::Result<ExitCode> {
    let engine = open(data)?;
    let v = engine.with_state(view);
    if data.json {
        println!("{}", serde_json::to_string(&v)?);
    } else {
        println!("{}", plain(&v));
    }
    Ok(ExitCode::SUCCESS)
}

/// Print items, one per line.
pub fn print_list<T: Serialize>(
    json: bool,
    items: &[T],
    line: impl Fn(&T) -> String,
) -> anyhow::Result<()> {
    for item in items {
        if json {
            println!("{}", serde_json::to_string(item)?);
        } else {
            println!("{}", line(item));
        }
    }
    Ok(())
}

/// Print the outcome of a command and choose the exit status: a refusal prints its code and
/// message and exits 1; any other error is returned (exit 2).
pub fn finish<T: Serialize>(
    json: bool,
    result: anyhow::Result<T>,
    plain: impl FnOnce(&T) -> String,
) -> anyhow::Result<ExitCode> {
    match result {
        Ok(v) => {
            if json {
                let mut out = serde_json::to_value(&v)?;
                if !out.is_object() {
                    out = json!({ "result": out });
                }
                out["ok"] = json!(true);
                println!("{out}");
            } else {
                println!("{}", plain(&v));
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => match e
            .downcast_ref::<EngineError>()
            .and_then(EngineError::refusal)
        {
            Some(r) => {
                if json {
                    println!(
                        "{}",
                        json!({"ok": false, "refused": {"code": r.code, "message": r.message}})
                    );
                } else {
                    eprintln!("refused ({}): {}", r.code, r.message);
                }
                Ok(ExitCode::from(1))
            }
            None => Err(e),
        },
    }
}

/// A JSON value for the terminal: strings without their quotes.
pub fn plain(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_string)
}

/// The named fields of a value for the terminal, tab-separated.
pub fn columns<T: Serialize>(item: &T, keys: &[&str]) -> String {
    let j = serde_json::to_value(item).unwrap_or(Value::Null);
    keys.iter()
        .map(|k| plain(&j[*k]))
        .collect::<Vec<_>>()
        .join("\t")
}

/// Read a file's text, naming it in the error.
pub fn read_file(path: &std::path::Path) -> anyhow::Result<std::fs::File> {
    std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))
}
