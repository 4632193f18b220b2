// The Wayfarer demo's results read on an absolute scale: each destination's match is the model's
// own score on a fixed 0-100 scale (20 points per unit, clamped; great >= 70, good >= 50, fair
// >= 30, else weak), so the top pick is not 100 by construction, and a form that asks for
// nothing gets weak matches. Each destination also shows at a glance its best months, a typical
// daily budget and the flight time from the home region the form names, from the app's
// destinations.json (checked here against models/destinations.txt, where they come from).

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { DEMO_MODELS_DIR, demoScenario } from '../lib/demo.js';
import { REPO_ROOT } from '../lib/fixtures.js';

/** The recommender's known-answer profile `skiing-winter-luxury` (models/make_models.py PROFILES). */
const SKIING = {
  budget: 'luxury', season: 'winter', days: 7, interests: ['skiing'], pace: '', party: 'friends',
  climate: '', regions: [], home: 'asia',
};
/** A form that asks for nothing: every group "Any", no interest, no region. */
const NOTHING = {
  budget: '', season: '', interests: [], pace: '', party: '', climate: '', regions: [],
};

const MONTHS = { p: ['Mar', 'May'], s: ['Jun', 'Aug'], a: ['Sep', 'Nov'], w: ['Dec', 'Feb'] };

/** Best months from season letters, written out by hand: runs of adjacent seasons merge. */
function bestMonths(seasons) {
  if ('psaw'.split('').every((c) => seasons.includes(c))) return 'All year';
  const runs = [];
  for (const [i, c] of [...'psaw'].entries()) {
    if (!seasons.includes(c)) continue;
    const last = runs[runs.length - 1];
    if (last && last.end === i - 1) Object.assign(last, { end: i, to: MONTHS[c][1] });
    else runs.push({ start: i, end: i, from: MONTHS[c][0], to: MONTHS[c][1] });
  }
  // Winter (Dec-Feb) runs on into spring (Mar-May) across the new year.
  if (runs.length > 1 && runs[0].start === 0 && runs[runs.length - 1].end === 3) {
    const w = runs.pop();
    runs[0].from = w.from;
  }
  return runs.sort((a, b) => a.start - b.start).map((r) => `${r.from}\u2013${r.to}`).join(', ');
}

function slug(name) {
  return name.toLowerCase().replace(/á/g, 'a').replace(/ó/g, 'o').replace(/í/g, 'i').replace(/é/g, 'e')
    .replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
}

demoScenario('demo results: an absolute match score, and best months, budget and flight time at a glance', async (env) => {
  // The app's facts are the ones the models were made from.
  const facts = JSON.parse(await readFile(path.join(REPO_ROOT, 'demo-pwa', 'destinations.json'), 'utf8'));
  const source = (await readFile(path.join(REPO_ROOT, 'models', 'destinations.txt'), 'utf8'))
    .split('\n').filter((l) => l.trim() && !l.startsWith('#')).map((l) => l.split('|').map((p) => p.trim()));
  assert.deepEqual(
    facts.destinations,
    Object.fromEntries(source.map((p) => [slug(p[0]), { seasons: p[4], cost: Number(p[5]) }])),
    'demo-pwa/destinations.json matches models/destinations.txt',
  );
  const travel = JSON.parse(await readFile(path.join(DEMO_MODELS_DIR, 'travel.json'), 'utf8'));
  const byName = new Map(travel.destinations.map((d) => [d.name, d]));
  const vectors = JSON.parse(await readFile(path.join(DEMO_MODELS_DIR, 'recommender.vectors.json'), 'utf8'));
  const known = vectors.find((v) => v.name === 'skiing-winter-luxury').outputs.scores.data;

  await env.load();
  await env.waitReady();
  await env.fillPreferences(SKIING);
  await env.recommend();
  assert.equal(await env.text('rec-error'), '', 'recommender shows no error');
  const shown = await env.shownDestinations();
  assert.ok(shown.length >= 3, `ranked destinations shown: ${JSON.stringify(shown)}`);
  for (const [rank, { name, match }] of shown.entries()) {
    const m = /^(Great|Good|Fair|Weak) match \u00b7 (\d+)\/100$/.exec(match);
    assert.ok(m, `#${rank + 1} ${name}: the match reads as a band and a score out of 100: ${match}`);
    const value = Number(m[2]);
    const expected = Math.min(100, Math.max(0, 20 * known[travel.destinations.indexOf(byName.get(name))]));
    assert.ok(Math.abs(value - expected) <= 1, `#${rank + 1} ${name}: ${value}/100, the model's score on the fixed scale is ${expected.toFixed(1)}`);
    const band = value >= 70 ? 'Great' : value >= 50 ? 'Good' : value >= 30 ? 'Fair' : 'Weak';
    assert.equal(m[1], band, `#${rank + 1} ${name}: band of ${value}`);
  }
  const top = Number(/(\d+)\/100$/.exec(shown[0].match)[1]);
  assert.ok(top < 100, `the top pick is not 100 by construction: ${shown[0].name} ${shown[0].match}`);
  assert.match(await env.text('rec-scale'), /fixed scale/, 'the scale is explained under the results');

  /** The glance facts of each destination shown, as `[{name, facts: {term: text}}]`. */
  const glance = () => env.page.locator('#rec-list li.dest').evaluateAll((items) => items.map((li) => ({
    name: li.querySelector('h3').firstChild.textContent.trim(),
    facts: Object.fromEntries([...li.querySelectorAll('dl.glance > div')].map((row) => [
      row.querySelector('dt').textContent, row.querySelector('dd').textContent])),
  })));
  const expectedGlance = (name, home) => {
    const d = byName.get(name);
    const f = facts.destinations[d.id];
    return {
      'Best months': bestMonths(f.seasons),
      'Daily budget': `${['under $75', '$75\u2013150', '$150\u2013300', 'over $300'][f.cost]} per person`,
      Flight: `${facts.flightBands[facts.flights[home][d.region]]} from ${facts.regions[home]}`,
    };
  };
  for (const { name, facts: seen } of await glance()) {
    assert.deepEqual(seen, expectedGlance(name, 'asia'), `${name}: at a glance, flying from Asia`);
  }
  const whistler = (await glance()).find((g) => g.name === 'Whistler');
  assert.deepEqual(
    whistler?.facts,
    { 'Best months': 'Dec\u2013Feb', 'Daily budget': 'over $300 per person', Flight: 'over 14 h from Asia' },
    'Whistler at a glance',
  );

  // Another home region: the flight times follow at once, without asking again.
  await env.fillPreferences({ home: 'europe' });
  for (const { name, facts: seen } of await glance()) {
    assert.deepEqual(seen, expectedGlance(name, 'europe'), `${name}: at a glance, flying from Europe`);
  }

  // Asking for nothing: nothing matches well, and the top pick says so (min-max scaling would say 100).
  await env.fillPreferences(NOTHING);
  await env.recommend();
  const vague = await env.shownDestinations();
  assert.ok(vague.length >= 3, `ranked destinations shown: ${JSON.stringify(vague)}`);
  assert.match(vague[0].match, /^Weak match \u00b7 \d+\/100$/, `asking for nothing, the top pick is a weak match: ${vague[0].match}`);
});
