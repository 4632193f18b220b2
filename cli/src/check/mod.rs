//! `tessera check`: audit a live deployment (the app, the artifacts origin, the inference API)
//! and print one row per finding — pass, warn or fail, with the fix in words — or JSON
//! (`--json`); the exit status is 1 when any row fails.
//!
//! Layout: [`findings`] (the rows and their rendering), [`rules`] (what was seen → rows, pure
//! and unit-tested; manifests go through `tessera-core`'s `UpdatePolicy`, the clients' own
//! code path), [`target`] (the URLs), [`net`] (the thin IO: rustls + hyper, reporting ALPN and
//! the leaf certificate). This file parses the flags and runs the requests in order.
//!
//! Models are named with `--model`: the artifact layout has no listing (`/models/` is not
//! served as an index, and the app's `tessera.config.json` names keys, not models), so there is
//! nothing to discover them from.

mod findings;
mod net;
mod rules;
mod target;

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Args;
use http::header::{
    ACCEPT, ACCEPT_ENCODING, ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD,
    CONTENT_TYPE, ORIGIN, RANGE,
};
use http::Method;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::CertificateDer;
use tessera_artifacts::{load_trusted_keys, ArtifactsError};
use tessera_core::layout::{manifest_path, shard_path, ModelName};
use tessera_core::policy::UpdatePolicy;
use tessera_core::ErrorCode;

use findings::{Finding, Report};
use net::{Client, NetError, Reply};
use rules::RangeProbe;
use target::Target;

use crate::error::{EXIT_FAILURE, EXIT_USAGE};

/// Audit a live deployment: TLS, HSTS, HTTP/2, CSP, CORS, Range, caching, signatures, auth,
/// rate limits.
#[derive(Debug, Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct CheckArgs {
    /// The app's page, e.g. https://app.example.com/ (checked: TLS, HSTS, HTTP/2, CSP).
    #[arg(long, value_name = "URL", value_parser = Target::parse)]
    app: Target,
    /// The artifacts base (the app's artifactsBase), e.g. https://models.example.com/models/;
    /// a bare origin means its /models/.
    #[arg(long, value_name = "URL", value_parser = Target::parse)]
    models: Target,
    /// The inference API, e.g. https://inference.example.com (checked: CORS preflight, 401
    /// without a token, 429 with Retry-After). Without it those rows are skipped.
    #[arg(long, value_name = "URL", value_parser = Target::parse)]
    api: Option<Target>,
    /// Model to check, NAME/manifest.json under --models; repeat for several. Required: the
    /// artifact layout has no listing to discover models from.
    #[arg(long = "model", value_name = "NAME", required = true)]
    model: Vec<ModelName>,
    /// Public key clients trust (tessera.pub.json); repeat for several. Without one, manifest
    /// signatures are not checked (a warning).
    #[arg(long = "pub", value_name = "PUBKEY.json")]
    keys: Vec<PathBuf>,
    /// Distinct trusted keys that must have signed each manifest.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    threshold: u16,
    /// PEM CA certificate(s) trusted for the TLS checks besides the system's roots (a private
    /// CA); repeat for several files.
    #[arg(long, value_name = "PEM")]
    ca: Vec<PathBuf>,
    /// Warn when a certificate expires within this many days.
    #[arg(long, value_name = "DAYS", default_value_t = 21)]
    warn_days: u64,
    /// Warn when a manifest expires within this many days.
    #[arg(long, value_name = "DAYS", default_value_t = 7)]
    manifest_warn_days: u64,
    /// Requests without a token sent at once to the API to meet its rate limit (0: skip the
    /// rate-limit row). The default exceeds tessera serve's failed-authentication burst (10).
    #[arg(long, value_name = "N", default_value_t = 30,
          value_parser = clap::value_parser!(u16).range(0..=1000))]
    burst: u16,
    /// Seconds to wait for each connection, handshake or answer.
    #[arg(long, value_name = "SECONDS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=300))]
    timeout_secs: u64,
    /// Print the findings as JSON ({"ok", "summary", "findings": [{"check", "target",
    /// "status", "detail", "fix"}]}).
    #[arg(long)]
    json: bool,
}

