// Flink's key-group scheme: key -> key group (murmur3 % maxParallelism) -> subtask, stable across rescaling.

/** MurmurHash3 (x86, 32-bit) of a string's UTF-16 code units; fast and well distributed for short keys. */
export function murmurHash(key: string, seed = 0): number {
  let h = seed >>> 0;
  const length = key.length;
  let i = 0;
  for (; i + 1 < length; i += 2) {
    let k = (key.charCodeAt(i) & 0xffff) | ((key.charCodeAt(i + 1) & 0xffff) << 16);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  if (i < length) {
    let k = key.charCodeAt(i) & 0xffff;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= length * 2;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function keyGroupFor(key: string, maxParallelism: number): number {
  return murmurHash(key) % maxParallelism;
}

/** The subtask owning a key group: `floor(keyGroup * parallelism / maxParallelism)`, as Flink. */
export function subtaskForKeyGroup(keyGroup: number, parallelism: number, maxParallelism: number): number {
  return Math.floor((keyGroup * parallelism) / maxParallelism);
}

export function subtaskForKey(key: string, parallelism: number, maxParallelism: number): number {
  return subtaskForKeyGroup(keyGroupFor(key, maxParallelism), parallelism, maxParallelism);
}

export interface KeyGroupRange {
  readonly start: number;
  /** Inclusive. */
  readonly end: number;
}

/** The contiguous key groups a subtask owns; the inverse of `subtaskForKeyGroup`. */
export function keyGroupRangeFor(subtask: number, parallelism: number, maxParallelism: number): KeyGroupRange {
  const start = Math.floor((subtask * maxParallelism + parallelism - 1) / parallelism);
  const end = Math.floor(((subtask + 1) * maxParallelism + parallelism - 1) / parallelism) - 1;
  return { start, end };
}
