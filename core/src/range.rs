//! HTTP Range arithmetic (RFC 9110 §14): parse a `Range` header against a known length, build
//! `Content-Range`, and check that a server's answer to a range request is the range asked for.
//!
//! Server side ([`evaluate`]): one range per request. `bytes=a-b`, `bytes=a-` and the suffix
//! `bytes=-n` are supported; an end past the representation is clamped to its last byte; a start
//! at or after the length (or `bytes=-0`) is unsatisfiable (→ `416` with
//! `Content-Range: bytes */len`). A header that is syntactically invalid, uses another unit, or
//! asks for **several ranges is ignored and the whole body is served (`200`)** — RFC 9110 lets a
//! server ignore Range, and a full body is always a correct answer, whereas `multipart/byteranges`
//! is a format no model loader wants.
//!
//! Client side ([`check_partial_response`]): a `200` to a range request, a `206` whose
//! `Content-Range` is missing, malformed, for other bytes or for a representation of another
//! length are all typed errors, so a download never stores bytes at the wrong offset.
//! No IO here: headers are strings, lengths are numbers.

use crate::error::ErrorCode;

/// An inclusive byte range `start..=end` within a representation. Never empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ByteRange {
    start: u64,
    end: u64,
}

impl ByteRange {
    /// `start..=end`; `None` when `end < start`.
    pub const fn new(start: u64, end: u64) -> Option<Self> {
        if end < start {
            None
        } else {
            Some(Self { start, end })
        }
    }

    /// The range `offset..offset+len` (exclusive end); `None` when `len == 0` or it overflows.
    pub fn from_offset_len(offset: u64, len: u64) -> Option<Self> {
        let end = offset.checked_add(len)?.checked_sub(1)?;
        Self::new(offset, end)
    }

    /// First byte.
    pub const fn start(&self) -> u64 {
        self.start
    }

    /// Last byte (inclusive).
    pub const fn end(&self) -> u64 {
        self.end
    }

    /// Number of bytes (≥ 1).
    pub const fn len(&self) -> u64 {
        self.end - self.start + 1
    }

    /// Always `false`: a `ByteRange` holds at least one byte (here for clippy's `len` rule).
    pub const fn is_empty(&self) -> bool {
        false
    }

    /// The request header value: `bytes=start-end`.
    pub fn header_value(&self) -> String {
        format!("bytes={}-{}", self.start, self.end)
    }

    /// The `Content-Range` value of a `206`: `bytes start-end/total`.
    pub fn content_range(&self, total: u64) -> String {
        format!("bytes {}-{}/{}", self.start, self.end, total)
    }
}

/// `Content-Range` of a `416`: `bytes */total`.
pub fn unsatisfied_content_range(total: u64) -> String {
    format!("bytes */{total}")
}

/// What a server should answer to a request, given its `Range` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeOutcome {
    /// No usable Range header: `200` with the whole body.
    Full,
    /// `206` with exactly these bytes.
    Partial(ByteRange),
    /// `416` with `Content-Range: bytes */len`.
    Unsatisfiable,
}

/// Decides the answer to a request whose `Range` header is `header`, for a representation of
/// `total` bytes. See the module docs for the rules.
pub fn evaluate(header: Option<&str>, total: u64) -> RangeOutcome {
    let Some(spec) = header
        .map(str::trim)
        .and_then(|h| strip_prefix_ignore_case(h, "bytes="))
    else {
        return RangeOutcome::Full;
    };
    if spec.contains(',') {
        return RangeOutcome::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeOutcome::Full;
    };
    let (first, last) = (first.trim(), last.trim());
    match (parse_digits(first), parse_digits(last)) {
        // bytes=-n: the last n bytes.
        (None, Some(n)) if first.is_empty() => {
            if n == 0 || total == 0 {
                RangeOutcome::Unsatisfiable
            } else {
                let len = n.min(total);
                partial(total - len, total - 1)
            }
        }
        // bytes=a-
        (Some(a), None) if last.is_empty() => {
            if a >= total {
                RangeOutcome::Unsatisfiable
            } else {
                partial(a, total - 1)
            }
        }
        // bytes=a-b
        (Some(a), Some(b)) => {
            if b < a {
                RangeOutcome::Full // invalid syntax per RFC 9110 §14.1.1: ignore
            } else if a >= total {
                RangeOutcome::Unsatisfiable
            } else {
                partial(a, b.min(total - 1))
            }
        }
        _ => RangeOutcome::Full,
    }
}

