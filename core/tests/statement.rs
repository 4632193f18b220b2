//! The signed manifest as an in-toto Statement v1, and ECDSA P-256 keys beside Ed25519: what the
//! update policy accepts and refuses (by code), with schema-1 manifests still read. Runs natively
//! and on wasm32 (no filesystem, no randomness: P-256 signatures are RFC 6979 deterministic).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use common::file_json;
use ed25519_dalek::SigningKey as EdKey;
use p256::ecdsa::SigningKey as P256Key;
use serde_json::{json, Value};

use tessera_core::dsse::{pae, Envelope, EnvelopeSigner};
use tessera_core::keys::{PublicKey, PublicKeyFile, TrustedKeys, ALGORITHM_ECDSA_P256};
use tessera_core::manifest::PAYLOAD_TYPE as SCHEMA1_PAYLOAD_TYPE;
use tessera_core::policy::{Acceptance, UpdatePolicy};
use tessera_core::statement::{self, PAYLOAD_TYPE, PREDICATE_TYPE, STATEMENT_TYPE};
use tessera_core::{ErrorCode, Manifest, Sha256Digest};

/// 2026-01-01T00:00:00Z.
const T0: u64 = 1_767_225_600;
const DAY: u64 = 86_400;
const NOW: u64 = T0 + DAY;

fn p256_key(seed: u8) -> P256Key {
    P256Key::from_slice(&[seed; 32]).unwrap()
}

fn ed_key(seed: u8) -> EdKey {
    EdKey::from_bytes(&[seed; 32])
}

/// A valid schema-1 manifest; two files share the shard `b"shared"`.
fn manifest(version: &str, weights: &[u8]) -> Manifest {
    let value = json!({
        "schema": 1,
        "name": "recommender",
        "version": version,
        "runtime": { "engine": "wonnx", "abi": 1, "ops": ["Gemm"], "entry": "model.onnx" },
        "issued_at": T0,
        "expires_at": T0 + 30 * DAY,
        "files": [
            file_json("model.onnx", &[weights, b"shared"]),
            file_json("extra/copy.bin", &[b"shared"]),
        ],
        "test_vectors": [{
            "name": "kat",
            "inputs": { "x": { "dtype": "float32", "shape": [1], "data": [0.5] } },
            "outputs": { "y": { "dtype": "float32", "shape": [1], "data": [1.0] } },
            "tolerance": 0.001,
        }],
    });
    Manifest::from_json(&serde_json::to_vec(&value).unwrap()).unwrap()
}

fn statement_value(manifest: &Manifest) -> Value {
    serde_json::from_slice(&manifest.to_statement_json()).unwrap()
}

fn sign_value(value: &Value, key: &dyn EnvelopeSigner) -> Vec<u8> {
    Envelope::sign(PAYLOAD_TYPE, &serde_json::to_vec(value).unwrap(), key).to_json()
}

fn policy(keys: Vec<PublicKey>, threshold: usize) -> UpdatePolicy {
    let mut trusted = TrustedKeys::new();
    for key in keys {
        trusted.insert(key);
    }
    UpdatePolicy::new(trusted, threshold)
}

fn p256_policy() -> UpdatePolicy {
    policy(vec![p256_key(7).public_key()], 1)
}

fn code_of(policy: &UpdatePolicy, envelope: &[u8]) -> &'static str {
    policy
        .evaluate(&"recommender".parse().unwrap(), None, envelope, NOW)
        .expect_err("expected a refusal")
        .code()
}

