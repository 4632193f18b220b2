//! The update policy: whether a freshly fetched signed manifest may replace the one a client
//! already accepted for a model (TUF-inspired: signatures and threshold, expiry, no rollback, no
//! mix-and-match). It is a pure function of its arguments; "now" is one of them.
//!
//! [`UpdatePolicy::evaluate`] checks, in this order, stopping at the first failure:
//!
//! 0. the envelope, and then the payload it signs, are within [`crate::limits`]' caps on size
//!    and JSON depth (`manifest-too-large`, `manifest-too-deep`), checked before any parsing;
//! 1. the bytes are a DSSE envelope whose payload type is an in-toto statement's
//!    ([`statement::PAYLOAD_TYPE`]) or a schema-1 manifest's ([`PAYLOAD_TYPE`]) and which carries
//!    valid signatures (Ed25519 or ECDSA P-256) by at least `threshold` distinct trusted keys
//!    ([`Envelope::verify_any`]);
//! 2. the signed payload bytes — exactly those, never re-serialized — are a consistent manifest
//!    of the signed type ([`Manifest::from_payload`]; a statement's subjects must be exactly its
//!    files and shards), which includes naming its entry point, the file the runtime
//!    loads ([`Manifest::entry`]: `runtime.entry`, or the only `.onnx` file of a manifest packed
//!    before that field existed);
//! 3. the manifest names the model the client asked for (`manifest-name-mismatch`: a valid
//!    manifest for model A must never be served as model B);
//! 4. it is within its validity window: `now < expires_at` (`manifest-expired`) and
//!    `issued_at <= now + max_clock_skew_secs` (`manifest-not-yet-valid`);
//! 5. against the previously accepted manifest, if any: its version does not go back in SemVer
//!    precedence (`manifest-rollback`); the same version has the same content
//!    (`manifest-mix-and-match`); and a re-signing of the same version is not older than the
//!    one accepted (`manifest-stale-reissue`).
//!
//! This is the one acceptance path: the service worker, the browser runtime (with or without a
//! service worker), the edge and `tessera verify` all call it — [`UpdatePolicy::evaluate`] for a
//! manifest just fetched, [`UpdatePolicy::reopen`] for one accepted earlier and kept (steps 1–3,
//! no clock: expiry and rollback were judged when it was accepted), [`UpdatePolicy::verify_signed`]
//! for audits of archived versions (steps 1–2). The bytes of a file are then checked with
//! [`crate::assemble`].
//!
//! What it does **not** do, on purpose or not yet:
//! - No key rotation, delegation or revocation: the trusted keys and threshold are fixed by the
//!   client's configuration; changing them means shipping a new configuration.
//! - No freshness beyond expiry (TUF's timestamp role): a server or attacker that keeps serving
//!   an old but unexpired manifest hides newer versions until that manifest expires.
//! - Expiry gates *accepting* only. A manifest accepted earlier keeps being served offline after
//!   it expires; deciding to stop using it is the caller's choice.
//! - The first manifest accepted for a model (no `previous`) is trusted on its signature and
//!   validity window alone: rollback protection starts from what the client has seen.
//! - It does not check runtime compatibility (engine, ABI, operators), does not look at shard
//!   bytes (the download plan verifies those), and stores nothing: the caller persists
//!   [`Accepted::manifest`] as the next `previous`, and only on success.

use std::cmp::Ordering;

use crate::dsse::{Envelope, SignatureError};
use crate::error::ErrorCode;
use crate::keys::TrustedKeys;
use crate::layout::ModelName;
use crate::limits::{self, LimitError};
use crate::manifest::{Manifest, ManifestError, PAYLOAD_TYPE};
use crate::statement;

/// Clock skew tolerated on `issued_at` by [`UpdatePolicy::new`]: five minutes.
pub const DEFAULT_MAX_CLOCK_SKEW_SECS: u64 = 300;

/// Who may sign manifests, how many must, and how far the client's clock may lag the signer's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdatePolicy {
    /// Keys trusted to sign manifests.
    pub trusted: TrustedKeys,
    /// Distinct trusted keys that must have signed (0 is treated as 1).
    pub threshold: usize,
    /// How far in the future `issued_at` may be (a client clock running behind the signer's).
    pub max_clock_skew_secs: u64,
}

/// How an accepted manifest relates to the previously accepted one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Acceptance {
    /// No manifest was accepted for this model before.
    First,
    /// A higher version than the one accepted before.
    Upgrade {
        /// The previously accepted version.
        from: semver::Version,
    },
    /// The same version and content, e.g. re-signed with a later expiry (or fetched again).
    Refresh,
}

/// A manifest that passed the policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    /// The verified, parsed manifest: the caller's next `previous`.
    pub manifest: Manifest,
    /// How it relates to the previous one.
    pub kind: Acceptance,
}

