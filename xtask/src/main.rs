//! Project automation: the two commands a newcomer needs.
//!
//! - `cargo xtask test`: installs what is missing (idempotently), then runs everything the project
//!   tests — formatting, clippy, the native suites, `tessera-core` on wasm32, and the check that
//!   `tessera-core` depends on no browser crate. `.ci/run` calls exactly this.
//! - `cargo xtask demo`: builds everything, makes the demo models and a dev signing key when
//!   missing, packs them and serves the travel-planner PWA until Ctrl-C (see `demo.rs`).
//! - `cargo xtask build-web`: the service worker and runtime for the web, into `target/web/`.
//! - `cargo xtask fuzz [--seconds N] [--target NAME]`: cargo-fuzz on every parser of untrusted
//!   bytes (see `fuzz.rs`); `cargo xtask test` runs each target briefly.
//! - `cargo xtask bench [--quick]`: tessera side by side with its peers; results in
//!   `target/bench/results.json` and BENCHMARKS.md (see `bench.rs`, `bench/README.md`).
//!
//! It shells out to cargo, rustup, apt-get and the built `tessera`; it holds no project logic.

mod bench;
mod demo;
mod edge_worker;
mod fuzz;
mod setup;
mod web;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use clap::{Parser, Subcommand};

use crate::setup::Present;

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "tessera's project commands")]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Install what is missing, then run every test suite (what CI runs).
    Test {
        /// Skip rustfmt and clippy (quicker local iterations).
        #[arg(long)]
        no_lint: bool,
        /// Skip the browser suites (Playwright), for quick native-only runs.
        #[arg(long)]
        no_browser: bool,
    },
    /// Build the service worker and the inference runtime for the web into target/web/
    /// (release: wasm-opt -Oz).
    BuildWeb {
        /// A quick debug build without wasm-opt.
        #[arg(long)]
        dev: bool,
    },
    /// Benchmark tessera against its peers (release builds, headless Chromium, loopback) and
    /// rewrite the generated part of BENCHMARKS.md.
    Bench {
        /// Small sizes and 3 repetitions (a few minutes) instead of the full run.
        #[arg(long)]
        quick: bool,
        /// Only these items, e.g. `1,5` (writes target/bench/results-only.json, not BENCHMARKS.md).
        #[arg(long)]
        only: Option<String>,
    },
    /// Fuzz every parser of untrusted bytes (cargo-fuzz, libFuzzer) and merge new coverage into
    /// fuzz/corpus/; prints execs, exec/s, cov/ft, corpus size and findings per target.
    Fuzz {
        /// Seconds per target.
        #[arg(long, default_value_t = 600)]
        seconds: u64,
        /// Only this target (default: all of them).
        #[arg(long)]
        target: Option<String>,
    },
    /// Build everything, make the demo models and a dev key, pack, and serve the travel planner.
    Demo {
        /// Address to listen on.
        #[arg(long, env = "TESSERA_ADDR", default_value = "127.0.0.1:8080")]
        addr: String,
    },
}

/// A failed step: what was running and why it failed.
#[derive(Debug)]
struct StepError(String);

