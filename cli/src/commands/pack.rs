//! `tessera pack`: shard model files, sign a manifest and publish it into an artifact directory.
//!
//! This module turns flags into [`PackOptions`] (sizes, durations, names) and library progress
//! into a bar and a summary; all file work is `tessera_artifacts::pack`.

use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use clap::Args;
use tessera_artifacts::pack::{MAX_SHARD_SIZE, MIN_SHARD_SIZE, RECOMMENDED_MIN_SHARD_SIZE};
use tessera_artifacts::{
    load_manifest_key, pack, read_test_vectors, PackEvent, PackInput, PackOptions,
};
use tessera_core::layout::{LayoutError, LogicalPath, ModelName};

use crate::error::CliError;
use crate::progress::{bytes, bytes_bar, count};
use crate::units::{parse_duration, parse_size};

/// Pack model files into a signed, sharded artifact.
#[derive(Debug, Args)]
pub struct PackArgs {
    /// Private key (PKCS#8 PEM): Ed25519 or ECDSA P-256, from `tessera keygen` or `openssl
    /// genpkey` (e.g. -algorithm EC -pkeyopt ec_paramgen_curve:P-256).
    #[arg(long, value_name = "KEY", env = "TESSERA_KEY")]
    key: PathBuf,
    /// Model name: 1-64 characters a-z 0-9 . _ -, starting with a letter or digit.
    #[arg(long)]
    name: String,
    /// Model version (SemVer, e.g. 1.2.0); must be newer than the current one.
    #[arg(long, value_name = "X.Y.Z")]
    version: String,
    /// How long the manifest stays valid, e.g. 90d, 12h, 1y.
    #[arg(long, value_name = "DURATION", default_value = "30d")]
    expires: String,
    /// Shard size, e.g. 4MiB, 512K, 1048576 (K/M = KiB/MiB). Accepted: 1 KiB..=64 MiB; below
    /// 64 KiB is meant for tests.
    #[arg(long, value_name = "SIZE", default_value = "4MiB")]
    shard_size: String,
    /// JSON file with an array of known-answer test vectors to embed.
    #[arg(long, value_name = "FILE")]
    test_vectors: Option<PathBuf>,
    /// Inference engine the model needs.
    #[arg(long, default_value = tessera_core::manifest::ENGINE_WONNX)]
    engine: String,
    /// Runtime ABI version the model was packed for.
    #[arg(long, default_value_t = tessera_artifacts::pack::DEFAULT_ABI)]
    abi: u32,
    /// Publish even if the version is not newer than the current manifest's.
    #[arg(long)]
    force: bool,
    /// The file the runtime loads (a logical path among FILE). Default: the only .onnx file,
    /// else the only file; with several candidates it must be given.
    #[arg(long, value_name = "LOGICAL")]
    entry: Option<String>,
    /// Artifacts directory (created if missing).
    #[arg(long, value_name = "ARTIFACTS")]
    out: PathBuf,
    /// Files to pack. The logical path is the file name; write LOGICAL=PATH to choose
    /// another (e.g. tokenizer/vocab.json=./vocab.json). The first '=' splits.
    #[arg(value_name = "FILE", required = true)]
    files: Vec<String>,
}

