//! `tessera check` against real `tessera serve` instances over TLS (a CA, server certificates
//! made with rcgen at test time): a deployment configured as the README says passes (exit 0);
//! each deliberately broken variant is caught by its row — CORS missing or for another origin,
//! an expired and a soon-expiring certificate, a manifest checked against a key that did not
//! sign it, an API without auth — and a tiny local server that compresses shards, ignores
//! Range and caches manifests shows those rows fail.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::process::{Command as StdCommand, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use common::{noise, stdout_of, Server, Workspace};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use serde_json::Value;

const DAY: i64 = 86_400;

fn now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

/// `unix` as the date type rcgen takes (through x509-parser, which shares rcgen's `time`).
macro_rules! at {
    ($unix:expr) => {
        x509_parser::time::ASN1Time::from_timestamp($unix)
            .unwrap()
            .to_datetime()
    };
}

/// A test CA.
struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

impl Ca {
    fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params
            .distinguished_name
            .push(DnType::CommonName, "tessera check test CA");
        let key = KeyPair::generate().unwrap();
        let pem = params.self_signed(&key).unwrap().pem();
        Self {
            issuer: Issuer::new(params, key),
            pem,
        }
    }

    /// A server certificate for 127.0.0.1 valid until `not_after` (Unix seconds), written to
    /// `<name>.pem` / `<name>.key` in `ws`.
    fn server(&self, ws: &Workspace, name: &str, not_after: i64) {
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params
            .distinguished_name
            .push(DnType::CommonName, format!("server {name}"));
        params.not_before = at!(now() - 60 * DAY);
        params.not_after = at!(not_after);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        ws.write(&format!("{name}.pem"), cert.pem().as_bytes());
        ws.write(&format!("{name}.key"), key.serialize_pem().as_bytes());
    }
}

/// Two free ports (both held while they are picked, so they differ).
fn free_ports() -> (u16, u16) {
    let a = TcpListener::bind("127.0.0.1:0").unwrap();
    let b = TcpListener::bind("127.0.0.1:0").unwrap();
    (
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    )
}

/// Starts `tessera serve ARGS…` in `ws` and waits for the line naming its URL.
fn serve(ws: &Workspace, args: &[&str]) -> Server {
    let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("tessera"))
        .current_dir(ws.path(""))
        .env_remove("RUST_LOG")
        .arg("serve")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("tessera serve {args:?} printed {line:?}"))
        .to_owned();
    Server { child, addr }
}

/// A workspace with a packed model `demo`, its signing key (`keys/`), a token key (`jwt/`),
/// another key (`other/`), an app and a CA (`ca.pem`) with a good server certificate
/// (`good.pem`).
struct Site {
    ws: Workspace,
    ca: Ca,
}

impl Site {
    fn new() -> Self {
        let ws = Workspace::new();
        ws.keygen("keys");
        ws.keygen("jwt");
        ws.keygen("other");
        ws.write("in/w.bin", &noise(3000, 7));
        stdout_of(&mut ws.pack("1.0.0", &["in/w.bin"]));
        ws.write(
            "app/index.html",
            b"<!doctype html><script type=\"module\" src=\"app.js\"></script>\n",
        );
        ws.write("app/app.js", b"console.log('app');\n");
        std::fs::create_dir_all(ws.path("empty")).unwrap();
        let ca = Ca::new();
        ws.write("ca.pem", ca.pem.as_bytes());
        ca.server(&ws, "good", now() + 400 * DAY);
        Self { ws, ca }
    }
}

/// How to start the artifacts + inference server of a [`Deployment`].
struct Edge<'a> {
    cert: &'a str,
    /// `None`: no `--cors-origin`; `Some("")`: the app's origin.
    cors: Option<&'a str>,
    auth: bool,
}

impl Default for Edge<'_> {
    fn default() -> Self {
        Self {
            cert: "good",
            cors: Some(""),
            auth: true,
        }
    }
}

/// An app server and an artifacts + inference server, on two origins that name each other.
struct Deployment {
    app: String,
    models: String,
    _servers: [Server; 2],
}

