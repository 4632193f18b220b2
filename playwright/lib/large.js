// A model file larger than 4 GiB that costs almost no disk: a sparse file of zeros with a few
// pseudo-random "marker" regions placed across the offsets where 32-bit arithmetic breaks (2^31,
// 2^32, two shard boundaries past 2^32, the file's end). Packing it stores the all-zero shard once
// (content addressing), so the artifacts hold a handful of shards and a download fetches only
// those. `expectedBytes` rebuilds any byte range of the file without reading it.
// It only writes the one file it is asked to; it starts nothing.

import { open } from 'node:fs/promises';

import { pseudoRandomBytes } from './fixtures.js';

/** 2^31: where a signed 32-bit offset overflows. */
export const TWO_31 = 2 ** 31;
/** 2^32: where an unsigned 32-bit offset wraps. */
export const TWO_32 = 2 ** 32;
/** Shard size the large model is packed with (tessera pack's default). */
export const LARGE_SHARD_SIZE = 4 * 1024 * 1024;
/** 4.5 GiB and an odd tail, so the last shard is short. */
export const LARGE_SIZE = 4.5 * 2 ** 30 + 12_345;

/**
 * The marker regions of a file of `size` bytes packed in `shardSize` shards: `{ offset, bytes }`,
 * sorted, disjoint. Each straddles a shard boundary except the last, which ends the file.
 */
export function markers(size = LARGE_SIZE, shardSize = LARGE_SHARD_SIZE, seed = 'large') {
  const half = 32 * 1024;
  const at = [TWO_31 - half, TWO_32 - half, TWO_32 + 3 * shardSize - half];
  const regions = at.map((offset) => ({ offset, bytes: pseudoRandomBytes(`${seed}@${offset}`, 2 * half) }));
  regions.push({ offset: size - 4096, bytes: pseudoRandomBytes(`${seed}@end`, 4096) });
  return regions;
}

/** Writes the sparse file at `file`: `size` bytes, zeros except `regions`. */
export async function writeSparseModel(file, regions, size = LARGE_SIZE) {
  const handle = await open(file, 'w');
  try {
    for (const { offset, bytes } of regions) await handle.write(bytes, 0, bytes.length, offset);
    await handle.truncate(size);
  } finally {
    await handle.close();
  }
}

/** Bytes `start..=end` (inclusive) of the file `writeSparseModel(…, regions)` wrote. */
export function expectedBytes(regions, start, end) {
  const out = Buffer.alloc(end - start + 1);
  for (const { offset, bytes } of regions) {
    const from = Math.max(start, offset);
    const to = Math.min(end + 1, offset + bytes.length);
    if (from < to) bytes.copy(out, from - start, from - offset, to - offset);
  }
  return out;
}
