//! The edge worker (`edge-worker/`): tessera's inference API on workerd. [`build`] compiles the
//! crate for wasm32 (release, in its own target directory, with its own Cargo.lock: the crate
//! is outside the workspace) and runs `wasm-bindgen --target web` into `target/edge-worker/`;
//! [`test`] builds it, makes sure the debug `tessera` CLI and the demo models exist, and runs
//! `node --test edge-worker/tests/` (the worker on local workerd against `tessera serve`).
//!
//! It shells out to cargo, wasm-bindgen and node; it holds no project logic.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{cargo, root, run, run_tests, Result, StepError, Tally};

/// Where the worker crate compiles: outside the workspace's `target/` (so its wasm32/tract build
/// never invalidates or waits on it), shared with the runtime's CPU engine so tract compiles
/// once for both ([`crate::web::simd_target_dir`]).
pub fn target_dir() -> PathBuf {
    crate::web::simd_target_dir()
}

/// What wasm-bindgen writes into `target/edge-worker/`.
const OUTPUTS: [&str; 4] = [
    "tessera_edge_worker.js",
    "tessera_edge_worker_bg.wasm",
    "tessera_edge_worker.d.ts",
    "tessera_edge_worker_bg.wasm.d.ts",
];

/// Builds the worker into `target/edge-worker/` (`tessera_edge_worker.js`,
/// `tessera_edge_worker_bg.wasm`); returns that directory.
pub fn build() -> Result<PathBuf> {
    crate::setup::rust_wasm_target()?;
    crate::setup::wasm_bindgen_cli()?;
    let root = root();
    let crate_dir = root.join("edge-worker");
    let target = target_dir();
    run(cargo()
        .current_dir(&crate_dir)
        .env("CARGO_TARGET_DIR", &target)
        .args([
            "build",
            "--locked",
            "--release",
            "--target",
            "wasm32-unknown-unknown",
        ]))?;
    let wasm = target
        .join("wasm32-unknown-unknown")
        .join("release")
        .join("tessera_edge_worker.wasm");
    let out = root.join("target").join("edge-worker");
    std::fs::create_dir_all(&out)
        .map_err(|e| StepError(format!("cannot create {}: {e}", out.display())))?;
    // wasm-bindgen rewrites existing outputs in place: a file hard-linked from another checkout's
    // target/ (a pre-seeded or `cp -al` copy) would change there too. Unlink them first.
    for file in OUTPUTS {
        match std::fs::remove_file(out.join(file)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(StepError(format!("cannot replace {file}: {e}")));
            }
            _ => {}
        }
    }
    run(Command::new("wasm-bindgen")
        .args([
            "--target",
            "web",
            // The name section is 1.6 MB of the 17 MB module (tract): not shipped.
            "--remove-name-section",
            "--remove-producers-section",
            "--out-name",
            "tessera_edge_worker",
            "--out-dir",
        ])
        .arg(&out)
        .arg(&wasm))?;
    let size = std::fs::metadata(out.join("tessera_edge_worker_bg.wasm")).map_or(0, |m| m.len());
    eprintln!("xtask: {} ({size} bytes)", out.display());
    Ok(out)
}

/// rustfmt and clippy over the wasm SIMD crates outside the workspace (this worker and the
/// runtime's CPU engine, `runtime-cpu/`), for wasm32 in their shared target directory: the
/// workspace's `cargo fmt --all` and `cargo clippy --workspace` do not reach them.
pub fn lint() -> Result {
    crate::setup::rust_wasm_target()?;
    for dir in ["edge-worker", "runtime-cpu"] {
        let crate_dir = root().join(dir);
        run(cargo().current_dir(&crate_dir).args(["fmt", "--check"]))?;
        run(cargo()
            .current_dir(&crate_dir)
            .env("CARGO_TARGET_DIR", target_dir())
            .args([
                "clippy",
                "--locked",
                "--release",
                "--target",
                "wasm32-unknown-unknown",
                "--",
                "-D",
                "warnings",
                "-W",
                "clippy::unwrap_used",
                "-W",
                "clippy::expect_used",
            ]))?;
    }
    Ok(())
}

/// Builds the worker, then runs its suite on local workerd against `tessera serve`.
pub fn test(tally: &mut Tally) -> Result {
    let root = root();
    let dist = build()?;
    crate::setup::npm_packages()?;
    run(cargo().args(["build", "-p", "tessera-cli"]))?;
    let models = demo_models(&root)?;
    run_tests(
        Command::new("node")
            .args([
                "--test",
                "--test-reporter=tap",
                "edge-worker/tests/worker.test.mjs",
            ])
            .env("EDGE_WORKER_DIST", &dist)
            .env("TESSERA_DEMO_MODELS", &models)
            .env(
                "TESSERA_BIN",
                crate::bench::target_dir().join("debug").join("tessera"),
            )
            .current_dir(&root),
        tally,
    )
}

/// `target/demo-models/` (the folder the benches and the Playwright demo world share), made
/// with `models/make_models.py` when its recommender is missing.
fn demo_models(root: &Path) -> Result<PathBuf> {
    let models = std::env::var_os("TESSERA_DEMO_MODELS")
        .map_or_else(|| root.join("target").join("demo-models"), PathBuf::from);
    let wanted = ["recommender.onnx", "recommender.vectors.json"];
    if !wanted.iter().all(|f| models.join(f).exists()) {
        crate::demo::make_models(root, &models)?;
    }
    Ok(models)
}
