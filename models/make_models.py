#!/usr/bin/env python3
"""Builds the travel-planner demo models and the data the UI needs to use them.

    python3 models/make_models.py --out DIR

writes into DIR:
  recommender.onnx          features float32 [1, 64] -> scores float32 [1, 120]; ops Gemm, Relu,
                            MatMul, Add only (the set verified in Chromium's WebGPU via wonnx)
  recommender.vectors.json  3 known-answer vectors (tessera TestVector format), computed in numpy
  summarizer.onnx           sentences float32 [32, 256] -> scores float32 [32, 2]; ops Gemm, Relu,
                            MatMul, Add (column 0 = importance; see README for why not [32, 1])
  summarizer.vectors.json   3 known-answer vectors, computed in numpy
  travel.json               feature layout, the 120 destinations, the summarizer's hashing rule

Both models are "random features + closed-form ridge readout": the hidden layers come from a
fixed-seed generator, only the last layer is fitted (exact least squares, no SGD), against a
hidden ground truth defined in this file. Everything is seeded and single-threaded, so a second
run writes byte-identical files on the same numpy/BLAS build. Reference outputs are computed with
numpy from the weight arrays, never by running the ONNX files.
"""

import os

# One BLAS thread: sums then happen in a fixed order, so re-runs are bit-identical (and the
# shared 2-core build machine is left alone). Must be set before numpy is imported.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 20261124
OPSET = 13
IR_VERSION = 8
TOLERANCE = 1e-3

# ---------------------------------------------------------------------------------------------
# Feature layout (travel.json "features"): one-hot slots for choice/multi, one slot per scalar.
# ---------------------------------------------------------------------------------------------

WIDTH = 64
INTERESTS = ["beaches", "food", "history", "hiking", "nightlife", "art", "wildlife", "skiing"]
SEASONS = ["spring", "summer", "autumn", "winter"]
BUDGETS = ["shoestring", "moderate", "comfort", "luxury"]
PACES = ["relaxed", "balanced", "packed"]
PARTIES = ["solo", "couple", "family", "friends"]
CLIMATES = ["warm", "mild", "cool"]
REGIONS = ["europe", "asia", "africa", "americas", "oceania"]
DAYS_MIN, DAYS_MAX = 2, 21

FEATURES = [
    {"name": "budget", "label": "Budget", "kind": "choice", "options": BUDGETS},
    {"name": "season", "label": "When", "kind": "choice", "options": SEASONS,
     "help": "spring = Mar-May, summer = Jun-Aug, autumn = Sep-Nov, winter = Dec-Feb"},
    {"name": "days", "label": "Trip length (days)", "kind": "scalar", "min": DAYS_MIN,
     "max": DAYS_MAX, "default": 7},
    {"name": "interests", "label": "Interests", "kind": "multi", "options": INTERESTS},
    {"name": "pace", "label": "Pace", "kind": "choice", "options": PACES},
    {"name": "party", "label": "Travelling as", "kind": "choice", "options": PARTIES},
    {"name": "climate", "label": "Preferred climate", "kind": "choice", "options": CLIMATES},
    {"name": "regions", "label": "Regions", "kind": "multi", "options": REGIONS,
     "help": "none selected = anywhere"},
]


def layout():
    """Assigns offsets in order; returns {name: offset} and the used width."""
    offsets, at = {}, 0
    for f in FEATURES:
        f["offset"] = at
        offsets[f["name"]] = at
        at += 1 if f["kind"] == "scalar" else len(f["options"])
    return offsets, at


OFFSETS, USED = layout()
assert USED <= WIDTH


