//! `tessera serve`: starts on a free port, prints its URL, serves a packed artifact directory,
//! stops cleanly on SIGINT, refuses a missing artifacts directory with a code, and serves HTTPS
//! (HTTP/2, HSTS) with `--tls-cert`/`--tls-key`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command as StdCommand;

use common::{assert_fails, http, noise, stdout_of, Workspace};

fn get(addr: &str, path: &str) -> (String, Vec<u8>) {
    http(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    )
}

#[cfg(unix)]
#[test]
fn serves_a_packed_directory_until_interrupted() {
    let ws = Workspace::new();
    ws.keygen("keys");
    ws.write("in/w.bin", &noise(3000, 4));
    stdout_of(&mut ws.pack("1.0.0", &["in/w.bin"]));

    let mut server = ws.serve(&["--artifacts", "art"]);
    let addr = server.addr.clone();

    let (head, body) = get(&addr, "/models/demo/manifest.json");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(
        body,
        std::fs::read(ws.path("art/demo/manifest.json")).unwrap()
    );

    let status = StdCommand::new("kill")
        .args(["-INT", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(
        server.child.wait().unwrap().success(),
        "serve should exit 0 on Ctrl-C"
    );
}

#[test]
fn refuses_a_missing_artifacts_directory() {
    let ws = Workspace::new();
    let mut cmd = ws.tessera();
    cmd.args(["serve", "--artifacts", "absent", "--addr", "127.0.0.1:0"]);
    assert_fails(&mut cmd, 1, "artifacts-missing");
}

#[test]
fn warns_about_an_app_script_the_csp_blocks() {
    use std::io::{BufRead as _, BufReader, Read as _};
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.path("art")).unwrap();
    ws.write(
        "app/index.html",
        b"<!doctype html>\n<script type=\"module\">\nimport { Tessera } from './tessera-client.js';\n</script>\n",
    );
    ws.write(
        "app/ok.html",
        b"<script type=\"module\" src=\"app.js\"></script>\n",
    );
    let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("tessera"))
        .current_dir(ws.path(""))
        .env_remove("RUST_LOG")
        .args([
            "serve",
            "--artifacts",
            "art",
            "--app",
            "app",
            "--addr",
            "127.0.0.1:0",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The check runs before the server binds: once the URL is printed, the warning is out.
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("http://"), "{line}");
    child.kill().unwrap();
    child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(
        stderr.contains("index.html: inline <script> at line 2 will not run"),
        "{stderr}"
    );
    assert!(!stderr.contains("ok.html"), "{stderr}");
}

/// `openssl req -x509`: a self-signed certificate for `127.0.0.1` and its key, in `ws`.
fn self_signed(ws: &Workspace) {
    let status = StdCommand::new("openssl")
        .current_dir(ws.path(""))
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ])
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl is installed");
    assert!(status.success());
}

#[test]
fn serves_https_with_http2_and_hsts_given_a_certificate() {
    use std::io::{BufRead as _, BufReader};
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.path("art")).unwrap();
    self_signed(&ws);
    let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("tessera"))
        .current_dir(ws.path(""))
        .args([
            "serve",
            "--artifacts",
            "art",
            "--addr",
            "127.0.0.1:0",
            "--tls-cert",
            "cert.pem",
            "--tls-key",
            "key.pem",
            "--trust-proxy",
            "10.0.0.0/8,::1",
            "--read-timeout-secs",
            "5",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|word| word.starts_with("https://"))
        .unwrap_or_else(|| panic!("no https URL in {line:?}"))
        .to_owned();
    let output = StdCommand::new("curl")
        .current_dir(ws.path(""))
        .args([
            "-sS",
            "--max-time",
            "10",
            "--http2",
            "--cacert",
            "cert.pem",
            "-D",
            "-",
        ])
        .args(["-o", "/dev/null", "-w", "%{http_code} %{http_version}"])
        .arg(format!("{url}healthz"))
        .output()
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).to_ascii_lowercase();
    assert!(stdout.ends_with("200 2"), "{stdout}");
    assert!(
        stdout.contains("strict-transport-security: max-age=31536000"),
        "{stdout}"
    );
}

#[test]
fn tls_and_hardening_flags_are_checked() {
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.path("art")).unwrap();
    self_signed(&ws);
    let serve = |extra: &[&str]| {
        let mut cmd = ws.tessera();
        cmd.args(["serve", "--artifacts", "art", "--addr", "127.0.0.1:0"])
            .args(extra);
        cmd
    };
    for bad in [
        &["--client-ca", "cert.pem"][..],
        &["--tls-cert", "cert.pem"],
        &["--no-hsts"],
        &[
            "--tls-cert",
            "cert.pem",
            "--tls-key",
            "key.pem",
            "--hsts",
            "--no-hsts",
        ],
        &["--trust-proxy", "proxy.local"],
        &["--read-timeout-secs", "0"],
    ] {
        let output = serve(bad).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{bad:?}");
    }
    assert_fails(
        &mut serve(&["--tls-cert", "absent.pem", "--tls-key", "key.pem"]),
        1,
        "tls-cert-unreadable",
    );
    assert_fails(
        &mut serve(&["--tls-cert", "cert.pem", "--tls-key", "cert.pem"]),
        1,
        "tls-key-invalid",
    );
}
