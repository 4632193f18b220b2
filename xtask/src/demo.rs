//! `cargo xtask demo`: the travel-planner PWA served with its two models, from a fresh clone.
//!
//! Steps, each skipped when its output exists (or, for the builds, is up to date): the release
//! `tessera` CLI and web build (service worker + runtime), the demo models (`models/make_models.py`, Python + numpy + onnx
//! from `models/requirements.txt`; rebuilt, and repacked, when their inputs changed), a dev signing key, the signed packs of both models, and the
//! app directory (`demo-pwa/` + the web build + a generated `tessera.config.json`). Then it runs
//! `tessera serve` with the app, the artifacts and the edge inference API until Ctrl-C. All state
//! lives in `.tessera/` (git-ignored); delete it to start over.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{build_all_web, cargo, root, run, Result, StepError};

/// The demo's models: their names, and the stems of their files in the models folder.
const MODELS: [&str; 2] = ["recommender", "summarizer"];

/// Files the page reads besides the app and the web build.
const APP_SHELL: [&str; 22] = [
    "/",
    "/index.html",
    "/app.js",
    "/style.css",
    "/manifest.webmanifest",
    "/travel.json",
    "/destinations.json",
    "/trusted-keys.json",
    "/tessera-client.js",
    "/tessera-runtime.js",
    "/tessera-runtime-worker.js",
    "/tessera_runtime.js",
    "/tessera_runtime_bg.wasm",
    "/tessera_runtime_webgpu.js",
    "/tessera_runtime_webgpu_bg.wasm",
    "/tessera_runtime_cpu.js",
    "/tessera_runtime_cpu_bg.wasm",
    "/ui/messages.js",
    "/ui/encode.js",
    "/ui/sample.js",
    "/icons/icon-192.png",
    "/icons/icon-512.png",
];

/// Files of `demo-pwa/` that document or make the app and are not part of it: left out of the
/// served directory (`tessera serve --app` serves every file it is given).
const NOT_SERVED: [&str; 2] = ["README.md", "icons/make_icons.py"];

fn io_err(what: &str, path: &Path, e: std::io::Error) -> StepError {
    StepError(format!("cannot {what} {}: {e}", path.display()))
}

/// Builds everything that is missing, then serves until Ctrl-C.
pub fn demo(addr: &str) -> Result {
    let root = root();
    let state = root.join(".tessera");
    run(cargo().args(["build", "--release", "-p", "tessera-cli"]))?;
    let tessera = root.join("target/release/tessera");
    let web = build_all_web(true)?;

    let models = state.join("models");
    let artifacts = state.join("artifacts");
    if !models_current(&root, &models) {
        make_models(&root, &models)?;
        // Packs of older models would still be served as 1.0.0: pack the new ones afresh.
        let mut repacked = false;
        for model in MODELS {
            let packed = artifacts.join(model);
            if packed.exists() {
                std::fs::remove_dir_all(&packed).map_err(|e| io_err("clear", &packed, e))?;
                repacked = true;
            }
        }
        if repacked {
            eprintln!(
                "xtask: the demo models changed since they were packed: packed afresh as 1.0.0; in a browser that stored the old ones, clear the site's data (or use \u{201c}Remove from device\u{201d})"
            );
        }
    }

    let key_dir = state.join("dev-key");
    if !key_dir.join("tessera.key").exists() {
        run(Command::new(&tessera)
            .arg("keygen")
            .arg("--out")
            .arg(&key_dir))?;
    }
    let public_key = std::fs::read_to_string(key_dir.join("tessera.pub.json"))
        .map_err(|e| io_err("read", &key_dir.join("tessera.pub.json"), e))?;

    for model in MODELS {
        if !artifacts.join(model).join("manifest.json").exists() {
            run(Command::new(&tessera)
                .arg("pack")
                .arg("--key")
                .arg(key_dir.join("tessera.key"))
                .args(["--name", model, "--version", "1.0.0", "--expires", "365d"])
                .arg("--test-vectors")
                .arg(models.join(format!("{model}.vectors.json")))
                .arg("--out")
                .arg(&artifacts)
                .arg(format!(
                    "model.onnx={}",
                    models.join(format!("{model}.onnx")).display()
                )))?;
        }
    }

    let app = assemble_app(&root, &state, &web, &models, &public_key)?;
    eprintln!(
        "\ntessera demo: http://{addr}/\n  the travel planner downloads its recommender (verified, resumable) and runs it on-device;\n  try: reload offline (DevTools → Network → Offline), switch policies in Settings,\n       `tessera pack` a 1.1.0 into .tessera/artifacts, press \u{201c}Check for updates\u{201d}\n       and watch only the changed shards download.\n  Ctrl-C stops the server."
    );
    run(Command::new(&tessera)
        .arg("serve")
        .arg("--artifacts")
        .arg(&artifacts)
        .arg("--app")
        .arg(&app)
        .arg("--trust")
        .arg(key_dir.join("tessera.pub.json"))
        .args(["--addr", addr]))
}

/// What `models/make_models.py` reads (the summarizer's features and its known-answer sample
/// among them); the same list as `playwright/lib/demo.js`.
const MODEL_INPUTS: [&str; 3] = [
    "models/make_models.py",
    "models/destinations.txt",
    "demo-pwa/ui/sample.js",
];

