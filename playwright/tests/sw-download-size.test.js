// The service worker's download budget (issue #10): what a browser fetches to start tessera's
// drop-in worker — its wasm, `sw.js`, `tessera-sw-lib.js` and the wasm-bindgen glue — stays within
// 250 kB brotli'd (-q 11, as bench item 7 measures it). Only the release web build (wasm-opt,
// minified glue; what `cargo xtask test` gives this suite) is held to it: a dev build is skipped.
// No browser: it reads the built files.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';

import { compressed, SW_BROTLI_BUDGET, SW_SCRIPTS } from '../../bench/startup.js';
import { WEB_DIR } from '../lib/scenario.js';

/** Whether WEB_DIR holds a release build of the service worker (its stamp names the profile). */
async function isRelease() {
  const stamp = await readFile(path.join(WEB_DIR, '.tessera_sw.stamp'), 'utf8').catch(() => '');
  return stamp.startsWith('profile wasm-release\n');
}

test('the service worker downloads at most 250 kB brotli (wasm + scripts)', async (t) => {
  if (!(await isRelease())) {
    t.skip(`${WEB_DIR} is not a release web build (cargo xtask build-web)`);
    return;
  }
  const files = ['tessera_sw_bg.wasm', ...SW_SCRIPTS].map((f) => path.join(WEB_DIR, f));
  const { brotli } = await compressed(files);
  assert.ok(
    brotli <= SW_BROTLI_BUDGET,
    `the service worker is ${brotli} B brotli'd, over its ${SW_BROTLI_BUDGET} B budget`,
  );
});