fn partial(start: u64, end: u64) -> RangeOutcome {
    ByteRange::new(start, end).map_or(RangeOutcome::Full, RangeOutcome::Partial)
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Parses ASCII digits whose value fits in a `u64` (rejecting signs, spaces and overflow).
fn parse_digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A parsed `Content-Range: bytes start-end/total` (total may be unknown, `*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentRange {
    /// The bytes the body holds.
    pub range: ByteRange,
    /// The full representation's length, when the server stated it.
    pub total: Option<u64>,
}

/// Parses a `Content-Range` header of a `206` (the `bytes */len` form of a `416` is not a range
/// and yields `None`).
pub fn parse_content_range(value: &str) -> Option<ContentRange> {
    let rest = strip_prefix_ignore_case(value.trim(), "bytes ")?;
    let (span, total) = rest.trim().split_once('/')?;
    let (start, end) = span.split_once('-')?;
    let range = ByteRange::new(parse_digits(start)?, parse_digits(end)?)?;
    let total = match total {
        "*" => None,
        t => Some(parse_digits(t)?),
    };
    if total.is_some_and(|t| range.end >= t) {
        return None;
    }
    Some(ContentRange { range, total })
}

/// A server's answer that doesn't match the range request it answers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RangeError {
    /// The server sent `200` (the whole body) to a range request.
    #[error("server ignored the Range request and answered 200 with the whole body")]
    RangeIgnored,
    /// A `206` with no or an unparsable `Content-Range`.
    #[error("206 response has a missing or malformed Content-Range: {0:?}")]
    MalformedContentRange(Option<String>),
    /// A `206` for other bytes than requested.
    #[error("asked for bytes {asked_start}-{asked_end}, server sent {got_start}-{got_end}")]
    WrongRange {
        /// Requested first byte.
        asked_start: u64,
        /// Requested last byte.
        asked_end: u64,
        /// First byte received.
        got_start: u64,
        /// Last byte received.
        got_end: u64,
    },
    /// A `206` for a representation of another size than expected (a different file).
    #[error("server's representation has {got:?} bytes, expected {expected}")]
    WrongTotal {
        /// Expected size.
        expected: u64,
        /// Size the server stated.
        got: Option<u64>,
    },
    /// `416`: the server says the range is outside the representation.
    #[error("server answered 416: range not satisfiable")]
    Unsatisfiable,
    /// Any other status.
    #[error("unexpected HTTP status {0} to a range request")]
    UnexpectedStatus(u16),
}

impl ErrorCode for RangeError {
    fn code(&self) -> &'static str {
        match self {
            Self::RangeIgnored => "range-ignored",
            Self::MalformedContentRange(_) => "content-range-malformed",
            Self::WrongRange { .. } => "content-range-mismatch",
            Self::WrongTotal { .. } => "content-range-total-mismatch",
            Self::Unsatisfiable => "range-unsatisfiable",
            Self::UnexpectedStatus(_) => "range-unexpected-status",
        }
    }
}

/// Checks a response to a request for `asked` within a representation of `expected_total`
/// bytes. `Ok` only for a `206` whose `Content-Range` is exactly `asked` of `expected_total`
/// (an unknown total, `*`, is accepted). A server may legally shorten a range; tessera always
/// asks within the known length, so a shorter range means a different file and is an error.
pub fn check_partial_response(
    asked: ByteRange,
    expected_total: u64,
    status: u16,
    content_range: Option<&str>,
) -> Result<(), RangeError> {
    match status {
        206 => {}
        200 => return Err(RangeError::RangeIgnored),
        416 => return Err(RangeError::Unsatisfiable),
        other => return Err(RangeError::UnexpectedStatus(other)),
    }
    let parsed = content_range
        .and_then(parse_content_range)
        .ok_or_else(|| RangeError::MalformedContentRange(content_range.map(str::to_owned)))?;
    if parsed.total.is_some_and(|t| t != expected_total) {
        return Err(RangeError::WrongTotal {
            expected: expected_total,
            got: parsed.total,
        });
    }
    if parsed.range != asked {
        return Err(RangeError::WrongRange {
            asked_start: asked.start,
            asked_end: asked.end,
            got_start: parsed.range.start,
            got_end: parsed.range.end,
        });
    }
    Ok(())
}
