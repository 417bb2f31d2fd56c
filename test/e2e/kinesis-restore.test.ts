// kill -9 of a job reading Kinesis into S3 tables and the DynamoDB alerts table, then --restore: the tables hold
// exactly the rows of an uninterrupted run (Kinesis resumes AFTER_SEQUENCE_NUMBER, S3 parts commit once), and
// the alerts table holds one item per alert_id although re-emitted alerts carry a later detected_at.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, expect, test } from 'vitest';

import { startKinesalite, type RunningKinesalite } from '../support/kinesalite.js';
import { startDynalite, type RunningDynalite } from '../support/dynalite.js';
import { startS3Server, type TestS3Server } from '../support/s3-server.js';
import { downloadPrefix } from '../support/s3-objects.js';
import { createStream, putRecords, testClient } from '../support/kinesis-streams.js';
import { assertBuilt, generateTape, RUN_TIMEOUT, runCliToEnd } from './support/cli.js';
import { MissedMoment, runArguments, stopRunAt, type RunPlace } from './support/checkpointed-run.js';
import { comparableSummary, hiddenPartFiles, readSummary, readTables, tableDifferences } from './support/tables.js';

const EVENTS = 20_000;

let kinesis: RunningKinesalite;
let dynamo: RunningDynalite;
let s3: TestS3Server;
let workDir: string;

beforeAll(async () => {
  assertBuilt();
  [kinesis, dynamo, s3] = await Promise.all([startKinesalite(), startDynalite(), startS3Server('coattail-restore')]);
  workDir = await mkdtemp(path.join(os.tmpdir(), 'coattail-kinesis-restore-'));
}, RUN_TIMEOUT);

afterAll(async () => {
  await Promise.all([kinesis?.stop(), dynamo?.stop(), s3?.stop()]);
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

/** The summary without run fields and without the row count of the alerts table, whose name differs per run. */
function withoutStoreRows(summary: Record<string, unknown>): Record<string, unknown> {
  const rows = Object.entries(summary.rows as Record<string, number>).filter(([name]) => !name.startsWith('dynamodb:'));
  return { ...comparableSummary(summary), rows: Object.fromEntries(rows) };
}

async function alertItems(table: string): Promise<Array<{ alertId: string; detectedAt: string }>> {
  const client = new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'us-east-1' });
  try {
    const items: Array<{ alertId: string; detectedAt: string }> = [];
    let start: Record<string, never> | undefined;
    do {
      const page = await client.send(new ScanCommand({ TableName: table, ConsistentRead: true, ExclusiveStartKey: start }));
      for (const item of page.Items ?? []) items.push({ alertId: item.alert_id!.S!, detectedAt: item.detected_at!.S! });
      start = page.LastEvaluatedKey as Record<string, never> | undefined;
    } while (start);
    return items;
  } finally {
    client.destroy();
  }
}

test('kill -9 and --restore of a Kinesis job writing S3 tables and DynamoDB alerts gives the uninterrupted result', async () => {
  const tape = path.join(workDir, 'tape.jsonl');
  await generateTape(tape, EVENTS, 11);
  const lines = (await readFile(tape, 'utf8')).split('\n').filter((line) => line !== '');
  const client = testClient(kinesis.endpoint);
  await createStream(client, 'trades', 2);
  await putRecords(client, 'trades', lines.map((text, index) => ({ text, partitionKey: `p${index % 7}` })));
  const endpoints = ['--kinesis-endpoint', kinesis.endpoint, '--dynamodb-endpoint', dynamo.endpoint];

  const reference = path.join(workDir, 'reference');
  await runCliToEnd(['run', 'jobs/all.ts', '-s', 'kinesis:trades', '--bounded', '-o', reference, '-f', 'jsonl', '-p', '2', '-q', '--no-checkpoints',
    ...endpoints, '--alerts', 'dynamodb:reference-alerts']);
  const expectedSummary = await readSummary(reference);
  expect(expectedSummary.records_in).toBe(lines.length);

  // A bounded run may end before the kill on a fast machine: then try again in fresh places. (A live first run
  // cannot be restored with --bounded: a live job has a console sink for alerts that a bounded job has not.)
  let attempt = 0;
  let place: RunPlace;
  let alerts: string[];
  for (;;) {
    attempt += 1;
    place = {
      tape,
      source: 'kinesis:trades',
      outDir: `s3://${s3.bucket}/restored-${attempt}`,
      checkpointDir: path.join(workDir, `checkpoints-${attempt}`),
      format: 'jsonl',
      s3Endpoint: s3.endpoint,
    };
    alerts = ['--alerts', `dynamodb:restored-alerts-${attempt}`];
    try {
      await stopRunAt(place, runArguments(place, 2, [...endpoints, ...alerts, '--bounded'], '50ms'), { afterCheckpoints: 2, delayMs: 30 });
      break;
    } catch (error) {
      if (!(error instanceof MissedMoment) || attempt === 3) throw error;
    }
  }
  await runCliToEnd(runArguments(place, 3, [...endpoints, ...alerts, '--bounded', '--restore', 'latest']));

  const restored = path.join(workDir, 'restored');
  await downloadPrefix(s3.endpoint, s3.bucket, `restored-${attempt}`, restored);
  expect(tableDifferences(await readTables(restored, 'jsonl'), await readTables(reference, 'jsonl'))).toEqual({});
  const summary = await readSummary(restored);
  expect(withoutStoreRows(summary)).toEqual(withoutStoreRows(expectedSummary));
  expect(await hiddenPartFiles(restored)).toEqual([]);

  const expectedIds = (await alertItems('reference-alerts')).map((item) => item.alertId).sort();
  const items = await alertItems(`restored-alerts-${attempt}`);
  expect(items.map((item) => item.alertId).sort()).toEqual(expectedIds);
}, RUN_TIMEOUT);
