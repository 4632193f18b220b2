//! Conditional and negotiated requests: strong ETags, `If-None-Match`, `If-Range`, the choice
//! of a byte range (by core's [`evaluate`]) and whether a client accepts brotli.
//!
//! Pure header logic, no IO. Rules: `If-None-Match` uses weak comparison (RFC 9110 §13.1.2) and
//! `*` matches; `If-Range` uses strong comparison, and a date or weak tag never matches, so the
//! whole representation is sent (always a correct answer). Range is honoured for GET only.

use http::header::{ACCEPT_ENCODING, IF_NONE_MATCH, IF_RANGE, RANGE};
use http::{HeaderMap, HeaderValue, Method};
use tessera_core::range::{evaluate, RangeOutcome};
use tessera_core::Sha256Digest;

/// A strong entity tag, `"<64 hex>"`, for bytes whose SHA-256 is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ETag(String);

impl ETag {
    /// The tag of content with this digest.
    pub(crate) fn of(digest: &Sha256Digest) -> Self {
        Self(format!("\"{digest}\""))
    }

    /// The `ETag` header value.
    pub(crate) fn header_value(&self) -> HeaderValue {
        // Quotes and hex digits only: always a valid header value.
        HeaderValue::from_str(&self.0).unwrap_or_else(|_| HeaderValue::from_static("\"\""))
    }

    /// Whether `If-None-Match` names this tag (or `*`): answer `304 Not Modified`.
    pub(crate) fn matches_if_none_match(&self, headers: &HeaderMap) -> bool {
        headers
            .get_all(IF_NONE_MATCH)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == self.0)
    }

    /// Whether a `Range` may be honoured: no `If-Range`, or an `If-Range` that is exactly this
    /// strong tag.
    pub(crate) fn allows_range(&self, headers: &HeaderMap) -> bool {
        match headers.get(IF_RANGE) {
            None => true,
            Some(value) => value.to_str().is_ok_and(|v| v.trim() == self.0),
        }
    }
}

/// What to send for a request on a representation of `total` bytes whose tag is `etag`:
/// core's [`evaluate`] of the `Range` header, unless the method is not GET or `If-Range` is stale.
pub(crate) fn range_outcome(
    method: &Method,
    headers: &HeaderMap,
    etag: &ETag,
    total: u64,
) -> RangeOutcome {
    if method != Method::GET || !etag.allows_range(headers) {
        return RangeOutcome::Full;
    }
    let range = headers.get(RANGE).and_then(|v| v.to_str().ok());
    evaluate(range, total)
}

/// Whether `Accept-Encoding` accepts `br` (listed with q > 0, or `*` with q > 0 and `br` not
/// listed).
pub(crate) fn accepts_brotli(headers: &HeaderMap) -> bool {
    let mut wildcard = None;
    for item in headers
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
    {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or_default().trim();
        let q_positive = parts
            .filter_map(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .or_else(|| p.trim().strip_prefix("Q="))
            })
            .next_back()
            .is_none_or(|q| q.trim().parse::<f32>().is_ok_and(|q| q > 0.0));
        if coding.eq_ignore_ascii_case("br") {
            return q_positive;
        }
        if coding == "*" {
            wildcard = Some(q_positive);
        }
    }
    wildcard.unwrap_or(false)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use tessera_core::range::ByteRange;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn tag() -> ETag {
        ETag::of(&Sha256Digest::of(b"abc"))
    }

    const ABC: &str = "\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"";

    #[test]
    fn if_none_match_compares_weakly_and_accepts_lists_and_star() {
        assert_eq!(tag().header_value(), ABC);
        let weak = format!("W/{ABC}");
        let list = format!("\"other\", {ABC}");
        for (value, expected) in [
            (ABC, true),
            (&*weak, true),
            (&*list, true),
            ("*", true),
            ("\"other\"", false),
        ] {
            let mut map = HeaderMap::new();
            map.insert(IF_NONE_MATCH, HeaderValue::from_str(value).unwrap());
            assert_eq!(tag().matches_if_none_match(&map), expected, "{value}");
        }
        assert!(!tag().matches_if_none_match(&HeaderMap::new()));
    }

    #[test]
    fn stale_weak_or_dated_if_range_turns_a_range_request_into_a_full_one() {
        let ranged = |if_range: Option<&str>| {
            let mut map = headers(&[("range", "bytes=0-0")]);
            if let Some(v) = if_range {
                map.insert(IF_RANGE, HeaderValue::from_str(v).unwrap());
            }
            range_outcome(&Method::GET, &map, &tag(), 10)
        };
        let first_byte = RangeOutcome::Partial(ByteRange::new(0, 0).unwrap());
        assert_eq!(ranged(None), first_byte);
        assert_eq!(ranged(Some(ABC)), first_byte);
        assert_eq!(ranged(Some(&format!("W/{ABC}"))), RangeOutcome::Full);
        assert_eq!(ranged(Some("\"stale\"")), RangeOutcome::Full);
        assert_eq!(
            ranged(Some("Wed, 21 Oct 2015 07:28:00 GMT")),
            RangeOutcome::Full
        );
    }

    #[test]
    fn range_is_honoured_for_get_only() {
        let map = headers(&[("range", "bytes=0-0")]);
        assert_eq!(
            range_outcome(&Method::HEAD, &map, &tag(), 10),
            RangeOutcome::Full
        );
    }

    #[test]
    fn brotli_acceptance_follows_q_values() {
        let cases: &[(&[(&str, &str)], bool)] = &[
            (&[], false),
            (&[("accept-encoding", "gzip, deflate, br")], true),
            (
                &[("accept-encoding", "gzip"), ("accept-encoding", "BR;q=0.5")],
                true,
            ),
            (&[("accept-encoding", "br;q=0")], false),
            (&[("accept-encoding", "*")], true),
            (&[("accept-encoding", "*;q=0.1, br;q=0")], false),
            (&[("accept-encoding", "gzip")], false),
        ];
        for (pairs, expected) in cases {
            let mut map = HeaderMap::new();
            for (name, value) in *pairs {
                map.append(*name, HeaderValue::from_str(value).unwrap());
            }
            assert_eq!(accepts_brotli(&map), *expected, "{pairs:?}");
        }
    }
}
