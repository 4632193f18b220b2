//! DSSE (Dead Simple Signing Envelope, as used by in-toto and Sigstore) with Ed25519 and ECDSA
//! P-256 signatures ([`crate::keys::PublicKey`]).
//!
//! The envelope carries the exact payload bytes (base64) and signatures over
//! `PAE(payloadType, payload)` = `"DSSEv1" SP len(type) SP type SP len(payload) SP payload`,
//! lengths in ASCII decimal. Verification checks signatures against a trusted key set and a
//! threshold and hands back the payload bytes that were signed — nothing is re-serialized, so
//! there is no canonical-JSON guessing. What the payload means is up to the caller.

use std::collections::BTreeSet;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::Signer as _;
use serde::{Deserialize, Serialize};

use crate::error::ErrorCode;
use crate::keys::{PublicKey, TrustedKeys};

/// A private key that signs envelopes: Ed25519 (`ed25519_dalek::SigningKey`) or ECDSA P-256
/// (`p256::ecdsa::SigningKey`, DER signatures as standard tools write them).
pub trait EnvelopeSigner {
    /// The matching public key (its id labels the signature).
    fn public_key(&self) -> PublicKey;
    /// The signature of `message` (the PAE), in the encoding [`PublicKey::verify`] reads.
    fn sign_message(&self, message: &[u8]) -> Vec<u8>;
}

impl<K: EnvelopeSigner + ?Sized> EnvelopeSigner for &K {
    fn public_key(&self) -> PublicKey {
        (**self).public_key()
    }

    fn sign_message(&self, message: &[u8]) -> Vec<u8> {
        (**self).sign_message(message)
    }
}

impl EnvelopeSigner for ed25519_dalek::SigningKey {
    fn public_key(&self) -> PublicKey {
        PublicKey::Ed25519(self.verifying_key())
    }

    fn sign_message(&self, message: &[u8]) -> Vec<u8> {
        self.sign(message).to_bytes().to_vec()
    }
}

impl EnvelopeSigner for p256::ecdsa::SigningKey {
    fn public_key(&self) -> PublicKey {
        PublicKey::EcdsaP256(*self.verifying_key())
    }

    fn sign_message(&self, message: &[u8]) -> Vec<u8> {
        let signature: p256::ecdsa::DerSignature = self.sign(message);
        signature.as_bytes().to_vec()
    }
}

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
    /// Id of the signing key ([`crate::keys::PublicKey::key_id`]).
    pub keyid: String,
    /// Standard base64 of the signature over the PAE: 64 bytes for Ed25519; DER (or raw
    /// 64-byte `r || s`) for ECDSA P-256.
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
    pub fn sign<K: EnvelopeSigner + ?Sized>(payload_type: &str, payload: &[u8], key: &K) -> Self {
        let mut envelope = Self {
            payload_type: payload_type.to_owned(),
            payload: BASE64.encode(payload),
            signatures: Vec::new(),
        };
        envelope.add_signature(payload, key);
        envelope
    }

    fn add_signature<K: EnvelopeSigner + ?Sized>(&mut self, payload: &[u8], key: &K) {
        let sig = key.sign_message(&pae(&self.payload_type, payload));
        self.signatures.push(EnvelopeSignature {
            keyid: key.public_key().key_id(),
            sig: BASE64.encode(sig),
        });
    }

    /// Adds a signature by another key (for threshold signing), of either algorithm.
    pub fn cosign<K: EnvelopeSigner + ?Sized>(&mut self, key: &K) -> Result<(), SignatureError> {
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
        self.verify_any(&[expected_type], trusted, threshold)
    }

    /// [`Envelope::verify`] for a payload that may be of any of `accepted_types` (the signed
    /// `payload_type` then tells the caller which it is).
    pub fn verify_any(
        &self,
        accepted_types: &[&str],
        trusted: &TrustedKeys,
        threshold: usize,
    ) -> Result<Vec<u8>, SignatureError> {
        let threshold = threshold.max(1);
        if !accepted_types.contains(&self.payload_type.as_str()) {
            return Err(SignatureError::WrongPayloadType {
                found: self.payload_type.clone(),
                expected: accepted_types.join(" or "),
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
                .is_ok_and(|raw| key.verify(&message, &raw));
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
