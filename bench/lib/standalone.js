// Running one bench module on its own (`node bench/inference.js --quick`): builds the context
// `bench/run.js` would pass from the command line and the environment, and prints the module's
// items as JSON. It measures nothing itself.

import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { REPO_ROOT } from '../../playwright/lib/fixtures.js';
import { WEB_DIR } from '../../playwright/lib/scenario.js';

/** Whether the module at `metaUrl` (its `import.meta.url`) is the script node was started with. */
export function isMain(metaUrl) {
  return Boolean(process.argv[1]) && path.resolve(process.argv[1]) === fileURLToPath(metaUrl);
}

/**
 * When the module at `metaUrl` was started directly, runs its `run(ctx)` with `--quick` /
 * `--smoke` from the command line and prints the items it returns.
 */
export async function runAlone(metaUrl, run) {
  if (!isMain(metaUrl)) return;
  const args = process.argv.slice(2);
  const items = await run({
    quick: args.includes('--quick'),
    smoke: args.includes('--smoke'),
    tesseraBin: process.env.TESSERA_BIN,
    webDir: WEB_DIR,
    repoRoot: REPO_ROOT,
    log: (m) => console.error(m),
  });
  console.log(JSON.stringify(items, null, 2));
}
