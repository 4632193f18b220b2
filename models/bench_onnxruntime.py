"""The native reference for the edge's CPU engine: onnxruntime's in-process inferences/s.

    python3 models/bench_onnxruntime.py MODEL.onnx MODEL.vectors.json [THREADS=1] [SECONDS=10]

THREADS Python threads, each with its own session (intra_op_num_threads=1, sequential
execution; onnxruntime releases the GIL while running), run the first known-answer vector's
input for SECONDS after a warm-up; prints inferences/s, p50/p99 per-inference latency and the
max abs diff against the vector's expected output. Compare with `tessera serve --engine tract
--infer-workers THREADS` under `hey` (issue #11 targets >= 0.7x these inferences/s). Needs
numpy and onnxruntime (models/requirements.txt).
"""
import json, sys, threading, time
import numpy as np
import onnxruntime as ort

model, vectors_path = sys.argv[1], sys.argv[2]
threads = int(sys.argv[3]) if len(sys.argv) > 3 else 1
duration = float(sys.argv[4]) if len(sys.argv) > 4 else 10.0
vec = json.load(open(vectors_path))[0]
feed = {k: np.array(t["data"], dtype=np.float32).reshape(t["shape"]) for k, t in vec["inputs"].items()}

def session():
    o = ort.SessionOptions()
    o.intra_op_num_threads = 1
    o.inter_op_num_threads = 1
    o.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(model, o, providers=["CPUExecutionProvider"])

sessions = [session() for _ in range(threads)]
out = sessions[0].run(None, feed)
name = sessions[0].get_outputs()[0].name
want = np.array(vec["outputs"][name]["data"], dtype=np.float64)
print("max abs diff vs vector:", float(np.max(np.abs(out[0].reshape(-1) - want))))
for s in sessions:
    for _ in range(200):
        s.run(None, feed)
lat = [[] for _ in range(threads)]
stop = time.perf_counter() + duration
def work(i):
    s, out_lat = sessions[i], lat[i]
    while True:
        t = time.perf_counter()
        if t >= stop:
            return
        s.run(None, feed)
        out_lat.append(time.perf_counter() - t)
start = time.perf_counter()
workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
for t in workers:
    t.start()
for t in workers:
    t.join()
wall = time.perf_counter() - start
all_ = sorted(x for per_thread in lat for x in per_thread)
print(f"onnxruntime {ort.__version__}, {threads} thread(s): {len(all_)/wall:.0f} inferences/s, "
      f"p50 {all_[len(all_)//2]*1e3:.3f} ms, p99 {all_[int(len(all_)*0.99)]*1e3:.3f} ms, n={len(all_)}")