/// Whether the models in `dir` are all there and were written after every file of
/// [`MODEL_INPUTS`] last changed (`travel.json` is written last). Anything unreadable counts as
/// not current, so the models are rebuilt.
pub(crate) fn models_current(root: &Path, dir: &Path) -> bool {
    let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let all_there = MODELS.iter().all(|m| {
        dir.join(format!("{m}.onnx")).exists() && dir.join(format!("{m}.vectors.json")).exists()
    });
    let Some(built) = modified(&dir.join("travel.json")) else {
        return false;
    };
    all_there
        && MODEL_INPUTS
            .iter()
            .all(|input| modified(&root.join(input)).is_some_and(|changed| changed <= built))
}

/// `python3 models/make_models.py --out DIR`, installing the pinned Python packages when they
/// are not importable.
pub(crate) fn make_models(root: &Path, out: &Path) -> Result {
    crate::setup::python_packages()?;
    run(Command::new("python3")
        .arg(root.join("models/make_models.py"))
        .arg("--out")
        .arg(out))
}

/// `.tessera/app/` = `demo-pwa/` (less [`NOT_SERVED`]) + the web build + `travel.json` + `tessera.config.json` +
/// `trusted-keys.json`, rebuilt on every start so edits to the app show up.
fn assemble_app(
    root: &Path,
    state: &Path,
    web: &Path,
    models: &Path,
    public_key: &str,
) -> Result<PathBuf> {
    let app = state.join("app");
    if app.exists() {
        std::fs::remove_dir_all(&app).map_err(|e| io_err("clear", &app, e))?;
    }
    copy_dir(&root.join("demo-pwa"), &app)?;
    for source_only in NOT_SERVED {
        let path = app.join(source_only);
        std::fs::remove_file(&path).map_err(|e| io_err("remove", &path, e))?;
    }
    copy_dir(web, &app)?;
    std::fs::copy(models.join("travel.json"), app.join("travel.json"))
        .map_err(|e| io_err("copy", &models.join("travel.json"), e))?;
    let key = public_key.trim();
    let shell = APP_SHELL
        .iter()
        .map(|p| format!("\"{p}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let config = format!(
        "{{\n  \"prefix\": \"/models/\",\n  \"artifactsBase\": \"/models/\",\n  \"trustedKeys\": [{key}],\n  \"threshold\": 1,\n  \"concurrency\": 4,\n  \"chunkSize\": 1048576,\n  \"appShell\": [{shell}],\n  \"tokenUrl\": null\n}}\n"
    );
    write(&app.join("tessera.config.json"), &config)?;
    write(&app.join("trusted-keys.json"), &format!("[{key}]\n"))?;
    Ok(app)
}

fn write(path: &Path, text: &str) -> Result {
    std::fs::write(path, text).map_err(|e| io_err("write", path, e))
}

/// Copies the files of `from` (recursively) into `to`, creating folders; dot-files (build
/// stamps, editor files) stay behind.
fn copy_dir(from: &Path, to: &Path) -> Result {
    std::fs::create_dir_all(to).map_err(|e| io_err("create", to, e))?;
    for entry in std::fs::read_dir(from).map_err(|e| io_err("read", from, e))? {
        let entry = entry.map_err(|e| io_err("read", from, e))?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        let target = to.join(entry.file_name());
        if path.is_dir() {
            copy_dir(&path, &target)?;
        } else {
            std::fs::copy(&path, &target).map_err(|e| io_err("copy", &path, e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    fn touch(path: &Path, at: SystemTime) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let file = std::fs::File::create(path).unwrap();
        file.set_modified(at).unwrap();
    }

    /// Models written after their inputs are current; an input edited later, or a missing model
    /// file, makes them stale (so `cargo xtask demo` never serves a summarizer older than its
    /// features).
    #[test]
    fn models_are_current_only_when_newer_than_every_input() {
        let base =
            std::env::temp_dir().join(format!("tessera-xtask-models-{}", std::process::id()));
        let (root, dir) = (base.join("root"), base.join("models"));
        let then = SystemTime::now() - Duration::from_secs(3600);
        for input in MODEL_INPUTS {
            touch(&root.join(input), then);
        }
        for model in MODELS {
            touch(&dir.join(format!("{model}.onnx")), then);
            touch(&dir.join(format!("{model}.vectors.json")), then);
        }
        assert!(!models_current(&root, &dir), "no travel.json: not current");
        touch(&dir.join("travel.json"), then + Duration::from_secs(60));
        assert!(models_current(&root, &dir), "built after every input");
        touch(
            &root.join("demo-pwa/ui/sample.js"),
            then + Duration::from_secs(120),
        );
        assert!(
            !models_current(&root, &dir),
            "the sample changed after the build"
        );
        touch(&dir.join("travel.json"), then + Duration::from_secs(180));
        assert!(models_current(&root, &dir), "rebuilt");
        std::fs::remove_file(dir.join("summarizer.onnx")).unwrap();
        assert!(!models_current(&root, &dir), "a model file is missing");
        std::fs::remove_dir_all(&base).unwrap();
    }
}
