//! Bad input never panics: every mistake a user can make ends in `error[code]: message` on
//! stderr and exit status 2 (bad arguments) or 1 (failed operation).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{assert_fails, noise, Workspace};

fn workspace() -> Workspace {
    let ws = Workspace::new();
    ws.keygen("keys");
    ws.write("in/w.bin", &noise(3000, 3));
    ws
}

#[test]
fn bad_pack_arguments_are_usage_errors_with_codes() {
    let ws = workspace();
    let cases: &[(&[&str], &str)] = &[
        (&["--shard-size", "0"], "invalid-shard-size"),
        (&["--shard-size", "512"], "invalid-shard-size"),
        (&["--shard-size", "65MiB"], "invalid-shard-size"),
        (&["--shard-size", "4 parsecs"], "invalid-shard-size"),
        (&["--expires", "0s"], "invalid-expires"),
        (&["--expires", "soon"], "invalid-expires"),
        (&["--version", "1.0"], "invalid-version"),
        (&["--version", "v1.0.0"], "invalid-version"),
        (&["--name", "Bad Name"], "invalid-model-name"),
        (&["--name", "../escape"], "invalid-model-name"),
    ];
    for (extra, code) in cases {
        // `extra` replaces the good value of the same flag.
        let mut flags = vec![["--name", "demo"], ["--version", "1.0.0"]];
        flags.retain(|[flag, _]| *flag != extra[0]);
        let mut cmd = ws.tessera();
        cmd.args(["pack", "--key", "keys/tessera.key", "--out", "art"])
            .args(flags.concat())
            .args(*extra)
            .arg("in/w.bin");
        let stderr = assert_fails(&mut cmd, 2, code);
        assert!(stderr.contains(extra[1]), "{extra:?}: {stderr}");
    }
    assert!(
        !ws.path("art").exists(),
        "nothing may be written for a usage error"
    );
}

#[test]
fn failing_pack_operations_name_what_failed() {
    let ws = workspace();
    ws.write("keys/not-a-key.pem", b"hello");
    ws.write("in/tv.json", b"{}");
    ws.write("in/broken.onnx", b"\x0bthis is not protobuf");
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "keys/absent.key",
            "in/w.bin",
            "private-key-missing",
            "absent.key",
        ),
        (
            "keys/not-a-key.pem",
            "in/w.bin",
            "private-key-not-pem",
            "not-a-key.pem",
        ),
        (
            "keys/tessera.pub.json",
            "in/w.bin",
            "private-key-not-pem",
            "tessera.pub.json",
        ),
        ("keys/tessera.key", "in/absent.bin", "io", "absent.bin"),
        ("keys/tessera.key", "in", "io", "in"),
        (
            "keys/tessera.key",
            "in/broken.onnx",
            "onnx-malformed",
            "broken.onnx",
        ),
    ];
    for (key, file, code, named) in cases {
        let mut cmd = ws.tessera();
        cmd.args([
            "pack",
            "--key",
            key,
            "--name",
            "demo",
            "--version",
            "1.0.0",
            "--out",
            "art",
            file,
        ]);
        let stderr = assert_fails(&mut cmd, 1, code);
        assert!(stderr.contains(named), "{key} {file}: {stderr}");
    }
    let mut cmd = ws.pack("1.0.0", &["in/w.bin"]);
    cmd.args(["--test-vectors", "in/tv.json"]);
    assert_fails(&mut cmd, 1, "test-vectors-malformed");
}

#[test]
fn bad_verify_and_diff_inputs_have_codes() {
    let ws = workspace();
    ws.write("bad/garbage.json", b"\x00\x01 not json");
    ws.write("bad/not-envelope.json", br#"{"payloadType": 1}"#);
    ws.write("keys/bad.pub.json", br#"{"keyid": "x"}"#);
    let cases: &[(&[&str], i32, &str)] = &[
        (
            &[
                "verify",
                "--pub",
                "keys/tessera.pub.json",
                "absent/manifest.json",
            ],
            1,
            "io",
        ),
        (
            &[
                "verify",
                "--pub",
                "keys/tessera.pub.json",
                "bad/garbage.json",
            ],
            1,
            "envelope-malformed",
        ),
        (
            &[
                "verify",
                "--pub",
                "keys/tessera.pub.json",
                "bad/not-envelope.json",
            ],
            1,
            "envelope-malformed",
        ),
        (
            &["verify", "--pub", "keys/bad.pub.json", "bad/garbage.json"],
            1,
            "public-key-malformed",
        ),
        (
            &["verify", "--pub", "keys/absent.json", "bad/garbage.json"],
            1,
            "io",
        ),
        (
            &["diff", "bad/garbage.json", "bad/garbage.json"],
            1,
            "envelope-malformed",
        ),
        (&["diff", "absent.json", "bad/garbage.json"], 1, "io"),
    ];
    for (args, status, code) in cases {
        assert_fails(ws.tessera().args(*args), *status, code);
    }
}

#[test]
fn clap_usage_errors_exit_2() {
    let ws = workspace();
    for args in [
        &[
            "pack",
            "--key",
            "keys/tessera.key",
            "--version",
            "1.0.0",
            "--out",
            "art",
            "in/w.bin",
        ][..],
        &["verify", "art/demo/manifest.json"][..],
        &["verify", "--pub", "k.json", "--threshold", "0", "m.json"][..],
        &["frobnicate"][..],
    ] {
        let output = ws.tessera().args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(!String::from_utf8_lossy(&output.stderr).contains("panicked"));
    }
}
