#!/usr/bin/env bash
# Runs the wasm-bindgen-test suites inside headless Chromium against a real `tessera serve`.
# Packs a fixture model with a throwaway key, serves it with CORS for the test runner's origin,
# and passes its address, key and digest to the tests at compile time.
#   wasm-tests/run.sh            (needs: wasm-bindgen-test-runner, chromedriver, python3)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TESSERA="${TESSERA:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/tessera}"
RUNNER_ADDR="${WASM_BINDGEN_TEST_ADDRESS:-127.0.0.1:18940}"
SERVE_ADDR="${TESSERA_TEST_SERVE:-127.0.0.1:18941}"
[ -x "$TESSERA" ] || cargo build -p tessera-cli --manifest-path "$ROOT/Cargo.toml"
WORK="$(mktemp -d)"
trap 'kill "$SERVER" 2>/dev/null || true; rm -rf "$WORK"' EXIT
python3 -c "import random; random.seed(7); open('$WORK/model.bin','wb').write(bytes(random.getrandbits(8) for _ in range(300000)))"
echo '{"fixture": true}' > "$WORK/config.json"
"$TESSERA" keygen -q --out "$WORK/keys"
"$TESSERA" pack -q --key "$WORK/keys/tessera.key" --name fixture --version 1.0.0 --shard-size 64K \
  --entry model.bin --out "$WORK/artifacts" "$WORK/model.bin" "$WORK/config.json" >/dev/null
# The runtime's dedicated-worker suite loads the edge's MLP fixture with its known-answer vectors.
FIX="$ROOT/edge/tests/fixtures"
"$TESSERA" pack -q --key "$WORK/keys/tessera.key" --name mlp --version 1.0.0 \
  --test-vectors "$FIX/mlp.vectors.json" --out "$WORK/artifacts" "model.onnx=$FIX/mlp.onnx" >/dev/null
"$TESSERA" serve -q --artifacts "$WORK/artifacts" --addr "$SERVE_ADDR" \
  --cors-origin "http://$RUNNER_ADDR" &
SERVER=$!
for _ in $(seq 1 100); do
  curl -sf "http://$SERVE_ADDR/healthz" >/dev/null && break
  sleep 0.1
done
export TESSERA_TEST_BASE="http://$SERVE_ADDR/models/"
export TESSERA_TEST_KEY="$(tr -d '\n' < "$WORK/keys/tessera.pub.json")"
export TESSERA_TEST_SHA="$(sha256sum "$WORK/model.bin" | cut -d' ' -f1)"
export WASM_BINDGEN_TEST_ADDRESS="$RUNNER_ADDR"
# WebGPU for the runtime suite: headless Chromium has an adapter (SwiftShader) only with this flag.
export TESSERA_TEST_WEBGPU="${TESSERA_TEST_WEBGPU:-1}"
if [ "$TESSERA_TEST_WEBGPU" = 1 ]; then
  echo '{"goog:chromeOptions": {"args": ["--enable-unsafe-webgpu"]}}' > "$WORK/webdriver.json"
  export WASM_BINDGEN_TEST_WEBDRIVER_JSON="$WORK/webdriver.json"
fi
export CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}"
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
cd "$ROOT"
cargo test -p tessera-wasm-tests --target wasm32-unknown-unknown "$@"
