//! The demo's report: every figure measured in the run, as a table or as JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use idcard::engine::Engine;
use idcard::index::CardStatus;
use idcard::station::CommandKind;
use idcard::workflow::offsite::Application;
use idcard::workflow::publish::Published;
use serde_json::{Value, json};

use crate::bank::{Bank, Counters, timer_overhead_ns};
use crate::demo::{DemoArgs, Timings};
use crate::sim::Tally;

/// What the report is made from.
pub struct Inputs<'a> {
    pub args: &'a DemoArgs,
    pub root: &'a Path,
    pub kept: bool,
    pub engine: &'a Engine,
    pub tally: &'a Tally,
    pub bank: &'a Bank,
    pub counters: &'a Counters,
    pub alone: &'a Counters,
    pub stations_at_start: usize,
    pub counties: usize,
    pub cards_registered: u64,
    pub with_fingerprints: u64,
    pub people_enrolled: u64,
    pub blacklist_pushed: u64,
    pub blacklist_police: u64,
    pub bank_snapshot: &'a Published,
    pub police_snapshot: &'a Published,
    pub police_deltas: &'a [u64],
    pub overdue: &'a [Application],
    pub overdue_by_day: &'a [usize],
    pub check: &'a (u64, Vec<String>, u64, u64, u64),
    pub left_over: u64,
}

/// The report.
pub struct Report {
    json: Value,
}

fn name(c: CommandKind) -> String {
    serde_json::to_value(c)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{c:?}"))
}

