// Encodes the app's inputs into the tensors the demo models expect, exactly as travel.json says:
// preferences → the recommender's 64 floats, sentences → the summarizer's hashed bag-of-words rows.
// Pure functions, no DOM.

/** Width of the recommender's input vector. */
export const FEATURE_WIDTH = 64;

/**
 * Encodes preferences (`{name: value}`; choice → option string, multi → array of option strings,
 * scalar → number) per the `features` of travel.json: choice/multi are one-hot slots at
 * `offset + index`, scalar is `(v - min) / (max - min)` (clamped to 0..1) at `offset`.
 */
export function encodePreferences(features, values, width = FEATURE_WIDTH) {
  const out = new Float32Array(width);
  for (const f of features) {
    const v = values[f.name];
    if (f.kind === 'choice') {
      const i = f.options.indexOf(v);
      if (i >= 0) out[f.offset + i] = 1;
    } else if (f.kind === 'multi') {
      for (const option of v ?? []) {
        const i = f.options.indexOf(option);
        if (i >= 0) out[f.offset + i] = 1;
      }
    } else if (f.kind === 'scalar') {
      const x = (Number(v) - f.min) / (f.max - f.min);
      out[f.offset] = Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0;
    }
  }
  return out;
}

/** FNV-1a, 32-bit, over the bytes of an ASCII string (tokens are [a-z0-9]+ or `_time`, so one byte each). */
export function fnv1a32(text) {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i) & 0xff;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/**
 * Word tokens: maximal runs of ASCII [A-Za-z0-9], lowercased afterwards (A-Z only); every other
 * character, non-ASCII letters included, separates tokens (so "İ" or "K" never become "i"/"k").
 */
export function tokens(sentence) {
  return (sentence.match(/[A-Za-z0-9]+/g) ?? []).map((t) => t.toLowerCase());
}

/** The pseudo-token counted once per clock time ("_" never occurs in a word token). */
export const TIME_TOKEN = '_time';

/**
 * Clock times ("8:30", "20:30"): one or two ASCII digits, a colon, two digits, not inside a longer
 * run of letters, digits or colons (the pattern of travel.json `summarizer.times`).
 */
const CLOCK = /(?<![0-9A-Za-z:])[0-9]{1,2}:[0-9]{2}(?![0-9A-Za-z:])/g;

/** What the summarizer counts in a sentence: its word {@link tokens}, then one {@link TIME_TOKEN} per clock time. */
export function sentenceTokens(sentence) {
  const times = sentence.match(CLOCK) ?? [];
  return [...tokens(sentence), ...times.map(() => TIME_TOKEN)];
}

/** Hash buckets of the summarizer's input (travel.json `summarizer.dims`). */
export const SENTENCE_DIMS = 768;

/**
 * One sentence as a `dims`-wide vector: counts of its {@link sentenceTokens} at
 * `fnv1a32(token) % dims`, divided by the vector's Euclidean norm (all zeros when the sentence has
 * no tokens).
 */
export function encodeSentence(sentence, dims = SENTENCE_DIMS) {
  const row = new Float32Array(dims);
  for (const t of sentenceTokens(sentence)) row[fnv1a32(t) % dims] += 1;
  let sum = 0;
  for (const x of row) sum += x * x;
  if (sum > 0) {
    const norm = Math.sqrt(sum);
    for (let i = 0; i < dims; i += 1) row[i] /= norm;
  }
  return row;
}

/** The summarizer's input: `maxSentences` rows of `dims` floats, zero rows for padding. */
export function encodeSentences(sentences, dims = SENTENCE_DIMS, maxSentences = 32) {
  const data = new Float32Array(maxSentences * dims);
  sentences.slice(0, maxSentences).forEach((s, i) => data.set(encodeSentence(s, dims), i * dims));
  return data;
}

/**
 * Splits text into sentences: at `.`, `!` or `?` followed by whitespace, and at line breaks
 * (itinerary headings like "Day 2 — Sintra" stand alone). Empty pieces are dropped.
 */
export function splitSentences(text) {
  return text
    .split(/\n+|(?<=[.!?])\s+/)
    .map((s) => s.trim())
    .filter((s) => /[A-Za-z0-9]/.test(s));
}

/**
 * The per-sentence scores from the summarizer's output tensor: `column` of each row of a
 * `[rows, cols]` output (`[32, 2]` today, column 0 = importance; `[32, 1]` works too).
 */
export function sentenceScores(output, count, column = 0) {
  const cols = output.shape.length > 1 ? output.shape[output.shape.length - 1] : 1;
  return Array.from({ length: count }, (_, i) => Number(output.data[i * cols + column]));
}

/** Indices of the `k` highest scores, returned in ascending (original text) order. */
export function topInOrder(scores, count, k) {
  return [...Array(count).keys()]
    .sort((a, b) => scores[b] - scores[a] || a - b)
    .slice(0, k)
    .sort((a, b) => a - b);
}
