//! HTTP ranges: a `Range` request header against a representation size (the edge and the
//! service worker answer them), and a `Content-Range` response header against the range asked
//! for (the download plan checks every 206). The first 8 bytes are the size, the rest the header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::range::{self, ByteRange, RangeOutcome};
use tessera_core::ErrorCode as _;

fuzz_target!(|data: &[u8]| {
    let (total, header) = match data.split_first_chunk::<8>() {
        Some((total, rest)) => (u64::from_le_bytes(*total), rest),
        None => (0, data),
    };
    let Ok(header) = std::str::from_utf8(header) else {
        return;
    };
    if let RangeOutcome::Partial(r) = range::evaluate(Some(header), total) {
        // A range the server answers must lie inside the representation.
        assert!(
            r.start() <= r.end() && r.end() < total,
            "{header:?} of {total}: {r:?}"
        );
        let value = r.content_range(total);
        let parsed = range::parse_content_range(&value);
        assert_eq!(parsed.map(|c| c.range), Some(r), "{value:?}");
        assert_eq!(
            range::check_partial_response(r, total, 206, Some(&value)),
            Ok(())
        );
    }
    if let Some(parsed) = range::parse_content_range(header) {
        assert!(parsed.range.start() <= parsed.range.end());
        if let Some(t) = parsed.total {
            assert!(parsed.range.end() < t);
        }
    }
    if let Some(asked) = ByteRange::new(total % 4096, total % 4096 + 1023) {
        for status in [200, 206, 416, 500] {
            if let Err(error) = range::check_partial_response(asked, 1 << 20, status, Some(header))
            {
                let _ = error.code();
            }
        }
    }
});
