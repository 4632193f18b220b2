//! The manifest caps as a client meets them through the one acceptance path: an envelope over
//! `MAX_MANIFEST_BYTES`, or JSON (envelope or signed payload) nested deeper than `MAX_JSON_DEPTH`,
//! is refused with `manifest-too-large` / `manifest-too-deep` before any parser sees it, and a
//! real manifest is not. Runs natively and on wasm32.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use ed25519_dalek::SigningKey;
use tessera_core::dsse::Envelope;
use tessera_core::keys::TrustedKeys;
use tessera_core::layout::ModelName;
use tessera_core::limits::{self, MAX_JSON_DEPTH, MAX_MANIFEST_BYTES};
use tessera_core::manifest::PAYLOAD_TYPE;
use tessera_core::policy::UpdatePolicy;
use tessera_core::ErrorCode as _;

const SAMPLE_MANIFEST: &str = include_str!("data/sample_manifest.json");
/// Inside the sample manifest's validity window.
const NOW: u64 = 1_767_312_000;

fn key() -> SigningKey {
    SigningKey::from_bytes(&[3; 32])
}

fn policy() -> UpdatePolicy {
    let mut trusted = TrustedKeys::new();
    trusted.insert(key().verifying_key());
    UpdatePolicy::new(trusted, 1)
}

fn recommender() -> ModelName {
    "recommender".parse().unwrap()
}

fn verdict(envelope: &[u8]) -> Result<(), &'static str> {
    policy()
        .evaluate(&recommender(), None, envelope, NOW)
        .map(|_| ())
        .map_err(|e| e.code())
}

fn nested(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

#[test]
fn a_real_manifest_is_within_the_caps() {
    let envelope = Envelope::sign(PAYLOAD_TYPE, SAMPLE_MANIFEST.as_bytes(), &key()).to_json();
    assert_eq!(verdict(&envelope), Ok(()));
}

#[test]
fn an_envelope_over_the_size_cap_is_refused_before_parsing() {
    // A validly signed envelope, padded with JSON whitespace past the cap: it would parse and
    // verify, but a client must not take in that many bytes of an unverified document.
    let mut envelope = Envelope::sign(PAYLOAD_TYPE, SAMPLE_MANIFEST.as_bytes(), &key()).to_json();
    let padded_to_cap = MAX_MANIFEST_BYTES - envelope.len();
    envelope.extend(std::iter::repeat_n(b' ', padded_to_cap));
    assert_eq!(verdict(&envelope), Ok(()), "exactly at the cap is accepted");
    envelope.push(b' ');
    assert_eq!(verdict(&envelope), Err("manifest-too-large"));
    // What a chunked reader hands over when it stops past the cap is refused the same way,
    // whatever the bytes.
    assert_eq!(
        verdict(&vec![b'x'; MAX_MANIFEST_BYTES + 1]),
        Err("manifest-too-large")
    );
}

#[test]
fn envelope_json_nested_past_the_depth_cap_is_refused_as_too_deep() {
    let deep = format!(
        r#"{{"payloadType": {}, "payload": "", "signatures": []}}"#,
        nested(MAX_JSON_DEPTH)
    );
    assert_eq!(verdict(deep.as_bytes()), Err("manifest-too-deep"));
    // One level less is left to the envelope parser (which refuses it as malformed).
    let shallow = format!(
        r#"{{"payloadType": {}, "payload": "", "signatures": []}}"#,
        nested(MAX_JSON_DEPTH - 1)
    );
    assert_eq!(verdict(shallow.as_bytes()), Err("envelope-malformed"));
}

#[test]
fn a_signed_payload_nested_past_the_depth_cap_is_refused_as_too_deep() {
    let payload = format!(r#"{{"schema": 1, "extra": {}}}"#, nested(MAX_JSON_DEPTH));
    let envelope = Envelope::sign(PAYLOAD_TYPE, payload.as_bytes(), &key()).to_json();
    assert_eq!(verdict(&envelope), Err("manifest-too-deep"));
    let payload = format!(
        r#"{{"schema": 1, "extra": {}}}"#,
        nested(MAX_JSON_DEPTH - 1)
    );
    let envelope = Envelope::sign(PAYLOAD_TYPE, payload.as_bytes(), &key()).to_json();
    assert_eq!(verdict(&envelope), Err("manifest-malformed"));
}

#[test]
fn brackets_inside_strings_do_not_count_as_nesting() {
    let text = format!(r#"{{"a": "{}\"{}"}}"#, "[".repeat(100), "{".repeat(100));
    assert!(!limits::json_nests_deeper_than(text.as_bytes(), 2));
    assert_eq!(limits::check_manifest(text.as_bytes()), Ok(()));
    assert!(limits::json_nests_deeper_than(nested(3).as_bytes(), 2));
    assert!(!limits::json_nests_deeper_than(nested(2).as_bytes(), 2));
    // Closers without openers neither underflow nor hide later nesting.
    let text = format!("]]]]{}", nested(3));
    assert!(limits::json_nests_deeper_than(text.as_bytes(), 2));
}
