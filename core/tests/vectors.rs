//! The shared identity-number vectors (`tests/vectors/numbers.json`, also run by the Python
//! tests): N1-N3 in both languages from one table.

use idcard::Parser;

#[test]
fn n1_n2_n3_shared_vectors() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/numbers.json");
    let text = std::fs::read_to_string(path).unwrap();
    let vectors: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    assert!(vectors.len() >= 20);
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
    for v in &vectors {
        let input = v["input"].as_str().unwrap();
        let got = Parser::new().with_today(today).parse(input);
        if v["valid"].as_bool().unwrap() {
            let p = got.unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(
                p.number.to_string(),
                v["number"].as_str().unwrap(),
                "{input:?}"
            );
            assert_eq!(
                p.upgraded_from_15,
                v["upgraded_from_15"].as_bool().unwrap(),
                "{input:?}"
            );
        } else {
            let e = got.expect_err(input);
            assert_eq!(e.kind(), v["kind"].as_str().unwrap(), "{input:?}: {e}");
        }
        let strict = Parser::new()
            .with_today(today)
            .strict(true)
            .parse(input)
            .is_ok();
        assert_eq!(
            strict,
            v["strict_valid"].as_bool().unwrap(),
            "strict {input:?}"
        );
    }
}