#[test]
fn statement_has_the_in_toto_shape_with_every_file_and_distinct_shard_as_a_subject() {
    let m = manifest("1.0.0", b"weights");
    let value = statement_value(&m);
    assert_eq!(value["_type"], STATEMENT_TYPE);
    assert_eq!(value["predicateType"], PREDICATE_TYPE);
    let subjects: Vec<(String, String)> = value["subject"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            assert_eq!(s["digest"].as_object().unwrap().len(), 1);
            (
                s["name"].as_str().unwrap().to_owned(),
                s["digest"]["sha256"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let whole = Sha256Digest::of(b"weightsshared").to_hex();
    let weights = Sha256Digest::of(b"weights").to_hex();
    let shared = Sha256Digest::of(b"shared").to_hex();
    assert_eq!(
        subjects,
        vec![
            ("model.onnx".to_owned(), whole),
            ("extra/copy.bin".to_owned(), shared.clone()),
            (format!("_shards/{weights}"), weights),
            // Listed once although two files use it.
            (format!("_shards/{shared}"), shared),
        ]
    );
    let predicate = value["predicate"].as_object().unwrap();
    assert!(!predicate.contains_key("schema"));
    for field in [
        "name",
        "version",
        "runtime",
        "issued_at",
        "expires_at",
        "files",
        "test_vectors",
    ] {
        assert!(predicate.contains_key(field), "{field}");
    }
    assert_eq!(value["predicate"]["runtime"]["ops"], json!(["Gemm"]));
}

#[test]
fn a_p256_signed_statement_is_accepted_as_the_same_manifest_as_its_schema_1_form() {
    let m = manifest("1.0.0", b"weights");
    let envelope = sign_value(&statement_value(&m), &p256_key(7));
    let accepted = p256_policy()
        .evaluate(&m.name, None, &envelope, NOW)
        .unwrap();
    assert_eq!(accepted.kind, Acceptance::First);
    assert_eq!(accepted.manifest, m);

    // The schema-1 form of the same version is a refresh of it, not mix-and-match.
    let schema1 = Envelope::sign(SCHEMA1_PAYLOAD_TYPE, &m.to_json(), &p256_key(7)).to_json();
    let again = p256_policy()
        .evaluate(&m.name, Some(&accepted.manifest), &schema1, NOW)
        .unwrap();
    assert_eq!(again.kind, Acceptance::Refresh);
}

#[test]
fn rollback_and_mix_and_match_stay_refused_across_formats() {
    let v2 = manifest("2.0.0", b"weights");
    let p = p256_policy();
    let older = sign_value(
        &statement_value(&manifest("1.0.0", b"weights")),
        &p256_key(7),
    );
    let err = p.evaluate(&v2.name, Some(&v2), &older, NOW).unwrap_err();
    assert_eq!(err.code(), "manifest-rollback");
    let other_content = sign_value(&statement_value(&manifest("2.0.0", b"other")), &p256_key(7));
    let err = p
        .evaluate(&v2.name, Some(&v2), &other_content, NOW)
        .unwrap_err();
    assert_eq!(err.code(), "manifest-mix-and-match");
    let mut expired = manifest("3.0.0", b"weights");
    expired.expires_at = NOW;
    let err = p
        .evaluate(
            &v2.name,
            Some(&v2),
            &sign_value(&statement_value(&expired), &p256_key(7)),
            NOW,
        )
        .unwrap_err();
    assert_eq!(err.code(), "manifest-expired");
}

#[test]
fn statements_whose_subjects_disagree_with_their_files_are_refused() {
    let m = manifest("1.0.0", b"weights");
    let good = statement_value(&m);
    let edit = |f: &dyn Fn(&mut Vec<Value>)| {
        let mut v = good.clone();
        f(v["subject"].as_array_mut().unwrap());
        v
    };
    let other = Sha256Digest::of(b"other").to_hex();
    let cases = [
        ("a file's subject missing", edit(&|s| drop(s.remove(0)))),
        ("a shard's subject missing", edit(&|s| drop(s.pop()))),
        (
            "an extra subject",
            edit(&|s| s.push(json!({"name": "evil.bin", "digest": {"sha256": other}}))),
        ),
        (
            "a file's digest replaced",
            edit(&|s| s[0]["digest"]["sha256"] = json!(other)),
        ),
        (
            "a shard's digest replaced",
            edit(&|s| s[3]["digest"]["sha256"] = json!(other)),
        ),
        (
            "a subject renamed",
            edit(&|s| s[0]["name"] = json!("model2.onnx")),
        ),
        (
            "a subject listed twice instead of another",
            edit(&|s| s[1] = s[0].clone()),
        ),
        (
            "a subject with a second digest algorithm",
            edit(&|s| s[0]["digest"]["sha512"] = json!("00")),
        ),
        (
            "a subject with no sha256",
            edit(&|s| s[0]["digest"] = json!({"sha512": "00"})),
        ),
    ];
    let p = p256_policy();
    for (scenario, value) in cases {
        let envelope = sign_value(&value, &p256_key(7));
        assert_eq!(
            code_of(&p, &envelope),
            "manifest-subject-mismatch",
            "{scenario}"
        );
        assert_eq!(
            Manifest::from_json(&serde_json::to_vec(&value).unwrap())
                .unwrap_err()
                .code(),
            "manifest-subject-mismatch",
            "{scenario} (unsigned parse)"
        );
    }
    // Subjects in another order are the same set.
    let reordered = edit(&|s| s.reverse());
    assert!(p
        .evaluate(&m.name, None, &sign_value(&reordered, &p256_key(7)), NOW)
        .is_ok());
}

#[test]
fn statements_of_another_type_or_predicate_are_refused_by_code() {
    let good = statement_value(&manifest("1.0.0", b"weights"));
    let p = p256_policy();
    let with = |pointer: &str, new: Value| {
        let mut v = good.clone();
        let (parent, field) = pointer.rsplit_once('/').unwrap();
        match v.pointer_mut(parent).unwrap() {
            Value::Array(items) => items[field.parse::<usize>().unwrap()] = new,
            object => {
                object
                    .as_object_mut()
                    .unwrap()
                    .insert(field.to_owned(), new);
            }
        }
        v
    };
    let cases = [
        (
            with("/_type", json!("https://in-toto.io/Statement/v0.1")),
            "manifest-statement-type",
        ),
        (
            with("/predicateType", json!("https://slsa.dev/provenance/v1")),
            "manifest-statement-type",
        ),
        (
            with("/predicate/version", json!("one")),
            "manifest-malformed",
        ),
        (with("/predicate/schema", json!(1)), "manifest-malformed"),
        (with("/subject", json!("model.onnx")), "manifest-malformed"),
        (
            with("/predicate/files/0/size", json!(1)),
            "manifest-shard-sizes",
        ),
    ];
    for (value, code) in cases {
        assert_eq!(
            code_of(&p, &sign_value(&value, &p256_key(7))),
            code,
            "{value}"
        );
    }
}

#[test]
fn the_signed_payload_type_decides_the_format() {
    let m = manifest("1.0.0", b"weights");
    let p = p256_policy();
    // A statement signed as a schema-1 manifest, and a schema-1 manifest signed as a statement.
    let statement_as_schema1 =
        Envelope::sign(SCHEMA1_PAYLOAD_TYPE, &m.to_statement_json(), &p256_key(7)).to_json();
    assert_eq!(code_of(&p, &statement_as_schema1), "manifest-malformed");
    let schema1_as_statement = Envelope::sign(PAYLOAD_TYPE, &m.to_json(), &p256_key(7)).to_json();
    assert_eq!(code_of(&p, &schema1_as_statement), "manifest-malformed");
    let other_type =
        Envelope::sign("application/json", &m.to_statement_json(), &p256_key(7)).to_json();
    assert_eq!(code_of(&p, &other_type), "envelope-payload-type");
}

/// The envelope's single signature replaced by `sig`.
fn with_signature(envelope: &[u8], sig: &[u8]) -> Vec<u8> {
    let mut envelope = Envelope::from_json(envelope).unwrap();
    envelope.signatures[0].sig = BASE64.encode(sig);
    envelope.to_json()
}

#[test]
fn p256_signatures_verify_as_der_or_raw_r_s_and_fail_when_altered() {
    let m = manifest("1.0.0", b"weights");
    let key = p256_key(7);
    let payload = m.to_statement_json();
    let envelope = Envelope::sign(PAYLOAD_TYPE, &payload, &key).to_json();
    let der = BASE64
        .decode(&Envelope::from_json(&envelope).unwrap().signatures[0].sig)
        .unwrap();
    assert_eq!(
        der[0], 0x30,
        "tessera writes DER, as openssl and Sigstore do"
    );
    let raw = p256::ecdsa::Signature::from_der(&der).unwrap().to_bytes();
    assert_eq!(raw.len(), 64);
    let p = p256_policy();
    for sig in [der.clone(), raw.to_vec()] {
        let accepted = p.evaluate(&m.name, None, &with_signature(&envelope, &sig), NOW);
        assert_eq!(accepted.unwrap().manifest, m);
    }
    let mut flipped = der.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    for bad in [flipped, der[..der.len() - 1].to_vec(), vec![0; 64], vec![]] {
        assert_eq!(
            code_of(&p, &with_signature(&envelope, &bad)),
            "manifest-signature-invalid"
        );
    }
    // A byte of the payload changed after signing.
    let mut tampered = Envelope::from_json(&envelope).unwrap();
    tampered.payload = BASE64.encode(
        payload
            .to_vec()
            .iter()
            .map(|b| if *b == b'G' { b'H' } else { *b })
            .collect::<Vec<u8>>(),
    );
    assert_eq!(
        code_of(&p, &tampered.to_json()),
        "manifest-signature-invalid"
    );
    // Signed by another P-256 key.
    let other = sign_value(&statement_value(&m), &p256_key(8));
    assert_eq!(code_of(&p, &other), "manifest-unknown-key");
}

#[test]
fn the_signature_is_over_the_dsse_pae_of_the_in_toto_type() {
    let key = p256_key(7);
    let envelope = Envelope::sign(PAYLOAD_TYPE, b"{}", &key);
    let der = BASE64.decode(&envelope.signatures[0].sig).unwrap();
    let message = pae(PAYLOAD_TYPE, b"{}");
    assert_eq!(
        message,
        b"DSSEv1 28 application/vnd.in-toto+json 2 {}".to_vec()
    );
    assert!(key.public_key().verify(&message, &der));
    assert!(!key
        .public_key()
        .verify(&pae(SCHEMA1_PAYLOAD_TYPE, b"{}"), &der));
}

#[test]
fn a_threshold_counts_ed25519_and_p256_keys_alike() {
    let m = manifest("1.0.0", b"weights");
    let payload = m.to_statement_json();
    let mut envelope = Envelope::sign(PAYLOAD_TYPE, &payload, &ed_key(1));
    envelope.cosign(&p256_key(7)).unwrap();
    let both = policy(vec![ed_key(1).public_key(), p256_key(7).public_key()], 2);
    assert!(both
        .evaluate(&m.name, None, &envelope.to_json(), NOW)
        .is_ok());
    let one = Envelope::sign(PAYLOAD_TYPE, &payload, &p256_key(7)).to_json();
    assert_eq!(code_of(&both, &one), "manifest-threshold-not-met");
    // A P-256 signature relabelled with the Ed25519 key's id does not count for it.
    let mut relabelled = Envelope::sign(PAYLOAD_TYPE, &payload, &p256_key(7));
    relabelled.signatures[0]
        .keyid
        .clone_from(&ed_key(1).public_key().key_id());
    let ed_only = policy(vec![ed_key(1).public_key()], 1);
    assert_eq!(
        code_of(&ed_only, &relabelled.to_json()),
        "manifest-signature-invalid"
    );
}

/// The key file of scalar [7; 32] as Python `cryptography` 48 writes it: SPKI DER (uncompressed
/// point) in base64, key id = sha256 of that DER.
const P256_SEVEN_SPKI: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEHhhTL9R1TALzBB2cdc6zO4P/2BrHzk/ogsyxyYvFiW6kbDEcTi/0DdlqNlPm5FRF0y3+SG7O11x6kMahiIHAow==";
const P256_SEVEN_ID: &str = "ce97ec20d43661a19b215cb2e376a698d0b4aa2aa5b4c7854e916bd05082fcee";
/// The same key's SPKI with the point compressed.
const P256_SEVEN_SPKI_COMPRESSED: &str =
    "MDkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDIgADHhhTL9R1TALzBB2cdc6zO4P/2BrHzk/ogsyxyYvFiW4=";

#[test]
fn p256_key_files_carry_the_spki_and_its_sha256_as_id() {
    let file = PublicKeyFile::of(&p256_key(7).public_key());
    assert_eq!(
        serde_json::to_value(&file).unwrap(),
        json!({"keyid": P256_SEVEN_ID, "algorithm": "ecdsa-p256", "publicKey": P256_SEVEN_SPKI})
    );
    assert_eq!(file.public_key().unwrap(), p256_key(7).public_key());
    let compressed = PublicKeyFile {
        public_key: P256_SEVEN_SPKI_COMPRESSED.into(),
        ..file.clone()
    };
    assert_eq!(compressed.public_key().unwrap(), p256_key(7).public_key());
    // Ed25519-only callers (inference tokens) refuse it by code.
    assert_eq!(file.verifying_key().unwrap_err().code(), "key-malformed");

    let ed_spki = BASE64.encode(ed_key(1).verifying_key().as_bytes());
    let cases = [
        (
            "Ed25519 bytes as P-256",
            PublicKeyFile {
                public_key: ed_spki,
                ..file.clone()
            },
            "key-malformed",
        ),
        (
            "not base64",
            PublicKeyFile {
                public_key: "%%".into(),
                ..file.clone()
            },
            "key-malformed",
        ),
        (
            "P-256 SPKI as Ed25519",
            PublicKeyFile {
                algorithm: "ed25519".into(),
                ..file.clone()
            },
            "key-malformed",
        ),
        (
            "id of another key",
            PublicKeyFile {
                keyid: p256_key(8).public_key().key_id(),
                ..file.clone()
            },
            "key-id-mismatch",
        ),
        (
            "P-384",
            PublicKeyFile {
                algorithm: "ecdsa-p384".into(),
                ..file.clone()
            },
            "key-malformed",
        ),
    ];
    for (scenario, bad, code) in cases {
        assert_eq!(bad.public_key().unwrap_err().code(), code, "{scenario}");
    }
    let trusted =
        TrustedKeys::from_files([&file, &PublicKeyFile::new(&ed_key(1).verifying_key())]).unwrap();
    assert_eq!(trusted.len(), 2);
    assert_eq!(
        trusted.get(P256_SEVEN_ID).map(PublicKey::algorithm),
        Some(ALGORITHM_ECDSA_P256)
    );
}

#[test]
fn subjects_list_each_shard_once_in_file_order() {
    let m = manifest("1.0.0", b"weights");
    let names: Vec<String> = statement::subjects(&m)
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names.len(), 4);
    assert!(statement::is_statement(&m.to_statement_json()));
    assert!(!statement::is_statement(&m.to_json()));
}
