// kill -9 and Ctrl-C at chosen moments, restore at another parallelism: the tables equal an uninterrupted run's.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { keyGroupRangeFor } from '../../runtime/plan/key-groups.js';
import { assertBuilt, generateTape, RUN_TIMEOUT, runCli, runCliToEnd, seededRandom } from './support/cli.js';
import {
  newestCompletedId,
  runArguments,
  stopRunAt,
  stopRunAtWithRetries,
  storeOf,
  uninterruptedArguments,
  WHILE_FINISHING,
  type RunPlace,
} from './support/checkpointed-run.js';
import {
  comparableSummary,
  hiddenPartFiles,
  readSummary,
  readTables,
  tableDifferences,
  type OutputFormat,
  type Tables,
} from './support/tables.js';

/** Long enough that a run at 200 ms checkpoints lasts several seconds and holds a dozen checkpoints. */
const EVENTS = 300_000;
const TAPE_SEEDS = [11, 23] as const;

interface Reference {
  readonly tape: string;
  readonly tables: Tables;
  readonly summary: Record<string, unknown>;
}

let workDir: string;
const references = new Map<number, Reference>();

beforeAll(async () => {
  assertBuilt();
  workDir = await mkdtemp(path.join(os.tmpdir(), 'coattail-e2e-restore-'));
  await Promise.all(
    TAPE_SEEDS.map(async (seed) => {
      const tape = path.join(workDir, `tape-${seed}.jsonl`);
      await generateTape(tape, EVENTS, seed);
      const outDir = path.join(workDir, `uninterrupted-${seed}`);
      await runCliToEnd(uninterruptedArguments(tape, outDir, 'jsonl', 2));
      references.set(seed, { tape, tables: await readTables(outDir, 'jsonl'), summary: await readSummary(outDir) });
    }),
  );
}, RUN_TIMEOUT);

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

async function placeFor(name: string, seed: number, format: OutputFormat): Promise<RunPlace> {
  const folder = await mkdtemp(path.join(workDir, `${name}-`));
  return { tape: references.get(seed)!.tape, outDir: path.join(folder, 'out'), checkpointDir: path.join(folder, 'checkpoints'), format };
}

/** The restored run's output must be the uninterrupted run's: same rows, same counters, nothing left hidden. */
async function expectSameAsUninterrupted(place: RunPlace, seed: number): Promise<void> {
  const reference = references.get(seed)!;
  expect(tableDifferences(await readTables(place.outDir, place.format), reference.tables)).toEqual({});
  expect(comparableSummary(await readSummary(place.outDir))).toEqual(comparableSummary(reference.summary));
  expect(await hiddenPartFiles(place.outDir)).toEqual([]);
}

/** The checkpoint a restore will pick was taken mid-tape: the restored run really has work left. */
async function expectMidTapeCheckpoint(place: RunPlace): Promise<number> {
  const store = storeOf(place);
  const newest = await newestCompletedId(store);
  expect(newest).toBeGreaterThan(0);
  const metadata = await store.readMetadata(newest);
  expect(metadata.splits.every((split) => split.ended)).toBe(false);
  return newest;
}

interface KillCase {
  readonly name: string;
  readonly tapeSeed: number;
  readonly format: OutputFormat;
  /** Parallelism of each run that gets killed; the first starts fresh, the others restore `latest`. */
  readonly killedAt: readonly number[];
  readonly restoredAt: number;
  /** Seeds the kill moments: which checkpoint to pass and how long after it to kill. */
  readonly momentSeed: number;
}

const KILL_CASES: readonly KillCase[] = [
  { name: 'rescaled 2 -> 4', tapeSeed: 11, format: 'jsonl', killedAt: [2], restoredAt: 4, momentSeed: 101 },
  { name: 'rescaled 4 -> 1', tapeSeed: 23, format: 'jsonl', killedAt: [4], restoredAt: 1, momentSeed: 202 },
  { name: 'killed twice, the second time while restoring (1 -> 3 -> 2)', tapeSeed: 23, format: 'jsonl', killedAt: [1, 3], restoredAt: 2, momentSeed: 303 },
  { name: 'written as Parquet (3 -> 2)', tapeSeed: 11, format: 'parquet', killedAt: [3], restoredAt: 2, momentSeed: 404 },
];

