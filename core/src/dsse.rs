//! DSSE (Dead Simple Signing Envelope, as used by in-toto and Sigstore) with Ed25519.
//!
//! The envelope carries the exact payload bytes (base64) and signatures over
//! `PAE(payloadType, payload)` = `"DSSEv1" SP len(type) SP type SP len(payload) SP payload`,
//! lengths in ASCII decimal. Verification checks signatures against a trusted key set and a
//! threshold and hands back the payload bytes that were signed — nothing is re-serialized, so
//! there is no canonical-JSON guessing. What the payload means is up to the caller.

use std::collections::BTreeSet;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey};
use serde::{Deserialize, Serialize};

use crate::error::ErrorCode;
use crate::keys::{key_id, TrustedKeys};

/// A signed envelope, in its JSON form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// Media type of the payload.
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// Standard base64 of the payload bytes.
    pub payload: String,
    /// One entry per signer.
    pub signatures: Vec<EnvelopeSignature>,
}

/// One signature in an envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeSignature {
    /// Id of the signing key ([`crate::keys::key_id`]).
    pub keyid: String,
    /// Standard base64 of the 64-byte Ed25519 signature over the PAE.
    pub sig: String,
}

/// An envelope that does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// Not a DSSE envelope (bad JSON, bad base64).
    #[error("signed manifest is not a valid DSSE envelope: {0}")]
    MalformedEnvelope(String),
    /// The payload type is not the one expected.
    #[error("payload type {found:?} is not {expected:?}")]
    WrongPayloadType {
        /// Declared type.
        found: String,
        /// Expected type.
        expected: String,
    },
    /// A signature by a trusted key does not verify: the payload or signature was altered.
    #[error("signature by key {keyid} does not verify: the manifest was altered or signed with another key")]
    InvalidSignature {
        /// The key whose signature failed.
        keyid: String,
    },
    /// No signature is by a trusted key.
    #[error("manifest is not signed by any trusted key (signed by: {keyids:?})")]
    UnknownKey {
        /// The key ids that did sign.
        keyids: Vec<String>,
    },
    /// Fewer distinct trusted keys signed than the threshold requires.
    #[error("manifest has {valid} valid signature(s) from trusted keys; {threshold} required")]
    ThresholdNotMet {
        /// Distinct trusted keys with a valid signature.
        valid: usize,
        /// Required number.
        threshold: usize,
    },
}

impl ErrorCode for SignatureError {
    fn code(&self) -> &'static str {
        match self {
            Self::MalformedEnvelope(_) => "envelope-malformed",
            Self::WrongPayloadType { .. } => "envelope-payload-type",
            Self::InvalidSignature { .. } => "manifest-signature-invalid",
            Self::UnknownKey { .. } => "manifest-unknown-key",
            Self::ThresholdNotMet { .. } => "manifest-threshold-not-met",
        }
    }
}

/// The DSSE pre-authentication encoding of a payload.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + payload_type.len() + 32);
    out.extend_from_slice(
        format!(
            "DSSEv1 {} {} {} ",
            payload_type.len(),
            payload_type,
            payload.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(payload);
    out
}

impl Envelope {
    /// Signs `payload` with `key` into a new envelope.
    pub fn sign(payload_type: &str, payload: &[u8], key: &SigningKey) -> Self {
        let mut envelope = Self {
            payload_type: payload_type.to_owned(),
            payload: BASE64.encode(payload),
            signatures: Vec::new(),
        };
        envelope.add_signature(payload, key);
        envelope
    }

    fn add_signature(&mut self, payload: &[u8], key: &SigningKey) {
        let sig = key.sign(&pae(&self.payload_type, payload));
        self.signatures.push(EnvelopeSignature {
            keyid: key_id(&key.verifying_key()),
            sig: BASE64.encode(sig.to_bytes()),
        });
    }

    /// Adds a signature by another key (for threshold signing).
    pub fn cosign(&mut self, key: &SigningKey) -> Result<(), SignatureError> {
        let payload = self.payload_bytes()?;
        self.add_signature(&payload, key);
        Ok(())
    }

    /// Parses an envelope from JSON.
    pub fn from_json(bytes: &[u8]) -> Result<Self, SignatureError> {
        serde_json::from_slice(bytes).map_err(|e| SignatureError::MalformedEnvelope(e.to_string()))
    }

    /// The envelope as pretty JSON.
    pub fn to_json(&self) -> Vec<u8> {
        // Plain strings only: serialization cannot fail.
        #[allow(clippy::expect_used)]
        serde_json::to_vec_pretty(self).expect("envelope serializes")
    }

    /// The decoded payload, unverified. Use [`Envelope::verify`] unless you only display it.
    pub fn payload_bytes(&self) -> Result<Vec<u8>, SignatureError> {
        BASE64
            .decode(&self.payload)
            .map_err(|e| SignatureError::MalformedEnvelope(format!("payload is not base64: {e}")))
    }

    /// Verifies the envelope: `payload_type` must equal `expected_type`, and at least
    /// `threshold` (≥ 1) distinct trusted keys must have valid signatures. Returns the payload.
    ///
    /// A signature by a trusted key that fails is reported as [`SignatureError::InvalidSignature`]
    /// (tampering) when the threshold is not met; signatures by unknown keys are ignored.
    pub fn verify(
        &self,
        expected_type: &str,
        trusted: &TrustedKeys,
        threshold: usize,
    ) -> Result<Vec<u8>, SignatureError> {
        let threshold = threshold.max(1);
        if self.payload_type != expected_type {
            return Err(SignatureError::WrongPayloadType {
                found: self.payload_type.clone(),
                expected: expected_type.to_owned(),
            });
        }
        let payload = self.payload_bytes()?;
        let message = pae(&self.payload_type, &payload);
        let mut valid = BTreeSet::new();
        let mut first_invalid = None;
        for entry in &self.signatures {
            let Some(key) = trusted.get(&entry.keyid) else {
                continue;
            };
            let verified = BASE64
                .decode(&entry.sig)
                .ok()
                .and_then(|raw| Signature::from_slice(&raw).ok())
                // Strict: rejects small-order keys and `R` values, with which a signature can be
                // made to verify for any message.
                .is_some_and(|sig| key.verify_strict(&message, &sig).is_ok());
            if verified {
                valid.insert(entry.keyid.as_str());
            } else if first_invalid.is_none() {
                first_invalid = Some(entry.keyid.clone());
            }
        }
        if valid.len() >= threshold {
            return Ok(payload);
        }
        if let Some(keyid) = first_invalid {
            return Err(SignatureError::InvalidSignature { keyid });
        }
        if valid.is_empty() {
            return Err(SignatureError::UnknownKey {
                keyids: self.signatures.iter().map(|s| s.keyid.clone()).collect(),
            });
        }
        Err(SignatureError::ThresholdNotMet {
            valid: valid.len(),
            threshold,
        })
    }
}
