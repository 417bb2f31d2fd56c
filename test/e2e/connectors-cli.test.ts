// The connectors through the CLI: a bounded Kinesis backfill into jobs/all.ts, DLQ rows to a Kinesis stream,
// alerts to DynamoDB and read back with `coattail alerts`, all against local servers.

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand } from '@aws-sdk/client-kinesis';
import { startKinesalite, type RunningKinesalite } from '../support/kinesalite.js';
import { startDynalite, type RunningDynalite } from '../support/dynalite.js';
import { createStream, putRecords, testClient } from '../support/kinesis-streams.js';

const run = promisify(execFile);
const CLI = join(process.cwd(), 'bin', 'coattail.js');

describe('connectors from the command line', () => {
  let kinesis: RunningKinesalite;
  let dynamo: RunningDynalite;
  let work: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    kinesis = await startKinesalite();
    dynamo = await startDynalite();
    work = mkdtempSync(join(tmpdir(), 'coattail-connectors-'));
    env = {
      ...process.env,
      AWS_ENDPOINT_URL_KINESIS: kinesis.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_REGION: 'us-east-1',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    };
    await run(process.execPath, [CLI, 'generate', '--events', '20000', '--seed', '5', '--out', join(work, 'tape.jsonl')], { env });
  });

  afterAll(async () => {
    await kinesis?.stop();
    await dynamo?.stop();
  });

  it('backfills a Kinesis stream with --bounded, sends rejects to a DLQ stream and alerts to DynamoDB', async () => {
    const client = testClient(kinesis.endpoint);
    await createStream(client, 'trades', 2);
    await createStream(client, 'dlq', 1);
    const lines = readFileSync(join(work, 'tape.jsonl'), 'utf8').split('\n').filter((line) => line.length > 0);
    await putRecords(client, 'trades', lines.map((text, index) => ({ text, partitionKey: `p${index % 7}` })));

    const out = join(work, 'out');
    const { stdout } = await run(
      process.execPath,
      [CLI, 'run', 'jobs/all.ts', '-s', 'kinesis:trades', '--bounded', '-o', out, '-f', 'jsonl', '-p', '2', '--no-checkpoints', '--dlq', 'kinesis:dlq', '--alerts', 'dynamodb:alerts'],
      { env, timeout: 120_000 },
    );
    expect(stdout).toContain('finished coat-tail-all');
    const summary = JSON.parse(readFileSync(join(out, '_summary.json'), 'utf8'));
    expect(summary.records_in).toBe(lines.length);
    expect(summary.records_in).toBe(summary.passed + summary.malformed + summary.incomplete + summary.invalid + summary.duplicate);
    const rejected = summary.malformed + summary.incomplete + summary.invalid;
    expect(rejected).toBeGreaterThan(0);

    // Every DLQ row also went to the DLQ stream, verbatim with its source and sequence number.
    const shards = await client.send(new ListShardsCommand({ StreamName: 'dlq' }));
    const iterator = await client.send(
      new GetShardIteratorCommand({ StreamName: 'dlq', ShardId: shards.Shards![0]!.ShardId!, ShardIteratorType: 'TRIM_HORIZON' }),
    );
    const records = await client.send(new GetRecordsCommand({ ShardIterator: iterator.ShardIterator!, Limit: 10_000 }));
    const dlqRows = records.Records!.map((record) => JSON.parse(Buffer.from(record.Data!).toString('utf8')));
    expect(dlqRows).toHaveLength(rejected);
    expect(dlqRows.every((row) => String(row.source).startsWith('kinesis:trades/') && /^\d+$/.test(String(row.offset)))).toBe(true);

    // The alerts written to DynamoDB come back through `coattail alerts`, one line each.
    const alerts = await run(process.execPath, [CLI, 'alerts', '--table', 'dynamodb:alerts', '--since', '1d', '--limit', '1000'], { env });
    const alertLines = alerts.stdout.trim().split('\n');
    expect(alertLines).toHaveLength(summary.rows.anomaly_alerts);
    const whales = await run(process.execPath, [CLI, 'alerts', '--table', 'dynamodb:alerts', '--type', 'whale', '--since', '1d', '--limit', '1000'], { env });
    expect(whales.stdout.trim().split('\n')).toHaveLength(summary.rows.whale_trades);
  });

  it('takes the Kinesis and DynamoDB endpoints from --kinesis-endpoint and --dynamodb-endpoint alone, for --dlq and --alerts too', async () => {
    const client = testClient(kinesis.endpoint);
    await createStream(client, 'flag-trades', 1);
    await createStream(client, 'flag-dlq', 1);
    const lines = readFileSync(join(work, 'tape.jsonl'), 'utf8').split('\n').filter((line) => line.length > 0).slice(0, 3000);
    await putRecords(client, 'flag-trades', lines.map((text, index) => ({ text, partitionKey: `p${index % 7}` })));
    const noEndpoints = { ...env };
    delete noEndpoints.AWS_ENDPOINT_URL_KINESIS;
    delete noEndpoints.AWS_ENDPOINT_URL_DYNAMODB;
    delete noEndpoints.AWS_ENDPOINT_URL;

    const out = join(work, 'out-flags');
    await run(
      process.execPath,
      [CLI, 'run', 'jobs/all.ts', '-s', 'kinesis:flag-trades', '--bounded', '-o', out, '-f', 'jsonl', '-p', '2', '--no-checkpoints', '-q',
        '--kinesis-endpoint', kinesis.endpoint, '--dlq', 'kinesis:flag-dlq', '--dynamodb-endpoint', dynamo.endpoint, '--alerts', 'dynamodb:flag-alerts'],
      { env: noEndpoints, timeout: 120_000 },
    );
    const summary = JSON.parse(readFileSync(join(out, '_summary.json'), 'utf8'));
    expect(summary.records_in).toBe(lines.length);
    expect(summary.rows['kinesis:flag-dlq']).toBe(summary.rows.dlq);
    expect(summary.rows['dynamodb:flag-alerts']).toBe(summary.rows.anomaly_alerts);
    const alerts = await run(process.execPath, [CLI, 'alerts', '--table', 'dynamodb:flag-alerts', '--since', '1d', '--limit', '1000', '--endpoint', dynamo.endpoint], { env: noEndpoints });
    expect(alerts.stdout.trim().split('\n')).toHaveLength(summary.rows.anomaly_alerts);
  });

  it('rejects a --dlq stream or --alerts table name AWS would refuse before the run starts, in one line', async () => {
    for (const [flag, value, message] of [['--dlq', 'kinesis:bad/name', 'is not a Kinesis stream name'], ['--alerts', 'dynamodb:x', 'DynamoDB table names']]) {
      const failure = await run(process.execPath, [CLI, 'run', 'jobs/all.ts', '-s', `file:${join(work, 'tape.jsonl')}`, '-o', join(work, 'out-bad'), '--no-checkpoints', flag!, value!], { env }).catch((error) => error);
      expect(failure.code).toBe(2);
      expect(failure.stderr.trim().split('\n')).toHaveLength(1);
      expect(failure.stderr).toContain(message);
      expect(failure.stderr).not.toContain('subtask');
    }
  });

  it('names an unknown source scheme in one line and exits non-zero', async () => {
    const failure = await run(process.execPath, [CLI, 'run', 'jobs/all.ts', '-s', 'kafka:trades'], { env }).catch((error) => error);
    expect(failure.code).not.toBe(0);
    expect(failure.stderr.trim().split('\n')).toHaveLength(1);
    expect(failure.stderr).toContain('unknown source "kafka:trades"');
  });
});