/// Why a fetched manifest was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UpdateError {
    /// The envelope or its payload is too large or nests too deeply to be parsed at all.
    #[error(transparent)]
    Limit(#[from] LimitError),
    /// The envelope is malformed, of the wrong type, or not signed well enough.
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// The signed payload is not a consistent manifest.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The caller's `previous` manifest is for another model (a bug in the caller).
    #[error(
        "the previously accepted manifest passed in is for model {previous:?}, not {expected:?}"
    )]
    PreviousForOtherModel {
        /// The model being updated.
        expected: ModelName,
        /// The model the `previous` manifest names.
        previous: ModelName,
    },
    /// A validly signed manifest for a different model.
    #[error("manifest is for model {found:?}, but model {expected:?} was requested")]
    NameMismatch {
        /// The model requested.
        expected: ModelName,
        /// The model the manifest names.
        found: ModelName,
    },
    /// `now` is at or past `expires_at`.
    #[error("manifest {name} {version} expired at {expires_at} (now is {now})")]
    Expired {
        /// Model name.
        name: ModelName,
        /// Model version.
        version: semver::Version,
        /// Declared expiry (Unix seconds).
        expires_at: u64,
        /// The time of the check (Unix seconds).
        now: u64,
    },
    /// `issued_at` is further in the future than the tolerated clock skew.
    #[error("manifest {name} {version} is issued at {issued_at}, after now ({now}) plus {max_skew}s of tolerated clock skew; is this device's clock right?")]
    NotYetValid {
        /// Model name.
        name: ModelName,
        /// Model version.
        version: semver::Version,
        /// Declared issue time (Unix seconds).
        issued_at: u64,
        /// The time of the check (Unix seconds).
        now: u64,
        /// Tolerated skew in seconds.
        max_skew: u64,
    },
    /// A lower version than the one already accepted.
    #[error("manifest for {name} offers version {offered}, older than the accepted {accepted}: refusing to roll back")]
    Rollback {
        /// Model name.
        name: ModelName,
        /// The version already accepted.
        accepted: semver::Version,
        /// The older version offered.
        offered: semver::Version,
    },
    /// The same version as the one accepted, but with different content.
    #[error("manifest for {name} {version} differs in content from the accepted manifest of the same version (mix-and-match)")]
    MixAndMatch {
        /// Model name.
        name: ModelName,
        /// The version both manifests claim.
        version: semver::Version,
    },
    /// The same version and content, but signed earlier than the manifest already accepted.
    #[error("manifest for {name} {version} was issued at {offered_issued_at}, before the accepted one ({accepted_issued_at}): a stale re-signing")]
    StaleReissue {
        /// Model name.
        name: ModelName,
        /// Model version.
        version: semver::Version,
        /// `issued_at` of the accepted manifest.
        accepted_issued_at: u64,
        /// `issued_at` of the offered manifest.
        offered_issued_at: u64,
    },
}

impl ErrorCode for UpdateError {
    fn code(&self) -> &'static str {
        match self {
            Self::Limit(e) => e.code(),
            Self::Signature(e) => e.code(),
            Self::Manifest(e) => e.code(),
            Self::PreviousForOtherModel { .. } => "previous-manifest-mismatch",
            Self::NameMismatch { .. } => "manifest-name-mismatch",
            Self::Expired { .. } => "manifest-expired",
            Self::NotYetValid { .. } => "manifest-not-yet-valid",
            Self::Rollback { .. } => "manifest-rollback",
            Self::MixAndMatch { .. } => "manifest-mix-and-match",
            Self::StaleReissue { .. } => "manifest-stale-reissue",
        }
    }
}

/// Every code a refusal by the acceptance path can carry (envelope, signature, manifest, policy),
/// as a `&'static str`: for a consumer that receives a refusal's code as text from another
/// component (the browser runtime from its service worker) and reports it as its own.
pub fn refusal_code(code: &str) -> Option<&'static str> {
    REFUSAL_CODES.iter().copied().find(|c| *c == code)
}

/// The codes [`refusal_code`] knows (`core/tests/trust.rs` checks they are exactly the codes of
/// the refusal variants).
pub const REFUSAL_CODES: &[&str] = &[
    "manifest-too-large",
    "manifest-too-deep",
    "envelope-malformed",
    "envelope-payload-type",
    "manifest-signature-invalid",
    "manifest-unknown-key",
    "manifest-threshold-not-met",
    "manifest-malformed",
    "manifest-schema-unsupported",
    "manifest-validity-empty",
    "manifest-no-files",
    "manifest-duplicate-path",
    "manifest-shard-sizes",
    "manifest-shard-conflict",
    "manifest-invalid-tensor",
    "manifest-entry-missing",
    "manifest-entry-ambiguous",
    "manifest-statement-type",
    "manifest-subject-mismatch",
    "previous-manifest-mismatch",
    "manifest-name-mismatch",
    "manifest-expired",
    "manifest-not-yet-valid",
    "manifest-rollback",
    "manifest-mix-and-match",
    "manifest-stale-reissue",
];

