// The Wayfarer demo remembers the question and its answer: preferences that aren't the suggested
// ones and the last ranked destinations are kept on this device, so a reload shows the same form
// and the same results before anything is asked, and so does a restart with no network (the
// service worker starts the app). Asked again offline, the same question gets the same answer,
// computed on this device.

import assert from 'node:assert/strict';

import { demoScenario, ON_DEVICE } from '../lib/demo.js';

/** Not the suggested profile (moderate summer beaches for a relaxed couple, 10 days). */
const PREFERENCES = {
  budget: 'luxury', season: 'winter', days: 7, interests: ['nightlife', 'skiing'], pace: '', party: 'friends',
  climate: 'cool', regions: ['europe'], home: 'asia',
};

demoScenario('demo remembers: preferences and the last results survive a reload and an offline restart', async (env) => {
  await env.load();
  await env.waitReady();
  await env.page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 20_000 });
  const suggested = await env.formValues();
  await env.fillPreferences(PREFERENCES);
  const form = await env.formValues();
  assert.deepEqual(form, { ...PREFERENCES, days: String(PREFERENCES.days) }, 'the form took the preferences');
  assert.notDeepEqual(form, suggested, 'fixture: the preferences differ from the suggested ones');

  await env.recommend();
  assert.equal(await env.text('rec-error'), '', 'recommender shows no error');
  const results = await env.shownDestinations();
  assert.ok(results.length >= 3, `ranked destinations shown: ${JSON.stringify(results)}`);
  assert.equal(await env.text('rec-restored'), '', 'a fresh answer is not labelled as restored');

  /** After a restart: the same form and the same results, shown before anything is asked. */
  const sameAsBefore = async (when) => {
    assert.deepEqual(await env.formValues(), form, `${when}: the form shows the same preferences`);
    await env.page.locator('#rec-list li.dest').first().waitFor({ timeout: 10_000 });
    assert.deepEqual(await env.shownDestinations(), results, `${when}: the last results are shown`);
    assert.match(
      await env.text('rec-restored'),
      /^Your last results \(computed on this device\u2019s (GPU|CPU), .+\) for the preferences above\. Find destinations to ask again\.$/,
      `${when}: the results say they are the last ones, for this form`,
    );
    assert.equal(await env.text('rec-meta'), '', `${when}: nothing was asked since the restart`);
    // The glance facts come back too, for the remembered home region.
    assert.match(await env.page.locator('#rec-list li.dest dl.glance').first().innerText(), /from Asia/, `${when}: flight times from the home region`);
  };

  await env.load({ reload: true });
  await sameAsBefore('reload');

  await env.setOffline(true);
  await env.load({ reload: true });
  await env.setOffline(true);
  await env.page.waitForFunction(() => document.getElementById('net-text').textContent === 'Offline', null, {
    timeout: 5_000,
  });
  await sameAsBefore('offline restart');

  await env.recommend();
  assert.equal(await env.text('rec-error'), '', 'recommender shows no error offline');
  assert.match(await env.text('rec-meta .source'), ON_DEVICE, 'asked again offline, this device answers');
  assert.deepEqual(await env.shownDestinations(), results, 'the same question gets the same answer offline');
  assert.equal(await env.text('rec-restored'), '', 'the new answer is not labelled as restored');
});
