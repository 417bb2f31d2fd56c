// The dedupe index: an open-addressing table from id to event time over ids kept as code units in an IdArena;
// checked against a Map under random inserts, updates and deletions (deletion shifts entries back, so every
// lookup must still find its id), and the arena itself through compaction and growth.
import { describe, expect, it } from 'vitest';
import { DedupeIndex, dedupeHash } from '../../runtime/exec/dedupe-index.js';
import { IdArena } from '../../runtime/exec/id-arena.js';

function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 0x1_0000_0000;
}

function units(id: string): Uint16Array {
  return Uint16Array.from(id, (_, i) => id.charCodeAt(i));
}

/** Keeps a copy of the id in the arena and its time in the index, as the journal does. */
function keep(arena: IdArena, index: DedupeIndex, id: string, time: number, hash = dedupeHash(id)): number {
  const position = arena.append(units(id), 0, id.length);
  index.set(units(id), 0, id.length, hash, time, position);
  return position;
}

describe('dedupe index', () => {
  it('agrees with a Map through growth, updates and deletions of copies', () => {
    const random = seeded(3);
    const arena = new IdArena();
    const index = new DedupeIndex(arena);
    const reference = new Map<string, { time: number; position: number }>();
    const copies: Array<{ id: string; position: number }> = [];
    for (let step = 0; step < 60_000; step++) {
      const id = `e${Math.floor(random() * 20_000)}`;
      const roll = random();
      if (roll < 0.6) {
        const time = Math.floor(random() * 1_000);
        const position = keep(arena, index, id, time);
        reference.set(id, { time, position });
        copies.push({ id, position });
      } else if (roll < 0.9 && copies.length > 0) {
        // Drops a copy, as eviction does: the id goes only if that copy is its newest.
        const copy = copies[Math.floor(random() * copies.length)]!;
        index.deleteCopy(dedupeHash(copy.id), copy.position, copy.id.length);
        if (reference.get(copy.id)?.position === copy.position) reference.delete(copy.id);
      } else {
        expect(index.get(units(id), 0, id.length, dedupeHash(id))).toBe(reference.get(id)?.time);
      }
    }
    expect(index.size).toBe(reference.size);
    for (let n = 0; n < 20_000; n++) expect(index.get(units(`e${n}`), 0, `e${n}`.length, dedupeHash(`e${n}`))).toBe(reference.get(`e${n}`)?.time);
  });

  it('tells apart ids whose hashes collide, and ids of which one is a prefix of another', () => {
    const arena = new IdArena();
    const index = new DedupeIndex(arena);
    // The same hash for different ids: the table must compare the ids themselves.
    const a = keep(arena, index, 'a', 1, 7);
    keep(arena, index, 'b', 2, 7);
    keep(arena, index, 'ab', 3, 7);
    keep(arena, index, 'c', 4, 7 + 4096); // same home slot in the initial table
    const get = (id: string, hash: number) => index.get(units(id), 0, id.length, hash);
    expect([get('a', 7), get('b', 7), get('ab', 7), get('c', 7 + 4096), get('d', 7), get('', 7)]).toEqual([1, 2, 3, 4, undefined, undefined]);
    index.deleteCopy(7, a, 1);
    expect([get('a', 7), get('b', 7), get('ab', 7), get('c', 7 + 4096)]).toEqual([undefined, 2, 3, 4]);
    expect(index.size).toBe(3);
  });

  it('keeps an id passed again when its older copy is dropped', () => {
    const arena = new IdArena();
    const index = new DedupeIndex(arena);
    const older = keep(arena, index, 'x', 1);
    keep(arena, index, 'x', 9);
    index.deleteCopy(dedupeHash('x'), older, 1);
    expect(index.get(units('x'), 0, 1, dedupeHash('x'))).toBe(9);
    expect(index.size).toBe(1);
  });
});

describe('id arena', () => {
  it('keeps every id from the head on through compaction and growth, lone surrogates and long ids included', () => {
    const arena = new IdArena();
    const kept: Array<{ id: string; position: number }> = [];
    const random = seeded(11);
    const expectKept = () => {
      for (const { id, position } of kept) {
        expect(arena.text(position, id.length)).toBe(id);
        expect(arena.equals(position, id.length, units(id), 0)).toBe(true);
      }
    };
    for (let n = 0; n < 40_000; n++) {
      const id = n % 997 === 0 ? 'L'.repeat(20_000 + n) : n % 13 === 0 ? `\uD800${n}\uDFFF` : `id-${n}`;
      kept.push({ id, position: arena.append(units(id), 0, id.length) });
      if (random() < 0.01) {
        // Drop the oldest three quarters, as evicting segments does (the arena then moves what is left).
        expectKept();
        const drop = kept.splice(0, Math.floor((kept.length * 3) / 4));
        if (drop.length > 0) arena.dropBefore(drop[drop.length - 1]!.position + drop[drop.length - 1]!.id.length);
      }
    }
    expectKept();
    expect(arena.equals(kept[0]!.position, kept[0]!.id.length, units(`${kept[0]!.id.slice(0, -1)}?`), 0)).toBe(false);
  });

  it('keeps ids of characters up to U+00FF in one byte each, and widens in place for the first id beyond', () => {
    const arena = new IdArena();
    const kept: Array<{ id: string; position: number }> = [];
    const keepId = (id: string) => kept.push({ id, position: arena.append(units(id), 0, id.length) });
    for (let n = 0; n < 20_000; n++) keepId(`7f3c2a1e-${n.toString(16).padStart(4, '0')}-4b5c-9d8e-ü${n}`);
    const chars = kept.reduce((sum, { id }) => sum + id.length, 0);
    // A 36-character UUID is 36 bytes, not 72 (a 1 GB tape of them kept 450 MB of ids in UTF-16).
    expect(arena.bytesHeld).toBe(chars);
    // U+0100 must not match the byte it would be truncated to.
    const narrow = kept[0]!;
    const wideTwin = narrow.id.slice(0, -1) + String.fromCharCode(0x100 + narrow.id.charCodeAt(narrow.id.length - 1));
    expect(arena.equals(narrow.position, narrow.id.length, units(wideTwin), 0)).toBe(false);
    keepId('\u20AC-euro');
    keepId('\uDC00-lone');
    for (const { id, position } of kept) {
      expect(arena.text(position, id.length)).toBe(id);
      expect(arena.equals(position, id.length, units(id), 0)).toBe(true);
    }
  });
});
