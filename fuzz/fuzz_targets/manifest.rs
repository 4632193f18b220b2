//! A manifest payload (the bytes a DSSE envelope signs): `Manifest::from_json` (which checks
//! consistency) and what clients then compute from a parsed manifest.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::{ErrorCode as _, Manifest};

fuzz_target!(|data: &[u8]| {
    match Manifest::from_json(data) {
        Ok(manifest) => {
            let _ = manifest.check();
            let _ = manifest.entry();
            let _ = manifest.unique_shard_bytes();
            for file in &manifest.files {
                for _ in file.shard_offsets() {}
            }
            let _ = manifest.same_content(&manifest);
            // What was accepted is stored and parsed again: it must round-trip.
            let again = Manifest::from_json(&manifest.to_json());
            assert!(
                again.is_ok(),
                "a parsed manifest does not parse again: {again:?}"
            );
        }
        Err(error) => {
            let _ = error.code();
        }
    }
});