def encode(budget=None, season=None, days=7, interests=(), pace=None, party=None, climate=None,
           regions=()):
    """Encodes one preference profile as the model's [1, 64] float32 input (None = no choice)."""
    x = np.zeros((1, WIDTH), np.float32)
    for name, options, value in (("budget", BUDGETS, budget), ("season", SEASONS, season),
                                 ("pace", PACES, pace), ("party", PARTIES, party),
                                 ("climate", CLIMATES, climate)):
        if value is not None:
            x[0, OFFSETS[name] + options.index(value)] = 1
    for name, options, values in (("interests", INTERESTS, interests), ("regions", REGIONS, regions)):
        for v in values:
            x[0, OFFSETS[name] + options.index(v)] = 1
    x[0, OFFSETS["days"]] = (days - DAYS_MIN) / (DAYS_MAX - DAYS_MIN)
    return x


# ---------------------------------------------------------------------------------------------
# Destinations and their hidden attributes (models/destinations.txt).
# ---------------------------------------------------------------------------------------------

INTEREST_CODES = "bfhknaws"  # same order as INTERESTS
SEASON_CODES = "psaw"  # same order as SEASONS


def slug(name):
    return re.sub(r"[^a-z0-9]+", "-", name.lower().replace("á", "a").replace("ó", "o")
                  .replace("í", "i").replace("é", "e")).strip("-")


