// Event time reaches every subtask, as Flink sends watermarks down every channel: a subtask that no record of a
// chunk goes to (its keys went quiet) still fires its windows while the run goes on, not only with its next record
// or at the end of the input.
import { BroadcastChannel } from 'node:worker_threads';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { runJob, subtaskForKey, type SourceChunk, type Source } from '../../dist/runtime/index.js';
import { FIRED_CHANNEL, type FiredWindow } from './jobs/announced-windows.js';
import { JOBS, ensureBuilt } from './engine-cli-support.js';

let work: string;
beforeAll(async () => {
  ensureBuilt();
  work = await mkdtemp(path.join(os.tmpdir(), 'coattail-quiet-subtask-'));
});
afterAll(() => rm(work, { recursive: true, force: true }));

/** A bounded source of one split that hands out the given chunks, then waits for `end()` before it ends. */
function scriptedSource(chunks: ReadonlyArray<ReadonlyArray<{ key: string; t: number }>>): Source & { end(): void } {
  let release!: () => void;
  const ended = new Promise<void>((resolve) => (release = resolve));
  let offset = 0;
  return {
    uri: 'test:ticks',
    bounded: true,
    end: () => release(),
    discoverSplits: async () => [{ splitId: 'ticks', origin: 'test:ticks' }],
    openSplit: async () => {
      let next = 0;
      return {
        next: async (): Promise<SourceChunk | undefined> => {
          if (next < chunks.length) {
            const ticks = chunks[next++]!;
            const offsets = ticks.map(() => offset++);
            return { payload: { kind: 'records', texts: ticks.map((tick) => JSON.stringify(tick)), offsets }, endPosition: offset };
          }
          await ended;
          return undefined;
        },
        close: async () => undefined,
      };
    },
  };
}

describe('a subtask whose keys go quiet', () => {
  test('fires its due windows while the run goes on', async () => {
    const keys = ['k0', 'k1', 'k2', 'k3', 'k4', 'k5'];
    const quiet = keys.find((key) => subtaskForKey(key, 2, 128) === 1)!;
    const busy = keys.find((key) => subtaskForKey(key, 2, 128) === 0)!;
    // The quiet key's only record is at 0; then only the busy key's records come, and event time passes 1 s.
    const source = scriptedSource([
      [
        { key: busy, t: 0 },
        { key: quiet, t: 100 },
      ],
      [{ key: busy, t: 5_000 }],
    ]);
    const fired: FiredWindow[] = [];
    const channel = new BroadcastChannel(FIRED_CHANNEL);
    let sawQuiet!: () => void;
    const quietFired = new Promise<void>((resolve) => (sawQuiet = resolve));
    channel.onmessage = (event) => {
      const row = (event as unknown as { data: FiredWindow }).data;
      fired.push(row);
      if (row.key === quiet) sawQuiet();
    };
    const run = runJob({
      jobFile: path.join(JOBS, 'announced-windows.ts'),
      source,
      outDir: path.join(work, 'out'),
      format: 'jsonl',
      parallelism: 2,
      maxParallelism: 128,
      log: () => undefined,
    });
    // Before the input ends: the quiet subtask learnt that event time reached 5 s without a record of its own.
    const outcome = await Promise.race([quietFired.then(() => 'fired' as const), new Promise<'waited'>((resolve) => setTimeout(() => resolve('waited'), 15_000))]);
    source.end();
    await run;
    channel.close();
    expect(outcome).toBe('fired');
    expect(fired).toEqual(expect.arrayContaining([{ key: quiet, start: 0, count: 1 }, { key: busy, start: 0, count: 1 }, { key: busy, start: 5_000, count: 1 }]));
    expect(fired).toHaveLength(3);
  }, 30_000);
});
