//! The peer comparison: the same random card set in idcard, odht, ptr_hash, std `HashMap`,
//! hashbrown, fst and LMDB (heed), looked up on one core in the same run. Prints one JSON line.
//!
//! `cargo run --release -p idcard-benches --bin peers -- --cards 100000000 --hits 1`
//!
//! idcard is measured as a bank calls it: `Verifier::verify` one card at a time, from text with
//! `Verifier::verify_number_yyyymmdd` and the C library's `idc_verify`, and batched. Each figure
//! is the median of `--runs` passes over the same `--queries` presented cards (a share `--hits`
//! percent of them listed); the passes of all structures are interleaved, round by round, and a
//! ratio is the median of the rounds' ratios. Every structure must find the same number of
//! listed cards, or the run fails. `idcard_one_with_delta` is `Verifier::verify` after one
//! signed delta of 1,000 new listings, as a bank runs between snapshots.

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

/// One pass over the presented cards with one structure; returns the listed cards it found.
type Pass<'a> = Box<dyn FnMut() -> usize + 'a>;

/// The pass that presents `queries` one at a time (each through `black_box`, so that no call is
/// hoisted or merged) and counts those `listed` says are listed.
fn hits<'a, T: Copy>(queries: &'a [T], listed: impl Fn(T) -> bool + 'a) -> Pass<'a> {
    Box::new(move || queries.iter().filter(|k| listed(black_box(**k))).count())
}

/// The C library's verifier, freed when dropped.
struct CVerifier(*mut idcard_c::idc_verifier);

impl Drop for CVerifier {
    fn drop(&mut self) {
        // SAFETY: the handle from idc_verifier_open_trusted, freed once.
        unsafe { idcard_c::idc_verifier_free(self.0) };
    }
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
    let snap = v.snapshot();
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
    // The C library's entry point on the same file, as a bank links it.
    let trust_path = dir.path().join("platform.trust");
    std::fs::write(&trust_path, trust.to_text()).expect("trust file");
    let c_path = std::ffi::CString::new(path.to_str().expect("UTF-8 path")).expect("path");
    let c_trust = std::ffi::CString::new(trust_path.to_str().expect("UTF-8 path")).expect("path");
    let mut handle = std::ptr::null_mut();
    // SAFETY: NUL-terminated paths and a writable out pointer.
    let opened = unsafe {
        idcard_c::idc_verifier_open_trusted(c_path.as_ptr(), c_trust.as_ptr(), &mut handle)
    };
    assert_eq!(opened, idcard_c::IDC_OK, "idc_verifier_open_trusted");
    let c = CVerifier(handle);
    // A bank applies the platform's signed deltas through the day: a second verifier on the
    // same snapshot with one delta of 1,000 new listings applied (cards none of the queries
    // present, so the hit count stays the same).
    let with_delta = Verifier::open(&path, trust.clone()).expect("open");
    {
        let mut d = idcard::index::DeltaBuilder::new(&info, info.journal_seq, info.journal_seq + 1);
        let mut g = idcard_benches::KeyGen::new(a.seed ^ 0xde17a);
        for _ in 0..1000 {
            d.set_card(g.card(), idcard::index::CardEntry::new(CardStatus::Lost))
                .expect("listable");
        }
        let delta_path = dir.path().join("d1.idcd");
        d.build()
            .write(&delta_path, Some(signer.as_ref()))
            .expect("delta");
        with_delta.apply_delta_file(&delta_path).expect("apply");
        assert_eq!(with_delta.info().overlay_cards, 1000);
    }

    // Every structure is built first; then each of the `runs` rounds makes one pass with each,
    // in turn, so that a slower or faster stretch of this shared machine falls on all of them
    // alike (measured one structure after the other, odht ran at 48.5 M/s in one run at 10 M
    // cards and 24.3 M/s in the next, and the ratios moved with it).
    let mut statuses = vec![CardStatus::Valid; set.queries.len()];
    let mut text_statuses = vec![CardStatus::Valid; set.queries.len()];

