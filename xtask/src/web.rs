//! The web build: a wasm crate → wasm32 → `wasm-bindgen --target web` → `wasm-opt -Oz`
//! (release) → `target/web/`, next to the hand-written scripts that go with it. Two packages are
//! built this way: the service worker (`tessera-sw` + `sw/js/`) and the inference runtime
//! (`tessera-runtime` + `runtime/js/`). It shells out to cargo, wasm-bindgen and npm's binaryen;
//! it holds no project logic.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{cargo, root, run, StepError};

/// One wasm crate and the scripts shipped beside its generated glue.
#[derive(Debug)]
pub struct WebPackage {
    /// Cargo package name.
    package: &'static str,
    /// The wasm file's stem, also the glue's `--out-name` (`tessera_sw` → `tessera_sw_bg.wasm`).
    stem: &'static str,
    /// Folder of hand-written scripts, relative to the workspace root.
    js_dir: &'static str,
    /// Scripts copied from `js_dir` into `target/web/`.
    js_files: &'static [&'static str],
}

/// The service worker: the drop-in `sw.js`, its library and the page client.
pub const SERVICE_WORKER: WebPackage = WebPackage {
    package: "tessera-sw",
    stem: "tessera_sw",
    js_dir: "sw/js",
    js_files: &[
        "sw.js",
        "tessera-sw-lib.js",
        "tessera-client.js",
        "tessera-client.d.ts",
    ],
};

/// The inference runtime: its dedicated worker and the page client. Its wasm needs
/// `--cfg=web_sys_unstable_apis` (wonnx's wgpu uses web-sys' WebGPU bindings), which
/// `.cargo/config.toml` sets for wasm32.
pub const RUNTIME: WebPackage = WebPackage {
    package: "tessera-runtime",
    stem: "tessera_runtime",
    js_dir: "runtime/js",
    js_files: &[
        "tessera-runtime-worker.js",
        "tessera-runtime.js",
        "tessera-runtime.d.ts",
    ],
};

/// Builds `web` into `target/web/` and returns that directory. `release` uses the
/// `wasm-release` profile and runs `wasm-opt -Oz`; otherwise a quick dev build.
pub fn build(web: &WebPackage, release: bool) -> crate::Result<PathBuf> {
    let root = root();
    let profile = if release { "wasm-release" } else { "dev" };
    run(cargo().args([
        "build",
        "-p",
        web.package,
        "--lib",
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
        .join(format!("{}.wasm", web.stem));
    let out = root.join("target").join("web");
    std::fs::create_dir_all(&out)
        .map_err(|e| StepError(format!("cannot create {}: {e}", out.display())))?;

    crate::setup::wasm_bindgen_cli()?;
    run(Command::new("wasm-bindgen")
        .args(["--target", "web", "--out-name", web.stem, "--out-dir"])
        .arg(&out)
        .arg(&wasm))?;

    let bg = out.join(format!("{}_bg.wasm", web.stem));
    if release {
        crate::setup::npm_packages()?;
        let wasm_opt = root.join("node_modules").join(".bin").join("wasm-opt");
        run(Command::new(&wasm_opt)
            .args([
                "-Oz",
                "--enable-bulk-memory",
                "--enable-nontrapping-float-to-int",
                "--enable-sign-ext",
                "--enable-mutable-globals",
                "--enable-reference-types",
                "--enable-multivalue",
                // The wasm-release profile keeps these for wasm-bindgen; drop them here.
                "--strip-producers",
                "--strip-target-features",
                "-o",
            ])
            .arg(&bg)
            .arg(&bg))?;
    }
    for name in web.js_files {
        copy(&root.join(web.js_dir).join(name), &out.join(name))?;
    }
    let size = std::fs::metadata(&bg).map(|m| m.len()).unwrap_or(0);
    eprintln!("xtask: {} ({size} bytes)", bg.display());
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
