//! The trust boundary as a client meets it: the update policy's verdict on fetched envelopes,
//! every rejection code of the signature, manifest, key, layout and digest checks, DSSE
//! known-answer vectors made independently (by `data/make_dsse_vectors.py`), and the committed
//! sample manifest. Runs natively and on wasm32 (fixtures are compiled in; no filesystem).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use common::file_json;
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde_json::{json, Value};

use tessera_core::dsse::{pae, Envelope, SignatureError};
use tessera_core::keys::{key_id, KeyError, PublicKeyFile, TrustedKeys};
use tessera_core::layout::{ArtifactPath, LogicalPath, ModelName};
use tessera_core::limits::LimitError;
use tessera_core::manifest::{ManifestError, PAYLOAD_TYPE};
use tessera_core::policy::{refusal_code, Acceptance, UpdateError, UpdatePolicy, REFUSAL_CODES};
use tessera_core::{ErrorCode, Manifest, Sha256Digest};

const SAMPLE_MANIFEST: &str = include_str!("data/sample_manifest.json");
const SAMPLE_ENVELOPE: &str = include_str!("data/sample_manifest.dsse.json");
const DSSE_VECTORS: &str = include_str!("data/dsse_vectors.json");

/// 2026-01-01T00:00:00Z: when test manifests are issued.
const T0: u64 = 1_767_225_600;
const DAY: u64 = 86_400;
/// A moment inside every test manifest's validity window.
const NOW: u64 = T0 + DAY;

// ---------------------------------------------------------------------------------------------
// Helpers: keys, manifests (as JSON values, so tests can break them), envelopes.

fn signing_key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn trusting(keys: &[&SigningKey]) -> TrustedKeys {
    let mut trusted = TrustedKeys::new();
    for key in keys {
        trusted.insert(key.verifying_key());
    }
    trusted
}

fn policy(keys: &[&SigningKey], threshold: usize) -> UpdatePolicy {
    UpdatePolicy::new(trusting(keys), threshold)
}

fn recommender() -> ModelName {
    "recommender".parse().unwrap()
}

/// A valid manifest for `recommender` at `version`, issued at T0, valid 30 days.
fn manifest_value(version: &str) -> Value {
    json!({
        "schema": 1,
        "name": "recommender",
        "version": version,
        "runtime": { "engine": "wonnx", "abi": 1, "ops": ["Gemm", "Relu"] },
        "issued_at": T0,
        "expires_at": T0 + 30 * DAY,
        "files": [
            file_json("model.onnx", &[b"weights part one", b"weights part two"]),
            file_json("tokenizer/vocab.json", &[b"{\"a\": 0}"]),
        ],
        "test_vectors": [{
            "name": "kat-1",
            "inputs": { "x": { "dtype": "float32", "shape": [1, 2], "data": [0.5, 1.5] } },
            "outputs": { "y": { "dtype": "int64", "shape": [1], "data": [3] } },
            "tolerance": 0.0001,
        }],
    })
}

fn bytes_of(value: &Value) -> Vec<u8> {
    serde_json::to_vec_pretty(value).unwrap()
}

fn manifest(value: &Value) -> Manifest {
    Manifest::from_json(&bytes_of(value)).unwrap()
}

/// An envelope over `payload` with `payload_type`, signed by each key in order.
fn envelope_over(payload_type: &str, payload: &[u8], signers: &[&SigningKey]) -> Envelope {
    let (first, rest) = signers.split_first().unwrap();
    let mut envelope = Envelope::sign(payload_type, payload, first);
    for key in rest {
        envelope.cosign(key).unwrap();
    }
    envelope
}

/// The envelope JSON a client would fetch for `value`.
fn signed(value: &Value, signers: &[&SigningKey]) -> Vec<u8> {
    envelope_over(PAYLOAD_TYPE, &bytes_of(value), signers).to_json()
}

fn with(mut value: Value, pointer: &str, new: Value) -> Value {
    *value
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("no {pointer}")) = new;
    value
}

fn update_code(result: Result<impl std::fmt::Debug, UpdateError>) -> &'static str {
    result.expect_err("expected a rejection").code()
}

// ---------------------------------------------------------------------------------------------
// UpdatePolicy: what is accepted.

#[test]
fn first_signed_manifest_is_accepted_as_first() {
    let key = signing_key(1);
    let value = manifest_value("1.0.0");
    let accepted = policy(&[&key], 1)
        .evaluate(&recommender(), None, &signed(&value, &[&key]), NOW)
        .unwrap();
    assert_eq!(accepted.kind, Acceptance::First);
    assert_eq!(accepted.manifest, manifest(&value));
}

#[test]
fn higher_version_is_accepted_as_upgrade_from_previous() {
    let key = signing_key(1);
    let previous = manifest(&manifest_value("1.0.0"));
    let next = with(
        manifest_value("1.1.0"),
        "/files/0",
        file_json("model.onnx", &[b"weights part one", b"new weights part"]),
    );
    let accepted = policy(&[&key], 1)
        .evaluate(
            &recommender(),
            Some(&previous),
            &signed(&next, &[&key]),
            NOW,
        )
        .unwrap();
    assert_eq!(
        accepted.kind,
        Acceptance::Upgrade {
            from: "1.0.0".parse().unwrap()
        }
    );
    assert_eq!(accepted.manifest.version, "1.1.0".parse().unwrap());
}

#[test]
fn release_after_its_prerelease_is_an_upgrade() {
    let key = signing_key(1);
    let previous = manifest(&manifest_value("2.0.0-rc.1"));
    let accepted = policy(&[&key], 1)
        .evaluate(
            &recommender(),
            Some(&previous),
            &signed(&manifest_value("2.0.0"), &[&key]),
            NOW,
        )
        .unwrap();
    assert_eq!(
        accepted.kind,
        Acceptance::Upgrade {
            from: "2.0.0-rc.1".parse().unwrap()
        }
    );
}

#[test]
fn same_version_resigned_with_later_expiry_is_a_refresh() {
    let key = signing_key(1);
    let previous = manifest(&manifest_value("1.0.0"));
    let resigned = with(manifest_value("1.0.0"), "/issued_at", json!(T0 + 20 * DAY));
    let resigned = with(resigned, "/expires_at", json!(T0 + 60 * DAY));
    let accepted = policy(&[&key], 1)
        .evaluate(
            &recommender(),
            Some(&previous),
            &signed(&resigned, &[&key]),
            T0 + 25 * DAY,
        )
        .unwrap();
    assert_eq!(accepted.kind, Acceptance::Refresh);
    assert_eq!(accepted.manifest.expires_at, T0 + 60 * DAY);
}

#[test]
fn fetching_the_accepted_envelope_again_is_a_refresh() {
    let key = signing_key(1);
    let envelope = signed(&manifest_value("1.0.0"), &[&key]);
    let policy = policy(&[&key], 1);
    let first = policy
        .evaluate(&recommender(), None, &envelope, NOW)
        .unwrap();
    let again = policy
        .evaluate(&recommender(), Some(&first.manifest), &envelope, NOW + 60)
        .unwrap();
    assert_eq!(again.kind, Acceptance::Refresh);
}

#[test]
fn threshold_of_two_is_met_by_two_of_three_trusted_keys() {
    let (a, b, c) = (signing_key(1), signing_key(2), signing_key(3));
    let accepted = policy(&[&a, &b, &c], 2)
        .evaluate(
            &recommender(),
            None,
            &signed(&manifest_value("1.0.0"), &[&c, &a]),
            NOW,
        )
        .unwrap();
    assert_eq!(accepted.kind, Acceptance::First);
}

#[test]
fn threshold_zero_still_requires_one_trusted_signature() {
    let (trusted, stranger) = (signing_key(1), signing_key(9));
    let p = policy(&[&trusted], 0);
    let value = manifest_value("1.0.0");
    assert!(p
        .evaluate(&recommender(), None, &signed(&value, &[&trusted]), NOW)
        .is_ok());
    let mut unsigned = envelope_over(PAYLOAD_TYPE, &bytes_of(&value), &[&stranger]);
    unsigned.signatures.clear();
    let code = update_code(p.evaluate(&recommender(), None, &unsigned.to_json(), NOW));
    assert_eq!(code, "manifest-unknown-key");
}

