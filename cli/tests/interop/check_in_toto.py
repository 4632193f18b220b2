#!/usr/bin/env python3
"""Checks a tessera signed manifest with standard tooling, not tessera's code:

- the DSSE envelope's signature verifies with Python `cryptography` over the PAE, with the key of
  the given tessera public key file (ECDSA P-256 / SHA-256, DER signature; or Ed25519);
- the payload parses as an in-toto Statement v1 with the `in-toto-attestation` package
  (protobuf JSON parsing, then its `Statement.validate()`);
- every subject is a sha256 digest.

Prints `ok: <n> subjects, predicateType <uri>` and exits 0, or prints the failure and exits 1.

usage: check_in_toto.py ENVELOPE.json PUBKEY.json
"""

import base64
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from google.protobuf import json_format
from in_toto_attestation.v1 import statement, statement_pb2

PAYLOAD_TYPE = "application/vnd.in-toto+json"


def pae(payload_type: bytes, payload: bytes) -> bytes:
    return b"DSSEv1 %d %s %d %s" % (len(payload_type), payload_type, len(payload), payload)


def main() -> int:
    envelope = json.load(open(sys.argv[1]))
    key_file = json.load(open(sys.argv[2]))
    if envelope["payloadType"] != PAYLOAD_TYPE:
        print("payloadType is", envelope["payloadType"])
        return 1
    payload = base64.b64decode(envelope["payload"])
    message = pae(PAYLOAD_TYPE.encode(), payload)
    raw_key = base64.b64decode(key_file["publicKey"])
    sigs = [s for s in envelope["signatures"] if s["keyid"] == key_file["keyid"]]
    if not sigs:
        print("no signature by key", key_file["keyid"])
        return 1
    signature = base64.b64decode(sigs[0]["sig"])
    try:
        if key_file["algorithm"] == "ecdsa-p256":
            key = serialization.load_der_public_key(raw_key)
            key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        else:
            ed25519.Ed25519PublicKey.from_public_bytes(raw_key).verify(signature, message)
    except InvalidSignature:
        print("signature does not verify")
        return 1

    pb = json_format.Parse(payload.decode(), statement_pb2.Statement())
    parsed = statement.Statement.copy_from_pb(pb)
    parsed.validate()
    for subject in pb.subject:
        if set(subject.digest.keys()) != {"sha256"} or len(subject.digest["sha256"]) != 64:
            print("subject", subject.name, "lacks a sha256 digest")
            return 1
    print(f"ok: {len(pb.subject)} subjects, predicateType {pb.predicate_type}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
