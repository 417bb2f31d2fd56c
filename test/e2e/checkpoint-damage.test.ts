// Damaged or mismatched checkpoints: one clear line naming what is wrong, `latest` falls back, nothing is touched.
import { cp, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { assertBuilt, type CliResult, generateTape, JOB_WHALE, RUN_TIMEOUT, runCli, runCliToEnd } from './support/cli.js';
import { newestCompletedId, runArguments, stopRunAt, storeOf, uninterruptedArguments, type RunPlace } from './support/checkpointed-run.js';
import { decodeState, encodeState } from '../../runtime/checkpoint/state-codec.js';
import {
  comparableSummary,
  hiddenPartFiles,
  readSummary,
  readTables,
  tableDifferences,
  type Tables,
} from './support/tables.js';

const EVENTS = 150_000;
const TAPE_SEED = 31;

let workDir: string;
let tape: string;
/** A run killed mid-tape: its checkpoints and output, copied afresh for every test. */
let killed: RunPlace;
let completedIds: number[];
let reference: { tables: Tables; summary: Record<string, unknown> };

beforeAll(async () => {
  assertBuilt();
  workDir = await mkdtemp(path.join(os.tmpdir(), 'coattail-e2e-damage-'));
  tape = path.join(workDir, 'tape.jsonl');
  await generateTape(tape, EVENTS, TAPE_SEED);
  const uninterrupted = path.join(workDir, 'uninterrupted');
  await runCliToEnd(uninterruptedArguments(tape, uninterrupted, 'jsonl', 2));
  reference = { tables: await readTables(uninterrupted, 'jsonl'), summary: await readSummary(uninterrupted) };
  killed = { tape, outDir: path.join(workDir, 'killed', 'out'), checkpointDir: path.join(workDir, 'killed', 'checkpoints'), format: 'jsonl' };
  // Killed right after a checkpoint that is neither the first nor the final one (a fast run may read the whole
  // tape within a few intervals).
  await stopRunAt(killed, runArguments(killed, 2, ['--retain', '3'], '100ms'), {
    description: 'a checkpoint after the second, taken mid-tape',
    checkpointWhere: (metadata) =>
      metadata.checkpointId >= 2 && metadata.splits.some((split) => split.position !== undefined) && !metadata.splits.every((split) => split.ended),
  });
  completedIds = await storeOf(killed).completedIds();
}, RUN_TIMEOUT);

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

/** A private copy of the killed run, so each test damages its own checkpoints. */
async function copyOfKilledRun(name: string): Promise<RunPlace> {
  const folder = await mkdtemp(path.join(workDir, `${name}-`));
  const place = { ...killed, outDir: path.join(folder, 'out'), checkpointDir: path.join(folder, 'checkpoints') };
  await cp(killed.outDir, place.outDir, { recursive: true });
  await cp(killed.checkpointDir, place.checkpointDir, { recursive: true });
  return place;
}

async function flipByte(file: string, fromEnd: number): Promise<void> {
  const bytes = await readFile(file);
  bytes[bytes.length - fromEnd] ^= 0xff;
  await writeFile(file, bytes);
}

async function truncateToHalf(file: string): Promise<void> {
  const bytes = await readFile(file);
  await truncate(file, Math.floor(bytes.length / 2));
}

/** The refusal is one line on stderr, with exit code 1, and the output folder is left exactly as it was. */
async function expectRefusal(place: RunPlace, args: string[], pattern: RegExp): Promise<CliResult> {
  const hiddenBefore = await hiddenPartFiles(place.outDir);
  const visibleBefore = await readTables(place.outDir, 'jsonl');
  const result = await runCli(args);
  expect(result.code).toBe(1);
  const lines = result.stderr.trim().split('\n');
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(await hiddenPartFiles(place.outDir)).toEqual(hiddenBefore);
  expect(await readTables(place.outDir, 'jsonl')).toEqual(visibleBefore);
  return result;
}

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('the killed run used for damage', { timeout: RUN_TIMEOUT }, () => {
  test('left at least two completed checkpoints, the newest taken mid-tape', async () => {
    expect(completedIds.length).toBeGreaterThanOrEqual(2);
    const metadata = await storeOf(killed).readMetadata(completedIds.at(-1)!);
    expect(metadata.splits.every((split) => split.ended)).toBe(false);
    expect(metadata.sharedFiles.length).toBeGreaterThan(0);
  });
});

describe('--restore chk-N of a damaged checkpoint is refused with one line naming the file', { timeout: RUN_TIMEOUT }, () => {
  test('a truncated state file', async () => {
    const place = await copyOfKilledRun('truncated');
    const id = completedIds.at(-1)!;
    const file = path.join(place.checkpointDir, `chk-${id}`, 'coordinator.state');
    await truncateToHalf(file);
    await expectRefusal(
      place,
      runArguments(place, 2, ['--restore', `chk-${id}`]),
      new RegExp(`^coattail: Checkpoint file ${escape(file)} is corrupt: truncated, the header promises \\d+ payload bytes but only \\d+ are present$`),
    );
  });

  test('a flipped byte in a subtask state file is a checksum mismatch', async () => {
    const place = await copyOfKilledRun('flipped');
    const id = completedIds.at(-1)!;
    const file = path.join(place.checkpointDir, `chk-${id}`, 'subtask-1.state');
    await flipByte(file, 10);
    await expectRefusal(
      place,
      runArguments(place, 2, ['--restore', `chk-${id}`]),
      new RegExp(`^coattail: Checkpoint file ${escape(file)} is corrupt: checksum mismatch`),
    );
  });

  test('a flipped byte in a shared dedupe segment is a checksum mismatch naming the segment', async () => {
    const place = await copyOfKilledRun('shared');
    const id = completedIds.at(-1)!;
    const metadata = await storeOf(place).readMetadata(id);
    const file = path.join(place.checkpointDir, metadata.sharedFiles[0]!);
    await flipByte(file, 3);
    await expectRefusal(
      place,
      runArguments(place, 2, ['--restore', `chk-${id}`]),
      new RegExp(`^coattail: Checkpoint file ${escape(file)} is corrupt: checksum mismatch`),
    );
  });

  // Key groups are decoded in the subtask threads (decisions §34): a file whose checksum holds but whose key group does
  // not decode (written by something other than coattail) fails there, and the run still ends with one line.
  test('a key group that does not decode, in a file with a valid checksum, fails the restore from its subtask', async () => {
    const place = await copyOfKilledRun('undecodable');
    const id = completedIds.at(-1)!;
    const file = path.join(place.checkpointDir, `chk-${id}`, 'subtask-0.state');
    const stored = decodeState<{ operators: Record<string, { keyGroups: Record<number, Uint8Array> }> }>(await readFile(file), file);
    const [step, snapshot] = Object.entries(stored.operators).find(([, candidate]) => Object.keys(candidate.keyGroups).length > 0)!;
    const group = Number(Object.keys(snapshot.keyGroups)[0]);
    snapshot.keyGroups[group] = new Uint8Array([1, 2, 3]);
    await writeFile(file, encodeState(stored));
    const result = await runCli(runArguments(place, 3, ['--restore', `chk-${id}`]));
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines.filter((line) => line.includes('corrupt')), result.stderr).toHaveLength(1);
    expect(lines.at(-1)).toMatch(new RegExp(`^coattail: subtask \\d: Checkpoint file ${escape(file)} is corrupt: key group ${group} of step "${escape(step)}" does not decode \\(`));
  });

  test('a missing _metadata', async () => {
    const place = await copyOfKilledRun('no-metadata');
    const id = completedIds.at(-1)!;
    await rm(path.join(place.checkpointDir, `chk-${id}`, '_metadata'));
    await expectRefusal(
      place,
      runArguments(place, 2, ['--restore', `chk-${id}`]),
      new RegExp(`^coattail: checkpoint ${id} in ${escape(place.checkpointDir)} has no _metadata \\(it never completed\\)$`),
    );
  });

  test('a checkpoint that does not exist', async () => {
    const place = await copyOfKilledRun('absent');
    await expectRefusal(place, runArguments(place, 2, ['--restore', 'chk-999']), /^coattail: checkpoint 999 is not in .* \(pruned, or never taken\); completed there: chk-\d+/);
  });
});

