//! A signed manifest as a client fetches it: the size/depth caps, the DSSE envelope parser, the
//! payload decoder and the whole acceptance path (`UpdatePolicy::evaluate`) with a fixed trusted
//! key (RFC 8032 test 1, which signed the seed corpus), at a fixed time inside its window.
#![no_main]

use ed25519_dalek::SigningKey;
use libfuzzer_sys::fuzz_target;
use tessera_core::dsse::Envelope;
use tessera_core::keys::TrustedKeys;
use tessera_core::layout::ModelName;
use tessera_core::limits;
use tessera_core::policy::UpdatePolicy;
use tessera_core::ErrorCode as _;

/// RFC 8032 section 7.1, TEST 1 (the key of core/tests/data/sample_manifest.dsse.json).
const SEED: [u8; 32] = [
    0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
    0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60,
];
/// 2026-01-02T00:00:00Z: inside the sample manifest's validity window.
const NOW: u64 = 1_767_312_000;

fuzz_target!(|data: &[u8]| {
    let _ = limits::json_nests_deeper_than(data, limits::MAX_JSON_DEPTH);
    if let Ok(envelope) = Envelope::from_json(data) {
        let _ = envelope.payload_bytes();
    }
    let mut trusted = TrustedKeys::new();
    trusted.insert(SigningKey::from_bytes(&SEED).verifying_key());
    let policy = UpdatePolicy::new(trusted, 1);
    let Ok(name) = "recommender".parse::<ModelName>() else {
        return;
    };
    match policy.evaluate(&name, None, data, NOW) {
        Ok(accepted) => {
            let _ = accepted.manifest.entry();
            let _ = accepted.manifest.unique_shard_bytes();
        }
        Err(error) => {
            let _ = error.code();
            let _ = error.to_string();
        }
    }
});
