// `cargo xtask bench` runs this: every bench module (bench/<name>.js) in order, side by side with
// the peers in headless Chromium on loopback, then the results as JSON (target/bench/) and as the
// generated part of BENCHMARKS.md (between the bench:begin / bench:end markers).
//
//   node bench/run.js [--quick | --smoke] [--only 1,5,7]
//
// default: the real sizes and ≥5 repetitions; --quick: small sizes, 3 repetitions (minutes);
// --smoke: tiny sizes, 1 repetition, nothing written to BENCHMARKS.md — proves every bench still
// runs end to end and prints `bench-smoke: N passed, M failed` (one per item that produced rows).
// --only runs the modules holding those items and writes no BENCHMARKS.md (results go to
// target/bench/results-only.json). Needs TESSERA_BIN (a release `tessera`; default
// target/release/tessera) and the release web build (TESSERA_WEB_DIR, default target/web/).

import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { isMain } from './lib/standalone.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * What every bench module's `run(ctx)` gets.
 * @typedef {object} BenchContext
 * @property {boolean} quick  small sizes, 3 repetitions
 * @property {boolean} smoke  tiny sizes, 1 repetition, no warm-up
 * @property {string} tesseraBin  the release `tessera` binary
 * @property {string} webDir  the release web build (sw + runtime)
 * @property {string} repoRoot
 * @property {Set<number>|null} only  the items asked for with --only (null: all)
 * @property {(msg: string) => void} log  progress line on stderr
 */

/**
 * One result table; see /tmp/bench_contract.md.
 * @typedef {object} BenchItem
 * @property {number} item
 * @property {string} id
 * @property {string} title
 * @property {string} setup
 * @property {string[]} columns
 * @property {string[][]} rows
 * @property {object} data
 * @property {string[]} notes
 */

/** The bench modules in run order, with the items each produces. */
export const MODULES = [
  { file: 'serve-cached.js', items: [1] },
  { file: 'download.js', items: [2, 3, 4] },
  { file: 'hashing.js', items: [5] },
  { file: 'inference.js', items: [6] },
  { file: 'startup.js', items: [7] },
  { file: 'edge.js', items: [8] },
  { file: 'ort-dropin.js', items: [9] },
  { file: 'large.js', items: [10] },
  { file: 'edge-worker.js', items: [11] },
];

export const BEGIN = '<!-- bench:begin -->';
export const END = '<!-- bench:end -->';