/// A figure as printed: "(none)" when the run has no data for it (a JSON null).
fn shown(v: &Value) -> String {
    if v.is_null() {
        "(none)".into()
    } else {
        v.to_string()
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Percentiles (0..=100) of durations, in milliseconds.
fn percentiles_ms(v: &[Duration], ps: &[f64]) -> Value {
    let mut v: Vec<Duration> = v.to_vec();
    v.sort_unstable();
    let mut out = serde_json::Map::new();
    out.insert("count".into(), json!(v.len()));
    for &p in ps {
        let value = if v.is_empty() {
            Value::Null
        } else {
            let i = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
            json!(round3(ms(v[i])))
        };
        out.insert(pname(p), value);
    }
    out.insert(
        "max".into(),
        v.last().map_or(Value::Null, |d| json!(round3(ms(*d)))),
    );
    Value::Object(out)
}

/// The counters' figures.
fn counters_json(c: &Counters, timer_overhead_ns: u64) -> Value {
    let mut answers = serde_json::Map::new();
    for s in CardStatus::ALL {
        let n = c.answers[s as usize];
        if n > 0 {
            answers.insert(s.as_str().into(), json!(n));
        }
    }
    let latency = c.latency.as_ref().map_or(Value::Null, |h| {
        json!({
            "median": h.value_at_quantile(0.5),
            "p90": h.value_at_quantile(0.9),
            "p99": h.value_at_quantile(0.99),
            "p99_9": h.value_at_quantile(0.999),
            "max": h.max(),
            "timed": h.len(),
        })
    });
    json!({
        "threads": c.threads,
        "checks": c.checks,
        "seconds": round3(c.seconds),
        "checks_per_second": (c.checks as f64 / c.seconds.max(1e-9)).round(),
        "latency_ns": latency,
        "timer_overhead_ns": timer_overhead_ns,
        "answers": answers,
    })
}

fn pname(p: f64) -> String {
    if p == 50.0 {
        "median".into()
    } else {
        format!("p{p}").replace('.', "_")
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn median_u64(v: &[u64]) -> u64 {
    let mut v = v.to_vec();
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

fn dir_size(p: &Path) -> u64 {
    std::fs::read_dir(p)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

impl Report {
    /// Gather the figures.
    pub fn gather(i: Inputs<'_>) -> Report {
        let (events, refusals, stations, officers, apps, last_seq, lost_now, temp_certs) =
            i.engine.with_state(|s| {
                let mut apps: BTreeMap<&'static str, u64> = BTreeMap::new();
                let mut kinds: BTreeMap<String, u64> = BTreeMap::new();
                let escalated = s.applications.values().filter(|a| a.escalated).count();
                for a in s.applications.values() {
                    *apps.entry(a.state.as_str()).or_default() += 1;
                    *kinds
                        .entry(format!("{} {}", a.kind.as_str(), a.place.as_str()))
                        .or_default() += 1;
                }
                let apps = (apps, kinds, escalated);
                let mut lost_now = 0usize;
                // A store that fails here fails the checks before (the demo's step 8).
                let _ = s.cards.for_each(|c| {
                    lost_now += matches!(c.status, CardStatus::Lost | CardStatus::Stolen) as usize;
                });
                (
                    s.stats.events.clone(),
                    s.stats.refusals.clone(),
                    s.stations.len(),
                    s.officers.len(),
                    apps,
                    s.last_seq,
                    lost_now,
                    s.temp_certs.len(),
                )
            });
        let refusals: Vec<Value> = refusals
            .iter()
            .map(|((c, code), n)| json!({"command": name(*c), "reason": code, "count": n}))
            .collect();
        let mut commands: BTreeMap<String, (u64, BTreeMap<String, u64>)> = BTreeMap::new();
        for ((c, outcome), n) in i.tally.outcomes() {
            let e = commands.entry(name(c)).or_default();
            if outcome == "accepted" {
                e.0 += n;
            } else {
                e.1.insert(outcome, n);
            }
        }
        let commands: Vec<Value> = commands
            .into_iter()
            .map(|(c, (ok, refused))| {
                json!({"command": c, "accepted": ok,
                       "refused": refused.values().sum::<u64>(), "reasons": refused})
            })
            .collect();
        let overhead = timer_overhead_ns();
        let chain = i.bank.chain();
        let overdue_extended = i.overdue.iter().filter(|a| a.extended_days > 0).count();
        let journal_bytes = dir_size(&i.root.join("record").join("journal"));
        let json = json!({
            "seed": i.args.seed,
            "people": i.args.people,
            "days": i.args.days,
            "start_date": crate::demo::start_date().to_string(),
            "data_dir": if i.kept { json!(i.root.display().to_string()) } else { Value::Null },
            "population": {
                "people": i.args.people,
                "provinces": crate::world::PROVINCES.len(),
                "hukou_counties": i.counties,
                "cards": i.cards_registered,
                "cards_with_fingerprints": i.with_fingerprints,
                "people_with_fingerprints_enrolled": i.people_enrolled,
                "stations_at_start": i.stations_at_start,
                "stations_at_end": stations,
                "officers_at_end": officers,
                "blacklisted_by_credit_platform": i.blacklist_pushed,
                "blacklisted_by_police": i.blacklist_police,
            },
            "events": events,
            "commands": commands,
            "refusals": refusals,
            "applications": {
                "by_state": apps.0,
                "by_kind_and_place": apps.1,
                "escalated": apps.2,
                "overdue_at_end": i.overdue.len(),
                "overdue_at_end_extended": overdue_extended,
                "overdue_by_day": i.overdue_by_day,
            },
            "temporary_certificates": temp_certs,
            "impostors": {
                "caught_by_bank_verifier": i.tally.impostors_caught.load(Ordering::Relaxed),
                "missed": i.tally.impostors_missed.load(Ordering::Relaxed),
                "card_valid_again": i.tally.impostors_card_valid_again.load(Ordering::Relaxed),
            },
            "found_cards_destroyed": i.tally.found_destroyed.load(Ordering::Relaxed),
            "verification": counters_json(i.counters, overhead),
            "verification_alone": counters_json(i.alone, overhead),
            "loss_to_bank": {
                "latency_ms": percentiles_ms(&chain.loss_to_lost, &[50.0, 90.0, 99.0]),
                "not_seen": i.bank.unseen(),
            },
            "publishing": {
                "bank_snapshot_bytes": i.bank_snapshot.bytes,
                "bank_snapshot_cards": i.bank_snapshot.cards,
                "police_snapshot_bytes": i.police_snapshot.bytes,
                "police_snapshot_blacklist": i.police_snapshot.blacklist,
                "bank_deltas": chain.deltas,
                "bank_deltas_verified": i.bank.verifier().info().deltas_verified,
                "bank_delta_card_changes": chain.card_changes,
                "bank_delta_bytes_median": median_u64(&chain.delta_bytes),
                "bank_delta_bytes_max": chain.delta_bytes.iter().max().copied().unwrap_or(0),
                "bank_delta_bytes_total": chain.delta_bytes.iter().sum::<u64>(),
                "bank_delta_publish_ms": percentiles_ms(&chain.publish, &[50.0]),
                "bank_delta_apply_ms": percentiles_ms(&chain.apply, &[50.0]),
                "police_deltas": i.police_deltas.len(),
                "police_delta_bytes_median": median_u64(i.police_deltas),
            },
            "consistency": {
                "cards_checked": i.check.0 + i.check.1.len() as u64,
                "cards_not_valid": i.check.2,
                "cards_expired": i.check.3,
                "people_with_two_valid_cards": i.check.4,
                "bank_agrees": i.check.0,
                "bank_disagrees": i.check.1,
                "lost_or_stolen_in_record": lost_now,
            },
            "journal": {
                "records": last_seq,
                "bytes": journal_bytes,
            },
            "errands_beyond_last_day": i.left_over,
        });
        Report { json }
    }

    /// Add the step timings.
    pub fn timings(&mut self, t: &Timings, total: f64) {
        let steps: Vec<Value> =
            t.0.iter()
                .map(|(k, v)| json!({"step": k, "seconds": round3(*v)}))
                .collect();
        self.json["seconds"] = json!({"steps": steps, "total": round3(total)});
    }

    /// What `journal verify` found after the run (the hash chain, the checkpoints, the heads).
    pub fn journal_check(&mut self, c: &idcard::engine::JournalCheck) {
        self.json["journal"]["verified_records"] = json!(c.records);
        self.json["journal"]["chain"] = json!(c.chain);
        self.json["journal"]["heads_agree"] = json!(c.heads.iter().filter(|h| h.ok).count());
        self.json["journal"]["heads"] = json!(c.heads.len());
        self.json["journal"]["head_signed_by"] =
            json!(c.heads.last().and_then(|h| h.signed_by.clone()));
        self.json["journal"]["ok"] = json!(c.ok());
        self.json["journal"]["problem"] = json!(c.problem);
    }

    /// The JSON form.
    pub fn json(&self) -> &Value {
        &self.json
    }

    /// The table for the terminal.
    pub fn table(&self) -> String {
        let j = &self.json;
        let mut o = String::new();
        // A key the table names but the report lacks shows as "(missing)", never as a 0 that
        // reads like a measurement; the end-to-end test looks for it.
        let n = |v: &Value| {
            v.as_u64()
                .map_or_else(|| "(missing)".to_string(), thousands)
        };
        let _ = writeln!(
            o,
            "idcard demo: {} people, {} days from {} (seed {})",
            n(&j["people"]),
            j["days"],
            j["start_date"].as_str().unwrap_or(""),
            j["seed"]
        );
        let p = &j["population"];
        let _ = writeln!(o, "\nSetup");
        let _ = writeln!(
            o,
            "  people            {} in {} provinces, {} counties of household registration",
            n(&p["people"]),
            p["provinces"],
            n(&p["hukou_counties"])
        );
        let _ = writeln!(
            o,
            "  cards             {} ({} with fingerprints); fingerprints enrolled for {} people",
            n(&p["cards"]),
            n(&p["cards_with_fingerprints"]),
            n(&p["people_with_fingerprints_enrolled"])
        );
        let _ = writeln!(
            o,
            "  stations          {} at the start, {} at the end (county offices opened as needed)",
            n(&p["stations_at_start"]),
            n(&p["stations_at_end"])
        );
        let _ = writeln!(
            o,
            "  blacklist         {} entries pushed by the credit platform, {} added by public security",
            n(&p["blacklisted_by_credit_platform"]),
            n(&p["blacklisted_by_police"])
        );

        let _ = writeln!(o, "\nEvents recorded in the journal, by kind");
        if let Some(ev) = j["events"].as_object() {
            let mut ev: Vec<_> = ev.iter().collect();
            ev.sort_by_key(|(_, v)| std::cmp::Reverse(v.as_u64().unwrap_or(0)));
            for (k, v) in ev {
                let _ = writeln!(o, "  {k:<34} {:>12}", n(v));
            }
        }

        let _ = writeln!(
            o,
            "\nCommands at the counters (accepted / refused, with reasons)"
        );
        for c in j["commands"].as_array().into_iter().flatten() {
            let reasons: Vec<String> = c["reasons"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| format!("{k} {}", n(v)))
                .collect();
            let _ = writeln!(
                o,
                "  {:<28} {:>10} {:>8}  {}",
                c["command"].as_str().unwrap_or(""),
                n(&c["accepted"]),
                n(&c["refused"]),
                reasons.join(", ")
            );
        }

        let a = &j["applications"];
        let by_state: Vec<String> = a["by_state"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| format!("{k} {}", n(v)))
            .collect();
        let by_kind: Vec<String> = a["by_kind_and_place"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| format!("{k} {}", n(v)))
            .collect();
        let _ = writeln!(o, "\nApplications (at home and off-site)");
        let _ = writeln!(o, "  by kind, place    {}", by_kind.join(", "));
        let _ = writeln!(o, "  by state          {}", by_state.join(", "));
        let _ = writeln!(
            o,
            "  overdue at end    {} (of which {} had their deadline extended); {} escalated to their reviewing bureau during the run (A4)",
            n(&a["overdue_at_end"]),
            n(&a["overdue_at_end_extended"]),
            n(&a["escalated"])
        );
        let _ = writeln!(
            o,
            "  impostors         {} presented a lost card at a bank counter: refused (verifier answered lost) and reported; {} not refused; {} presented a card valid again (found or withdrawn)",
            n(&j["impostors"]["caught_by_bank_verifier"]),
            n(&j["impostors"]["missed"]),
            n(&j["impostors"]["card_valid_again"])
        );

        let _ = writeln!(
            o,
            "\nBank verification ({} threads; one check in 64 timed, timer overhead {} ns included)",
            j["verification"]["threads"], j["verification"]["timer_overhead_ns"]
        );
        for (key, what) in [
            ("verification", "while the record works and deltas arrive"),
            ("verification_alone", "alone, afterwards"),
        ] {
            let v = &j[key];
            let l = &v["latency_ns"];
            let _ = writeln!(
                o,
                "  {what:<42} {:>6.1} M checks/s ({} in {:.1} s); latency median {} ns, p99 {} ns, p99.9 {} ns, max {} ns",
                v["checks_per_second"].as_f64().unwrap_or(0.0) / 1e6,
                thousands(v["checks"].as_u64().unwrap_or(0)),
                v["seconds"].as_f64().unwrap_or(0.0),
                shown(&l["median"]),
                shown(&l["p99"]),
                shown(&l["p99_9"]),
                n(&l["max"]),
            );
        }
        let v = &j["verification"];
        let total = v["checks"].as_u64().unwrap_or(1).max(1) as f64;
        let answers: Vec<String> = v["answers"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, c)| format!("{k} {:.2}%", c.as_u64().unwrap_or(0) as f64 * 100.0 / total))
            .collect();
        let _ = writeln!(o, "  answers           {}", answers.join(", "));
        let lb = &j["loss_to_bank"]["latency_ms"];
        let _ = writeln!(
            o,
            "  loss report -> lost at the bank: {} reports, median {} ms, p99 {} ms, max {} ms (includes waiting for the end of the hour's counter work, then publishing and applying the delta)",
            n(&lb["count"]),
            shown(&lb["median"]),
            shown(&lb["p99"]),
            shown(&lb["max"])
        );

        let pb = &j["publishing"];
        let _ = writeln!(o, "\nPublishing");
        let _ = writeln!(
            o,
            "  bank snapshot     {} bytes, {} cards listed; police snapshot {} bytes, {} blacklisted",
            n(&pb["bank_snapshot_bytes"]),
            n(&pb["bank_snapshot_cards"]),
            n(&pb["police_snapshot_bytes"]),
            n(&pb["police_snapshot_blacklist"])
        );
        let _ = writeln!(
            o,
            "  bank deltas       {} ({} signatures verified, {} card changes), median {} bytes, max {} bytes; published in median {} ms, applied in median {} ms",
            n(&pb["bank_deltas"]),
            n(&pb["bank_deltas_verified"]),
            n(&pb["bank_delta_card_changes"]),
            n(&pb["bank_delta_bytes_median"]),
            n(&pb["bank_delta_bytes_max"]),
            shown(&pb["bank_delta_publish_ms"]["median"]),
            shown(&pb["bank_delta_apply_ms"]["median"])
        );
        let _ = writeln!(
            o,
            "  police deltas     {} (one a day), median {} bytes",
            n(&pb["police_deltas"]),
            n(&pb["police_delta_bytes_median"])
        );
        let c = &j["consistency"];
        let disagree = c["bank_disagrees"].as_array().map_or(0, Vec::len);
        let _ = writeln!(
            o,
            "  at the end        the bank verifier {} the record on {} cards ({} not valid, {} of them lost or stolen; {} expired); {} living people with two valid cards",
            if disagree == 0 {
                "agrees with"
            } else {
                "DISAGREES with"
            },
            n(&c["cards_checked"]),
            n(&c["cards_not_valid"]),
            n(&c["lost_or_stolen_in_record"]),
            n(&c["cards_expired"]),
            n(&c["people_with_two_valid_cards"])
        );
        let _ = writeln!(
            o,
            "\nJournal             {} records, {} bytes, every one signed by its officer",
            n(&j["journal"]["records"]),
            n(&j["journal"]["bytes"])
        );
        let chain = j["journal"]["chain"].as_str().unwrap_or("(missing)");
        let _ = writeln!(
            o,
            "  journal verify    {}: {} records on the hash chain (head {}…), {} of {} signed heads agree (signed by {})",
            if j["journal"]["ok"].as_bool() == Some(true) {
                "ok"
            } else {
                "FAILED"
            },
            n(&j["journal"]["verified_records"]),
            &chain[..chain.len().min(16)],
            n(&j["journal"]["heads_agree"]),
            n(&j["journal"]["heads"]),
            j["journal"]["head_signed_by"]
                .as_str()
                .unwrap_or("(missing)")
        );
        let steps: Vec<String> = j["seconds"]["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| {
                format!(
                    "{} {:.1}",
                    s["step"].as_str().unwrap_or(""),
                    s["seconds"].as_f64().unwrap_or(0.0)
                )
            })
            .collect();
        let _ = writeln!(
            o,
            "Time (s)            {}; total {:.1}",
            steps.join(", "),
            j["seconds"]["total"].as_f64().unwrap_or(0.0)
        );
        if let Some(d) = j["data_dir"].as_str() {
            let _ = writeln!(o, "Data kept in        {d}");
        }
        o
    }
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
