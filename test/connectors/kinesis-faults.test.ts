// Kinesis failure handling: expired iterators, throttling, per-shard limits, partial PutRecords failures, dead endpoints.
import { createServer, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { KinesisClient, PutRecordsCommandInput, PutRecordsResultEntry } from '@aws-sdk/client-kinesis';
import { kinesisSink } from '../../connectors/sinks/kinesis-sink.js';
import { kinesisSource } from '../../connectors/sources/kinesis.js';
import type { SinkContext } from '../../runtime/api/sink.js';
import { drainBounded, putRecords, testClient, useLocalKinesis } from '../support/kinesis-streams.js';

const kinesis = useLocalKinesis('fault-stream');
const context: SinkContext = { subtaskIndex: 0, parallelism: 1, attemptId: 'a1', outDir: '/unused', format: 'jsonl' };

interface Call {
  readonly command: string;
  readonly input: Record<string, unknown>;
  readonly at: number;
}

type Fault = (call: Call, calls: readonly Call[]) => Error | undefined;

/** A client whose requests are recorded and may be failed before they reach kinesalite (and the SDK's retries). */
function faultyClient(fault: Fault): { client: KinesisClient; calls: Call[] } {
  const faulty = testClient(kinesis.endpoint);
  const calls: Call[] = [];
  faulty.middlewareStack.add(
    (next, handlerContext) => async (args) => {
      const call = { command: String(handlerContext.commandName), input: { ...(args.input as object) }, at: Date.now() };
      calls.push(call);
      const error = fault(call, calls);
      if (error) throw error;
      return next(args);
    },
    { step: 'initialize', name: 'injectFaults' },
  );
  return { client: faulty, calls };
}

function awsError(name: string, message: string): Error {
  return Object.assign(new Error(message), { name, $fault: 'client' });
}

describe('kinesis source under faults', () => {
  it('renews an expired iterator after the last sequence number read, losing and repeating nothing', async () => {
    const stream = await kinesis.newStream(1);
    const first = await putRecords(kinesis.client, stream, ['a', 'b', 'c'].map((text) => ({ text })));
    let getRecordsCalls = 0;
    const { client: faulty, calls } = faultyClient((call) => {
      if (call.command === 'GetRecordsCommand' && ++getRecordsCalls === 2) {
        return awsError('ExpiredIteratorException', 'Iterator expired.');
      }
      return undefined;
    });
    const source = kinesisSource({ stream, client: faulty, pollMs: 200 });
    const [split] = await source.discoverSplits();
    const reader = await source.openSplit(split!, undefined);
    expect((await reader.next())?.payload).toMatchObject({ texts: ['a', 'b', 'c'] });
    await putRecords(kinesis.client, stream, ['d', 'e'].map((text) => ({ text })));
    let chunk = await reader.next();
    while (chunk?.payload.kind === 'records' && chunk.payload.texts.length === 0) chunk = await reader.next();
    expect(chunk?.payload).toMatchObject({ texts: ['d', 'e'] });
    await reader.close();
    const iteratorRequests = calls.filter((call) => call.command === 'GetShardIteratorCommand').map((call) => call.input);
    expect(iteratorRequests).toEqual([
      expect.objectContaining({ ShardIteratorType: 'TRIM_HORIZON' }),
      expect.objectContaining({ ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: first[2]?.sequenceNumber }),
    ]);
    faulty.destroy();
  });

  it('backs off on ProvisionedThroughputExceededException and keeps reading', async () => {
    const stream = await kinesis.newStream(1);
    await putRecords(kinesis.client, stream, ['a', 'b'].map((text) => ({ text })));
    let throttled = 0;
    const { client: faulty, calls } = faultyClient((call) =>
      call.command === 'GetRecordsCommand' && throttled++ < 2
        ? awsError('ProvisionedThroughputExceededException', 'Rate exceeded for shard shardId-000000000000')
        : undefined,
    );
    const drained = await drainBounded(kinesisSource({ stream, bounded: true, client: faulty }));
    expect(drained.splits.get('shardId-000000000000')?.texts).toEqual(['a', 'b']);
    expect(calls.filter((call) => call.command === 'GetRecordsCommand')).toHaveLength(3);
    faulty.destroy();
  });

  it('asks for at most 10,000 records a call and makes at most 5 calls a second per shard', async () => {
    const stream = await kinesis.newStream(1);
    await putRecords(kinesis.client, stream, Array.from({ length: 12_000 }, (_, index) => ({ text: `r${index}` })));
    const { client: faulty, calls } = faultyClient(() => undefined);
    const drained = await drainBounded(kinesisSource({ stream, bounded: true, client: faulty }));
    expect(drained.splits.get('shardId-000000000000')?.texts).toHaveLength(12_000);
    const reads = calls.filter((call) => call.command === 'GetRecordsCommand');
    expect(reads.length).toBe(2);
    for (const read of reads) expect(read.input.Limit).toBe(10_000);
    for (let index = 1; index < reads.length; index++) {
      // Timers may fire a millisecond early; the limit is 200 ms between calls.
      expect(reads[index]!.at - reads[index - 1]!.at).toBeGreaterThanOrEqual(198);
    }
    faulty.destroy();
  });
});

describe('kinesis sink under faults', () => {
  /** Rejects the chosen entries as Kinesis does (the rest are written), on the chosen PutRecords calls. */
  function rejectingClient(reject: (attempt: number, index: number) => boolean) {
    const faulty = testClient(kinesis.endpoint);
    const sizes: number[] = [];
    faulty.middlewareStack.add(
      (next, handlerContext) => async (args) => {
        if (handlerContext.commandName !== 'PutRecordsCommand') return next(args);
        const input = args.input as PutRecordsCommandInput;
        const attempt = sizes.length;
        const entries = input.Records ?? [];
        sizes.push(entries.length);
        const kept = entries.filter((_, index) => !reject(attempt, index));
        const written = kept.length > 0 ? await next({ ...args, input: { ...input, Records: kept } }) : undefined;
        const writtenResults = [...(((written?.output as { Records?: PutRecordsResultEntry[] })?.Records) ?? [])];
        const results = entries.map((_, index) =>
          reject(attempt, index)
            ? { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'Rate exceeded for shard shardId-000000000000' }
            : writtenResults.shift(),
        );
        const failed = results.filter((result) => result?.ErrorCode).length;
        return { response: written?.response, output: { $metadata: {}, FailedRecordCount: failed, Records: results } } as never;
      },
      { step: 'initialize', name: 'rejectEntries' },
    );
    return { client: faulty, sizes };
  }

  it('retries only the entries Kinesis rejected, so every row arrives once', async () => {
    const stream = await kinesis.newStream(1);
    const { client: faulty, sizes } = rejectingClient((attempt, index) => attempt === 0 && (index === 1 || index === 3));
    const writer = await kinesisSink<string>({ stream, partitionKey: (row) => row, client: faulty }).create(context);
    await writer.write(['r0', 'r1', 'r2', 'r3', 'r4']);
    expect(await writer.finish()).toBe(5);
    expect(sizes).toEqual([5, 2]);
    const drained = await drainBounded(kinesisSource({ stream, bounded: true, endpoint: kinesis.endpoint }));
    const texts = drained.splits.get('shardId-000000000000')?.texts.map((text) => JSON.parse(text) as string);
    expect(texts?.sort()).toEqual(['r0', 'r1', 'r2', 'r3', 'r4']);
    faulty.destroy();
  });

  it('gives up after a bounded number of attempts with a clear message', async () => {
    const stream = await kinesis.newStream(1);
    const { client: faulty, sizes } = rejectingClient((_attempt, index) => index === 0);
    const writer = await kinesisSink<string>({ stream, partitionKey: (row) => row, client: faulty, maxAttempts: 3 }).create(context);
    await writer.write(['stuck', 'b', 'c']);
    const failure = await writer.finish().catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: 'SINK_FAILED' });
    expect((failure as Error).message).toBe(
      `Kinesis stream "${stream}" rejected 1 of 3 records after 3 attempts (ProvisionedThroughputExceededException: Rate exceeded for shard shardId-000000000000)`,
    );
    expect(sizes).toEqual([3, 1, 1]);
    faulty.destroy();
  });
});