#[test]
fn signatures_by_untrusted_keys_beside_a_trusted_one_are_ignored() {
    let (trusted, stranger) = (signing_key(1), signing_key(9));
    let envelope = signed(&manifest_value("1.0.0"), &[&stranger, &trusted]);
    assert!(policy(&[&trusted], 1)
        .evaluate(&recommender(), None, &envelope, NOW)
        .is_ok());
}

#[test]
fn manifest_valid_until_the_second_before_expiry_is_accepted() {
    let key = signing_key(1);
    let envelope = signed(&manifest_value("1.0.0"), &[&key]);
    let expires_at = T0 + 30 * DAY;
    assert!(policy(&[&key], 1)
        .evaluate(&recommender(), None, &envelope, expires_at - 1)
        .is_ok());
}

#[test]
fn manifest_issued_slightly_in_the_future_is_accepted_within_clock_skew() {
    let key = signing_key(1);
    let envelope = signed(&manifest_value("1.0.0"), &[&key]);
    let mut p = policy(&[&key], 1);
    p.max_clock_skew_secs = 120;
    // The device's clock is 2 minutes behind the signer's: exactly the tolerated skew.
    assert!(p
        .evaluate(&recommender(), None, &envelope, T0 - 120)
        .is_ok());
}

#[test]
fn independently_signed_sample_envelope_is_accepted() {
    // Signed by Python's `cryptography` with the RFC 8032 TEST 1 key (make_sample_manifest.py).
    let vectors: Value = serde_json::from_str(DSSE_VECTORS).unwrap();
    let public = hex::decode(vectors["keys"][0]["public_key_hex"].as_str().unwrap()).unwrap();
    let key = VerifyingKey::from_bytes(&public.try_into().unwrap()).unwrap();
    let mut trusted = TrustedKeys::new();
    trusted.insert(key);
    let accepted = UpdatePolicy::new(trusted, 1)
        .evaluate(
            &recommender(),
            None,
            SAMPLE_ENVELOPE.as_bytes(),
            T0 + 10 * DAY,
        )
        .unwrap();
    assert_eq!(accepted.kind, Acceptance::First);
    // The verified payload is exactly the committed manifest file: nothing re-serialized.
    assert_eq!(
        accepted.manifest,
        Manifest::from_json(SAMPLE_MANIFEST.as_bytes()).unwrap()
    );
    let envelope = Envelope::from_json(SAMPLE_ENVELOPE.as_bytes()).unwrap();
    assert_eq!(
        envelope.payload_bytes().unwrap(),
        SAMPLE_MANIFEST.as_bytes()
    );
}

// ---------------------------------------------------------------------------------------------
// UpdatePolicy: every rejection, by code.

#[test]
fn tampered_payload_is_rejected_as_invalid_signature() {
    let key = signing_key(1);
    let mut envelope = envelope_over(PAYLOAD_TYPE, &bytes_of(&manifest_value("1.0.0")), &[&key]);
    let mut payload = envelope.payload_bytes().unwrap();
    // Change the version "1.0.0" to "2.0.0": still a valid manifest, no longer the signed one.
    let at = payload.windows(5).position(|w| w == b"1.0.0").unwrap();
    payload[at] = b'2';
    envelope.payload = BASE64.encode(&payload);
    let code =
        update_code(policy(&[&key], 1).evaluate(&recommender(), None, &envelope.to_json(), NOW));
    assert_eq!(code, "manifest-signature-invalid");
}

#[test]
fn signature_from_an_unknown_key_is_rejected() {
    let (trusted, stranger) = (signing_key(1), signing_key(9));
    let envelope = signed(&manifest_value("1.0.0"), &[&stranger]);
    let err = policy(&[&trusted], 1)
        .evaluate(&recommender(), None, &envelope, NOW)
        .unwrap_err();
    assert_eq!(err.code(), "manifest-unknown-key");
    assert_eq!(
        err,
        UpdateError::Signature(SignatureError::UnknownKey {
            keyids: vec![key_id(&stranger.verifying_key())]
        })
    );
}

#[test]
fn envelope_of_another_payload_type_is_rejected() {
    let key = signing_key(1);
    let envelope = envelope_over(
        "application/json",
        &bytes_of(&manifest_value("1.0.0")),
        &[&key],
    );
    let code =
        update_code(policy(&[&key], 1).evaluate(&recommender(), None, &envelope.to_json(), NOW));
    assert_eq!(code, "envelope-payload-type");
}

#[test]
fn threshold_of_two_with_one_signer_is_not_met() {
    let (a, b) = (signing_key(1), signing_key(2));
    let envelope = signed(&manifest_value("1.0.0"), &[&a]);
    let err = policy(&[&a, &b], 2)
        .evaluate(&recommender(), None, &envelope, NOW)
        .unwrap_err();
    assert_eq!(err.code(), "manifest-threshold-not-met");
    assert_eq!(
        err,
        UpdateError::Signature(SignatureError::ThresholdNotMet {
            valid: 1,
            threshold: 2
        })
    );
}

#[test]
fn the_same_key_signing_twice_counts_once_toward_the_threshold() {
    let (a, b) = (signing_key(1), signing_key(2));
    let envelope = signed(&manifest_value("1.0.0"), &[&a, &a]);
    let err = policy(&[&a, &b], 2)
        .evaluate(&recommender(), None, &envelope, NOW)
        .unwrap_err();
    assert_eq!(
        err,
        UpdateError::Signature(SignatureError::ThresholdNotMet {
            valid: 1,
            threshold: 2
        })
    );
}

#[test]
fn a_signature_relabelled_with_another_trusted_keyid_does_not_count() {
    let (a, b) = (signing_key(1), signing_key(2));
    let mut envelope = envelope_over(PAYLOAD_TYPE, &bytes_of(&manifest_value("1.0.0")), &[&a, &a]);
    envelope.signatures[1].keyid = key_id(&b.verifying_key());
    let code =
        update_code(policy(&[&a, &b], 2).evaluate(&recommender(), None, &envelope.to_json(), NOW));
    assert_eq!(code, "manifest-signature-invalid");
}

#[test]
fn small_order_trusted_key_cannot_be_used_to_forge_a_signature() {
    // The identity point as a "public key": with cofactorless, non-strict verification the
    // signature (R = identity, s = 0) verifies for every message.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let weak = VerifyingKey::from_bytes(&identity).unwrap();
    let mut trusted = TrustedKeys::new();
    trusted.insert(weak);
    let mut forged_sig = [0u8; 64];
    forged_sig[0] = 1;
    let envelope = Envelope {
        payload_type: PAYLOAD_TYPE.to_owned(),
        payload: BASE64.encode(bytes_of(&manifest_value("9.9.9"))),
        signatures: vec![tessera_core::dsse::EnvelopeSignature {
            keyid: key_id(&weak),
            sig: BASE64.encode(forged_sig),
        }],
    };
    let code = update_code(UpdatePolicy::new(trusted, 1).evaluate(
        &recommender(),
        None,
        &envelope.to_json(),
        NOW,
    ));
    assert_eq!(code, "manifest-signature-invalid");
}

#[test]
fn envelope_that_is_not_json_or_not_base64_is_malformed() {
    let key = signing_key(1);
    let p = policy(&[&key], 1);
    let mut bad_base64 = envelope_over(PAYLOAD_TYPE, b"{}", &[&key]);
    bad_base64.payload = "not base64!".into();
    for bytes in [
        b"".to_vec(),
        b"<html>502 Bad Gateway</html>".to_vec(),
        br#"{"payloadType": "x", "payload": "e30="}"#.to_vec(),
        bad_base64.to_json(),
    ] {
        let code = update_code(p.evaluate(&recommender(), None, &bytes, NOW));
        assert_eq!(
            code,
            "envelope-malformed",
            "{}",
            String::from_utf8_lossy(&bytes)
        );
    }
}

#[test]
fn signed_payload_that_is_not_a_manifest_is_malformed() {
    let key = signing_key(1);
    let envelope = envelope_over(PAYLOAD_TYPE, b"not json at all", &[&key]).to_json();
    let code = update_code(policy(&[&key], 1).evaluate(&recommender(), None, &envelope, NOW));
    assert_eq!(code, "manifest-malformed");
}

