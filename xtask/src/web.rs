//! The web build: a wasm crate → wasm32 → `wasm-bindgen --target web` → `wasm-opt -Oz`
//! (release) → `target/web/`, next to the hand-written scripts that go with it. wasm-bindgen and
//! wasm-opt are skipped when a stamp (`target/web/.<stem>.stamp`) shows their outputs were made
//! from the same wasm with the same recipe and are untouched since, so a warm `cargo xtask demo`
//! starts in about a second. Four packages are built this way: the service worker (`tessera-sw` +
//! `sw/js/`), the inference runtime (`tessera-runtime` + `runtime/js/`), the runtime's WebGPU
//! engine (`tessera-runtime-webgpu`, wonnx) and its CPU
//! engine (`tessera-runtime-cpu`, a crate outside the workspace built with wasm SIMD into the
//! target directory it shares with the edge worker, [`simd_target_dir`]). It shells out to
//! cargo, wasm-bindgen and npm's binaryen; it holds no project logic.

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
    /// A crate outside the workspace (its folder): built with its own lockfile and wasm SIMD,
    /// always in release (tract unoptimised is ~50× slower), into [`simd_target_dir`]; shipped
    /// without wasm-opt (its tract kernels are `-O3`, and binaryen takes minutes on it).
    standalone: Option<&'static str>,
    /// Release only: what else makes this package small, on top of the `wasm-release` profile
    /// and `wasm-opt -Oz` (see [`Shrink`]).
    shrink: Shrink,
}

/// Release-only size settings of one package (the service worker's download size has a
/// budget: issue #10, ≤ 250 kB brotli for wasm + JS).
#[derive(Debug, Clone, Copy)]
struct Shrink {
    /// Extra `rustflags` for the release wasm32 build (added to `.cargo/config.toml`'s).
    rustflags: &'static [&'static str],
    /// Extra `wasm-opt` arguments after [`WASM_OPT_ARGS`].
    wasm_opt: &'static [&'static str],
    /// Minify wasm-bindgen's generated glue (`STEM.js`) with esbuild.
    minify_glue: bool,
}

const NO_SHRINK: Shrink = Shrink {
    rustflags: &[],
    wasm_opt: &[],
    minify_glue: false,
};

/// Where the wasm SIMD crates outside the workspace (`runtime-cpu/`, `edge-worker/`) build:
/// one directory, so their common dependencies (tract, wonnx's protobuf types, tessera-core)
/// compile once. `CARGO_TARGET_DIR_WASM_SIMD` overrides it.
pub fn simd_target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR_WASM_SIMD")
        .map_or_else(|| root().join("target").join("wasm-simd"), PathBuf::from)
}

/// The service worker: the drop-in `sw.js`, its library and the page client.
pub const SERVICE_WORKER: WebPackage = WebPackage {
    package: "tessera-sw",
    stem: "tessera_sw",
    js_dir: "sw/js",
    js_files: &[
        "sw.js",
        "tessera-sw-lib.js",
        "tessera-workbox.js",
        "tessera-client.js",
        "tessera-client.d.ts",
    ],
    standalone: None,
    // sha2's compact software backend: the worker hashes shard bytes with WebCrypto
    // (sw/src/hash.rs); its wasm sha2 only checks manifest signatures (a few kB), where the
    // unrolled rounds cost ~3 kB of brotli'd wasm for nothing. `--converge` reruns -Oz until
    // nothing shrinks; the glue is generated code nobody reads in the browser.
    shrink: Shrink {
        rustflags: &["--cfg=sha2_backend_soft=\"compact\""],
        wasm_opt: &["--converge"],
        minify_glue: true,
    },
};

/// The inference runtime: its dedicated worker and the page client. Its wasm needs
/// `--cfg=web_sys_unstable_apis` (its adapter probe uses web-sys' WebGPU bindings), which
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
    standalone: None,
    shrink: NO_SHRINK,
};

/// The runtime's WebGPU engine: wonnx (wgpu on web-sys' WebGPU bindings, hence the same
/// `--cfg=web_sys_unstable_apis`), loaded by the runtime's worker on demand.
pub const RUNTIME_WEBGPU: WebPackage = WebPackage {
    package: "tessera-runtime-webgpu",
    stem: "tessera_runtime_webgpu",
    js_dir: "runtime-webgpu",
    js_files: &[],
    standalone: None,
    shrink: NO_SHRINK,
};

