import { describe, expect, it } from 'vitest';
import { changedSections, configDigests } from '../../runtime/checkpoint/config-digest.js';

describe('configDigests', () => {
  it('fingerprints each top-level key, whatever the key order at any level', () => {
    const a = configDigests({ volume: { window: 60_000, delay: 30_000 }, whale: { threshold: 100_000 } });
    const b = configDigests({ whale: { threshold: 100_000 }, volume: { delay: 30_000, window: 60_000 } });
    expect(Object.keys(a)).toEqual(['volume', 'whale']);
    expect(a).toEqual(b);
  });

  it('tells apart values that JSON would not (Maps and Sets by their entries)', () => {
    expect(configDigests({ symbols: new Set(['BTC-USDT']) })).not.toEqual(configDigests({ symbols: new Set(['ETH-USDT']) }));
    expect(configDigests({ limits: new Map([['a', 1]]) })).not.toEqual(configDigests({ limits: new Map([['a', 2]]) }));
  });

  it('keys a value that is not a plain object by "" and gives nothing for no prepared value', () => {
    expect(Object.keys(configDigests([1, 2]))).toEqual(['']);
    expect(configDigests(undefined)).toEqual({});
  });
});

describe('changedSections', () => {
  it('names changed, added and removed sections, sorted', () => {
    const stored = configDigests({ volume: { window: 60_000 }, spread: { window: 30_000 }, whale: { threshold: 1 } });
    const current = configDigests({ volume: { window: 120_000 }, whale: { threshold: 1 }, quality: { symbols: [] } });
    expect(changedSections(stored, current)).toEqual(['quality', 'spread', 'volume']);
    expect(changedSections(stored, stored)).toEqual([]);
  });
});
