// A source whose reader fails: the run fails with the read error, even when closing the reader then fails too
// (a close error in the reader's clean-up used to replace the error that ended the read).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { runJob, type Source } from '../../dist/runtime/index.js';
import { JOBS, ensureBuilt } from './engine-cli-support.js';

let work: string;
beforeAll(async () => {
  ensureBuilt();
  work = await mkdtemp(path.join(os.tmpdir(), 'coattail-source-errors-'));
});
afterAll(() => rm(work, { recursive: true, force: true }));

function failingSource(closeFails: boolean): Source {
  return {
    uri: 'test:failing',
    bounded: true,
    discoverSplits: async () => [{ splitId: 'only', origin: 'test:failing' }],
    openSplit: async () => ({
      next: async () => {
        throw new Error('disk went away mid-read');
      },
      close: async () => {
        if (closeFails) throw new Error('close failed too');
      },
    }),
  };
}

describe('a split reader that fails', () => {
  for (const closeFails of [false, true]) {
    test(`fails the run with the read error${closeFails ? ', not the failed close after it' : ''}`, async () => {
      const run = runJob({
        jobFile: path.join(JOBS, 'throwing.ts'),
        source: failingSource(closeFails),
        outDir: path.join(work, `out-${closeFails}`),
        format: 'jsonl',
        parallelism: 1,
        maxParallelism: 128,
        log: () => undefined,
      });
      await expect(run).rejects.toThrow('disk went away mid-read');
    });
  }
});
