//! `cargo xtask fuzz [--seconds N] [--target NAME]`: coverage-guided fuzzing of every parser that
//! sees untrusted bytes (the `fuzz/` crate, one cargo-fuzz target per parser), and the smoke run
//! `cargo xtask test` does (every target built, its committed corpus replayed once).
//!
//! Each target runs for N seconds (default 600, issue #12's "at least 10 minutes") on the
//! committed corpus `fuzz/corpus/<target>` plus a scratch corpus under `target/fuzz/`; the
//! committed corpus is then replaced by the smallest set of old and new inputs that keeps every
//! feature reached (libFuzzer `-set_cover_merge=1`). It prints per target: executions, exec/s, libFuzzer's final `cov`/`ft`, the
//! corpus size and the findings (files libFuzzer wrote to `fuzz/artifacts/<target>/`: crashes,
//! timeouts, out-of-memory inputs). Any finding fails the command.
//!
//! Built with `-s none` (no AddressSanitizer): every tessera crate forbids `unsafe`, so what the
//! fuzzers look for are panics, overflows (debug assertions are on), unbounded memory and time;
//! ASan would roughly double build and run time for memory errors only dependencies could have.
//! libFuzzer flags need a nightly compiler; `RUSTC_BOOTSTRAP=1` lets the stable one accept them.
//! It does not judge what a finding means: reproduce with `cargo fuzz run -s none -a TARGET FILE`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::{root, run, Result, StepError, Tally};

/// The fuzz targets (`fuzz/fuzz_targets/<name>.rs`), one per parser.
pub const TARGETS: &[&str] = &[
    "envelope",
    "manifest",
    "range",
    "infer_request",
    "onnx_signature",
    "jwt",
];

/// The smoke run inside `cargo xtask test` builds every target and replays its committed corpus
/// (no mutation, so no time limit applies; this is only what its report says).
pub const SMOKE_SECONDS: u64 = 0;

/// What one target's run produced.
#[derive(Debug, Default)]
struct Figures {
    execs: u64,
    exec_per_sec: u64,
    cov: u64,
    ft: u64,
    corpus: usize,
    findings: Vec<PathBuf>,
}

fn cargo_fuzz() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root())
        .env("RUSTC_BOOTSTRAP", "1")
        .args(["fuzz"]);
    cmd
}

/// Options every cargo-fuzz build and run gets (they must match, or cargo rebuilds).
const BUILD_FLAGS: &[&str] = &["-s", "none", "--debug-assertions"];

/// Fuzzes `only` (or every target) for `seconds` each and merges new coverage into the committed
/// corpora (unless `smoke`: then the committed corpora are left as they are). Each target without
/// findings counts as passed in `tally`, each with findings as failed.
pub fn fuzz(seconds: u64, only: Option<&str>, smoke: bool, tally: &mut Tally) -> Result {
    let targets: Vec<&str> = match only {
        Some(name) if TARGETS.contains(&name) => vec![name],
        Some(name) => {
            return Err(StepError(format!(
                "no fuzz target {name:?}; targets: {}",
                TARGETS.join(", ")
            )))
        }
        None => TARGETS.to_vec(),
    };
    run(cargo_fuzz().arg("build").args(BUILD_FLAGS))?;
    let mut report = Vec::new();
    for target in &targets {
        let figures = run_target(target, seconds, smoke)?;
        report.push((*target, figures));
    }
    eprintln!("\nxtask fuzz: {seconds} s per target (-s none, debug assertions)");
    eprintln!(
        "{:<16} {:>12} {:>8} {:>7} {:>7} {:>7} findings",
        "target", "execs", "exec/s", "cov", "ft", "corpus"
    );
    let mut findings = 0;
    for (target, f) in &report {
        eprintln!(
            "{target:<16} {:>12} {:>8} {:>7} {:>7} {:>7} {}",
            f.execs,
            f.exec_per_sec,
            f.cov,
            f.ft,
            f.corpus,
            f.findings.len()
        );
        for path in &f.findings {
            eprintln!("  finding: {}", path.display());
        }
        findings += f.findings.len();
    }
    let failed = report
        .iter()
        .filter(|(_, f)| !f.findings.is_empty())
        .count() as u64;
    tally.failed += failed;
    tally.passed += report.len() as u64 - failed;
    if findings > 0 {
        return Err(StepError(format!(
            "fuzzing found {findings} input(s) that crash, hang or exhaust memory"
        )));
    }
    Ok(())
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default()
}

