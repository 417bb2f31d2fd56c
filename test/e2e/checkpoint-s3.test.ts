// Checkpoints in S3 (s3rver on loopback): kill and restore from the bucket, and storage outages during a run.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { startS3Server, type TestS3Server } from '../support/s3-server.js';
import { assertBuilt, generateTape, JOB_ALL, RUN_TIMEOUT, runCliToEnd, startCli, waitWhileRunning } from './support/cli.js';
import { newestCompletedId, runArguments, stopRunAt, storeOf, uninterruptedArguments, type RunPlace } from './support/checkpointed-run.js';
import { comparableSummary, hiddenPartFiles, readSummary, readTables, tableDifferences, type Tables } from './support/tables.js';

const EVENTS = 300_000;
const TAPE_SEED = 47;
/** The outage test's paced tape: 40,000 events at 200 a second of event time, replayed 40x (5 s). */
const PACED_EVENTS = 40_000;
const PACED_SPEED = 40;
const PACED_START_MS = Date.UTC(2026, 0, 5, 9, 0, 0);
// Half the records bad: JSON Lines parts are written once 1 MiB of a table's rows is buffered, so the DLQ's parts are
// in progress mid-run (the tests wait for them to know rows are being written before the input ends).
const paced = `generator:events=${PACED_EVENTS},seed=${TAPE_SEED},bad=0.5,rate=200,start=${PACED_START_MS}`;
const FAILED_CHECKPOINT = /^coattail: checkpoint (\d+) failed and was aborted: (.+)$/m;

let server: TestS3Server;
let workDir: string;
let tape: string;
let reference: { tables: Tables; summary: Record<string, unknown> };

beforeAll(async () => {
  assertBuilt();
  server = await startS3Server('coattail-e2e');
  workDir = await mkdtemp(path.join(os.tmpdir(), 'coattail-e2e-s3-'));
  tape = path.join(workDir, 'tape.jsonl');
  await generateTape(tape, EVENTS, TAPE_SEED);
  const uninterrupted = path.join(workDir, 'uninterrupted');
  await runCliToEnd(uninterruptedArguments(tape, uninterrupted, 'jsonl', 2));
  reference = { tables: await readTables(uninterrupted, 'jsonl'), summary: await readSummary(uninterrupted) };
}, RUN_TIMEOUT);

