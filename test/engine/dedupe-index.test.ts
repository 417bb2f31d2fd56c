// The dedupe index: an open-addressing table from id to event time; checked against a Map under random
// inserts, updates and deletions (deletion shifts entries back, so every lookup must still find its id).
import { describe, expect, it } from 'vitest';
import { DedupeIndex, dedupeHash } from '../../runtime/exec/dedupe-index.js';

function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 0x1_0000_0000;
}

describe('dedupe index', () => {
  it('agrees with a Map through growth, updates and deletions', () => {
    const random = seeded(3);
    const index = new DedupeIndex();
    const reference = new Map<string, number>();
    for (let step = 0; step < 60_000; step++) {
      const id = `e${Math.floor(random() * 20_000)}`;
      const roll = random();
      if (roll < 0.6) {
        const time = Math.floor(random() * 1_000);
        index.set(id, dedupeHash(id), time);
        reference.set(id, time);
      } else if (roll < 0.9) {
        const time = reference.get(id);
        // Deletes only when the time matches, as eviction does; a stale time leaves the id.
        const asked = time !== undefined && random() < 0.8 ? time : -1;
        index.deleteIfTime(id, dedupeHash(id), asked);
        if (time === asked) reference.delete(id);
      } else {
        expect(index.get(id, dedupeHash(id))).toBe(reference.get(id));
      }
    }
    expect(index.size).toBe(reference.size);
    for (let n = 0; n < 20_000; n++) expect(index.get(`e${n}`, dedupeHash(`e${n}`))).toBe(reference.get(`e${n}`));
  });

  it('tells apart ids whose hashes collide', () => {
    const index = new DedupeIndex();
    // The same hash for different ids: the table must compare the ids themselves.
    index.set('a', 7, 1);
    index.set('b', 7, 2);
    index.set('c', 7 + 4096, 3); // same home slot in the initial table
    expect([index.get('a', 7), index.get('b', 7), index.get('c', 7 + 4096), index.get('d', 7)]).toEqual([1, 2, 3, undefined]);
    index.deleteIfTime('a', 7, 1);
    expect([index.get('a', 7), index.get('b', 7), index.get('c', 7 + 4096)]).toEqual([undefined, 2, 3]);
    expect(index.size).toBe(2);
  });
});