describe('kill -9 in the middle of a run, then --restore latest', { timeout: RUN_TIMEOUT }, () => {
  for (const killCase of KILL_CASES) {
    const random = seededRandom(killCase.momentSeed);
    const moments = killCase.killedAt.map(() => ({ afterCheckpoints: 1 + Math.floor(random() * 4), delayMs: Math.floor(random() * 200) }));
    const when = moments.map((m) => `${m.delayMs} ms after checkpoint +${m.afterCheckpoints}`).join(', then ');
    test(`gives the uninterrupted run's tables and counters: ${killCase.name}, tape seed ${killCase.tapeSeed}, killed ${when}`, async () => {
      const place = await placeFor(`kill-${killCase.momentSeed}`, killCase.tapeSeed, killCase.format);
      for (const [index, parallelism] of killCase.killedAt.entries()) {
        // Checkpoints every 100 ms, so even a fast run is killed well before its input ends.
        await stopRunAt(place, runArguments(place, parallelism, index === 0 ? [] : ['--restore', 'latest'], '100ms'), moments[index]!);
      }
      const restoredFrom = await expectMidTapeCheckpoint(place);
      const restored = await runCliToEnd(runArguments(place, killCase.restoredAt, ['--restore', 'latest']));
      expect(restored.stderr).toContain(`restoring checkpoint ${restoredFrom} (${killCase.killedAt.at(-1)} -> ${killCase.restoredAt} subtasks)`);
      expect(await readSummary(place.outDir)).toMatchObject({ restored_from: restoredFrom, parallelism: killCase.restoredAt });
      await expectSameAsUninterrupted(place, killCase.tapeSeed);
    });
  }
});

describe('kill -9 after the final checkpoint, while the run finishes its tables', { timeout: RUN_TIMEOUT }, () => {
  test('restores to the uninterrupted tables: the windows fire and the pending files commit once', async () => {
    // The finishing phase is short; when a run slips through it before the kill lands, try a fresh one.
    const place = await stopRunAtWithRetries((attempt) => placeFor(`finishing-${attempt}`, 23, 'jsonl'), (p) => runArguments(p, 2), WHILE_FINISHING);
    const store = storeOf(place);
    const newest = await newestCompletedId(store);
    expect((await store.readMetadata(newest)).splits.every((split) => split.ended)).toBe(true);
    const restored = await runCliToEnd(runArguments(place, 3, ['--restore', 'latest']));
    expect(restored.stderr).toContain(`restoring checkpoint ${newest} (2 -> 3 subtasks)`);
    await expectSameAsUninterrupted(place, 23);
  });
});

