//! `tessera serve`: starts on a free port, prints its URL, serves a packed artifact directory,
//! stops cleanly on SIGINT, and refuses a missing artifacts directory with a code.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command as StdCommand, Stdio};
use std::time::Duration;

use common::{assert_fails, noise, stdout_of, Workspace};

/// Kills the server if a test fails before stopping it.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get(addr: &str, path: &str) -> (String, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    (head, response[split + 4..].to_vec())
}

#[cfg(unix)]
#[test]
fn serves_a_packed_directory_until_interrupted() {
    let ws = Workspace::new();
    ws.keygen("keys");
    ws.write("in/w.bin", &noise(3000, 4));
    stdout_of(&mut ws.pack("1.0.0", &["in/w.bin"]));

    let bin = assert_cmd::cargo::cargo_bin("tessera");
    let child = StdCommand::new(bin)
        .current_dir(ws.dir.path())
        .args(["serve", "--artifacts", "art", "--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = Server(child);
    let mut line = String::new();
    BufReader::new(server.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_owned();

    let (head, body) = get(&addr, "/models/demo/manifest.json");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(
        body,
        std::fs::read(ws.path("art/demo/manifest.json")).unwrap()
    );

    let status = StdCommand::new("kill")
        .args(["-INT", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(
        server.0.wait().unwrap().success(),
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
