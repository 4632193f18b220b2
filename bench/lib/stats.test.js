// Unit tests of the bench statistics and formatting (node --test bench/lib/stats.test.js).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { fmtBytes, fmtRatio, fmtSpread, median, percentile, repeat, repsFor } from './stats.js';
import { render, splice, BEGIN, END } from '../run.js';

test('median of odd and even counts, NaN when empty', () => {
  for (const [xs, want] of [[[3, 1, 2], 2], [[4, 1, 3, 2], 2.5], [[7], 7]]) assert.equal(median(xs), want);
  assert.ok(Number.isNaN(median([])));
});

test('nearest-rank percentile', () => {
  const xs = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentile(xs, 50), 50);
  assert.equal(percentile(xs, 99), 99);
  assert.equal(percentile(xs, 100), 100);
});

test('repeat drops the warm-up rounds', async () => {
  const seen = [];
  const kept = await repeat(2, 1, ({ rep, warmUp }) => (seen.push(warmUp), rep));
  assert.deepEqual(kept, [1, 2]);
  assert.deepEqual(seen, [true, false, false]);
  assert.deepEqual(repsFor({ smoke: true }), { reps: 1, warmup: 0 });
});

test('formats spread with one precision, ratios and bytes', () => {
  assert.equal(fmtSpread([88, 128.3, 122]), '88–128');
  assert.equal(fmtRatio(3.1234), '3.12×');
  assert.equal(fmtBytes(158393), '158 kB');
  assert.equal(fmtBytes(158393, { exact: true }), '158,393 B');
});

test('splice replaces only the generated part of BENCHMARKS.md', () => {
  const doc = `# B\n\n${BEGIN}\nold\n${END}\n\n## Hand-written\nkept\n`;
  const out = splice(doc, `${BEGIN}\nnew\n${END}`);
  assert.equal(out, `# B\n\n${BEGIN}\nnew\n${END}\n\n## Hand-written\nkept\n`);
  const md = render({
    command: 'cargo xtask bench', date: '2026-11-24T00:00:00Z', seconds: 60, quick: false, smoke: false, failures: [],
    machine: { cpus: 2, model: 'cpu', memoryGiB: 4, os: 'os', chromium: 'Chrome/1', node: 'v20' },
    items: [{ item: 1, id: 'x', title: 'T', setup: 'S', columns: ['a', 'b'], rows: [['x', '1.5 MB/s']], notes: ['n'] }],
  });
  assert.match(md, /\| a \| b \|\n\| --- \| ---: \|\n\| x \| 1\.5 MB\/s \|/);
});
