#!/usr/bin/env python3
"""Builds the travel-planner demo models and the data the UI needs to use them.

    python3 models/make_models.py --out DIR

writes into DIR:
  recommender.onnx          features float32 [1, 64] -> scores float32 [1, 120]; ops Gemm, Relu,
                            MatMul, Add only (the set verified in Chromium's WebGPU via wonnx)
  recommender.vectors.json  3 known-answer vectors (tessera TestVector format), computed in numpy
  summarizer.onnx           sentences float32 [32, 768] -> scores float32 [32, 2]; ops Gemm, Relu,
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

# 768 hash buckets: with 256, "sunset" shared a bucket with "crowds", "if" with "ski", "could"
# with "before", and held-out R^2 was 0.55 on this data; at 768 it is 0.78, and the model
# (768 x 1024 + 1024 x 2 floats, 3 MB) is still one 4 MB shard.
DIMS, MAX_SENTENCES, S_HIDDEN = 768, 32, 1024
SUM_TRAIN = 32000  # synthetic sentences the readout is fitted on
TOKEN = re.compile(r"[A-Za-z0-9]+")  # ASCII only: any other character separates tokens

# What a traveller must act on scores high: bookings, tickets, times, departures, check-in,
# documents, money. What is optional or conditional ("if it rains", "maybe", a sunset, a view)
# scores low, and sights on their own only a little: a brief that lists them reads like a
# brochure. The hidden target is this list (see sentence_target); the model sees only hashed words.
KEYWORDS = {
    # bookings and tickets
    "book": 1.0, "booked": 1.0, "booking": 1.0, "reserve": 1.0, "reserved": 0.9,
    "reservation": 1.0, "ticket": 0.9, "tickets": 0.9, "timed": 1.0, "slot": 0.8, "entry": 0.5,
    "advance": 0.9, "online": 0.7, "confirm": 0.8, "required": 0.9, "deposit": 0.8,
    # times, departures and connections (TIME_TOKEN stands for each clock time such as 8:30)
    "_time": 1.0, "train": 0.7, "flight": 0.8, "ferry": 0.7, "leaves": 0.6, "departs": 0.7,
    "depart": 0.7, "opens": 0.7, "closes": 0.8, "closed": 0.8, "last": 0.6, "before": 0.4,
    "check": 0.6, "taxi": 0.5, "pickup": 0.6, "transfer": 0.5, "platform": 0.6, "schedule": 0.6,
    # must-dos and documents, money
    "must": 1.0, "need": 0.7, "needs": 0.7, "remember": 0.9, "cash": 0.8, "visa": 1.0,
    "passport": 1.0, "deadline": 0.9, "queue": 0.4, "queues": 0.4, "early": 0.4, "tip": 0.4,
    "free": 0.3, "price": 0.4,
    # sights: a little on their own
    "museum": 0.2, "temple": 0.2, "castle": 0.2, "palace": 0.2, "market": 0.2, "hike": 0.2,
    "beach": 0.2, "tour": 0.2, "festival": 0.3,
    # optional, conditional or scenic: down-weighted
    "if": -1.0, "rains": -0.9, "rain": -0.8, "rainy": -0.8, "sunset": -0.9, "sunrise": -0.6,
    "maybe": -0.8, "perhaps": -0.8, "optional": -0.9, "optionally": -0.9, "worth": -0.6,
    "might": -0.6, "view": -0.4, "views": -0.4, "wander": -0.5, "stroll": -0.5, "relax": -0.4,
    "nice": -0.4, "lovely": -0.4, "beautiful": -0.3, "photos": -0.3, "watch": -0.3,
}
# Words with no weight: the rest of a sentence. More of them (and place names) teach the model
# that most words carry nothing.
FILLER = (
    "the a an and we it was very i my then so also to of in on with had some just lot got "
    "thing stuff were there this that they after our around but which felt pretty quite good "
    "fun little big walked saw back again think bit friends morning afternoon evening took went "
    "lunch coffee bus walk long short next first because while until though still even anyway "
    "overall way place places people at for from is are be by take go up down over into near "
    "city old town river bridge street square church park hotel dinner breakfast wine food "
    "local small two three hours minutes station airport bags shoes rome paris london vienna "
    "tokyo kyoto hanoi lima cusco prague monument tower garden bakery cellar tram metro "
    "day days week line"
).split() + [str(n) for n in range(1, 32)]  # bare numbers (day 3, tram 15) are not times
# The pseudo-token added once per clock time (8:30, 20:30): "_" never occurs in a word token.
TIME_TOKEN = "_time"
# A clock time: one or two digits, a colon, two digits, not inside a longer run of letters or
# digits. ASCII only, like the tokenizer (demo-pwa/ui/encode.js uses the same pattern).
CLOCK = re.compile(r"(?<![0-9A-Za-z:])[0-9]{1,2}:[0-9]{2}(?![0-9A-Za-z:])")


def fnv1a32(token):
    h = 0x811C9DC5
    for byte in token.encode("ascii"):
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def sentence_tokens(text):
    """The tokens of one sentence: lowercase ASCII word tokens, then one TIME_TOKEN per clock
    time (travel.json "summarizer.tokenizer" and "summarizer.times")."""
    return [t.lower() for t in TOKEN.findall(text)] + [TIME_TOKEN] * len(CLOCK.findall(text))


def sentence_vector(text):
    """The summarizer's input row for one sentence (travel.json "summarizer.hash")."""
    v = np.zeros(DIMS, np.float64)
    for tok in sentence_tokens(text):
        v[fnv1a32(tok) % DIMS] += 1
    norm = math.sqrt(float((v ** 2).sum()))
    return (v / norm if norm > 0 else v).astype(np.float32)