/// Runs `tessera pack`.
pub fn run(args: &PackArgs, quiet: bool) -> Result<(), CliError> {
    let name: ModelName = args.name.parse()?;
    let version: semver::Version =
        args.version
            .parse()
            .map_err(|e: semver::Error| CliError::InvalidVersion {
                input: args.version.clone(),
                reason: e.to_string(),
            })?;
    let valid_for = parse_duration(&args.expires).map_err(|reason| CliError::InvalidExpires {
        input: args.expires.clone(),
        reason,
    })?;
    let shard_size = shard_size(&args.shard_size)?;
    let inputs = args
        .files
        .iter()
        .map(|f| input(f))
        .collect::<Result<Vec<_>, _>>()?;
    let key = load_manifest_key(&args.key)?;

    let mut options = PackOptions::new(name, version);
    options.valid_for = valid_for;
    options.shard_size = shard_size;
    options.engine.clone_from(&args.engine);
    options.abi = args.abi;
    options.force = args.force;
    options.entry = args.entry.as_deref().map(str::parse).transpose()?;
    if let Some(path) = &args.test_vectors {
        options.test_vectors = read_test_vectors(path)?;
    }

    let total = inputs
        .iter()
        .map(|i| i.source.metadata().map_or(0, |m| m.len()))
        .sum();
    let bar = bytes_bar("packing", total, quiet);
    let report = pack(
        &args.out,
        &inputs,
        &options,
        &key,
        &mut |event| match event {
            PackEvent::FileStarted { path, .. } => bar.set_message(path.to_string()),
            PackEvent::Shard { shard, .. } => bar.inc(shard.size),
            _ => {}
        },
    );
    bar.finish_and_clear();
    let report = report?;

    let manifest = &report.manifest;
    let total: u64 = manifest.files.iter().map(|f| f.size).sum();
    println!("packed {} {}", manifest.name, manifest.version);
    println!("  files:    {}, {}", manifest.files.len(), bytes(total));
    println!(
        "  shards:   {} written, {}; {} reused, {}",
        report.shards_written,
        bytes(report.bytes_written),
        report.shards_reused,
        bytes(report.bytes_reused)
    );
    if !manifest.runtime.ops.is_empty() {
        println!("  ops:      {}", manifest.runtime.ops.join(", "));
    }
    if !manifest.test_vectors.is_empty() {
        println!(
            "  tests:    {}",
            count(manifest.test_vectors.len(), "test vector")
        );
    }
    println!("  expires:  {}", rfc3339(manifest.expires_at));
    println!("  manifest: {}", report.manifest_path.display());
    println!("  version:  {}", report.version_path.display());
    Ok(())
}

/// Parses and range-checks `--shard-size`.
fn shard_size(input: &str) -> Result<u64, CliError> {
    let invalid = |reason: String| CliError::InvalidShardSize {
        input: input.to_owned(),
        reason,
    };
    let size = parse_size(input).map_err(invalid)?;
    if !(MIN_SHARD_SIZE..=MAX_SHARD_SIZE).contains(&size) {
        return Err(invalid(format!(
            "{size} bytes is outside the accepted range {MIN_SHARD_SIZE} (1 KiB) ..= {MAX_SHARD_SIZE} (64 MiB)"
        )));
    }
    if size < RECOMMENDED_MIN_SHARD_SIZE {
        tracing::warn!(
            "shard size {size} bytes is below 64 KiB: fine for tests, slow for real models"
        );
    }
    Ok(size)
}

/// `PATH` (logical path = file name) or `LOGICAL=PATH`.
fn input(arg: &str) -> Result<PackInput, CliError> {
    let (logical, source) = match arg.split_once('=') {
        Some((logical, source)) => (logical.to_owned(), PathBuf::from(source)),
        None => {
            let source = PathBuf::from(arg);
            let name = Path::new(arg)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, source)
        }
    };
    let path: LogicalPath = logical.parse().map_err(|_: LayoutError| {
        LayoutError::InvalidLogicalPath(format!("{logical} (from {arg})"))
    })?;
    Ok(PackInput { path, source })
}

fn rfc3339(unix_secs: u64) -> String {
    UNIX_EPOCH
        .checked_add(Duration::from_secs(unix_secs))
        .map_or_else(
            || format!("{unix_secs} (Unix seconds)"),
            |t| humantime::format_rfc3339_seconds(t).to_string(),
        )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use tessera_core::ErrorCode as _;

    use super::*;

    #[test]
    fn file_arguments_name_their_logical_path() {
        let cases = [
            ("models/v2/model.onnx", "model.onnx", "models/v2/model.onnx"),
            (
                "tokenizer/vocab.json=./vocab.json",
                "tokenizer/vocab.json",
                "./vocab.json",
            ),
            ("w.bin=data/a=b.bin", "w.bin", "data/a=b.bin"),
        ];
        for (arg, logical, source) in cases {
            let input = input(arg).unwrap();
            assert_eq!(
                (input.path.as_str(), input.source.as_path()),
                (logical, Path::new(source))
            );
        }
        for bad in ["../x=y", "/", "has space.bin", "manifest.json", "=w.bin"] {
            assert_eq!(input(bad).unwrap_err().code(), "invalid-file-path", "{bad}");
        }
    }

    #[test]
    fn shard_sizes_outside_the_range_are_usage_errors() {
        assert_eq!(shard_size("4MiB").unwrap(), 4 << 20);
        assert_eq!(shard_size("1K").unwrap(), 1024);
        for bad in ["1023", "65MiB", "lots", "0"] {
            let err = shard_size(bad).unwrap_err();
            assert_eq!(
                (err.code(), err.exit_code()),
                ("invalid-shard-size", 2),
                "{bad}"
            );
        }
    }
}