    let odht_bytes = (!skip("odht")).then(|| {
        let t = Instant::now();
        let mut table = odht::HashTableOwned::<OdhtCfg>::with_capacity(a.cards, 87);
        for (k, s) in keys_u64.iter().zip(&status_of) {
            table.insert(k, s);
        }
        let bytes = table.raw_bytes().to_vec();
        log(&format!("odht build {:.2} s", t.elapsed().as_secs_f64()));
        bytes
    });
    let odht_view = odht_bytes
        .as_ref()
        .map(|b| odht::HashTable::<OdhtCfg, &[u8]>::from_raw_bytes(b).expect("odht bytes"));
    // The minimal-perfect-hash peer, as a lookup-then-compare structure: PtrHash maps a key to
    // a slot (its fast parameters, without the remap to a minimal range: the fastest queries it
    // offers), and a table of the keys in slot order says whether the presented card is the
    // listed one there. Two dependent accesses per card: the pilot (3 bits per key, in cache at
    // 10 M) and the key.
    type Mphf = ptr_hash::PtrHash<u64, ptr_hash::bucket_fn::Linear>;
    let ptr = (!skip("ptr_hash")).then(|| {
        let t = Instant::now();
        let params = ptr_hash::PtrHashParams {
            remap: false,
            ..ptr_hash::PtrHashParams::default_fast()
        };
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
        (mphf, slots, status)
    });
    let hb = (!skip("hashbrown")).then(|| {
        let mut m = hashbrown::HashMap::with_capacity(a.cards);
        m.extend(keys_u64.iter().copied().zip(status_of.iter().copied()));
        m
    });
    let std_map = (!skip("std")).then(|| {
        let mut m = HashMap::with_capacity(a.cards);
        m.extend(keys_u64.iter().copied().zip(status_of.iter().copied()));
        m
    });
    let fst_map = (!skip("fst")).then(|| {
        let mut sorted: Vec<(u64, u8)> = keys_u64
            .iter()
            .copied()
            .zip(status_of.iter().copied())
            .collect();
        sorted.sort_unstable();
        fst::Map::from_iter(sorted.iter().map(|(k, s)| (k.to_be_bytes(), *s as u64))).expect("fst")
    });
    use heed::types::{U8, U64};
    type Be = heed::byteorder::BigEndian;
    let lmdb = (!skip("lmdb")).then(|| {
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
        log(&format!("lmdb build {:.2} s", t.elapsed().as_secs_f64()));
        (env, db)
    });
    let lmdb_txn = lmdb
        .as_ref()
        .map(|(env, db)| (env.read_txn().expect("rtxn"), *db));
    let mut passes: Vec<(&str, Pass)> = Vec::new();
    passes.push((
        "idcard_batch",
        Box::new(|| {
            v.verify_batch(&set.queries, &mut statuses);
            statuses.iter().filter(|s| **s != CardStatus::Valid).count()
        }),
    ));
    passes.push((
        "idcard_one",
        hits(&set.queries, |k| v.verify(k) != CardStatus::Valid),
    ));
    passes.push((
        "idcard_one_with_delta",
        hits(&set.queries, |k| with_delta.verify(k) != CardStatus::Valid),
    ));
    passes.push((
        "idcard_snapshot_one",
        hits(&set.queries, |k| snap.status(k) != CardStatus::Valid),
    ));
    passes.push((
        "idcard_batch_from_text",
        Box::new(|| {
            v.verify_batch_packed(&packed, &dates, &mut text_statuses);
            text_statuses
                .iter()
                .filter(|s| **s != CardStatus::Valid)
                .count()
        }),
    ));
    // One card at a time from text, as a bank's counter calls: the Rust call and the C call.
    passes.push((
        "idcard_one_from_text",
        Box::new(|| {
            packed
                .chunks_exact(18)
                .zip(&dates)
                .filter(|(n, d)| v.verify_number_yyyymmdd(black_box(n), **d) != CardStatus::Valid)
                .count()
        }),
    ));
    passes.push((
        "idcard_c_one_from_text",
        Box::new(|| {
            packed
                .chunks_exact(18)
                .zip(&dates)
                .filter(|(n, d)| {
                    let mut s = 0u8;
                    // SAFETY: a live handle, 18 readable bytes, a writable status.
                    unsafe {
                        idcard_c::idc_verify(c.0, black_box(n.as_ptr().cast()), 18, **d, &mut s)
                    };
                    s != idcard_c::IDC_CARD_VALID
                })
                .count()
        }),
    ));
    if let Some(view) = &odht_view {
        passes.push(("odht", hits(&queries_u64, |k| view.get(&k).is_some())));
    }
    if let Some((mphf, slots, status)) = &ptr {
        passes.push((
            "ptr_hash",
            hits(&queries_u64, |k| {
                let i = mphf.index_no_remap(&k);
                slots[i] == k && status[i] != 0
            }),
        ));
        // Its streaming query (prefetching 32 keys ahead), the peer of the batched path.
        passes.push((
            "ptr_hash_stream",
            Box::new(|| {
                // (`fold`: the stream implements only that.)
                let (hits, _) = mphf.index_stream::<32, false, _>(queries_u64.iter()).fold(
                    (0usize, 0usize),
                    |(hits, j), i| {
                        let k = queries_u64[j];
                        (hits + (slots[i] == k && status[i] != 0) as usize, j + 1)
                    },
                );
                hits
            }),
        ));
    }
    if let Some(m) = &hb {
        passes.push(("hashbrown", hits(&queries_u64, |k| m.contains_key(&k))));
    }
    if let Some(m) = &std_map {
        passes.push(("std_hashmap", hits(&queries_u64, |k| m.contains_key(&k))));
    }
    if let Some(map) = &fst_map {
        passes.push((
            "fst",
            hits(&queries_u64, |k| map.get(k.to_be_bytes()).is_some()),
        ));
    }
    if let Some((rtxn, db)) = &lmdb_txn {
        passes.push((
            "lmdb",
            hits(&queries_u64, |k| db.get(rtxn, &k).expect("get").is_some()),
        ));
    }

