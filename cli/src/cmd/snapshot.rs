//! `idcard snapshot ...`, `idcard verify`, `idcard blacklist check`: the verification index.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use crate::args::TrustArgs;
use crate::args::snapshot::{
    BlacklistCheckArgs, BuildArgs, InspectArgs, SnapshotCommand, VerifyArgs,
};
use anyhow::{Context, bail};
use chrono::NaiveDate;
use idcard::IdNumber;
use idcard::index::{
    BlacklistCsv, CardStatus, CardsCsv, ImportError, OpenOptions, Profile, Signature, Snapshot,
    SnapshotBuilder, Verifier,
};
use idcard::trust::TrustStore;
use idcard::trust::signed::Block;
use serde_json::json;

use crate::progress;

pub fn run_snapshot(cmd: SnapshotCommand, quiet: bool) -> anyhow::Result<ExitCode> {
    match cmd {
        SnapshotCommand::Build(a) => build(a, quiet),
        SnapshotCommand::Inspect(a) => inspect(a),
    }
}

fn import_error(path: &std::path::Path, e: ImportError) -> anyhow::Error {
    anyhow::anyhow!("{}: {e}", path.display())
}

fn build(a: BuildArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let mut b = SnapshotBuilder::new(a.profile);
    if let Some(t) = a.as_of {
        b.as_of(t);
    }
    b.journal_seq(a.journal_seq);
    if let Some(s) = a.seed {
        b.seed(s);
    }
    b.filter(a.filter);
    if let Some(signer) = a.sign.signer()? {
        b.signer(signer);
    }
    if a.blacklist.is_some() && a.profile == Profile::Bank {
        bail!("--blacklist needs --profile police: a bank snapshot carries no blacklist");
    }
    let pb = progress::spinner(quiet, "cards");
    let file = File::open(&a.cards).with_context(|| format!("opening {}", a.cards.display()))?;
    let mut rows = CardsCsv::new(BufReader::with_capacity(1 << 20, file)).skip_bad(a.skip_bad);
    for (i, row) in rows.by_ref().enumerate() {
        let (key, entry) = row.map_err(|e| import_error(&a.cards, e))?;
        b.add_card(key, entry);
        if i % 65536 == 0 {
            pb.set_position(i as u64);
        }
    }
    let skipped_cards = rows.skipped();
    for e in rows.skipped_errors() {
        pb.suspend(|| eprintln!("skipped {}: {e}", a.cards.display()));
    }
    pb.finish_and_clear();
    let mut skipped_blacklist = 0;
    let mut blacklist_rows = 0u64;
    if let Some(path) = &a.blacklist {
        let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let mut rows = BlacklistCsv::new(BufReader::new(file)).skip_bad(a.skip_bad);
        for row in rows.by_ref() {
            let (n, e) = row.map_err(|e| import_error(path, e))?;
            b.add_blacklist(n, e);
            blacklist_rows += 1;
        }
        skipped_blacklist = rows.skipped();
        for e in rows.skipped_errors() {
            eprintln!("skipped {}: {e}", path.display());
        }
    }
    let read_secs = started.elapsed().as_secs_f64();
    let pb = progress::bar(quiet, b.card_count() as u64, "build");
    let build_started = Instant::now();
    let mut stage = "";
    let info = b.write_with_progress(&a.output, &mut |p| {
        if p.stage != stage {
            stage = p.stage;
            pb.set_message(p.stage);
            pb.set_length(p.total.max(1));
        }
        pb.set_position(p.done);
    })?;
    pb.finish_and_clear();
    let build_secs = build_started.elapsed().as_secs_f64();
    let summary = json!({
        "output": a.output.display().to_string(),
        "profile": info.profile,
        "snapshot_id": format!("{:016x}", info.snapshot_id),
        "journal_seq": info.journal_seq,
        "as_of": info.as_of.to_rfc3339(),
        "cards": info.card_count,
        "blacklist": info.blacklist_count,
        "skipped_rows": skipped_cards + skipped_blacklist,
        "file_bytes": info.file_length,
        "bytes_per_card": info.bytes_per_card(),
        "signed_by": a.sign.key.as_ref().map(|_| signed_by(&a.output)),
        "read_seconds": read_secs,
        "build_seconds": build_secs,
        "build_entries_per_second": (info.card_count + blacklist_rows) as f64 / build_secs.max(1e-9),
    });
    if a.json {
        println!("{summary}");
    } else {
        println!(
            "wrote {} ({} profile): {} cards, {} blacklisted, {} bytes ({:.1} bytes/card), {} bad rows skipped; read {:.2} s, built {:.2} s",
            a.output.display(),
            info.profile,
            info.card_count,
            info.blacklist_count,
            info.file_length,
            info.bytes_per_card(),
            skipped_cards + skipped_blacklist,
            read_secs,
            build_secs
        );
        match &a.sign.key {
            Some(_) => println!("signed by key {}", signed_by(&a.output)),
            None => println!(
                "unsigned: verifiers refuse it unless told to accept unsigned files (--key signs)"
            ),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The key id in a file's signature block.
fn signed_by(path: &std::path::Path) -> String {
    match Block::read_from_file(path) {
        Ok(Some(b)) => b.signer.to_string(),
        _ => String::new(),
    }
}

/// What the signature block says, and what the trust file (if any) makes of it.
fn signature_report(
    path: &std::path::Path,
    trust: Option<&std::path::PathBuf>,
) -> anyhow::Result<(serde_json::Value, String, bool)> {
    let block = match Block::read_from_file(path) {
        Ok(b) => b,
        Err(e) => {
            return Ok((
                json!({"signed": null, "error": e.to_string()}),
                format!("MALFORMED: {e}"),
                false,
            ));
        }
    };
    let Some(block) = block else {
        return Ok((
            json!({"signed": false, "verified": false}),
            "none (unsigned)".into(),
            trust.is_none(),
        ));
    };
    let cert = block.parsed_certificate().ok().flatten();
    let mut v = json!({
        "signed": true,
        "algorithm": block.algorithm.as_str(),
        "key_id": block.signer,
        "key_name": cert.as_ref().map(|c| c.key().name().to_string()),
        "certified_by": cert.as_ref().map(|c| c.issuer()),
        "certificate_valid_from": cert.as_ref().map(|c| c.valid_from()),
        "certificate_valid_until": cert.as_ref().map(|c| c.valid_until()),
        "content_bytes": block.content_len,
    });
    let mut line = format!("key {} ({})", block.signer, block.algorithm.as_str());
    if let Some(c) = &cert {
        line.push_str(&format!(
            " \"{}\", certified by root {} for {} to {}",
            c.key().name(),
            c.issuer(),
            c.valid_from().to_rfc3339(),
            c.valid_until().to_rfc3339()
        ));
    }
    let Some(trust) = trust else {
        v["verified"] = json!(false);
        line.push_str("; not checked (give --trust)");
        return Ok((v, line, true));
    };
    let options = OpenOptions {
        verify_checksums: false,
        ..OpenOptions::trusting(TrustStore::read(trust)?)
    };
    match Snapshot::open_with(path, &options) {
        Ok(_) => {
            v["verified"] = json!(true);
            line.push_str(&format!("; verified against {}", trust.display()));
            Ok((v, line, true))
        }
        Err(e) => {
            v["verified"] = json!(false);
            v["error"] = json!(e.to_string());
            line.push_str(&format!("; FAILED: {e}"));
            Ok((v, line, false))
        }
    }
}

fn inspect(a: InspectArgs) -> anyhow::Result<ExitCode> {
    // Open without verification first, so a checksum failure can be reported with the header.
    let unverified = Snapshot::open_with(
        &a.file,
        &OpenOptions {
            verify_checksums: false,
            ..OpenOptions::unsigned()
        },
    )?;
    let (sig_json, sig_line, sig_ok) = signature_report(&a.file, a.trust.as_ref())?;
    let started = Instant::now();
    let verdict = unverified.verify();
    let secs = started.elapsed().as_secs_f64();
    let info = unverified.info();
    let ok = verdict.is_ok() && sig_ok;
    let attribution = match (&a.data, a.attribute) {
        (Some(dir), true) => {
            let engine = crate::output::open(&crate::args::Data {
                data: dir.clone(),
                json: a.json,
                store_cache_mb: 64,
                store: crate::args::StoreArgs::default(),
            })?;
            let who = idcard::workflow::publish::attribute(&engine, info)?;
            engine.close()?;
            Some(who)
        }
        _ => None,
    };
    if a.json {
        let mut v = serde_json::to_value(info)?;
        v["signature"] = sig_json;
        if let Some(who) = &attribution {
            v["attribution"] = json!({
                "published_here": who.is_some(),
                "subscriber": who.as_ref().and_then(|w| w.subscriber.as_ref()).map(|s| s.to_string()),
                "by": who.as_ref().map(|w| w.by),
            });
        }
        v["snapshot_id"] = json!(format!("{:016x}", info.snapshot_id));
        v["hash_seed"] = json!(format!("{:016x}", info.hash_seed));
        v["bytes_per_card"] = json!(info.bytes_per_card());
        v["checksums_ok"] = json!(verdict.is_ok());
        v["checksum_error"] = json!(verdict.as_ref().err().map(|e| e.to_string()));
        v["checksum_seconds"] = json!(secs);
        if let Some(s) = v["sections"].as_array_mut() {
            for s in s {
                s["checksum"] = json!(format!("{:016x}", s["checksum"].as_u64().unwrap_or(0)));
                s["checksum_verified"] = json!(verdict.is_ok());
            }
        }
        println!("{v}");
    } else {
        println!("file            {}", a.file.display());
        println!("format version  {}", info.format_version);
        println!("profile         {}", info.profile);
        println!("snapshot id     {:016x}", info.snapshot_id);
        println!("as of           {}", info.as_of.to_rfc3339());
        println!("journal seq     {}", info.journal_seq);
        println!("cards           {}", info.card_count);
        println!("blacklist       {}", info.blacklist_count);
        println!(
            "file bytes      {} ({:.1} bytes/card)",
            info.file_length,
            info.bytes_per_card()
        );
        for s in &info.sections {
            println!(
                "section         {:<9} offset {} length {} buckets {} entries {} xxh3 {:016x}",
                s.kind, s.offset, s.length, s.hash_buckets, s.entries, s.checksum
            );
        }
        println!("signature       {sig_line}");
        match &attribution {
            None => {}
            Some(Some(idcard::workflow::publish::Attribution {
                subscriber: Some(s),
                by,
            })) => println!("whose copy      subscriber {s} (by its {by})"),
            Some(Some(_)) => println!("whose copy      the common file (no one subscriber's)"),
            Some(None) => println!(
                "whose copy      not published from this record for any registered subscriber"
            ),
        }
        match &verdict {
            Ok(()) => println!(
                "checksums       ok ({:.3} s, {:.1} GB/s)",
                secs,
                info.file_length as f64 / secs.max(1e-9) / 1e9
            ),
            Err(e) => println!("checksums       FAILED: {e}"),
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn open_verifier(
    snapshot: &PathBuf,
    deltas: &[PathBuf],
    timestamps: &[PathBuf],
    trust: &TrustArgs,
) -> anyhow::Result<Verifier> {
    let v = Verifier::open_with(snapshot, trust.options()?)?;
    for t in timestamps {
        v.apply_timestamp_file(t)?;
    }
    for d in deltas {
        if d.is_dir() {
            let report = v.apply_delta_dir(d)?;
            for s in &report.skipped {
                eprintln!(
                    "idcard: skipped {}: {}",
                    d.join(&s.name).display(),
                    s.reason
                );
            }
        } else {
            v.apply_delta_file(d)?;
        }
    }
    let info = v.info();
    match info.snapshot.signature {
        Signature::Verified(_) => {}
        Signature::Unchecked => eprintln!(
            "idcard: warning: {}: the signature was not checked (no --trust); answers are only as good as the file",
            snapshot.display()
        ),
        Signature::Unsigned => eprintln!(
            "idcard: warning: {}: unsigned (--allow-unsigned); answers are only as good as the file",
            snapshot.display()
        ),
    }
    if info.needs_snapshot {
        eprintln!("idcard: warning: a newer snapshot is needed (see `idcard snapshot inspect`)");
    }
    Ok(v)
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(s, "%Y%m%d"))
        .ok()
}

pub fn verify(a: VerifyArgs) -> anyhow::Result<ExitCode> {
    if a.card.len() == 1 {
        bail!("give both NUMBER and VALID_FROM, or neither to read CSV from stdin");
    }
    let v = open_verifier(&a.snapshot, &a.delta, &a.timestamp, &a.trust)?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut all_valid = true;
    let mut emit = |out: &mut BufWriter<_>,
                    number: &str,
                    valid_from: &str,
                    s: CardStatus|
     -> std::io::Result<()> {
        all_valid &= s == CardStatus::Valid;
        if a.json {
            writeln!(
                out,
                "{}",
                json!({"number": number, "valid_from": valid_from, "status": s.as_str()})
            )
        } else {
            writeln!(
                out,
                "{},{},{}",
                csv_field(number),
                csv_field(valid_from),
                s.as_str()
            )
        }
    };
    if !a.json {
        writeln!(out, "number,valid_from,status")?;
    }
    if let [number, valid_from] = &a.card[..] {
        let s = match parse_date(valid_from) {
            Some(d) => v.verify_number(number.as_bytes(), d),
            None => CardStatus::InvalidNumber,
        };
        emit(&mut out, number, valid_from, s)?;
    } else {
        // Batches through the prefetching pipeline.
        const BATCH: usize = 1 << 16;
        let stdin = std::io::stdin();
        let mut lines = stdin.lock().lines();
        let mut first = true;
        loop {
            let mut rows: Vec<(String, String)> = Vec::with_capacity(BATCH);
            for line in lines.by_ref() {
                let line = line.context("reading stdin")?;
                let line = line.trim_end_matches('\r');
                if first {
                    first = false;
                    if line.trim_start_matches('\u{feff}').starts_with("number") {
                        continue;
                    }
                }
                if line.trim().is_empty() {
                    continue;
                }
                let (n, d) = line.split_once(',').unwrap_or((line, ""));
                rows.push((n.trim().to_string(), d.trim().to_string()));
                if rows.len() == BATCH {
                    break;
                }
            }
            if rows.is_empty() {
                break;
            }
            // Unparseable dates answer invalid_number; the rest go through the batch path.
            let fallback = NaiveDate::from_ymd_opt(1970, 1, 1).expect("date");
            let dates: Vec<Option<NaiveDate>> = rows.iter().map(|(_, d)| parse_date(d)).collect();
            let numbers: Vec<&[u8]> = rows.iter().map(|(n, _)| n.as_bytes()).collect();
            let froms: Vec<NaiveDate> = dates.iter().map(|d| d.unwrap_or(fallback)).collect();
            let mut statuses = vec![CardStatus::Valid; rows.len()];
            v.verify_batch_str(&numbers, &froms, &mut statuses);
            for (((n, d), s), date) in rows.iter().zip(statuses).zip(&dates) {
                let s = if date.is_some() {
                    s
                } else {
                    CardStatus::InvalidNumber
                };
                emit(&mut out, n, d, s)?;
            }
        }
    }
    out.flush()?;
    Ok(if all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

pub fn blacklist_check(a: BlacklistCheckArgs) -> anyhow::Result<ExitCode> {
    let v = open_verifier(&a.snapshot, &a.delta, &[], &a.trust)?;
    let mut any = false;
    let mut bad = false;
    for s in &a.numbers {
        let n: IdNumber = match s.parse() {
            Ok(n) => n,
            Err(e) => {
                bad = true;
                if a.json {
                    println!(
                        "{}",
                        json!({"input": s, "error": {"kind": e.kind(), "message": e.to_string()}})
                    );
                } else {
                    println!("{s}\tinvalid number: {e}");
                }
                continue;
            }
        };
        let entry = v.blacklist_check(n)?;
        any |= entry.is_some();
        if a.json {
            println!(
                "{}",
                json!({
                    "input": s,
                    "number": n.to_string(),
                    "listed": entry.is_some(),
                    "reasons": entry.map(|e| e.reasons.names().collect::<Vec<_>>()),
                    "reason_bits": entry.map(|e| e.reasons.bits()),
                    "source": entry.map(|e| e.source.as_str()),
                    "listed_on": entry.and_then(|e| e.listed_on).map(|d| d.to_string()),
                })
            );
        } else {
            match entry {
                Some(e) => println!(
                    "{n}\tlisted\t{}\t{}\t{}",
                    e.reasons,
                    e.source.as_str(),
                    e.listed_on.map(|d| d.to_string()).unwrap_or_default()
                ),
                None => println!("{n}\tnot listed"),
            }
        }
    }
    Ok(if bad {
        ExitCode::from(2)
    } else if any {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