impl Deployment {
    fn start(site: &Site, edge: &Edge<'_>) -> Self {
        let (app_port, edge_port) = free_ports();
        let app = format!("https://127.0.0.1:{app_port}");
        let models = format!("https://127.0.0.1:{edge_port}");
        let app_addr = format!("127.0.0.1:{app_port}");
        let app_server = serve(
            &site.ws,
            &[
                "--artifacts",
                "empty",
                "--app",
                "app",
                "--addr",
                &app_addr,
                "--tls-cert",
                "good.pem",
                "--tls-key",
                "good.key",
                "--cors-origin",
                &models,
            ],
        );
        let edge_addr = format!("127.0.0.1:{edge_port}");
        let cert = format!("{}.pem", edge.cert);
        let key = format!("{}.key", edge.cert);
        let mut args: Vec<&str> = vec![
            "--artifacts",
            "art",
            "--addr",
            &edge_addr,
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--trust",
            "keys/tessera.pub.json",
        ];
        let origin = match edge.cors {
            Some("") => Some(app.as_str()),
            other => other,
        };
        if let Some(origin) = origin {
            args.extend(["--cors-origin", origin]);
        }
        if edge.auth {
            args.extend([
                "--auth-key",
                "jwt/tessera.pub.json",
                "--auth-audience",
                "check",
            ]);
        }
        let edge_server = serve(&site.ws, &args);
        Self {
            app,
            models,
            _servers: [app_server, edge_server],
        }
    }

    /// `tessera check --json` of this deployment with `--pub keys/…` (or `key`).
    fn check(&self, site: &Site, key: &str) -> (i32, Value, String) {
        let output = site
            .ws
            .tessera()
            .args(["check", "--json", "--ca", "ca.pem", "--model", "demo"])
            .args(["--app", &format!("{}/", self.app)])
            .args(["--models", &format!("{}/models/", self.models)])
            .args(["--api", &self.models])
            .args(["--pub", &format!("{key}/tessera.pub.json")])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(!stderr.contains("panicked"), "{stderr}");
        let json: Value = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("{e}: stdout {stdout:?} stderr {stderr:?}"));
        (output.status.code().unwrap(), json, stderr)
    }
}

/// The rows of `check`, as (status, target, detail).
fn rows<'a>(report: &'a Value, check: &str) -> Vec<(&'a str, &'a str, &'a str)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == check)
        .map(|f| {
            (
                f["status"].as_str().unwrap(),
                f["target"].as_str().unwrap(),
                f["detail"].as_str().unwrap(),
            )
        })
        .collect()
}

/// Asserts every `check` row has `status` (and there is at least one); returns their details.
fn assert_rows(report: &Value, check: &str, status: &str) -> Vec<String> {
    let found = rows(report, check);
    assert!(!found.is_empty(), "no {check} row in {report:#}");
    for (s, target, detail) in &found {
        assert_eq!(*s, status, "{check} {target}: {detail}\n{report:#}");
    }
    found.iter().map(|(_, _, d)| (*d).to_owned()).collect()
}

fn failing(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "fail")
        .map(|f| format!("{} {}", f["check"], f["detail"]))
        .collect()
}

#[test]
fn a_deployment_configured_as_documented_passes() {
    let site = Site::new();
    let deployment = Deployment::start(&site, &Edge::default());
    let (code, report, stderr) = deployment.check(&site, "keys");
    assert_eq!(code, 0, "{:?}\n{report:#}\n{stderr}", failing(&report));
    assert_eq!(report["ok"], true);
    for check in [
        "tls-certificate",
        "http2",
        "hsts",
        "csp",
        "cors",
        "manifest-cache",
        "manifest-signature",
        "manifest-expiry",
        "shard-range",
        "shard-cache",
        "shard-encoding",
        "cors-preflight",
        "auth-required",
        "rate-limit",
    ] {
        assert_rows(&report, check, "pass");
    }
    assert_eq!(rows(&report, "tls-certificate").len(), 2, "two origins");
    assert!(assert_rows(&report, "auth-required", "pass")[0].contains("401 auth-missing"));
    assert!(assert_rows(&report, "rate-limit", "pass")[0].contains("Retry-After"));

    // The text table: a row per finding and a summary. (Without --api: the burst above used up
    // this client's failed-authentication allowance, so the API would answer 429 for a while.)
    let text = stdout_of(
        site.ws
            .tessera()
            .args(["check", "--ca", "ca.pem", "--model", "demo"])
            .args(["--app", &deployment.app])
            .args(["--models", &deployment.models])
            .args(["--pub", "keys/tessera.pub.json"]),
    );
    assert!(text.contains("PASS  tls-certificate"), "{text}");
    assert!(text.contains("PASS  shard-range"), "{text}");
    assert!(!text.contains("auth-required"), "no --api: {text}");
    assert!(text.trim_end().ends_with("0 warn, 0 fail"), "{text}");
}