describe('an unreachable Kinesis endpoint', () => {
  async function closedPort(): Promise<number> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return port;
  }

  it('fails the source and the sink with one clear line that names the endpoint and no secret', async () => {
    const port = await closedPort();
    const endpoint = `http://127.0.0.1:${port}`;
    const secret = process.env.AWS_SECRET_ACCESS_KEY ?? '';
    const source = kinesisSource({ stream: 'trades', endpoint });
    const sourceFailure = (await source.discoverSplits().catch((error: unknown) => error)) as Error & { code?: string };
    expect(sourceFailure.code).toBe('ENDPOINT_UNREACHABLE');
    expect(sourceFailure.message).toBe(
      `Listing the shards of Kinesis stream "trades" failed: endpoint ${endpoint} is unreachable (ECONNREFUSED) after 3 attempts`,
    );

    const writer = await kinesisSink<string>({ stream: 'trades', partitionKey: (row) => row, endpoint }).create(context);
    await writer.write(['x']);
    const sinkFailure = (await writer.finish().catch((error: unknown) => error)) as Error & { code?: string };
    expect(sinkFailure.code).toBe('ENDPOINT_UNREACHABLE');
    expect(sinkFailure.message).toBe(
      `Writing to Kinesis stream "trades" failed: endpoint ${endpoint} is unreachable (ECONNREFUSED) after 3 attempts`,
    );
    for (const message of [sourceFailure.message, sinkFailure.message]) {
      expect(secret.length).toBeGreaterThan(0);
      expect(message).not.toContain(secret);
    }
  });
});