def load_destinations():
    dests = []
    with open(os.path.join(HERE, "destinations.txt"), encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, country, region, tags, seasons, cost, climate, days, hemi, blurb = \
                [p.strip() for p in line.split("|")]
            interest = np.zeros(len(INTERESTS))
            for c in tags:
                interest[INTEREST_CODES.index(c.lower())] = 1.0 if c.isupper() else 0.5
            season_q = np.full(len(SEASONS), 0.2)
            for c in seasons:
                season_q[SEASON_CODES.index(c)] = 1.0
            dests.append({
                "id": slug(name), "name": name, "country": country, "blurb": blurb,
                "region": REGIONS.index(region), "interest": interest, "season": season_q,
                "cost": int(cost), "climate": "wmc".index(climate), "days": int(days),
                "southern": hemi == "s",
            })
    assert len(dests) == 120, len(dests)
    assert len({d["id"] for d in dests}) == 120, "destination ids must be unique"
    return dests


def attribute_arrays(dests):
    """Stacks the hidden attributes into arrays (D = 120 destinations)."""
    interest = np.stack([d["interest"] for d in dests])  # [D, 8]
    season_q = np.stack([d["season"] for d in dests])  # [D, 4]
    # Ski season by hemisphere: Dec-Feb (Mar-May half) in the north, Jun-Aug (Sep-Nov half) south.
    ski = np.array([[0.1, 1.0, 0.5, 0.0] if d["southern"] else [0.5, 0.0, 0.1, 1.0]
                    for d in dests])  # [D, 4]
    # Gate each interest by the season: beaches need the good season, skiing the ski season,
    # everything else only mildly.
    gate = np.repeat((0.6 + 0.4 * season_q)[:, None, :], len(INTERESTS), axis=1)  # [D, 8, 4]
    gate[:, 0, :] = 0.3 + 0.7 * season_q
    gate[:, 7, :] = ski
    it = interest
    # Pace a destination suits: beaches/wildlife -> relaxed, dense city interests -> packed.
    city = it[:, 1] + it[:, 2] + it[:, 4] + it[:, 5]
    calm = it[:, 0] + it[:, 6]
    pace = np.clip(1.0 + 0.5 * (city - calm), 0.0, 2.0)
    party = np.stack([
        0.4 * it[:, 3] + 0.3 * it[:, 1] + 0.3 * it[:, 2] + 0.3 * (np.array([d["cost"] for d in dests]) <= 1),
        0.5 * it[:, 0] + 0.4 * it[:, 1] + 0.4 * it[:, 5],
        0.6 * it[:, 6] + 0.4 * it[:, 0] + 0.3 * it[:, 2] - 0.6 * it[:, 4],
        0.7 * it[:, 4] + 0.4 * it[:, 7] + 0.3 * it[:, 3],
    ], axis=1)  # [D, 4]
    return {
        "interest": interest, "season": season_q, "gate": gate, "pace": pace, "party": party,
        "cost": np.array([d["cost"] for d in dests], float),
        "climate": np.array([d["climate"] for d in dests], float),
        "days": np.array([d["days"] for d in dests], float),
        "region": np.array([d["region"] for d in dests]),
    }


def ground_truth(x, a):
    """The hidden affinity: users [N, 64] -> scores [N, D], higher = better (float64)."""
    o = OFFSETS
    x = x.astype(np.float64)
    seas = x[:, o["season"]:o["season"] + 4]  # [N, 4]
    has_season = seas.sum(1) > 0
    # Interests, season-gated; with no season given, the average gate.
    gate = np.einsum("dis,ns->ndi", a["gate"], seas)  # [N, D, 8]
    gate[~has_season] = a["gate"].mean(2)[None]
    ints = x[:, o["interests"]:o["interests"] + 8]
    k = ints.sum(1, keepdims=True)
    match = np.einsum("ni,di,ndi->nd", ints, a["interest"], gate) / np.maximum(k, 1)
    score = 3.0 * match
    score += 1.0 * seas @ a["season"].T
    bud = x[:, o["budget"]:o["budget"] + 4]
    level = bud @ np.arange(4.0)
    has_budget = bud.sum(1, keepdims=True) > 0
    over = np.maximum(a["cost"][None] - level[:, None], 0)
    under = np.maximum(level[:, None] - a["cost"][None] - 1, 0)
    score -= has_budget * (0.9 * over + 0.25 * under)
    days = DAYS_MIN + x[:, o["days"]] * (DAYS_MAX - DAYS_MIN)
    score -= 0.25 * np.maximum(a["days"][None] - days[:, None], 0)
    pace = x[:, o["pace"]:o["pace"] + 3]
    has_pace = pace.sum(1, keepdims=True) > 0
    score -= has_pace * 0.4 * np.abs((pace @ np.arange(3.0))[:, None] - a["pace"][None])
    score += 0.6 * x[:, o["party"]:o["party"] + 4] @ a["party"].T
    clim = x[:, o["climate"]:o["climate"] + 3]
    has_clim = clim.sum(1, keepdims=True) > 0
    diff = np.abs((clim @ np.arange(3.0))[:, None] - a["climate"][None])
    score += has_clim * np.where(diff == 0, 0.5, -0.3 * diff)
    regs = x[:, o["regions"]:o["regions"] + 5]
    has_reg = regs.sum(1, keepdims=True) > 0
    in_reg = regs[:, a["region"]]  # [N, D]
    score -= has_reg * 2.0 * (1 - in_reg)
    return score


def sample_users(rng, n):
    """Random preference profiles; each group is sometimes left empty ("no preference")."""
    x = np.zeros((n, WIDTH), np.float32)
    o = OFFSETS

    def choice(name, count, p_set):
        on = rng.random(n) < p_set
        idx = rng.integers(0, count, n)
        x[np.arange(n)[on], o[name] + idx[on]] = 1

    choice("budget", 4, 0.85)
    choice("season", 4, 0.85)
    choice("pace", 3, 0.6)
    choice("party", 4, 0.6)
    choice("climate", 3, 0.5)
    x[:, o["days"]] = rng.random(n)
    n_int = rng.choice(5, n, p=[0.08, 0.35, 0.3, 0.17, 0.1])
    for i in range(n):
        picks = rng.permutation(8)[:n_int[i]]
        x[i, o["interests"] + picks] = 1
        if rng.random() < 0.35:
            regs = rng.permutation(5)[:rng.integers(1, 3)]
            x[i, o["regions"] + regs] = 1
    return x


# ---------------------------------------------------------------------------------------------
# Random features + ridge readout.
# ---------------------------------------------------------------------------------------------

def ridge(chunks, lam, intercept=True):
    """Closed-form ridge over (features [n, H] float32, targets [n, T]) chunks, accumulated in
    float64 so that memory stays at one chunk. Returns W [H, T] and b [T] (zeros without
    intercept), both float32."""
    n, g, c, fs, ts = 0, None, None, None, None
    for f, t in chunks:
        f = f.astype(np.float64)
        t = np.asarray(t, np.float64)
        if g is None:
            g, c = np.zeros((f.shape[1], f.shape[1])), np.zeros((f.shape[1], t.shape[1]))
            fs, ts = np.zeros(f.shape[1]), np.zeros(t.shape[1])
        g += f.T @ f
        c += f.T @ t
        fs += f.sum(0)
        ts += t.sum(0)
        n += len(f)
    if intercept:
        fm, tm = fs / n, ts / n
        g -= n * np.outer(fm, fm)
        c -= n * np.outer(fm, tm)
    g[np.diag_indices_from(g)] += lam * np.trace(g) / g.shape[0]
    w = np.linalg.solve(g, c)
    b = (tm - fm @ w) if intercept else np.zeros(c.shape[1])
    return w.astype(np.float32), b.astype(np.float32)


REC_TRAIN = 16000  # synthetic users the readout is fitted on
H1, H2 = 2560, 2560  # recommender hidden widths: (64*H1 + H1*H2 + H2*120) floats ~ 28 MB


def recommender_hidden(rng):
    live = OFFSETS["regions"] + len(REGIONS)  # slots past this are reserved: zero weights
    w1 = np.zeros((WIDTH, H1), np.float32)
    w1[:live] = rng.standard_normal((live, H1)).astype(np.float32) * np.float32(0.4)
    b1 = rng.standard_normal(H1).astype(np.float32) * np.float32(0.5)
    w2 = rng.standard_normal((H1, H2)).astype(np.float32) * np.float32(math.sqrt(2.0 / H1))
    b2 = rng.standard_normal(H2).astype(np.float32) * np.float32(0.1)
    return w1, b1, w2, b2


def recommender_forward(x, w):
    """The recommender in numpy, float32 throughout (the reference for the known answers)."""
    w1, b1, w2, b2, w3, b3 = w
    h1 = np.maximum(x @ w1 + b1, np.float32(0))
    h2 = np.maximum(h1 @ w2 + b2, np.float32(0))
    return h2 @ w3 + b3 if w3 is not None else h2


def train_recommender(rng, attrs, log):
    w1, b1, w2, b2 = recommender_hidden(rng)
    chunk, n_chunks = 2000, REC_TRAIN // 2000
    data = [sample_users(rng, chunk) for _ in range(n_chunks + 1)]  # last chunk: held out

    def chunks():
        for x in data[:n_chunks]:
            yield recommender_forward(x, (w1, b1, w2, b2, None, None)), ground_truth(x, attrs)

    w3, b3 = ridge(chunks(), lam=1e-4)
    pred = recommender_forward(data[-1], (w1, b1, w2, b2, w3, b3))
    truth = ground_truth(data[-1], attrs)
    resid = ((pred - truth) ** 2).sum() / ((truth - truth.mean(0)) ** 2).sum()
    top_pred = np.argsort(-pred, 1)[:, :5]
    top_true = np.argsort(-truth, 1)[:, :5]
    overlap = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(top_pred, top_true)])
    top1_in_true5 = np.mean([p[0] in t for p, t in zip(top_pred, top_true)])
    log(f"recommender held-out: R^2 {1 - resid:.4f}, top-5 overlap {overlap:.3f}, "
        f"model top-1 in true top-5 {top1_in_true5:.3f}")
    return (w1, b1, w2, b2, w3, b3)