/// The runtime's CPU engine: tract on wasm32 + SIMD, loaded by the runtime's worker on demand.
pub const RUNTIME_CPU: WebPackage = WebPackage {
    package: "tessera-runtime-cpu",
    stem: "tessera_runtime_cpu",
    js_dir: "runtime-cpu",
    js_files: &[],
    standalone: Some("runtime-cpu"),
    shrink: NO_SHRINK,
};

/// Builds `web` into `target/web/` and returns that directory. `release` uses the
/// `wasm-release` profile and runs `wasm-opt -Oz`; otherwise a quick dev build.
pub fn build(web: &WebPackage, release: bool) -> crate::Result<PathBuf> {
    let root = root();
    let (wasm, profile) = match web.standalone {
        Some(dir) => {
            let target_dir = simd_target_dir();
            run(cargo()
                .current_dir(root.join(dir))
                .env("CARGO_TARGET_DIR", &target_dir)
                .args([
                    "build",
                    "--locked",
                    "--lib",
                    "--release",
                    "--target",
                    "wasm32-unknown-unknown",
                ]))?;
            let wasm = target_dir
                .join("wasm32-unknown-unknown")
                .join("release")
                .join(format!("{}.wasm", web.stem));
            (wasm, "release (simd128)")
        }
        None => {
            let profile = if release { "wasm-release" } else { "dev" };
            let mut build = cargo();
            build.args([
                "build",
                "-p",
                web.package,
                "--lib",
                "--target",
                "wasm32-unknown-unknown",
                "--profile",
                profile,
            ]);
            if release && !web.shrink.rustflags.is_empty() {
                // Arrays given with `--config` are appended to the config file's.
                let flags: Vec<String> = web
                    .shrink
                    .rustflags
                    .iter()
                    // TOML literal strings: the flags hold no single quote.
                    .map(|f| format!("'{f}'"))
                    .collect();
                build.arg("--config").arg(format!(
                    "target.wasm32-unknown-unknown.rustflags=[{}]",
                    flags.join(",")
                ));
            }
            run(&mut build)?;
            let target_dir = std::env::var_os("CARGO_TARGET_DIR")
                .map_or_else(|| root.join("target"), PathBuf::from);
            let profile_dir = if release { "wasm-release" } else { "debug" };
            let wasm = target_dir
                .join("wasm32-unknown-unknown")
                .join(profile_dir)
                .join(format!("{}.wasm", web.stem));
            (wasm, profile)
        }
    };
    let optimise = release && web.standalone.is_none();
    let out = root.join("target").join("web");
    std::fs::create_dir_all(&out)
        .map_err(|e| StepError(format!("cannot create {}: {e}", out.display())))?;

    crate::setup::wasm_bindgen_cli()?;
    let bg = out.join(format!("{}_bg.wasm", web.stem));
    let generated = generated_files(&out, web.stem);
    let stamp_file = out.join(format!(".{}.stamp", web.stem));
    let recipe = format!(
        "profile {profile}\nwasm-bindgen {}\nwasm-opt {}\nminify {}\n",
        crate::setup::locked_wasm_bindgen_version()?,
        if optimise {
            [&WASM_OPT_ARGS[..], web.shrink.wasm_opt].concat().join(" ")
        } else {
            "-".into()
        },
        if optimise && web.shrink.minify_glue {
            "esbuild --minify"
        } else {
            "-"
        },
    );
    if is_fresh(&stamp_file, &recipe, &wasm, &generated) {
        // Nothing changed since the last build of these outputs: wasm-bindgen and wasm-opt
        // (the slow part of a warm `cargo xtask demo`) would write the same bytes again.
        eprintln!(
            "xtask: {} is up to date (wasm-bindgen{} skipped)",
            bg.display(),
            if optimise { ", wasm-opt" } else { "" }
        );
    } else {
        // A build cut short must not look fresh next time.
        let _ = std::fs::remove_file(&stamp_file);
        let mut bindgen = Command::new("wasm-bindgen");
        bindgen.args(["--target", "web", "--out-name", web.stem]);
        if web.standalone.is_some() {
            // Not run through wasm-opt: drop the name section (1.6 MB of tract) here.
            bindgen.args(["--remove-name-section", "--remove-producers-section"]);
        }
        run(bindgen.arg("--out-dir").arg(&out).arg(&wasm))?;
        if optimise {
            crate::setup::npm_packages()?;
            let wasm_opt = root.join("node_modules").join(".bin").join("wasm-opt");
            run(Command::new(&wasm_opt)
                .args(WASM_OPT_ARGS)
                .args(web.shrink.wasm_opt)
                .arg("-o")
                .arg(&bg)
                .arg(&bg))?;
            if web.shrink.minify_glue {
                let glue = out.join(format!("{}.js", web.stem));
                let esbuild = root.join("node_modules").join(".bin").join("esbuild");
                run(Command::new(&esbuild)
                    .arg(&glue)
                    .args(["--minify", "--format=esm", "--log-level=warning"])
                    .arg(format!("--outfile={}", glue.display()))
                    .arg("--allow-overwrite"))?;
            }
        }
        if let Some(stamp) = stamp(&recipe, &wasm, &generated) {
            std::fs::write(&stamp_file, stamp)
                .map_err(|e| StepError(format!("cannot write {}: {e}", stamp_file.display())))?;
        }
    }
    for name in web.js_files {
        copy(&root.join(web.js_dir).join(name), &out.join(name))?;
    }
    let size = std::fs::metadata(&bg).map(|m| m.len()).unwrap_or(0);
    eprintln!("xtask: {} ({size} bytes)", bg.display());
    Ok(out)
}

