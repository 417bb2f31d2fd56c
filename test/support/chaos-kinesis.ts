// The Kinesis side of the chaos runner: the `files` chaos tape put into a three-shard kinesalite stream (one symbol
// group per shard, so a shard's records are in event-time order and no record's lateness depends on how the shards
// interleave), the DLQ written to a Kinesis stream and the alerts to a dynalite table per sequence, and what is
// read back of them to compare with an uninterrupted `--bounded` run.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';

import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { ListShardsCommand, type KinesisClient } from '@aws-sdk/client-kinesis';

import { kinesisSource } from '../../connectors/sources/kinesis.js';
import { awsClientConfig } from '../../connectors/aws-client.js';
import { startDynalite, type RunningDynalite } from './dynalite.js';
import { startKinesalite, type RunningKinesalite } from './kinesalite.js';
import { createStream, drainBounded, mergeShards, putRecords, splitShard, testClient } from './kinesis-streams.js';

/** Shards of a chaos stream: one per file of the `files` tape. */
export const CHAOS_SHARDS = 3;

export interface ChaosKinesis {
  readonly kinesis: RunningKinesalite;
  readonly dynamo: RunningDynalite;
  readonly client: KinesisClient;
  stop(): Promise<void>;
}

export async function startChaosKinesis(): Promise<ChaosKinesis> {
  const [kinesis, dynamo] = await Promise.all([startKinesalite(), startDynalite()]);
  const client = testClient(kinesis.endpoint);
  return {
    kinesis,
    dynamo,
    client,
    async stop() {
      client.destroy();
      await Promise.all([kinesis.stop(), dynamo.stop()]);
    },
  };
}

/** A hash key inside shard `index` of an evenly split `shards`-shard stream. */
function hashKeyOfShard(index: number, shards: number): string {
  return ((2n ** 128n / BigInt(shards)) * BigInt(index) + 1n).toString();
}

/** The lines of each file of a `files` tape folder, in file-name order (gzipped files unzipped). */
async function tapeFiles(folder: string): Promise<string[][]> {
  const names = (await readdir(folder)).sort();
  const files: string[][] = [];
  for (const name of names) {
    const bytes = await readFile(path.join(folder, name));
    const text = name.endsWith('.gz') ? gunzipSync(bytes).toString('utf8') : bytes.toString('utf8');
    files.push(text.split('\n').filter((line) => line !== ''));
  }
  return files;
}

/** Creates `stream` with one shard per file of the `files` tape folder and puts each file into its own shard. */
export async function loadTapeStream(kinesis: ChaosKinesis, tapeFolder: string, stream: string): Promise<number> {
  const files = await tapeFiles(tapeFolder);
  if (files.length !== CHAOS_SHARDS) throw new Error(`expected ${CHAOS_SHARDS} files in ${tapeFolder}, found ${files.length}`);
  await createStream(kinesis.client, stream, CHAOS_SHARDS);
  let count = 0;
  for (const [index, lines] of files.entries()) {
    const explicitHashKey = hashKeyOfShard(index, CHAOS_SHARDS);
    await putRecords(kinesis.client, stream, lines.map((text) => ({ text, partitionKey: `group-${index}`, explicitHashKey })));
    count += lines.length;
  }
  return count;
}

/** Splits one open shard of `stream` (picked by `pick`, 0..1): its children are empty, the contents stay the same. */
export async function splitOpenShard(kinesis: ChaosKinesis, stream: string, pick: number): Promise<string> {
  const listed = await kinesis.client.send(new ListShardsCommand({ StreamName: stream }));
  const open = (listed.Shards ?? []).filter((shard) => shard.SequenceNumberRange?.EndingSequenceNumber === undefined);
  const shard = open[Math.min(open.length - 1, Math.floor(pick * open.length))]!;
  await splitShard(kinesis.client, stream, shard.ShardId!);
  return shard.ShardId!;
}

/** Merges two open shards of `stream` with adjacent hash ranges (the pair picked by `pick`, 0..1); the contents stay the same. */
export async function mergeOpenShards(kinesis: ChaosKinesis, stream: string, pick: number): Promise<string> {
  const listed = await kinesis.client.send(new ListShardsCommand({ StreamName: stream }));
  const open = (listed.Shards ?? [])
    .filter((shard) => shard.SequenceNumberRange?.EndingSequenceNumber === undefined)
    .sort((a, b) => (BigInt(a.HashKeyRange!.StartingHashKey!) < BigInt(b.HashKeyRange!.StartingHashKey!) ? -1 : 1));
  const pairs = open.slice(1).map((shard, index) => [open[index]!, shard] as const);
  const adjacent = pairs.filter(([low, high]) => BigInt(low.HashKeyRange!.EndingHashKey!) + 1n === BigInt(high.HashKeyRange!.StartingHashKey!));
  if (adjacent.length === 0) throw new Error(`no two adjacent open shards in ${stream}`);
  const [low, high] = adjacent[Math.min(adjacent.length - 1, Math.floor(pick * adjacent.length))]!;
  await mergeShards(kinesis.client, stream, low.ShardId!, high.ShardId!);
  return `${low.ShardId} and ${high.ShardId}`;
}

