// One fixed kill -9 chaos sequence over a Kinesis source (test/support/chaos.ts, chaos-kinesis.ts): the `files` tape
// in a three-shard kinesalite stream, read with --bounded, the DLQ to a Kinesis stream and alerts to dynalite; kills
// after a checkpoint and as a restore began, a shard split between runs, a savepoint, at changing parallelism. The
// tables and counters must equal an uninterrupted --bounded run's, the alerts table hold exactly its alert ids and
// the DLQ stream every one of its rows (at least once, docs/connectors-kinesis.md) and no other.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, expect, test } from 'vitest';

import { assertBuilt, JOB_ALL, RUN_TIMEOUT, runCliToEnd } from './support/cli.js';
import { readSummary, readTables } from './support/tables.js';
import { describePlan, runSequence, type ChaosPlan } from '../support/chaos.js';
import { makeChaosTape } from '../support/chaos-tapes.js';
import { createSinkStreams, kinesisArguments, loadTapeStream, readSinks, startChaosKinesis, type ChaosKinesis } from '../support/chaos-kinesis.js';

/** A run of the whole stream at 100 ms checkpoints lasts a few seconds and completes several checkpoints. */
const EVENTS = 60_000;

let workDir: string;
let kinesis: ChaosKinesis;

beforeAll(async () => {
  assertBuilt();
  workDir = await mkdtemp(path.join(os.tmpdir(), 'coattail-e2e-chaos-kinesis-'));
  kinesis = await startChaosKinesis();
}, RUN_TIMEOUT);

afterAll(async () => {
  await kinesis?.stop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

// Moments are read off the checkpoint folder or stderr; a run that reaches the end of the stream before its moment
// just completes the sequence, so no timing is asserted.
const PLAN: ChaosPlan = {
  seed: 1,
  format: 'jsonl',
  interval: '100ms',
  steps: [
    { parallelism: 3, restore: 'latest', interruption: { kind: 'checkpoint', after: 2, delayMs: 30 } },
    { parallelism: 1, restore: 'latest', interruption: { kind: 'restoring', delayMs: 0 } },
    { parallelism: 2, restore: 'latest', interruption: { kind: 'savepoint', after: 1 } },
  ],
  finalParallelism: 4,
  finalRestore: 'latest',
};

test(`kill -9 chaos over a three-shard Kinesis stream resharded between runs (${describePlan(PLAN)})`, async () => {
  const tape = await makeChaosTape(path.join(workDir, 'tapes'), 'files', 5, EVENTS);
  await loadTapeStream(kinesis, tape.path, 'chaos-trades');
  const outDir = path.join(workDir, 'reference');
  await createSinkStreams(kinesis, 'reference');
  await runCliToEnd(['run', JOB_ALL, '-s', 'kinesis:chaos-trades', '-o', outDir, '-f', PLAN.format, '-p', '2', '-q', '--no-checkpoints', ...kinesisArguments(kinesis, 'reference')]);
  const reference = { tables: await readTables(outDir, PLAN.format), summary: await readSummary(outDir) };
  const sinks = await readSinks(kinesis, 'reference');
  expect(sinks.dlq.length).toBeGreaterThan(0);
  expect(sinks.alerts.length).toBeGreaterThan(0);

  const input = { source: 'kinesis:chaos-trades', tolerance: tape.tolerance, kinesis: { at: kinesis, stream: 'chaos-trades', reference: sinks, reshardBefore: 2 } };
  const outcome = await runSequence(PLAN, input, reference, path.join(workDir, 'sequence'));
  expect(outcome.problems, outcome.log.join('\n')).toEqual([]);
  expect(outcome.log.join('\n')).toMatch(/after splitting shardId-/);
}, RUN_TIMEOUT);