describe('--restore latest skips damaged checkpoints and says so', { timeout: RUN_TIMEOUT }, () => {
  test('an abandoned newer folder without _metadata (a kill during its upload) is skipped and the tables are exact', async () => {
    const place = await copyOfKilledRun('abandoned');
    const newest = completedIds.at(-1)!;
    const abandoned = path.join(place.checkpointDir, `chk-${newest + 1}`);
    await cp(path.join(place.checkpointDir, `chk-${newest}`, 'coordinator.state'), path.join(abandoned, 'coordinator.state'));
    await truncateToHalf(path.join(abandoned, 'coordinator.state'));
    const restored = await runCliToEnd(runArguments(place, 3, ['--restore', 'latest']));
    expect(restored.stderr).toContain(`skipping checkpoint ${newest + 1}: checkpoint ${newest + 1} in ${place.checkpointDir} has no _metadata`);
    expect(restored.stderr).toContain(`restoring checkpoint ${newest}, the newest valid one`);
    expect(tableDifferences(await readTables(place.outDir, 'jsonl'), reference.tables)).toEqual({});
    expect(comparableSummary(await readSummary(place.outDir))).toEqual(comparableSummary(reference.summary));
    expect(await hiddenPartFiles(place.outDir)).toEqual([]);
  });

  test('a truncated state file in the newest checkpoint makes it restore the one before, with every row and counter', async () => {
    const place = await copyOfKilledRun('fallback');
    const [previous, newest] = completedIds.slice(-2) as [number, number];
    const file = path.join(place.checkpointDir, `chk-${newest}`, 'coordinator.state');
    await truncateToHalf(file);
    const restored = await runCliToEnd(runArguments(place, 2, ['--restore', 'latest']));
    expect(restored.stderr).toContain(`skipping checkpoint ${newest}: Checkpoint file ${file} is corrupt: truncated`);
    expect(restored.stderr).toContain(`restoring checkpoint ${previous}, the newest valid one`);
    expect(await readSummary(place.outDir)).toMatchObject({ restored_from: previous });
    // Rows the skipped checkpoint had already committed are removed before they are produced again: exact tables.
    expect(tableDifferences(await readTables(place.outDir, 'jsonl'), reference.tables)).toEqual({});
    expect(comparableSummary(await readSummary(place.outDir))).toEqual(comparableSummary(reference.summary));
  });

  // Damaged, not missing: a folder where no checkpoint has `_metadata` never completed one, and `latest` then starts
  // from the beginning (decisions §21, test/e2e/restore-before-first-checkpoint.test.ts).
  test('fails, after one warning per damaged checkpoint, when every checkpoint is damaged', async () => {
    const place = await copyOfKilledRun('all-damaged');
    for (const id of completedIds) await truncateToHalf(path.join(place.checkpointDir, `chk-${id}`, '_metadata'));
    const ids = await storeOf(place).allIds();
    const result = await runCli(runArguments(place, 2, ['--restore', 'latest']));
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines.slice(0, -1).map((line) => line.replace(/(is corrupt: truncated).*$/, '$1'))).toEqual(
      [...ids].reverse().map((id) =>
        completedIds.includes(id)
          ? `coattail: skipping checkpoint ${id}: Checkpoint file ${path.join(place.checkpointDir, `chk-${id}`, '_metadata')} is corrupt: truncated`
          : `coattail: skipping checkpoint ${id}: checkpoint ${id} in ${place.checkpointDir} has no _metadata (it never completed)`,
      ),
    );
    expect(lines.at(-1)).toBe(`coattail: no valid checkpoint in ${place.checkpointDir}: every candidate is damaged`);
    expect(await hiddenPartFiles(place.outDir)).toEqual(await hiddenPartFiles(killed.outDir));
  });
});