#[test]
fn signed_manifest_of_a_future_schema_is_unsupported() {
    let key = signing_key(1);
    let future = json!({ "schema": 2, "name": "recommender", "model": { "whatever": true } });
    let code = update_code(policy(&[&key], 1).evaluate(
        &recommender(),
        None,
        &signed(&future, &[&key]),
        NOW,
    ));
    assert_eq!(code, "manifest-schema-unsupported");
}

#[test]
fn valid_manifest_for_another_model_is_rejected() {
    let key = signing_key(1);
    let other = with(manifest_value("1.0.0"), "/name", json!("other-model"));
    let err = policy(&[&key], 1)
        .evaluate(&recommender(), None, &signed(&other, &[&key]), NOW)
        .unwrap_err();
    assert_eq!(err.code(), "manifest-name-mismatch");
    assert_eq!(
        err,
        UpdateError::NameMismatch {
            expected: recommender(),
            found: "other-model".parse().unwrap()
        }
    );
}

#[test]
fn previous_manifest_of_another_model_is_refused() {
    let key = signing_key(1);
    let previous = manifest(&with(
        manifest_value("5.0.0"),
        "/name",
        json!("other-model"),
    ));
    let envelope = signed(&manifest_value("1.0.0"), &[&key]);
    let code =
        update_code(policy(&[&key], 1).evaluate(&recommender(), Some(&previous), &envelope, NOW));
    assert_eq!(code, "previous-manifest-mismatch");
}

#[test]
fn manifest_is_expired_from_its_expiry_second_on() {
    let key = signing_key(1);
    let envelope = signed(&manifest_value("1.0.0"), &[&key]);
    let p = policy(&[&key], 1);
    for now in [T0 + 30 * DAY, T0 + 365 * DAY, u64::MAX] {
        assert_eq!(
            update_code(p.evaluate(&recommender(), None, &envelope, now)),
            "manifest-expired"
        );
    }
}

#[test]
fn manifest_issued_beyond_the_clock_skew_is_not_yet_valid() {
    let key = signing_key(1);
    let envelope = signed(&manifest_value("1.0.0"), &[&key]);
    let mut p = policy(&[&key], 1);
    p.max_clock_skew_secs = 120;
    let code = update_code(p.evaluate(&recommender(), None, &envelope, T0 - 121));
    assert_eq!(code, "manifest-not-yet-valid");
    p.max_clock_skew_secs = 0;
    assert_eq!(
        update_code(p.evaluate(&recommender(), None, &envelope, T0 - 1)),
        "manifest-not-yet-valid"
    );
    assert!(p.evaluate(&recommender(), None, &envelope, T0).is_ok());
}

#[test]
fn lower_version_than_the_accepted_one_is_a_rollback() {
    let key = signing_key(1);
    let p = policy(&[&key], 1);
    for (accepted, offered) in [
        ("1.1.0", "1.0.0"),
        ("2.0.0", "1.99.99"),
        ("1.0.0", "1.0.0-rc.9"),
    ] {
        let previous = manifest(&manifest_value(accepted));
        let envelope = signed(&manifest_value(offered), &[&key]);
        let err = p
            .evaluate(&recommender(), Some(&previous), &envelope, NOW)
            .unwrap_err();
        assert_eq!(err.code(), "manifest-rollback", "{accepted} -> {offered}");
    }
}

#[test]
fn same_version_with_different_shards_is_mix_and_match() {
    let key = signing_key(1);
    let previous = manifest(&manifest_value("1.0.0"));
    let swapped = with(
        manifest_value("1.0.0"),
        "/files/1",
        file_json("tokenizer/vocab.json", &[b"{\"b\": 1}"]),
    );
    let err = policy(&[&key], 1)
        .evaluate(
            &recommender(),
            Some(&previous),
            &signed(&swapped, &[&key]),
            NOW,
        )
        .unwrap_err();
    assert_eq!(err.code(), "manifest-mix-and-match");
}

#[test]
fn same_version_with_other_runtime_or_test_vectors_is_mix_and_match() {
    let key = signing_key(1);
    let previous = manifest(&manifest_value("1.0.0"));
    let p = policy(&[&key], 1);
    for changed in [
        with(manifest_value("1.0.0"), "/runtime/abi", json!(2)),
        with(
            manifest_value("1.0.0"),
            "/test_vectors/0/tolerance",
            json!(0.5),
        ),
    ] {
        let code = update_code(p.evaluate(
            &recommender(),
            Some(&previous),
            &signed(&changed, &[&key]),
            NOW,
        ));
        assert_eq!(code, "manifest-mix-and-match");
    }
}

#[test]
fn version_differing_only_in_build_metadata_is_mix_and_match_not_upgrade() {
    // SemVer: build metadata has no precedence, so 1.0.0+b is the same version as 1.0.0+a.
    let key = signing_key(1);
    let previous = manifest(&manifest_value("1.0.0+a"));
    let envelope = signed(&manifest_value("1.0.0+b"), &[&key]);
    let code =
        update_code(policy(&[&key], 1).evaluate(&recommender(), Some(&previous), &envelope, NOW));
    assert_eq!(code, "manifest-mix-and-match");
}

#[test]
fn older_resigning_of_the_accepted_version_is_stale() {
    let key = signing_key(1);
    let previous = manifest(&with(manifest_value("1.0.0"), "/issued_at", json!(T0 + 10)));
    let envelope = signed(&manifest_value("1.0.0"), &[&key]);
    let code =
        update_code(policy(&[&key], 1).evaluate(&recommender(), Some(&previous), &envelope, NOW));
    assert_eq!(code, "manifest-stale-reissue");
}

#[test]
fn checks_run_in_documented_order() {
    let (key, stranger) = (signing_key(1), signing_key(9));
    let p = policy(&[&key], 1);
    let previous = manifest(&manifest_value("3.0.0"));
    // Expired rollback for another model, signed by a stranger: the signature fails first.
    let everything_wrong = with(manifest_value("1.0.0"), "/name", json!("other-model"));
    let late = T0 + 31 * DAY;
    let check = |value: &Value, signer: &SigningKey| {
        update_code(p.evaluate(
            &recommender(),
            Some(&previous),
            &signed(value, &[signer]),
            late,
        ))
    };
    assert_eq!(check(&everything_wrong, &stranger), "manifest-unknown-key");
    assert_eq!(
        check(&with(everything_wrong.clone(), "/files", json!([])), &key),
        "manifest-no-files"
    );
    assert_eq!(check(&everything_wrong, &key), "manifest-name-mismatch");
    assert_eq!(check(&manifest_value("1.0.0"), &key), "manifest-expired");
    let in_time = signed(&manifest_value("1.0.0"), &[&key]);
    assert_eq!(
        update_code(p.evaluate(&recommender(), Some(&previous), &in_time, NOW)),
        "manifest-rollback"
    );
}

#[test]
fn every_update_rejection_has_a_distinct_code() {
    let name = recommender();
    let version: semver::Version = "1.0.0".parse().unwrap();
    let errors = [
        UpdateError::PreviousForOtherModel {
            expected: name.clone(),
            previous: name.clone(),
        },
        UpdateError::NameMismatch {
            expected: name.clone(),
            found: name.clone(),
        },
        UpdateError::Expired {
            name: name.clone(),
            version: version.clone(),
            expires_at: 1,
            now: 2,
        },
        UpdateError::NotYetValid {
            name: name.clone(),
            version: version.clone(),
            issued_at: 9,
            now: 1,
            max_skew: 0,
        },
        UpdateError::Rollback {
            name: name.clone(),
            accepted: version.clone(),
            offered: version.clone(),
        },
        UpdateError::MixAndMatch {
            name: name.clone(),
            version: version.clone(),
        },
        UpdateError::StaleReissue {
            name,
            version,
            accepted_issued_at: 2,
            offered_issued_at: 1,
        },
        UpdateError::Signature(SignatureError::MalformedEnvelope(String::new())),
        UpdateError::Signature(SignatureError::WrongPayloadType {
            found: String::new(),
            expected: String::new(),
        }),
        UpdateError::Signature(SignatureError::InvalidSignature {
            keyid: String::new(),
        }),
        UpdateError::Signature(SignatureError::UnknownKey { keyids: vec![] }),
        UpdateError::Signature(SignatureError::ThresholdNotMet {
            valid: 0,
            threshold: 1,
        }),
        UpdateError::Manifest(ManifestError::Malformed(String::new())),
        UpdateError::Manifest(ManifestError::UnsupportedSchema { found: 2 }),
        UpdateError::Manifest(ManifestError::EmptyValidity {
            issued_at: 1,
            expires_at: 1,
        }),
        UpdateError::Manifest(ManifestError::NoFiles),
        UpdateError::Manifest(ManifestError::DuplicatePath(String::new())),
        UpdateError::Manifest(ManifestError::ShardSizes {
            path: String::new(),
            size: 1,
            shard_total: 0,
        }),
        UpdateError::Manifest(ManifestError::ShardSizeConflict {
            sha256: Sha256Digest::of(b""),
            first: 1,
            second: 2,
        }),
        UpdateError::Manifest(ManifestError::InvalidTensor {
            vector: String::new(),
            tensor: String::new(),
            detail: String::new(),
        }),
    ];
    let codes: std::collections::BTreeSet<&str> = errors.iter().map(ErrorCode::code).collect();
    assert_eq!(codes.len(), errors.len(), "{codes:?}");
    for code in codes {
        let kebab = !code.is_empty()
            && code
                .split('-')
                .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()));
        assert!(kebab, "{code} is not kebab-case");
    }
}

