// The itinerary brief leads with what a traveller must act on. For the sample itinerary the demo
// starts with, "Summarize" lists the sentences with bookings, timed entries, train times and
// check-in, and none of the optional ones (the museum "if it rains", the sunset). The brief is
// the same wherever the summarizer runs: on the edge ("Prefer the edge"), on this device's
// default engine ("This device only"), and on WebGPU (wonnx) forced through the runtime, whose
// load also runs the model's known-answer vectors, so the model stays within what both browser
// engines run.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { DEMO_MODELS_DIR, demoScenario, ON_DEVICE } from '../lib/demo.js';

/** The brief of the sample itinerary (demo-pwa/ui/sample.js): its four most actionable sentences, in text order. */
const BRIEF = [
  'The Jerónimos Monastery opens at 9:30 and tickets must be bought online the day before.',
  'Go to Pena Palace first, because it is the busiest by late morning, and reserve the 10:00 entry slot.',
  'Take the last train back before 21:00.',
  'The flight home leaves the next morning at 7:15, which means a taxi at 5:00; remember to check in online.',
];
/** Sentences of the sample that are optional or conditional: never in its brief. */
const OPTIONAL = [
  'In the afternoon the MAAT museum is worth an hour if it rains.',
  'Back in town, watch the sunset from the Miradouro da Senhora do Monte.',
];
/** What makes a sentence actionable: a clock time, a booking, a ticket, a departure, check-in. */
const ACTIONABLE = /\b\d{1,2}:\d{2}\b|\bbook|\breserv|\bticket|\btimed\b|\btrain\b|\bflight\b|\bcheck in\b/i;

demoScenario('demo brief: the sample itinerary\u2019s brief lists bookings and times, not the optional sights, on the edge and on this device', async (env) => {
  await env.load();
  /** The brief as shown: the text of each listed sentence. */
  const shown = () => env.page.locator('#sum-list li').allTextContents();
  const checkBrief = async (where) => {
    assert.equal(await env.text('sum-error'), '', `${where}: the summarizer shows no error`);
    const brief = await shown();
    for (const sentence of OPTIONAL) assert.ok(!brief.includes(sentence), `${where}: the brief leaves out "${sentence}": ${JSON.stringify(brief)}`);
    for (const sentence of brief) assert.match(sentence, ACTIONABLE, `${where}: every sentence of the brief is something to act on`);
    assert.deepEqual(brief, BRIEF, `${where}: the brief of the sample itinerary`);
    assert.match(await env.text('sum-meta .timings'), /\b4 of 28 sentences$/, `${where}: how much of the text the brief keeps`);
  };

  // "Prefer the edge" (the default): the edge answers.
  await env.summarize();
  assert.equal(await env.text('sum-meta .source'), 'Edge', 'the brief came from the edge');
  await checkBrief('edge');

  // "This device only": this device's engine answers, with the same brief.
  await env.choosePolicy('summarizer', 'local-only');
  await env.summarize({ timeoutMs: 60_000 });
  assert.match(await env.text('sum-meta .source'), ON_DEVICE, 'the brief came from this device');
  await checkBrief('this device');

  // WebGPU (wonnx on SwiftShader here), forced through the runtime the app uses: the model
  // builds, passes its known-answer vectors at load, and ranks the sample's sentences the same.
  const vectors = JSON.parse(await readFile(path.join(DEMO_MODELS_DIR, 'summarizer.vectors.json'), 'utf8'));
  const known = vectors.find((v) => v.name === 'sample-itinerary');
  const webgpu = await env.page.evaluate(async () => {
    const { TesseraRuntime } = await import('/tessera-runtime.js');
    const { encodeSentences, sentenceScores, splitSentences, topInOrder } = await import('/ui/encode.js');
    const { SAMPLE_ITINERARY } = await import('/ui/sample.js');
    const trustedKeys = await (await fetch('/trusted-keys.json')).json();
    const runtime = await TesseraRuntime.create({ edgeUrl: location.origin, trustedKeys, policy: 'local-only', engine: 'webgpu' });
    try {
      const load = await runtime.load('summarizer');
      const sentences = splitSentences(SAMPLE_ITINERARY);
      const data = encodeSentences(sentences, 768, 32);
      const result = await runtime.run('summarizer', { sentences: { dtype: 'float32', shape: [32, 768], data } });
      const scores = sentenceScores(result.outputs.scores, sentences.length);
      return {
        engine: load.engine,
        vectorsPassed: load.vectorsPassed,
        answeredBy: result.engine,
        scores,
        brief: topInOrder(scores, sentences.length, 4).map((i) => sentences[i]),
      };
    } finally {
      runtime.close();
    }
  });
  assert.equal(webgpu.engine, 'wonnx-webgpu', 'the summarizer loads on WebGPU');
  assert.equal(webgpu.vectorsPassed, vectors.length, 'WebGPU passes every known-answer vector');
  assert.equal(webgpu.answeredBy, 'wonnx-webgpu', 'WebGPU answered');
  const want = known.outputs.scores.data.filter((_, i) => i % 2 === 0).slice(0, webgpu.scores.length);
  const worst = Math.max(...webgpu.scores.map((s, i) => Math.abs(s - want[i])));
  assert.ok(worst <= known.tolerance, `WebGPU scores match the known answers (max |diff| ${worst})`);
  assert.deepEqual(webgpu.brief, BRIEF, 'WebGPU: the brief of the sample itinerary');
});