const AFTER_HELP: &str = "\
Rows (check ids): tls-certificate (chain, days to expiry), http2 (ALPN), hsts (per origin);
csp (the app); cors (manifest and shard responses for the app origin), manifest-cache,
manifest-signature, manifest-expiry (each --model); shard-range (206, Content-Range,
Accept-Ranges), shard-cache, shard-encoding (a shard of each model); cors-preflight,
auth-required, rate-limit (--api). Exit 1 when any row fails; warnings alone exit 0.

Example:
  tessera check --app https://app.example.com/ --models https://models.example.com/models/ \\
    --api https://inference.example.com --model recommender --pub tessera.pub.json";

/// Why `tessera check` could not run at all (failing rows are not errors: they are printed).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// A `--pub` key file is unreadable or invalid.
    #[error(transparent)]
    Keys(#[from] ArtifactsError),
    /// A `--ca` file cannot be read.
    #[error("cannot read --ca {}: {source}", path.display())]
    CaUnreadable {
        /// The file.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// A `--ca` file holds no usable PEM certificate.
    #[error("--ca {} is not a PEM CA certificate: {reason}", path.display())]
    CaInvalid {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The TLS client could not be set up.
    #[error("cannot set up TLS: {0}")]
    Tls(rustls::Error),
    /// The async runtime could not start.
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
    /// Some rows failed.
    #[error("{fails} check(s) failed")]
    Failed {
        /// How many rows failed.
        fails: usize,
    },
}

impl ErrorCode for CheckError {
    fn code(&self) -> &'static str {
        match self {
            Self::Keys(e) => e.code(),
            Self::CaUnreadable { .. } => "check-ca-unreadable",
            Self::CaInvalid { .. } => "check-ca-invalid",
            Self::Tls(_) => "check-tls-setup",
            Self::Runtime(_) => "runtime-failed",
            Self::Failed { .. } => "check-failed",
        }
    }
}

impl CheckError {
    /// The process exit status: 2 for an unusable `--ca`, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::CaUnreadable { .. } | Self::CaInvalid { .. } => EXIT_USAGE,
            _ => EXIT_FAILURE,
        }
    }
}

/// Runs `tessera check`: prints the findings on stdout; any failing row fails the command
/// (`check-failed`, printed by `main` like every command's error).
pub fn run(args: &CheckArgs) -> Result<(), CheckError> {
    let report = execute(args)?;
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_text());
    }
    match report.summary().fail {
        0 => Ok(()),
        fails => Err(CheckError::Failed { fails }),
    }
}

fn read_ca(path: &PathBuf) -> Result<Vec<CertificateDer<'static>>, CheckError> {
    let pem = std::fs::read(path).map_err(|source| CheckError::CaUnreadable {
        path: path.clone(),
        source,
    })?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CheckError::CaInvalid {
            path: path.clone(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(CheckError::CaInvalid {
            path: path.clone(),
            reason: "no CERTIFICATE block".to_owned(),
        });
    }
    Ok(certs)
}

fn execute(args: &CheckArgs) -> Result<Report, CheckError> {
    let policy = if args.keys.is_empty() {
        None
    } else {
        Some(UpdatePolicy::new(
            load_trusted_keys(&args.keys)?,
            usize::from(args.threshold),
        ))
    };
    let mut extra = Vec::new();
    for path in &args.ca {
        extra.extend(read_ca(path)?);
    }
    let roots = net::roots(extra).map_err(CheckError::Tls)?;
    let client =
        Client::new(roots, Duration::from_secs(args.timeout_secs)).map_err(CheckError::Tls)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CheckError::Runtime)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let audit = Audit {
        args,
        client,
        policy,
        now,
        models: args.models.clone().or_path("/models/"),
    };
    Ok(runtime.block_on(audit.run()))
}