    let mut measured: Vec<Vec<f64>> = vec![Vec::new(); passes.len()];
    let mut expected = None;
    let count = passes.len();
    for r in 0..a.runs {
        // Each round starts one structure later, so that none always follows the same one (a
        // pass right after another on the same snapshot finds its filter still in cache).
        let mut order: Vec<_> = passes.iter_mut().zip(&mut measured).collect();
        order.rotate_left(r % count.max(1));
        for ((name, pass), rates) in order {
            let t = Instant::now();
            let hits = pass();
            let rate = a.queries as f64 / t.elapsed().as_secs_f64();
            let e = *expected.get_or_insert(hits);
            assert_eq!(hits, e, "{name} found {hits} listed cards, expected {e}");
            log(&format!("{name} run {r}: {:.1} M/s", rate / 1e6));
            rates.push(rate);
        }
    }
    out.insert("listed_hits".into(), json!(expected));
    let names: Vec<&str> = passes.iter().map(|(name, _)| *name).collect();
    drop(passes);
    drop(c);
    for (name, r) in names.iter().zip(&measured) {
        rates.insert((*name).into(), json!(median(r.clone())));
    }
    // A ratio is the median over the rounds of the two rates measured in the same round (this
    // machine's speed moves between rounds, in steps of up to 2×; within a round less).
    let per_round = |a: &str, b: &str| -> Option<f64> {
        let ra = &measured[names.iter().position(|n| *n == a)?];
        let rb = &measured[names.iter().position(|n| *n == b)?];
        Some(median(ra.iter().zip(rb).map(|(x, y)| x / y).collect()))
    };
    let mut ratios = Map::new();
    let mut put = |key: String, a: &str, b: &str| {
        if let Some(r) = per_round(a, b) {
            ratios.insert(key, json!(r));
        }
    };
    // The best peer looked up one key at a time (the streaming ptr_hash is the batched path's
    // peer, not the single call's): the fastest by median rate.
    let best = [
        "odht",
        "ptr_hash",
        "hashbrown",
        "std_hashmap",
        "fst",
        "lmdb",
    ]
    .into_iter()
    .filter_map(|p| Some((p, rates.get(p).and_then(Value::as_f64)?)))
    .max_by(|a, b| a.1.total_cmp(&b.1));
    if let Some((peer, _)) = best {
        out.insert("best_one_at_a_time_peer".into(), json!(peer));
        put("one_vs_best_peer".into(), "idcard_one", peer);
        put(
            "one_with_delta_vs_best_peer".into(),
            "idcard_one_with_delta",
            peer,
        );
        put(
            "one_from_text_vs_best_peer".into(),
            "idcard_one_from_text",
            peer,
        );
        put(
            "c_one_from_text_vs_best_peer".into(),
            "idcard_c_one_from_text",
            peer,
        );
    }
    put(
        "one_vs_snapshot_one".into(),
        "idcard_one",
        "idcard_snapshot_one",
    );
    put(
        "one_from_text_vs_one".into(),
        "idcard_one_from_text",
        "idcard_one",
    );
    put(
        "batch_from_text_vs_one".into(),
        "idcard_batch_from_text",
        "idcard_one",
    );
    put(
        "c_vs_rust_one_from_text".into(),
        "idcard_c_one_from_text",
        "idcard_one_from_text",
    );
    for peer in [
        "odht",
        "ptr_hash",
        "ptr_hash_stream",
        "hashbrown",
        "std_hashmap",
        "fst",
        "lmdb",
    ] {
        put(format!("batch_vs_{peer}"), "idcard_batch", peer);
        put(format!("one_vs_{peer}"), "idcard_one", peer);
    }
    out.insert("lookups_per_s".into(), Value::Object(rates));
    out.insert("ratios".into(), Value::Object(ratios));
    println!("{}", Value::Object(out));
}
