// runJob and the AbortSignal its caller passes: the run listens for a stop only while it runs, so a caller that
// reuses one signal for many runs (a service, a test suite) does not pile up listeners that point at ended runs.
import { getEventListeners } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { fileSource, runJob } from '../../dist/runtime/index.js';
import { JOBS, ensureBuilt } from './engine-cli-support.js';

let work: string;
beforeAll(async () => {
  ensureBuilt();
  work = await mkdtemp(path.join(os.tmpdir(), 'coattail-run-signal-'));
});
afterAll(() => rm(work, { recursive: true, force: true }));

describe("a run's stop signal", () => {
  test('has no listener of the run left once the run has ended', async () => {
    const tape = path.join(work, 'orders.jsonl');
    await writeFile(tape, Array.from({ length: 100 }, (_, i) => JSON.stringify({ id: `o${i}` })).join('\n') + '\n');
    const signal = new AbortController().signal;
    for (const run of [1, 2]) {
      const result = await runJob({
        jobFile: path.join(JOBS, 'throwing.ts'),
        source: fileSource(tape),
        outDir: path.join(work, `out-${run}`),
        format: 'jsonl',
        parallelism: 1,
        maxParallelism: 128,
        signal,
        log: () => undefined,
      });
      expect(result.stopped).toBe(false);
      expect(getEventListeners(signal, 'abort')).toEqual([]);
    }
  });
});