def sentence_target(text):
    """Hidden importance: keyword weight mass, diluted by length, saturating."""
    toks = sentence_tokens(text)
    if not toks:
        return 0.0
    mass = sum(KEYWORDS.get(t, 0.0) for t in toks)
    return 2.0 * math.tanh(mass / math.sqrt(len(toks)))


def synthetic_sentences(rng, n):
    keys = sorted(KEYWORDS)
    out = []
    for _ in range(n):
        if rng.random() < 0.05:
            # An itinerary heading ("Day 3 - Sintra"): short, and nothing to act on.
            out.append(f"day {rng.integers(1, 15)} " + " ".join(
                FILLER[i] for i in rng.integers(0, len(FILLER), int(rng.integers(1, 4)))))
            continue
        length = int(rng.integers(4, 22))
        n_keys = int(rng.choice(5, p=[0.35, 0.3, 0.2, 0.1, 0.05]))
        words = [FILLER[i] for i in rng.integers(0, len(FILLER), length - min(n_keys, length - 1))]
        words += [keys[i] for i in rng.integers(0, len(keys), min(n_keys, length - 1))]
        # The time pseudo-token is written as a clock time, as an itinerary would.
        words = [f"{rng.integers(0, 24)}:{rng.integers(0, 60):02d}" if w == TIME_TOKEN else w
                 for w in words]
        out.append(" ".join(words[i] for i in rng.permutation(len(words))))
    return out


def summarizer_forward(x, w):
    w1, b1, w2, b2 = w
    h = np.maximum(x @ w1 + b1, np.float32(0))
    return h @ w2 + b2 if w2 is not None else h


def train_summarizer(rng, log):
    # No biases anywhere: the network is positively homogeneous, so an all-zero padding row
    # scores exactly 0, and so does a sentence with no words.
    # The first DIMS hidden units pass the input through (it is never negative, so Relu keeps it):
    # the readout can weigh each hash bucket directly. The rest are random features, for the
    # saturation of the target.
    w1 = rng.standard_normal((DIMS, S_HIDDEN)).astype(np.float32)
    w1[:, :DIMS] = np.eye(DIMS, dtype=np.float32)
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
    # The demo's sample itinerary (demo-pwa/ui/sample.js): 28 sentences with clock times,
    # non-ASCII letters and line breaks, so the vector also checks the app's encoder (see
    # playwright/tests/demo-encode.test.js); its brief is logged.
    ("sample-itinerary", None),
    ("padding-only", ""),
]
SAMPLE_JS = os.path.join(HERE, os.pardir, "demo-pwa", "ui", "sample.js")


def sample_itinerary():
    """The text between the backticks of demo-pwa/ui/sample.js."""
    with open(SAMPLE_JS, encoding="utf-8") as f:
        return f.read().split("`")[1]


def split_sentences(text):
    """Sentences as the demo splits them (demo-pwa/ui/encode.js splitSentences): at ".", "!" or
    "?" followed by whitespace, and at line breaks; pieces with no ASCII letter or digit dropped."""
    pieces = (s.strip() for s in re.split(r"\n+|(?<=[.!?])\s+", text))
    return [s for s in pieces if re.search(r"[A-Za-z0-9]", s)]


def brief(scores, count):
    """Indices of the sentences the demo shows as the brief, in text order: the top k by score
    (ties to the earlier sentence), k = all up to 4 sentences, 4 from 12 on, else 3."""
    k = count if count <= 4 else 4 if count >= 12 else 3
    return sorted(sorted(range(count), key=lambda i: (-scores[i], i))[:k])


def summarizer_input(text):
    sentences = split_sentences(text)
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
    paragraphs = [(name, sample_itinerary() if text is None else text) for name, text in PARAGRAPHS]
    for name, text in paragraphs:
        sentences, x = summarizer_input(text)
        y = summarizer_forward(x, summ).astype(np.float32)
        vectors.append({"name": name, "inputs": {"sentences": tensor(x)},
                        "outputs": {"scores": tensor(y)}, "tolerance": TOLERANCE})
        if sentences:
            log(f"\n{name}:")
            for i, s in enumerate(sentences[:MAX_SENTENCES]):
                log(f"  {y[i, 0]:+.2f} (truth {sentence_target(s):+.2f})  {s}")
            shown = brief(y[:, 0], min(len(sentences), MAX_SENTENCES))
            log(f"  brief ({len(shown)} of {len(sentences)}):")
            for i in shown:
                log(f"    * {sentences[i]}")
    write_json(os.path.join(args.out, "summarizer.vectors.json"), vectors)

    # travel.json
    example = "Book the museum tickets for 9:30 early!"
    ex = sentence_vector(example)
    write_json(os.path.join(args.out, "travel.json"), {
        "width": WIDTH,
        "features": FEATURES,
        "destinations": [{k: d[k] for k in ("id", "name", "country", "blurb")} | {
            "region": REGIONS[d["region"]]} for d in dests],
        "summarizer": {
            "dims": DIMS,
            "maxSentences": MAX_SENTENCES,
            "hash": f"fnv1a32 of each token (the word tokens, then the time tokens), "
                    f"index = hash % {DIMS}, value = count / sqrt(sum of squares)",
            "tokenizer": "maximal runs of ASCII [A-Za-z0-9], lowercased (A-Z only); every other "
                         "character, non-ASCII letters included, separates tokens",
            "times": f"one extra token \"{TIME_TOKEN}\" per clock time: {CLOCK.pattern} "
                     "(ASCII digits, not inside a longer run of letters, digits or colons)",
            "timeToken": TIME_TOKEN,
            "vectorTexts": {name: text for name, text in paragraphs},
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
