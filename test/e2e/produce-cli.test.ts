// `coattail produce`: exchange feeds in, normalized trades out to a Kinesis stream, until Ctrl-C.

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand } from '@aws-sdk/client-kinesis';
import { startKinesalite, type RunningKinesalite } from '../support/kinesalite.js';
import { createStream, testClient } from '../support/kinesis-streams.js';
import { FakeBinance, waitUntil } from '../support/fake-exchanges.js';

const CLI = join(process.cwd(), 'bin', 'coattail.js');
let kinesis: RunningKinesalite;
let binance: FakeBinance;

beforeAll(async () => {
  kinesis = await startKinesalite();
  binance = await FakeBinance.start();
});
afterAll(async () => {
  await binance?.close();
  await kinesis?.stop();
});

it('forwards normalized Binance trades to Kinesis, partitioned by symbol, and stops cleanly on SIGINT', async () => {
  const client = testClient(kinesis.endpoint);
  await createStream(client, 'raw-trades', 1);
  const child = spawn(process.execPath, [CLI, 'produce', '--from', `binance:btcusdt,ethusdt?url=${binance.url}`, '--to', 'kinesis:raw-trades'], {
    env: { ...process.env, AWS_ENDPOINT_URL_KINESIS: kinesis.endpoint, AWS_REGION: 'us-east-1' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (data) => (stdout += String(data)));
  child.stderr.on('data', (data) => (stderr += String(data)));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

  await waitUntil(() => binance.openConnectionCount === 1, 'the producer to connect');
  binance.sendTrade({ symbol: 'BTCUSDT', tradeId: 7, price: '60000.5', quantity: '2', buyerIsMaker: true });
  binance.sendTrade({ symbol: 'ETHUSDT', tradeId: 8, price: '3000', quantity: '1' });

  const shard = (await client.send(new ListShardsCommand({ StreamName: 'raw-trades' }))).Shards![0]!.ShardId!;
  const iterator = (await client.send(new GetShardIteratorCommand({ StreamName: 'raw-trades', ShardId: shard, ShardIteratorType: 'TRIM_HORIZON' })))
    .ShardIterator!;
  let records: Array<{ data: Record<string, unknown>; partitionKey: string }> = [];
  for (let attempt = 0; attempt < 100 && records.length < 2; attempt++) {
    const output = await client.send(new GetRecordsCommand({ ShardIterator: iterator }));
    records = (output.Records ?? []).map((record) => ({
      data: JSON.parse(Buffer.from(record.Data!).toString('utf8')) as Record<string, unknown>,
      partitionKey: record.PartitionKey!,
    }));
    if (records.length < 2) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill('SIGINT');
  expect(await exited).toBe(0);
  expect(stderr).not.toContain('Error');
  expect(stdout).toContain('stopped:');
  expect(records.map((r) => r.partitionKey).sort()).toEqual(['BTC-USDT', 'ETH-USDT']);
  const btc = records.find((r) => r.partitionKey === 'BTC-USDT')!.data;
  expect(btc).toMatchObject({ event_id: 'binance-BTCUSDT-7', exchange: 'binance', symbol: 'BTC-USDT', price: 60000.5, quantity: 2, side: 'sell' });
}, 60_000);