fn run_target(target: &str, seconds: u64, smoke: bool) -> Result<Figures> {
    let root = root();
    let corpus = root.join("fuzz").join("corpus").join(target);
    let scratch = root.join("target").join("fuzz").join(target);
    let artifacts = root.join("fuzz").join("artifacts").join(target);
    // A scratch corpus of this run only: libFuzzer writes new inputs to the first directory.
    let _ = std::fs::remove_dir_all(&scratch);
    for dir in [&corpus, &scratch, &artifacts] {
        std::fs::create_dir_all(dir)
            .map_err(|e| StepError(format!("cannot create {}: {e}", dir.display())))?;
    }
    let before = files_in(&artifacts);
    let shown = format!("cargo fuzz run {target} ({seconds} s)");
    eprintln!("\n==> {shown}");
    let out = cargo_fuzz()
        .arg("run")
        .args(BUILD_FLAGS)
        .arg(target)
        .arg(&scratch)
        .arg(&corpus)
        .arg("--")
        // The smoke run replays the committed corpus only (deterministic: CI does not fail on a
        // new random finding); the long run mutates for `seconds`.
        .arg(if smoke {
            "-runs=0".to_owned()
        } else {
            format!("-max_total_time={seconds}")
        })
        .args([
            "-print_final_stats=1",
            "-rss_limit_mb=2048",
            "-timeout=10",
            "-max_len=65536",
        ])
        .stdout(Stdio::inherit())
        .output()
        .map_err(|e| StepError(format!("cannot start `{shown}`: {e}")))?;
    let log = String::from_utf8_lossy(&out.stderr);
    let mut figures = parse_stats(&log);
    figures.findings = files_in(&artifacts)
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    if !out.status.success() && figures.findings.is_empty() {
        eprintln!("{log}");
        return Err(StepError(format!("`{shown}` failed ({})", out.status)));
    }
    if !figures.findings.is_empty() {
        // The crash report (panic message, input) is the end of libFuzzer's log.
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        for line in tail.into_iter().rev() {
            eprintln!("  {line}");
        }
    }
    if !smoke {
        // The smallest set of inputs (committed and new) that keeps every feature reached
        // (libFuzzer's set-cover merge) becomes the committed corpus.
        let merged = root
            .join("target")
            .join("fuzz")
            .join(format!("{target}.merged"));
        let _ = std::fs::remove_dir_all(&merged);
        std::fs::create_dir_all(&merged)
            .map_err(|e| StepError(format!("cannot create {}: {e}", merged.display())))?;
        run(cargo_fuzz()
            .arg("run")
            .args(BUILD_FLAGS)
            .arg(target)
            .arg(&merged)
            .arg(&corpus)
            .arg(&scratch)
            .args(["--", "-set_cover_merge=1", "-max_len=65536"])
            .stderr(Stdio::null()))?;
        if !files_in(&merged).is_empty() {
            std::fs::remove_dir_all(&corpus)
                .and_then(|()| std::fs::rename(&merged, &corpus))
                .map_err(|e| StepError(format!("cannot replace {}: {e}", corpus.display())))?;
        }
    }
    figures.corpus = files_in(&corpus).len();
    Ok(figures)
}

/// libFuzzer's figures: the last `#N ... cov: C ft: F ...` status line and the final stats
/// (`stat::number_of_executed_units`, `stat::average_exec_per_sec`).
fn parse_stats(log: &str) -> Figures {
    let mut figures = Figures::default();
    for line in log.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if line.starts_with('#') {
            for pair in words.windows(2) {
                let value = pair[1].parse::<u64>().ok();
                match (pair[0], value) {
                    ("cov:", Some(v)) => figures.cov = v,
                    ("ft:", Some(v)) => figures.ft = v,
                    _ => {}
                }
            }
        }
        if let [name, value] = words.as_slice() {
            match (*name, value.parse::<u64>()) {
                ("stat::number_of_executed_units:", Ok(v)) => figures.execs = v,
                ("stat::average_exec_per_sec:", Ok(v)) => figures.exec_per_sec = v,
                _ => {}
            }
        }
    }
    figures
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_libfuzzers_figures() {
        let log = "INFO: Seed: 1\n#2\tINITED cov: 10 ft: 11 corp: 1/1b exec/s: 0 rss: 30Mb\n\
                   #4096\tpulse  cov: 120 ft: 340 corp: 30/2Kb lim: 43 exec/s: 2048 rss: 40Mb\n\
                   #9000\tDONE   cov: 125 ft: 351 corp: 31/2Kb lim: 48 exec/s: 3000 rss: 41Mb\n\
                   stat::number_of_executed_units: 9000\nstat::average_exec_per_sec:     3000\n\
                   stat::new_units_added:          12\n";
        let f = parse_stats(log);
        assert_eq!(
            (f.execs, f.exec_per_sec, f.cov, f.ft),
            (9000, 3000, 125, 351)
        );
    }
}
