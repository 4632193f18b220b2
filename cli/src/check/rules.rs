//! The rules of `tessera check`: what was seen (status codes, headers, a handshake's leaf
//! certificate, a manifest's bytes) in, [`Finding`] rows out. Pure: no IO, the clock is a
//! parameter, and every rule is unit-tested below.
//!
//! Manifests are judged by `tessera-core`'s [`UpdatePolicy::evaluate`], the code path the
//! service worker and the edge run, so a row passes exactly when a client would accept.

use http::header::{
    ACCEPT_RANGES, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_RANGE,
    CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY_REPORT_ONLY, STRICT_TRANSPORT_SECURITY, VARY,
};
use http::{HeaderMap, HeaderName, StatusCode};
use tessera_core::dsse::Envelope;
use tessera_core::layout::ModelName;
use tessera_core::policy::{UpdateError, UpdatePolicy};
use tessera_core::{ErrorCode as _, Manifest};

use super::findings::Finding;

/// Seconds in a day.
const DAY: i64 = 86_400;
/// One year, the `max-age` HSTS preload lists and long-lived caching expect.
const YEAR_SECS: u64 = 31_536_000;

/// The leaf certificate a handshake presented (parsed by the IO side).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaf {
    /// `notAfter`, Unix seconds.
    pub not_after: i64,
    /// The issuer's distinguished name, for the row's detail.
    pub issuer: String,
}

/// Why a handshake refused the server's certificate (mapped from rustls by the IO side).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertProblem {
    /// Past `notAfter` (Unix seconds, when known).
    Expired {
        /// `notAfter`, Unix seconds, if the verifier said.
        not_after: Option<i64>,
    },
    /// Before `notBefore`.
    NotYetValid,
    /// The chain does not end at a trusted root (or is incomplete).
    UnknownIssuer,
    /// Valid, but not for this host name.
    WrongName,
    /// Anything else the verifier or the handshake said.
    Other(String),
}

/// `YYYY-MM-DD` of a Unix time (UTC).
pub fn date(unix: i64) -> String {
    // Howard Hinnant's days-to-civil algorithm.
    let z = unix.div_euclid(DAY) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

fn days_left(until: i64, now: i64) -> i64 {
    (until - now).div_euclid(DAY)
}

fn header<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// The comma-separated tokens of every `name` header, lowercase.
fn tokens(headers: &HeaderMap, name: &HeaderName) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

/// Directives of a `Cache-Control`-like header: `(name, value)`, names lowercase.
fn directives(value: &str, separator: char) -> Vec<(String, Option<String>)> {
    value
        .split(separator)
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| match d.split_once('=') {
            Some((name, value)) => (
                name.trim().to_ascii_lowercase(),
                Some(value.trim().trim_matches('"').to_owned()),
            ),
            None => (d.to_ascii_lowercase(), None),
        })
        .collect()
}

fn max_age(dirs: &[(String, Option<String>)]) -> Option<u64> {
    dirs.iter()
        .find(|(name, _)| name == "max-age")
        .and_then(|(_, value)| value.as_deref()?.parse().ok())
}

fn has(dirs: &[(String, Option<String>)], name: &str) -> bool {
    dirs.iter().any(|(n, _)| n == name)
}

// ---------------------------------------------------------------------------------------------
// TLS: the certificate chain, HTTP/2, HSTS

/// `tls-certificate` for an origin served over plain HTTP.
pub fn not_https(target: &str) -> Finding {
    Finding::fail(
        "tls-certificate",
        target,
        "served over plain HTTP",
        "serve it over HTTPS: service workers, HSTS and HTTP/2 in browsers need TLS \
         (tessera serve --tls-cert/--tls-key, or a TLS proxy)",
    )
}

/// `tls-certificate` for a handshake that verified: pass, or warn under `warn_days` days left.
pub fn certificate(target: &str, leaf: &Leaf, now: i64, warn_days: u64) -> Finding {
    let days = days_left(leaf.not_after, now);
    let detail = format!(
        "chain verified, issued by {}, expires {} ({days} days)",
        leaf.issuer,
        date(leaf.not_after)
    );
    if days < 0 {
        Finding::fail(
            "tls-certificate",
            target,
            format!("expired on {}", date(leaf.not_after)),
            "renew the certificate",
        )
    } else if days < i64::try_from(warn_days).unwrap_or(i64::MAX) {
        Finding::warn(
            "tls-certificate",
            target,
            detail,
            format!(
                "renew it: under {warn_days} days left (certbot renew, or your CA; tessera serve \
                 picks up renewed files without a restart)"
            ),
        )
    } else {
        Finding::pass("tls-certificate", target, detail)
    }
}

/// `tls-certificate` for a handshake that refused the certificate.
pub fn certificate_refused(target: &str, problem: &CertProblem, now: i64) -> Finding {
    let (detail, fix) = match problem {
        CertProblem::Expired { not_after: Some(t) } => (
            format!(
                "certificate expired on {} ({} days ago)",
                date(*t),
                -days_left(*t, now)
            ),
            "renew the certificate and serve the new chain".to_owned(),
        ),
        CertProblem::Expired { not_after: None } => (
            "certificate expired".to_owned(),
            "renew the certificate and serve the new chain".to_owned(),
        ),
        CertProblem::NotYetValid => (
            "certificate is not valid yet".to_owned(),
            "check the server's clock (and this machine's)".to_owned(),
        ),
        CertProblem::UnknownIssuer => (
            "certificate does not chain to a trusted root".to_owned(),
            "serve the full chain (fullchain.pem, leaf first); for a private CA pass \
             `tessera check --ca ca.pem`"
                .to_owned(),
        ),
        CertProblem::WrongName => (
            "certificate is not valid for this host name".to_owned(),
            "issue the certificate for this host name (subjectAltName)".to_owned(),
        ),
        CertProblem::Other(message) => (
            format!("TLS handshake failed: {message}"),
            "check the certificate, the key and the TLS settings of this origin".to_owned(),
        ),
    };
    Finding::fail("tls-certificate", target, detail, fix)
}

