//! [`CliError`]: why a `tessera` command failed, with a stable code and an exit status.
//!
//! Library errors keep their own codes (`shard-corrupt`, `manifest-signature-invalid` …); the CLI
//! adds codes only for its own argument parsing. Printing is `main`'s job.

use std::io;
use std::path::PathBuf;

use tessera_artifacts::ArtifactsError;
use tessera_core::layout::LayoutError;
use tessera_core::ErrorCode;
use tessera_edge::EdgeError;

/// Exit status for an operation that failed.
pub const EXIT_FAILURE: u8 = 1;
/// Exit status for bad arguments (clap's own usage errors use it too).
pub const EXIT_USAGE: u8 = 2;

/// A failed `tessera` command.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// Packing, verifying, reading manifests or key files failed.
    #[error(transparent)]
    Artifacts(#[from] ArtifactsError),
    /// `--shard-size` is not a size, or outside the accepted range.
    #[error("invalid --shard-size {input:?}: {reason}")]
    InvalidShardSize {
        /// What was given.
        input: String,
        /// Why it is refused.
        reason: String,
    },
    /// `--expires` is not a positive duration.
    #[error("invalid --expires {input:?}: {reason} (examples: 90d, 12h, 1y)")]
    InvalidExpires {
        /// What was given.
        input: String,
        /// Why it is refused.
        reason: String,
    },
    /// `--ttl` is not a positive duration.
    #[error("invalid --ttl {input:?}: {reason} (examples: 15m, 1h, 7d)")]
    InvalidTtl {
        /// What was given.
        input: String,
        /// Why it is refused.
        reason: String,
    },
    /// `--auth-key` was given without `--auth-audience`.
    #[error("--auth-key needs --auth-audience (the audience tokens must be minted for)")]
    AuthAudienceMissing,
    /// A bearer token could not be minted.
    #[error(transparent)]
    Token(#[from] tessera_edge::inference::TokenError),
    /// `--version` is not SemVer.
    #[error("invalid --version {input:?}: {reason} (want SemVer such as 1.2.0)")]
    InvalidVersion {
        /// What was given.
        input: String,
        /// The parser's complaint.
        reason: String,
    },
    /// `--name` or a file's logical path is not allowed by the artifact layout.
    #[error("{0}")]
    InvalidName(#[from] LayoutError),
    /// Verification found content problems (each is printed on its own).
    #[error("{} problem(s) found verifying {}", failures.len(), manifest.display())]
    VerifyFailed {
        /// The manifest verified.
        manifest: PathBuf,
        /// Every problem, in file and shard order.
        failures: Vec<ArtifactsError>,
    },
    /// The async runtime for `serve` could not start.
    #[error("cannot start the server runtime: {0}")]
    Runtime(io::Error),
    /// The edge server failed.
    #[error(transparent)]
    Serve(#[from] EdgeError),
    /// `tessera check` could not run, or found failing rows.
    #[error(transparent)]
    Check(#[from] crate::check::CheckError),
}

impl ErrorCode for CliError {
    fn code(&self) -> &'static str {
        match self {
            Self::Artifacts(e) => e.code(),
            Self::InvalidShardSize { .. } => "invalid-shard-size",
            Self::InvalidExpires { .. } => "invalid-expires",
            Self::InvalidVersion { .. } => "invalid-version",
            Self::InvalidTtl { .. } => "invalid-ttl",
            Self::AuthAudienceMissing => "auth-audience-missing",
            Self::Token(e) => e.code(),
            Self::InvalidName(e) => e.code(),
            Self::VerifyFailed { .. } => "verify-failed",
            Self::Runtime(_) => "runtime-failed",
            Self::Serve(e) => e.code(),
            Self::Check(e) => e.code(),
        }
    }
}

impl CliError {
    /// The process exit status for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::InvalidShardSize { .. }
            | Self::InvalidExpires { .. }
            | Self::InvalidVersion { .. }
            | Self::InvalidTtl { .. }
            | Self::AuthAudienceMissing
            | Self::InvalidName(_) => EXIT_USAGE,
            Self::Check(e) => e.exit_code(),
            _ => EXIT_FAILURE,
        }
    }

    /// Problems to print before this error itself, one `error[code]` line each.
    pub fn details(&self) -> &[ArtifactsError] {
        match self {
            Self::VerifyFailed { failures, .. } => failures,
            _ => &[],
        }
    }
}
