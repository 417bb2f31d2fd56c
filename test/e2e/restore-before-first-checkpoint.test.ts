// kill -9 before a run's first checkpoint, then the same command with `--restore latest`: there is nothing to restore,
// so the run starts from the beginning (as Flink's restart strategy and Spark's checkpointLocation do) and ends with
// the uninterrupted tables, instead of failing with "no checkpoint to restore".
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { assertBuilt, RUN_TIMEOUT, runCli, startCli, waitWhileRunning } from './support/cli.js';
import { PACED_SPEED, pacedSource, placeFor, runArguments, storeOf, uninterruptedRun } from './support/checkpointed-run.js';
import { comparableSummary, hiddenPartFiles, readSummary, readTables, tableDifferences, type Tables } from './support/tables.js';

const SPEED = PACED_SPEED;
/**
 * Half the records bad: a JSON Lines part is written once 1 MiB of a table's rows is buffered, and without that much
 * DLQ output mid-run the first part in progress appeared only while the run finished, so the kill raced the final
 * checkpoint (it lost now and then on a loaded machine: a checkpoint had completed).
 */
const PACED = pacedSource(73).replace('bad=0.02', 'bad=0.5');

let workDir: string;
let reference: { tables: Tables; summary: Record<string, unknown> };

beforeAll(async () => {
  assertBuilt();
  workDir = await mkdtemp(path.join(os.tmpdir(), 'coattail-e2e-restore-first-'));
  reference = await uninterruptedRun(PACED, path.join(workDir, 'uninterrupted'), SPEED);
}, RUN_TIMEOUT);

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('--restore latest with no completed checkpoint', { timeout: RUN_TIMEOUT }, () => {
  test('after a kill -9 before the first checkpoint, starts from the beginning and ends with the uninterrupted tables', async () => {
    const place = placeFor(PACED, workDir, 'killed');
    // A 1 h interval: the run writes parts (hidden until a checkpoint commits them) but never checkpoints before the kill.
    const running = startCli(runArguments(place, 2, SPEED, '1h'));
    await waitWhileRunning(running, async () => (await hiddenPartFiles(place.outDir)).length > 0, 'a part file in progress');
    running.child.kill('SIGKILL');
    expect((await running.done).signal).toBe('SIGKILL');
    expect(await storeOf(place).completedIds()).toEqual([]);

    const restored = await runCli(runArguments(place, 3, ['--restore', 'latest', ...SPEED], '200ms'));
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stderr.trim()).toBe(`coattail: no checkpoint in ${place.checkpointDir} to restore: starting from the beginning of the input`);
    expect(tableDifferences(await readTables(place.outDir, 'jsonl'), reference.tables)).toEqual({});
    expect(comparableSummary(await readSummary(place.outDir))).toEqual(comparableSummary(reference.summary));
    expect(await hiddenPartFiles(place.outDir)).toEqual([]);
  });

  test('a checkpoint folder that was never made is the same: nothing to restore yet', async () => {
    const place = placeFor(PACED, workDir, 'never');
    const restored = await runCli(runArguments(place, 2, ['--restore', 'latest', ...SPEED], '1h'));
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stderr).toContain('starting from the beginning of the input');
    expect(tableDifferences(await readTables(place.outDir, 'jsonl'), reference.tables)).toEqual({});
    expect((await readdir(place.checkpointDir)).some((name) => name.startsWith('chk-'))).toBe(true);
  });

  test("leaves alone another job's parts in progress in the same --out (only this checkpoint folder's runs are its own)", async () => {
    const place = placeFor(PACED, workDir, 'shared-out');
    // A part another job (checkpointing elsewhere) is still writing into a table both jobs share.
    const othersPart = path.join(place.outDir, 'dlq', '.part-0-otherjob-00000.jsonl.inprogress');
    await mkdir(path.dirname(othersPart), { recursive: true });
    await writeFile(othersPart, '{"reason":"malformed"}\n');
    const restored = await runCli(runArguments(place, 2, ['--restore', 'latest', ...SPEED], '1h'));
    expect(restored.code, restored.stderr).toBe(0);
    expect(await readFile(othersPart, 'utf8')).toBe('{"reason":"malformed"}\n');
    expect(tableDifferences(await readTables(place.outDir, 'jsonl'), reference.tables)).toEqual({});
  });

  test('--restore chk-N of a checkpoint that does not exist still fails in one line', async () => {
    const place = placeFor(PACED, workDir, 'missing');
    const refused = await runCli(runArguments(place, 2, ['--restore', 'chk-4', ...SPEED]));
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/^coattail: checkpoint 4 /);
  });
});
