//! `tessera keygen`: create an Ed25519 signing key pair for `pack`.
//!
//! Writes `tessera.key` (PKCS#8 v1 PEM, which OpenSSL reads; mode 0600) and `tessera.pub.json`
//! (the public key file `verify` and clients trust). It never overwrites a key unless `--force`
//! is given.

use std::path::PathBuf;

use clap::Args;
use tessera_artifacts::generate_key_pair;

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
}

/// Runs `tessera keygen`; `quiet` (`-q`) prints nothing on success (the files say it all).
pub fn run(args: &KeygenArgs, quiet: bool) -> Result<(), CliError> {
    let key = generate_key_pair(&args.out, args.force)?;
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
