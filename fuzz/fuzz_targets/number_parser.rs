//! The identity-number parser (N1-N3) on arbitrary bytes: never a panic; what it accepts
//! round-trips (normalised text and the compact u64) and re-parses to the same number.
#![no_main]

use idcard::{IdNumber, Parser};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let lenient = Parser::new();
    let strict = Parser::new().strict(true);
    for parser in [&lenient, &strict] {
        let Ok(parsed) = parser.parse_bytes(data) else {
            continue;
        };
        let n: IdNumber = parsed.number;
        let text = n.to_string();
        assert_eq!(text.len(), 18);
        assert_eq!(
            IdNumber::from_u64(n.to_u64()).expect("compact round trip"),
            n
        );
        let again = parser.parse(&text).expect("the normalised number is valid");
        assert_eq!(again.number, n);
        assert!(!again.upgraded_from_15);
    }
    if let Ok(s) = std::str::from_utf8(data)
        && let Ok(n) = IdNumber::parse(s)
    {
        assert_eq!(IdNumber::parse(&n.to_string()).unwrap(), n);
    }
    if data.len() >= 8 {
        // Any u64 either decodes to a number that re-encodes to it, or is an error.
        let v = u64::from_le_bytes(data[..8].try_into().unwrap());
        if let Ok(n) = IdNumber::from_u64(v) {
            assert_eq!(n.to_u64(), v);
        }
    }
});