impl UpdatePolicy {
    /// A policy with [`DEFAULT_MAX_CLOCK_SKEW_SECS`].
    pub fn new(trusted: TrustedKeys, threshold: usize) -> Self {
        Self {
            trusted,
            threshold,
            max_clock_skew_secs: DEFAULT_MAX_CLOCK_SKEW_SECS,
        }
    }

    /// Decides whether `envelope_json`, just fetched for `expected_name`, may replace
    /// `previous` (the manifest last accepted for that model, if any) at time `now`
    /// (Unix seconds). See the module docs for the checks and their order.
    pub fn evaluate(
        &self,
        expected_name: &ModelName,
        previous: Option<&Manifest>,
        envelope_json: &[u8],
        now: u64,
    ) -> Result<Accepted, UpdateError> {
        if let Some(prev) = previous.filter(|p| &p.name != expected_name) {
            return Err(UpdateError::PreviousForOtherModel {
                expected: expected_name.clone(),
                previous: prev.name.clone(),
            });
        }
        let manifest = self.reopen(expected_name, envelope_json)?;
        self.check_validity(&manifest, now)?;
        let kind = match previous {
            None => Acceptance::First,
            Some(prev) => relation_to_previous(prev, &manifest)?,
        };
        Ok(Accepted { manifest, kind })
    }

    /// Steps 1–3 for a manifest accepted earlier and kept (by this client, or handed over by
    /// the service worker that accepted it): the signature is checked again with today's
    /// trusted keys, the payload parsed, the name compared; no clock and no previous state.
    pub fn reopen(
        &self,
        expected_name: &ModelName,
        envelope_json: &[u8],
    ) -> Result<Manifest, UpdateError> {
        let manifest = self.verify_signed(envelope_json)?;
        if &manifest.name != expected_name {
            return Err(UpdateError::NameMismatch {
                expected: expected_name.clone(),
                found: manifest.name,
            });
        }
        Ok(manifest)
    }

    /// Steps 1–2 alone: a validly signed, consistent manifest, whatever its name and validity
    /// window (for audits of archived versions, e.g. `tessera verify`).
    pub fn verify_signed(&self, envelope_json: &[u8]) -> Result<Manifest, UpdateError> {
        limits::check_manifest(envelope_json)?;
        let envelope = Envelope::from_json(envelope_json)?;
        let payload = envelope.verify_any(
            &[statement::PAYLOAD_TYPE, PAYLOAD_TYPE],
            &self.trusted,
            self.threshold,
        )?;
        limits::check_manifest(&payload)?;
        Ok(Manifest::from_payload(&envelope.payload_type, &payload)?)
    }

    fn check_validity(&self, manifest: &Manifest, now: u64) -> Result<(), UpdateError> {
        if now >= manifest.expires_at {
            return Err(UpdateError::Expired {
                name: manifest.name.clone(),
                version: manifest.version.clone(),
                expires_at: manifest.expires_at,
                now,
            });
        }
        if manifest.issued_at > now.saturating_add(self.max_clock_skew_secs) {
            return Err(UpdateError::NotYetValid {
                name: manifest.name.clone(),
                version: manifest.version.clone(),
                issued_at: manifest.issued_at,
                now,
                max_skew: self.max_clock_skew_secs,
            });
        }
        Ok(())
    }
}

/// Classifies `offered` against `accepted` (same model). Versions compare by SemVer precedence,
/// so build metadata alone (`1.0.0+a` vs `1.0.0+b`) is the same version — and, being a different
/// version string, different content.
fn relation_to_previous(
    accepted: &Manifest,
    offered: &Manifest,
) -> Result<Acceptance, UpdateError> {
    match offered.version.cmp_precedence(&accepted.version) {
        Ordering::Greater => Ok(Acceptance::Upgrade {
            from: accepted.version.clone(),
        }),
        Ordering::Less => Err(UpdateError::Rollback {
            name: offered.name.clone(),
            accepted: accepted.version.clone(),
            offered: offered.version.clone(),
        }),
        Ordering::Equal if !offered.same_content(accepted) => Err(UpdateError::MixAndMatch {
            name: offered.name.clone(),
            version: offered.version.clone(),
        }),
        Ordering::Equal if offered.issued_at < accepted.issued_at => {
            Err(UpdateError::StaleReissue {
                name: offered.name.clone(),
                version: offered.version.clone(),
                accepted_issued_at: accepted.issued_at,
                offered_issued_at: offered.issued_at,
            })
        }
        Ordering::Equal => Ok(Acceptance::Refresh),
    }
}
