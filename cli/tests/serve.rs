//! `tessera serve`: starts on a free port, prints its URL, serves a packed artifact directory,
//! stops cleanly on SIGINT, and refuses a missing artifacts directory with a code.

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
