//! Progress bars on stderr for long work (indicatif), and byte counts for humans.
//!
//! Bars draw only when stderr is a terminal and `--quiet` is off, so scripts and tests see clean
//! output. The libraries never see a bar: commands translate library progress events into it.

use indicatif::{BinaryBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};

const TEMPLATE: &str =
    "{prefix:>8} [{wide_bar}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}";

/// A byte-counting bar with `total` bytes to go, labelled `prefix`; hidden when `quiet`.
pub fn bytes_bar(prefix: &'static str, total: u64, quiet: bool) -> ProgressBar {
    let target = if quiet {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    };
    let bar = ProgressBar::with_draw_target(Some(total), target);
    // The template is a constant checked by `bar_template_is_valid`; fall back to the default.
    if let Ok(style) = ProgressStyle::with_template(TEMPLATE) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(prefix);
    bar
}

/// `1.50 MiB (1572864 bytes)`: readable, and exact for scripts and tests.
pub fn bytes(n: u64) -> String {
    if n < 1024 {
        format!("{n} bytes")
    } else {
        format!("{} ({n} bytes)", BinaryBytes(n))
    }
}

/// `1 shard` / `3 shards`.
pub fn count(n: usize, singular: &str) -> String {
    if n == 1 {
        format!("1 {singular}")
    } else {
        format!("{n} {singular}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_template_is_valid() {
        assert!(ProgressStyle::with_template(TEMPLATE).is_ok());
    }

    #[test]
    fn byte_counts_read_well_and_stay_exact() {
        assert_eq!(bytes(512), "512 bytes");
        assert_eq!(bytes(1536), "1.50 KiB (1536 bytes)");
        assert_eq!(count(1, "shard"), "1 shard");
        assert_eq!(count(0, "shard"), "0 shards");
    }
}
