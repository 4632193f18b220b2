#!/usr/bin/env python3
"""Writes a tiny text-classification model laid out like a Hugging Face model repo, for the
transformers.js and onnxruntime-web recipes (docs/recipes.md, playwright/tests/recipe-*.test.js).

    python3 models/make_tiny_classifier.py --out DIR

writes into DIR (a few KB in all):
  config.json                    model_type "bert", BertForSequenceClassification,
                                 id2label/label2id
  tokenizer.json                 HF tokenizers JSON: BertNormalizer, BertPreTokenizer, WordPiece,
                                 BertProcessing ([CLS] ... [SEP]), special tokens as added_tokens
  tokenizer_config.json          BertTokenizer, its special tokens, model_max_length
  onnx/model.onnx                input_ids, attention_mask, token_type_ids int64 [batch, sequence]
                                 -> logits float32 [batch, 3]; what transformers.js loads for
                                 dtype "fp32" (its default on the wasm device is q8, i.e.
                                 onnx/model_quantized.onnx, so the recipes ask for fp32)
  onnx/model_external.onnx       the same graph with every initializer in external data ...
  onnx/model_external.onnx_data  ... in this file (ONNX `location` = "model_external.onnx_data")
  known-answer.json              the sentences, their token ids (as the tokenizer must produce
                                 them), logits, softmax scores and labels, computed in numpy from
                                 the weight arrays (never by running the ONNX file)

The graph is a bag of embeddings: word embedding + token-type embedding (Gather), masked mean over
the sequence (Constant, Cast, Unsqueeze, Mul, ReduceSum, Div), Tanh, then a linear layer (MatMul,
Add). The weights are seeded (SEED): each vocabulary word leans towards one label, so the answers
read sensibly. Two runs write byte-identical files (JSON with sorted keys, one BLAS thread).
Needs only numpy and onnx (models/requirements.txt).
"""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import unicodedata  # noqa: E402

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

SEED = 20261204
OPSET = 13
IR_VERSION = 8
HIDDEN = 8
TOLERANCE = 1e-4

LABELS = ["travel", "food", "weather"]
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
# Words and the label each leans towards (None: neutral). "##" pieces exercise WordPiece.
WORDS = [
    ("the", None), ("a", None), ("was", None), ("is", None), ("and", None), ("to", None),
    ("we", None), ("it", None), ("very", None), ("our", None), ("in", None), ("of", None),
    ("trip", 0), ("train", 0), ("flight", 0), ("hotel", 0), ("beach", 0), ("museum", 0),
    ("travel", 0), ("visit", 0), ("##ed", None), ("##ing", None), ("##s", None),
    ("pasta", 1), ("soup", 1), ("bread", 1), ("dinner", 1), ("tasty", 1), ("cheese", 1),
    ("cook", 1), ("lunch", 1), ("spicy", 1),
    ("rain", 2), ("sun", 2), ("##ny", 2), ("cold", 2), ("warm", 2), ("wind", 2), ("##y", 2),
    ("snow", 2), ("storm", 2), ("cloud", 2),
    (".", None), (",", None), ("!", None), ("?", None),
]
SENTENCES = [
    "We visited the museum and took the train to the beach!",
    "The pasta was tasty, and the soup very spicy.",
    "It is rainy and windy; snow is coming.",
]


def vocab():
    tokens = SPECIALS + [w for w, _ in WORDS]
    return {t: i for i, t in enumerate(tokens)}


def basic_tokenize(text):
    """BertNormalizer (lowercase, strip accents, clean text) + BertPreTokenizer, as tokenizers."""
    text = "".join(" " if c in "\t\n\r" else c for c in text)
    text = unicodedata.normalize("NFD", text.lower())
    text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    return re.findall(r"[^\s!-/:-@\[-`{-~]+|[!-/:-@\[-`{-~]", text.strip())


def wordpiece(words, vocab_map):
    """Greedy longest-match-first WordPiece with '##' continuations and [UNK] for the rest."""
    out = []
    for word in words:
        start, pieces = 0, []
        while start < len(word):
            end, found = len(word), None
            while start < end:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in vocab_map:
                    found = piece
                    break
                end -= 1
            if found is None:
                pieces = ["[UNK]"]
                break
            pieces.append(found)
            start = end
        out.extend(pieces)
    return out


def encode(text, vocab_map):
    tokens = ["[CLS]"] + wordpiece(basic_tokenize(text), vocab_map) + ["[SEP]"]
    return tokens, [vocab_map[t] for t in tokens]


def weights(vocab_map):
    rng = np.random.default_rng(SEED)
    n = len(vocab_map)
    word_emb = rng.normal(0.0, 0.15, size=(n, HIDDEN)).astype(np.float32)
    # One orthonormal direction per label, so the labels do not share evidence.
    q, _ = np.linalg.qr(rng.normal(0.0, 1.0, size=(HIDDEN, HIDDEN)))
    topic = q[: len(LABELS)].astype(np.float32)
    for word, label in WORDS:
        if label is not None:
            word_emb[vocab_map[word]] += 2.5 * topic[label]
    type_emb = rng.normal(0.0, 0.05, size=(2, HIDDEN)).astype(np.float32)
    dense = (topic.T * 3.0 + rng.normal(0.0, 0.1, size=(HIDDEN, len(LABELS)))).astype(np.float32)
    bias = rng.normal(0.0, 0.05, size=(len(LABELS),)).astype(np.float32)
    return word_emb, type_emb, dense, bias


