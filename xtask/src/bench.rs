//! `cargo xtask bench [--quick] [--only ITEMS]`: tessera measured side by side with its peers.
//!
//! Installs what `cargo xtask test` installs (Debian's `hey`, the edge load generator, included), builds
//! the release `tessera` CLI, the release web build and the edge worker (`target/edge-worker/`), builds the demo models into
//! `target/demo-models/` when missing (the folder the Playwright demo world reuses), then runs
//! `node bench/run.js`, which writes `target/bench/results.json` and the generated part of
//! BENCHMARKS.md. The measuring is all in `bench/`; this only prepares and launches it.

use std::path::PathBuf;
use std::process::Command;

use crate::{build_all_web, cargo, root, run, Result};

/// Files `models/make_models.py` writes that the benches read.
const DEMO_MODEL_FILES: [&str; 5] = [
    "travel.json",
    "recommender.onnx",
    "recommender.vectors.json",
    "summarizer.onnx",
    "summarizer.vectors.json",
];

/// Runs the whole benchmark: setup, release builds, demo models, `node bench/run.js`.
pub fn bench(quick: bool, only: Option<&str>) -> Result {
    crate::install_tools()?;
    let root = root();
    run(cargo().args(["build", "--release", "-p", "tessera-cli"]))?;
    let tessera = target_dir().join("release").join("tessera");
    let web = build_all_web(true)?;
    // Item 10: the edge worker (always a release build) on workerd against `tessera serve`.
    let worker = crate::edge_worker::build()?;

    let models = root.join("target").join("demo-models");
    if DEMO_MODEL_FILES.iter().any(|f| !models.join(f).exists()) {
        crate::demo::make_models(&root, &models)?;
    }

    let mut shown = String::from("cargo xtask bench");
    let mut node = Command::new("node");
    node.arg("bench/run.js").current_dir(&root);
    if quick {
        node.arg("--quick");
        shown.push_str(" --quick");
    }
    if let Some(items) = only {
        node.args(["--only", items]);
        shown.push_str(&format!(" --only {items}"));
    }
    run(node
        .env("TESSERA_BIN", &tessera)
        .env("TESSERA_WEB_DIR", &web)
        .env("EDGE_WORKER_DIST", &worker)
        .env("TESSERA_DEMO_MODELS", &models)
        .env("BENCH_COMMAND", &shown))
}

/// Cargo's target directory (`$CARGO_TARGET_DIR` or `<root>/target`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
}
