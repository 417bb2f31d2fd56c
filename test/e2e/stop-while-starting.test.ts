// Ctrl-C (or SIGTERM) while a run is still starting (loading the job, restoring a checkpoint) must stop it with a
// savepoint, not be announced and then ignored: the run used to read on to the end of its input (forever on a live
// source). The chaos runner found it (docs/testing.md); the stop is requested before the run starts, so no timing.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
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
let steppedTape: string;
let steppedReference: { tables: Tables; summary: Record<string, unknown> };

/**
 * One BTC-USDT trade a minute, 5 s into it: every trade raises the split's watermark past the time a volume window
 * is due (its end + 30 s), so at any checkpoint the newest trade has made a window due that the restored steps,
 * which saw the watermark before that trade, have not fired yet.
 */
function steppedTrades(count: number): string {
  const start = Date.UTC(2026, 0, 5);
  const lines: string[] = [];
  for (let k = 0; k < count; k++) {
    const timestamp = new Date(start + k * 60_000 + 5_000).toISOString();
    lines.push(JSON.stringify({ event_id: `s${k}`, exchange: 'binance', symbol: 'BTC-USDT', price: 100 + (k % 7), quantity: 1, side: 'buy', timestamp }));
  }
  return lines.join('\n') + '\n';
}

/** Kill -9 a checkpointed run mid-tape, then a run restoring `latest` stopped before it starts: its savepoint. */
async function savepointRightAfterRestore(place: RunPlace): Promise<{ restoredId: number; savepointId: number }> {
  await stopRunAt(place, runArguments(place, 2, [], '100ms'), { afterCheckpoints: 2, delayMs: 0 });
  const store = storeOf(place);
  const restoredId = await newestCompletedId(store);
  expect((await store.readMetadata(restoredId)).splits.every((split) => split.ended)).toBe(false);
  // What run-command does on SIGINT, here before the run has even loaded its job: the signal is already aborted.
  const stop = new AbortController();
  stop.abort();
  const result = await runJob({
    jobFile: JOB_ALL,
    source: fileSource(place.tape),
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
  expect(result.savepoint?.savepoint).toBe(true);
  return { restoredId, savepointId: result.savepoint!.checkpointId };
}

beforeAll(async () => {
  assertBuilt();
  workDir = await mkdtemp(path.join(os.tmpdir(), 'coattail-e2e-stop-starting-'));
  tape = path.join(workDir, 'tape.jsonl');
  await generateTape(tape, EVENTS, 31);
  const outDir = path.join(workDir, 'uninterrupted');
  await runCliToEnd(uninterruptedArguments(tape, outDir, 'jsonl', 2));
  reference = { tables: await readTables(outDir, 'jsonl'), summary: await readSummary(outDir) };
  steppedTape = path.join(workDir, 'stepped.jsonl');
  await writeFile(steppedTape, steppedTrades(150_000));
  const steppedOut = path.join(workDir, 'stepped-uninterrupted');
  await runCliToEnd(uninterruptedArguments(steppedTape, steppedOut, 'jsonl', 2));
  steppedReference = { tables: await readTables(steppedOut, 'jsonl'), summary: await readSummary(steppedOut) };
}, RUN_TIMEOUT);

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('a stop requested while the run is restoring', { timeout: RUN_TIMEOUT }, () => {
  test('takes a savepoint of the restored checkpoint without reading, and restoring that savepoint completes the tables', async () => {
    const place: RunPlace = { tape, outDir: path.join(workDir, 'out'), checkpointDir: path.join(workDir, 'checkpoints'), format: 'jsonl' };
    const { restoredId, savepointId } = await savepointRightAfterRestore(place);
    // Nothing was read: the savepoint resumes exactly where the restored checkpoint did.
    const store = storeOf(place);
    const where = async (id: number) => (await store.readMetadata(id)).splits.map(({ position, ended }) => ({ position, ended }));
    expect(await where(savepointId)).toEqual(await where(restoredId));
    expect(await readSummary(place.outDir)).toMatchObject({ stopped: true, restored_from: restoredId });

    await runCliToEnd(runArguments(place, 1, ['--restore', `chk-${savepointId}`]));
    expect(tableDifferences(await readTables(place.outDir, 'jsonl'), reference.tables)).toEqual({});
    expect(comparableSummary(await readSummary(place.outDir))).toEqual(comparableSummary(reference.summary));
    expect(await hiddenPartFiles(place.outDir)).toEqual([]);
  });

  test('fires at once what the restored watermark makes due, so a savepoint taken before any record does not get those rows twice', async () => {
    const place: RunPlace = { tape: steppedTape, outDir: path.join(workDir, 'stepped-out'), checkpointDir: path.join(workDir, 'stepped-checkpoints'), format: 'jsonl' };
    const { savepointId } = await savepointRightAfterRestore(place);
    await runCliToEnd(runArguments(place, 2, ['--restore', `chk-${savepointId}`]));
    expect(tableDifferences(await readTables(place.outDir, 'jsonl'), steppedReference.tables)).toEqual({});
    expect(comparableSummary(await readSummary(place.outDir))).toEqual(comparableSummary(steppedReference.summary));
  });
});
