#!/usr/bin/env bash
# Runs the browser suite (playwright/run.sh, same arguments) RUNS times in a row and counts
# failed scenarios and renderer crashes over all runs — the check that garbage collection never
# deletes a shard file under a live response (a crash would show here even when a scenario
# passes). Not part of `cargo xtask test` (it takes RUNS × the suite's time).
#   bash playwright/soak.sh 20
#   PLAYWRIGHT_TESTS="playwright/tests/update.test.js ..." bash playwright/soak.sh 20
set -uo pipefail
cd "$(dirname "$0")/.."
runs="${1:-20}"
shift || true
log_dir="playwright/test-results/soak"
mkdir -p "$log_dir"
failed_runs=0 failures=0 crashes=0
for i in $(seq 1 "$runs"); do
  log="$log_dir/run-$i.log"
  bash playwright/run.sh "$@" >"$log" 2>&1
  status=$?
  fails=$(grep -cE '^not ok [0-9]+ ' "$log" || true)
  crashed=$(grep -c 'tessera-e2e: renderer crashed' "$log" || true)
  passed=$(grep -E '^# pass ' "$log" | awk '{print $3}')
  echo "soak run $i/$runs: exit $status, pass ${passed:-?}, fail $fails, renderer crashes $crashed"
  [ "$status" -ne 0 ] && failed_runs=$((failed_runs + 1))
  failures=$((failures + fails))
  crashes=$((crashes + crashed))
done
echo "soak: $runs runs, $failed_runs failed, $failures failed scenarios, $crashes renderer crashes (logs in $log_dir)"
[ "$failed_runs" -eq 0 ] && [ "$crashes" -eq 0 ]
