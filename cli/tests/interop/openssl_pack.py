#!/usr/bin/env python3
"""Publishes model files as tessera artifacts without tessera: the in-toto Statement v1 is built
here (Python standard library only) and signed with an ECDSA P-256 key by the `openssl` command
(`openssl dgst -sha256 -sign` over the DSSE PAE, a DER signature), as any standard tool could.

Writes ARTIFACTS/_shards/<sha256>, ARTIFACTS/<name>/manifest.json and
ARTIFACTS/<name>/versions/<version>.json, and the public key file tessera trusts
({"keyid": sha256(SPKI DER), "algorithm": "ecdsa-p256", "publicKey": base64(SPKI DER)}).

usage: openssl_pack.py --key P256.pem --pub-out PUB.json --name NAME --version X.Y.Z
                       --out ARTIFACTS [--shard-size BYTES] [--issued-at UNIX] FILE...
"""

import argparse
import base64
import hashlib
import json
import os
import subprocess
import tempfile
import time

PAYLOAD_TYPE = "application/vnd.in-toto+json"


def pae(payload_type: bytes, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding."""
    return b"DSSEv1 %d %s %d %s" % (len(payload_type), payload_type, len(payload), payload)


def openssl(*args: str, data: bytes = b"") -> bytes:
    return subprocess.run(["openssl", *args], input=data, check=True, capture_output=True).stdout


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--key", required=True)
    ap.add_argument("--pub-out", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--version", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--shard-size", type=int, default=4 << 20)
    ap.add_argument("--issued-at", type=int, default=int(time.time()))
    ap.add_argument("--valid-for", type=int, default=30 * 86400)
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()

    spki = openssl("pkey", "-in", args.key, "-pubout", "-outform", "DER")
    keyid = hashlib.sha256(spki).hexdigest()
    with open(args.pub_out, "w") as f:
        json.dump({"keyid": keyid, "algorithm": "ecdsa-p256",
                   "publicKey": base64.b64encode(spki).decode()}, f, indent=2)

    shards_dir = os.path.join(args.out, "_shards")
    os.makedirs(shards_dir, exist_ok=True)
    files, file_subjects, shard_subjects, seen = [], [], [], set()
    for path in args.files:
        data = open(path, "rb").read()
        shards = []
        for start in range(0, len(data), args.shard_size):
            chunk = data[start:start + args.shard_size]
            digest = hashlib.sha256(chunk).hexdigest()
            with open(os.path.join(shards_dir, digest), "wb") as f:
                f.write(chunk)
            shards.append({"sha256": digest, "size": len(chunk)})
            if digest not in seen:
                seen.add(digest)
                shard_subjects.append({"name": "_shards/" + digest, "digest": {"sha256": digest}})
        whole = hashlib.sha256(data).hexdigest()
        name = os.path.basename(path)
        files.append({"path": name, "size": len(data), "sha256": whole, "shards": shards})
        file_subjects.append({"name": name, "digest": {"sha256": whole}})

    statement = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": file_subjects + shard_subjects,
        "predicateType": "https://tessera.dev/manifest/v1",
        "predicate": {
            "name": args.name,
            "version": args.version,
            "runtime": {"engine": "wonnx", "abi": 1, "ops": [], "entry": files[0]["path"]},
            "issued_at": args.issued_at,
            "expires_at": args.issued_at + args.valid_for,
            "files": files,
        },
    }
    payload = json.dumps(statement, indent=2).encode()
    with tempfile.NamedTemporaryFile() as message:
        message.write(pae(PAYLOAD_TYPE.encode(), payload))
        message.flush()
        signature = openssl("dgst", "-sha256", "-sign", args.key, message.name)
    envelope = {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(payload).decode(),
        "signatures": [{"keyid": keyid, "sig": base64.b64encode(signature).decode()}],
    }
    model_dir = os.path.join(args.out, args.name)
    os.makedirs(os.path.join(model_dir, "versions"), exist_ok=True)
    for target in ("manifest.json", os.path.join("versions", args.version + ".json")):
        with open(os.path.join(model_dir, target), "w") as f:
            json.dump(envelope, f, indent=2)


if __name__ == "__main__":
    main()