# ---------------------------------------------------------------------------------------------
# Summarizer: hashed bag of words -> sentence importance.
# ---------------------------------------------------------------------------------------------

DIMS, MAX_SENTENCES, S_HIDDEN = 256, 32, 2048
SUM_TRAIN = 32000  # synthetic sentences the readout is fitted on
TOKEN = re.compile(r"[A-Za-z0-9]+")  # ASCII only: any other character separates tokens

# Words that make a sentence worth keeping in a travel summary, with their weight.
KEYWORDS = {
    "must": 1.0, "best": 0.9, "famous": 0.8, "museum": 0.9, "beach": 0.9, "temple": 0.9,
    "cathedral": 0.8, "castle": 0.8, "palace": 0.8, "market": 0.7, "hike": 0.9, "trail": 0.8,
    "sunset": 0.7, "view": 0.6, "views": 0.6, "ferry": 0.7, "train": 0.6, "flight": 0.6,
    "ticket": 0.8, "tickets": 0.8, "book": 0.8, "reserve": 0.8, "booking": 0.7, "open": 0.6,
    "closed": 0.8, "free": 0.7, "visa": 1.0, "festival": 0.8, "island": 0.6, "local": 0.5,
    "dish": 0.6, "restaurant": 0.6, "tip": 0.7, "avoid": 0.8, "crowds": 0.7, "early": 0.6,
    "price": 0.6, "cost": 0.6, "cash": 0.7, "season": 0.6, "weather": 0.6, "snow": 0.6,
    "ski": 0.8, "safari": 0.9, "reef": 0.8, "snorkel": 0.8, "wildlife": 0.8, "guide": 0.6,
    "old": 0.3, "town": 0.4, "night": 0.3, "food": 0.6, "dive": 0.7, "hotel": 0.5,
    "unesco": 0.9, "ruins": 0.8, "gallery": 0.7, "art": 0.6, "mountain": 0.6, "lake": 0.5,
}
FILLER = (
    "the a an and we it was very really nice i my then so also day went to of in on with had "
    "some just lot got thing stuff were there this that they after before our around but which "
    "felt pretty quite good fun little big walked saw back again think maybe bit time friends "
    "morning afternoon evening took went lunch coffee photos bus walk long short next last first "
    "because while until though still even anyway overall way place places people"
).split()


