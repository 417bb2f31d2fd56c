// Fixed kill -9 chaos sequences (test/support/chaos.ts) with checkpoints and tables in S3 (s3rver behind the proxy
// of test/support/s3-server.ts), and over the finite generator source: kills while the storage stalls (part
// commits and checkpoint uploads in flight), an outage in the middle, a second SIGINT while the savepoint is
// stuck, an older checkpoint restored from the bucket. The tables read back from the bucket must equal an
// uninterrupted local run's row for row. The seeded campaign: `node scripts/chaos.mjs --storage s3`.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { assertBuilt, JOB_ALL, RUN_TIMEOUT, runCliToEnd } from './support/cli.js';
import { readSummary, readTables, type OutputFormat } from './support/tables.js';
import { describePlan, runSequence, type ChaosInput, type ChaosPlan, type Reference } from '../support/chaos.js';
import { makeChaosTape } from '../support/chaos-tapes.js';
import { startS3Server, type TestS3Server } from '../support/s3-server.js';

const EVENTS = 80_000;
/** The generator reads faster than a tape: more events, so its runs outlast a few checkpoints. */
const GENERATOR = `generator:events=300000,seed=29,bad=0.03`;

let server: TestS3Server;
let workDir: string;
let tapeSource: string;

async function referenceOf(source: string, format: OutputFormat, name: string): Promise<Reference> {
  const outDir = path.join(workDir, `reference-${name}`);
  await runCliToEnd(['run', JOB_ALL, '-s', source, '-o', outDir, '-f', format, '-p', '2', '-q', '--no-checkpoints']);
  return { tables: await readTables(outDir, format), summary: await readSummary(outDir) };
}

beforeAll(async () => {
  assertBuilt();
  server = await startS3Server('coattail-chaos');
  workDir = await mkdtemp(path.join(os.tmpdir(), 'coattail-e2e-chaos-s3-'));
  tapeSource = `file:${(await makeChaosTape(path.join(workDir, 'tapes'), 'duplicates', 3, EVENTS)).path}`;
}, RUN_TIMEOUT);

afterAll(async () => {
  await server?.stop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

// Every moment is read off the bucket's checkpoints or stderr; a run that reaches the end of its input before
// its moment just completes the sequence, so no timing is asserted.
describe('kill -9 chaos with S3 checkpoints and tables', { timeout: RUN_TIMEOUT }, () => {
  test('killed while the storage stalls, a second SIGINT during a stuck savepoint, an outage, an older checkpoint', async () => {
    const plan: ChaosPlan = {
      seed: 11,
      format: 'jsonl',
      storage: 's3',
      interval: '100ms',
      steps: [
        { parallelism: 2, restore: 'latest', interruption: { kind: 'stalled-kill', after: 2, delayMs: 150 } },
        { parallelism: 3, restore: 'latest', interruption: { kind: 'sigint-stalled', after: 1 } },
        { parallelism: 1, restore: 'latest', interruption: { kind: 'outage', after: 1, mode: 'refuse', delayMs: 20 } },
      ],
      finalParallelism: 2,
      finalRestore: 'older',
    };
    const input: ChaosInput = { source: tapeSource, tolerance: 0, s3: server };
    const outcome = await runSequence(plan, input, await referenceOf(tapeSource, 'jsonl', 'tape'), path.join(workDir, 'case-s3'));
    expect(outcome.problems, `${describePlan(plan)}\n${outcome.log.join('\n')}`).toEqual([]);
  });

  test('the finite generator at changing parallelism, as Parquet in S3: a savepoint, an older checkpoint restored then killed, a kill in a stall', async () => {
    const plan: ChaosPlan = {
      seed: 12,
      format: 'parquet',
      storage: 's3',
      interval: '100ms',
      steps: [
        { parallelism: 3, restore: 'latest', interruption: { kind: 'savepoint', after: 1 } },
        { parallelism: 1, restore: 'latest', interruption: { kind: 'checkpoint', after: 1, delayMs: 30 } },
        // An older checkpoint restored from the bucket marks the newer ones abandoned (docs/decisions.md §15), and
        // is killed at once: the next `latest` must skip them.
        { parallelism: 4, restore: 'older', interruption: { kind: 'restoring', delayMs: 0 } },
        { parallelism: 2, restore: 'latest', interruption: { kind: 'stalled-kill', after: 1, delayMs: 0 } },
      ],
      finalParallelism: 3,
      finalRestore: 'latest',
    };
    const input: ChaosInput = { source: GENERATOR, tolerance: 0, s3: server };
    const outcome = await runSequence(plan, input, await referenceOf(GENERATOR, 'parquet', 'generator'), path.join(workDir, 'case-generator'));
    expect(outcome.problems, `${describePlan(plan)}\n${outcome.log.join('\n')}`).toEqual([]);
  });
});
