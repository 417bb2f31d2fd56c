// A live job keeps reading when a Kinesis stream is resharded under it: new child shards are discovered,
// read after their parent, and every record is processed once.

import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runJob } from '../../dist/runtime/index.js';
import { kinesisSource } from '../../dist/connectors/sources/kinesis.js';
import { startKinesalite, type RunningKinesalite } from '../support/kinesalite.js';
import { createStream, putRecords, splitShard, testClient } from '../support/kinesis-streams.js';

let kinesis: RunningKinesalite;
beforeAll(async () => {
  kinesis = await startKinesalite();
});
afterAll(async () => {
  await kinesis?.stop();
});

const trade = (index: number) =>
  JSON.stringify({
    event_id: `e-${index}`,
    exchange: index % 2 ? 'binance' : 'coinbase',
    symbol: 'BTC-USDT',
    price: 60_000,
    quantity: 0.5,
    side: 'buy',
    timestamp: 1_738_749_600_000 + index * 10,
  });

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 600 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 100));
  if (!condition()) throw new Error(`timed out waiting for ${what}`);
}

it('discovers child shards while running and reads them after their parent', async () => {
  const client = testClient(kinesis.endpoint);
  await createStream(client, 'live-trades', 1);
  await putRecords(client, 'live-trades', Array.from({ length: 300 }, (_, i) => ({ text: trade(i) })));
  const out = mkdtempSync(join(tmpdir(), 'coattail-reshard-'));
  const controller = new AbortController();
  let recordsIn = 0;
  const logs: string[] = [];
  const run = runJob({
    jobFile: 'jobs/whale.ts',
    source: kinesisSource({ stream: 'live-trades', endpoint: kinesis.endpoint, rediscoverMs: 300, pollMs: 200, idleMs: 1000 }),
    outDir: out,
    format: 'jsonl',
    parallelism: 2,
    maxParallelism: 128,
    signal: controller.signal,
    statusIntervalMs: 100,
    onStatus: (status) => (recordsIn = status.recordsIn),
    log: (message) => logs.push(message),
  });
  await waitFor(() => recordsIn >= 300, 'the first 300 records');
  await splitShard(client, 'live-trades', 'shardId-000000000000');
  await putRecords(client, 'live-trades', Array.from({ length: 200 }, (_, i) => ({ text: trade(300 + i), partitionKey: `k${i}` })));
  await waitFor(() => recordsIn >= 500, 'the records put after the split');
  controller.abort();
  const result = await run;
  expect(result.summary.records_in).toBe(500);
  expect(result.summary.passed).toBe(500);
  expect(logs.filter((line) => line.startsWith('new split')).length).toBe(2);
  expect(readdirSync(join(out, 'dlq')).filter((f) => f.endsWith('.jsonl')).map((f) => readFileSync(join(out, 'dlq', f), 'utf8')).join('')).toBe('');
}, 120_000);
