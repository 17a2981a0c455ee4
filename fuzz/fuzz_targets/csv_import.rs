//! The CSV importers (docs/FORMAT.md §6) on arbitrary bytes: CARDS.csv, BLACKLIST.csv,
//! PEOPLE.csv, ISSUED.csv. Never a panic; every error names a line (and a column for a field).
#![no_main]

use idcard::index::{BlacklistCsv, CardsCsv, ImportError};
use idcard::workflow::registry::{read_issued_cards_csv, read_people_csv};
use libfuzzer_sys::fuzz_target;

fn check(e: &ImportError) {
    let _ = e.to_string();
    if let ImportError::Field { line, .. } = e {
        assert!(*line >= 2, "a field error is on a data line: {e}");
    }
}

fuzz_target!(|input: &[u8]| {
    // The first byte picks the importer (building a CSV reader dominates the cost of a run).
    let Some((&which, data)) = input.split_first() else {
        return;
    };
    match which % 5 {
        0 => {
            for row in CardsCsv::new(data).take(10_000) {
                if let Err(e) = row {
                    check(&e);
                    break;
                }
            }
        }
        1 => {
            let mut skipping = CardsCsv::new(data).skip_bad(true);
            for row in skipping.by_ref().take(10_000) {
                if let Err(e) = row {
                    check(&e);
                    break;
                }
            }
            for e in skipping.skipped_errors() {
                check(e);
            }
        }
        2 => {
            for row in BlacklistCsv::new(data).take(10_000) {
                if let Err(e) = row {
                    check(&e);
                    break;
                }
            }
        }
        3 => {
            if let Err(e) = read_people_csv(data) {
                check(&e);
            }
        }
        _ => {
            if let Err(e) = read_issued_cards_csv(data) {
                check(&e);
            }
        }
    }
});
