//! `tessera keygen`: create a signing key pair for `pack` (Ed25519, or ECDSA P-256 with
//! `--algorithm ecdsa-p256`).
//!
//! Writes `tessera.key` (PKCS#8 PEM, which OpenSSL reads; mode 0600) and `tessera.pub.json`
//! (the public key file `verify` and clients trust). It never overwrites a key unless `--force`
//! is given.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use tessera_artifacts::{generate_key_pair_with, KeyAlgorithm};

use crate::error::CliError;

/// Create a signing key pair.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Directory to write tessera.key and tessera.pub.json into (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Replace existing key files (the old private key is lost).
    #[arg(long)]
    force: bool,
    /// Key type: ed25519 (signs manifests and inference tokens) or ecdsa-p256 (manifests only;
    /// the key type of Sigstore and OpenSSF Model Signing).
    #[arg(long, value_enum, default_value_t = Algorithm::Ed25519)]
    algorithm: Algorithm,
}

/// `--algorithm` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Algorithm {
    Ed25519,
    #[value(name = "ecdsa-p256")]
    EcdsaP256,
}

/// Runs `tessera keygen`; `quiet` (`-q`) prints nothing on success (the files say it all).
pub fn run(args: &KeygenArgs, quiet: bool) -> Result<(), CliError> {
    let algorithm = match args.algorithm {
        Algorithm::Ed25519 => KeyAlgorithm::Ed25519,
        Algorithm::EcdsaP256 => KeyAlgorithm::EcdsaP256,
    };
    let key = generate_key_pair_with(&args.out, args.force, algorithm)?;
    if quiet {
        return Ok(());
    }
    println!("keyid:       {}", key.keyid);
    println!(
        "private key: {} (keep it secret)",
        key.private_key.display()
    );
    println!("public key:  {}", key.public_key.display());
    Ok(())
}
