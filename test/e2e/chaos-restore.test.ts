// A few fixed kill -9 chaos sequences (test/support/chaos.ts): repeated kills before, during and after checkpoints,
// while restoring and while finishing, a savepoint then kill -9, an older checkpoint restored, at changing
// parallelism; the end must equal an uninterrupted run row for row. The seeded campaign is `node scripts/chaos.mjs`.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { assertBuilt, JOB_ALL, RUN_TIMEOUT, runCliToEnd } from './support/cli.js';
import { readSummary, readTables, type OutputFormat } from './support/tables.js';
import { describePlan, runSequence, type ChaosPlan, type Reference } from '../support/chaos.js';
import { makeChaosTape, type ChaosTape, type TapeShape } from '../support/chaos-tapes.js';

/** Short tapes: a run at 100 ms checkpoints lasts a few seconds and completes several checkpoints. */
const EVENTS = 80_000;

let workDir: string;
const tapes = new Map<TapeShape, ChaosTape>();
const references = new Map<string, Reference>();

async function referenceOf(shape: TapeShape, format: OutputFormat): Promise<Reference> {
  const key = `${shape}-${format}`;
  if (!references.has(key)) {
    const outDir = path.join(workDir, `reference-${key}`);
    await runCliToEnd(['run', JOB_ALL, '-s', `file:${tapes.get(shape)!.path}`, '-o', outDir, '-f', format, '-p', '2', '-q', '--no-checkpoints']);
    references.set(key, { tables: await readTables(outDir, format), summary: await readSummary(outDir) });
  }
  return references.get(key)!;
}

beforeAll(async () => {
  assertBuilt();
  workDir = await mkdtemp(path.join(os.tmpdir(), 'coattail-e2e-chaos-'));
  for (const [shape, seed] of [['duplicates', 3], ['files', 5]] as const) tapes.set(shape, await makeChaosTape(path.join(workDir, 'tapes'), shape, seed, EVENTS));
}, RUN_TIMEOUT);

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

interface ChaosCase {
  readonly name: string;
  readonly shape: TapeShape;
  readonly plan: ChaosPlan;
}

// Every moment is read off the checkpoint folder or stderr (or, for `early`, any moment will do); a run that
// reaches the end of the tape before its moment just completes the sequence, so no timing is asserted.
const CASES: readonly ChaosCase[] = [
  {
    name: 'killed after a checkpoint, as the restore began, and while writing a checkpoint',
    shape: 'duplicates',
    plan: {
      seed: 1,
      format: 'jsonl',
      interval: '100ms',
      steps: [
        { parallelism: 2, restore: 'latest', interruption: { kind: 'checkpoint', after: 2, delayMs: 30 } },
        { parallelism: 4, restore: 'latest', interruption: { kind: 'restoring', delayMs: 0 } },
        { parallelism: 1, restore: 'latest', interruption: { kind: 'mid-checkpoint', after: 2 } },
      ],
      finalParallelism: 3,
      finalRestore: 'latest',
    },
  },
  {
    name: 'a savepoint, its restore killed -9, then an older checkpoint restored, as Parquet',
    shape: 'duplicates',
    plan: {
      seed: 2,
      format: 'parquet',
      interval: '100ms',
      steps: [
        { parallelism: 3, restore: 'latest', interruption: { kind: 'savepoint', after: 2 } },
        { parallelism: 1, restore: 'latest', interruption: { kind: 'checkpoint', after: 2, delayMs: 10 } },
      ],
      finalParallelism: 2,
      finalRestore: 'older',
    },
  },
  {
    name: 'killed early, then twice while finishing',
    shape: 'duplicates',
    plan: {
      seed: 3,
      format: 'jsonl',
      interval: '50ms',
      steps: [
        { parallelism: 1, restore: 'latest', interruption: { kind: 'early', delayMs: 400 } },
        { parallelism: 2, restore: 'latest', interruption: { kind: 'finishing', delayMs: 0 } },
        { parallelism: 4, restore: 'latest', interruption: { kind: 'finishing', delayMs: 5 } },
      ],
      finalParallelism: 1,
      finalRestore: 'latest',
    },
  },
  {
    name: 'a source of three files (one gzipped, one ending early)',
    shape: 'files',
    plan: {
      seed: 4,
      format: 'jsonl',
      interval: '100ms',
      steps: [
        { parallelism: 4, restore: 'latest', interruption: { kind: 'checkpoint', after: 2, delayMs: 20 } },
        { parallelism: 2, restore: 'older', interruption: { kind: 'checkpoint', after: 1, delayMs: 40 } },
      ],
      finalParallelism: 3,
      finalRestore: 'latest',
    },
  },
];

describe('kill -9 chaos: repeated kills and restores at changing parallelism', { timeout: RUN_TIMEOUT }, () => {
  for (const chaosCase of CASES) {
    test(`end with the uninterrupted tables and counters: ${chaosCase.name} (${describePlan(chaosCase.plan)})`, async () => {
      const tape = tapes.get(chaosCase.shape)!;
      const reference = await referenceOf(chaosCase.shape, chaosCase.plan.format);
      const input = { source: `file:${tape.path}`, tolerance: tape.tolerance };
      const outcome = await runSequence(chaosCase.plan, input, reference, path.join(workDir, `case-${chaosCase.plan.seed}`));
      expect(outcome.problems, outcome.log.join('\n')).toEqual([]);
    });
  }
});
