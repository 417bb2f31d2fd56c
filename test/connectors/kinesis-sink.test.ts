// The Kinesis sink against kinesalite: batched PutRecords, flush on checkpoint and finish, clear failures.
import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import { kinesisSink, kinesisSinkFromUri } from '../../connectors/sinks/kinesis-sink.js';
import { kinesisSource } from '../../connectors/sources/kinesis.js';
import type { SinkContext } from '../../runtime/api/sink.js';
import { drainBounded, useLocalKinesis } from '../support/kinesis-streams.js';
import { serveOnLoopback } from '../support/loopback-server.js';

const kinesis = useLocalKinesis('sink-stream');
const context: SinkContext = { subtaskIndex: 0, parallelism: 1, attemptId: 'a1', outDir: '/unused', format: 'jsonl' };

async function readBack(stream: string): Promise<Map<string, string[]>> {
  const drained = await drainBounded(kinesisSource({ stream, bounded: true, endpoint: kinesis.endpoint }));
  return new Map([...drained.splits].map(([shardId, split]) => [shardId, split.texts]));
}

interface Row {
  readonly symbol: string;
  readonly sequence: number;
}

describe('kinesis sink', () => {
  it('writes rows in batches that read back once each, in order per partition key', async () => {
    const stream = await kinesis.newStream(2);
    const factory = kinesisSink<Row>({ stream, partitionKey: (row) => row.symbol, endpoint: kinesis.endpoint });
    expect(factory.name).toBe(`kinesis:${stream}`);
    const writer = await factory.create(context);
    const rows = Array.from({ length: 1234 }, (_, index) => ({ symbol: `SYM${index % 7}-USD`, sequence: index }));
    await writer.write(rows.slice(0, 600));
    await writer.write(rows.slice(600));
    expect(await writer.finish()).toBe(1234);

    const shards = await readBack(stream);
    const read = [...shards.values()].flat().map((text) => JSON.parse(text) as Row);
    expect(read).toHaveLength(1234);
    expect(new Set(read.map((row) => row.sequence)).size).toBe(1234);
    for (const symbol of new Set(rows.map((row) => row.symbol))) {
      const sequences = read.filter((row) => row.symbol === symbol).map((row) => row.sequence);
      expect(sequences).toEqual([...sequences].sort((left, right) => left - right));
    }
  });

  it('sends buffered rows on a checkpoint barrier, before the checkpoint completes', async () => {
    const stream = await kinesis.newStream(1);
    const writer = await kinesisSink<string>({
      stream,
      partitionKey: (row) => row,
      serialize: (row) => `raw:${row}`,
      endpoint: kinesis.endpoint,
    }).create(context);
    await writer.write(['a', 'b']);
    expect((await readBack(stream)).get('shardId-000000000000')).toEqual([]);
    const pending = await writer.prepareCommit(1);
    expect((await readBack(stream)).get('shardId-000000000000')).toEqual(['raw:a', 'raw:b']);
    await writer.commit(pending);
    await writer.write(['c']);
    expect(await writer.finish()).toBe(3);
    expect((await readBack(stream)).get('shardId-000000000000')).toEqual(['raw:a', 'raw:b', 'raw:c']);
  });

  it('drops buffered rows on abort', async () => {
    const stream = await kinesis.newStream(1);
    const writer = await kinesisSink<string>({ stream, partitionKey: (row) => row, endpoint: kinesis.endpoint }).create(context);
    await writer.write(['lost']);
    await writer.abort();
    expect((await readBack(stream)).get('shardId-000000000000')).toEqual([]);
  });

  it('fails with a clear message when the stream does not exist', async () => {
    const writer = await kinesisSinkFromUri<string>('kinesis:missing-stream', (row) => row, {
      endpoint: kinesis.endpoint,
    }).create(context);
    await writer.write(['x']);
    const failure = await writer.finish().catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: 'SINK_FAILED' });
    expect((failure as Error).message).toContain('Kinesis stream "missing-stream" was not found at endpoint http://127.0.0.1:');
    expect((failure as Error).message).not.toContain('\n');
  });

  it('gives up with one line after its attempts when PutRecords never answers (headers sent, body stalled)', async () => {
    let calls = 0;
    const server = await serveOnLoopback(
      createServer((incoming, outgoing) => {
        incoming.resume();
        incoming.on('end', () => {
          calls++;
          outgoing.writeHead(200, { 'content-type': 'application/x-amz-json-1.1', 'content-length': '1000' });
          outgoing.write('{"Records":[');
        });
      }),
    );
    try {
      const writer = await kinesisSink<string>({ stream: 'stalled', partitionKey: (row) => row, endpoint: server.endpoint, maxAttempts: 3, requestTimeoutMs: 200 }).create(context);
      await writer.write(['a', 'b']);
      const failure = await writer.finish().catch((error: unknown) => error);
      expect(failure).toMatchObject({ code: 'SINK_FAILED' });
      expect((failure as Error).message).toBe(
        `Kinesis stream "stalled" rejected 2 of 2 records after 3 attempts (no answer from ${server.endpoint} within 200 ms)`,
      );
      expect(calls).toBe(3);
    } finally {
      await server.stop();
    }
  });

  it('rejects a partition key Kinesis would refuse', async () => {
    const stream = await kinesis.newStream(1);
    const writer = await kinesisSink<string>({ stream, partitionKey: () => '', endpoint: kinesis.endpoint }).create(context);
    await expect(Promise.resolve().then(() => writer.write(['x']))).rejects.toThrow(/partition key .* must be 1-256 characters/);
    await writer.abort();
  });
});
