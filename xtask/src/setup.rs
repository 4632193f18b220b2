//! Idempotent machine setup: each step checks first and installs only what is missing.
//!
//! The machine is wiped between sessions, so everything the project needs installs from here:
//! the wasm32 target (rustup), `wasm-bindgen-cli` at exactly the `wasm-bindgen` version in
//! Cargo.lock (compiled from the crate registry, ~7 min, skipped when present), Debian packages
//! (installed with apt-get when running as root, otherwise a message saying what to install), npm
//! packages from package-lock.json (`npm ci`), and the Python packages of the demo models and of
//! bench item 8's onnxruntime anchor, pinned in `models/requirements.txt` (pip), and `cargo-fuzz`
//! at a pinned version (compiled from the crate registry). Nothing here downloads a binary from outside a package
//! registry.

use std::process::Command;

use crate::{output, root, run, Result, StepError};

/// `rustup target add wasm32-unknown-unknown` unless it is installed.
pub fn rust_wasm_target() -> Result {
    let installed = output(
        Command::new("rustup")
            .args(["target", "list", "--installed"])
            .current_dir(root()),
    )?;
    if installed
        .lines()
        .any(|l| l.trim() == "wasm32-unknown-unknown")
    {
        return Ok(());
    }
    run(Command::new("rustup")
        .args(["target", "add", "wasm32-unknown-unknown"])
        .current_dir(root()))
}

/// The `wasm-bindgen` version pinned in Cargo.lock.
pub fn locked_wasm_bindgen_version() -> Result<String> {
    let lock_path = root().join("Cargo.lock");
    let lock = std::fs::read_to_string(&lock_path)
        .map_err(|e| StepError(format!("cannot read {}: {e}", lock_path.display())))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "name = \"wasm-bindgen\"" {
            if let Some(version) = lines
                .next()
                .and_then(|l| l.trim().strip_prefix("version = \""))
                .and_then(|v| v.strip_suffix('"'))
            {
                return Ok(version.to_owned());
            }
        }
    }
    Err(StepError("Cargo.lock pins no wasm-bindgen version".into()))
}

/// `cargo install wasm-bindgen-cli --version <locked>` unless that exact version is on PATH.
/// (`--locked` is deliberately not passed: see shared/TOOLCHAIN.md.)
pub fn wasm_bindgen_cli() -> Result {
    let want = locked_wasm_bindgen_version()?;
    if prints_version(Command::new("wasm-bindgen").arg("--version"), &want) {
        return Ok(());
    }
    eprintln!("xtask: installing wasm-bindgen-cli {want} (compiles from source, several minutes)");
    run(Command::new("cargo").args(["install", "wasm-bindgen-cli", "--version", &want, "--force"]))
}

/// Whether `cmd` (a `--version` call) succeeds and prints `NAME <want>`.
fn prints_version(cmd: &mut Command, want: &str) -> bool {
    cmd.output()
        .ok()
        .filter(|o| o.status.success())
        .is_some_and(|o| String::from_utf8_lossy(&o.stdout).split_whitespace().nth(1) == Some(want))
}

/// The cargo-fuzz version `cargo xtask fuzz` drives (libFuzzer through `libfuzzer-sys`, see
/// fuzz/Cargo.lock).
pub const CARGO_FUZZ_VERSION: &str = "0.13.1";

/// `cargo install cargo-fuzz --version` [`CARGO_FUZZ_VERSION`] unless `cargo fuzz --version`
/// already prints it. It runs on the stable toolchain (with `RUSTC_BOOTSTRAP=1`, see `fuzz.rs`).
pub fn cargo_fuzz() -> Result {
    if prints_version(
        Command::new("cargo").args(["fuzz", "--version"]),
        CARGO_FUZZ_VERSION,
    ) {
        return Ok(());
    }
    eprintln!(
        "xtask: installing cargo-fuzz {CARGO_FUZZ_VERSION} (compiles from source, ~2 minutes)"
    );
    run(Command::new("cargo").args([
        "install",
        "cargo-fuzz",
        "--version",
        CARGO_FUZZ_VERSION,
        "--force",
    ]))
}

fn on_path(binary: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {binary}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// How to tell that a Debian package is already there.
#[derive(Debug, Clone, Copy)]
pub enum Present {
    /// A command on PATH.
    Binary(&'static str),
    /// A file it installs (for libraries and drivers, which add no command).
    File(&'static str),
}

impl Present {
    fn holds(self) -> bool {
        match self {
            Self::Binary(name) => on_path(name),
            Self::File(path) => std::path::Path::new(path).exists(),
        }
    }
}

/// Installs the Debian packages whose presence check fails.
pub fn apt_packages(wanted: &[(Present, &str)]) -> Result {
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|(present, _)| !present.holds())
        .map(|(_, package)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !is_root() {
        return Err(StepError(format!(
            "missing Debian packages; install them with: sudo apt-get install -y {}",
            missing.join(" ")
        )));
    }
    run(Command::new("apt-get").args(["update", "-q"]))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-q", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

/// `npm ci` from package-lock.json unless node_modules already matches it.
pub fn npm_packages() -> Result {
    let root = root();
    let lock = root.join("package-lock.json");
    let installed = root.join("node_modules").join(".package-lock.json");
    let fresh = match (std::fs::metadata(&lock), std::fs::metadata(&installed)) {
        (Ok(l), Ok(i)) => match (l.modified(), i.modified()) {
            (Ok(l), Ok(i)) => i >= l,
            _ => false,
        },
        _ => false,
    };
    if fresh {
        return Ok(());
    }
    run(Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
        .current_dir(&root))
}

/// `pip install -r models/requirements.txt` unless numpy, onnx, onnxruntime, in-toto-attestation
/// and cryptography are all importable (the demo models are built by `models/make_models.py`;
/// onnxruntime is bench item 8's native anchor, `models/bench_onnxruntime.py`; the last two check
/// tessera's signed statements in `cli/tests/interop.rs`).
pub fn python_packages() -> Result {
    let importable = Command::new("python3")
        .args([
            "-c",
            "import numpy, onnx, onnxruntime, in_toto_attestation, cryptography",
        ])
        .output()
        .is_ok_and(|o| o.status.success());
    if importable {
        return Ok(());
    }
    run(Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "-r"])
        .arg(root().join("models").join("requirements.txt")))
}
