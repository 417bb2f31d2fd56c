// A generator source restored at a position re-generates the tape up to it without holding the thread: after a
// long live run that is millions of lines, and Ctrl-C, the status line and a stop must be served meanwhile.
import { describe, expect, test } from 'vitest';

import { generatorSource, SKIP_SLICE_LINES } from '../../connectors/sources/generator-source.js';

/** A tape of `line-<n>` that counts the lines pulled from it. */
function countingTape(): { pulled: () => number; lines: () => Iterable<string> } {
  let pulled = 0;
  return {
    pulled: () => pulled,
    lines: () => ({
      *[Symbol.iterator]() {
        for (let n = 0; ; n++) {
          pulled++;
          yield `line-${n}`;
        }
      },
    }),
  };
}

describe('a restored generator source', () => {
  test('answers while it re-generates the lines before its position, then continues from the position', async () => {
    const tape = countingTape();
    const position = 10 * SKIP_SLICE_LINES + 7;
    const source = generatorSource({ uri: 'generator', lines: tape.lines, chunkLines: 5 });
    const [split] = await source.discoverSplits();
    const reader = await source.openSplit(split!, position);

    const first = await reader.next();
    expect(tape.pulled()).toBeLessThan(position);
    expect(first).toEqual({ payload: { kind: 'records', texts: [], offsets: [] }, endPosition: position });

    // A caller that asks again at once, as the engine's read loop does when nothing else holds it back.
    let turns = 0;
    let stopTurns = false;
    const turn = (): void => {
      turns++;
      if (!stopTurns) setImmediate(turn);
    };
    setImmediate(turn);
    let chunk = first;
    while (chunk?.payload.kind === 'records' && chunk.payload.texts.length === 0) chunk = await reader.next();
    stopTurns = true;
    // The event loop went round meanwhile: timers, Ctrl-C and the status line were served.
    expect(turns).toBeGreaterThan(0);
    expect(chunk).toEqual({
      payload: { kind: 'records', texts: [0, 1, 2, 3, 4].map((n) => `line-${position + n}`), offsets: [0, 1, 2, 3, 4].map((n) => position + n) },
      endPosition: position + 5,
    });
    await reader.close();
  });
});
