// A live job keeps reading while its Kinesis stream is resharded: the children of a split shard are discovered
// while running and read after their parent, every record arrives once, per key in the order it was written,
// and the parent's end does not release the watermark ahead of its children.

import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { runJob } from '../../dist/runtime/index.js';
import { kinesisSource } from '../../dist/connectors/sources/kinesis.js';
import type { ReshardTrade, SeenTrade } from '../connectors/kinesis-reshard-job.js';
import { putRecords, splitShard, useLocalKinesis, type PutResult } from '../support/kinesis-streams.js';

const kinesis = useLocalKinesis('live-trades');
const JOB = join(import.meta.dirname, '..', 'connectors', 'kinesis-reshard-job.ts');
const PARENT = 'shardId-000000000000';
const KEYS = 20;

const trade = (id: number): ReshardTrade => ({ id, key: `k${id % KEYS}`, t: 1_738_749_600_000 + id * 10 });

async function put(stream: string, ids: readonly number[]): Promise<PutResult[]> {
  const trades = ids.map(trade);
  return putRecords(kinesis.client, stream, trades.map((t) => ({ text: JSON.stringify(t), partitionKey: t.key })));
}

/** Polls without a deadline of its own: the test timeout bounds it, and nothing here depends on speed. */
async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 50));
}

function rowsIn(dir: string): SeenTrade[][] {
  return readdirSync(dir)
    .filter((file) => file.endsWith('.jsonl'))
    .map((file) =>
      readFileSync(join(dir, file), 'utf8')
        .split('\n')
        .filter((line) => line.length > 0)
        .map((line) => JSON.parse(line) as SeenTrade),
    );
}

it('reads the children of a shard split while running after their parent, every record once and in key order', async () => {
  const stream = await kinesis.newStream(1);
  const before = await put(stream, Array.from({ length: 300 }, (_, i) => i));
  const out = mkdtempSync(join(tmpdir(), 'coattail-reshard-'));
  const controller = new AbortController();
  let recordsIn = 0;
  const logs: string[] = [];
  const run = runJob({
    jobFile: JOB,
    source: kinesisSource({ stream, endpoint: kinesis.endpoint, rediscoverMs: 300, pollMs: 200 }),
    outDir: out,
    format: 'jsonl',
    parallelism: 2,
    maxParallelism: 128,
    signal: controller.signal,
    statusIntervalMs: 50,
    onStatus: (status) => (recordsIn = status.recordsIn),
    log: (message) => logs.push(message),
  });
  const failed = run.then(
    () => 'the run ended before it was stopped',
    (error: unknown) => `the run failed: ${String(error)}`,
  );
  const until = async (condition: () => boolean) => {
    const outcome = await Promise.race([waitFor(condition).then(() => undefined), failed]);
    if (outcome !== undefined) throw new Error(outcome);
  };

  await until(() => recordsIn >= 300);
  await splitShard(kinesis.client, stream, PARENT);
  const after = await put(stream, Array.from({ length: 200 }, (_, i) => 300 + i));
  await until(() => recordsIn >= 500);
  controller.abort(); // what Ctrl-C does in the CLI
  const result = await run;

  expect(result.stopped).toBe(true);
  expect(result.summary.records_in).toBe(500);
  expect(logs.filter((line) => line.startsWith('new split')).map((line) => line.split(' ')[2])).toEqual([
    'shardId-000000000001',
    'shardId-000000000002',
  ]);
  expect(logs.filter((line) => line.includes('failed'))).toEqual([]);

  const landed = [...before, ...after];
  expect(before.every((record) => record.shardId === PARENT)).toBe(true);
  expect(new Set(after.map((record) => record.shardId))).toEqual(new Set(['shardId-000000000001', 'shardId-000000000002']));

  const files = rowsIn(join(out, 'seen'));
  const rows = files.flat();
  // Exactly once: every id, no repeats, each from the shard and sequence number it was written to.
  expect(rows.map((row) => row.id).sort((a, b) => a - b)).toEqual(landed.map((_, id) => id));
  for (const row of rows) {
    expect(row.source).toBe(`kinesis:${stream}/${landed[row.id]!.shardId}`);
    expect(row.offset).toBe(landed[row.id]!.sequenceNumber);
  }
  // One key lives in one subtask's file, in processing order: per key, the parent's records, then its child's.
  for (const file of files) {
    const byKey = new Map<string, number[]>();
    for (const row of file) byKey.set(row.key, [...(byKey.get(row.key) ?? []), row.id]);
    for (const ids of byKey.values()) expect(ids).toEqual([...ids].sort((a, b) => a - b));
  }
  // Event time grows with the id, so no record may see a watermark at or past its own time (a parent
  // ending before its children joined would have sent the watermark to +Infinity).
  expect(rows.filter((row) => !(Number(row.watermark) < row.t))).toEqual([]);
}, 180_000);