// ---------------------------------------------------------------------------------------------
// ManifestError: a publisher's mistakes, data-driven over edits of a valid manifest.

#[test]
fn inconsistent_manifests_are_rejected_by_code() {
    let tiny = |path: &str| file_json(path, &[b"abc"]);
    let mut oversized = file_json("big.bin", &[b"x"]);
    oversized["size"] = json!(u64::MAX);
    oversized["shards"] = json!([
        { "sha256": Sha256Digest::of(b"a"), "size": u64::MAX },
        { "sha256": Sha256Digest::of(b"b"), "size": 1 },
    ]);
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "validity window of zero length",
            with(manifest_value("1.0.0"), "/expires_at", json!(T0)),
            "manifest-validity-empty",
        ),
        (
            "expiry before issue",
            with(manifest_value("1.0.0"), "/expires_at", json!(T0 - 1)),
            "manifest-validity-empty",
        ),
        (
            "no files",
            with(manifest_value("1.0.0"), "/files", json!([])),
            "manifest-no-files",
        ),
        (
            "same path twice",
            with(
                manifest_value("1.0.0"),
                "/files",
                json!([tiny("a.bin"), tiny("a.bin")]),
            ),
            "manifest-duplicate-path",
        ),
        (
            "shards short of the file size",
            with(manifest_value("1.0.0"), "/files/0/size", json!(33)),
            "manifest-shard-sizes",
        ),
        (
            "shards past the file size",
            with(manifest_value("1.0.0"), "/files/0/size", json!(31)),
            "manifest-shard-sizes",
        ),
        (
            "no shards for a non-empty file",
            with(manifest_value("1.0.0"), "/files/0/shards", json!([])),
            "manifest-shard-sizes",
        ),
        (
            "an empty shard",
            with(
                manifest_value("1.0.0"),
                "/files/1/shards",
                json!([
                    { "sha256": Sha256Digest::of(b"{\"a\": 0}"), "size": 8 },
                    { "sha256": Sha256Digest::of(b""), "size": 0 },
                ]),
            ),
            "manifest-shard-sizes",
        ),
        (
            "shard sizes overflowing u64",
            with(manifest_value("1.0.0"), "/files", json!([oversized])),
            "manifest-shard-sizes",
        ),
        (
            "one shard digest with two sizes",
            with(
                manifest_value("1.0.0"),
                "/files",
                json!([
                    { "path": "a.bin", "size": 3, "sha256": Sha256Digest::of(b"abc"), "shards": [{ "sha256": Sha256Digest::of(b"abc"), "size": 3 }] },
                    { "path": "b.bin", "size": 4, "sha256": Sha256Digest::of(b"abcd"), "shards": [{ "sha256": Sha256Digest::of(b"abc"), "size": 4 }] },
                ]),
            ),
            "manifest-shard-conflict",
        ),
        (
            "tensor data shorter than its shape",
            with(
                manifest_value("1.0.0"),
                "/test_vectors/0/inputs/x/shape",
                json!([2, 2]),
            ),
            "manifest-invalid-tensor",
        ),
        (
            "tensor shape overflowing",
            with(
                manifest_value("1.0.0"),
                "/test_vectors/0/inputs/x/shape",
                json!([u64::MAX, 2]),
            ),
            "manifest-invalid-tensor",
        ),
        (
            "fraction in an int64 tensor",
            with(
                manifest_value("1.0.0"),
                "/test_vectors/0/outputs/y/data",
                json!([2.5]),
            ),
            "manifest-invalid-tensor",
        ),
        (
            "int32 value out of range",
            with(
                with(
                    manifest_value("1.0.0"),
                    "/test_vectors/0/outputs/y/dtype",
                    json!("int32"),
                ),
                "/test_vectors/0/outputs/y/data",
                json!([3e9]),
            ),
            "manifest-invalid-tensor",
        ),
        (
            "float32 value out of range",
            with(
                manifest_value("1.0.0"),
                "/test_vectors/0/inputs/x/data",
                json!([0.5, 1e39]),
            ),
            "manifest-invalid-tensor",
        ),
        (
            "negative tolerance",
            with(
                manifest_value("1.0.0"),
                "/test_vectors/0/tolerance",
                json!(-0.1),
            ),
            "manifest-invalid-tensor",
        ),
        (
            "schema 2",
            with(manifest_value("1.0.0"), "/schema", json!(2)),
            "manifest-schema-unsupported",
        ),
        (
            "schema 0",
            with(manifest_value("1.0.0"), "/schema", json!(0)),
            "manifest-schema-unsupported",
        ),
        (
            "schema missing",
            remove(manifest_value("1.0.0"), "schema"),
            "manifest-malformed",
        ),
        (
            "schema as a string",
            with(manifest_value("1.0.0"), "/schema", json!("1")),
            "manifest-malformed",
        ),
        (
            "expires_at missing",
            remove(manifest_value("1.0.0"), "expires_at"),
            "manifest-malformed",
        ),
        (
            "negative timestamp",
            with(manifest_value("1.0.0"), "/issued_at", json!(-1)),
            "manifest-malformed",
        ),
        (
            "version not semver",
            with(manifest_value("1.0.0"), "/version", json!("1.0")),
            "manifest-malformed",
        ),
        (
            "uppercase digest",
            with(
                manifest_value("1.0.0"),
                "/files/0/sha256",
                json!("AB".repeat(32)),
            ),
            "manifest-malformed",
        ),
        (
            "unknown dtype",
            with(
                manifest_value("1.0.0"),
                "/test_vectors/0/inputs/x/dtype",
                json!("float16"),
            ),
            "manifest-malformed",
        ),
        (
            "model name escaping the directory",
            with(manifest_value("1.0.0"), "/name", json!("../recommender")),
            "manifest-malformed",
        ),
        (
            "uppercase model name",
            with(manifest_value("1.0.0"), "/name", json!("Recommender")),
            "manifest-malformed",
        ),
        (
            "file path with ..",
            with(
                manifest_value("1.0.0"),
                "/files/0/path",
                json!("../../etc/passwd"),
            ),
            "manifest-malformed",
        ),
        (
            "absolute file path",
            with(
                manifest_value("1.0.0"),
                "/files/0/path",
                json!("/etc/passwd"),
            ),
            "manifest-malformed",
        ),
        (
            "backslash file path",
            with(manifest_value("1.0.0"), "/files/0/path", json!("a\\b")),
            "manifest-malformed",
        ),
        (
            "percent-encoded dots",
            with(manifest_value("1.0.0"), "/files/0/path", json!("%2e%2e/x")),
            "manifest-malformed",
        ),
        (
            "empty path segment",
            with(manifest_value("1.0.0"), "/files/0/path", json!("a//b")),
            "manifest-malformed",
        ),
        (
            "file shadowing the manifest",
            with(
                manifest_value("1.0.0"),
                "/files/0/path",
                json!("manifest.json"),
            ),
            "manifest-malformed",
        ),
        (
            "file inside versions/",
            with(
                manifest_value("1.0.0"),
                "/files/0/path",
                json!("versions/1.0.0.json"),
            ),
            "manifest-malformed",
        ),
    ];
    for (scenario, value, code) in cases {
        let err = Manifest::from_json(&bytes_of(&value)).expect_err(scenario);
        assert_eq!(err.code(), code, "{scenario}: {err}");
    }
}

