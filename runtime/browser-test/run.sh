#!/usr/bin/env bash
# Browser smoke test of the inference runtime in headless Chromium (playwright-core): packs the
# edge's MLP fixture (good vectors, and deliberately wrong ones) and a Softmax classifier with a
# throwaway key, serves them with `tessera serve` (app + artifacts + native edge inference) and
# runs runtime/browser-test/smoke.mjs against the web build, once with WebGPU
# (--enable-unsafe-webgpu: SwiftShader) and once without.
#   runtime/browser-test/run.sh   (needs: the web build in target/web, tessera, node, python3,
#                                  chromium; lavapipe for the edge side). The Softmax fixture in
#                                  fixtures/ is made by make_softmax.py (onnx + numpy), committed.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$ROOT/runtime/browser-test"
TESSERA="${TESSERA:-$ROOT/target/debug/tessera}"
WEB="${RUNTIME_WEB:-$ROOT/target/web}"
ADDR="${RUNTIME_TEST_ADDR:-127.0.0.1:18950}"
FIX="$ROOT/edge/tests/fixtures"
WORK="$(mktemp -d)"
SERVER=""
trap '[ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; rm -rf "$WORK"' EXIT

"$TESSERA" keygen -q --out "$WORK/keys"
KEY="$WORK/keys/tessera.key"
python3 - "$FIX/mlp.vectors.json" "$WORK/bad.vectors.json" <<'PY'
import json, sys
vectors = json.load(open(sys.argv[1]))
for v in vectors:
    for t in v["outputs"].values():
        t["data"] = [x + 1.0 for x in t["data"]]
json.dump(vectors, open(sys.argv[2], "w"))
PY
pack() { "$TESSERA" pack -q --key "$KEY" --version 1.0.0 --out "$WORK/artifacts" "$@" >/dev/null; }
pack --name mlp --test-vectors "$FIX/mlp.vectors.json" "model.onnx=$FIX/mlp.onnx"
pack --name mlp-wrong --test-vectors "$WORK/bad.vectors.json" "model.onnx=$FIX/mlp.onnx"
pack --name clf --test-vectors "$HERE/fixtures/clf.vectors.json" "model.onnx=$HERE/fixtures/clf.onnx"

mkdir -p "$WORK/app"
cp "$WEB"/tessera_runtime.js "$WEB"/tessera_runtime_bg.wasm "$WEB"/tessera-runtime.js \
  "$WEB"/tessera-runtime-worker.js "$HERE/crash-worker.js" "$WORK/app/"
echo '<!doctype html><meta charset="utf-8"><title>tessera runtime smoke</title>' > "$WORK/app/index.html"
"$TESSERA" serve -q --app "$WORK/app" --artifacts "$WORK/artifacts" --addr "$ADDR" \
  --trust "$WORK/keys/tessera.pub.json" --infer-rate 0 &
SERVER=$!
for _ in $(seq 1 100); do
  curl -sf "http://$ADDR/healthz" >/dev/null && break
  sleep 0.1
done
cd "$ROOT"
node "$HERE/smoke.mjs" "http://$ADDR" "$WORK/keys/tessera.pub.json" "$FIX/mlp.vectors.json"