afterAll(async () => {
  await server?.stop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

function placeIn(prefix: string): RunPlace {
  return {
    tape,
    outDir: path.join(workDir, prefix, 'out'),
    checkpointDir: `s3://${server.bucket}/${prefix}`,
    format: 'jsonl',
    s3Endpoint: server.endpoint,
  };
}

async function expectSameAsUninterrupted(place: RunPlace): Promise<void> {
  expect(tableDifferences(await readTables(place.outDir, 'jsonl'), reference.tables)).toEqual({});
  expect(comparableSummary(await readSummary(place.outDir))).toEqual(comparableSummary(reference.summary));
  expect(await hiddenPartFiles(place.outDir)).toEqual([]);
}

/**
 * Storage refuses connections until the run has logged a failed checkpoint, then comes back; the run must end
 * cleanly. Returns its result and every failed-checkpoint line (id, cause).
 */
async function outageUntilACheckpointFails(running: ReturnType<typeof startCli>) {
  await server.pause('refuse');
  try {
    await waitWhileRunning(running, async () => FAILED_CHECKPOINT.test(running.stderr()), 'a failed checkpoint');
  } finally {
    await server.resume();
  }
  const result = await running.done;
  expect(result.code, result.stderr).toBe(0);
  return { result, failures: [...result.stderr.matchAll(new RegExp(FAILED_CHECKPOINT.source, 'gm'))] };
}

/** Wait, while the run goes on, for a checkpoint stored in the bucket past the start of the tape. */
async function waitForProgress(place: RunPlace, running: ReturnType<typeof startCli>): Promise<number> {
  const store = storeOf(place);
  let newest = 0;
  await waitWhileRunning(
    running,
    async () => {
      newest = await newestCompletedId(store);
      return newest > 0 && (await store.readMetadata(newest)).splits.some((split) => split.position !== undefined);
    },
    'a checkpoint past the start of the tape',
  );
  return newest;
}

describe('checkpoints in S3', { timeout: RUN_TIMEOUT }, () => {
  test('kill -9, then --restore latest from the bucket at another parallelism gives the uninterrupted tables', async () => {
    const place = placeIn('round-trip');
    await stopRunAt(place, runArguments(place, 2, [], '100ms'), { afterCheckpoints: 2, delayMs: 90 });
    const store = storeOf(place);
    const newest = await newestCompletedId(store);
    expect((await store.readMetadata(newest)).splits.every((split) => split.ended)).toBe(false);
    const restored = await runCliToEnd(runArguments(place, 3, ['--restore', 'latest']));
    expect(restored.stderr).toContain(`restoring checkpoint ${newest} (2 -> 3 subtasks) from ${place.checkpointDir}`);
    await expectSameAsUninterrupted(place);

    const listed = await runCliToEnd(['checkpoints', 'list', place.checkpointDir, '--s3-endpoint', server.endpoint]);
    const ids = await store.allIds();
    expect(ids.length).toBeGreaterThan(0);
    for (const id of ids) expect(listed.stdout).toMatch(new RegExp(`^chk-${id}\\s+complete\\s+\\S+Z\\s+\\d+ ms\\s+[\\d.]+ (B|KiB|MiB)\\s+3/128`, 'm'));
  });

  test('an outage fails checkpoints, which are logged and counted; the job runs on and ends with the right tables', async () => {
    // A paced tape (about 5 s of wall clock at any machine speed) outlasts the outage, which lasts until a
    // checkpoint has failed: nothing here depends on how fast the engine is.
    const expectedOut = path.join(workDir, 'outage-uninterrupted');
    await runCliToEnd(['run', JOB_ALL, '-s', paced, '--speed', '100000', '-o', expectedOut, '-f', 'jsonl', '-p', '2', '-q', '--no-checkpoints']);
    const place: RunPlace = { ...placeIn('outage'), source: paced };
    const running = startCli(runArguments(place, 2, ['--tolerable-failed-checkpoints', '1000', '--speed', String(PACED_SPEED)]));
    const beforeOutage = await waitForProgress(place, running);
    const { result, failures } = await outageUntilACheckpointFails(running);
    expect(failures.length, result.stderr).toBeGreaterThan(0);
    for (const [, , cause] of failures) expect(cause).toContain(server.endpoint);
    const summary = await readSummary(place.outDir);
    const counted = summary.checkpoints as { completed: number; failed: number };
    expect(counted.failed).toBe(failures.length);
    const lastFailed = Math.max(...failures.map(([, id]) => Number(id)));
    expect(lastFailed, result.stderr).toBeGreaterThan(beforeOutage);
    // Storage came back: a checkpoint after the failed ones completed.
    expect(await newestCompletedId(storeOf(place)), result.stderr).toBeGreaterThan(lastFailed);
    expect(tableDifferences(await readTables(place.outDir, 'jsonl'), await readTables(expectedOut, 'jsonl'))).toEqual({});
    expect(comparableSummary(summary)).toEqual(comparableSummary(await readSummary(expectedOut)));
    expect(await hiddenPartFiles(place.outDir)).toEqual([]);
  });

  test('a failed final checkpoint is retried until it completes, before the last files are committed', async () => {
    // No periodic checkpoints (1 h): storage goes away while the paced tape is read, so the checkpoint taken at
    // the end of input fails; it comes back once that failure is logged. Finishing without a completed final
    // checkpoint would leave the committed last files outside every checkpoint (a kill then writes them twice).
    const expectedOut = path.join(workDir, 'final-uninterrupted');
    await runCliToEnd(['run', JOB_ALL, '-s', paced, '--speed', '100000', '-o', expectedOut, '-f', 'jsonl', '-p', '2', '-q', '--no-checkpoints']);
    const place: RunPlace = { ...placeIn('final'), source: paced };
    const running = startCli(runArguments(place, 2, ['--tolerable-failed-checkpoints', '1000', '--speed', String(PACED_SPEED)], '1h'));
    // Rows are being written (hidden until committed): the run is past its start-up use of the bucket.
    await waitWhileRunning(running, async () => (await hiddenPartFiles(place.outDir)).length > 0, 'the first rows');
    const { result, failures } = await outageUntilACheckpointFails(running);
    const lastFailed = Math.max(...failures.map(([, id]) => Number(id)));
    expect(await newestCompletedId(storeOf(place)), result.stderr).toBeGreaterThan(lastFailed);
    expect((await readSummary(place.outDir)).checkpoints).toEqual({ completed: 1, failed: failures.length });
    expect(tableDifferences(await readTables(place.outDir, 'jsonl'), await readTables(expectedOut, 'jsonl'))).toEqual({});
    expect(await hiddenPartFiles(place.outDir)).toEqual([]);
  });

  test('with --tolerable-failed-checkpoints 0 and storage gone for good, the job fails with the cause', async () => {
    const place: RunPlace = { ...placeIn('gone'), source: paced };
    const running = startCli(runArguments(place, 2, ['--tolerable-failed-checkpoints', '0', '--speed', String(PACED_SPEED)]));
    try {
      await waitForProgress(place, running);
      await server.pause('refuse');
      const result = await running.done;
      expect(result.code).toBe(1);
      const lines = result.stderr.trim().split('\n');
      expect(lines.at(-1)).toMatch(
        new RegExp(`^coattail: 1 checkpoints in a row failed \\(tolerable: 0\\); last cause: .*cannot reach ${server.endpoint.replace(/\./g, '\\.')} \\(connection refused, ECONNREFUSED\\)`),
      );
      expect(lines.filter((line) => /checkpoint \d+ failed and was aborted/.test(line))).toHaveLength(1);
      await expect(readSummary(place.outDir)).rejects.toThrow(/ENOENT/);
    } finally {
      await server.resume();
    }
  });
});