def fnv1a32(token):
    h = 0x811C9DC5
    for byte in token.encode("ascii"):
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def sentence_vector(text):
    """The summarizer's input row for one sentence (travel.json "summarizer.hash")."""
    v = np.zeros(DIMS, np.float64)
    for tok in [t.lower() for t in TOKEN.findall(text)]:
        v[fnv1a32(tok) % DIMS] += 1
    norm = math.sqrt(float((v ** 2).sum()))
    return (v / norm if norm > 0 else v).astype(np.float32)


def sentence_target(text):
    """Hidden importance: keyword weight mass, diluted by length, saturating."""
    toks = [t.lower() for t in TOKEN.findall(text)]
    if not toks:
        return 0.0
    mass = sum(KEYWORDS.get(t, 0.0) for t in toks)
    return 2.0 * math.tanh(mass / math.sqrt(len(toks)))


def synthetic_sentences(rng, n):
    keys = sorted(KEYWORDS)
    out = []
    for _ in range(n):
        length = int(rng.integers(4, 22))
        n_keys = int(rng.choice(5, p=[0.35, 0.3, 0.2, 0.1, 0.05]))
        words = [FILLER[i] for i in rng.integers(0, len(FILLER), length - min(n_keys, length - 1))]
        words += [keys[i] for i in rng.integers(0, len(keys), min(n_keys, length - 1))]
        out.append(" ".join(words[i] for i in rng.permutation(len(words))))
    return out


def summarizer_forward(x, w):
    w1, b1, w2, b2 = w
    h = np.maximum(x @ w1 + b1, np.float32(0))
    return h @ w2 + b2 if w2 is not None else h


