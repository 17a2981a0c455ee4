//! Property tests for identity numbers (N1, N2, N3) against the rule as written in the standard.

use chrono::{Datelike, NaiveDate};
use idcard::{DivisionCode, DivisionTable, IdNumber, NumberError, Parser};
use proptest::prelude::*;

const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/// The check character straight from the standard's formula, independent of the library.
fn model_check(body: &str) -> char {
    let s: u32 = body
        .bytes()
        .zip(W)
        .map(|(b, w)| (b - b'0') as u32 * w)
        .sum();
    b"10X98765432"[(s % 11) as usize] as char
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
}

fn parser() -> Parser<'static> {
    Parser::new().with_today(today())
}

fn codes() -> Vec<DivisionCode> {
    DivisionTable::builtin().codes().collect()
}

prop_compose! {
    fn body_parts()(i in 0usize..6000, days in 0i64..(today() - NaiveDate::from_ymd_opt(1900,1,1).unwrap()).num_days(), seq in 0u16..1000)
        -> (DivisionCode, NaiveDate, u16) {
        let codes = codes();
        (codes[i % codes.len()], NaiveDate::from_ymd_opt(1900, 1, 1).unwrap() + chrono::Days::new(days as u64), seq)
    }
}

fn body_of(code: DivisionCode, birth: NaiveDate, seq: u16) -> String {
    format!(
        "{code}{:04}{:02}{:02}{seq:03}",
        birth.year(),
        birth.month(),
        birth.day()
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn n1_valid_numbers_roundtrip_parse_format_compact((code, birth, seq) in body_parts()) {
        let body = body_of(code, birth, seq);
        let s = format!("{body}{}", model_check(&body));
        let p = parser().parse(&s).unwrap();
        prop_assert!(!p.upgraded_from_15);
        let n = p.number;
        prop_assert_eq!(n.to_string(), s.clone());
        prop_assert_eq!(n.division(), code);
        prop_assert_eq!(n.birth_date(), birth);
        prop_assert_eq!(n.sequence(), seq);
        prop_assert_eq!(IdNumber::from_u64(n.to_u64()).unwrap(), n);
        prop_assert_eq!(IdNumber::from_parts(code, birth, seq).unwrap(), n);
        // Lower-case x and full-width forms normalise to the same number.
        let lower = s.to_lowercase();
        prop_assert_eq!(parser().parse(&lower).unwrap().number, n);
        let wide: String = s.chars().map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap()).collect();
        prop_assert_eq!(parser().parse(&format!(" {wide}\u{3000}")).unwrap().number, n);
    }

    #[test]
    fn n1_every_single_character_substitution_is_detected(
        (code, birth, seq) in body_parts(), pos in 0usize..18, repl in 0u8..11,
    ) {
        let body = body_of(code, birth, seq);
        let s = format!("{body}{}", model_check(&body));
        let new = if repl == 10 { b'X' } else { b'0' + repl };
        prop_assume!(s.as_bytes()[pos] != new);
        let mut bytes = s.into_bytes();
        bytes[pos] = new;
        let t = String::from_utf8(bytes).unwrap();
        prop_assert!(parser().parse(&t).is_err(), "{} accepted", t);
    }

    #[test]
    fn n2_legacy_upgrade_follows_the_rule((code, birth, seq) in body_parts()) {
        prop_assume!((1900..=1999).contains(&birth.year()));
        let legacy = format!("{code}{:02}{:02}{:02}{seq:03}", birth.year() % 100, birth.month(), birth.day());
        let body = format!("{}19{}", &legacy[..6], &legacy[6..]);
        let expected = format!("{body}{}", model_check(&body));
        let p = parser().parse(&legacy).unwrap();
        prop_assert!(p.upgraded_from_15);
        prop_assert_eq!(p.number.to_string(), expected);
        prop_assert_eq!(p.number.to_legacy15().unwrap(), legacy);
    }

    #[test]
    fn n1_no_panic_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
        let _ = parser().parse_bytes(&bytes);
        let _ = parser().strict(true).parse_bytes(&bytes);
    }

    #[test]
    fn n1_no_panic_on_any_string(s in "\\PC{0,24}") {
        if let Err(e) = parser().parse(&s) {
            // Every rejection has a kind and a message.
            prop_assert!(!e.kind().is_empty());
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn n1_no_panic_on_near_numbers(s in "[0-9xX０-９Ｘ ]{14,20}") {
        let _ = parser().strict(true).parse(&s);
    }

    #[test]
    fn n1_compact_decoding_never_panics(v in any::<u64>()) {
        if let Ok(n) = IdNumber::from_u64(v) {
            prop_assert_eq!(n.to_u64(), v);
        }
    }
}

#[test]
fn n3_strict_rejects_a_code_abolished_before_birth() {
    // 110103 崇文区, abolished 2010.
    let body = "11010320150101001";
    let s = format!("{body}{}", model_check(body));
    assert!(parser().parse(&s).is_ok());
    match parser().strict(true).parse(&s) {
        Err(NumberError::DivisionNotInForce { code, year }) => {
            assert_eq!((code.get(), year), (110103, 2015))
        }
        other => panic!("{other:?}"),
    }
}
