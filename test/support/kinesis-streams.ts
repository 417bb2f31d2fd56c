// Test helpers for Kinesis: create streams, put records, and drain a source the way the engine schedules splits.
import { afterAll, beforeAll } from 'vitest';
import { startKinesalite } from './kinesalite.js';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  ListShardsCommand,
  MergeShardsCommand,
  PutRecordsCommand,
  SplitShardCommand,
} from '@aws-sdk/client-kinesis';
import type { Source, SplitPosition } from '../../runtime/api/source.js';
import { awsClientConfig } from '../../connectors/aws-client.js';

/** Hash keys that land in the first and the last shard of an evenly split stream. */
export const LOWEST_HASH_KEY = '0';
export const HIGHEST_HASH_KEY = (2n ** 128n - 1n).toString();

export function testClient(endpoint: string): KinesisClient {
  return new KinesisClient(awsClientConfig('kinesis', { endpoint }));
}

export async function waitUntilActive(client: KinesisClient, stream: string): Promise<void> {
  for (;;) {
    const summary = await client.send(new DescribeStreamSummaryCommand({ StreamName: stream }));
    if (summary.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export async function createStream(client: KinesisClient, stream: string, shardCount: number): Promise<void> {
  await client.send(new CreateStreamCommand({ StreamName: stream, ShardCount: shardCount }));
  await waitUntilActive(client, stream);
}

export interface PutRecord {
  readonly text: string | Uint8Array;
  readonly partitionKey?: string;
  readonly explicitHashKey?: string;
}

export interface PutResult {
  readonly text: string | Uint8Array;
  readonly shardId: string;
  readonly sequenceNumber: string;
}

/** Puts records in order (one request per 500) and returns where each landed. */
export async function putRecords(client: KinesisClient, stream: string, records: readonly PutRecord[]): Promise<PutResult[]> {
  const results: PutResult[] = [];
  for (let start = 0; start < records.length; start += 500) {
    const batch = records.slice(start, start + 500);
    const output = await client.send(
      new PutRecordsCommand({
        StreamName: stream,
        Records: batch.map((record, index) => ({
          Data: typeof record.text === 'string' ? Buffer.from(record.text, 'utf8') : record.text,
          PartitionKey: record.partitionKey ?? `key-${start + index}`,
          ExplicitHashKey: record.explicitHashKey,
        })),
      }),
    );
    if (output.FailedRecordCount) throw new Error(`test setup: ${output.FailedRecordCount} records were rejected`);
    batch.forEach((record, index) => {
      const result = output.Records?.[index];
      results.push({ text: record.text, shardId: result?.ShardId ?? '', sequenceNumber: result?.SequenceNumber ?? '' });
    });
  }
  return results;
}

/** Splits a shard in two halves of its hash range and waits until both children exist. */
export async function splitShard(client: KinesisClient, stream: string, shardId: string): Promise<void> {
  const listed = await client.send(new ListShardsCommand({ StreamName: stream }));
  const shard = listed.Shards?.find((candidate) => candidate.ShardId === shardId);
  if (!shard?.HashKeyRange?.StartingHashKey || !shard.HashKeyRange.EndingHashKey) throw new Error(`test setup: no ${shardId}`);
  const middle = (BigInt(shard.HashKeyRange.StartingHashKey) + BigInt(shard.HashKeyRange.EndingHashKey)) / 2n;
  await client.send(new SplitShardCommand({ StreamName: stream, ShardToSplit: shardId, NewStartingHashKey: middle.toString() }));
  for (;;) {
    await waitUntilActive(client, stream);
    const after = await client.send(new ListShardsCommand({ StreamName: stream }));
    if (after.Shards?.some((candidate) => candidate.ParentShardId === shardId)) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Merges two open shards with adjacent hash ranges into one and waits until the child exists. */
export async function mergeShards(client: KinesisClient, stream: string, shardId: string, adjacentShardId: string): Promise<void> {
  await client.send(new MergeShardsCommand({ StreamName: stream, ShardToMerge: shardId, AdjacentShardToMerge: adjacentShardId }));
  for (;;) {
    await waitUntilActive(client, stream);
    const after = await client.send(new ListShardsCommand({ StreamName: stream }));
    if (after.Shards?.some((candidate) => candidate.ParentShardId === shardId && candidate.AdjacentParentShardId === adjacentShardId)) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export interface DrainedSplit {
  readonly origin: string;
  readonly texts: string[];
  readonly offsets: (number | string)[];
  endPosition: SplitPosition | undefined;
}

export interface Drained {
  readonly splits: Map<string, DrainedSplit>;
  /** Split ids in the order their readers were opened; a child is opened only after its parents ended. */
  readonly openOrder: string[];
}

/** Reads a bounded source to its end, opening a split only once its parents are finished (as the engine does). */
export async function drainBounded(source: Source, positions: ReadonlyMap<string, SplitPosition> = new Map()): Promise<Drained> {
  const splits = await source.discoverSplits();
  const finished = new Set<string>();
  const drained: Drained = { splits: new Map(), openOrder: [] };
  let remaining = [...splits];
  while (remaining.length > 0) {
    const ready = remaining.filter((split) => (source.parentsOf?.(split) ?? []).every((parent) => finished.has(parent)));
    if (ready.length === 0) throw new Error('parents that never finish');
    remaining = remaining.filter((split) => !ready.includes(split));
    await Promise.all(
      ready.map(async (split) => {
        drained.openOrder.push(split.splitId);
        const reader = await source.openSplit(split, positions.get(split.splitId));
        const result: DrainedSplit = { origin: split.origin, texts: [], offsets: [], endPosition: undefined };
        drained.splits.set(split.splitId, result);
        for (let chunk = await reader.next(); chunk !== undefined; chunk = await reader.next()) {
          if (chunk.payload.kind !== 'records') throw new Error('expected a records chunk');
          result.texts.push(...chunk.payload.texts);
          result.offsets.push(...chunk.payload.offsets);
          result.endPosition = chunk.endPosition;
        }
        await reader.close();
        finished.add(split.splitId);
      }),
    );
  }
  return drained;
}

/** A kinesalite for the whole test file, with a client and a way to make fresh streams. */
export interface LocalKinesis {
  readonly endpoint: string;
  readonly client: KinesisClient;
  newStream(shards: number): Promise<string>;
}

export function useLocalKinesis(streamPrefix: string): LocalKinesis {
  let server: Awaited<ReturnType<typeof startKinesalite>> | undefined;
  let client: KinesisClient | undefined;
  let streamCount = 0;
  beforeAll(async () => {
    server = await startKinesalite();
    client = testClient(server.endpoint);
  });
  afterAll(async () => {
    client?.destroy();
    await server?.stop();
  });
  return {
    get endpoint() {
      return server!.endpoint;
    },
    get client() {
      return client!;
    },
    async newStream(shards) {
      const stream = `${streamPrefix}-${++streamCount}`;
      await createStream(client!, stream, shards);
      return stream;
    },
  };
}