#[test]
fn cors_missing_or_for_another_origin_fails() {
    let site = Site::new();
    for cors in [None, Some("https://elsewhere.example")] {
        let deployment = Deployment::start(
            &site,
            &Edge {
                cors,
                ..Edge::default()
            },
        );
        let (code, report, stderr) = deployment.check(&site, "keys");
        assert_eq!(code, 1, "{cors:?}: {report:#}");
        assert!(stderr.contains("error[check-failed]"), "{stderr}");
        let details = assert_rows(&report, "cors", "fail");
        // tessera serve answers another origin without any Access-Control-Allow-Origin.
        assert!(
            details.iter().all(|d| d.contains(&format!(
                "no Access-Control-Allow-Origin for {}",
                deployment.app
            ))),
            "{details:?}"
        );
        assert_rows(&report, "cors-preflight", "fail");
        // Everything else still passes.
        assert_rows(&report, "shard-range", "pass");
        assert_rows(&report, "manifest-signature", "pass");
    }
}

#[test]
fn certificates_expired_or_expiring_soon_are_caught() {
    let site = Site::new();
    site.ca.server(&site.ws, "expired", now() - 2 * DAY);
    site.ca.server(&site.ws, "soon", now() + 10 * DAY);

    let expired = Deployment::start(
        &site,
        &Edge {
            cert: "expired",
            ..Edge::default()
        },
    );
    let (code, report, _) = expired.check(&site, "keys");
    assert_eq!(code, 1, "{report:#}");
    let tls = rows(&report, "tls-certificate");
    let bad: Vec<_> = tls
        .iter()
        .filter(|(_, t, _)| *t == expired.models)
        .collect();
    assert_eq!(bad.len(), 1, "{tls:?}");
    assert_eq!(bad[0].0, "fail");
    assert!(bad[0].2.contains("expired"), "{bad:?}");
    // The app's origin is fine; the rows that need the broken origin say why they were skipped.
    assert!(tls
        .iter()
        .any(|(s, t, _)| *t == expired.app && *s == "pass"));
    let skipped = assert_rows(&report, "manifest-signature", "fail");
    assert!(skipped[0].contains("TLS check failed"), "{skipped:?}");
    assert!(rows(&report, "shard-range").is_empty());
    drop(expired);

    let soon = Deployment::start(
        &site,
        &Edge {
            cert: "soon",
            ..Edge::default()
        },
    );
    let (code, report, _) = soon.check(&site, "keys");
    assert_eq!(code, 0, "a warning alone passes: {report:#}");
    let warned: Vec<_> = rows(&report, "tls-certificate")
        .into_iter()
        .filter(|(_, t, _)| *t == soon.models)
        .collect();
    assert_eq!(warned[0].0, "warn", "{warned:?}");
    assert!(warned[0].2.contains("(9 days)") || warned[0].2.contains("(10 days)"));
    assert_eq!(report["summary"]["warn"], 1, "{report:#}");
}

#[test]
fn a_manifest_not_signed_by_the_given_key_fails() {
    let site = Site::new();
    let deployment = Deployment::start(&site, &Edge::default());
    let (code, report, _) = deployment.check(&site, "other");
    assert_eq!(code, 1, "{report:#}");
    let details = assert_rows(&report, "manifest-signature", "fail");
    assert!(details[0].contains("manifest-unknown-key"), "{details:?}");
    // The shard rows still ran (the manifest was read, not trusted, to pick a shard).
    assert_rows(&report, "shard-range", "pass");
    assert_eq!(failing(&report).len(), 1, "{:?}", failing(&report));
}

#[test]
fn an_api_without_auth_fails() {
    let site = Site::new();
    let deployment = Deployment::start(
        &site,
        &Edge {
            auth: false,
            ..Edge::default()
        },
    );
    let (code, report, _) = deployment.check(&site, "keys");
    assert_eq!(code, 1, "{report:#}");
    let details = assert_rows(&report, "auth-required", "fail");
    assert!(
        details[0].contains("anyone can run inference"),
        "{details:?}"
    );
    assert_eq!(failing(&report).len(), 1, "{:?}", failing(&report));
}

