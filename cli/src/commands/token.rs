//! `tessera token`: mint a bearer token for the edge's inference API.
//!
//! Prints an EdDSA JWT signed with a `tessera keygen` private key (`kid` = its key id), for the
//! audience a server was started with (`tessera serve --auth-key … --auth-audience …`), valid
//! for `--ttl` from now. It keeps no record of the tokens it issued and cannot revoke them: keep
//! the TTL short.

use std::path::PathBuf;

use clap::Args;
use tessera_artifacts::load_signing_key;
use tessera_edge::inference::issue_token;

use crate::error::CliError;
use crate::units::parse_duration;

/// Mint a bearer token for the inference API.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// Private key to sign with (tessera.key from `tessera keygen`).
    #[arg(long, value_name = "KEY")]
    key: PathBuf,
    /// Audience: the server's --auth-audience.
    #[arg(long, value_name = "AUD")]
    aud: String,
    /// How long the token is valid, e.g. 15m, 1h, 7d.
    #[arg(long, value_name = "DURATION", default_value = "15m")]
    ttl: String,
    /// Subject: who the token is for (also its rate-limit bucket on the server).
    #[arg(long, value_name = "SUBJECT")]
    sub: Option<String>,
}

/// Runs `tessera token`.
pub fn run(args: &TokenArgs) -> Result<(), CliError> {
    let ttl = parse_duration(&args.ttl).map_err(|reason| CliError::InvalidTtl {
        input: args.ttl.clone(),
        reason,
    })?;
    let key = load_signing_key(&args.key)?;
    let token = issue_token(
        &key,
        &args.aud,
        ttl,
        args.sub.as_deref(),
        tessera_artifacts::pack::unix_now(),
    )?;
    println!("{token}");
    Ok(())
}
