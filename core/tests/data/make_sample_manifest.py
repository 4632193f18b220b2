#!/usr/bin/env python3
"""Writes sample_manifest.json and sample_manifest.dsse.json for tessera-core's tests.

sample_manifest.json is a schema-1 manifest as the README documents it, with real digests of
deterministic file contents; sample_manifest.dsse.json is that file's exact bytes in a DSSE
envelope signed by the RFC 8032 TEST 1 key, made with Python's `cryptography` package, so the
Rust update policy is tested against an envelope it did not produce.

Usage: python3 core/tests/data/make_sample_manifest.py   (writes next to this script)
"""

import base64
import hashlib
import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

RFC8032_TEST1_SEED = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
PAYLOAD_TYPE = "application/vnd.tessera.manifest+json; version=1"
SHARD_SIZE = 64
ISSUED_AT = 1767225600  # 2026-01-01T00:00:00Z
EXPIRES_AT = 1798761600  # 2027-01-01T00:00:00Z


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_entry(path: str, content: bytes) -> dict:
    shards = [content[i : i + SHARD_SIZE] for i in range(0, len(content), SHARD_SIZE)]
    return {
        "path": path,
        "size": len(content),
        "sha256": sha256(content),
        "shards": [{"sha256": sha256(s), "size": len(s)} for s in shards],
    }


def main() -> None:
    model = bytes((i * 7 + 3) % 256 for i in range(150))  # 3 shards: 64 + 64 + 22
    vocab = b'{"hello": 0, "world": 1}\n'  # 1 shard
    manifest = {
        "schema": 1,
        "name": "recommender",
        "version": "1.2.0",
        "runtime": {"engine": "wonnx", "abi": 1, "ops": ["Gemm", "Relu"]},
        "issued_at": ISSUED_AT,
        "expires_at": EXPIRES_AT,
        "files": [file_entry("model.onnx", model), file_entry("tokenizer/vocab.json", vocab)],
        "test_vectors": [
            {
                "name": "ones",
                "inputs": {"input": {"dtype": "float32", "shape": [1, 3], "data": [1.0, 1.0, 1.0]}},
                "outputs": {"output": {"dtype": "float32", "shape": [1, 2], "data": [0.25, -0.5]}},
                "tolerance": 0.0001,
            }
        ],
    }
    payload = (json.dumps(manifest, indent=2) + "\n").encode("utf-8")
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(RFC8032_TEST1_SEED))
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    pae = b"DSSEv1 %d %s %d %s" % (len(PAYLOAD_TYPE), PAYLOAD_TYPE.encode(), len(payload), payload)
    envelope = {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.standard_b64encode(payload).decode("ascii"),
        "signatures": [
            {
                "keyid": hashlib.sha256(public).hexdigest(),
                "sig": base64.standard_b64encode(key.sign(pae)).decode("ascii"),
            }
        ],
    }
    here = Path(__file__).parent
    (here / "sample_manifest.json").write_bytes(payload)
    (here / "sample_manifest.dsse.json").write_text(json.dumps(envelope, indent=2) + "\n")
    print(f"wrote {here / 'sample_manifest.json'} and {here / 'sample_manifest.dsse.json'}")


if __name__ == "__main__":
    main()
