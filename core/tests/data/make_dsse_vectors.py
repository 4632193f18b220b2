#!/usr/bin/env python3
"""Writes dsse_vectors.json: DSSE / Ed25519 known-answer vectors for tessera-core.

Independent of the Rust code: PAE is built from the DSSE spec
(https://github.com/secure-systems-lab/dsse/blob/master/protocol.md) and signatures come from
Python's `cryptography` package (pip install cryptography). Ed25519 is deterministic, so
running this again yields the same file byte for byte.

Usage: python3 core/tests/data/make_dsse_vectors.py   (writes next to this script)
"""

import base64
import hashlib
import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

# RFC 8032 section 7.1, TEST 1 and TEST 2 secret keys (their public keys are checked below).
KEYS = {
    "rfc8032-test1": (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    ),
    "rfc8032-test2": (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
    ),
}
# RFC 8032 TEST 1: the signature of the empty message, to prove the key is loaded right.
RFC8032_TEST1_EMPTY_SIG = (
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
    "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)

MANIFEST_TYPE = "application/vnd.tessera.manifest+json; version=1"

# (name, payload type, payload bytes, signing key names in order)
CASES = [
    ("dsse-spec-hello-world", "http://example.com/HelloWorld", b"hello world", ["rfc8032-test1"]),
    ("empty-payload", MANIFEST_TYPE, b"", ["rfc8032-test1"]),
    ("empty-payload-type", "", b"x", ["rfc8032-test1"]),
    (
        "manifest-like-json",
        MANIFEST_TYPE,
        b'{\n  "schema": 1,\n  "name": "recommender",\n  "version": "1.0.0"\n}',
        ["rfc8032-test1"],
    ),
    # Multi-byte UTF-8 in the type: PAE lengths count bytes, not characters.
    ("utf8-type-binary-payload", "application/x-caf\u00e9", bytes(range(256)), ["rfc8032-test1"]),
    ("two-signers", MANIFEST_TYPE, b"threshold 2", ["rfc8032-test1", "rfc8032-test2"]),
]


def pae(payload_type: bytes, payload: bytes) -> bytes:
    return b"DSSEv1 %d %s %d %s" % (len(payload_type), payload_type, len(payload), payload)


def load_key(name: str) -> Ed25519PrivateKey:
    seed_hex, public_hex = KEYS[name]
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed_hex))
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert public.hex() == public_hex, f"{name}: public key differs from RFC 8032"
    return key


def b64(data: bytes) -> str:
    return base64.standard_b64encode(data).decode("ascii")


def main() -> None:
    assert load_key("rfc8032-test1").sign(b"").hex() == RFC8032_TEST1_EMPTY_SIG
    keys = []
    for name, (seed_hex, public_hex) in KEYS.items():
        public = bytes.fromhex(public_hex)
        keys.append(
            {
                "name": name,
                "seed_hex": seed_hex,
                "public_key_hex": public_hex,
                "public_key_b64": b64(public),
                "keyid": hashlib.sha256(public).hexdigest(),
            }
        )
    vectors = []
    for name, payload_type, payload, signers in CASES:
        message = pae(payload_type.encode("utf-8"), payload)
        signatures = []
        for signer in signers:
            public = bytes.fromhex(KEYS[signer][1])
            sig = load_key(signer).sign(message)
            load_key(signer).public_key().verify(sig, message)
            signatures.append(
                {
                    "key": signer,
                    "keyid": hashlib.sha256(public).hexdigest(),
                    "sig_hex": sig.hex(),
                    "sig_b64": b64(sig),
                }
            )
        vectors.append(
            {
                "name": name,
                "payload_type": payload_type,
                "payload_hex": payload.hex(),
                "payload_b64": b64(payload),
                "pae_hex": message.hex(),
                "signatures": signatures,
            }
        )
    doc = {
        "description": "DSSE v1 PAE and Ed25519 signatures, made by make_dsse_vectors.py with "
        "Python's cryptography package; signatures are listed in signing order.",
        "keys": keys,
        "vectors": vectors,
    }
    out = Path(__file__).with_name("dsse_vectors.json")
    out.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