describe('Ctrl-C takes a savepoint', { timeout: RUN_TIMEOUT }, () => {
  let place: RunPlace;
  let savepointId: number;

  test('SIGINT stops the run, writes a savepoint mid-tape and names it on stdout', async () => {
    place = await placeFor('savepoint', 11, 'jsonl');
    const stopped = await stopRunAt(place, runArguments(place, 2), { afterCheckpoints: 2, delayMs: 70 }, 'SIGINT');
    expect(stopped.code).toBe(0);
    const named = /^savepoint chk-(\d+) written to (.+); resume with --restore chk-(\d+)$/m.exec(stopped.stdout);
    expect(named, stopped.stdout).not.toBeNull();
    savepointId = Number(named![1]);
    expect(named![3]).toBe(named![1]);
    expect(named![2]).toBe(place.checkpointDir);
    const metadata = await storeOf(place).readMetadata(savepointId);
    expect(metadata.savepoint).toBe(true);
    expect(metadata.splits.every((split) => split.ended)).toBe(false);
    expect(await readSummary(place.outDir)).toMatchObject({ stopped: true });
  });

  test('checkpoints list shows each checkpoint with its id, time, duration and size', async () => {
    const listed = await runCliToEnd(['checkpoints', 'list', place.checkpointDir]);
    const lines = listed.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^id\s+status\s+completed at\s+duration\s+size\s+parallelism\s+job$/);
    const ids = await storeOf(place).allIds();
    expect(lines.slice(1).map((line) => line.split(/\s+/)[0])).toEqual(ids.map((id) => `chk-${id}`));
    expect(lines.at(-1)).toMatch(
      new RegExp(`^chk-${savepointId}\\s+savepoint\\s+\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z\\s+\\d+ ms\\s+[\\d.]+ (B|KiB|MiB)\\s+2/128\\s+coat-tail-all$`),
    );
  });

  test('checkpoints inspect shows the source offset, the operators and the key-group range of each subtask', async () => {
    const metadata = await storeOf(place).readMetadata(savepointId);
    const inspected = await runCliToEnd(['checkpoints', 'inspect', place.checkpointDir, `chk-${savepointId}`]);
    const text = inspected.stdout;
    expect(text).toContain(`checkpoint chk-${savepointId} (savepoint) of job coat-tail-all`);
    expect(text).toContain(`triggered  ${metadata.triggeredAt}`);
    expect(text).toContain(`completed  ${metadata.completedAt} (${metadata.durationMs} ms)`);
    expect(text).toMatch(/size\s+[\d.]+ (B|KiB|MiB)/);
    expect(text).toContain('tables     jsonl');
    const split = metadata.splits[0]!;
    expect(split.position).toBeDefined();
    expect(text).toContain(`split ${split.splitId}: offset ${String(split.position)}`);
    const operatorsLine = text.split('\n').find((line) => line.trim().startsWith('operators'));
    for (const uid of ['dedupe', 'volume-window', 'spread-window', 'whale-trades', 'anomaly-alerts']) expect(operatorsLine).toContain(uid);
    for (const subtask of [0, 1]) {
      const range = keyGroupRangeFor(subtask, 2, 128);
      expect(text).toContain(`subtask ${subtask}: key groups ${range.start}-${range.end}`);
    }
  });

  test('--restore chk-N continues from the savepoint at another parallelism to the same final tables', async () => {
    const restored = await runCliToEnd(runArguments(place, 3, ['--restore', `chk-${savepointId}`, '--retain', '2']));
    expect(restored.stderr).toContain(`restoring checkpoint ${savepointId} (2 -> 3 subtasks)`);
    await expectSameAsUninterrupted(place, 11);
  });

  test('--retain 2 keeps the two newest checkpoints and the savepoint, which retention never deletes (as Flink)', async () => {
    const store = storeOf(place);
    const ids = await store.allIds();
    expect(ids).toHaveLength(3);
    expect(await store.completedIds()).toEqual(ids);
    const summary = await readSummary(place.outDir);
    expect((summary.checkpoints as { completed: number }).completed).toBeGreaterThanOrEqual(2);
    expect(ids[0]).toBe(savepointId);
    expect((await store.readMetadata(savepointId)).savepoint).toBe(true);
    expect(ids[2]).toBe(ids[1]! + 1);
    expect(ids[1]).toBeGreaterThan(savepointId);
    // The other checkpoints of the stopped run are gone, and no shared file outlives every checkpoint naming it.
    const referenced = new Set<string>();
    for (const id of ids) for (const key of (await store.readMetadata(id)).sharedFiles) referenced.add(key);
    for (const key of await store.storage.list('shared/')) expect(referenced.has(key)).toBe(true);
  });

  test('a bad --restore value is refused with one line', async () => {
    const result = await runCli(runArguments(place, 2, ['--restore', 'newest']));
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe('coattail: --restore newest: expected latest, chk-N, N or a path to a chk-N folder');
  });
});