def train_summarizer(rng, log):
    # No biases anywhere: the network is positively homogeneous, so an all-zero padding row
    # scores exactly 0, and so does a sentence with no words.
    w1 = rng.standard_normal((DIMS, S_HIDDEN)).astype(np.float32)
    b1 = np.zeros(S_HIDDEN, np.float32)
    chunk, n_chunks = 4000, SUM_TRAIN // 4000
    data = []
    for _ in range(n_chunks + 1):  # last chunk: held out
        texts = synthetic_sentences(rng, chunk)
        data.append((np.stack([sentence_vector(t) for t in texts]),
                     np.array([[sentence_target(t)] for t in texts])))

    def chunks():
        for x, y in data[:n_chunks]:
            yield summarizer_forward(x, (w1, b1, None, None)), y

    w, _ = ridge(chunks(), lam=1e-4, intercept=False)
    x, truth = data[-1]
    pred = summarizer_forward(x, (w1, b1, None, None)) @ w
    r2 = 1 - ((pred - truth) ** 2).sum() / ((truth - truth.mean()) ** 2).sum()
    log(f"summarizer held-out: R^2 {r2:.4f}")
    # Column 0 = importance; column 1 = its negation (a "skip" logit), so that no MatMul ends in
    # a width-1 output, which wonnx 0.5.1 cannot compile for a 32-row input.
    w2 = np.concatenate([w, -w], axis=1).astype(np.float32)
    b2 = np.zeros(2, np.float32)
    return (w1, b1, w2, b2)


# ---------------------------------------------------------------------------------------------
# ONNX and JSON writing.
# ---------------------------------------------------------------------------------------------

def mlp_model(name, input_name, input_shape, output_name, output_shape, layers):
    """layers: [(op, weight, bias)] where op is "gemm" (Gemm with bias) or "matmul" (MatMul +
    Add); Relu between layers. Returns a shape-inferred, checked ModelProto."""
    nodes, inits = [], []
    cur = input_name
    for i, (kind, w, b) in enumerate(layers, start=1):
        last = i == len(layers)
        out = output_name if last else f"relu{i}_in"
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(b, f"b{i}")]
        if kind == "gemm":
            nodes.append(helper.make_node("Gemm", [cur, f"w{i}", f"b{i}"], [out], name=f"fc{i}"))
        else:
            nodes.append(helper.make_node("MatMul", [cur, f"w{i}"], [f"mm{i}"], name=f"fc{i}"))
            nodes.append(helper.make_node("Add", [f"mm{i}", f"b{i}"], [out], name=f"bias{i}"))
        if not last:
            nodes.append(helper.make_node("Relu", [out], [f"h{i}"], name=f"relu{i}"))
            cur = f"h{i}"
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, input_shape)],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, output_shape)],
        initializer=inits,
    )
    model = helper.make_model(graph, producer_name="tessera models/make_models.py",
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    # wonnx does no shape inference of its own: every intermediate value needs its shape.
    model = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    onnx.checker.check_model(model, full_check=True)
    return model


def tensor(array):
    return {"dtype": "float32", "shape": list(array.shape),
            "data": [float(v) for v in array.reshape(-1)]}


def write_json(path, value):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=1, sort_keys=True, ensure_ascii=False)
        f.write("\n")


PROFILES = [
    ("beaches-summer-moderate",
     dict(budget="moderate", season="summer", days=10, interests=["beaches"], pace="relaxed",
          party="couple")),
    ("skiing-winter-luxury",
     dict(budget="luxury", season="winter", days=7, interests=["skiing"], party="friends")),
    ("history-food-shoestring",
     dict(budget="shoestring", season="autumn", days=5, interests=["history", "food"],
          pace="packed", party="solo")),
]

PARAGRAPHS = [
    ("kyoto-notes",
     "We got to Kyoto on the morning train. The best tip is to visit the famous temple early to "
     "avoid crowds. Then we had coffee and walked around for a bit. Tickets for the garden must be "
     "booked online. It was a nice day anyway."),
    ("beach-week",
     "The beach on the east side of the island has the best snorkel spot on the reef. We were "
     "pretty tired after the flight. The ferry only runs twice a day in low season so book ahead. "
     "Lunch was good."),
    ("padding-only", ""),
]


