// The `generator:` source URIs of `-s`: finite tapes, paced tapes and their fixed start, bad options.
import { describe, expect, test } from 'vitest';

import type { Source, SourceChunk, SplitDescriptor, SplitPosition } from '../../runtime/api/source.js';
import { resolveSource } from '../../runtime/cli/resolve-source.js';

async function readAll(source: Source): Promise<string[]> {
  const [split] = await source.discoverSplits();
  const reader = await source.openSplit(split!, undefined);
  const lines: string[] = [];
  for (let chunk = await reader.next(); chunk; chunk = await reader.next()) {
    if (chunk.payload.kind !== 'records') throw new Error('the generator gives records');
    lines.push(...chunk.payload.texts);
  }
  await reader.close();
  return lines;
}

/**
 * The first records read from `from`, at least `atLeast` of them: a paced live market may answer with a chunk of
 * one or two lines, which need not hold a trade with a timestamp.
 */
async function firstChunk(
  source: Source,
  split: SplitDescriptor,
  from: SplitPosition,
  atLeast = 1,
): Promise<{ texts: readonly string[]; offsets: readonly (number | string)[] }> {
  const reader = await source.openSplit(split, from);
  const texts: string[] = [];
  const offsets: Array<number | string> = [];
  // Empty chunks come while the reader re-generates the lines before its position.
  while (texts.length < atLeast) {
    const chunk = await reader.next();
    if (chunk?.payload.kind !== 'records') throw new Error('the generator gives records');
    texts.push(...chunk.payload.texts);
    offsets.push(...chunk.payload.offsets);
  }
  await reader.close();
  return { texts, offsets };
}

/** Out-of-order and very late trades lie behind the market's time, bad records anywhere: the median is its now. */
function medianEventTime(lines: readonly string[]): number {
  const times = lines.flatMap((line) => {
    try {
      const { timestamp } = JSON.parse(line) as { timestamp?: unknown };
      return typeof timestamp === 'string' ? [Date.parse(timestamp)] : [];
    } catch {
      return [];
    }
  });
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
}

function firstEventTime(lines: readonly string[]): number {
  for (const line of lines) {
    try {
      const value = JSON.parse(line) as { timestamp?: unknown };
      if (typeof value.timestamp === 'string') return Date.parse(value.timestamp);
    } catch {
      // a bad record of the tape
    }
  }
  throw new Error('no event with a timestamp');
}

describe('generator source URIs', () => {
  const start = Date.UTC(2026, 2, 1, 12, 0, 0);

  test('a paced tape with a start repeats itself line for line and begins its event time there', async () => {
    const uri = `generator:events=300,seed=5,rate=200,start=${start}`;
    const [first, second] = [await readAll(await resolveSource(uri, { speed: 50 })), await readAll(await resolveSource(uri, { speed: 100 }))];
    expect(first).toHaveLength(300);
    expect(second).toEqual(first);
    expect(firstEventTime(first)).toBeGreaterThanOrEqual(start);
    expect(firstEventTime(first)).toBeLessThan(start + 60_000);
  });

  test('a paced tape without a start begins at the wall clock', async () => {
    const before = Date.now();
    const lines = await readAll(await resolveSource('generator:events=50,seed=5,rate=200', { speed: 100 }));
    expect(firstEventTime(lines)).toBeGreaterThanOrEqual(before - 60_000);
  });

  test('the live market restored after a stop continues at the wall clock, not ahead of it by the earlier runs', async () => {
    // A run started 20 minutes ago read ten minutes of the market (120,000 trades at 200 a second), then stopped.
    const source = await resolveSource('generator', { speed: 1 });
    const [split] = await source.discoverSplits();
    const before = Date.now();
    const chunk = await firstChunk(source, split!, `120000@${before - 20 * 60_000}`, 100);
    expect(chunk.offsets[0]).toBe(120_000);
    const median = medianEventTime(chunk.texts);
    expect(median).toBeGreaterThanOrEqual(before - 60_000);
    expect(median).toBeLessThanOrEqual(Date.now() + 60_000);
  });

  test('the live market at --speed restored at once continues where its event time was, never going back', async () => {
    const source = await resolveSource('generator', { speed: 1000 });
    const [split] = await source.discoverSplits();
    const reader = await source.openSplit(split!, undefined);
    let last: SourceChunk | undefined;
    for (let read = 0; read < 24_000; ) {
      last = await reader.next();
      if (last?.payload.kind !== 'records') throw new Error('the generator gives records');
      read += last.payload.texts.length;
    }
    await reader.close();
    if (last?.payload.kind !== 'records') throw new Error('the generator gives records');
    const reached = medianEventTime(last.payload.texts);
    // Two minutes of market read in about a second: event time is far ahead of the clock, and stays there.
    expect(reached).toBeGreaterThan(Date.now() + 60_000);
    const resumed = await firstChunk(source, split!, last.endPosition, 100);
    expect(resumed.offsets[0]).toBe(Number(last.payload.offsets.at(-1)) + 1);
    const median = medianEventTime(resumed.texts);
    expect(median).toBeGreaterThanOrEqual(reached);
    expect(median).toBeLessThan(reached + 60_000);
  });

  test('names the option that is wrong', async () => {
    await expect(resolveSource('generator:events=10,begin=5')).rejects.toThrow('unknown generator option "begin"');
    await expect(resolveSource('generator:events=10,seed=1,events=20')).rejects.toThrow('generator option "events" is given twice');
    await expect(resolveSource('generator:events=10,start=soon')).rejects.toThrow('bad generator option "start=soon"');
    // An empty value is not 0, and a second `=` is not ignored.
    await expect(resolveSource('generator:events=10,seed=')).rejects.toThrow('bad generator option "seed="');
    await expect(resolveSource('generator:events=10,seed= ')).rejects.toThrow('bad generator option "seed= "');
    await expect(resolveSource('generator:events=10=20')).rejects.toThrow('bad generator option "events=10=20"');
  });

  test('refuses values outside what each option means, naming the option', async () => {
    const refused: Array<[string, string]> = [
      ['generator:events=-5', 'events'],
      ['generator:events=0', 'events'],
      ['generator:events=1.5', 'events'],
      ['generator:events=10,seed=-1', 'seed'],
      ['generator:events=10,seed=0.5', 'seed'],
      ['generator:events=10,bad=2', 'bad'],
      ['generator:events=10,bad=-0.1', 'bad'],
      ['generator:events=10,rate=0', 'rate'],
      ['generator:rate=-1', 'rate'],
      ['generator:events=10,start=1e20', 'start'],
      ['generator:events=10,start=1.5', 'start'],
    ];
    for (const [uri, option] of refused) {
      await expect(resolveSource(uri), uri).rejects.toThrow(new RegExp(`^generator option "${option}=[^"]*"`));
    }
    await expect(resolveSource('generator:events=10,seed=0,bad=0.5,rate=0.5,start=-1000')).resolves.toBeDefined();
  });

  test('a slowly paced tape answers within about a second, with an empty chunk when no line is due', async () => {
    const source = await resolveSource(`generator:events=5,seed=5,rate=0.1,start=${start}`);
    const [split] = await source.discoverSplits();
    const reader = await source.openSplit(split!, undefined);
    const asked = Date.now();
    const chunk = await reader.next();
    expect(Date.now() - asked).toBeLessThan(2_000);
    expect(chunk?.payload).toEqual({ kind: 'records', texts: [], offsets: [] });
    await reader.close();
  });
});
