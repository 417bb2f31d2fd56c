// A source of several files (one split each, read concurrently): kill -9 and restore keep each split's position.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { assertBuilt, generateTape, RUN_TIMEOUT, runCliToEnd } from './support/cli.js';
import {
  newestCompletedId,
  runArguments,
  stopRunAt,
  stopRunAtWithRetries,
  storeOf,
  uninterruptedArguments,
  type CheckpointMoment,
  type RunPlace,
} from './support/checkpointed-run.js';
import { comparableSummary, hiddenPartFiles, readSummary, readTables, tableDifferences, type Tables } from './support/tables.js';

const EVENTS = 150_000;
const TAPE_SEED = 59;
/**
 * Very uneven files, so the smallest ends early and the largest is read alone for most of the run: a checkpoint
 * with some splits ended and others not comes however fast the engine reads.
 */
const SHARES = [0.05, 0.15, 0.8];
/** Splits interleave differently on every run, so window sums may differ in their last bits. */
const TOLERANCE = 1e-9;

let workDir: string;
let tapeFolder: string;
let reference: { tables: Tables; summary: Record<string, unknown> };

beforeAll(async () => {
  assertBuilt();
  workDir = await mkdtemp(path.join(os.tmpdir(), 'coattail-e2e-splits-'));
  const tape = path.join(workDir, 'tape.jsonl');
  await generateTape(tape, EVENTS, TAPE_SEED);
  const lines = (await readFile(tape, 'utf8')).split('\n').filter((line) => line !== '');
  tapeFolder = path.join(workDir, 'tape');
  await mkdir(tapeFolder);
  let start = 0;
  for (const [index, share] of SHARES.entries()) {
    const end = index === SHARES.length - 1 ? lines.length : start + Math.round(lines.length * share);
    await writeFile(path.join(tapeFolder, `part-${index}.jsonl`), lines.slice(start, end).join('\n') + '\n');
    start = end;
  }
  const uninterrupted = path.join(workDir, 'uninterrupted');
  await runCliToEnd(uninterruptedArguments(tapeFolder, uninterrupted, 'jsonl', 2));
  reference = { tables: await readTables(uninterrupted, 'jsonl'), summary: await readSummary(uninterrupted) };
}, RUN_TIMEOUT);

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

async function placeFor(name: string): Promise<RunPlace> {
  const folder = await mkdtemp(path.join(workDir, `${name}-`));
  return { tape: tapeFolder, outDir: path.join(folder, 'out'), checkpointDir: path.join(folder, 'checkpoints'), format: 'jsonl' };
}

async function restoreAndCompare(place: RunPlace, killedAt: number, restoredAt: number): Promise<void> {
  const newest = await newestCompletedId(storeOf(place));
  const restored = await runCliToEnd(runArguments(place, restoredAt, ['--restore', 'latest']));
  expect(restored.stderr).toContain(`restoring checkpoint ${newest} (${killedAt} -> ${restoredAt} subtasks)`);
  expect(tableDifferences(await readTables(place.outDir, 'jsonl'), reference.tables, TOLERANCE)).toEqual({});
  expect(comparableSummary(await readSummary(place.outDir))).toEqual(comparableSummary(reference.summary));
  expect(await hiddenPartFiles(place.outDir)).toEqual([]);
}

const SOME_SPLITS_ENDED: CheckpointMoment = {
  description: 'a checkpoint with some splits read to their end and others not',
  checkpointWhere: (metadata) => metadata.splits.some((split) => split.ended) && !metadata.splits.every((split) => split.ended),
};

describe('kill -9 with a source of three files', { timeout: RUN_TIMEOUT }, () => {
  test('the checkpoint names every split, and a restore 2 -> 3 gives the uninterrupted tables', async () => {
    const place = await placeFor('positions');
    await stopRunAt(place, runArguments(place, 2, [], '100ms'), { afterCheckpoints: 3, delayMs: 40 });
    const metadata = await storeOf(place).readMetadata(await newestCompletedId(storeOf(place)));
    expect(metadata.splits.map((split) => path.basename(split.splitId))).toEqual(['part-0.jsonl', 'part-1.jsonl', 'part-2.jsonl']);
    await restoreAndCompare(place, 2, 3);
  });

  test('after one file was read to its end and the others not, restores 3 -> 1 to the uninterrupted tables', async () => {
    const place = await stopRunAtWithRetries((attempt) => placeFor(`some-ended-${attempt}`), (p) => runArguments(p, 3, [], '50ms'), SOME_SPLITS_ENDED);
    const metadata = await storeOf(place).readMetadata(await newestCompletedId(storeOf(place)));
    expect(metadata.splits.map((split) => split.ended)).toContain(false);
    await restoreAndCompare(place, 3, 1);
  });
});