function parseArgs(argv) {
  const args = { quick: false, smoke: false, only: null };
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i];
    if (a === '--quick') args.quick = true;
    else if (a === '--smoke') args.smoke = true;
    else if (a === '--only') {
      const list = (argv[++i] ?? '').split(',').map(Number);
      if (!list.length || list.some((n) => !Number.isInteger(n) || n < 1 || n > 11)) {
        throw new Error(`--only wants item numbers 1..11 separated by commas, got ${JSON.stringify(argv[i])}`);
      }
      args.only = new Set(list);
    } else throw new Error(`unknown argument ${a} (usage: node bench/run.js [--quick | --smoke] [--only 1,5])`);
  }
  return args;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const log = (msg) => process.stderr.write(`bench: ${msg}\n`);
  const ctx = {
    quick: args.quick || args.smoke,
    smoke: args.smoke,
    tesseraBin: process.env.TESSERA_BIN || path.join(REPO_ROOT, 'target', 'release', 'tessera'),
    webDir: process.env.TESSERA_WEB_DIR || path.join(REPO_ROOT, 'target', 'web'),
    repoRoot: REPO_ROOT,
    only: args.only,
    log,
  };
  for (const [what, p] of [['TESSERA_BIN', ctx.tesseraBin], ['web build', path.join(ctx.webDir, 'sw.js')]]) {
    if (!existsSync(p)) throw new Error(`${what} not found at ${p} (run \`cargo xtask bench\`, which builds it)`);
  }
  // playwright/lib reads these when first imported: set them before any bench module loads.
  process.env.TESSERA_BIN = ctx.tesseraBin;
  process.env.TESSERA_WEB_DIR = ctx.webDir;

  const started = Date.now();
  const items = [];
  const failures = [];
  for (const mod of MODULES) {
    if (args.only && !mod.items.some((n) => args.only.has(n))) continue;
    const file = path.join(REPO_ROOT, 'bench', mod.file);
    if (!existsSync(file)) {
      failures.push({ module: mod.file, items: mod.items, error: 'module missing' });
      log(`${mod.file}: missing (items ${mod.items.join(', ')} not measured)`);
      continue;
    }
    const t0 = Date.now();
    log(`${mod.file}: items ${mod.items.join(', ')}`);
    try {
      const { run } = await import(file);
      const produced = (await run(ctx)).filter((it) => !args.only || args.only.has(it.item));
      for (const it of produced) validate(it, mod.file);
      items.push(...produced);
      const empty = produced.filter((it) => it.rows.length === 0).map((it) => it.item);
      if (empty.length) failures.push({ module: mod.file, items: empty, error: 'no rows' });
      log(`${mod.file}: done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    } catch (err) {
      failures.push({ module: mod.file, items: mod.items, error: String(err?.stack ?? err) });
      log(`${mod.file}: FAILED after ${((Date.now() - t0) / 1000).toFixed(1)} s: ${err?.stack ?? err}`);
    }
  }
  items.sort((a, b) => a.item - b.item);

  const mode = args.smoke ? ' --smoke' : args.quick ? ' --quick' : '';
  const result = {
    command: process.env.BENCH_COMMAND || `node bench/run.js${mode}${args.only ? ` --only ${[...args.only].join(',')}` : ''}`,
    date: new Date().toISOString(),
    machine: await machine(),
    quick: ctx.quick,
    smoke: ctx.smoke,
    seconds: (Date.now() - started) / 1000,
    items,
    failures,
  };
  const outDir = path.join(REPO_ROOT, 'target', 'bench');
  await mkdir(outDir, { recursive: true });
  const jsonName = args.smoke ? 'results-smoke.json' : args.only ? 'results-only.json' : 'results.json';
  await writeFile(path.join(outDir, jsonName), JSON.stringify(result, null, 2) + '\n');
  const markdown = render(result);
  if (!args.smoke) process.stdout.write(`${markdown}\n`);
  if (!args.smoke && !args.only) {
    const file = path.join(REPO_ROOT, 'BENCHMARKS.md');
    await writeFile(file, splice(await readFile(file, 'utf8'), markdown));
    log(`BENCHMARKS.md updated; JSON in target/bench/${jsonName}`);
  } else {
    log(`JSON in target/bench/${jsonName} (BENCHMARKS.md not touched)`);
  }
  const failedItems = failures.reduce((n, f) => n + f.items.length, 0);
  for (const f of failures) log(`failed: ${f.module} (items ${f.items.join(', ')}): ${f.error.split('\n')[0]}`);
  if (args.smoke) console.log(`bench-smoke: ${items.filter((it) => it.rows.length).length} passed, ${failedItems} failed`);
  process.exitCode = failures.length ? 1 : 0;
}

/** Throws when a module returned something that is not a {@link BenchItem}. */
function validate(it, file) {
  const ok =
    Number.isInteger(it.item) && typeof it.id === 'string' && typeof it.title === 'string' &&
    typeof it.setup === 'string' && Array.isArray(it.columns) && Array.isArray(it.rows) &&
    it.rows.every((r) => Array.isArray(r) && r.length === it.columns.length && r.every((c) => typeof c === 'string')) &&
    Array.isArray(it.notes ?? []);
  if (!ok) throw new Error(`${file} returned a malformed item ${JSON.stringify(it).slice(0, 300)}`);
}

async function machine() {
  const cpus = os.cpus();
  let chromium = null;
  try {
    const { chromiumVersion } = await import('./lib/world.js');
    chromium = await chromiumVersion();
  } catch (err) {
    chromium = `unknown (${err.message})`;
  }
  let osName = `${os.type()} ${os.release()}`;
  try {
    const rel = await readFile('/etc/os-release', 'utf8');
    const pretty = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(rel);
    if (pretty) osName = `${pretty[1]} (${os.type()} ${os.release()})`;
  } catch {
    // no /etc/os-release: keep the kernel name
  }
  return {
    cpus: cpus.length,
    model: cpus[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: osName,
    chromium,
    node: process.version,
  };
}

/** The generated part of BENCHMARKS.md (markers included). */
export function render(result) {
  const m = result.machine;
  const lines = [
    BEGIN,
    '<!-- Generated by bench/run.js: edits between these markers are overwritten. -->',
    '',
    `Command: \`${result.command}\` — ${result.date.slice(0, 10)}, ${(result.seconds / 60).toFixed(1)} min` +
      `${result.smoke ? ' (smoke mode: tiny sizes, 1 repetition — not figures to quote)' : result.quick ? ' (quick mode: small sizes, 3 repetitions)' : ''}.`,
    `Machine: ${m.cpus} × ${m.model}, ${m.memoryGiB} GiB, ${m.os}; ${m.chromium} headless; Node ${m.node}. ` +
      'Everything on 127.0.0.1; JSON with every repetition in `target/bench/results.json`.',
  ];
  for (const f of result.failures) {
    lines.push('', `**Not measured in this run:** items ${f.items.join(', ')} (${f.module}: ${f.error.split('\n')[0]}).`);
  }
  for (const it of result.items) {
    lines.push('', `## ${it.item}. ${it.title}`, '', it.setup, '', ...table(it.columns, it.rows));
    if (it.notes?.length) lines.push('', ...it.notes.flatMap((n) => [`- ${n}`]));
  }
  lines.push(END);
  return lines.join('\n');
}

function table(columns, rows) {
  // Right-align columns whose every cell is a number, optionally with a unit.
  const unit = /\s?(MB\/s|req\/s|ms|µs|s|B|kB|MB|GB|MiB|KiB|×|%)$/;
  const isNumber = (c) => /^[-−–—\d.,\s<>~≈×%+]+$/.test(c.replace(unit, '').replace(unit, ''));
  const numeric = columns.map((_, j) => rows.length > 0 && rows.every((r) => isNumber(r[j])));
  const esc = (s) => String(s).replaceAll('|', '\\|');
  return [
    `| ${columns.map(esc).join(' | ')} |`,
    `| ${numeric.map((n) => (n ? '---:' : '---')).join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ];
}

/** `doc` with the part between the markers replaced by `generated` (appended when absent). */
export function splice(doc, generated) {
  const a = doc.indexOf(BEGIN);
  const b = doc.indexOf(END);
  if (a < 0 || b < a) return `${doc.trimEnd()}\n\n${generated}\n`;
  return doc.slice(0, a) + generated + doc.slice(b + END.length);
}

if (isMain(import.meta.url)) {
  main().catch((err) => {
    console.error(`bench: ${err?.stack ?? err}`);
    process.exitCode = 1;
  });
}
