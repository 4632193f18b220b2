//! Data-driven RFC 9110 cases for `tessera_core::range` (the table is
//! `tests/data/range_cases.json`, compiled in), plus property tests of the range arithmetic
//! (native only: proptest is not a wasm32 dev-dependency).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use serde::Deserialize;
use tessera_core::range::{check_partial_response, evaluate, ByteRange, RangeOutcome};
use tessera_core::ErrorCode;

const TABLE: &str = include_str!("data/range_cases.json");

#[derive(Deserialize)]
struct Table {
    evaluate: Vec<EvaluateCase>,
    responses: Vec<ResponseCase>,
}

#[derive(Deserialize)]
struct EvaluateCase {
    name: String,
    header: Option<String>,
    total: u64,
    expect: Expected,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Expected {
    Partial([u64; 2]),
    Word(String),
}

#[derive(Deserialize)]
struct ResponseCase {
    name: String,
    asked: [u64; 2],
    total: u64,
    status: u16,
    content_range: Option<String>,
    expect: String,
}

fn table() -> Table {
    serde_json::from_str(TABLE).expect("range_cases.json parses")
}

#[test]
fn range_header_cases_follow_rfc_9110() {
    let cases = table().evaluate;
    assert!(cases.len() >= 50, "the table lost cases");
    for case in cases {
        let expected = match &case.expect {
            Expected::Partial([start, end]) => {
                RangeOutcome::Partial(ByteRange::new(*start, *end).expect("table ranges are valid"))
            }
            Expected::Word(w) if w == "full" => RangeOutcome::Full,
            Expected::Word(w) if w == "unsatisfiable" => RangeOutcome::Unsatisfiable,
            Expected::Word(w) => panic!("{}: unknown expectation {w:?}", case.name),
        };
        let got = evaluate(case.header.as_deref(), case.total);
        assert_eq!(
            got, expected,
            "case {:?}: header {:?}",
            case.name, case.header
        );
    }
}

#[test]
fn response_checks_name_what_is_wrong() {
    let cases = table().responses;
    assert!(cases.len() >= 20, "the table lost cases");
    for case in cases {
        let asked = ByteRange::new(case.asked[0], case.asked[1]).expect("valid asked range");
        let got = check_partial_response(
            asked,
            case.total,
            case.status,
            case.content_range.as_deref(),
        );
        let code = got.map_or_else(|e| e.code(), |()| "ok");
        assert_eq!(code, case.expect, "case {:?}", case.name);
    }
}

#[test]
fn header_value_and_content_range_are_the_wire_forms() {
    let r = ByteRange::new(5, 9).unwrap();
    assert_eq!(r.header_value(), "bytes=5-9");
    assert_eq!(r.content_range(100), "bytes 5-9/100");
    assert_eq!(r.len(), 5);
    assert_eq!(
        tessera_core::range::unsatisfied_content_range(100),
        "bytes */100"
    );
    assert_eq!(ByteRange::new(9, 5), None);
    assert_eq!(ByteRange::from_offset_len(10, 0), None);
    assert_eq!(ByteRange::from_offset_len(u64::MAX, 2), None);
    assert_eq!(ByteRange::from_offset_len(10, 5), ByteRange::new(10, 14));
}

#[test]
fn a_served_header_value_asks_for_exactly_its_range() {
    for (start, end, total) in [(0, 0, 1), (3, 7, 8), (0, 99, 100), (50, 60, 1000)] {
        let r = ByteRange::new(start, end).unwrap();
        assert_eq!(
            evaluate(Some(&r.header_value()), total),
            RangeOutcome::Partial(r)
        );
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod props {
    use proptest::prelude::*;
    use tessera_core::range::{
        check_partial_response, evaluate, parse_content_range, ByteRange, RangeOutcome,
    };

    /// A syntactically valid single range spec and the bytes RFC 9110 says it selects.
    #[derive(Debug, Clone)]
    enum Spec {
        Closed(u64, u64),
        Open(u64),
        Suffix(u64),
    }

    impl Spec {
        fn header(&self) -> String {
            match self {
                Self::Closed(a, b) => format!("bytes={a}-{b}"),
                Self::Open(a) => format!("bytes={a}-"),
                Self::Suffix(n) => format!("bytes=-{n}"),
            }
        }

        /// Expected outcome, computed independently of the parser.
        fn outcome(&self, total: u64) -> RangeOutcome {
            let partial = |s, e| RangeOutcome::Partial(ByteRange::new(s, e).unwrap());
            match *self {
                Self::Closed(a, b) if b < a => RangeOutcome::Full,
                Self::Closed(a, _) | Self::Open(a) if a >= total => RangeOutcome::Unsatisfiable,
                Self::Closed(a, b) => partial(a, b.min(total - 1)),
                Self::Open(a) => partial(a, total - 1),
                Self::Suffix(0) => RangeOutcome::Unsatisfiable,
                Self::Suffix(_) if total == 0 => RangeOutcome::Unsatisfiable,
                Self::Suffix(n) => partial(total - n.min(total), total - 1),
            }
        }
    }

    /// Numbers near the interesting edges as well as anywhere.
    fn number() -> impl Strategy<Value = u64> {
        prop_oneof![0u64..300, Just(u64::MAX), Just(u64::MAX - 1), any::<u64>()]
    }

    fn spec() -> impl Strategy<Value = Spec> {
        // At most 19 digits: longer numbers are ignored, tested in the table.
        fn n() -> impl Strategy<Value = u64> {
            number().prop_map(|n| n.min(9_999_999_999_999_999_999))
        }
        prop_oneof![
            (n(), n()).prop_map(|(a, b)| Spec::Closed(a, b)),
            n().prop_map(Spec::Open),
            n().prop_map(Spec::Suffix),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn every_partial_range_lies_within_the_representation(spec in spec(), total in number()) {
            let got = evaluate(Some(&spec.header()), total);
            prop_assert_eq!(got, spec.outcome(total));
            if let RangeOutcome::Partial(r) = got {
                prop_assert!(r.start() <= r.end() && r.end() < total);
                prop_assert_eq!(r.len(), r.end() - r.start() + 1);
                let expected_len = match spec {
                    Spec::Closed(a, b) => b.min(total - 1) - a + 1,
                    Spec::Open(a) => total - a,
                    Spec::Suffix(n) => n.min(total),
                };
                prop_assert_eq!(r.len(), expected_len);
            }
        }

        #[test]
        fn any_header_string_evaluates_without_panicking(header in ".{0,40}", total in number()) {
            let header = format!("bytes={header}");
            for h in [header.as_str(), &header[6..]] {
                if let RangeOutcome::Partial(r) = evaluate(Some(h), total) {
                    prop_assert!(r.start() <= r.end() && r.end() < total);
                }
            }
        }

        #[test]
        fn content_range_round_trips(start in number(), len in number(), extra in number()) {
            let Some(r) = ByteRange::from_offset_len(start, len) else { return Ok(()) };
            let Some(total) = r.end().checked_add(1).and_then(|t| t.checked_add(extra % 1000)) else {
                return Ok(());
            };
            let parsed = parse_content_range(&r.content_range(total));
            prop_assert_eq!(parsed.map(|p| (p.range, p.total)), Some((r, Some(total))));
            prop_assert_eq!(check_partial_response(r, total, 206, Some(&r.content_range(total))), Ok(()));
        }

        #[test]
        fn any_content_range_string_parses_without_panicking(value in ".{0,40}") {
            for v in [value.clone(), format!("bytes {value}")] {
                if let Some(p) = parse_content_range(&v) {
                    prop_assert!(p.total.is_none_or(|t| p.range.end() < t));
                }
            }
        }
    }
}