def summarizer_input(text):
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]
    x = np.zeros((MAX_SENTENCES, DIMS), np.float32)
    for i, s in enumerate(sentences[:MAX_SENTENCES]):
        x[i] = sentence_vector(s)
    return sentences, x


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="directory to write the models into")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    log = (lambda *_: None) if args.quiet else (lambda m: print(m, file=sys.stderr))
    t0 = time.monotonic()
    os.makedirs(args.out, exist_ok=True)

    dests = load_destinations()
    attrs = attribute_arrays(dests)

    # Recommender.
    rec = train_recommender(np.random.default_rng(SEED), attrs, log)
    w1, b1, w2, b2, w3, b3 = rec
    model = mlp_model("tessera_travel_recommender", "features", [1, WIDTH], "scores",
                      [1, len(dests)], [("gemm", w1, b1), ("matmul", w2, b2), ("matmul", w3, b3)])
    onnx.save(model, os.path.join(args.out, "recommender.onnx"))
    vectors = []
    for name, prefs in PROFILES:
        x = encode(**prefs)
        y = recommender_forward(x, rec).astype(np.float32)
        vectors.append({"name": name, "inputs": {"features": tensor(x)},
                        "outputs": {"scores": tensor(y)}, "tolerance": TOLERANCE})
        truth = ground_truth(x, attrs)[0]
        log(f"\n{name}: {prefs}")
        top = np.argsort(-y[0], kind="stable")[:5]
        true_top = set(np.argsort(-truth, kind="stable")[:5].tolist())
        for r, d in enumerate(top, 1):
            mark = "*" if d in true_top else " "
            log(f"  {r}. {mark} {dests[d]['name']} ({dests[d]['country']})  "
                f"model {y[0, d]:.2f}  truth {truth[d]:.2f}")
    write_json(os.path.join(args.out, "recommender.vectors.json"), vectors)

    # Summarizer.
    summ = train_summarizer(np.random.default_rng(SEED + 1), log)
    s1, c1, s2, c2 = summ
    model = mlp_model("tessera_travel_summarizer", "sentences", [MAX_SENTENCES, DIMS], "scores",
                      [MAX_SENTENCES, 2], [("gemm", s1, c1), ("matmul", s2, c2)])
    onnx.save(model, os.path.join(args.out, "summarizer.onnx"))
    vectors = []
    for name, text in PARAGRAPHS:
        sentences, x = summarizer_input(text)
        y = summarizer_forward(x, summ).astype(np.float32)
        vectors.append({"name": name, "inputs": {"sentences": tensor(x)},
                        "outputs": {"scores": tensor(y)}, "tolerance": TOLERANCE})
        if sentences:
            log(f"\n{name}:")
            for i, s in enumerate(sentences):
                log(f"  {y[i, 0]:+.2f} (truth {sentence_target(s):+.2f})  {s}")
    write_json(os.path.join(args.out, "summarizer.vectors.json"), vectors)

    # travel.json
    example = "Book the museum tickets early!"
    ex = sentence_vector(example)
    write_json(os.path.join(args.out, "travel.json"), {
        "width": WIDTH,
        "features": FEATURES,
        "destinations": [{k: d[k] for k in ("id", "name", "country", "blurb")} | {
            "region": REGIONS[d["region"]]} for d in dests],
        "summarizer": {
            "dims": DIMS,
            "maxSentences": MAX_SENTENCES,
            "hash": "fnv1a32 of lowercase ASCII word tokens [a-z0-9]+, index = hash % 256, "
                    "value = count / sqrt(sum of squares)",
            "tokenizer": "maximal runs of ASCII [A-Za-z0-9], lowercased (A-Z only); every other "
                         "character, non-ASCII letters included, separates tokens",
            "output": "scores [32, 2]: column 0 = importance (higher = keep), column 1 = its "
                      "negation; an all-zero padding row scores exactly 0",
            "scoreColumn": 0,
            "example": {"text": example,
                        "nonzero": {str(i): float(ex[i]) for i in np.flatnonzero(ex)}},
        },
    })
    log(f"\nwrote {args.out} in {time.monotonic() - t0:.1f} s")


if __name__ == "__main__":
    main()