fn remove(mut value: Value, field: &str) -> Value {
    value.as_object_mut().unwrap().remove(field);
    value
}

#[test]
fn bytes_that_are_not_json_are_malformed_manifests() {
    for bytes in [
        &b""[..],
        b"{",
        b"[]",
        b"null",
        b"\xff\xfe",
        b"{\"schema\": 1}",
    ] {
        let err = Manifest::from_json(bytes).unwrap_err();
        assert_eq!(
            err.code(),
            "manifest-malformed",
            "{}",
            String::from_utf8_lossy(bytes)
        );
    }
}

#[test]
fn empty_file_without_shards_is_allowed() {
    let value = with(
        manifest_value("1.0.0"),
        "/files/1",
        json!({
        "path": "empty.txt", "size": 0, "sha256": Sha256Digest::of(b""), "shards": [] }),
    );
    assert!(Manifest::from_json(&bytes_of(&value)).is_ok());
}

#[test]
fn manifests_built_in_code_are_checked_too() {
    let mut m = manifest(&manifest_value("1.0.0"));
    m.test_vectors[0].inputs.get_mut("x").unwrap().data[0] = f64::NAN;
    assert_eq!(m.check().unwrap_err().code(), "manifest-invalid-tensor");
    let mut m = manifest(&manifest_value("1.0.0"));
    m.test_vectors[0].tolerance = f64::INFINITY;
    assert_eq!(m.check().unwrap_err().code(), "manifest-invalid-tensor");
    let mut m = manifest(&manifest_value("1.0.0"));
    m.schema = 7;
    assert_eq!(m.check().unwrap_err().code(), "manifest-schema-unsupported");
}

#[test]
fn shard_offsets_are_running_sums_of_shard_sizes() {
    let m = manifest(&manifest_value("1.0.0"));
    let offsets: Vec<u64> = m.files[0]
        .shard_offsets()
        .map(|(offset, _)| offset)
        .collect();
    assert_eq!(offsets, vec![0, 16]);
    assert_eq!(m.unique_shard_bytes(), 16 + 16 + 8);
}

// ---------------------------------------------------------------------------------------------
// The committed sample manifest and the JSON field names the README documents.

#[test]
fn committed_sample_manifest_parses() {
    let m = Manifest::from_json(SAMPLE_MANIFEST.as_bytes()).unwrap();
    assert_eq!(m.name.as_str(), "recommender");
    assert_eq!(m.version, "1.2.0".parse().unwrap());
    assert_eq!(m.files.len(), 2);
    assert_eq!(m.unique_shard_bytes(), 150 + 25);
    let vocab = m.file("tokenizer/vocab.json").unwrap();
    assert_eq!(
        vocab.sha256,
        Sha256Digest::of(b"{\"hello\": 0, \"world\": 1}\n")
    );
    // What we write, we read back identically.
    assert_eq!(Manifest::from_json(&m.to_json()).unwrap(), m);
}

#[test]
fn manifest_json_uses_the_documented_field_names() {
    let m = Manifest::from_json(SAMPLE_MANIFEST.as_bytes()).unwrap();
    let value: Value = serde_json::from_slice(&m.to_json()).unwrap();
    let keys = |v: &Value| -> Vec<String> {
        let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };
    assert_eq!(
        keys(&value),
        [
            "expires_at",
            "files",
            "issued_at",
            "name",
            "runtime",
            "schema",
            "test_vectors",
            "version"
        ]
    );
    assert_eq!(keys(&value["runtime"]), ["abi", "engine", "ops"]);
    assert_eq!(
        keys(&value["files"][0]),
        ["path", "sha256", "shards", "size"]
    );
    assert_eq!(keys(&value["files"][0]["shards"][0]), ["sha256", "size"]);
    assert_eq!(
        keys(&value["test_vectors"][0]),
        ["inputs", "name", "outputs", "tolerance"]
    );
    assert_eq!(
        keys(&value["test_vectors"][0]["inputs"]["input"]),
        ["data", "dtype", "shape"]
    );
    assert_eq!(
        value["test_vectors"][0]["inputs"]["input"]["dtype"],
        "float32"
    );

    let envelope: Value =
        serde_json::from_slice(&Envelope::sign(PAYLOAD_TYPE, b"{}", &signing_key(1)).to_json())
            .unwrap();
    assert_eq!(keys(&envelope), ["payload", "payloadType", "signatures"]);
    assert_eq!(keys(&envelope["signatures"][0]), ["keyid", "sig"]);

    let key_file: Value =
        serde_json::to_value(PublicKeyFile::new(&signing_key(1).verifying_key())).unwrap();
    assert_eq!(keys(&key_file), ["algorithm", "keyid", "publicKey"]);
}

// ---------------------------------------------------------------------------------------------
// DSSE known-answer vectors (made by data/make_dsse_vectors.py with Python's `cryptography`).

fn hex_field(v: &Value, field: &str) -> Vec<u8> {
    hex::decode(v[field].as_str().unwrap()).unwrap()
}

fn vector_keys(doc: &Value) -> Vec<(String, SigningKey)> {
    doc["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            let seed: [u8; 32] = hex_field(k, "seed_hex").try_into().unwrap();
            (
                k["name"].as_str().unwrap().to_owned(),
                SigningKey::from_bytes(&seed),
            )
        })
        .collect()
}

#[test]
fn dsse_vectors_keys_have_the_recorded_public_keys_and_ids() {
    let doc: Value = serde_json::from_str(DSSE_VECTORS).unwrap();
    let keys = vector_keys(&doc);
    assert_eq!(keys.len(), 2);
    for (k, (_, signing)) in doc["keys"].as_array().unwrap().iter().zip(&keys) {
        let public = signing.verifying_key();
        assert_eq!(public.as_bytes().to_vec(), hex_field(k, "public_key_hex"));
        assert_eq!(key_id(&public), k["keyid"].as_str().unwrap());
        let file = PublicKeyFile::new(&public);
        assert_eq!(file.public_key, k["public_key_b64"].as_str().unwrap());
        assert_eq!(file.verifying_key().unwrap(), public);
    }
}

