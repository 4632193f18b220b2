//! Turns the raw request path after `/models/` into an [`ArtifactPath`]: percent-decodes it
//! once, refuses encoded separators and control characters, and lets core's layout rules reject
//! everything else that could leave the artifacts directory (`..`, `.`, empty segments).
//!
//! It does not touch the filesystem; it only decides what is asked for.

use tessera_core::layout::ArtifactPath;

use crate::error::RequestError;

/// Classifies the raw (still percent-encoded) path after the `/models/` prefix.
pub(crate) fn parse_artifact_path(raw: &str) -> Result<ArtifactPath, RequestError> {
    let decoded = percent_decode(raw)?;
    Ok(ArtifactPath::parse(&decoded)?)
}

/// Decodes `%XX` escapes once. An escape that decodes to `/` or `\` would change where a path
/// segment ends, and control characters have no place in a path: both are refused, as are
/// malformed escapes, a raw `\` and bytes that are not UTF-8.
pub(crate) fn percent_decode(raw: &str) -> Result<String, RequestError> {
    let invalid = |why: &str| RequestError::PathInvalid(why.to_owned());
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hi = bytes.get(i + 1).and_then(|h| hex_value(*h));
            let lo = bytes.get(i + 2).and_then(|l| hex_value(*l));
            let (Some(hi), Some(lo)) = (hi, lo) else {
                return Err(invalid("'%' not followed by two hex digits"));
            };
            let decoded = hi << 4 | lo;
            if decoded == b'/' || decoded == b'\\' {
                return Err(invalid("encoded '/' or '\\'"));
            }
            out.push(decoded);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    if out.contains(&b'\\') {
        return Err(invalid("'\\' in path"));
    }
    if out.iter().any(|b| b.is_ascii_control()) {
        return Err(invalid("control character in path"));
    }
    String::from_utf8(out).map_err(|_| invalid("not UTF-8"))
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use tessera_core::ErrorCode as _;

    use super::*;

    #[test]
    fn decodes_escaped_unreserved_characters() {
        assert_eq!(
            percent_decode("demo/model%2Eonnx").as_deref(),
            Ok("demo/model.onnx")
        );
        assert!(matches!(
            parse_artifact_path("demo/model%2eonnx"),
            Ok(ArtifactPath::LogicalFile(..))
        ));
    }

    #[test]
    fn refuses_paths_that_could_escape_or_confuse_segments() {
        let cases = [
            ("../x", "invalid-model-name"),
            ("%2e%2e/x", "invalid-model-name"),
            ("demo/../x", "invalid-file-path"),
            ("demo/%2e%2e/x", "invalid-file-path"),
            ("demo/a/./b", "invalid-file-path"),
            ("demo//x", "invalid-file-path"),
            ("_shards/../../etc/passwd", "unknown-artifact-path"),
            ("demo%2fmodel.onnx", "path-invalid"),
            ("demo%5cmodel.onnx", "path-invalid"),
            ("demo\\model.onnx", "path-invalid"),
            ("demo/%00x", "path-invalid"),
            ("demo/%zz", "path-invalid"),
            ("demo/%2", "path-invalid"),
            ("demo/%ff", "path-invalid"),
            ("demo/%252e%252e/x", "invalid-file-path"),
        ];
        for (raw, code) in cases {
            let err = parse_artifact_path(raw).err().map(|e| e.code());
            assert_eq!(err, Some(code), "{raw}");
        }
    }
}