type Result<T = ()> = std::result::Result<T, StepError>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Task::Test {
            no_lint,
            no_browser,
        } => test(no_lint, no_browser),
        Task::BuildWeb { dev } => build_all_web(!dev).map(|dir| {
            eprintln!("xtask: web build in {}", dir.display());
        }),
        Task::Bench { quick, only } => bench::bench(quick, only.as_deref()),
        Task::Demo { addr } => demo::demo(&addr),
        Task::Fuzz { seconds, target } => setup::cargo_fuzz()
            .and_then(|()| fuzz::fuzz(seconds, target.as_deref(), false, &mut Tally::default())),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(StepError(msg)) => {
            eprintln!("xtask: error: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (xtask lives one level below it).
fn root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map_or(manifest_dir.clone(), Path::to_path_buf)
}

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

/// Runs a command, echoing it, and fails with its description if it fails.
fn run(cmd: &mut Command) -> Result {
    let shown = format!("{cmd:?}").replace('"', "");
    eprintln!("\n==> {shown}");
    let status = cmd
        .status()
        .map_err(|e| StepError(format!("cannot start `{shown}`: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(StepError(format!("`{shown}` failed ({status})")))
    }
}

/// Runs a command and returns its stdout.
fn output(cmd: &mut Command) -> Result<String> {
    let shown = format!("{cmd:?}").replace('"', "");
    let out = cmd
        .output()
        .map_err(|e| StepError(format!("cannot start `{shown}`: {e}")))?;
    if !out.status.success() {
        return Err(StepError(format!(
            "`{shown}` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Pass/fail counts summed over every test binary a run printed `test result:` for.
#[derive(Debug, Default)]
struct Tally {
    passed: u64,
    failed: u64,
    ignored: u64,
}

impl Tally {
    /// Reads cargo's `test result: ok. 12 passed; 0 failed; 1 ignored; ...` lines and the
    /// closing counts of node's test runner (`# pass 3` in TAP, `ℹ pass 3` in its spec reporter).
    fn absorb(&mut self, line: &str) {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("# ").or_else(|| line.strip_prefix("ℹ ")) {
            let mut words = rest.split_whitespace();
            if let (Some(kind), Some(Ok(n)), None) = (
                words.next(),
                words.next().map(str::parse::<u64>),
                words.next(),
            ) {
                match kind {
                    "pass" => self.passed += n,
                    "fail" => self.failed += n,
                    "skipped" => self.ignored += n,
                    _ => {}
                }
            }
            return;
        }
        if let Some((passed, failed)) = plain_closing_line(line) {
            self.passed += passed;
            self.failed += failed;
            return;
        }
        let Some(rest) = line.strip_prefix("test result: ") else {
            return;
        };
        for part in rest.split(';') {
            let mut words = part.split_whitespace().rev();
            let (Some(kind), Some(count)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(n) = count.parse::<u64>() else {
                continue;
            };
            match kind {
                "passed" => self.passed += n,
                "failed" => self.failed += n,
                "ignored" => self.ignored += n,
                _ => {}
            }
        }
    }
}

/// `N passed, M failed` (optionally after one `word:`), the plain summary our scripts print.
fn plain_closing_line(line: &str) -> Option<(u64, u64)> {
    let counts = match line.split_once(": ") {
        Some((word, rest)) if !word.contains(' ') => rest,
        _ => line,
    };
    let (passed, failed) = counts.split_once(", ")?;
    let passed = passed.strip_suffix(" passed")?.parse().ok()?;
    let failed = failed.strip_suffix(" failed")?.parse().ok()?;
    Some((passed, failed))
}

/// Runs a test command, streaming its stdout through while counting results into `tally`.
fn run_tests(cmd: &mut Command, tally: &mut Tally) -> Result {
    let shown = format!("{cmd:?}").replace('"', "");
    eprintln!("\n==> {shown}");
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| StepError(format!("cannot start `{shown}`: {e}")))?;
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout)
            .lines()
            .map_while(std::result::Result::ok)
        {
            println!("{line}");
            tally.absorb(&line);
        }
    }
    let status = child
        .wait()
        .map_err(|e| StepError(format!("`{shown}` did not finish: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(StepError(format!("`{shown}` failed ({status})")))
    }
}

/// Installs what is missing for the test suites and the benches (whose smoke run is one of them).
fn install_tools() -> Result {
    setup::rust_wasm_target()?;
    setup::wasm_bindgen_cli()?;
    setup::apt_packages(&[
        (Present::Binary("node"), "nodejs"),
        (Present::Binary("npm"), "npm"),
        (Present::Binary("curl"), "curl"),
        // Key interop tests: keygen keys are read and used by `openssl pkey`/`pkeyutl`.
        (Present::Binary("openssl"), "openssl"),
        (Present::Binary("chromium"), "chromium"),
        (Present::Binary("chromedriver"), "chromium-driver"),
        // Mesa's CPU Vulkan driver (lavapipe) runs the edge's wonnx inference without a GPU.
        (
            Present::File("/usr/share/vulkan/icd.d/lvp_icd.x86_64.json"),
            "mesa-vulkan-drivers",
        ),
        (
            Present::File("/usr/lib/x86_64-linux-gnu/libvulkan.so.1"),
            "libvulkan1",
        ),
        // The edge load generator of bench item 8 (`bench/edge.js`, also in the smoke run).
        (Present::Binary("hey"), "hey"),
        // The README's artifacts host, served over HTTPS to Chromium from docs/deploy/
        // (playwright/tests/split-domain-https.test.js); nginx is in /usr/sbin, off a user's PATH.
        (Present::File("/usr/sbin/nginx"), "nginx"),
        (
            Present::File("/usr/lib/nginx/modules/ngx_http_brotli_static_module.so"),
            "libnginx-mod-http-brotli-static",
        ),
        (Present::Binary("caddy"), "caddy"),
    ])?;
    setup::npm_packages()?;
    setup::python_packages()?;
    setup::cargo_fuzz()
}

fn test(no_lint: bool, no_browser: bool) -> Result {
    install_tools()?;

    if !no_lint {
        run(cargo().args(["fmt", "--all", "--check"]))?;
        run(cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]))?;
        run(cargo().args([
            "clippy",
            "-p",
            "tessera-sw",
            "-p",
            "tessera-runtime",
            "-p",
            "tessera-runtime-webgpu",
            "-p",
            "tessera-wasm-tests",
            "-p",
            "tessera-js-error",
            "--all-targets",
            "--target",
            "wasm32-unknown-unknown",
            "--",
            "-D",
            "warnings",
        ]))?;
        edge_worker::lint()?;
    }
    core_has_no_browser_deps()?;
    let mut tally = Tally::default();
    let outcome = run_tests(cargo().args(["test", "--workspace"]), &mut tally)
        .and_then(|()| {
            // The pure core also runs on wasm32 (under Node, through wasm-bindgen-test-runner).
            run_tests(
                cargo()
                    .args([
                        "test",
                        "-p",
                        "tessera-core",
                        "--tests",
                        "--target",
                        "wasm32-unknown-unknown",
                    ])
                    .env(
                        "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
                        "wasm-bindgen-test-runner",
                    ),
                &mut tally,
            )
        })
        .and_then(|()| {
            if no_browser {
                Ok(())
            } else {
                browser_suites(&mut tally)
            }
        })
        // The edge worker on local workerd against `tessera serve` (its edgeUrl check uses the
        // web build the browser suites made, and is skipped without it).
        .and_then(|()| edge_worker::test(&mut tally))
        // Every fuzz target built and run briefly on its committed corpus (a smoke run: the
        // corpora are not changed; `cargo xtask fuzz` is the long run).
        .and_then(|()| fuzz::fuzz(fuzz::SMOKE_SECONDS, None, true, &mut tally));
    // The closing line CI reads: every suite's results, summed.
    println!(
        "\nxtask: {} passed, {} failed, {} skipped",
        tally.passed, tally.failed, tally.ignored
    );
    outcome
}

/// Builds everything a page loads: the service worker, the inference runtime and its CPU engine.
fn build_all_web(release: bool) -> Result<PathBuf> {
    web::build(&web::SERVICE_WORKER, release)?;
    web::build(&web::RUNTIME, release)?;
    web::build(&web::RUNTIME_WEBGPU, release)?;
    web::build(&web::RUNTIME_CPU, release)
}

/// Scenario files that run a second time on the IndexedDB shard store (the store of browsers
/// without OPFS in service workers): download, serve, Range, resume, corruption, update,
/// offline, quota, per-file downloads, worker restarts and two tabs.
const FALLBACK_STORE_SCENARIOS: &[&str] = &[
    "first-load",
    "range",
    "resume-after-cut",
    "resume-after-sw-stop",
    "resume-range-ignored",
    "corrupt-shard",
    "corrupt-in-transit",
    "update",
    "offline",
    "quota",
    "per-file-download",
    "restarted-worker",
    "multi-tab",
    "storage-housekeeping",
];

/// The suites that run in headless Chromium against a real `tessera serve`: the wasm-bindgen
/// tests inside a service worker and a dedicated worker, the Playwright scenarios (service
/// worker, demo, inference runtime) over the release web build, and the benches'
/// smoke mode (every bench still runs end to end; `bench-smoke: N passed, M failed`).
fn browser_suites(tally: &mut Tally) -> Result {
    run(cargo().args(["build", "-p", "tessera-cli"]))?;
    run_tests(
        Command::new("bash")
            .arg("wasm-tests/run.sh")
            .current_dir(root()),
        tally,
    )?;
    build_all_web(true)?;
    run_tests(
        Command::new("bash")
            .arg("playwright/run.sh")
            .current_dir(root()),
        tally,
    )?;
    // The service worker's storage scenarios again on the IndexedDB fallback (the store of
    // browsers without OPFS in service workers).
    run_tests(
        Command::new("bash")
            .arg("playwright/run.sh")
            .env(
                "PLAYWRIGHT_TESTS",
                FALLBACK_STORE_SCENARIOS
                    .iter()
                    .map(|name| format!("playwright/tests/{name}.test.js"))
                    .collect::<Vec<_>>()
                    .join(" "),
            )
            .env("TESSERA_TEST_STORAGE", "indexeddb")
            .current_dir(root()),
        tally,
    )?;
    // Bench item 11 runs the release edge worker (on workerd) against `tessera serve`.
    let worker = edge_worker::build()?;
    run_tests(
        Command::new("node")
            .args(["bench/run.js", "--smoke"])
            .env(
                "TESSERA_BIN",
                bench::target_dir().join("debug").join("tessera"),
            )
            .env("EDGE_WORKER_DIST", &worker)
            .current_dir(root()),
        tally,
    )
}

/// `tessera-core` and `tessera-driver` must stay pure: no browser bindings anywhere in their
/// dependency trees.
fn core_has_no_browser_deps() -> Result {
    // The pure core and the platform-neutral download driver (whose browser backends live in
    // `sw/`): both build and test natively.
    for krate in ["tessera-core", "tessera-driver"] {
        let tree = output(cargo().args([
            "tree",
            "-p",
            krate,
            "--edges",
            "normal,build",
            "--target",
            "all",
            "--prefix",
            "none",
        ]))?;
        let forbidden: Vec<&str> = tree
            .lines()
            .filter_map(|line| line.split_whitespace().next())
            .filter(|name| matches!(*name, "web-sys" | "js-sys" | "wasm-bindgen"))
            .collect();
        if !forbidden.is_empty() {
            return Err(StepError(format!(
                "{krate} must not depend on browser crates, found: {forbidden:?}"
            )));
        }
        eprintln!("\n==> {krate} depends on no browser crate (web-sys, js-sys, wasm-bindgen)");
    }
    Ok(())
}
