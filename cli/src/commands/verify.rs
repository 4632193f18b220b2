//! `tessera verify`: check a signed manifest against trusted public keys, then every shard.
//!
//! Exit 0 with a summary when all is well; otherwise every problem is printed as
//! `error[code]: …` naming the shard or file, and the exit status is 1. Expiry is reported as
//! a warning, not a failure: verify checks integrity, a client's policy judges freshness.

use std::path::PathBuf;

use clap::Args;
use tessera_artifacts::pack::unix_now;
use tessera_artifacts::{load_trusted_keys, verify, VerifyEvent};

use crate::error::CliError;
use crate::progress::{bytes, bytes_bar, count};

/// Verify a signed manifest and all its shards.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Trusted public key file (tessera.pub.json); repeat for several keys.
    #[arg(long = "pub", value_name = "PUBKEY.json", required = true)]
    keys: Vec<PathBuf>,
    /// Distinct trusted keys that must have signed.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    threshold: u16,
    /// Artifacts directory holding `_shards/` (default: derived from MANIFEST's location,
    /// ARTIFACTS/<name>/manifest.json or ARTIFACTS/<name>/versions/<v>.json).
    #[arg(long, value_name = "DIR")]
    artifacts: Option<PathBuf>,
    /// The signed manifest, e.g. ARTIFACTS/<name>/manifest.json.
    #[arg(value_name = "MANIFEST")]
    manifest: PathBuf,
}

/// Runs `tessera verify`.
pub fn run(args: &VerifyArgs, quiet: bool) -> Result<(), CliError> {
    let trusted = load_trusted_keys(&args.keys)?;
    let bar = bytes_bar("verifying", 0, quiet);
    let report = verify(
        &args.manifest,
        args.artifacts.as_deref(),
        &trusted,
        usize::from(args.threshold),
        &mut |event| match event {
            VerifyEvent::Started { bytes } => bar.set_length(bytes),
            VerifyEvent::Shard { file, shard, .. } => {
                bar.set_message(file.to_string());
                bar.inc(shard.size);
            }
            _ => {}
        },
    );
    bar.finish_and_clear();
    let report = report?;
    if !report.is_ok() {
        return Err(CliError::VerifyFailed {
            manifest: args.manifest.clone(),
            failures: report.failures,
        });
    }
    let manifest = &report.manifest;
    println!(
        "ok: {} {} — signature valid, {}, {}, {} verified",
        manifest.name,
        manifest.version,
        count(report.files, "file"),
        count(report.shards, "shard"),
        bytes(report.bytes)
    );
    if unix_now() >= manifest.expires_at {
        eprintln!(
            "warning: this manifest expired at Unix time {}; clients will refuse it until it is re-packed",
            manifest.expires_at
        );
    }
    Ok(())
}
