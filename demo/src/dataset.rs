//! `idcard gen`: synthetic datasets in the CLI's CSV formats (docs/FORMAT.md §6) — for the
//! benchmarks and for trying the CLI: `CARDS.csv` and `BLACKLIST.csv` (snapshot input),
//! `PEOPLE.csv` and `ISSUED.csv` (the record's imports), `QUERIES.csv` (cards to verify).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use chrono::Days;
use clap::Args;
use idcard::index::{BlacklistReasons, CardReason};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::demo;
use crate::progress;
use crate::world::Generator;

/// `idcard gen`.
#[derive(Args, Debug)]
pub struct GenArgs {
    /// People to generate (each holds zero or more cards).
    #[arg(long, default_value_t = 1_000_000)]
    pub people: usize,
    /// Fraction of current cards listed as reported lost or stolen (one in ten stolen).
    #[arg(long, default_value_t = 0.01)]
    pub lost_rate: f64,
    /// Fraction of people blacklisted.
    #[arg(long, default_value_t = 0.0005)]
    pub blacklist_rate: f64,
    /// Cards in QUERIES.csv (most valid, the listed ones in proportion, some superseded).
    #[arg(long, default_value_t = 100_000)]
    pub queries: usize,
    /// Seed: the same seed gives the same files.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// Output directory (created if needed).
    #[arg(short = 'o', long)]
    pub output: PathBuf,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// What was written.
#[derive(Serialize, Default)]
struct Summary {
    people: u64,
    issued_cards: u64,
    listed_lost: u64,
    listed_stolen: u64,
    listed_superseded: u64,
    blacklisted: u64,
    queries: u64,
    files: Vec<String>,
}

fn create(dir: &Path, name: &str, header: &str) -> anyhow::Result<BufWriter<File>> {
    let path = dir.join(name);
    let f = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    let mut w = BufWriter::with_capacity(1 << 20, f);
    writeln!(w, "{header}")?;
    Ok(w)
}

/// Run `idcard gen`.
pub fn run(args: GenArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        (0.0..=1.0).contains(&args.lost_rate),
        "--lost-rate must be within 0..=1"
    );
    anyhow::ensure!(
        (0.0..=1.0).contains(&args.blacklist_rate),
        "--blacklist-rate must be within 0..=1"
    );
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("creating {}", args.output.display()))?;
    let dir = &args.output;
    let today = demo::start_date();
    let mut world = Generator::new(args.seed, today);
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed ^ 0x6E6E);
    let mut people = create(
        dir,
        "PEOPLE.csv",
        "number,name,hukou_division,category,fingerprint,contact,fee_exempt",
    )?;
    let mut issued = create(
        dir,
        "ISSUED.csv",
        "number,valid_from,applied_on,fingerprints",
    )?;
    let mut cards = create(
        dir,
        "CARDS.csv",
        "number,valid_from,status,reason,changed_on",
    )?;
    let mut blacklist = create(dir, "BLACKLIST.csv", "number,reason,source,listed_on")?;
    let mut queries = create(dir, "QUERIES.csv", "number,valid_from")?;
    let mut s = Summary::default();
    // Queries: a reservoir sample of every card (current and superseded) people could present.
    let mut sample: Vec<(String, chrono::NaiveDate)> =
        Vec::with_capacity(args.queries.min(args.people.saturating_mul(2)));
    let mut seen_cards = 0u64;
    let bar = progress::bar(quiet, args.people as u64, "people");
    for i in 0..args.people {
        let c = world.citizen();
        let p = &c.person;
        let number = p.number.to_string();
        writeln!(
            people,
            "{number},{},{},{},{},{},{}",
            p.name,
            p.hukou_division,
            p.category.as_str(),
            if p.fingerprint.is_some() {
                format!("fp-{number}")
            } else {
                String::new()
            },
            p.contact.as_deref().unwrap_or(""),
            p.fee_exempt
        )?;
        s.people += 1;
        for (k, card) in c.cards.iter().enumerate() {
            let from = card.key.valid_from();
            let current = k + 1 == c.cards.len();
            if current {
                let applied = c.applied_on.unwrap_or(from);
                writeln!(issued, "{number},{from},{applied},{}", card.fingerprints)?;
                s.issued_cards += 1;
                if rng.random_bool(args.lost_rate) {
                    let stolen = rng.random_bool(0.1);
                    let reason = if stolen {
                        CardReason::STOLEN
                    } else if rng.random_bool(0.6) {
                        CardReason::REPORTED_AT_HUKOU_PLACE
                    } else {
                        CardReason::REPORTED_AWAY
                    };
                    let on = today - Days::new(rng.random_range(1..730));
                    let on = on.max(from);
                    writeln!(
                        cards,
                        "{number},{from},{},{},{on}",
                        if stolen { "stolen" } else { "lost" },
                        reason.name().unwrap_or("unspecified")
                    )?;
                    if stolen {
                        s.listed_stolen += 1;
                    } else {
                        s.listed_lost += 1;
                    }
                }
            } else {
                let next = c.cards[k + 1].key.valid_from();
                writeln!(
                    cards,
                    "{number},{from},superseded,{},{next}",
                    CardReason::RENEWED.name().unwrap_or("renewed")
                )?;
                s.listed_superseded += 1;
            }
            // People present their current card; a few an old one.
            if !current && !rng.random_bool(0.1) {
                continue;
            }
            seen_cards += 1;
            if sample.len() < args.queries {
                sample.push((number.clone(), from));
            } else if args.queries > 0 {
                let j = rng.random_range(0..seen_cards);
                if (j as usize) < args.queries {
                    sample[j as usize] = (number.clone(), from);
                }
            }
        }
        if rng.random_bool(args.blacklist_rate) {
            let (reasons, source) = if rng.random_bool(0.7) {
                (BlacklistReasons::BAD_CREDIT, "credit_platform")
            } else {
                (
                    BlacklistReasons::FORGED | BlacklistReasons::IDENTITY_CARD,
                    "public_security",
                )
            };
            let names: Vec<&str> = reasons.names().collect();
            let on = today - Days::new(rng.random_range(1..1000));
            writeln!(blacklist, "{number},{},{source},{on}", names.join("|"))?;
            s.blacklisted += 1;
        }
        if i % 65_536 == 0 {
            bar.set_position(i as u64);
        }
    }
    bar.finish_and_clear();
    for (number, from) in &sample {
        writeln!(queries, "{number},{from}")?;
        s.queries += 1;
    }
    for (w, name) in [
        (people, "PEOPLE.csv"),
        (issued, "ISSUED.csv"),
        (cards, "CARDS.csv"),
        (blacklist, "BLACKLIST.csv"),
        (queries, "QUERIES.csv"),
    ] {
        w.into_inner()
            .map_err(|e| e.into_error())
            .and_then(|f| f.sync_all())
            .with_context(|| format!("writing {name}"))?;
        s.files.push(dir.join(name).display().to_string());
    }
    if args.json {
        println!("{}", serde_json::to_string(&s)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "wrote {} people, {} issued cards; listed {} lost, {} stolen, {} superseded; {} blacklisted; {} queries in {}",
        s.people,
        s.issued_cards,
        s.listed_lost,
        s.listed_stolen,
        s.listed_superseded,
        s.blacklisted,
        s.queries,
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}