#[test]
fn dsse_vectors_reproduce_pae_signatures_and_envelopes_byte_for_byte() {
    let doc: Value = serde_json::from_str(DSSE_VECTORS).unwrap();
    let keys = vector_keys(&doc);
    let key = |name: &str| &keys.iter().find(|(n, _)| n == name).unwrap().1;
    let vectors = doc["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 6);
    for v in vectors {
        let name = v["name"].as_str().unwrap();
        let payload_type = v["payload_type"].as_str().unwrap();
        let payload = hex_field(v, "payload_hex");
        assert_eq!(
            pae(payload_type, &payload),
            hex_field(v, "pae_hex"),
            "{name}: PAE"
        );

        let sigs = v["signatures"].as_array().unwrap();
        let signers: Vec<&SigningKey> = sigs
            .iter()
            .map(|s| key(s["key"].as_str().unwrap()))
            .collect();
        let ours = envelope_over(payload_type, &payload, &signers);
        assert_eq!(ours.payload_type, payload_type, "{name}");
        assert_eq!(
            ours.payload,
            v["payload_b64"].as_str().unwrap(),
            "{name}: payload"
        );
        assert_eq!(ours.signatures.len(), sigs.len(), "{name}");
        for (mine, theirs) in ours.signatures.iter().zip(sigs) {
            assert_eq!(
                mine.keyid,
                theirs["keyid"].as_str().unwrap(),
                "{name}: keyid"
            );
            assert_eq!(
                mine.sig,
                theirs["sig_b64"].as_str().unwrap(),
                "{name}: signature"
            );
            assert_eq!(
                BASE64.decode(&mine.sig).unwrap(),
                hex_field(theirs, "sig_hex"),
                "{name}"
            );
        }

        // Their envelope, as JSON, verifies with our code at the full threshold.
        let theirs = json!({
            "payloadType": payload_type,
            "payload": v["payload_b64"],
            "signatures": sigs.iter().map(|s| json!({ "keyid": s["keyid"], "sig": s["sig_b64"] })).collect::<Vec<_>>(),
        });
        let envelope = Envelope::from_json(&bytes_of(&theirs)).unwrap();
        let trusted = trusting(&signers);
        assert_eq!(
            envelope.verify(payload_type, &trusted, sigs.len()).unwrap(),
            payload,
            "{name}: verify"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// SignatureError directly through Envelope::verify.

#[test]
fn envelope_verify_reports_each_failure_by_code() {
    let (a, b, stranger) = (signing_key(1), signing_key(2), signing_key(9));
    let trusted = trusting(&[&a, &b]);
    let good = Envelope::sign("t", b"payload", &a);
    assert_eq!(good.verify("t", &trusted, 1).unwrap(), b"payload");

    let mut bad_sig_encoding = good.clone();
    bad_sig_encoding.signatures[0].sig = "AAAA".into(); // base64 of 3 bytes, not 64
    let mut tampered = good.clone();
    tampered.payload = BASE64.encode(b"paylaod");
    let cases = [
        (good.clone(), "u", 1, "envelope-payload-type"),
        (good.clone(), "t", 2, "manifest-threshold-not-met"),
        (
            Envelope::sign("t", b"payload", &stranger),
            "t",
            1,
            "manifest-unknown-key",
        ),
        (bad_sig_encoding, "t", 1, "manifest-signature-invalid"),
        (tampered, "t", 1, "manifest-signature-invalid"),
    ];
    for (envelope, expected_type, threshold, code) in cases {
        let err = envelope
            .verify(expected_type, &trusted, threshold)
            .unwrap_err();
        assert_eq!(err.code(), code);
    }
    assert_eq!(
        Envelope::from_json(b"[1, 2]").unwrap_err().code(),
        "envelope-malformed"
    );
}

#[test]
fn envelope_round_trips_through_json() {
    let mut envelope = Envelope::sign(PAYLOAD_TYPE, b"\x00binary\xff", &signing_key(1));
    envelope.cosign(&signing_key(2)).unwrap();
    let parsed = Envelope::from_json(&envelope.to_json()).unwrap();
    assert_eq!(parsed, envelope);
    assert_eq!(parsed.payload_bytes().unwrap(), b"\x00binary\xff");
}

// ---------------------------------------------------------------------------------------------
// KeyError: public key files a user might paste into a configuration.

#[test]
fn unusable_public_key_files_are_rejected_by_code() {
    let good = PublicKeyFile::new(&signing_key(1).verifying_key());
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let weak_id = Sha256Digest::of(&identity).to_hex();
    let edit = |f: &dyn Fn(&mut PublicKeyFile)| {
        let mut file = good.clone();
        f(&mut file);
        file
    };
    let cases = [
        (
            "another algorithm",
            edit(&|f| f.algorithm = "ecdsa-p256".into()),
            "key-malformed",
        ),
        (
            "not base64",
            edit(&|f| f.public_key = "%%%".into()),
            "key-malformed",
        ),
        (
            "31 bytes",
            edit(&|f| f.public_key = BASE64.encode([7u8; 31])),
            "key-malformed",
        ),
        (
            "33 bytes",
            edit(&|f| f.public_key = BASE64.encode([7u8; 33])),
            "key-malformed",
        ),
        (
            "not a curve point",
            edit(&|f| f.public_key = BASE64.encode(not_on_curve())),
            "key-malformed",
        ),
        (
            "small-order key",
            edit(&|f| {
                f.public_key = BASE64.encode(identity);
                f.keyid = weak_id.clone();
            }),
            "key-malformed",
        ),
        (
            "id of another key",
            edit(&|f| f.keyid = key_id(&signing_key(2).verifying_key())),
            "key-id-mismatch",
        ),
        (
            "id in uppercase",
            edit(&|f| f.keyid = f.keyid.to_uppercase()),
            "key-id-mismatch",
        ),
    ];
    for (scenario, file, code) in cases {
        let err = file.verifying_key().expect_err(scenario);
        assert_eq!(err.code(), code, "{scenario}: {err}");
    }
    let err = TrustedKeys::from_files([&good, &edit(&|f| f.algorithm = "rsa".into())]).unwrap_err();
    assert_eq!(
        err,
        KeyError::Malformed("algorithm \"rsa\" (supported: \"ed25519\", \"ecdsa-p256\")".into())
    );
}

/// A 32-byte string that is not the encoding of any Edwards point (y = 2 has no x).
fn not_on_curve() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    bytes[0] = 2;
    assert!(
        VerifyingKey::from_bytes(&bytes).is_err(),
        "y = 2 should not decompress"
    );
    bytes
}

#[test]
fn key_files_build_the_trusted_set() {
    let files: Vec<PublicKeyFile> = (1..=3)
        .map(|s| PublicKeyFile::new(&signing_key(s).verifying_key()))
        .collect();
    let parsed: PublicKeyFile =
        serde_json::from_slice(&serde_json::to_vec(&files[0]).unwrap()).unwrap();
    assert_eq!(parsed, files[0]);
    let trusted = TrustedKeys::from_files(&files).unwrap();
    assert_eq!(trusted.len(), 3);
    assert!(trusted.get(&files[1].keyid).is_some());
    assert!(TrustedKeys::new().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Layout: names, paths and ArtifactPath::parse, every variant and every rejection.

#[test]
fn artifact_paths_parse_into_each_variant_and_back() {
    let digest = Sha256Digest::of(b"shard");
    let shard = format!("_shards/{digest}");
    let cases = [
        (shard.as_str(), ArtifactPath::Shard(digest)),
        (
            "recommender/manifest.json",
            ArtifactPath::Manifest(recommender()),
        ),
        (
            "recommender/versions/1.2.0.json",
            ArtifactPath::VersionedManifest(recommender(), "1.2.0".parse().unwrap()),
        ),
        (
            "recommender/versions/2.0.0-rc.1+build.5.json",
            ArtifactPath::VersionedManifest(recommender(), "2.0.0-rc.1+build.5".parse().unwrap()),
        ),
        (
            "recommender/model.onnx",
            ArtifactPath::LogicalFile(recommender(), "model.onnx".parse().unwrap()),
        ),
        (
            "recommender/tokenizer/Vocab-v2.json",
            ArtifactPath::LogicalFile(recommender(), "tokenizer/Vocab-v2.json".parse().unwrap()),
        ),
        (
            "recommender/sub/manifest.json",
            ArtifactPath::LogicalFile(recommender(), "sub/manifest.json".parse().unwrap()),
        ),
        (
            "recommender/versionsX/a",
            ArtifactPath::LogicalFile(recommender(), "versionsX/a".parse().unwrap()),
        ),
        (
            "m.v2_x-1/weights.bin",
            ArtifactPath::LogicalFile("m.v2_x-1".parse().unwrap(), "weights.bin".parse().unwrap()),
        ),
    ];
    for (path, expected) in cases {
        let parsed = ArtifactPath::parse(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(parsed, expected, "{path}");
        assert_eq!(parsed.to_path(), path);
    }
}

#[test]
fn artifact_paths_that_name_nothing_or_escape_are_rejected_by_code() {
    let upper_digest = format!("_shards/{}", "AB".repeat(32));
    let digest_with_tail = format!("_shards/{}/x", Sha256Digest::of(b"x"));
    let cases = [
        ("", "unknown-artifact-path"),
        ("recommender", "unknown-artifact-path"),
        ("recommender\\model.onnx", "unknown-artifact-path"),
        ("_shards/", "unknown-artifact-path"),
        ("_shards/abc", "unknown-artifact-path"),
        (upper_digest.as_str(), "unknown-artifact-path"),
        (digest_with_tail.as_str(), "unknown-artifact-path"),
        ("recommender/versions/1.2.json", "unknown-artifact-path"),
        ("recommender/versions/01.2.0.json", "unknown-artifact-path"),
        ("recommender/versions/latest.json", "unknown-artifact-path"),
        ("recommender/versions/1.2.0", "unknown-artifact-path"),
        ("recommender/versions/1.2.0.json/x", "unknown-artifact-path"),
        (
            "recommender/versions/../manifest.json",
            "unknown-artifact-path",
        ),
        ("../etc/passwd", "invalid-model-name"),
        ("/abs/path", "invalid-model-name"),
        ("%2e%2e/model.onnx", "invalid-model-name"),
        ("Recommender/model.onnx", "invalid-model-name"),
        ("-rec/model.onnx", "invalid-model-name"),
        (".rec/model.onnx", "invalid-model-name"),
        ("_rec/model.onnx", "invalid-model-name"),
        ("recommender/", "invalid-file-path"),
        ("recommender/versions", "invalid-file-path"),
        ("recommender/manifest.json/x", "invalid-file-path"),
        ("recommender/../secret", "invalid-file-path"),
        ("recommender/a/../../secret", "invalid-file-path"),
        ("recommender/./model.onnx", "invalid-file-path"),
        ("recommender//etc/passwd", "invalid-file-path"),
        ("recommender/a//b", "invalid-file-path"),
        ("recommender/a/", "invalid-file-path"),
        ("recommender/a\\b", "invalid-file-path"),
        ("recommender/..\\..\\x", "invalid-file-path"),
        ("recommender/%2e%2e/x", "invalid-file-path"),
        ("recommender/.hidden", "invalid-file-path"),
        ("recommender/a b", "invalid-file-path"),
        ("recommender/caf\u{e9}.bin", "invalid-file-path"),
        ("recommender/a\0b", "invalid-file-path"),
        ("recommender/model.onnx?x=1", "invalid-file-path"),
    ];
    for (path, code) in cases {
        let err = ArtifactPath::parse(path).expect_err(path);
        assert_eq!(err.code(), code, "{path:?}: {err}");
    }
}

#[test]
fn model_names_are_one_lowercase_segment_of_at_most_64_characters() {
    for good in ["a", "0", "recommender", "bert-base_v1.2", &"a".repeat(64)] {
        assert!(good.parse::<ModelName>().is_ok(), "{good}");
    }
    let too_long = "a".repeat(65);
    for bad in [
        "",
        ".",
        "..",
        "-a",
        "_a",
        ".a",
        "A",
        "aB",
        "a/b",
        "a\\b",
        "a b",
        "%2e",
        "\u{e9}",
        too_long.as_str(),
    ] {
        let err = bad.parse::<ModelName>().unwrap_err();
        assert_eq!(err.code(), "invalid-model-name", "{bad:?}");
    }
}

#[test]
fn logical_paths_are_safe_relative_paths_of_at_most_255_bytes() {
    let longest = format!("{}/{}", "a".repeat(127), "b".repeat(127));
    for good in [
        "model.onnx",
        "Model.ONNX",
        "tokenizer/vocab.json",
        "a/b/c/d",
        "sub/manifest.json",
        longest.as_str(),
    ] {
        assert!(good.parse::<LogicalPath>().is_ok(), "{good}");
    }
    let too_long = format!("{longest}x");
    for bad in [
        "",
        "/",
        "/abs",
        "a/",
        "a//b",
        "..",
        "../a",
        "a/..",
        ".",
        "./a",
        "a\\b",
        "%2e%2e",
        ".env",
        "manifest.json",
        "manifest.json/x",
        "versions",
        "versions/1.0.0.json",
        "a:b",
        too_long.as_str(),
    ] {
        let err = bad.parse::<LogicalPath>().unwrap_err();
        assert_eq!(err.code(), "invalid-file-path", "{bad:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// DigestParseError.

#[test]
fn digests_must_be_64_lowercase_hex_characters() {
    let hex = Sha256Digest::of(b"x").to_hex();
    assert_eq!(hex.parse::<Sha256Digest>().unwrap(), Sha256Digest::of(b"x"));
    let prefixed = format!("sha256:{hex}");
    let spaced = format!(" {hex}");
    let long = format!("{hex}0");
    for bad in [
        &hex[..63],
        long.as_str(),
        &hex.to_uppercase(),
        &prefixed,
        &spaced,
        &"g".repeat(64),
        "",
    ] {
        let err = bad.parse::<Sha256Digest>().unwrap_err();
        assert_eq!(err.code(), "digest-malformed", "{bad:?}");
    }
    // A 64-byte string with multi-byte characters must not panic on slicing either.
    let err = "\u{e9}".repeat(32).parse::<Sha256Digest>().unwrap_err();
    assert_eq!(err.code(), "digest-malformed");
}

// ---------------------------------------------------------------------------------------------
// Properties (native only: proptest does not run on wasm32).

#[cfg(not(target_arch = "wasm32"))]
mod properties {
    use proptest::prelude::*;

    use super::*;

    /// Paths built from the segments that matter to the layout, valid and hostile alike.
    fn artifact_path_like() -> impl Strategy<Value = String> {
        // SHA-256 of "abc".
        const DIGEST: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let head = prop::sample::select(vec![
            "_shards",
            "recommender",
            "m.v2",
            "Rec",
            "..",
            ".",
            "%2e",
            "",
        ]);
        let segment = prop::sample::select(vec![
            "manifest.json",
            "versions",
            "1.0.0.json",
            "1.0.0-rc.1.json",
            "01.0.0.json",
            "a",
            "B.bin",
            "..",
            ".",
            "%2e",
            "a\\b",
            "",
            "a b",
            DIGEST,
        ]);
        (head, prop::collection::vec(segment, 0..4)).prop_map(|(head, rest)| {
            std::iter::once(head)
                .chain(rest)
                .collect::<Vec<_>>()
                .join("/")
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

        #[test]
        fn any_payload_signed_verifies_to_the_same_bytes(
            seed in any::<[u8; 32]>(),
            payload in proptest::collection::vec(any::<u8>(), 0..512),
        ) {
            let key = SigningKey::from_bytes(&seed);
            let envelope = Envelope::from_json(&Envelope::sign(PAYLOAD_TYPE, &payload, &key).to_json()).unwrap();
            let verified = envelope.verify(PAYLOAD_TYPE, &trusting(&[&key]), 1).unwrap();
            prop_assert_eq!(verified, payload);
        }

        #[test]
        fn any_single_byte_change_of_the_payload_fails_verification(
            payload in proptest::collection::vec(any::<u8>(), 1..256),
            at in any::<prop::sample::Index>(),
            xor in 1u8..=255,
        ) {
            let key = signing_key(1);
            let mut envelope = Envelope::sign(PAYLOAD_TYPE, &payload, &key);
            let mut changed = payload.clone();
            changed[at.index(payload.len())] ^= xor;
            envelope.payload = BASE64.encode(&changed);
            let err = envelope.verify(PAYLOAD_TYPE, &trusting(&[&key]), 1).unwrap_err();
            prop_assert_eq!(err.code(), "manifest-signature-invalid");
        }

        #[test]
        fn any_single_byte_change_of_the_signature_fails_verification(
            payload in proptest::collection::vec(any::<u8>(), 0..256),
            at in 0usize..64,
            xor in 1u8..=255,
        ) {
            let key = signing_key(1);
            let mut envelope = Envelope::sign(PAYLOAD_TYPE, &payload, &key);
            let mut sig = BASE64.decode(&envelope.signatures[0].sig).unwrap();
            sig[at] ^= xor;
            envelope.signatures[0].sig = BASE64.encode(&sig);
            let err = envelope.verify(PAYLOAD_TYPE, &trusting(&[&key]), 1).unwrap_err();
            prop_assert_eq!(err.code(), "manifest-signature-invalid");
        }

        #[test]
        fn arbitrary_envelope_bytes_are_rejected_without_panicking(
            bytes in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let key = signing_key(1);
            prop_assert!(policy(&[&key], 1).evaluate(&recommender(), None, &bytes, NOW).is_err());
        }

        #[test]
        fn corrupted_sample_manifest_never_panics_and_any_accepted_one_is_consistent(
            at in any::<prop::sample::Index>(),
            byte in any::<u8>(),
        ) {
            let mut bytes = SAMPLE_MANIFEST.as_bytes().to_vec();
            let i = at.index(bytes.len());
            bytes[i] = byte;
            if let Ok(m) = Manifest::from_json(&bytes) {
                prop_assert!(m.check().is_ok());
                for file in &m.files {
                    prop_assert_eq!(file.shards.iter().map(|s| s.size).sum::<u64>(), file.size);
                }
            }
        }

        #[test]
        fn artifact_paths_that_parse_are_canonical_and_stay_inside(path in artifact_path_like()) {
            if let Ok(parsed) = ArtifactPath::parse(&path) {
                prop_assert_eq!(parsed.to_path(), path.clone());
                prop_assert!(!path.starts_with('/') && !path.contains('\\') && !path.contains('%'));
                prop_assert!(path.split('/').all(|seg| !seg.is_empty() && seg != "." && seg != ".."));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The entry point: one rule for which file runs.

#[test]
fn a_declared_entry_point_is_the_model_file_even_beside_other_graphs() {
    let mut value = manifest_value("1.0.0");
    value["files"]
        .as_array_mut()
        .unwrap()
        .push(file_json("variants/model_q8.onnx", &[b"q8 weights"]));
    value["runtime"]["entry"] = json!("variants/model_q8.onnx");
    let m = manifest(&value);
    assert_eq!(m.entry().unwrap().path.as_str(), "variants/model_q8.onnx");
    assert_eq!(
        m.runtime.entry.as_ref().map(LogicalPath::as_str),
        Some("variants/model_q8.onnx")
    );
}

#[test]
fn a_manifest_without_entry_runs_its_only_onnx_file() {
    let m = manifest(&manifest_value("1.0.0"));
    assert_eq!(m.runtime.entry, None, "packed before runtime.entry existed");
    assert_eq!(m.entry().unwrap().path.as_str(), "model.onnx");
}

#[test]
fn an_unresolvable_entry_point_refuses_the_whole_manifest() {
    let two = {
        let mut value = manifest_value("1.0.0");
        value["files"]
            .as_array_mut()
            .unwrap()
            .push(file_json("model_fp16.onnx", &[b"fp16"]));
        value
    };
    let none = with(
        manifest_value("1.0.0"),
        "/files",
        json!([file_json("weights.bin", &[b"w"])]),
    );
    let mut undeclared = manifest_value("1.0.0");
    undeclared["runtime"]["entry"] = json!("absent.onnx");
    let key = signing_key(1);
    for (value, code) in [
        (two, "manifest-entry-ambiguous"),
        (none, "manifest-entry-missing"),
        (undeclared, "manifest-entry-missing"),
    ] {
        let parsed = Manifest::from_json(&bytes_of(&value));
        assert_eq!(parsed.unwrap_err().code(), code);
        let verdict =
            policy(&[&key], 1).evaluate(&recommender(), None, &signed(&value, &[&key]), NOW);
        assert_eq!(
            update_code(verdict),
            code,
            "through the acceptance path too"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// reopen / verify_signed: a kept manifest is re-verified without the clock.

#[test]
fn reopen_verifies_signature_and_name_but_not_the_clock() {
    let key = signing_key(1);
    let other = signing_key(2);
    let p = policy(&[&key], 1);
    let expired = with(manifest_value("1.0.0"), "/expires_at", json!(T0 + 1));
    let reopened = p
        .reopen(&recommender(), &signed(&expired, &[&key]))
        .unwrap();
    assert_eq!(
        reopened.version.to_string(),
        "1.0.0",
        "accepted earlier, kept after expiry"
    );
    assert_eq!(
        update_code(p.reopen(&recommender(), &signed(&expired, &[&other]))),
        "manifest-unknown-key"
    );
    assert_eq!(
        update_code(p.reopen(&"other".parse().unwrap(), &signed(&expired, &[&key]))),
        "manifest-name-mismatch"
    );
    let archived = p.verify_signed(&signed(&expired, &[&key])).unwrap();
    assert_eq!(archived.name, recommender());
}

// ---------------------------------------------------------------------------------------------
// The hostile-manifest table every consumer is tested against (SW, runtime, edge: same codes).

#[test]
fn the_hostile_table_is_refused_by_the_policy_with_each_cases_code() {
    let trusted = signing_key(1);
    let untrusted = signing_key(9);
    let base = manifest(&manifest_value("1.0.0"));
    let table = tessera_core::hostile::cases(&base, &trusted, &untrusted, NOW, |case| {
        format!("t-{case}").parse().unwrap()
    })
    .unwrap();
    let names: Vec<&str> = table.iter().map(|c| c.case).collect();
    assert_eq!(
        names,
        [
            "bad-signature",
            "unknown-key",
            "expired",
            "not-yet-valid",
            "name-mismatch",
            "two-onnx",
            "missing-entry",
            "subject-mismatch",
            "rollback",
            "mix-and-match"
        ]
    );
    let p = policy(&[&trusted], 1);
    for case in &table {
        let previous = case.previous.as_ref().map(|envelope| {
            p.evaluate(&case.model, None, envelope, NOW)
                .unwrap_or_else(|e| panic!("{}: previous refused: {e}", case.case))
                .manifest
        });
        let verdict = p.evaluate(&case.model, previous.as_ref(), &case.offered, NOW);
        assert_eq!(update_code(verdict), case.code, "case {}", case.case);
    }
}

#[test]
fn refusal_codes_are_exactly_the_acceptance_paths_codes() {
    let name = recommender();
    let version = semver::Version::new(1, 0, 0);
    let sha = Sha256Digest::of(b"x");
    let signature = [
        SignatureError::MalformedEnvelope(String::new()),
        SignatureError::WrongPayloadType {
            found: String::new(),
            expected: String::new(),
        },
        SignatureError::InvalidSignature {
            keyid: String::new(),
        },
        SignatureError::UnknownKey { keyids: vec![] },
        SignatureError::ThresholdNotMet {
            valid: 1,
            threshold: 2,
        },
    ];
    let manifest = [
        ManifestError::Malformed(String::new()),
        ManifestError::UnsupportedSchema { found: 2 },
        ManifestError::EmptyValidity {
            issued_at: 1,
            expires_at: 1,
        },
        ManifestError::NoFiles,
        ManifestError::DuplicatePath(String::new()),
        ManifestError::ShardSizes {
            path: String::new(),
            size: 1,
            shard_total: 2,
        },
        ManifestError::ShardSizeConflict {
            sha256: sha,
            first: 1,
            second: 2,
        },
        ManifestError::InvalidTensor {
            vector: String::new(),
            tensor: String::new(),
            detail: String::new(),
        },
        ManifestError::EntryMissing { entry: None },
        ManifestError::EntryAmbiguous { candidates: vec![] },
        ManifestError::StatementType {
            statement_type: String::new(),
            predicate_type: String::new(),
        },
        ManifestError::SubjectMismatch(String::new()),
    ];
    let policy = [
        UpdateError::PreviousForOtherModel {
            expected: name.clone(),
            previous: name.clone(),
        },
        UpdateError::NameMismatch {
            expected: name.clone(),
            found: name.clone(),
        },
        UpdateError::Expired {
            name: name.clone(),
            version: version.clone(),
            expires_at: 1,
            now: 2,
        },
        UpdateError::NotYetValid {
            name: name.clone(),
            version: version.clone(),
            issued_at: 2,
            now: 1,
            max_skew: 0,
        },
        UpdateError::Rollback {
            name: name.clone(),
            accepted: version.clone(),
            offered: version.clone(),
        },
        UpdateError::MixAndMatch {
            name: name.clone(),
            version: version.clone(),
        },
        UpdateError::StaleReissue {
            name,
            version,
            accepted_issued_at: 2,
            offered_issued_at: 1,
        },
    ];
    let limits = [
        LimitError::TooLarge { size: 2, limit: 1 },
        LimitError::TooDeep { limit: 1 },
    ];
    let codes: std::collections::BTreeSet<&str> = signature
        .into_iter()
        .map(UpdateError::from)
        .chain(manifest.into_iter().map(UpdateError::from))
        .chain(limits.into_iter().map(UpdateError::from))
        .chain(policy)
        .map(|e| e.code())
        .collect();
    let listed: std::collections::BTreeSet<&str> = REFUSAL_CODES.iter().copied().collect();
    assert_eq!(codes, listed);
    for code in codes {
        assert_eq!(refusal_code(code), Some(code));
    }
    assert_eq!(refusal_code("network"), None);
}
