"""The native anchor of the edge's CPU engine: onnxruntime's in-process inferences/s.

    python3 models/bench_onnxruntime.py MODEL.onnx MODEL.vectors.json [THREADS=1] [SECONDS=10]

THREADS Python threads, each with its own session (CPU execution provider,
intra_op_num_threads=1, sequential execution; onnxruntime releases the GIL while it runs), run
the first known-answer vector's input in a loop for SECONDS after a short warm-up: the same
shape of work as `tessera serve --engine tract --infer-workers THREADS`, one single-threaded
engine session per worker. Bench item 8 (bench/edge.js) runs it between its `hey` rows; issue #11
targets an edge throughput >= 0.7x these inferences/s with the same number of threads.

Prints one JSON object on stdout (everything else goes to stderr):
  {"ok": true, "engine": "onnxruntime", "version", "provider", "threads", "seconds",
   "inferences", "inferencesPerSec", "p50Ms", "p99Ms", "maxAbsDiff", "tolerance",
   "sessionMs", "warmupRuns", "cpus"}
or {"ok": false, "error": "..."} with exit status 2 when onnxruntime or numpy cannot be imported
(pip install -r models/requirements.txt), and exit status 1 when the answer is off by more than
the vector's tolerance.
"""
import json
import os
import sys
import threading
import time


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def percentile(sorted_xs, p):
    """Nearest rank, as bench/lib/stats.js's percentile()."""
    if not sorted_xs:
        return float("nan")
    rank = -(-p * len(sorted_xs) // 100)  # ceil
    return sorted_xs[min(len(sorted_xs) - 1, max(0, int(rank) - 1))]


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 64
    model, vectors_path = argv[1], argv[2]
    threads = int(argv[3]) if len(argv) > 3 else 1
    duration = float(argv[4]) if len(argv) > 4 else 10.0
    if threads < 1 or not duration > 0:
        sys.stderr.write("THREADS must be >= 1 and SECONDS > 0\n")
        return 64
    try:
        import numpy as np
        import onnxruntime as ort
    except ImportError as err:
        emit({"ok": False, "error": f"{err} (pip install -r models/requirements.txt)"})
        return 2

    with open(vectors_path, encoding="utf-8") as f:
        vec = json.load(f)[0]
    feed = {
        k: np.array(t["data"], dtype=np.float32).reshape(t["shape"])
        for k, t in vec["inputs"].items()
    }

    def session():
        o = ort.SessionOptions()
        o.intra_op_num_threads = 1
        o.inter_op_num_threads = 1
        o.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        return ort.InferenceSession(model, o, providers=["CPUExecutionProvider"])

    t0 = time.perf_counter()
    sessions = [session() for _ in range(threads)]
    session_ms = (time.perf_counter() - t0) * 1000 / threads

    # The known answer first: a wrong answer measured fast is no anchor.
    name = sessions[0].get_outputs()[0].name
    got = np.asarray(sessions[0].run([name], feed)[0], dtype=np.float64).reshape(-1)
    want = np.array(vec["outputs"][name]["data"], dtype=np.float64).reshape(-1)
    tolerance = float(vec.get("tolerance", 1e-3))
    diff = float(np.max(np.abs(got - want))) if got.shape == want.shape else float("inf")
    if not diff <= tolerance:
        emit({"ok": False, "error": f"onnxruntime's {name} is off by {diff} (tolerance {tolerance})"})
        return 1

    # Warm-up: up to 200 runs per session, at most a tenth of the measured time (0.5 s at most).
    warm_until = time.perf_counter() + min(0.5, duration / 10)
    warmup_runs = 0
    for s in sessions:
        for _ in range(200):
            s.run(None, feed)
            warmup_runs += 1
            if time.perf_counter() >= warm_until:
                break

    lat = [[] for _ in range(threads)]
    start_line = threading.Barrier(threads + 1)
    stop = [0.0]

    def work(i):
        s, out = sessions[i], lat[i]
        start_line.wait()
        end = stop[0]
        while True:
            t = time.perf_counter()
            if t >= end:
                return
            s.run(None, feed)
            out.append(time.perf_counter() - t)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    start = time.perf_counter()
    stop[0] = start + duration
    start_line.wait()
    for w in workers:
        w.join()
    wall = time.perf_counter() - start
    all_ = sorted(x for per_thread in lat for x in per_thread)
    result = {
        "ok": True,
        "engine": "onnxruntime",
        "version": ort.__version__,
        "provider": "CPUExecutionProvider",
        "threads": threads,
        "seconds": wall,
        "inferences": len(all_),
        "inferencesPerSec": len(all_) / wall,
        "p50Ms": percentile(all_, 50) * 1000,
        "p99Ms": percentile(all_, 99) * 1000,
        "maxAbsDiff": diff,
        "tolerance": tolerance,
        "sessionMs": session_ms,
        "warmupRuns": warmup_runs,
        "cpus": os.cpu_count(),
    }
    sys.stderr.write(
        f"onnxruntime {ort.__version__}, {threads} thread(s): {result['inferencesPerSec']:.0f} inferences/s, "
        f"p50 {result['p50Ms']:.3f} ms, p99 {result['p99Ms']:.3f} ms, n={len(all_)}\n"
    )
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