/** Every record of a stream, as text, parents before children. */
export async function streamTexts(kinesis: ChaosKinesis, stream: string): Promise<string[]> {
  const drained = await drainBounded(kinesisSource({ stream, endpoint: kinesis.kinesis.endpoint, bounded: true }));
  return [...drained.splits.values()].flatMap((split) => split.texts);
}

/** The `alert_id`s of an alerts table. */
export async function alertIds(kinesis: ChaosKinesis, table: string): Promise<string[]> {
  const client = new DynamoDBClient(awsClientConfig('dynamodb', { endpoint: kinesis.dynamo.endpoint }));
  try {
    const ids: string[] = [];
    let start: Record<string, never> | undefined;
    do {
      const page = await client.send(new ScanCommand({ TableName: table, ConsistentRead: true, ExclusiveStartKey: start }));
      for (const item of page.Items ?? []) ids.push(item.alert_id!.S!);
      start = page.LastEvaluatedKey as Record<string, never> | undefined;
    } while (start);
    return ids.sort();
  } finally {
    client.destroy();
  }
}

/** The DLQ stream and alerts table of a run named `name` (stream and table names: a-z A-Z 0-9 _ . -). */
export function sinkNames(name: string): { dlq: string; alerts: string } {
  return { dlq: `${name}-dlq`, alerts: `${name}-alerts` };
}

export function kinesisArguments(kinesis: ChaosKinesis, name: string): string[] {
  const { dlq, alerts } = sinkNames(name);
  return [
    '--bounded',
    '--kinesis-endpoint',
    kinesis.kinesis.endpoint,
    '--dynamodb-endpoint',
    kinesis.dynamo.endpoint,
    '--dlq',
    `kinesis:${dlq}`,
    '--alerts',
    `dynamodb:${alerts}`,
  ];
}

/** The DLQ stream must exist before the run writes to it. */
export async function createSinkStreams(kinesis: ChaosKinesis, name: string): Promise<void> {
  await createStream(kinesis.client, sinkNames(name).dlq, 2);
}

/** What the DLQ stream and alerts table of a run hold. */
export interface KinesisSinks {
  readonly dlq: string[];
  readonly alerts: string[];
}

export async function readSinks(kinesis: ChaosKinesis, name: string): Promise<KinesisSinks> {
  const { dlq, alerts } = sinkNames(name);
  return { dlq: (await streamTexts(kinesis, dlq)).map(withoutReceivedAt), alerts: await alertIds(kinesis, alerts) };
}

/** A DLQ row without `received_at`, the wall-clock time it was rejected (it differs between runs). */
function withoutReceivedAt(text: string): string {
  const row = JSON.parse(text) as Record<string, unknown>;
  delete row.received_at;
  return JSON.stringify(row);
}

/**
 * Differences from the reference's sinks. The alerts table is keyed on `alert_id`: exactly the reference's ids.
 * The DLQ stream is at-least-once (docs/connectors-kinesis.md): every reference row at least once, no other row.
 */
export function sinkDifferences(actual: KinesisSinks, expected: KinesisSinks): string[] {
  const problems: string[] = [];
  const missingAlerts = expected.alerts.filter((id) => !actual.alerts.includes(id));
  const extraAlerts = actual.alerts.filter((id) => !expected.alerts.includes(id));
  if (missingAlerts.length + extraAlerts.length > 0) {
    problems.push(`alerts table: ${missingAlerts.length} missing, ${extraAlerts.length} extra: ${[...missingAlerts, ...extraAlerts].slice(0, 3).join(' ; ')}`);
  }
  const actualRows = new Set(actual.dlq);
  const expectedRows = new Set(expected.dlq);
  const missingRows = [...expectedRows].filter((row) => !actualRows.has(row));
  const extraRows = [...actualRows].filter((row) => !expectedRows.has(row));
  if (missingRows.length + extraRows.length > 0) {
    problems.push(`DLQ stream: ${missingRows.length} missing, ${extraRows.length} not in the reference: ${[...missingRows, ...extraRows].slice(0, 2).join(' ; ')}`);
  }
  return problems;
}
