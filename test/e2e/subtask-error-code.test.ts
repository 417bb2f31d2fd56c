// A typed error met in a subtask thread reaches the caller of runJob with its own code (SINK_FAILED, STORAGE,
// ENDPOINT_UNREACHABLE...), as the connector docs name them, not relabelled WORKER_FAILED by the coordinator.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { fileSource, runJob } from '../../dist/runtime/index.js';
import { JOBS, ensureBuilt } from './engine-cli-support.js';

let work: string;
beforeAll(async () => {
  ensureBuilt();
  work = await mkdtemp(path.join(os.tmpdir(), 'coattail-subtask-error-code-'));
});
afterAll(() => rm(work, { recursive: true, force: true }));

describe('an error in a subtask thread', () => {
  test("keeps its code when it fails the run, its message prefixed with the subtask", async () => {
    const tape = path.join(work, 'orders.jsonl');
    await writeFile(tape, Array.from({ length: 100 }, (_, i) => JSON.stringify({ id: `o${i}` })).join('\n') + '\n');
    const outDir = path.join(work, 'out');
    await mkdir(outDir);
    // A file where the table's folder belongs: each subtask's table writer fails to open with SINK_FAILED.
    await writeFile(path.join(outDir, 'orders'), '');
    const error: unknown = await runJob({
      jobFile: path.join(JOBS, 'throwing-into-table.ts'),
      source: fileSource(tape),
      outDir,
      format: 'jsonl',
      parallelism: 2,
      maxParallelism: 128,
      log: () => undefined,
    }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toMatchObject({ name: 'CoattailError', code: 'SINK_FAILED' });
    expect((error as Error).message).toMatch(/^subtask \d: Could not create the folder .*orders: EEXIST/);
  });
});
