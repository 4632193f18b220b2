//! The web build: `tessera-sw` → wasm32 → `wasm-bindgen --target web` → `wasm-opt -Oz` (release)
//! → `target/web/` together with the service worker and page client scripts from `sw/js/`.
//! It shells out to cargo, wasm-bindgen and npm's binaryen; it holds no project logic.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{cargo, root, run, StepError};

/// Files copied from `sw/js/` next to the generated glue.
const JS_FILES: [&str; 4] = [
    "sw.js",
    "tessera-sw-lib.js",
    "tessera-client.js",
    "tessera-client.d.ts",
];

/// Builds the service worker into `target/web/` and returns that directory. `release` uses the
/// `wasm-release` profile and runs `wasm-opt -Oz`; otherwise a quick dev build.
pub fn build_web(release: bool) -> crate::Result<PathBuf> {
    let root = root();
    let profile = if release { "wasm-release" } else { "dev" };
    run(cargo().args([
        "build",
        "-p",
        "tessera-sw",
        "--target",
        "wasm32-unknown-unknown",
        "--profile",
        profile,
    ]))?;
    let target_dir =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let profile_dir = if release { "wasm-release" } else { "debug" };
    let wasm = target_dir
        .join("wasm32-unknown-unknown")
        .join(profile_dir)
        .join("tessera_sw.wasm");
    let out = root.join("target").join("web");
    std::fs::create_dir_all(&out)
        .map_err(|e| StepError(format!("cannot create {}: {e}", out.display())))?;

    crate::setup::wasm_bindgen_cli()?;
    run(Command::new("wasm-bindgen")
        .args(["--target", "web", "--out-name", "tessera_sw", "--out-dir"])
        .arg(&out)
        .arg(&wasm))?;

    let bg = out.join("tessera_sw_bg.wasm");
    if release {
        let wasm_opt = root.join("node_modules").join(".bin").join("wasm-opt");
        crate::setup::npm_packages()?;
        run(Command::new(&wasm_opt)
            .args([
                "-Oz",
                "--enable-bulk-memory",
                "--enable-nontrapping-float-to-int",
                "--enable-sign-ext",
                "--enable-mutable-globals",
                "--enable-reference-types",
                "--enable-multivalue",
                "-o",
            ])
            .arg(&bg)
            .arg(&bg))?;
    }
    for name in JS_FILES {
        copy(&root.join("sw").join("js").join(name), &out.join(name))?;
    }
    Ok(out)
}

fn copy(from: &Path, to: &Path) -> crate::Result {
    std::fs::copy(from, to).map(|_| ()).map_err(|e| {
        StepError(format!(
            "cannot copy {} to {}: {e}",
            from.display(),
            to.display()
        ))
    })
}
