//! Helpers shared by the core test suites (`trust.rs`, `statement.rs`).

use serde_json::{json, Value};
use tessera_core::Sha256Digest;

/// A manifest file entry as JSON: `path`, made of `shards` in order, with its sizes and digests.
pub fn file_json(path: &str, shards: &[&[u8]]) -> Value {
    let content: Vec<u8> = shards.concat();
    json!({
        "path": path,
        "size": content.len(),
        "sha256": Sha256Digest::of(&content),
        "shards": shards
            .iter()
            .map(|s| json!({ "sha256": Sha256Digest::of(s), "size": s.len() }))
            .collect::<Vec<_>>(),
    })
}
