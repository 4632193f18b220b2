// Statistics and formatting shared by every bench module (bench/*.js): median and spread of
// repeated measurements, a repetition loop with warm-up rounds, and the number formats used in
// the BENCHMARKS.md tables. Pure functions, no IO, no browser.

/**
 * Median of a list of numbers (mean of the two middle values for an even count).
 * @param {number[]} xs
 * @returns {number} NaN for an empty list
 */
export function median(xs) {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * Smallest and largest value of a list (the spread reported next to a median).
 * @param {number[]} xs
 * @returns {{min: number, max: number}} NaNs for an empty list
 */
export function spread(xs) {
  if (xs.length === 0) return { min: NaN, max: NaN };
  return { min: Math.min(...xs), max: Math.max(...xs) };
}

/**
 * Percentile by nearest rank (p in 0..100), e.g. `percentile(latencies, 99)`.
 * @param {number[]} xs
 * @param {number} p
 * @returns {number} NaN for an empty list
 */
export function percentile(xs, p) {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * s.length);
  return s[Math.min(s.length - 1, Math.max(0, rank - 1))];
}

/**
 * Runs `fn` `warmup` times (results discarded), then `n` times, and returns the measured results in
 * order. `fn` receives `{rep, warmUp}` (`rep` counts from 0 over all rounds, warm-ups included).
 * @template T
 * @param {number} n measured repetitions
 * @param {number} warmup rounds run first and not recorded
 * @param {(round: {rep: number, warmUp: boolean}) => Promise<T> | T} fn
 * @returns {Promise<T[]>}
 */
export async function repeat(n, warmup, fn) {
  const out = [];
  for (let rep = 0; rep < warmup + n; rep += 1) {
    const warmUp = rep < warmup;
    const v = await fn({ rep, warmUp });
    if (!warmUp) out.push(v);
  }
  return out;
}

/**
 * Repetition counts for a mode: `--smoke` 1 rep no warm-up, `--quick` 3 reps 1 warm-up, default 5
 * reps 1 warm-up (override the default with `full`).
 * @param {{quick?: boolean, smoke?: boolean}} ctx
 * @param {{full?: number, quick?: number, warmup?: number}} [opts]
 * @returns {{reps: number, warmup: number}}
 */
export function repsFor(ctx, opts = {}) {
  if (ctx.smoke) return { reps: 1, warmup: 0 };
  if (ctx.quick) return { reps: opts.quick ?? 3, warmup: opts.warmup ?? 1 };
  return { reps: opts.full ?? 5, warmup: opts.warmup ?? 1 };
}

/** Bytes in a decimal megabyte (MB/s in every table is 10^6 bytes per second). */
export const MB = 1e6;
/** Bytes in a mebibyte. */
export const MiB = 1024 * 1024;

/**
 * Throughput in MB/s (10^6 bytes) from a byte count and milliseconds.
 * @param {number} bytes
 * @param {number} ms
 * @returns {number}
 */
export function mbps(bytes, ms) {
  return bytes / MB / (ms / 1000);
}

/**
 * A number with a sensible number of digits for a table: ≥100 → no decimals, ≥10 → 1, else 2
 * (or `digits` when given); thousands separated by commas.
 * @param {number} x
 * @param {number} [digits]
 * @returns {string} '—' for NaN / non-finite values
 */
export function fmtNum(x, digits) {
  if (!Number.isFinite(x)) return '—';
  const d = digits ?? (Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2);
  return x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

/**
 * Median of the list, formatted with a unit: `fmtMedian([1,2,3], 'ms')` → '2.00 ms'.
 * @param {number[]} xs
 * @param {string} [unit]
 * @param {number} [digits]
 * @returns {string}
 */
export function fmtMedian(xs, unit = '', digits) {
  const s = fmtNum(median(xs), digits);
  return unit ? `${s} ${unit}` : s;
}

/**
 * Spread of the list as 'min–max' (en dash): `fmtSpread([88, 128, 122])` → '88–128'.
 * @param {number[]} xs
 * @param {number} [digits]
 * @returns {string}
 */
export function fmtSpread(xs, digits) {
  if (xs.length === 0) return '—';
  if (xs.length === 1) return fmtNum(xs[0], digits);
  const { min, max } = spread(xs);
  // One precision for both ends, chosen by the larger magnitude (so '88–128', not '88.0–128').
  const big = Math.max(Math.abs(min), Math.abs(max));
  const d = digits ?? (big >= 100 ? 0 : big >= 10 ? 1 : 2);
  return `${fmtNum(min, d)}–${fmtNum(max, d)}`;
}

/**
 * A ratio as '3.12×' (2 decimals below 10, 1 below 100, none above).
 * @param {number} x
 * @returns {string}
 */
export function fmtRatio(x) {
  if (!Number.isFinite(x)) return '—';
  const d = Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2;
  return `${x.toFixed(d)}×`;
}

/**
 * A byte count in human units: `fmtBytes(158393)` → '158.4 kB'; `exact` gives '158,393 B'.
 * Decimal units (kB = 1000 B, MB = 10^6 B), like the MB/s figures.
 * @param {number} n
 * @param {{exact?: boolean}} [opts]
 * @returns {string}
 */
export function fmtBytes(n, opts = {}) {
  if (!Number.isFinite(n)) return '—';
  if (opts.exact || Math.abs(n) < 1000) return `${Math.round(n).toLocaleString('en-US')} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = -1;
  while (Math.abs(v) >= 1000 && u < units.length - 1) {
    v /= 1000;
    u += 1;
  }
  return `${fmtNum(v, v >= 100 ? 0 : 1)} ${units[u]}`;
}

/**
 * Milliseconds with a unit, switching to seconds at 10 s: `fmtMs(12.345)` → '12.3 ms'.
 * @param {number} ms
 * @returns {string}
 */
export function fmtMs(ms) {
  if (!Number.isFinite(ms)) return '—';
  if (Math.abs(ms) >= 10000) return `${fmtNum(ms / 1000)} s`;
  return `${fmtNum(ms)} ms`;
}

/**
 * Summary of a list of measurements for the JSON `data` field: every value plus median/min/max.
 * @param {number[]} xs
 * @param {string} unit
 * @returns {{unit: string, values: number[], median: number, min: number, max: number}}
 */
export function summary(xs, unit) {
  const { min, max } = spread(xs);
  return { unit, values: xs, median: median(xs), min, max };
}
