//! The CSV importers (docs/FORMAT.md §6) on arbitrary bytes: CARDS.csv, BLACKLIST.csv,
//! PEOPLE.csv, ISSUED.csv. Never a panic; every error names a line (and a column for a field).
#![no_main]

use idcard::index::{BlacklistCsv, CardsCsv, ImportError};
use idcard::registry::{read_issued_cards_csv, read_people_csv};
use libfuzzer_sys::fuzz_target;

fn check(e: &ImportError) {
    let _ = e.to_string();
    if let ImportError::Field { line, .. } = e {
        assert!(*line >= 2, "a field error is on a data line: {e}");
    }
}

fuzz_target!(|data: &[u8]| {
    for row in CardsCsv::new(data).take(10_000) {
        if let Err(e) = row {
            check(&e);
            break;
        }
    }
    let mut skipping = CardsCsv::new(data).skip_bad(true);
    for row in skipping.by_ref().take(10_000) {
        if let Err(e) = row {
            check(&e);
            break;
        }
    }
    let _ = skipping.skipped();
    for row in BlacklistCsv::new(data).take(10_000) {
        if let Err(e) = row {
            check(&e);
            break;
        }
    }
    if let Err(e) = read_people_csv(data) {
        check(&e);
    }
    if let Err(e) = read_issued_cards_csv(data) {
        check(&e);
    }
});