/// Same-origin redirects of the app page followed.
const MAX_REDIRECTS: usize = 5;

/// The path a `Location` leads to when it stays on `target`'s origin.
fn same_origin_path(location: &str, target: &Target) -> Option<String> {
    if location.starts_with('/') && !location.starts_with("//") {
        return Some(location.to_owned());
    }
    let next = Target::parse(location).ok()?;
    (next.origin() == target.origin()).then(|| {
        let path = location
            .split_once("://")
            .and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_owned()));
        path.unwrap_or_else(|| "/".to_owned())
    })
}

/// One run's inputs.
struct Audit<'a> {
    args: &'a CheckArgs,
    client: Client,
    policy: Option<UpdatePolicy>,
    now: u64,
    models: Target,
}

/// One request of [`Audit::get`]: the row it answers for, and what to send.
struct Ask<'a> {
    check: &'static str,
    target: &'a Target,
    method: Method,
    path: &'a str,
    headers: &'a [(&'a str, String)],
    body: &'static [u8],
}

/// Rows state shared across steps: origins whose TLS failed, origins whose HSTS was checked.
#[derive(Default)]
struct Seen {
    unreachable: HashSet<String>,
    hsts: HashSet<String>,
}

impl Audit<'_> {
    fn now_i64(&self) -> i64 {
        i64::try_from(self.now).unwrap_or(i64::MAX)
    }

    fn app_origin(&self) -> String {
        self.args.app.origin()
    }

    async fn run(&self) -> Report {
        let mut report = Report::default();
        let mut seen = Seen::default();
        let mut targets = vec![&self.args.app, &self.models];
        targets.extend(self.args.api.as_ref());
        let mut probed = HashSet::new();
        for target in targets {
            let origin = target.origin();
            if probed.insert(origin.clone()) && !self.tls_rows(target, &mut report).await {
                seen.unreachable.insert(origin);
            }
        }
        self.app_rows(&mut report, &mut seen).await;
        for name in &self.args.model {
            self.model_rows(name, &mut report, &mut seen).await;
        }
        if let (Some(api), Some(name)) = (&self.args.api, self.args.model.first()) {
            self.api_rows(api, name, &mut report, &mut seen).await;
        }
        report
    }

    /// `tls-certificate` and `http2` of one origin; false when it cannot be reached.
    async fn tls_rows(&self, target: &Target, report: &mut Report) -> bool {
        let origin = target.origin();
        if !target.is_tls() {
            report.push(rules::not_https(&origin));
            report.push(rules::http2(&origin, false, None));
            return true;
        }
        match self.client.connect(target).await {
            Ok(connection) => {
                let handshake = &connection.handshake;
                match &handshake.leaf {
                    Some(leaf) => report.push(rules::certificate(
                        &origin,
                        leaf,
                        self.now_i64(),
                        self.args.warn_days,
                    )),
                    None => report.push(Finding::warn(
                        "tls-certificate",
                        &origin,
                        "chain verified, but the leaf certificate could not be parsed for its expiry",
                        "check the certificate's expiry by hand",
                    )),
                }
                report.push(rules::http2(&origin, true, handshake.alpn.as_deref()));
                true
            }
            Err(NetError::Tls { problem, .. }) => {
                report.push(rules::certificate_refused(
                    &origin,
                    &problem,
                    self.now_i64(),
                ));
                false
            }
            Err(err) => {
                report.push(Finding::fail(
                    "tls-certificate",
                    &origin,
                    err.to_string(),
                    "check the URL and that the server is up",
                ));
                false
            }
        }
    }

    /// A request the rows depend on; a failure becomes a failing row of `ask.check`.
    async fn get(&self, ask: Ask<'_>, seen: &mut Seen, report: &mut Report) -> Option<Reply> {
        let target = ask.target;
        let url = format!("{}{}", target.origin(), ask.path);
        if seen.unreachable.contains(&target.origin()) {
            report.push(Finding::fail(
                ask.check,
                &url,
                "not checked: the origin's TLS check failed",
                "fix the tls-certificate row first",
            ));
            return None;
        }
        match self
            .client
            .fetch(target, ask.method, ask.path, ask.headers, ask.body)
            .await
        {
            Ok(reply) => {
                if seen.hsts.insert(target.origin()) {
                    report.push(rules::hsts(
                        &target.origin(),
                        target.is_tls(),
                        &reply.headers,
                    ));
                }
                Some(reply)
            }
            Err(err) => {
                report.push(Finding::fail(
                    ask.check,
                    &url,
                    format!("request failed: {err}"),
                    "check the URL and that the server is up",
                ));
                None
            }
        }
    }

    async fn app_rows(&self, report: &mut Report, seen: &mut Seen) {
        let app = &self.args.app;
        let headers = [(ACCEPT.as_str(), "text/html".to_owned())];
        let mut path = app.path.clone();
        let mut hops = 0;
        let reply = loop {
            let Some(reply) = self
                .get(
                    Ask {
                        check: "csp",
                        target: app,
                        method: Method::GET,
                        path: &path,
                        headers: &headers,
                        body: b"",
                    },
                    seen,
                    report,
                )
                .await
            else {
                return;
            };
            // Follow same-origin redirects (`/` → `/app/`) a few times.
            let location = reply
                .headers
                .get(http::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| same_origin_path(l, app));
            match location {
                Some(next) if reply.status.is_redirection() && hops < MAX_REDIRECTS => {
                    path = next;
                    hops += 1;
                }
                _ => break reply,
            }
        };
        let mut connect_to = vec![self.models.origin()];
        connect_to.extend(self.args.api.as_ref().map(Target::origin));
        connect_to.dedup();
        let url = format!("{}{path}", app.origin());
        if !reply.status.is_success() {
            report.push(Finding::fail(
                "csp",
                &url,
                format!("the app page answered {}", reply.status),
                "pass the URL of the app's page as --app (a redirect to another origin is not \
                 followed)",
            ));
            return;
        }
        report.push(rules::csp(
            &url,
            &reply.headers,
            &self.app_origin(),
            &connect_to,
        ));
    }

    async fn model_rows(&self, name: &ModelName, report: &mut Report, seen: &mut Seen) {
        let models = &self.models;
        let same_origin = models.origin() == self.app_origin();
        let origin = [(ORIGIN.as_str(), self.app_origin())];
        let path = models.path_of(&manifest_path(name));
        let url = models.url(&manifest_path(name));
        let Some(reply) = self
            .get(
                Ask {
                    check: "manifest-signature",
                    target: models,
                    method: Method::GET,
                    path: &path,
                    headers: &origin,
                    body: b"",
                },
                seen,
                report,
            )
            .await
        else {
            return;
        };
        if reply.status != http::StatusCode::OK {
            report.push(Finding::fail(
                "manifest-signature",
                &url,
                format!("GET answered {}", reply.status),
                "publish NAME/manifest.json under --models (tessera pack --out), or fix --models",
            ));
            return;
        }
        report.push(rules::cors_response(
            &url,
            &reply.headers,
            &self.app_origin(),
            same_origin,
            &[],
            &[],
        ));
        report.push(rules::manifest_cache(&url, &reply.headers));
        let rows = rules::manifest_rows(
            &url,
            name,
            &reply.body,
            self.policy.as_ref(),
            self.now,
            self.args.manifest_warn_days,
        );
        report.extend(rows.findings);
        let Some(manifest) = rows.manifest else {
            return;
        };
        let entry = manifest.entry().ok().or(manifest.files.first());
        let Some(shard) = entry.and_then(|file| file.shards.iter().find(|s| s.size > 0)) else {
            return;
        };
        let Some(probe) = RangeProbe::for_size(shard.size) else {
            return;
        };
        let rel = shard_path(&shard.sha256);
        let shard_url = models.url(&rel);
        let headers = [
            (ORIGIN.as_str(), self.app_origin()),
            (RANGE.as_str(), probe.header()),
            (
                ACCEPT_ENCODING.as_str(),
                "gzip, deflate, br, zstd".to_owned(),
            ),
        ];
        let Some(reply) = self
            .get(
                Ask {
                    check: "shard-range",
                    target: models,
                    method: Method::GET,
                    path: &models.path_of(&rel),
                    headers: &headers,
                    body: b"",
                },
                seen,
                report,
            )
            .await
        else {
            return;
        };
        let body_len = u64::try_from(reply.body.len()).unwrap_or(u64::MAX);
        report.push(rules::shard_range(
            &shard_url,
            reply.status,
            &reply.headers,
            body_len,
            probe,
        ));
        report.push(rules::cors_response(
            &shard_url,
            &reply.headers,
            &self.app_origin(),
            same_origin,
            &["content-range"],
            &["etag", "accept-ranges"],
        ));
        report.push(rules::shard_cache(&shard_url, &reply.headers));
        report.push(rules::shard_encoding(&shard_url, &reply.headers));
    }

    async fn api_rows(&self, api: &Target, name: &ModelName, report: &mut Report, seen: &mut Seen) {
        let same_origin = api.origin() == self.app_origin();
        let path = api.path_of(&format!("v1/models/{name}/infer"));
        let url = format!("{}{path}", api.origin());
        let asked = ["authorization", "content-type"];
        let preflight = [
            (ORIGIN.as_str(), self.app_origin()),
            (ACCESS_CONTROL_REQUEST_METHOD.as_str(), "POST".to_owned()),
            (ACCESS_CONTROL_REQUEST_HEADERS.as_str(), asked.join(",")),
        ];
        if let Some(reply) = self
            .get(
                Ask {
                    check: "cors-preflight",
                    target: api,
                    method: Method::OPTIONS,
                    path: &path,
                    headers: &preflight,
                    body: b"",
                },
                seen,
                report,
            )
            .await
        {
            report.push(rules::cors_preflight(
                &url,
                reply.status,
                &reply.headers,
                &self.app_origin(),
                same_origin,
                &asked,
            ));
        }
        let post = [
            (ORIGIN.as_str(), self.app_origin()),
            (CONTENT_TYPE.as_str(), "application/json".to_owned()),
        ];
        const BODY: &[u8] = br#"{"inputs":{}}"#;
        if let Some(reply) = self
            .get(
                Ask {
                    check: "auth-required",
                    target: api,
                    method: Method::POST,
                    path: &path,
                    headers: &post,
                    body: BODY,
                },
                seen,
                report,
            )
            .await
        {
            report.push(rules::auth_required(&url, reply.status, &reply.body));
        }
        if self.args.burst == 0 || seen.unreachable.contains(&api.origin()) {
            return;
        }
        let answers: Vec<rules::BurstAnswer> = self
            .client
            .burst(
                api,
                &Method::POST,
                &path,
                &post,
                BODY,
                usize::from(self.args.burst),
            )
            .await
            .into_iter()
            .map(|answer| {
                answer.map(|reply| {
                    let retry = reply
                        .headers
                        .get(http::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    (reply.status, retry)
                })
            })
            .collect();
        report.push(rules::rate_limit(&url, &answers));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn only_same_origin_redirects_are_followed() {
        let app = Target::parse("https://app.example.com/").unwrap();
        assert_eq!(same_origin_path("/app/", &app).as_deref(), Some("/app/"));
        assert_eq!(
            same_origin_path("https://app.example.com/x?y", &app).as_deref(),
            Some("/x?y")
        );
        assert_eq!(
            same_origin_path("https://app.example.com", &app).as_deref(),
            Some("/")
        );
        assert_eq!(same_origin_path("//evil.example/", &app), None);
        assert_eq!(same_origin_path("https://other.example/", &app), None);
        assert_eq!(same_origin_path("http://app.example.com/", &app), None);
    }
}
