// Kinesis calls that never complete: every call of the source has a deadline (response body included), a
// timed-out call is asked again a bounded number of times, and then the source fails with one line.
import { createServer, request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { kinesisSource } from '../../connectors/sources/kinesis.js';
import type { SourceChunk, SplitReader } from '../../runtime/api/source.js';
import { serveOnLoopback, type RunningServer } from '../support/loopback-server.js';
import { drainBounded, putRecords, useLocalKinesis } from '../support/kinesis-streams.js';

const kinesis = useLocalKinesis('timeout-stream');
/** Short enough that three timeouts pass quickly; nothing in the tests depends on how long they take. */
const REQUEST_TIMEOUT_MS = 200;

/** `silent`: never answer; `headers`: answer the headers and part of the body, then nothing. */
type Stall = 'silent' | 'headers' | undefined;

let proxy: RunningServer | undefined;
afterEach(async () => {
  await proxy?.stop();
  proxy = undefined;
});

/** A proxy in front of kinesalite that stalls the requests `stall` picks by action (e.g. `GetRecords`). */
async function stallingProxy(stall: (action: string) => Stall): Promise<string> {
  const upstream = new URL(kinesis.endpoint);
  const server = createServer((incoming, outgoing) => {
    const body: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => body.push(chunk));
    incoming.on('end', () => {
      const action = String(incoming.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
      const how = stall(action);
      if (how === 'silent') return;
      if (how === 'headers') {
        outgoing.writeHead(200, { 'content-type': 'application/x-amz-json-1.1', 'content-length': '1000' });
        outgoing.write('{"Records":[');
        return;
      }
      const forward = request(
        { host: upstream.hostname, port: upstream.port, method: incoming.method, path: incoming.url, headers: incoming.headers },
        (answer) => {
          outgoing.writeHead(answer.statusCode ?? 500, answer.headers);
          answer.pipe(outgoing);
        },
      );
      forward.on('error', () => outgoing.destroy());
      forward.end(Buffer.concat(body));
    });
  });
  proxy = await serveOnLoopback(server);
  return proxy.endpoint;
}

/** The next chunk with records, skipping the empty chunks a waiting reader hands on. */
async function nextRecords(reader: SplitReader): Promise<SourceChunk | undefined> {
  for (;;) {
    const chunk = await reader.next();
    if (chunk === undefined || (chunk.payload.kind === 'records' && chunk.payload.texts.length > 0)) return chunk;
  }
}

describe('kinesis source with a stuck endpoint', () => {
  it('ends discovery with one clear line when the endpoint accepts connections and never answers', async () => {
    const endpoint = await stallingProxy(() => 'silent');
    const source = kinesisSource({ stream: 'trades', endpoint, requestTimeoutMs: REQUEST_TIMEOUT_MS });
    const failure = (await source.discoverSplits().catch((error: unknown) => error)) as Error & { code?: string };
    expect(failure.code).toBe('ENDPOINT_UNREACHABLE');
    expect(failure.message).toBe(
      `Listing the shards of Kinesis stream "trades" failed: endpoint ${endpoint} is unreachable (ETIMEDOUT) after 3 attempts`,
    );
  });

  it('fails a shard with one clear line when GetRecords sends its headers and then stalls', async () => {
    const stream = await kinesis.newStream(1);
    await putRecords(kinesis.client, stream, [{ text: 'a' }]);
    const endpoint = await stallingProxy((action) => (action === 'GetRecords' ? 'headers' : undefined));
    const source = kinesisSource({ stream, endpoint, requestTimeoutMs: REQUEST_TIMEOUT_MS });
    const [split] = await source.discoverSplits();
    const reader = await source.openSplit(split!, undefined);
    const failure = (await nextRecords(reader).catch((error: unknown) => error)) as Error & { code?: string };
    expect(failure.code).toBe('ENDPOINT_UNREACHABLE');
    expect(failure.message).toBe(
      `Reading shard shardId-000000000000 of Kinesis stream "${stream}" failed: endpoint ${endpoint} is unreachable (ETIMEDOUT) after 3 attempts`,
    );
    await reader.close();
  });

  it('asks again after a call times out and reads every record once', async () => {
    const stream = await kinesis.newStream(2);
    const records = Array.from({ length: 50 }, (_, index) => ({ text: `r${index}` }));
    await putRecords(kinesis.client, stream, records);
    const stalled = new Map<string, number>();
    // The first ListShards, GetShardIterator and GetRecords each time out once; everything after is answered.
    const endpoint = await stallingProxy((action) => {
      const count = (stalled.get(action) ?? 0) + 1;
      stalled.set(action, count);
      if (count > 1) return undefined;
      return action === 'GetRecords' ? 'headers' : action === 'ListShards' || action === 'GetShardIterator' ? 'silent' : undefined;
    });
    const source = kinesisSource({ stream, endpoint, bounded: true, requestTimeoutMs: REQUEST_TIMEOUT_MS });
    const drained = await drainBounded(source);
    const texts = [...drained.splits.values()].flatMap((split) => split.texts);
    expect(texts.sort()).toEqual(records.map((record) => record.text).sort());
    expect(stalled.get('ListShards')).toBeGreaterThan(1);
    expect(stalled.get('GetRecords')).toBeGreaterThan(1);
  });
});