def forward(ids, mask, types, w):
    """The graph's arithmetic in numpy, float32 throughout, in the graph's order."""
    word_emb, type_emb, dense, bias = w
    x = word_emb[ids] + type_emb[types]
    m = mask.astype(np.float32)[..., None]
    pooled = (x * m).sum(axis=1, dtype=np.float32) / m.sum(axis=1, dtype=np.float32)
    return (np.tanh(pooled) @ dense + bias).astype(np.float32)


def graph(w):
    word_emb, type_emb, dense, bias = w
    seq = ["batch_size", "sequence_length"]
    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, seq)
              for n in ("input_ids", "attention_mask", "token_type_ids")]
    output = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch_size", len(LABELS)])
    inits = [
        numpy_helper.from_array(word_emb, "word_embeddings"),
        numpy_helper.from_array(type_emb, "token_type_embeddings"),
        numpy_helper.from_array(dense, "classifier.weight"),
        numpy_helper.from_array(bias, "classifier.bias"),
    ]
    # Axes as Constant nodes, not initializers: shape inference must read them, and onnxruntime
    # cannot while they sit in external data.
    axis = lambda name, v: helper.make_node(  # noqa: E731
        "Constant", [], [name], value=numpy_helper.from_array(np.array([v], dtype=np.int64), name))
    nodes = [
        axis("axis_last", -1),
        axis("axis_seq", 1),
        helper.make_node("Gather", ["word_embeddings", "input_ids"], ["words"]),
        helper.make_node("Gather", ["token_type_embeddings", "token_type_ids"], ["types"]),
        helper.make_node("Add", ["words", "types"], ["embedded"]),
        helper.make_node("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mask_f", "axis_last"], ["mask3"]),
        helper.make_node("Mul", ["embedded", "mask3"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", "axis_seq"], ["summed"], keepdims=0),
        helper.make_node("ReduceSum", ["mask3", "axis_seq"], ["count"], keepdims=0),
        helper.make_node("Div", ["summed", "count"], ["pooled"]),
        helper.make_node("Tanh", ["pooled"], ["hidden"]),
        helper.make_node("MatMul", ["hidden", "classifier.weight"], ["projected"]),
        helper.make_node("Add", ["projected", "classifier.bias"], ["logits"]),
    ]
    g = helper.make_graph(nodes, "tiny_classifier", inputs, [output], initializer=inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="tessera make_tiny_classifier.py")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def tokenizer_json(vocab_map):
    added = [{"id": vocab_map[t], "content": t, "single_word": False, "lstrip": False,
              "rstrip": False, "normalized": False, "special": True} for t in SPECIALS]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                       "strip_accents": None, "lowercase": True},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", vocab_map["[SEP]"]],
                           "cls": ["[CLS]", vocab_map["[CLS]"]]},
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": vocab_map},
    }


def softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def dump(path, value):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2, sort_keys=True)
        f.write("\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="output folder (created)")
    out = parser.parse_args().out
    os.makedirs(os.path.join(out, "onnx"), exist_ok=True)
    vocab_map = vocab()
    w = weights(vocab_map)

    dump(os.path.join(out, "config.json"), {
        "architectures": ["BertForSequenceClassification"],
        "model_type": "bert",
        "hidden_size": HIDDEN,
        "vocab_size": len(vocab_map),
        "type_vocab_size": 2,
        "max_position_embeddings": 64,
        "pad_token_id": vocab_map["[PAD]"],
        "problem_type": "single_label_classification",
        "id2label": {str(i): l for i, l in enumerate(LABELS)},
        "label2id": {l: i for i, l in enumerate(LABELS)},
    })
    dump(os.path.join(out, "tokenizer.json"), tokenizer_json(vocab_map))
    dump(os.path.join(out, "tokenizer_config.json"), {
        "tokenizer_class": "BertTokenizer",
        "do_lower_case": True,
        "model_max_length": 64,
        "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]",
        "unk_token": "[UNK]", "mask_token": "[MASK]",
    })

    model = graph(w)
    onnx.save_model(model, os.path.join(out, "onnx", "model.onnx"))
    external = graph(w)
    ext_data = "model_external.onnx_data"
    if os.path.exists(os.path.join(out, "onnx", ext_data)):
        os.remove(os.path.join(out, "onnx", ext_data))  # onnx appends to an existing file
    onnx.save_model(external, os.path.join(out, "onnx", "model_external.onnx"),
                    save_as_external_data=True, all_tensors_to_one_file=True,
                    location=ext_data, size_threshold=0)

    cases = []
    for text in SENTENCES:
        tokens, ids = encode(text, vocab_map)
        arr = np.array([ids], dtype=np.int64)
        logits = forward(arr, np.ones_like(arr), np.zeros_like(arr), w)[0]
        scores = softmax(logits.astype(np.float64))
        cases.append({
            "text": text, "tokens": tokens, "input_ids": ids,
            "logits": [float(v) for v in logits],
            "scores": [float(v) for v in scores],
            "label": LABELS[int(np.argmax(logits))],
            "score": float(scores.max()),
        })
    dump(os.path.join(out, "known-answer.json"), {
        "labels": LABELS, "tolerance": TOLERANCE, "external_data": ext_data, "cases": cases,
    })


if __name__ == "__main__":
    main()