/// A plain-HTTP server that answers every request for the manifest with `manifest` (cached for
/// an hour) and every path under /models/_shards/ with `shard` whole, gzip-labelled and
/// without Range support; `/` redirects to `/app/`, a page whose CSP blocks wasm; anything
/// else 404. Serves until the test process ends.
fn bad_static_server(manifest: Vec<u8>, shard: Vec<u8>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                match stream.read(&mut byte) {
                    Ok(1) => head.push(byte[0]),
                    _ => break,
                }
            }
            let head = String::from_utf8_lossy(&head).into_owned();
            let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
            let (status, extra, body): (&str, &str, &[u8]) = if path.ends_with("/manifest.json") {
                (
                    "200 OK",
                    "Cache-Control: public, max-age=3600\r\n",
                    &manifest,
                )
            } else if path.contains("/_shards/") {
                (
                    "200 OK",
                    "Content-Encoding: gzip\r\nCache-Control: no-cache\r\n",
                    &shard,
                )
            } else if path == "/" {
                ("302 Found", "Location: /app/\r\n", b"")
            } else if path == "/app/" {
                (
                    "200 OK",
                    "Content-Security-Policy: default-src 'self'\r\n",
                    b"<!doctype html>",
                )
            } else {
                ("404 Not Found", "", b"not found")
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(body);
        }
    });
    port
}

#[test]
fn a_server_that_compresses_shards_and_ignores_range_fails_those_rows() {
    let site = Site::new();
    let manifest_bytes = std::fs::read(site.ws.path("art/demo/manifest.json")).unwrap();
    let manifest = site.ws.manifest("art/demo/manifest.json");
    let shard = manifest.files[0].shards[0];
    let shard_bytes = std::fs::read(site.ws.shard_path(&shard.sha256)).unwrap();
    let port = bad_static_server(manifest_bytes, shard_bytes);
    let base = format!("http://127.0.0.1:{port}");
    let output = site
        .ws
        .tessera()
        .args(["check", "--json", "--model", "demo"])
        .args(["--pub", "keys/tessera.pub.json"])
        .args(["--app", &format!("{base}/")])
        .args(["--models", &format!("{base}/models/")])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let range = assert_rows(&report, "shard-range", "fail");
    assert!(range[0].contains("answered 200"), "{range:?}");
    let encoding = assert_rows(&report, "shard-encoding", "fail");
    assert!(encoding[0].contains("gzip"), "{encoding:?}");
    assert_rows(&report, "manifest-cache", "fail");
    assert_rows(&report, "shard-cache", "warn");
    let csp = assert_rows(&report, "csp", "fail");
    assert!(
        csp[0].contains("'wasm-unsafe-eval'"),
        "followed / → /app/: {csp:?}"
    );
    assert_rows(&report, "tls-certificate", "fail");
    assert_rows(&report, "hsts", "fail");
    // Same origin for app and models: no CORS needed; the signature is still checked.
    assert_rows(&report, "cors", "pass");
    assert_rows(&report, "manifest-signature", "pass");
    // No --api: no API rows.
    assert!(rows(&report, "auth-required").is_empty());
}

#[test]
fn bad_arguments_are_usage_errors() {
    let ws = Workspace::new();
    let check = |args: &[&str]| {
        ws.tessera()
            .arg("check")
            .args(args)
            .output()
            .unwrap()
            .status
            .code()
    };
    let ok = [
        "--app",
        "https://a.example/",
        "--models",
        "https://m.example/",
    ];
    assert_eq!(check(&ok), Some(2), "--model is required");
    assert_eq!(
        check(&[
            "--app",
            "a.example",
            "--models",
            "https://m.example/",
            "--model",
            "x"
        ]),
        Some(2)
    );
    assert_eq!(check(&[&ok[..], &["--model", "../x"]].concat()), Some(2));
    let mut cmd = ws.tessera();
    cmd.arg("check")
        .args(ok)
        .args(["--model", "x", "--ca", "absent.pem"]);
    common::assert_fails(&mut cmd, 2, "check-ca-unreadable");
}
