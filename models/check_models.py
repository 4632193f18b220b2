#!/usr/bin/env python3
"""Checks the files `make_models.py` wrote (optional; building does not need it).

    python3 models/check_models.py DIR

For each model: onnx.checker (full), shape inference (strict), operators within the allowed set,
every intermediate value has a shape (wonnx needs them), each Gemm/MatMul is a variant wonnx
0.5.1 compiles, and the known-answer vectors (computed with numpy) are reproduced by onnxruntime
within 1e-4 when onnxruntime is installed (skipped with a note otherwise). Also checks the size
window of the recommender and the shape of travel.json. Exits non-zero on the first failure.
"""

import json
import math
import os
import sys

import numpy as np
import onnx
from onnx import numpy_helper

ORT_TOLERANCE = 1e-4
MODELS = {
    # name: (allowed ops, input name, input shape, output name, output shape)
    "recommender": ({"Gemm", "MatMul", "Add", "Relu"}, "features", [1, 64], "scores", [1, 120]),
    "summarizer": ({"Gemm", "MatMul", "Add", "Relu", "Softmax"}, "sentences", [32, 768],
                   "scores", [32, 2]),
}
RECOMMENDER_BYTES = (20 << 20, 50 << 20)


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def dims(value_info):
    return [d.dim_value for d in value_info.type.tensor_type.shape.dim]


def check_graph(name, model, allowed, in_name, in_shape, out_name, out_shape):
    onnx.checker.check_model(model, full_check=True)
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    g = model.graph
    ops = {n.op_type for n in g.node}
    if not ops <= allowed:
        fail(f"{name}: operators {sorted(ops - allowed)} outside {sorted(allowed)}")
    if [i.name for i in g.input] != [in_name] or dims(g.input[0]) != in_shape:
        fail(f"{name}: input is {[(i.name, dims(i)) for i in g.input]}, want {in_name} {in_shape}")
    if [o.name for o in g.output] != [out_name] or dims(g.output[0]) != out_shape:
        fail(f"{name}: output is {[(o.name, dims(o)) for o in g.output]}, want {out_name} {out_shape}")
    shapes = {v.name: dims(v) for v in list(g.value_info) + list(g.input) + list(g.output)}
    inits = {t.name: list(t.dims) for t in g.initializer}
    for node in g.node:
        for out in node.output:
            if out not in shapes:
                fail(f"{name}: intermediate value {out} has no shape in value_info")
    if len(inferred.graph.value_info) != len(g.value_info):
        fail(f"{name}: shape inference finds values the saved graph does not describe")
    for node in g.node:
        if node.op_type not in ("Gemm", "MatMul"):
            continue
        if any(a.name in ("transA", "transB") and a.i != 0 for a in node.attribute):
            fail(f"{name}: {node.name} transposes (wonnx refuses transA/transB)")
        m, k = shapes[node.input[0]]
        k2, n = inits.get(node.input[1]) or shapes[node.input[1]]
        assert k == k2
        if m == 1 and k % 4:
            fail(f"{name}: {node.name} has K={k}, not a multiple of 4 (wonnx's gemm_1 drops the rest)")
        if m > 1 and math.gcd(m, math.gcd(k, n)) < 2:
            fail(f"{name}: {node.name} [{m},{k}]x[{k},{n}] has no common factor 2 (wonnx refuses)")
    print(f"ok   {name}: checker, strict shape inference, ops {sorted(ops)}, wonnx variants")


def check_vectors(name, path, vectors_path):
    vectors = json.load(open(vectors_path))
    if len(vectors) != 3:
        fail(f"{name}: {len(vectors)} vectors, want 3")
    try:
        import onnxruntime as ort
    except ImportError:
        print(f"skip {name}: onnxruntime not installed, vectors not cross-checked")
        return
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    for v in vectors:
        feeds = {k: np.array(t["data"], np.float32).reshape(t["shape"])
                 for k, t in v["inputs"].items()}
        got = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))
        for k, t in v["outputs"].items():
            want = np.array(t["data"], np.float32).reshape(t["shape"])
            diff = float(np.max(np.abs(got[k] - want)))
            if diff > ORT_TOLERANCE:
                fail(f"{name}/{v['name']}: onnxruntime differs from numpy by {diff:g}")
            print(f"ok   {name}/{v['name']}: onnxruntime matches numpy, max |diff| {diff:.2e}")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "models/out"
    for name, (allowed, i, ishape, o, oshape) in MODELS.items():
        path = os.path.join(out, f"{name}.onnx")
        model = onnx.load(path)
        check_graph(name, model, allowed, i, ishape, o, oshape)
        check_vectors(name, path, os.path.join(out, f"{name}.vectors.json"))
    size = os.path.getsize(os.path.join(out, "recommender.onnx"))
    if not RECOMMENDER_BYTES[0] <= size <= RECOMMENDER_BYTES[1]:
        fail(f"recommender.onnx is {size} bytes, outside 20-50 MiB")
    travel = json.load(open(os.path.join(out, "travel.json")))
    width = 0
    for f in travel["features"]:
        n = 1 if f["kind"] == "scalar" else len(f["options"])
        if f["offset"] != width:
            fail(f"travel.json: feature {f['name']} at offset {f['offset']}, want {width}")
        width += n
    if width > travel["width"] or travel["width"] != 64:
        fail(f"travel.json: features use {width} slots of {travel['width']}")
    if len(travel["destinations"]) != 120:
        fail("travel.json: want 120 destinations")
    print(f"ok   recommender.onnx {size} bytes; travel.json {width}/64 slots, 120 destinations")


if __name__ == "__main__":
    main()
