// `coattail run` on a live exchange feed: garbage frames reach the --dlq Kinesis stream with their origin and
// offset, and the trades the feed missed (a jump in trade ids) are counted in _summary.json.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand } from '@aws-sdk/client-kinesis';
import { startKinesalite, type RunningKinesalite } from '../support/kinesalite.js';
import { createStream, testClient } from '../support/kinesis-streams.js';
import { FakeCoinbase } from '../support/fake-exchanges.js';

const CLI = join(process.cwd(), 'bin', 'coattail.js');
let kinesis: RunningKinesalite;
let coinbase: FakeCoinbase;

beforeAll(async () => {
  kinesis = await startKinesalite();
  coinbase = await FakeCoinbase.start();
});
afterAll(async () => {
  await coinbase?.close();
  await kinesis?.stop();
});

it('sends garbage frames of a live feed to the --dlq stream and counts the trades the feed missed in the summary', async () => {
  const client = testClient(kinesis.endpoint);
  await createStream(client, 'feed-dlq', 1);
  const work = mkdtempSync(join(tmpdir(), 'coattail-feeds-'));
  const out = join(work, 'out');
  const child = spawn(
    process.execPath,
    [CLI, 'run', 'jobs/all.ts', '-s', `coinbase:BTC-USD?url=${coinbase.url}`, '--dlq', 'kinesis:feed-dlq', '-o', out, '-f', 'jsonl', '-p', '1', '-q',
      '--checkpoint-dir', join(work, 'checkpoints'), '--checkpoint-interval', '100ms'],
    { env: { ...process.env, AWS_ENDPOINT_URL_KINESIS: kinesis.endpoint, AWS_REGION: 'us-east-1' } },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (data) => (stdout += String(data)));
  child.stderr.on('data', (data) => (stderr += String(data)));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

  // Starting the run (bundling the job, threads) may take long on a loaded machine: wait for it, not a fixed time.
  while (!(coinbase.subscribeMessages.length === 1 && coinbase.openConnectionCount === 1)) {
    if (child.exitCode !== null) throw new Error(`the run ended before subscribing: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  coinbase.sendMatch({ product: 'BTC-USD', side: 'buy' });
  coinbase.skipTrades('BTC-USD', 2);
  coinbase.sendMatch({ product: 'BTC-USD', side: 'sell' });
  coinbase.sendRaw('{"type":"match", garbage');

  // The DLQ stream receives the frame on the next checkpoint barrier; the run goes on until Ctrl-C.
  const shard = (await client.send(new ListShardsCommand({ StreamName: 'feed-dlq' }))).Shards![0]!.ShardId!;
  let iterator = (await client.send(new GetShardIteratorCommand({ StreamName: 'feed-dlq', ShardId: shard, ShardIteratorType: 'TRIM_HORIZON' })))
    .ShardIterator!;
  const dlqRows: Array<Record<string, unknown>> = [];
  for (let attempt = 0; attempt < 300 && dlqRows.length === 0 && child.exitCode === null; attempt++) {
    const output = await client.send(new GetRecordsCommand({ ShardIterator: iterator }));
    iterator = output.NextShardIterator!;
    for (const record of output.Records ?? []) dlqRows.push(JSON.parse(Buffer.from(record.Data!).toString('utf8')) as Record<string, unknown>);
    if (dlqRows.length === 0) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill('SIGINT');
  expect(await exited, stderr).toBe(0);

  expect(dlqRows).toHaveLength(1);
  expect(dlqRows[0]).toMatchObject({ reason: 'malformed', raw: '{"type":"match", garbage', source: 'coinbase:BTC-USD' });
  expect(String(dlqRows[0]!.offset)).toBe('2'); // the third frame of the split: trade, trade, garbage
  expect(stdout).toContain('stopped coat-tail-all');
  const summary = JSON.parse(readFileSync(join(out, '_summary.json'), 'utf8'));
  expect(summary.malformed).toBe(1);
  expect(summary.source_stats['coinbase:BTC-USD']).toMatchObject({ trades: 2, rawRecords: 1, tradeIdGaps: 1, missedTrades: 2, gapsBySymbol: { 'BTC-USD': 1 } });
}, 120_000);
