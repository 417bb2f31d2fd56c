// Ctrl-C (or SIGTERM) while a run is still starting (loading the job, restoring a checkpoint) must stop it with a
// savepoint, not be announced and then ignored: the run used to read on to the end of its input (forever on a live
// source). The chaos runner found it (docs/testing.md); the stop is requested before the run starts, so no timing.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { fileSource, runJob } from '../../dist/runtime/index.js';
import { assertBuilt, generateTape, JOB_ALL, RUN_TIMEOUT, runCliToEnd } from './support/cli.js';
import { newestCompletedId, runArguments, stopRunAt, storeOf, uninterruptedArguments, type RunPlace } from './support/checkpointed-run.js';
import { comparableSummary, hiddenPartFiles, readSummary, readTables, tableDifferences, type Tables } from './support/tables.js';

const EVENTS = 150_000;

let workDir: string;
let tape: string;
let reference: { tables: Tables; summary: Record<string, unknown> };

beforeAll(async () => {
  assertBuilt();
  workDir = await mkdtemp(path.join(os.tmpdir(), 'coattail-e2e-stop-starting-'));
  tape = path.join(workDir, 'tape.jsonl');
  await generateTape(tape, EVENTS, 31);
  const outDir = path.join(workDir, 'uninterrupted');
  await runCliToEnd(uninterruptedArguments(tape, outDir, 'jsonl', 2));
  reference = { tables: await readTables(outDir, 'jsonl'), summary: await readSummary(outDir) };
}, RUN_TIMEOUT);

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('a stop requested while the run is restoring', { timeout: RUN_TIMEOUT }, () => {
  test('takes a savepoint of the restored checkpoint without reading, and restoring that savepoint completes the tables', async () => {
    const place: RunPlace = { tape, outDir: path.join(workDir, 'out'), checkpointDir: path.join(workDir, 'checkpoints'), format: 'jsonl' };
    await stopRunAt(place, runArguments(place, 2, [], '100ms'), { afterCheckpoints: 2, delayMs: 0 });
    const store = storeOf(place);
    const restoredId = await newestCompletedId(store);
    const restoredSplits = (await store.readMetadata(restoredId)).splits;
    expect(restoredSplits.every((split) => split.ended)).toBe(false);

    // What run-command does on SIGINT, here before the run has even loaded its job: the signal is already aborted.
    const stop = new AbortController();
    stop.abort();
    const result = await runJob({
      jobFile: JOB_ALL,
      source: fileSource(tape),
      outDir: place.outDir,
      format: 'jsonl',
      parallelism: 3,
      maxParallelism: 128,
      checkpoint: { location: place.checkpointDir, intervalMs: 100, retain: 3, tolerableFailures: 3 },
      restore: 'latest',
      signal: stop.signal,
      log: () => undefined,
    });
    expect(result.stopped).toBe(true);
    expect(result.restoredFrom).toBe(restoredId);
    const savepoint = result.savepoint!;
    expect(savepoint.savepoint).toBe(true);
    // Nothing was read: the savepoint resumes exactly where the restored checkpoint did.
    expect(savepoint.splits.map(({ position, ended }) => ({ position, ended }))).toEqual(restoredSplits.map(({ position, ended }) => ({ position, ended })));
    expect(await readSummary(place.outDir)).toMatchObject({ stopped: true, restored_from: restoredId });

    await runCliToEnd(runArguments(place, 1, ['--restore', `chk-${savepoint.checkpointId}`]));
    expect(tableDifferences(await readTables(place.outDir, 'jsonl'), reference.tables)).toEqual({});
    expect(comparableSummary(await readSummary(place.outDir))).toEqual(comparableSummary(reference.summary));
    expect(await hiddenPartFiles(place.outDir)).toEqual([]);
  });
});