/// `http2`: the protocol ALPN chose.
pub fn http2(target: &str, tls: bool, alpn: Option<&[u8]>) -> Finding {
    let fix = "enable HTTP/2 (nginx: `http2 on;`; Caddy and tessera serve --tls-cert offer it by \
               default): a model's shards download in parallel over one connection";
    match alpn {
        Some(b"h2") => Finding::pass("http2", target, "HTTP/2 negotiated by ALPN"),
        _ if !tls => Finding::warn(
            "http2",
            target,
            "plain HTTP: browsers speak HTTP/2 only over TLS",
            fix,
        ),
        Some(other) => Finding::warn(
            "http2",
            target,
            format!("ALPN chose {}", String::from_utf8_lossy(other)),
            fix,
        ),
        None => Finding::warn("http2", target, "no ALPN protocol (HTTP/1.1)", fix),
    }
}

/// `hsts`: `Strict-Transport-Security` with a `max-age` of a year or more.
pub fn hsts(target: &str, tls: bool, headers: &HeaderMap) -> Finding {
    let fix =
        "send `Strict-Transport-Security: max-age=31536000` on every response (tessera serve \
               --tls-cert does; behind a TLS proxy: `tessera serve --hsts` or the proxy's \
               `add_header … always`)";
    if !tls {
        return Finding::fail(
            "hsts",
            target,
            "plain HTTP: browsers ignore HSTS here",
            "serve this origin over HTTPS, with HSTS",
        );
    }
    let Some(value) = header(headers, &STRICT_TRANSPORT_SECURITY) else {
        return Finding::fail("hsts", target, "no Strict-Transport-Security header", fix);
    };
    match max_age(&directives(value, ';')) {
        None | Some(0) => Finding::fail(
            "hsts",
            target,
            format!("Strict-Transport-Security: {value} (no effective max-age)"),
            fix,
        ),
        Some(secs) if secs < YEAR_SECS => Finding::warn(
            "hsts",
            target,
            format!("Strict-Transport-Security: {value} (under a year)"),
            fix,
        ),
        Some(_) => Finding::pass(
            "hsts",
            target,
            format!("Strict-Transport-Security: {value}"),
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// The app's CSP

/// Whether a CSP source list allows connecting to `origin` from a page on `self_origin`.
fn source_allows(sources: &[&str], origin: &str, self_origin: &str) -> bool {
    let Some((scheme, rest)) = origin.split_once("://") else {
        return false;
    };
    let (host, port) = split_host_port(rest, scheme);
    sources.iter().any(|source| {
        let source = source.to_ascii_lowercase();
        match source.as_str() {
            "*" => true,
            "'self'" => origin == self_origin,
            s if s.ends_with(':') && !s.contains('/') => s.trim_end_matches(':') == scheme,
            s if s.starts_with('\'') => false,
            s => {
                let (src_scheme, src_rest) = match s.split_once("://") {
                    Some((sc, r)) => (Some(sc), r),
                    None => (None, s),
                };
                let scheme_ok = match src_scheme {
                    Some(sc) => sc == scheme || (sc == "http" && scheme == "https"),
                    None => scheme == "https" || self_origin.starts_with(&format!("{scheme}:")),
                };
                let src_hostport = src_rest.split('/').next().unwrap_or_default();
                let (src_host, src_port) = split_host_port(src_hostport, scheme);
                let host_ok = match src_host.strip_prefix("*.") {
                    Some(suffix) => host.ends_with(&format!(".{suffix}")),
                    None => src_host == host,
                };
                let port_ok = src_port == "*" || src_port == port;
                scheme_ok && host_ok && port_ok
            }
        }
    })
}

/// `host`, `port` (the scheme's default when absent) of `host[:port]`.
fn split_host_port<'a>(hostport: &'a str, scheme: &str) -> (&'a str, &'a str) {
    let default = if scheme == "http" { "80" } else { "443" };
    if let Some(end) = hostport.strip_prefix('[').and_then(|r| r.find(']')) {
        let host = &hostport[..end + 2];
        let port = hostport[end + 2..].strip_prefix(':').unwrap_or(default);
        return (host, port);
    }
    match hostport.rsplit_once(':') {
        Some((host, port)) => (host, port),
        None => (hostport, default),
    }
}

/// `csp`: the app's `Content-Security-Policy` lets wasm compile and the page reach the
/// artifacts and inference origins (`connect_to`).
pub fn csp(target: &str, headers: &HeaderMap, app_origin: &str, connect_to: &[String]) -> Finding {
    let suggested = format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; \
         connect-src 'self' {}; img-src 'self' data:; style-src 'self'; object-src 'none'; \
         base-uri 'self'; frame-ancestors 'none'",
        connect_to
            .iter()
            .filter(|o| *o != app_origin)
            .cloned()
            .collect::<Vec<_>>()
            .join(" ")
    );
    let fix = format!("send `Content-Security-Policy: {suggested}`");
    let policies: Vec<&str> = headers
        .get_all(CONTENT_SECURITY_POLICY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if policies.is_empty() {
        let detail = if headers.contains_key(CONTENT_SECURITY_POLICY_REPORT_ONLY) {
            "only Content-Security-Policy-Report-Only (not enforced)"
        } else {
            "no Content-Security-Policy header"
        };
        return Finding::fail("csp", target, detail, fix);
    }
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    for policy in &policies {
        let dirs: Vec<(String, Vec<&str>)> = policy
            .split(';')
            .filter_map(|d| {
                let mut words = d.split_whitespace();
                let name = words.next()?.to_ascii_lowercase();
                Some((name, words.collect()))
            })
            .collect();
        let find = |name: &str| {
            dirs.iter()
                .find(|(n, _)| n == name)
                .or_else(|| dirs.iter().find(|(n, _)| n == "default-src"))
                .map(|(_, s)| s.as_slice())
        };
        match find("script-src") {
            None => warnings.push("scripts are not restricted (no script-src or default-src)"),
            Some(sources) => {
                let lower: Vec<String> = sources.iter().map(|s| s.to_ascii_lowercase()).collect();
                let has = |s: &str| lower.iter().any(|x| x == s);
                if !has("'wasm-unsafe-eval'") && !has("'unsafe-eval'") {
                    problems.push(
                        "script-src lacks 'wasm-unsafe-eval': WebAssembly (the service worker, \
                         the runtime) cannot compile"
                            .to_owned(),
                    );
                }
                if has("'unsafe-inline'") {
                    warnings.push("script-src allows 'unsafe-inline'");
                }
            }
        }
        if let Some(sources) = find("connect-src") {
            for origin in connect_to {
                if !source_allows(sources, origin, app_origin) {
                    problems.push(format!("connect-src does not allow {origin}"));
                }
            }
        }
    }
    if !problems.is_empty() {
        Finding::fail("csp", target, problems.join("; "), fix)
    } else if !warnings.is_empty() {
        Finding::warn("csp", target, warnings.join("; "), fix)
    } else {
        Finding::pass(
            "csp",
            target,
            "wasm allowed ('wasm-unsafe-eval'), connect-src reaches the artifacts and API origins",
        )
    }
}

// ---------------------------------------------------------------------------------------------
// CORS

fn same_origin_pass(check: &'static str, target: &str) -> Finding {
    Finding::pass(check, target, "same origin as the app: no CORS needed")
}

fn cors_fix(app_origin: &str) -> String {
    format!(
        "allow the app origin only: `tessera serve --cors-origin {app_origin}`, or \
         `Access-Control-Allow-Origin: {app_origin}` with `Vary: Origin` \
         (see README, Deployment)"
    )
}

/// Checks `Access-Control-Allow-Origin`; `Ok(None)` allowed as such, `Ok(Some(warning))`, or
/// the failing detail.
fn allow_origin(headers: &HeaderMap, app_origin: &str) -> Result<Option<String>, String> {
    match header(headers, &ACCESS_CONTROL_ALLOW_ORIGIN) {
        None => Err(format!("no Access-Control-Allow-Origin for {app_origin}")),
        Some("*") => Ok(Some(
            "Access-Control-Allow-Origin: * (any site may read it)".to_owned(),
        )),
        Some(value) if value.trim_end_matches('/').eq_ignore_ascii_case(app_origin) => Ok(None),
        Some(value) => Err(format!(
            "Access-Control-Allow-Origin is {value}, not the app origin {app_origin}"
        )),
    }
}

/// `cors` on an artifacts response read by the app: the app origin allowed, `must_expose`
/// headers exposed (else fail), `should_expose` ones too (else warn), `Vary: Origin` with a
/// specific origin (else warn).
pub fn cors_response(
    target: &str,
    headers: &HeaderMap,
    app_origin: &str,
    same_origin: bool,
    must_expose: &[&str],
    should_expose: &[&str],
) -> Finding {
    if same_origin {
        return same_origin_pass("cors", target);
    }
    let fix = cors_fix(app_origin);
    let mut warnings = Vec::new();
    match allow_origin(headers, app_origin) {
        Err(detail) => return Finding::fail("cors", target, detail, fix),
        Ok(Some(warning)) => warnings.push(warning),
        Ok(None) => {
            let vary = tokens(headers, &VARY);
            if !vary.iter().any(|v| v == "origin" || v == "*") {
                warnings.push(
                    "no `Vary: Origin` (a shared cache may serve another origin's answer)"
                        .to_owned(),
                );
            }
        }
    }
    let exposed = tokens(headers, &ACCESS_CONTROL_EXPOSE_HEADERS);
    let exposes = |h: &str| {
        exposed
            .iter()
            .any(|e| e == "*" || e.eq_ignore_ascii_case(h))
    };
    let missing: Vec<&str> = must_expose
        .iter()
        .copied()
        .filter(|h| !exposes(h))
        .collect();
    let expose_fix = "expose them: `Access-Control-Expose-Headers: Content-Length, Content-Range, \
                      Accept-Ranges, ETag`";
    if !missing.is_empty() {
        return Finding::fail(
            "cors",
            target,
            format!(
                "app origin allowed, but {} not exposed (the app cannot read it)",
                missing.join(", ")
            ),
            expose_fix,
        );
    }
    let unexposed: Vec<&str> = should_expose
        .iter()
        .copied()
        .filter(|h| !exposes(h))
        .collect();
    if !unexposed.is_empty() {
        warnings.push(format!("{} not exposed", unexposed.join(", ")));
    }
    if warnings.is_empty() {
        Finding::pass("cors", target, format!("allows {app_origin}"))
    } else {
        Finding::warn(
            "cors",
            target,
            format!("allows {app_origin}, but {}", warnings.join("; ")),
            format!("{fix}; {expose_fix}"),
        )
    }
}

/// `cors-preflight`: the answer to `OPTIONS` for a `POST` with `request_headers`.
pub fn cors_preflight(
    target: &str,
    status: StatusCode,
    headers: &HeaderMap,
    app_origin: &str,
    same_origin: bool,
    request_headers: &[&str],
) -> Finding {
    if same_origin {
        return same_origin_pass("cors-preflight", target);
    }
    let fix = format!(
        "answer the preflight with a 2xx, `Access-Control-Allow-Origin: {app_origin}` and \
         `Access-Control-Allow-Headers: {}` (tessera serve --cors-origin does)",
        request_headers.join(", ")
    );
    if !status.is_success() {
        return Finding::fail(
            "cors-preflight",
            target,
            format!("OPTIONS preflight answered {status}"),
            fix,
        );
    }
    let warning = match allow_origin(headers, app_origin) {
        Err(detail) => return Finding::fail("cors-preflight", target, detail, fix),
        Ok(warning) => warning,
    };
    let allowed = tokens(headers, &ACCESS_CONTROL_ALLOW_HEADERS);
    // `*` covers every request header except Authorization (Fetch standard).
    let missing: Vec<&str> = request_headers
        .iter()
        .copied()
        .filter(|h| {
            !allowed.iter().any(|a| {
                a.eq_ignore_ascii_case(h) || (a == "*" && !h.eq_ignore_ascii_case("authorization"))
            })
        })
        .collect();
    if !missing.is_empty() {
        return Finding::fail(
            "cors-preflight",
            target,
            format!("preflight does not allow {}", missing.join(", ")),
            fix,
        );
    }
    let detail = format!(
        "POST with {} allowed for {app_origin}",
        request_headers.join(", ")
    );
    match warning {
        Some(w) => Finding::warn("cors-preflight", target, format!("{detail}; {w}"), fix),
        None => Finding::pass("cors-preflight", target, detail),
    }
}

// ---------------------------------------------------------------------------------------------
// Shards and manifests over HTTP

/// A Range request made for `shard-range`: bytes `start..=end` of a shard of `size` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeProbe {
    /// First byte asked for.
    pub start: u64,
    /// Last byte asked for (inclusive).
    pub end: u64,
    /// The shard's size in the manifest.
    pub size: u64,
}

impl RangeProbe {
    /// Two bytes from the middle of a shard (one byte of a 1-byte shard; `None` if empty).
    pub fn for_size(size: u64) -> Option<Self> {
        match size {
            0 => None,
            1 => Some(Self {
                start: 0,
                end: 0,
                size,
            }),
            _ => {
                let start = size / 2 - 1;
                Some(Self {
                    start,
                    end: start + 1,
                    size,
                })
            }
        }
    }

    /// The `Range` header value.
    pub fn header(&self) -> String {
        format!("bytes={}-{}", self.start, self.end)
    }
}

/// `shard-range`: a Range request answered `206` with the right `Content-Range` and length,
/// and `Accept-Ranges: bytes`.
pub fn shard_range(
    target: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body_len: u64,
    probe: RangeProbe,
) -> Finding {
    let fix = "serve byte ranges on shards (`206` with `Content-Range`, `Accept-Ranges: bytes`): \
               static servers do by default; don't compress or transform shards on the way";
    let asked = probe.header();
    if status == StatusCode::OK {
        return Finding::fail(
            "shard-range",
            target,
            format!("`Range: {asked}` answered 200 with the whole shard: downloads cannot resume (range-ignored)"),
            fix,
        );
    }
    if status != StatusCode::PARTIAL_CONTENT {
        return Finding::fail(
            "shard-range",
            target,
            format!("`Range: {asked}` answered {status}"),
            fix,
        );
    }
    let expected = format!("bytes {}-{}/{}", probe.start, probe.end, probe.size);
    let content_range = header(headers, &CONTENT_RANGE).unwrap_or("(none)");
    if content_range != expected {
        return Finding::fail(
            "shard-range",
            target,
            format!("206 with Content-Range {content_range}, expected {expected}"),
            fix,
        );
    }
    let want_len = probe.end - probe.start + 1;
    if body_len != want_len {
        return Finding::fail(
            "shard-range",
            target,
            format!("206 with {body_len} bytes, expected {want_len}"),
            fix,
        );
    }
    match header(headers, &ACCEPT_RANGES) {
        Some(v) if v.eq_ignore_ascii_case("bytes") => Finding::pass(
            "shard-range",
            target,
            format!("206, Content-Range {expected}, Accept-Ranges: bytes"),
        ),
        other => Finding::warn(
            "shard-range",
            target,
            format!(
                "206, Content-Range {expected}, but Accept-Ranges is {}",
                other.unwrap_or("absent")
            ),
            "send `Accept-Ranges: bytes` on shards",
        ),
    }
}

/// `shard-cache`: shards never change, so `immutable` and/or a year of `max-age`.
pub fn shard_cache(target: &str, headers: &HeaderMap) -> Finding {
    let fix = "send `Cache-Control: public, max-age=31536000, immutable` on /models/_shards/ \
               (content-addressed: a shard never changes)";
    let Some(value) = header(headers, &CACHE_CONTROL) else {
        return Finding::warn("shard-cache", target, "no Cache-Control", fix);
    };
    let dirs = directives(value, ',');
    let age = max_age(&dirs).unwrap_or(0);
    let long = age >= YEAR_SECS || (has(&dirs, "immutable") && age >= 86_400);
    if long && !has(&dirs, "no-store") && !has(&dirs, "no-cache") {
        Finding::pass("shard-cache", target, format!("Cache-Control: {value}"))
    } else {
        Finding::warn(
            "shard-cache",
            target,
            format!("Cache-Control: {value} (not long-lived)"),
            fix,
        )
    }
}

/// `manifest-cache`: a manifest changes at the same URL, so `no-cache` (or `max-age=0`).
pub fn manifest_cache(target: &str, headers: &HeaderMap) -> Finding {
    let fix = "send `Cache-Control: no-cache` on manifests (an update is a new manifest at the \
               same URL; ETags keep revalidation cheap)";
    let Some(value) = header(headers, &CACHE_CONTROL) else {
        return Finding::warn(
            "manifest-cache",
            target,
            "no Cache-Control (caches may keep it by heuristics)",
            fix,
        );
    };
    let dirs = directives(value, ',');
    if has(&dirs, "no-cache") || has(&dirs, "no-store") || max_age(&dirs) == Some(0) {
        return Finding::pass("manifest-cache", target, format!("Cache-Control: {value}"));
    }
    Finding::fail(
        "manifest-cache",
        target,
        format!("Cache-Control: {value}: clients may keep a stale manifest and miss updates"),
        fix,
    )
}

/// `shard-encoding`: shards are served as stored, never with a `Content-Encoding`.
pub fn shard_encoding(target: &str, headers: &HeaderMap) -> Finding {
    match header(headers, &CONTENT_ENCODING) {
        None | Some("identity") => Finding::pass(
            "shard-encoding",
            target,
            "no Content-Encoding (asked with Accept-Encoding: gzip, deflate, br, zstd)",
        ),
        Some(encoding) => Finding::fail(
            "shard-encoding",
            target,
            format!("Content-Encoding: {encoding}: byte ranges no longer mean shard offsets"),
            "turn off on-the-fly compression for /models/_shards/ (nginx `gzip off;`, no Caddy \
             `encode` there, a CDN rule for application/octet-stream)",
        ),
    }
}

/// What the manifest rows found, and the manifest to pick a shard from.
#[derive(Debug)]
pub struct ManifestRows {
    /// `manifest-signature` and `manifest-expiry`.
    pub findings: Vec<Finding>,
    /// The manifest (verified, or parsed unverified when no key was given or the signature
    /// failed), if it parses at all.
    pub manifest: Option<Manifest>,
}

/// The payload of an envelope, parsed without verifying (to pick a shard, or to report the
/// expiry when no key was given): never trusted, only read.
fn unverified(envelope_json: &[u8]) -> Option<Manifest> {
    let payload = Envelope::from_json(envelope_json)
        .ok()?
        .payload_bytes()
        .ok()?;
    Manifest::from_json(&payload).ok()
}

fn expiry_row(target: &str, manifest: &Manifest, now: u64, warn_days: u64, note: &str) -> Finding {
    let expires = i64::try_from(manifest.expires_at).unwrap_or(i64::MAX);
    let now = i64::try_from(now).unwrap_or(i64::MAX);
    let days = days_left(expires, now);
    let detail = format!(
        "{} {} expires {} ({days} days){note}",
        manifest.name,
        manifest.version,
        date(expires)
    );
    let fix =
        "re-sign before it expires: `tessera pack … --expires 90d` (clients refuse an expired \
               manifest with manifest-expired)";
    if days < i64::try_from(warn_days).unwrap_or(i64::MAX) {
        Finding::warn("manifest-expiry", target, detail, fix)
    } else {
        Finding::pass("manifest-expiry", target, detail)
    }
}

/// `manifest-signature` and `manifest-expiry` of the envelope fetched for `name`, judged by
/// `policy` (the trusted `--pub` keys; `None` when none was given) at `now` (Unix seconds).
pub fn manifest_rows(
    target: &str,
    name: &ModelName,
    envelope_json: &[u8],
    policy: Option<&UpdatePolicy>,
    now: u64,
    warn_days: u64,
) -> ManifestRows {
    let Some(policy) = policy else {
        let manifest = unverified(envelope_json);
        let mut findings = vec![Finding::warn(
            "manifest-signature",
            target,
            "not checked: no --pub key given",
            "pass the public keys clients trust: `--pub tessera.pub.json`",
        )];
        if let Some(m) = &manifest {
            findings.push(expiry_row(target, m, now, warn_days, " (unverified)"));
        }
        return ManifestRows { findings, manifest };
    };
    match policy.evaluate(name, None, envelope_json, now) {
        Ok(accepted) => {
            let m = accepted.manifest;
            let findings = vec![
                Finding::pass(
                    "manifest-signature",
                    target,
                    format!(
                        "{} {} signed by a trusted key (as a client checks it)",
                        m.name, m.version
                    ),
                ),
                expiry_row(target, &m, now, warn_days, ""),
            ];
            ManifestRows {
                findings,
                manifest: Some(m),
            }
        }
        Err(err @ (UpdateError::Expired { .. } | UpdateError::NotYetValid { .. })) => {
            // Checked after the signature: the signature is good.
            let manifest = unverified(envelope_json);
            let findings = vec![
                Finding::pass(
                    "manifest-signature",
                    target,
                    "signed by a trusted key (as a client checks it)",
                ),
                Finding::fail(
                    "manifest-expiry",
                    target,
                    format!("{} ({})", err, err.code()),
                    "re-sign it (`tessera pack … --force --expires 90d`, or a new version) and \
                     publish the new manifest; check the server's clock",
                ),
            ];
            ManifestRows { findings, manifest }
        }
        Err(err) => {
            let fix = match err.code() {
                "manifest-unknown-key" | "manifest-threshold-not-met" => {
                    "sign with a key the clients trust (the app's trustedKeys), or pass that key \
                     with --pub"
                }
                "manifest-signature-invalid" => {
                    "the manifest was altered after signing: publish the manifest `tessera pack` \
                     wrote, unmodified (no re-encoding by the server)"
                }
                _ => "publish the manifest `tessera pack` wrote for this model, unmodified",
            };
            ManifestRows {
                findings: vec![Finding::fail(
                    "manifest-signature",
                    target,
                    format!("refused: {} ({})", err, err.code()),
                    fix,
                )],
                manifest: unverified(envelope_json),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The inference API

/// The typed code of a `{"error": {"code", …}}` body.
pub fn error_code(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value.get("error")?.get("code")?.as_str().map(str::to_owned)
}

/// `auth-required`: an inference request without a token is refused with `401` and a typed
/// code.
pub fn auth_required(target: &str, status: StatusCode, body: &[u8]) -> Finding {
    let code = error_code(body);
    let shown = code.as_deref().unwrap_or("no typed code");
    let fix = "require tokens: `tessera serve --auth-key jwt.pub.json --auth-audience AUD` (mint \
               them with `tessera token`)";
    match (status.as_u16(), code.as_deref()) {
        (401, Some("auth-missing" | "auth-invalid" | "client-cert-required")) => Finding::pass(
            "auth-required",
            target,
            format!("a request without a token is refused: 401 {shown}"),
        ),
        (401 | 403, _) => Finding::warn(
            "auth-required",
            target,
            format!("refused with {status}, {shown} (expected 401 auth-missing)"),
            "answer `401 {\"error\": {\"code\": \"auth-missing\"}}` so clients can tell why",
        ),
        (429, _) => Finding::warn(
            "auth-required",
            target,
            format!("429 {shown}: throttled before a token was asked for"),
            "run the check again later (failed authentications are throttled per client)",
        ),
        (503, Some("inference-disabled")) => Finding::warn(
            "auth-required",
            target,
            "503 inference-disabled: this server runs no models",
            "start it with `--trust tessera.pub.json` (and --auth-key), or leave out --api",
        ),
        _ => Finding::fail(
            "auth-required",
            target,
            format!("a request without a token was answered {status} ({shown}): anyone can run inference"),
            fix,
        ),
    }
}

/// One answer of the `rate-limit` burst: the status and `Retry-After`, or why it failed.
pub type BurstAnswer = Result<(StatusCode, Option<String>), String>;

/// `Retry-After` is delta-seconds or an HTTP date.
fn valid_retry_after(value: &str) -> bool {
    let value = value.trim();
    (!value.is_empty() && value.bytes().all(|b| b.is_ascii_digit())) || value.ends_with("GMT")
}

/// `rate-limit`: a burst of requests without a token meets `429` with `Retry-After`.
pub fn rate_limit(target: &str, answers: &[BurstAnswer]) -> Finding {
    let n = answers.len();
    let limited: Vec<&Option<String>> = answers
        .iter()
        .filter_map(|a| match a {
            Ok((status, retry)) if *status == StatusCode::TOO_MANY_REQUESTS => Some(retry),
            _ => None,
        })
        .collect();
    let errors: Vec<&String> = answers.iter().filter_map(|a| a.as_ref().err()).collect();
    let fix = "limit per client: tessera serve --infer-rate/--infer-burst (failed authentications \
               are throttled too), or the proxy's limit_req; `--burst N` probes higher limits";
    if let Some(first) = limited.first() {
        let bad = limited
            .iter()
            .filter(|r| !r.as_deref().is_some_and(valid_retry_after))
            .count();
        return if bad > 0 {
            Finding::fail(
                "rate-limit",
                target,
                format!(
                    "{} of {n} requests got 429, {bad} without a valid Retry-After",
                    limited.len()
                ),
                "send `Retry-After: SECONDS` with every 429 so clients back off for that long",
            )
        } else {
            Finding::pass(
                "rate-limit",
                target,
                format!(
                    "{} of a burst of {n} requests got 429 with Retry-After: {}",
                    limited.len(),
                    first.as_deref().unwrap_or_default()
                ),
            )
        };
    }
    if errors.len() == n && n > 0 {
        return Finding::warn(
            "rate-limit",
            target,
            format!("the burst failed: {}", errors[0]),
            "check the API's address",
        );
    }
    let mut statuses: Vec<u16> = answers
        .iter()
        .filter_map(|a| a.as_ref().ok().map(|(s, _)| s.as_u16()))
        .collect();
    statuses.sort_unstable();
    statuses.dedup();
    Finding::warn(
        "rate-limit",
        target,
        format!(
            "no 429 within a burst of {n} requests without a token (statuses {statuses:?}): \
             limits are higher or absent"
        ),
        fix,
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use ed25519_dalek::SigningKey;
    use http::HeaderValue;
    use tessera_core::keys::TrustedKeys;
    use tessera_core::manifest::PAYLOAD_TYPE;

    use super::super::findings::Status;
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    const APP: &str = "https://app.example.com";
    const NOW: i64 = 1_800_000_000;

    #[test]
    fn dates_are_civil() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(951_782_400), "2000-02-29");
        assert_eq!(date(1_800_000_000), "2027-01-15");
        assert_eq!(date(-DAY), "1969-12-31");
    }

    #[test]
    fn certificates_warn_before_they_expire_and_fail_after() {
        let leaf = |days: i64| Leaf {
            not_after: NOW + days * DAY + 10,
            issuer: "CN=ca".into(),
        };
        assert_eq!(certificate("t", &leaf(90), NOW, 21).status, Status::Pass);
        let soon = certificate("t", &leaf(10), NOW, 21);
        assert_eq!(soon.status, Status::Warn);
        assert!(soon.detail.contains("(10 days)"), "{}", soon.detail);
        assert_eq!(certificate("t", &leaf(-2), NOW, 21).status, Status::Fail);
        let refused = certificate_refused(
            "t",
            &CertProblem::Expired {
                not_after: Some(NOW - 3 * DAY),
            },
            NOW,
        );
        assert_eq!(refused.status, Status::Fail);
        assert!(refused.detail.contains("3 days ago"), "{}", refused.detail);
        let unknown = certificate_refused("t", &CertProblem::UnknownIssuer, NOW);
        assert!(unknown.fix.unwrap().contains("--ca"));
        assert_eq!(not_https("t").status, Status::Fail);
    }

    #[test]
    fn http2_and_hsts() {
        assert_eq!(http2("t", true, Some(b"h2")).status, Status::Pass);
        assert_eq!(http2("t", true, Some(b"http/1.1")).status, Status::Warn);
        assert_eq!(http2("t", true, None).status, Status::Warn);
        let h = |v: &str| headers(&[("strict-transport-security", v)]);
        assert_eq!(hsts("t", true, &h("max-age=31536000")).status, Status::Pass);
        assert_eq!(
            hsts("t", true, &h("max-age=\"63072000\"; includeSubDomains")).status,
            Status::Pass
        );
        assert_eq!(hsts("t", true, &h("max-age=86400")).status, Status::Warn);
        assert_eq!(hsts("t", true, &h("max-age=0")).status, Status::Fail);
        assert_eq!(hsts("t", true, &HeaderMap::new()).status, Status::Fail);
        assert_eq!(
            hsts("t", false, &h("max-age=31536000")).status,
            Status::Fail
        );
    }

    #[test]
    fn csp_needs_wasm_and_the_other_origins() {
        let others = vec![
            "https://models.example.com".to_owned(),
            "https://inference.example.com".to_owned(),
        ];
        let good = headers(&[(
            "content-security-policy",
            "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self' \
             https://models.example.com https://inference.example.com",
        )]);
        assert_eq!(csp("t", &good, APP, &others).status, Status::Pass);
        let wildcard = headers(&[(
            "content-security-policy",
            "script-src 'self' 'wasm-unsafe-eval'; connect-src 'self' https://*.example.com",
        )]);
        assert_eq!(csp("t", &wildcard, APP, &others).status, Status::Pass);
        let scheme = headers(&[(
            "content-security-policy",
            "default-src 'self' https: 'wasm-unsafe-eval'",
        )]);
        assert_eq!(csp("t", &scheme, APP, &others).status, Status::Pass);
        let no_wasm = headers(&[(
            "content-security-policy",
            "default-src 'self'; connect-src *",
        )]);
        let row = csp("t", &no_wasm, APP, &others);
        assert_eq!(row.status, Status::Fail);
        assert!(row.detail.contains("wasm-unsafe-eval"), "{}", row.detail);
        let missing_api = headers(&[(
            "content-security-policy",
            "script-src 'wasm-unsafe-eval'; connect-src 'self' https://models.example.com",
        )]);
        let row = csp("t", &missing_api, APP, &others);
        assert_eq!(row.status, Status::Fail);
        assert!(
            row.detail
                .contains("does not allow https://inference.example.com"),
            "{}",
            row.detail
        );
        // A port must match.
        let port = headers(&[(
            "content-security-policy",
            "script-src 'wasm-unsafe-eval'; connect-src https://models.example.com:8443",
        )]);
        assert_eq!(csp("t", &port, APP, &others[..1]).status, Status::Fail);
        let inline = headers(&[(
            "content-security-policy",
            "script-src 'self' 'unsafe-inline' 'wasm-unsafe-eval'; connect-src *",
        )]);
        assert_eq!(csp("t", &inline, APP, &others).status, Status::Warn);
        assert_eq!(
            csp("t", &HeaderMap::new(), APP, &others).status,
            Status::Fail
        );
        let report_only = headers(&[("content-security-policy-report-only", "default-src 'self'")]);
        assert!(csp("t", &report_only, APP, &others)
            .detail
            .contains("Report-Only"));
    }

    #[test]
    fn cors_responses() {
        let expose = "Content-Length, Content-Range, Accept-Ranges, ETag";
        let good = headers(&[
            ("access-control-allow-origin", APP),
            ("access-control-expose-headers", expose),
            ("vary", "origin, access-control-request-method"),
        ]);
        let must = ["content-range"];
        let should = ["etag", "accept-ranges"];
        assert_eq!(
            cors_response("t", &good, APP, false, &must, &should).status,
            Status::Pass
        );
        assert_eq!(
            cors_response("t", &HeaderMap::new(), APP, true, &must, &should).status,
            Status::Pass
        );
        let none = cors_response("t", &HeaderMap::new(), APP, false, &must, &should);
        assert_eq!(none.status, Status::Fail);
        assert!(none
            .fix
            .unwrap()
            .contains("--cors-origin https://app.example.com"));
        let other = headers(&[("access-control-allow-origin", "https://evil.example")]);
        let row = cors_response("t", &other, APP, false, &must, &should);
        assert_eq!(row.status, Status::Fail);
        assert!(row.detail.contains("not the app origin"), "{}", row.detail);
        let unexposed = headers(&[("access-control-allow-origin", APP), ("vary", "Origin")]);
        assert_eq!(
            cors_response("t", &unexposed, APP, false, &must, &should).status,
            Status::Fail
        );
        assert_eq!(
            cors_response("t", &unexposed, APP, false, &[], &should).status,
            Status::Warn
        );
        let star = headers(&[
            ("access-control-allow-origin", "*"),
            ("access-control-expose-headers", "*"),
        ]);
        assert_eq!(
            cors_response("t", &star, APP, false, &must, &should).status,
            Status::Warn
        );
        let no_vary = headers(&[
            ("access-control-allow-origin", APP),
            ("access-control-expose-headers", expose),
        ]);
        assert_eq!(
            cors_response("t", &no_vary, APP, false, &must, &should).status,
            Status::Warn
        );
    }

    #[test]
    fn preflights() {
        let asked = ["authorization", "content-type"];
        let good = headers(&[
            ("access-control-allow-origin", APP),
            (
                "access-control-allow-headers",
                "range,if-range,authorization,content-type",
            ),
        ]);
        assert_eq!(
            cors_preflight("t", StatusCode::OK, &good, APP, false, &asked).status,
            Status::Pass
        );
        assert_eq!(
            cors_preflight("t", StatusCode::NOT_FOUND, &good, APP, false, &asked).status,
            Status::Fail
        );
        let star = headers(&[
            ("access-control-allow-origin", APP),
            ("access-control-allow-headers", "*"),
        ]);
        let row = cors_preflight("t", StatusCode::NO_CONTENT, &star, APP, false, &asked);
        assert_eq!(row.status, Status::Fail);
        assert!(row.detail.contains("authorization"), "{}", row.detail);
        let no_origin = headers(&[(
            "access-control-allow-headers",
            "authorization, content-type",
        )]);
        assert_eq!(
            cors_preflight("t", StatusCode::OK, &no_origin, APP, false, &asked).status,
            Status::Fail
        );
    }

    #[test]
    fn ranges() {
        let probe = RangeProbe::for_size(1024).unwrap();
        assert_eq!(probe.header(), "bytes=511-512");
        assert_eq!(RangeProbe::for_size(1).unwrap().header(), "bytes=0-0");
        assert_eq!(RangeProbe::for_size(0), None);
        let good = headers(&[
            ("content-range", "bytes 511-512/1024"),
            ("accept-ranges", "bytes"),
        ]);
        assert_eq!(
            shard_range("t", StatusCode::PARTIAL_CONTENT, &good, 2, probe).status,
            Status::Pass
        );
        let row = shard_range("t", StatusCode::OK, &HeaderMap::new(), 1024, probe);
        assert_eq!(row.status, Status::Fail);
        assert!(row.detail.contains("range-ignored"));
        let wrong_len = headers(&[("content-range", "bytes 511-512/2048")]);
        assert_eq!(
            shard_range("t", StatusCode::PARTIAL_CONTENT, &wrong_len, 2, probe).status,
            Status::Fail
        );
        assert_eq!(
            shard_range("t", StatusCode::PARTIAL_CONTENT, &good, 3, probe).status,
            Status::Fail
        );
        let no_accept = headers(&[("content-range", "bytes 511-512/1024")]);
        assert_eq!(
            shard_range("t", StatusCode::PARTIAL_CONTENT, &no_accept, 2, probe).status,
            Status::Warn
        );
    }

    #[test]
    fn caching_and_encoding() {
        let cc = |v: &str| headers(&[("cache-control", v)]);
        assert_eq!(
            shard_cache("t", &cc("public, max-age=31536000, immutable")).status,
            Status::Pass
        );
        assert_eq!(
            shard_cache("t", &cc("max-age=604800, immutable")).status,
            Status::Pass
        );
        assert_eq!(shard_cache("t", &cc("no-cache")).status, Status::Warn);
        assert_eq!(shard_cache("t", &HeaderMap::new()).status, Status::Warn);
        assert_eq!(manifest_cache("t", &cc("no-cache")).status, Status::Pass);
        assert_eq!(
            manifest_cache("t", &cc("public, max-age=0")).status,
            Status::Pass
        );
        assert_eq!(
            manifest_cache("t", &cc("max-age=3600")).status,
            Status::Fail
        );
        assert_eq!(manifest_cache("t", &HeaderMap::new()).status, Status::Warn);
        assert_eq!(shard_encoding("t", &HeaderMap::new()).status, Status::Pass);
        assert_eq!(
            shard_encoding("t", &headers(&[("content-encoding", "gzip")])).status,
            Status::Fail
        );
    }

    fn signed(key: &SigningKey, expires_in: i64) -> Vec<u8> {
        let now = u64::try_from(NOW).unwrap();
        let payload = serde_json::json!({
            "schema": 1,
            "name": "demo",
            "version": "1.0.0",
            "runtime": { "engine": "wonnx", "abi": 1, "ops": [] },
            "issued_at": now - 10 * 86_400,
            "expires_at": now.checked_add_signed(expires_in).unwrap(),
            "files": [{
                "path": "model.onnx", "size": 3,
                "sha256": "0000000000000000000000000000000000000000000000000000000000000000",
                "shards": [{
                    "sha256": "0000000000000000000000000000000000000000000000000000000000000000",
                    "size": 3
                }]
            }]
        });
        let payload = serde_json::to_vec(&payload).unwrap();
        Envelope::sign(PAYLOAD_TYPE, &payload, key).to_json()
    }

    fn policy(key: &SigningKey) -> UpdatePolicy {
        let mut trusted = TrustedKeys::new();
        trusted.insert(key.verifying_key());
        UpdatePolicy::new(trusted, 1)
    }

    #[test]
    fn manifests_are_judged_by_the_client_policy() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let other = SigningKey::from_bytes(&[9; 32]);
        let name: ModelName = "demo".parse().unwrap();
        let now = u64::try_from(NOW).unwrap();
        let envelope = signed(&key, 60 * DAY);

        let rows = manifest_rows("t", &name, &envelope, Some(&policy(&key)), now, 7);
        let statuses: Vec<Status> = rows.findings.iter().map(|f| f.status).collect();
        assert_eq!(
            statuses,
            [Status::Pass, Status::Pass],
            "{:?}",
            rows.findings
        );
        assert!(
            rows.findings[1].detail.contains("(60 days)"),
            "{:?}",
            rows.findings
        );
        assert_eq!(rows.manifest.unwrap().files[0].shards.len(), 1);

        let rows = manifest_rows("t", &name, &envelope, Some(&policy(&other)), now, 7);
        assert_eq!(rows.findings.len(), 1);
        assert_eq!(rows.findings[0].status, Status::Fail);
        assert!(
            rows.findings[0].detail.contains("manifest-unknown-key"),
            "{:?}",
            rows.findings
        );
        assert!(rows.manifest.is_some(), "still read to pick a shard");

        let soon = signed(&key, 3 * DAY);
        let rows = manifest_rows("t", &name, &soon, Some(&policy(&key)), now, 7);
        assert_eq!(rows.findings[1].status, Status::Warn);

        let expired = signed(&key, -DAY);
        let rows = manifest_rows("t", &name, &expired, Some(&policy(&key)), now, 7);
        assert_eq!(rows.findings[0].status, Status::Pass);
        assert_eq!(rows.findings[1].status, Status::Fail);
        assert!(rows.findings[1].detail.contains("manifest-expired"));

        let wrong_name: ModelName = "other".parse().unwrap();
        let rows = manifest_rows("t", &wrong_name, &envelope, Some(&policy(&key)), now, 7);
        assert!(rows.findings[0].detail.contains("manifest-name-mismatch"));

        let rows = manifest_rows("t", &name, &envelope, None, now, 7);
        assert_eq!(rows.findings[0].status, Status::Warn);
        assert!(rows.findings[1].detail.contains("unverified"));

        let rows = manifest_rows("t", &name, b"<html>", Some(&policy(&key)), now, 7);
        assert_eq!(rows.findings[0].status, Status::Fail);
        assert!(rows.manifest.is_none());
    }

    #[test]
    fn the_api_must_refuse_without_a_token() {
        let body = br#"{"error":{"code":"auth-missing","message":"no token"}}"#;
        assert_eq!(
            auth_required("t", StatusCode::UNAUTHORIZED, body).status,
            Status::Pass
        );
        assert_eq!(
            auth_required("t", StatusCode::UNAUTHORIZED, b"nope").status,
            Status::Warn
        );
        let malformed = br#"{"error":{"code":"input-missing","message":"x"}}"#;
        let row = auth_required("t", StatusCode::BAD_REQUEST, malformed);
        assert_eq!(row.status, Status::Fail);
        assert!(row.detail.contains("input-missing"), "{}", row.detail);
        assert_eq!(
            auth_required("t", StatusCode::OK, b"{}").status,
            Status::Fail
        );
        let disabled = br#"{"error":{"code":"inference-disabled","message":"x"}}"#;
        assert_eq!(
            auth_required("t", StatusCode::SERVICE_UNAVAILABLE, disabled).status,
            Status::Warn
        );
    }

    #[test]
    fn bursts_must_meet_a_429_with_retry_after() {
        let ok = |s: u16, r: Option<&str>| -> BurstAnswer {
            Ok((StatusCode::from_u16(s).unwrap(), r.map(str::to_owned)))
        };
        let mut answers: Vec<BurstAnswer> = (0..10).map(|_| ok(401, None)).collect();
        answers.push(ok(429, Some("6")));
        assert_eq!(rate_limit("t", &answers).status, Status::Pass);
        answers.push(ok(429, None));
        assert_eq!(rate_limit("t", &answers).status, Status::Fail);
        let none: Vec<BurstAnswer> = (0..5).map(|_| ok(401, None)).collect();
        let row = rate_limit("t", &none);
        assert_eq!(row.status, Status::Warn);
        assert!(row.detail.contains("[401]"), "{}", row.detail);
        let date = vec![ok(429, Some("Wed, 21 Oct 2026 07:28:00 GMT"))];
        assert_eq!(rate_limit("t", &date).status, Status::Pass);
        let failed: Vec<BurstAnswer> = vec![Err("refused".into())];
        assert_eq!(rate_limit("t", &failed).status, Status::Warn);
    }
}
