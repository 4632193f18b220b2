//! `tessera`: make signing keys, pack model files into signed, sharded artifacts, verify them,
//! compare versions, serve them (with an inference API), and mint tokens for that API.
//!
//! This binary parses arguments, drives progress bars and prints results; packing, verifying
//! and key handling are `tessera-artifacts`, the rules are `tessera-core`, the server is
//! `tessera-edge`. Failures print `error[code]: message` on stderr and exit 1 (2 for bad
//! arguments); no input makes it panic.

mod check;
mod commands;
mod error;
mod progress;
mod units;

use std::io::IsTerminal as _;
use std::process::ExitCode;

use clap::{ArgAction, Parser, Subcommand};
use tessera_core::ErrorCode as _;
use tracing_subscriber::EnvFilter;

use crate::commands::{diff, hostile, keygen, pack, serve, token, verify};
use crate::error::CliError;

/// Signed, sharded model artifacts for offline-first browser AI.
#[derive(Debug, Parser)]
#[command(name = "tessera", version, about, propagate_version = false)]
struct Cli {
    /// More log output on stderr (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, action = ArgAction::Count, global = true, display_order = 900)]
    verbose: u8,
    /// No progress bars; `keygen` prints nothing on success.
    #[arg(short, long, global = true, display_order = 901)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create an Ed25519 signing key pair (tessera.key, tessera.pub.json).
    Keygen(keygen::KeygenArgs),
    /// Shard model files, sign a manifest and publish it into an artifacts directory.
    Pack(pack::PackArgs),
    /// Verify a signed manifest against trusted keys, then every shard and file.
    Verify(verify::VerifyArgs),
    /// Show which shards an update keeps, adds and drops, and the bytes to download.
    Diff(diff::DiffArgs),
    /// Serve an artifacts directory (and optionally an app) over HTTP until Ctrl-C.
    Serve(serve::ServeArgs),
    /// Mint a bearer token (EdDSA JWT) for the edge's inference API.
    Token(token::TokenArgs),
    /// Write the manifests every client must refuse (with their codes), for testing clients.
    HostileManifests(hostile::HostileArgs),
    /// Audit a live deployment (TLS, HSTS, HTTP/2, CSP, CORS, Range, caching, signatures, auth,
    /// rate limits): one pass/warn/fail row per finding, exit 1 on any fail.
    Check(check::CheckArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            for detail in err.details() {
                eprintln!("error[{}]: {detail}", detail.code());
            }
            eprintln!("error[{}]: {err}", err.code());
            ExitCode::from(err.exit_code())
        }
    }
}

fn run(cli: &Cli) -> Result<(), CliError> {
    match &cli.command {
        Command::Keygen(args) => keygen::run(args, cli.quiet),
        Command::Pack(args) => pack::run(args, cli.quiet),
        Command::Verify(args) => verify::run(args, cli.quiet),
        Command::Diff(args) => diff::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Token(args) => token::run(args),
        Command::HostileManifests(args) => hostile::run(args),
        Command::Check(args) => Ok(check::run(args)?),
    }
}

/// Logs go to stderr; the default shows warnings only, so stdout stays the command's result.
fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // Fails only if a global subscriber is already set, which nothing else here does.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .without_time()
        .try_init();
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
