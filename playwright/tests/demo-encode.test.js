// The demo's summarizer features: the app's encoder (demo-pwa/ui/encode.js) and the one the model
// was trained and checked with (models/make_models.py) agree. The summarizer's known-answer
// vectors hold the rows Python computed for texts whose words travel.json gives
// (`summarizer.vectorTexts`); the app splits and encodes the same texts and must get the same
// rows, clock-time tokens and non-ASCII letters included. A mismatch would mean the page asks
// the model about other words than the ones it was trained on, and briefs go wrong without any
// error. Models built before their inputs last changed are not reused (the demo world rebuilds
// them). No browser: encode.js is plain JavaScript.

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { DEMO_MODEL_INPUTS, DEMO_MODELS, demoModels, demoModelsCurrent } from '../lib/demo.js';
import { REPO_ROOT } from '../lib/fixtures.js';

const ENCODE = path.join(REPO_ROOT, 'demo-pwa', 'ui', 'encode.js');
const SAMPLE = path.join(REPO_ROOT, 'demo-pwa', 'ui', 'sample.js');

test('demo encode: the app encodes sentences exactly as the summarizer was trained', async () => {
  const {
    encodeSentence, encodeSentences, SENTENCE_DIMS, splitSentences, TIME_TOKEN,
  } = await import(ENCODE);
  const { SAMPLE_ITINERARY } = await import(SAMPLE);
  const models = await demoModels();
  const travel = JSON.parse(await readFile(path.join(models, 'travel.json'), 'utf8'));
  const vectors = JSON.parse(await readFile(path.join(models, 'summarizer.vectors.json'), 'utf8'));
  const { dims, maxSentences, timeToken, vectorTexts } = travel.summarizer;
  assert.equal(dims, SENTENCE_DIMS, 'travel.json and encode.js agree on the number of hash buckets');
  assert.equal(timeToken, TIME_TOKEN, 'travel.json and encode.js agree on the time token');
  assert.equal(vectorTexts['sample-itinerary'], SAMPLE_ITINERARY, 'the models were built from the sample the app shows');

  // Every known-answer vector: the app's rows equal Python's, float for float.
  assert.deepEqual(vectors.map((v) => v.name).sort(), Object.keys(vectorTexts).sort(), 'a text for every vector');
  for (const v of vectors) {
    const want = v.inputs.sentences;
    assert.deepEqual(want.shape, [maxSentences, dims], `${v.name}: input shape`);
    const sentences = splitSentences(vectorTexts[v.name]).slice(0, maxSentences);
    const got = encodeSentences(sentences, dims, maxSentences);
    assert.equal(got.length, want.data.length, `${v.name}: input length`);
    const diffs = [];
    for (let i = 0; i < got.length; i += 1) {
      if (Math.abs(got[i] - want.data[i]) > 1e-7) diffs.push(`row ${Math.floor(i / dims)} bucket ${i % dims}: ${got[i]} vs ${want.data[i]}`);
    }
    assert.deepEqual(diffs.slice(0, 5), [], `${v.name}: the app's rows equal Python's (${diffs.length} differ)`);
  }
  const sample = vectors.find((v) => v.name === 'sample-itinerary');
  assert.equal(splitSentences(SAMPLE_ITINERARY).length, 28, 'the sample itinerary has 28 sentences');
  assert.ok(sample.inputs.sentences.data.slice(27 * dims, 28 * dims).some((x) => x !== 0), 'its last sentence is encoded');

  // travel.json's worked example, bucket by bucket.
  const example = encodeSentence(travel.summarizer.example.text, dims);
  const nonzero = Object.fromEntries([...example.entries()].filter(([, x]) => x !== 0).map(([i, x]) => [String(i), x]));
  assert.deepEqual(Object.keys(nonzero).sort(), Object.keys(travel.summarizer.example.nonzero).sort(), 'example: the same buckets');
  for (const [i, x] of Object.entries(travel.summarizer.example.nonzero)) {
    assert.ok(Math.abs(nonzero[i] - x) <= 1e-7, `example bucket ${i}: ${nonzero[i]} vs ${x}`);
  }
});

test('demo encode: clock times count as one time token each, other numbers do not', async () => {
  const { sentenceTokens, TIME_TOKEN } = await import(ENCODE);
  const times = (s) => sentenceTokens(s).filter((t) => t === TIME_TOKEN).length;
  assert.equal(times('Take the 8:39 train; the 10:00 slot, back by 21:00.'), 3);
  assert.equal(times('Dinner at 20:30!'), 1);
  assert.equal(times('Tram 15 to Belém, day 3, 2 hours, 1.5 km'), 0, 'plain numbers are not times');
  assert.equal(times('Ratio 123:45, 12:345, 1:2, 10:00:00, a10:00, 10:00b'), 0, 'digits around a time make it something else');
  assert.equal(times('Pinhão:10:30'), 0, 'a colon before the hour makes it something else');
  assert.equal(times('Belém 9:30'), 1, 'a non-ASCII letter separates, as in word tokens');
  assert.deepEqual(sentenceTokens('Check-in 7:15'), ['check', 'in', '7', '15', TIME_TOKEN], 'word tokens first, then time tokens');
});

test('demo encode: models built before make_models.py or the sample changed are rebuilt, not reused', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'tessera-demo-models-'));
  try {
    const files = ['travel.json', ...DEMO_MODELS.flatMap((m) => [`${m}.onnx`, `${m}.vectors.json`])];
    for (const f of files) await writeFile(path.join(dir, f), '');
    const newest = Math.max(...await Promise.all(DEMO_MODEL_INPUTS.map(async (f) => (await stat(path.join(REPO_ROOT, f))).mtimeMs)));
    const at = (ms) => utimes(path.join(dir, 'travel.json'), ms / 1000, ms / 1000);
    await at(newest - 60_000);
    assert.equal(demoModelsCurrent(dir), false, 'built before an input last changed: stale');
    await at(newest + 60_000);
    assert.equal(demoModelsCurrent(dir), true, 'built after every input: reused');
    await rm(path.join(dir, 'summarizer.onnx'));
    assert.equal(demoModelsCurrent(dir), false, 'a model file is missing: rebuilt');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