/// `wasm-opt` arguments of a release build (before `-o OUT IN`).
const WASM_OPT_ARGS: [&str; 9] = [
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
];

/// The files wasm-bindgen (and wasm-opt) write for `stem` into `out`.
fn generated_files(out: &Path, stem: &str) -> Vec<PathBuf> {
    [".js", ".d.ts", "_bg.wasm", "_bg.wasm.d.ts"]
        .iter()
        .map(|suffix| out.join(format!("{stem}{suffix}")))
        .collect()
}

/// Size and modification time of a file (`None` when it is missing).
fn fingerprint(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    let modified = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    Some(format!("{} {}", meta.len(), modified.as_nanos()))
}

/// What the outputs were made from and what they were once made: the recipe (profile and tool
/// versions), the input wasm and every generated file. `None` when a file is missing.
fn stamp(recipe: &str, input: &Path, generated: &[PathBuf]) -> Option<String> {
    let mut text = format!("{recipe}input {}\n", fingerprint(input)?);
    for file in generated {
        let name = file.file_name()?.to_string_lossy();
        text.push_str(&format!("{name} {}\n", fingerprint(file)?));
    }
    Some(text)
}

/// Whether the outputs recorded in `stamp_file` are still exactly those that the same recipe
/// made from the same input: any rebuild of the input, another profile or tool version, or an
/// output rewritten (e.g. by `build-web --dev`) or deleted makes it stale.
fn is_fresh(stamp_file: &Path, recipe: &str, input: &Path, generated: &[PathBuf]) -> bool {
    let Ok(recorded) = std::fs::read_to_string(stamp_file) else {
        return false;
    };
    stamp(recipe, input, generated).is_some_and(|now| now == recorded)
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn outputs_are_fresh_until_the_input_an_output_or_the_recipe_changes() {
        let dir = std::env::temp_dir().join(format!("xtask-web-stamp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let input = dir.join("in.wasm");
        std::fs::write(&input, b"wasm").unwrap();
        let generated = generated_files(&dir, "pkg");
        for file in &generated {
            std::fs::write(file, b"out").unwrap();
        }
        let stamp_file = dir.join(".pkg.stamp");
        assert!(
            !is_fresh(&stamp_file, "r1", &input, &generated),
            "no stamp yet"
        );
        std::fs::write(&stamp_file, stamp("r1", &input, &generated).unwrap()).unwrap();
        assert!(is_fresh(&stamp_file, "r1", &input, &generated));
        assert!(
            !is_fresh(&stamp_file, "r2", &input, &generated),
            "other recipe"
        );

        std::fs::write(&input, b"wasm, rebuilt").unwrap();
        assert!(
            !is_fresh(&stamp_file, "r1", &input, &generated),
            "input changed"
        );
        std::fs::write(&stamp_file, stamp("r1", &input, &generated).unwrap()).unwrap();
        std::fs::write(&generated[2], b"a dev build's output").unwrap();
        assert!(
            !is_fresh(&stamp_file, "r1", &input, &generated),
            "output rewritten"
        );
        std::fs::write(&stamp_file, stamp("r1", &input, &generated).unwrap()).unwrap();
        std::fs::remove_file(&generated[0]).unwrap();
        assert!(
            !is_fresh(&stamp_file, "r1", &input, &generated),
            "output deleted"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
