//! The peer comparison: the same random card set in idcard, odht, std `HashMap`, hashbrown, fst
//! and LMDB (heed), looked up on one core in the same run. Prints one JSON line.
//!
//! `cargo run --release -p idcard-benches --bin peers -- --cards 100000000 --hits 1`
//!
//! Each figure is the median of `--runs` passes over the same `--queries` presented cards (a
//! share `--hits` percent of them listed). Every structure must find the same number of listed
//! cards, or the run fails.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Instant;

use idcard::index::{
    CardStatus, FilterMode, OpenOptions, Profile, Snapshot, SnapshotBuilder, Verifier,
};
use idcard_benches::{card_set, median};
use serde_json::{Map, Value, json};

struct Args {
    cards: usize,
    hits: f64,
    queries: usize,
    runs: usize,
    skip: Vec<String>,
    dir: Option<std::path::PathBuf>,
    seed: u64,
    filter: FilterMode,
}

fn parse_args() -> Args {
    let mut a = Args {
        cards: 10_000_000,
        hits: 1.0,
        queries: 10_000_000,
        runs: 5,
        skip: Vec::new(),
        dir: None,
        seed: 42,
        filter: FilterMode::Always,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || {
            it.next()
                .unwrap_or_else(|| usage(&format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "--cards" => a.cards = val().parse().unwrap_or_else(|_| usage("--cards N")),
            "--hits" => a.hits = val().parse().unwrap_or_else(|_| usage("--hits PCT")),
            "--queries" => a.queries = val().parse().unwrap_or_else(|_| usage("--queries N")),
            "--runs" => a.runs = val().parse().unwrap_or_else(|_| usage("--runs N")),
            "--skip" => a.skip = val().split(',').map(str::to_string).collect(),
            "--dir" => a.dir = Some(val().into()),
            "--seed" => a.seed = val().parse().unwrap_or_else(|_| usage("--seed N")),
            "--filter" => a.filter = val().parse().unwrap_or_else(|e: String| usage(&e)),
            "-h" | "--help" => usage(""),
            _ => usage(&format!("unknown argument {flag}")),
        }
    }
    a
}

fn usage(msg: &str) -> ! {
    if !msg.is_empty() {
        eprintln!("peers: {msg}");
    }
    eprintln!(
        "usage: peers [--cards N] [--hits PCT] [--queries N] [--runs N] [--skip odht,ptr_hash,std,hashbrown,fst,lmdb] [--dir DIR] [--seed N] [--filter always|never]"
    );
    std::process::exit(2)
}

fn log(msg: &str) {
    eprintln!("[peers] {msg}");
}

/// Lookups per second: median over `runs` passes of `pass`, which returns the hit count.
fn measure(
    name: &str,
    runs: usize,
    queries: usize,
    expected_hits: Option<usize>,
    mut pass: impl FnMut() -> usize,
) -> (f64, usize) {
    let mut rates = Vec::new();
    let mut hits = 0;
    for r in 0..runs {
        let t = Instant::now();
        hits = pass();
        let secs = t.elapsed().as_secs_f64();
        rates.push(queries as f64 / secs);
        if let Some(e) = expected_hits {
            assert_eq!(hits, e, "{name} found {hits} listed cards, expected {e}");
        }
        log(&format!(
            "{name} run {r}: {:.1} M/s",
            queries as f64 / secs / 1e6
        ));
    }
    (median(rates), hits)
}

struct OdhtCfg;
impl odht::Config for OdhtCfg {
    type Key = u64;
    type Value = u8;
    type EncodedKey = [u8; 8];
    type EncodedValue = [u8; 1];
    type H = odht::FxHashFn;
    #[inline]
    fn encode_key(k: &u64) -> [u8; 8] {
        k.to_le_bytes()
    }
    #[inline]
    fn encode_value(v: &u8) -> [u8; 1] {
        [*v]
    }
    #[inline]
    fn decode_key(k: &[u8; 8]) -> u64 {
        u64::from_le_bytes(*k)
    }
    #[inline]
    fn decode_value(v: &[u8; 1]) -> u8 {
        v[0]
    }
}

fn main() {
    let a = parse_args();
    let skip = |name: &str| a.skip.iter().any(|s| s == name);
    let dir = match &a.dir {
        Some(d) => tempfile::tempdir_in(d).map_err(|e| format!("--dir {}: {e}", d.display())),
        None => tempfile::tempdir().map_err(|e| format!("temporary directory: {e}")),
    };
    let dir = dir.unwrap_or_else(|e| {
        eprintln!("peers: {e}");
        std::process::exit(2)
    });
    log(&format!(
        "generating {} cards and {} queries ({}% hits)",
        a.cards, a.queries, a.hits
    ));
    let set = card_set(a.cards, a.queries, a.hits, a.seed);
    let keys_u64: Vec<u64> = set.listed.iter().map(|(k, _)| k.to_u64()).collect();
    let status_of: Vec<u8> = set.listed.iter().map(|(_, e)| e.status as u8).collect();
    let queries_u64: Vec<u64> = set.queries.iter().map(|k| k.to_u64()).collect();
    let mut out = Map::new();
    out.insert("cards".into(), json!(a.cards));
    out.insert("hits_pct".into(), json!(a.hits));
    out.insert("queries".into(), json!(a.queries));
    out.insert("runs".into(), json!(a.runs));
    let mut rates = Map::new();

    // idcard. Built twice: the first build touches fresh memory (on this virtual machine the
    // hypervisor backs a page on its first touch, at about 0.5 GB/s: the builder's input copy,
    // sort buffer and file image are several GB at 10^8 cards); the second runs in memory the
    // process has already touched, as a platform that publishes every day does.
    let path = dir.path().join("bench.idcs");
    let (signer, trust) = idcard_benches::test_platform();
    let build = |label: &str| {
        let t = Instant::now();
        let mut b = SnapshotBuilder::new(Profile::Bank);
        b.extend_cards(set.listed.iter().copied())
            .filter(a.filter)
            .signer(signer.clone());
        let mut stage = "";
        let mut stage_start = Instant::now();
        let info = b
            .write_with_progress(&path, &mut |p| {
                if p.stage != stage {
                    if !stage.is_empty() {
                        log(&format!(
                            "  {label} build stage {stage}: {:.2} s",
                            stage_start.elapsed().as_secs_f64()
                        ));
                    }
                    stage = p.stage;
                    stage_start = Instant::now();
                }
            })
            .expect("build");
        let secs = t.elapsed().as_secs_f64();
        log(&format!("idcard {label} build {secs:.2} s"));
        (info, secs)
    };
    let (_, cold_secs) = build("first");
    let (info, warm_secs) = build("second");
    out.insert(
        "idcard_filter".into(),
        json!(info.sections.iter().any(|s| s.kind == "filter")),
    );
    out.insert(
        "idcard_build_entries_per_s".into(),
        json!(a.cards as f64 / warm_secs),
    );
    out.insert(
        "idcard_build_first_entries_per_s".into(),
        json!(a.cards as f64 / cold_secs),
    );
    out.insert("idcard_bytes_per_card".into(), json!(info.bytes_per_card()));
    // Opening as a bank does: the signature block checked against the pinned root, the content
    // copied into private anonymous memory while BLAKE3 hashes it (the file may change
    // afterwards; nothing the verifier answers does).
    let file_bytes = std::fs::metadata(&path).expect("size").len();
    let trusted = OpenOptions::trusting(trust.clone());
    let mut open_ms = Vec::new();
    for _ in 0..a.runs.max(3) {
        let t = Instant::now();
        let s = Snapshot::open_with(&path, &trusted).expect("open");
        open_ms.push(t.elapsed().as_secs_f64() * 1e3);
        black_box(&s);
        drop(s);
    }
    let open_signed_ms = median(open_ms);
    log(&format!(
        "idcard open, signed and hashed: {open_signed_ms:.1} ms ({:.2} GB/s)",
        file_bytes as f64 / open_signed_ms / 1e6
    ));
    out.insert("idcard_open_signed_ms".into(), json!(open_signed_ms));
    out.insert(
        "idcard_open_signed_gb_per_s".into(),
        json!(file_bytes as f64 / open_signed_ms / 1e6),
    );
    // O(1) open (map in place, nothing checked): for files no one else can write.
    let in_place = OpenOptions {
        verify_checksums: false,
        map_in_place: true,
        ..OpenOptions::unsigned()
    };
    let mut open_ms = Vec::new();
    for _ in 0..a.runs.max(3) {
        let t = Instant::now();
        let s = Snapshot::open_with(&path, &in_place).expect("open");
        open_ms.push(t.elapsed().as_secs_f64() * 1e3);
        black_box(&s);
    }
    out.insert(
        "idcard_open_ms_without_checksum".into(),
        json!(median(open_ms)),
    );
    let unverified = Snapshot::open_with(&path, &in_place).expect("open");
    let mut gbs = Vec::new();
    for _ in 0..a.runs.max(3) {
        let t = Instant::now();
        unverified.verify().expect("checksums");
        gbs.push(info.file_length as f64 / t.elapsed().as_secs_f64() / 1e9);
    }
    out.insert("idcard_checksum_gb_per_s".into(), json!(median(gbs)));
    drop(unverified);
    let v = Verifier::open(&path, trust.clone()).expect("open");
    assert!(v.info().snapshot.signature.is_verified());
    let mut statuses = vec![CardStatus::Valid; set.queries.len()];
    let (batch, hits) = measure("idcard batch", a.runs, a.queries, None, || {
        v.verify_batch(&set.queries, &mut statuses);
        statuses.iter().filter(|s| **s != CardStatus::Valid).count()
    });
    let expected = Some(hits);
    out.insert("listed_hits".into(), json!(hits));
    rates.insert("idcard_batch".into(), json!(batch));
    let (one, _) = measure("idcard one-at-a-time", a.runs, a.queries, expected, || {
        set.queries
            .iter()
            .filter(|k| v.verify(black_box(**k)) != CardStatus::Valid)
            .count()
    });
    rates.insert("idcard_one".into(), json!(one));
    let snap = v.snapshot();
    let (snap_one, _) = measure(
        "idcard snapshot one-at-a-time",
        a.runs,
        a.queries,
        expected,
        || {
            set.queries
                .iter()
                .filter(|k| snap.status(black_box(**k)) != CardStatus::Valid)
                .count()
        },
    );
    rates.insert("idcard_snapshot_one".into(), json!(snap_one));
    drop(snap);
    let packed: Vec<u8> = set
        .queries
        .iter()
        .flat_map(|k| k.number().to_ascii())
        .collect();
    let dates: Vec<u32> = set
        .queries
        .iter()
        .map(|k| {
            use chrono::Datelike;
            let d = k.valid_from();
            d.year() as u32 * 10_000 + d.month() * 100 + d.day()
        })
        .collect();
    let (raw, _) = measure(
        "idcard batch from text",
        a.runs,
        a.queries,
        expected,
        || {
            v.verify_batch_packed(&packed, &dates, &mut statuses);
            statuses.iter().filter(|s| **s != CardStatus::Valid).count()
        },
    );
    rates.insert("idcard_batch_from_text".into(), json!(raw));
    drop((v, packed, dates));
    std::fs::remove_file(&path).ok();

    if !skip("odht") {
        let t = Instant::now();
        let mut table = odht::HashTableOwned::<OdhtCfg>::with_capacity(a.cards, 87);
        for (k, s) in keys_u64.iter().zip(&status_of) {
            table.insert(k, s);
        }
        let bytes = table.raw_bytes().to_vec();
        drop(table);
        log(&format!("odht build {:.2} s", t.elapsed().as_secs_f64()));
        let view = odht::HashTable::<OdhtCfg, &[u8]>::from_raw_bytes(&bytes).expect("odht bytes");
        let (r, _) = measure("odht", a.runs, a.queries, expected, || {
            queries_u64
                .iter()
                .filter(|k| view.get(black_box(*k)).is_some())
                .count()
        });
        rates.insert("odht".into(), json!(r));
    }
    if !skip("ptr_hash") {
        // The minimal-perfect-hash peer, as a lookup-then-compare structure: PtrHash maps a key
        // to a slot (its fast parameters, without the remap to a minimal range: the fastest
        // queries it offers), and a table of the keys in slot order says whether the presented
        // card is the listed one there. Two dependent accesses per card: the pilot (3 bits per
        // key, in cache at 10 M) and the key.
        let t = Instant::now();
        let params = ptr_hash::PtrHashParams {
            remap: false,
            ..ptr_hash::PtrHashParams::default_fast()
        };
        type Mphf = ptr_hash::PtrHash<u64, ptr_hash::bucket_fn::Linear>;
        let mphf = Mphf::new(&keys_u64, params);
        let mut slots = vec![u64::MAX; mphf.max_index()];
        let mut status = vec![0u8; mphf.max_index()];
        for (k, s) in keys_u64.iter().zip(&status_of) {
            let i = mphf.index_no_remap(k);
            slots[i] = *k;
            status[i] = *s;
        }
        log(&format!(
            "ptr_hash build {:.2} s",
            t.elapsed().as_secs_f64()
        ));
        let (r, _) = measure("ptr_hash", a.runs, a.queries, expected, || {
            queries_u64
                .iter()
                .filter(|k| {
                    let k = black_box(**k);
                    let i = mphf.index_no_remap(&k);
                    slots[i] == k && status[i] != 0
                })
                .count()
        });
        rates.insert("ptr_hash".into(), json!(r));
        // Its streaming query (prefetching 32 keys ahead), the peer of the batched path.
        let (r, _) = measure("ptr_hash stream", a.runs, a.queries, expected, || {
            // (`fold`: the stream implements only that.)
            let (hits, _) = mphf.index_stream::<32, false, _>(queries_u64.iter()).fold(
                (0usize, 0usize),
                |(hits, j), i| {
                    let k = queries_u64[j];
                    (hits + (slots[i] == k && status[i] != 0) as usize, j + 1)
                },
            );
            hits
        });
        rates.insert("ptr_hash_stream".into(), json!(r));
    }
    if !skip("hashbrown") {
        let mut m = hashbrown::HashMap::with_capacity(a.cards);
        m.extend(keys_u64.iter().copied().zip(status_of.iter().copied()));
        let (r, _) = measure("hashbrown", a.runs, a.queries, expected, || {
            queries_u64
                .iter()
                .filter(|k| m.contains_key(black_box(*k)))
                .count()
        });
        rates.insert("hashbrown".into(), json!(r));
    }
    if !skip("std") {
        let mut m = HashMap::with_capacity(a.cards);
        m.extend(keys_u64.iter().copied().zip(status_of.iter().copied()));
        let (r, _) = measure("std HashMap", a.runs, a.queries, expected, || {
            queries_u64
                .iter()
                .filter(|k| m.contains_key(black_box(*k)))
                .count()
        });
        rates.insert("std_hashmap".into(), json!(r));
    }
    if !skip("fst") {
        let mut sorted: Vec<(u64, u8)> = keys_u64
            .iter()
            .copied()
            .zip(status_of.iter().copied())
            .collect();
        sorted.sort_unstable();
        let map = fst::Map::from_iter(sorted.iter().map(|(k, s)| (k.to_be_bytes(), *s as u64)))
            .expect("fst");
        drop(sorted);
        let (r, _) = measure("fst", a.runs, a.queries, expected, || {
            queries_u64
                .iter()
                .filter(|k| map.get(black_box(k.to_be_bytes())).is_some())
                .count()
        });
        rates.insert("fst".into(), json!(r));
    }
    if !skip("lmdb") {
        use heed::types::{U8, U64};
        type Be = heed::byteorder::BigEndian;
        let lmdb_dir = dir.path().join("lmdb");
        std::fs::create_dir_all(&lmdb_dir).expect("lmdb dir");
        let map_size = (a.cards * 64).max(1 << 30).next_multiple_of(1 << 20);
        // SAFETY: the environment is opened once, by this process only.
        let env = unsafe {
            heed::EnvOpenOptions::new()
                .map_size(map_size)
                .open(&lmdb_dir)
        }
        .expect("lmdb env");
        let mut wtxn = env.write_txn().expect("txn");
        let db: heed::Database<U64<Be>, U8> = env.create_database(&mut wtxn, None).expect("db");
        let mut sorted: Vec<(u64, u8)> = keys_u64
            .iter()
            .copied()
            .zip(status_of.iter().copied())
            .collect();
        sorted.sort_unstable();
        let t = Instant::now();
        for (k, s) in &sorted {
            db.put_with_flags(&mut wtxn, heed::PutFlags::APPEND, k, s)
                .expect("put");
        }
        wtxn.commit().expect("commit");
        drop(sorted);
        log(&format!("lmdb build {:.2} s", t.elapsed().as_secs_f64()));
        let rtxn = env.read_txn().expect("rtxn");
        let (r, _) = measure("lmdb", a.runs, a.queries, expected, || {
            queries_u64
                .iter()
                .filter(|k| db.get(&rtxn, black_box(*k)).expect("get").is_some())
                .count()
        });
        rates.insert("lmdb".into(), json!(r));
    }

    let mut ratios = Map::new();
    for peer in [
        "odht",
        "ptr_hash",
        "ptr_hash_stream",
        "hashbrown",
        "std_hashmap",
        "fst",
        "lmdb",
    ] {
        if let Some(p) = rates.get(peer).and_then(Value::as_f64) {
            ratios.insert(format!("batch_vs_{peer}"), json!(batch / p));
            ratios.insert(format!("one_vs_{peer}"), json!(one / p));
        }
    }
    out.insert("lookups_per_s".into(), Value::Object(rates));
    out.insert("ratios".into(), Value::Object(ratios));
    println!("{}", Value::Object(out));
}
