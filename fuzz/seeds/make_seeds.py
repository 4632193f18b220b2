#!/usr/bin/env python3
"""Writes the fuzz targets' seed inputs into fuzz/corpus/<target>/ from real inputs: the signed
sample manifest and its payload (core/tests/data), the hand-written Range cases, the ONNX test
fixtures (edge, artifacts), inference request bodies in both encodings, and EdDSA JWTs minted
with Python's `cryptography` exactly as `tessera token` mints them (kid = sha256 of the raw
public key), for the fixed key of fuzz_targets/jwt.rs ([7; 32]).

Run once, before the first fuzzing; `cargo xtask fuzz` then grows and minimizes the corpora,
which are committed. Needs `cryptography` (models/requirements.txt pulls it in)."""
import base64, hashlib, json, os, struct, sys

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")


def put(target, name, data):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(folder, "seed-" + name), "wb") as f:
        f.write(data)


def read(*path):
    with open(os.path.join(ROOT, *path), "rb") as f:
        return f.read()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# envelope and manifest
envelope = read("core", "tests", "data", "sample_manifest.dsse.json")
put("envelope", "sample", envelope)
put("envelope", "unsigned", json.dumps({"payloadType": "application/vnd.tessera.manifest+json", "payload": "", "signatures": []}))
put("manifest", "sample", read("core", "tests", "data", "sample_manifest.json"))
put("manifest", "signed-payload", base64.b64decode(json.loads(envelope)["payload"]))

# range: 8 bytes little-endian total, then the header
cases = json.loads(read("core", "tests", "data", "range_cases.json"))
for i, case in enumerate(cases["evaluate"]):
    if case.get("header") is not None:
        put("range", f"evaluate-{i}", struct.pack("<Q", case["total"]) + case["header"].encode())
for i, case in enumerate(cases.get("responses", [])):
    if case.get("content_range"):
        put("range", f"response-{i}", struct.pack("<Q", case.get("total", 0)) + case["content_range"].encode())

# inference requests (the fuzz target's inputs: x float32 [1,16], ids int64 [1,4], mask int32 [2,2])
put("infer_request", "inline", json.dumps({"inputs": {
    "x": {"dtype": "float32", "shape": [1, 16], "data": [0.5 * i - 3 for i in range(16)]},
    "ids": {"dtype": "int64", "shape": [1, 4], "data": [1, 2, 3, 4]},
    "mask": {"dtype": "int32", "shape": [2, 2], "data": [1, 0, 0, 1]}}}))
put("infer_request", "base64", json.dumps({"inputs": {
    "x": {"dtype": "float32", "shape": [1, 16], "data_b64": base64.b64encode(struct.pack("<16f", *[0.25] * 16)).decode()},
    "ids": {"dtype": "int64", "shape": [1, 4], "data_b64": base64.b64encode(struct.pack("<4q", 7, 8, 9, -1)).decode()},
    "mask": {"dtype": "int32", "shape": [2, 2], "data_b64": base64.b64encode(struct.pack("<4i", 1, 1, 0, 0)).decode()}}}))

# ONNX models
put("onnx_signature", "mlp", read("edge", "tests", "fixtures", "mlp.onnx"))
put("onnx_signature", "clf", read("edge", "tests", "fixtures", "clf.onnx"))
put("onnx_signature", "tiny", read("artifacts", "tests", "fixtures", "tiny.onnx"))

# JWTs
key = Ed25519PrivateKey.from_private_bytes(bytes([7] * 32))
kid = hashlib.sha256(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).hexdigest()


def token(header, claims):
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    return signing_input + "." + b64url(key.sign(signing_input.encode()))


put("jwt", "valid", "Bearer " + token({"typ": "JWT", "alg": "EdDSA", "kid": kid}, {"aud": "fuzz", "exp": 4102444800, "iat": 1767225600, "sub": "app"}))
put("jwt", "no-kid", "Bearer " + token({"typ": "JWT", "alg": "EdDSA"}, {"aud": "fuzz", "exp": 4102444800, "iat": 1767225600}))
put("jwt", "expired", "bearer " + token({"typ": "JWT", "alg": "EdDSA", "kid": kid}, {"aud": "fuzz", "exp": 1000, "iat": 10, "nbf": 10}))
put("jwt", "hs256", "Bearer " + b64url(b'{"alg":"HS256","typ":"JWT"}') + "." + b64url(b'{"aud":"fuzz","exp":4102444800}') + ".c2ln")
put("jwt", "none", "Bearer " + b64url(b'{"alg":"none"}') + "." + b64url(b'{"aud":["fuzz","x"],"exp":4102444800}') + ".")
print("seeds written under", CORPUS, file=sys.stderr)
