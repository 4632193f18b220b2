#!/usr/bin/env python3
"""Writes a tiny classifier that ends in Softmax — an operator whose wonnx shader Chromium rejects
(inference then silently returns zeros) — with numpy reference outputs, into the directory given:
  clf.onnx          x [1, 4] -> Gemm(W [4, 3], b [3]) -> Softmax -> y [1, 3], float32, opset 13
  clf.vectors.json  one known-answer vector in tessera's TestVector format

The browser runtime must refuse it (`op-unsupported`) before building a session; the edge (native
wonnx, where Softmax works) can still answer. Usage: python3 make_softmax.py OUT_DIR
"""

import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

out = sys.argv[1]
rng = np.random.default_rng(7)
w = rng.standard_normal((4, 3)).astype(np.float32)
b = rng.standard_normal(3).astype(np.float32)
graph = helper.make_graph(
    [
        helper.make_node("Gemm", ["x", "w", "b"], ["h"], name="fc"),
        helper.make_node("Softmax", ["h"], ["y"], name="softmax", axis=1),
    ],
    "tessera_clf",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
    initializer=[numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")],
    value_info=[helper.make_tensor_value_info("h", TensorProto.FLOAT, [1, 3])],
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, os.path.join(out, "clf.onnx"))

x = np.array([[0.5, -1.0, 2.0, 0.25]], dtype=np.float32)
h = x @ w + b
y = np.exp(h - h.max()) / np.exp(h - h.max()).sum()
vectors = [{
    "name": "one",
    "inputs": {"x": {"dtype": "float32", "shape": [1, 4], "data": x.ravel().tolist()}},
    "outputs": {"y": {"dtype": "float32", "shape": [1, 3], "data": y.ravel().astype(np.float32).tolist()}},
    "tolerance": 1e-4,
}]
with open(os.path.join(out, "clf.vectors.json"), "w") as f:
    json.dump(vectors, f, indent=1, sort_keys=True)
