//! `tessera hostile-manifests`: write the hostile-manifest table — the manifests every tessera
//! client must refuse, each with its code — for a packed model, to test a client or a
//! deployment against (tessera's own browser suites use it). The work is
//! `tessera_artifacts::hostile`; this module parses flags and prints the table.

use std::path::PathBuf;

use clap::Args;
use tessera_artifacts::{hostile, load_signing_key};

use crate::error::CliError;

/// Write the hostile-manifest table for a packed model.
#[derive(Debug, Args)]
pub struct HostileArgs {
    /// The key the client under test trusts (tessera.key from `tessera keygen`).
    #[arg(long, value_name = "KEY")]
    key: PathBuf,
    /// A packed model's manifest (ARTIFACTS/NAME/manifest.json): the cases reuse its files.
    #[arg(long, value_name = "MANIFEST")]
    from: PathBuf,
    /// Case C is published as model PREFIX+C.
    #[arg(long, default_value = "hostile-")]
    prefix: String,
    /// Directory to write cases.json and the envelopes into.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

/// Runs `tessera hostile-manifests`.
pub fn run(args: &HostileArgs) -> Result<(), CliError> {
    let key = load_signing_key(&args.key)?;
    let now = tessera_artifacts::pack::unix_now();
    let table = hostile::write_table(&args.from, &key, &args.prefix, now, &args.out)?;
    for case in &table {
        println!("{}\t{}\t{}", case.case, case.model, case.code);
    }
    Ok(())
}
