// Key-group assignment: murmur values pinned, subtask ranges that are exactly the inverse of the assignment.
import { describe, expect, it } from 'vitest';

import { keyGroupFor, keyGroupRangeFor, murmurHash, subtaskForKey, subtaskForKeyGroup } from '../../runtime/plan/key-groups.js';

/** MurmurHash3 x86_32 written over bytes, independently of the engine's code-unit version. */
function referenceMurmur(bytes: Buffer, seed: number): number {
  let h = seed >>> 0;
  const blocks = bytes.length >>> 2;
  const mix = (k: number) => Math.imul(((Math.imul(k, 0xcc9e2d51) << 15) | (Math.imul(k, 0xcc9e2d51) >>> 17)), 0x1b873593);
  for (let i = 0; i < blocks; i++) {
    h ^= mix(bytes.readUInt32LE(i * 4));
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let tail = 0;
  const rest = bytes.length & 3;
  if (rest === 3) tail ^= bytes[blocks * 4 + 2]! << 16;
  if (rest >= 2) tail ^= bytes[blocks * 4 + 1]! << 8;
  if (rest >= 1) {
    tail ^= bytes[blocks * 4]!;
    h ^= mix(tail);
  }
  h ^= bytes.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

describe('murmur hash of keys', () => {
  it('matches the published MurmurHash3 x86_32 vectors for the UTF-16LE bytes of a key', () => {
    expect(murmurHash('', 0)).toBe(0);
    expect(murmurHash('', 1)).toBe(0x514e28b7);
    expect(murmurHash('', 0xffffffff)).toBe(0x81f16f39);
    expect(murmurHash('\u0000\u0000', 0)).toBe(0x2362f9de); // bytes 00 00 00 00
    expect(murmurHash('\u6161\u6161', 0x9747b28c)).toBe(0x5a97808a); // bytes "aaaa"
    expect(murmurHash('\u4321\u8765', 0)).toBe(0xf55b516b); // bytes 21 43 65 87
    expect(murmurHash('\u4321\u8765', 0x5082edee)).toBe(0x2362f9de);
    expect(murmurHash('\u4321', 0)).toBe(0xa0f7b07a);
    expect(murmurHash('\u0000', 0)).toBe(0x30f4c306);
    expect(murmurHash('\uffff\uffff', 0)).toBe(0x76293b50);
  });

  it('keeps the values of trading keys stable, since checkpoints store state by key group', () => {
    expect(murmurHash('BTC-USDT')).toBe(3636301342);
    expect(murmurHash('ETH-USDT|binance')).toBe(3345209545);
    expect(murmurHash('key-42')).toBe(1532318330);
    expect(murmurHash('é🐋')).toBe(155654095);
    expect(keyGroupFor('BTC-USDT', 128)).toBe(30);
    expect(keyGroupFor('ETH-USDT|binance', 128)).toBe(73);
    expect(keyGroupFor('key-42', 128)).toBe(122);
    expect(subtaskForKey('key-42', 4, 128)).toBe(3);
  });

  it('agrees with a byte-wise reference implementation on many keys of every length', () => {
    for (let i = 0; i < 500; i++) {
      const key = `k${i}-${'x'.repeat(i % 9)}${String.fromCharCode(0x100 + i)}`.slice(0, 1 + (i % 13));
      expect(murmurHash(key)).toBe(referenceMurmur(Buffer.from(key, 'utf16le'), 0));
    }
  });
});

describe('key groups and subtasks', () => {
  const shapes: Array<[number, number]> = [
    [1, 1], [1, 128], [2, 128], [3, 128], [4, 128], [5, 7], [7, 128], [8, 128], [13, 100], [128, 128], [3, 32768],
  ];

  it.each(shapes)('gives every key group to exactly one subtask, as a contiguous range (p=%i, max=%i)', (parallelism, maxParallelism) => {
    const owners = new Array<number>(maxParallelism).fill(-1);
    let next = 0;
    for (let subtask = 0; subtask < parallelism; subtask++) {
      const range = keyGroupRangeFor(subtask, parallelism, maxParallelism);
      expect(range.start).toBe(next);
      for (let group = range.start; group <= range.end; group++) {
        if (owners[group] !== -1) throw new Error(`key group ${group} owned twice`);
        owners[group] = subtask;
      }
      next = range.end + 1;
    }
    expect(next).toBe(maxParallelism);
    expect(owners.every((owner) => owner >= 0)).toBe(true);
  });

  it.each(shapes)('assigns each key group to the subtask whose range holds it (p=%i, max=%i)', (parallelism, maxParallelism) => {
    const outside: number[] = [];
    for (let group = 0; group < maxParallelism; group++) {
      const range = keyGroupRangeFor(subtaskForKeyGroup(group, parallelism, maxParallelism), parallelism, maxParallelism);
      if (group < range.start || group > range.end) outside.push(group);
    }
    expect(outside).toEqual([]);
  });

  it('routes a key to the subtask owning its key group at every parallelism', () => {
    for (const parallelism of [1, 2, 3, 4, 8]) {
      for (let i = 0; i < 200; i++) {
        const key = `SYM${i}-USDT`;
        const group = keyGroupFor(key, 128);
        const range = keyGroupRangeFor(subtaskForKey(key, parallelism, 128), parallelism, 128);
        expect(group >= range.start && group <= range.end).toBe(true);
      }
    }
  });

  it('keeps a key in the same key group whatever the parallelism, so state can move between subtasks', () => {
    const before = keyGroupFor('BTC-USDT|coinbase', 128);
    const owners = [1, 2, 4, 8].map((p) => keyGroupRangeFor(subtaskForKey('BTC-USDT|coinbase', p, 128), p, 128));
    for (const range of owners) expect(before >= range.start && before <= range.end).toBe(true);
  });
});
