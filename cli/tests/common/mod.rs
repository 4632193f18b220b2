//! Shared helpers for the `tessera` command tests: a scratch workspace with a key, input files
//! and an artifacts directory, and assertions on `error[code]` output.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::PathBuf;

use assert_cmd::Command;
use tessera_core::Manifest;

/// A scratch directory: `keys/` (after [`Workspace::keygen`]), inputs, and `art/`.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// `tessera` run inside the workspace, without progress bars or inherited log settings.
    pub fn tessera(&self) -> Command {
        let mut cmd = Command::cargo_bin("tessera").unwrap();
        cmd.current_dir(self.dir.path())
            .env_remove("RUST_LOG")
            .env_remove("TESSERA_KEY");
        cmd
    }

    /// Runs `tessera keygen --out <rel>`; returns the key directory.
    pub fn keygen(&self, rel: &str) -> PathBuf {
        self.tessera()
            .args(["keygen", "--out", rel])
            .assert()
            .success();
        self.path(rel)
    }

    pub fn write(&self, rel: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        fs::write(&path, bytes).unwrap();
        path
    }

    /// `tessera pack` of `files` as `demo` `version` into `art/`, 1 KiB shards, key `keys/`.
    pub fn pack(&self, version: &str, files: &[&str]) -> Command {
        let mut cmd = self.tessera();
        cmd.args([
            "pack",
            "--key",
            "keys/tessera.key",
            "--name",
            "demo",
            "--version",
            version,
        ])
        .args(["--shard-size", "1KiB", "--out", "art"])
        .args(files);
        cmd
    }

    /// `tessera verify --pub keys/tessera.pub.json <manifest>`.
    pub fn verify(&self, manifest: &str) -> Command {
        let mut cmd = self.tessera();
        cmd.args(["verify", "--pub", "keys/tessera.pub.json", manifest]);
        cmd
    }

    /// The manifest at `rel`, read without verifying.
    pub fn manifest(&self, rel: &str) -> Manifest {
        tessera_artifacts::read_manifest_unverified(&self.path(rel)).unwrap()
    }

    pub fn shard_path(&self, digest: &tessera_core::Sha256Digest) -> PathBuf {
        self.path("art/_shards").join(digest.to_hex())
    }
}

/// Deterministic pseudo-random bytes (xorshift), different per seed.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Asserts a failed run: exit `status`, `error[code]` on stderr, and no panic or backtrace.
pub fn assert_fails(cmd: &mut Command, status: i32, code: &str) -> String {
    let output = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(status), "stderr: {stderr}");
    assert!(
        stderr.contains(&format!("error[{code}]")),
        "want error[{code}], stderr: {stderr}"
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "{stderr}"
    );
    stderr
}

pub fn stdout_of(cmd: &mut Command) -> String {
    let output = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "status {:?}\nstdout: {stdout}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// A running `tessera serve` (started by [`Workspace::serve`]), killed when dropped so a failing
/// test never leaves it behind.
pub struct Server {
    pub child: std::process::Child,
    /// `host:port` it listens on.
    pub addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Workspace {
    /// Starts `tessera serve --addr 127.0.0.1:0 ARGS…` in the workspace and waits for the line
    /// that names its URL.
    pub fn serve(&self, args: &[&str]) -> Server {
        use std::io::{BufRead as _, BufReader};
        let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("tessera"))
            .current_dir(self.dir.path())
            .arg("serve")
            .args(args)
            .args(["--addr", "127.0.0.1:0"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut server = Server {
            child,
            addr: String::new(),
        };
        let mut line = String::new();
        BufReader::new(server.child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        server.addr = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_else(|| panic!("no URL in {line:?}"))
            .to_owned();
        server
    }
}

/// Sends one raw HTTP/1.1 request (`Connection: close`) and returns the head and the body.
pub fn http(addr: &str, request_head_and_body: &str) -> (String, Vec<u8>) {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request_head_and_body.as_bytes()).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(response.len());
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let body = response.get(split + 4..).unwrap_or_default().to_vec();
    (head, body)
}
