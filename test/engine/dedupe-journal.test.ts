// The dedupe journal's segments and the checkpoint files they are stored in: each segment keeps the key of the file
// that holds its ids, whatever the journal evicted while that checkpoint was in flight.
import { describe, expect, it } from 'vitest';

import { DedupeJournal } from '../../runtime/exec/dedupe-journal.js';
import { dedupeHash } from '../../runtime/exec/dedupe-index.js';
import { StringColumn } from '../../runtime/exec/typed-column.js';

function addIds(journal: DedupeJournal, ids: readonly string[], time: number): void {
  const { chars, ends } = StringColumn.of(ids);
  ids.forEach((id, i) => journal.add(chars, i === 0 ? 0 : ends[i - 1]!, ends[i]!, dedupeHash(id), time));
}

describe('DedupeJournal', () => {
  it('confirms each segment under the key its checkpoint stored it with, even after older segments were evicted meanwhile', () => {
    const journal = new DedupeJournal();
    addIds(journal, ['a1', 'a2'], 0);
    journal.confirm(journal.prepareCheckpoint((index) => `chk-1-${index}`).keys);

    addIds(journal, ['b1'], 100);
    const second = journal.prepareCheckpoint((index) => `chk-2-${index}`);
    expect(second.keys).toEqual(['chk-1-0', 'chk-2-0']);
    expect(second.files.map((file) => file.key)).toEqual(['chk-2-0']);
    // Chunks applied while checkpoint 2 is in flight move the dedupe clock: the oldest segment falls behind.
    journal.evictBefore(50);
    journal.confirm(second.keys);

    // The segment of b1 is stored as chk-2-0; naming it chk-1-0 (a's file) would restore a's ids in place of b's.
    const third = journal.prepareCheckpoint((index) => `chk-3-${index}`);
    expect(third.keys).toEqual(['chk-2-0']);
    expect(third.files).toEqual([]);
  });

  it('stores a segment again when the checkpoint that first wrote it failed', () => {
    const journal = new DedupeJournal();
    addIds(journal, ['a1'], 0);
    expect(journal.prepareCheckpoint((index) => `chk-1-${index}`).keys).toEqual(['chk-1-0']);
    // Checkpoint 1 failed: never confirmed.
    const retry = journal.prepareCheckpoint((index) => `chk-2-${index}`);
    expect(retry.keys).toEqual(['chk-2-0']);
    expect(retry.files.map((file) => file.key)).toEqual(['chk-2-0']);
    journal.confirm(retry.keys);
    expect(journal.prepareCheckpoint((index) => `chk-3-${index}`)).toEqual({ keys: ['chk-2-0'], files: [] });
  });
});