describe('--restore with a path', { timeout: RUN_TIMEOUT }, () => {
  test('restores the chk-N folder it names and writes new checkpoints to --checkpoint-dir', async () => {
    const place = await copyOfKilledRun('by-path');
    const newest = completedIds.at(-1)!;
    const moved = path.join(path.dirname(place.checkpointDir), 'elsewhere');
    await cp(place.checkpointDir, moved, { recursive: true });
    await rm(place.checkpointDir, { recursive: true });
    const restored = await runCliToEnd(runArguments(place, 1, ['--restore', path.join(moved, `chk-${newest}`)]));
    expect(restored.stderr).toContain(`restoring checkpoint ${newest} (2 -> 1 subtasks) from ${moved}`);
    expect(tableDifferences(await readTables(place.outDir, 'jsonl'), reference.tables)).toEqual({});
    expect(comparableSummary(await readSummary(place.outDir))).toEqual(comparableSummary(reference.summary));
    expect((await storeOf(place).completedIds()).length).toBeGreaterThan(0);
  });
});

describe('a restore that does not fit the run is refused', { timeout: RUN_TIMEOUT }, () => {
  test('another --max-parallelism, naming both values', async () => {
    const place = await copyOfKilledRun('max-parallelism');
    const id = await newestCompletedId(storeOf(place));
    await expectRefusal(
      place,
      runArguments(place, 2, ['--restore', 'latest', '--max-parallelism', '64']),
      new RegExp(`^coattail: checkpoint ${id} was taken with --max-parallelism 128, this run uses 64;`),
    );
  });

  test('another --format, naming both and leaving every file as it was', async () => {
    const place = await copyOfKilledRun('format');
    const id = await newestCompletedId(storeOf(place));
    expect((await storeOf(place).readMetadata(id)).outputFormat).toBe('jsonl');
    await expectRefusal(
      place,
      runArguments({ ...place, format: 'parquet' }, 2, ['--restore', 'latest']),
      new RegExp(`^coattail: checkpoint ${id} was taken by a run writing jsonl tables, this run writes parquet; a table's parts stay in one format, run with -f jsonl$`),
    );
  });

  test('another job whose stateful operators differ, naming the operator uids', async () => {
    const place = await copyOfKilledRun('other-job');
    const args = runArguments(place, 2, ['--restore', 'latest']);
    args[1] = JOB_WHALE;
    const result = await expectRefusal(place, args, /^coattail: checkpoint \d+ does not match this job's operators: state for .* has no step in this job \(a step renamed or removed: give it its old name back, or drop that state with --allow-non-restored-state\)$/);
    for (const uid of ['volume-window', 'volume-aggregates', 'spread-window', 'exchange-spreads']) expect(result.stderr).toContain(`"${uid}"`);
    for (const uid of ['dedupe', 'whale-trades', 'anomaly-alerts']) expect(result.stderr).not.toContain(`"${uid}"`);
  });
});
