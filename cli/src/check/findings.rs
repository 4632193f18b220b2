//! The findings model of `tessera check`: one [`Finding`] per row (pass, warn or fail, with the
//! fix in words), and the two renderings: an aligned text table for people and JSON for
//! machines. Pure: no IO.

use serde::Serialize;

/// Targets longer than this (shard URLs) are not padded to: their detail follows them.
const MAX_TARGET_COLUMN: usize = 56;

/// How a row came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// As it should be.
    Pass,
    /// Works, but should be fixed (or could not be proven either way).
    Warn,
    /// Breaks clients or security: `tessera check` exits non-zero.
    Fail,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Self::Pass => "PASS",
            Self::Warn => "WARN",
            Self::Fail => "FAIL",
        }
    }
}

/// One row: which check, on what, the outcome, what was seen and (unless it passed) the fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable id of the check (`tls-certificate`, `cors`, `shard-range`, …).
    pub check: &'static str,
    /// The origin or URL the row is about.
    pub target: String,
    /// The outcome.
    pub status: Status,
    /// What was seen.
    pub detail: String,
    /// What to change, in words (absent on a pass).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Finding {
    /// A passing row.
    pub fn pass(check: &'static str, target: &str, detail: impl Into<String>) -> Self {
        Self {
            check,
            target: target.to_owned(),
            status: Status::Pass,
            detail: detail.into(),
            fix: None,
        }
    }

    /// A warning row with its fix.
    pub fn warn(
        check: &'static str,
        target: &str,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self::with_fix(Status::Warn, check, target, detail.into(), fix.into())
    }

    /// A failing row with its fix.
    pub fn fail(
        check: &'static str,
        target: &str,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self::with_fix(Status::Fail, check, target, detail.into(), fix.into())
    }

    fn with_fix(
        status: Status,
        check: &'static str,
        target: &str,
        detail: String,
        fix: String,
    ) -> Self {
        Self {
            check,
            target: target.to_owned(),
            status,
            detail,
            fix: Some(fix),
        }
    }
}

/// Every row of one run, in the order they were checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// The rows.
    pub findings: Vec<Finding>,
}

/// Rows per status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Passing rows.
    pub pass: usize,
    /// Warnings.
    pub warn: usize,
    /// Failures.
    pub fail: usize,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    ok: bool,
    summary: Summary,
    findings: &'a [Finding],
}

impl Report {
    /// Adds a row.
    pub fn push(&mut self, finding: Finding) {
        self.findings.push(finding);
    }

    /// Adds rows.
    pub fn extend(&mut self, findings: impl IntoIterator<Item = Finding>) {
        self.findings.extend(findings);
    }

    /// Counts per status.
    pub fn summary(&self) -> Summary {
        let mut summary = Summary::default();
        for finding in &self.findings {
            match finding.status {
                Status::Pass => summary.pass += 1,
                Status::Warn => summary.warn += 1,
                Status::Fail => summary.fail += 1,
            }
        }
        summary
    }

    /// No failing row (warnings allowed).
    pub fn ok(&self) -> bool {
        self.summary().fail == 0
    }

    /// `{"ok", "summary": {"pass", "warn", "fail"}, "findings": [{"check", "target", "status",
    /// "detail", "fix"?}]}`, pretty-printed.
    pub fn to_json(&self) -> String {
        let report = JsonReport {
            ok: self.ok(),
            summary: self.summary(),
            findings: &self.findings,
        };
        // Plain strings, numbers and booleans: serializing cannot fail.
        serde_json::to_string_pretty(&report).unwrap_or_default()
    }

    /// One aligned line per row (`STATUS  check  target  detail`), the fix indented on the line
    /// below, then a summary line.
    pub fn to_text(&self) -> String {
        let check_width = self
            .findings
            .iter()
            .map(|f| f.check.len())
            .max()
            .unwrap_or(0);
        let target_width = self
            .findings
            .iter()
            .map(|f| short_target(&f.target).chars().count())
            .filter(|&w| w <= MAX_TARGET_COLUMN)
            .max()
            .unwrap_or(0);
        let mut out = String::new();
        for finding in &self.findings {
            out.push_str(&format!(
                "{}  {:check_width$}  {:target_width$}  {}\n",
                finding.status.label(),
                finding.check,
                short_target(&finding.target),
                finding.detail,
            ));
            if let Some(fix) = &finding.fix {
                out.push_str(&format!("      fix: {fix}\n"));
            }
        }
        let summary = self.summary();
        out.push_str(&format!(
            "{} pass, {} warn, {} fail\n",
            summary.pass, summary.warn, summary.fail
        ));
        out
    }
}

/// A target for the text table: a path segment that is a sha256 (a shard's name) is cut to
/// its first 12 hex digits (the JSON keeps the whole URL).
fn short_target(target: &str) -> String {
    target
        .split('/')
        .map(|segment| {
            if segment.len() == 64 && segment.bytes().all(|b| b.is_ascii_hexdigit()) {
                format!("{}…", &segment[..12])
            } else {
                segment.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn sample() -> Report {
        let mut report = Report::default();
        report.push(Finding::pass(
            "hsts",
            "https://a.example",
            "max-age=31536000",
        ));
        report.push(Finding::warn(
            "http2",
            "https://models.example",
            "negotiated http/1.1",
            "enable HTTP/2",
        ));
        report.push(Finding::fail(
            "cors",
            "https://models.example/models/x/manifest.json",
            "no Access-Control-Allow-Origin",
            "allow https://a.example",
        ));
        report
    }

    #[test]
    fn text_is_aligned_with_fixes_and_a_summary() {
        let text = sample().to_text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 6, "{text}");
        assert!(lines[0].starts_with("PASS  hsts "), "{text}");
        assert!(lines[1].starts_with("WARN  http2"), "{text}");
        assert_eq!(lines[2], "      fix: enable HTTP/2");
        assert!(lines[3].starts_with("FAIL  cors "), "{text}");
        // The detail column starts at the same offset on every row.
        let col = |line: &str, word: &str| line.find(word).unwrap();
        assert_eq!(
            col(lines[0], "max-age"),
            col(lines[1], "negotiated"),
            "{text}"
        );
        assert_eq!(lines[5], "1 pass, 1 warn, 1 fail");
    }

    #[test]
    fn json_has_the_summary_and_omits_fixes_of_passes() {
        let value: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
        assert_eq!(value["ok"], false);
        assert_eq!(value["summary"]["fail"], 1);
        assert_eq!(value["findings"][0]["status"], "pass");
        assert!(value["findings"][0].get("fix").is_none());
        assert_eq!(value["findings"][2]["check"], "cors");
        assert_eq!(value["findings"][2]["fix"], "allow https://a.example");
    }

    #[test]
    fn shard_names_are_shortened_in_text_only() {
        let url = format!("https://m.example/models/_shards/{}", "ab".repeat(32));
        let mut report = Report::default();
        report.push(Finding::pass("shard-range", &url, "206"));
        assert!(report
            .to_text()
            .contains("https://m.example/models/_shards/abababababab…  206"));
        assert!(report.to_json().contains(&url));
    }

    #[test]
    fn warnings_alone_are_ok() {
        let mut report = Report::default();
        report.push(Finding::warn("http2", "x", "h1", "enable h2"));
        assert!(report.ok());
        assert!(Report::default().ok());
    }
}
