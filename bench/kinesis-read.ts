// Measures Kinesis throughput against a local kinesalite: put N trades with the sink, read them back in bounded mode.
// Usage: node dist/bench/kinesis-read.js [--records 50000] [--shards 1,4]
import { performance } from 'node:perf_hooks';
import { kinesisSink } from '../connectors/sinks/kinesis-sink.js';
import { kinesisSource } from '../connectors/sources/kinesis.js';
import { startKinesalite } from '../test/support/kinesalite.js';
import { createStream, drainBounded, testClient } from '../test/support/kinesis-streams.js';

interface Row {
  readonly shards: number;
  readonly records: number;
  readonly writeSeconds: number;
  readonly readSeconds: number;
}

function option(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? (process.argv[index + 1] ?? fallback) : fallback;
}

/** A trade in the unified schema, about 230 bytes of JSON, like the production tape. */
function trade(index: number): Record<string, unknown> {
  const symbols = ['BTC-USDT', 'ETH-USDT', 'SOL-USDT', 'XRP-USDT'];
  const time = new Date(Date.UTC(2024, 0, 1) + index * 4).toISOString();
  const price = 100 + (index % 1000) / 10;
  const quantity = 1 + (index % 17);
  return {
    event_id: `bench-${index}`,
    exchange: index % 2 === 0 ? 'binance' : 'coinbase',
    symbol: symbols[index % symbols.length],
    price,
    quantity,
    quote_volume: price * quantity,
    side: index % 3 === 0 ? 'sell' : 'buy',
    timestamp: time,
    ingestion_timestamp: time,
  };
}

async function measure(endpoint: string, shards: number, records: number): Promise<Row> {
  const stream = `bench-${shards}-${Date.now()}`;
  const client = testClient(endpoint);
  await createStream(client, stream, shards);
  client.destroy();

  const writeStart = performance.now();
  const writer = await kinesisSink<Record<string, unknown>>({
    stream,
    endpoint,
    partitionKey: (row) => String(row.event_id),
  }).create({ subtaskIndex: 0, parallelism: 1, attemptId: 'bench', outDir: '', format: 'jsonl' });
  for (let start = 0; start < records; start += 5_000) {
    await writer.write(Array.from({ length: Math.min(5_000, records - start) }, (_, offset) => trade(start + offset)));
  }
  await writer.finish();
  const writeSeconds = (performance.now() - writeStart) / 1000;

  const readStart = performance.now();
  const drained = await drainBounded(kinesisSource({ stream, bounded: true, endpoint }));
  const readSeconds = (performance.now() - readStart) / 1000;
  const read = [...drained.splits.values()].reduce((sum, split) => sum + split.texts.length, 0);
  if (read !== records) throw new Error(`read ${read} records, expected ${records}`);
  return { shards, records, writeSeconds, readSeconds };
}

async function main(): Promise<void> {
  const records = Number(option('records', '50000'));
  const shardCounts = option('shards', '1,4').split(',').map(Number);
  const kinesalite = await startKinesalite();
  const rows: Row[] = [];
  try {
    for (const shards of shardCounts) rows.push(await measure(kinesalite.endpoint, shards, records));
  } finally {
    await kinesalite.stop();
  }
  const rate = (count: number, seconds: number) => Math.round(count / seconds).toLocaleString('en-US');
  console.log('| shards | records | sink write s | sink records/s | bounded read s | read records/s |');
  console.log('|---:|---:|---:|---:|---:|---:|');
  for (const row of rows) {
    console.log(
      `| ${row.shards} | ${row.records.toLocaleString('en-US')} | ${row.writeSeconds.toFixed(2)} | ${rate(row.records, row.writeSeconds)} | ${row.readSeconds.toFixed(2)} | ${rate(row.records, row.readSeconds)} |`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
});
