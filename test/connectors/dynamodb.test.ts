// The hot alerts store against dynalite: table creation, idempotent writes, retries, the `coattail alerts` reads.
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BatchWriteItemCommand,
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ScanCommand,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { awsClientConfig } from '../../connectors/aws-client.js';
import {
  dynamoAlertsSink,
  dynamoAlertsSinkFromUri,
  ensureAlertsTable,
  parseAlertsTarget,
  type AlertsClient,
} from '../../connectors/sinks/dynamodb-alerts.js';
import {
  alertsReport,
  formatAlertLine,
  planAlertsQuery,
  queryAlerts,
  type AlertItem,
} from '../../connectors/sources/dynamodb-alerts-query.js';
import type { SinkContext } from '../../runtime/api/sink.js';
import type { TableRow } from '../../runtime/api/table.js';
import { startDynalite, type RunningDynalite } from '../support/dynalite.js';

let dynalite: RunningDynalite;
let client: DynamoDBClient;
let tableCount = 0;

const context: SinkContext = { subtaskIndex: 0, parallelism: 1, attemptId: 'a1', outDir: '/unused', format: 'jsonl' };
const BASE = Date.parse('2024-05-01T12:00:00.000Z');
const MINUTE = 60_000;

beforeAll(async () => {
  dynalite = await startDynalite();
  client = new DynamoDBClient(awsClientConfig('dynamodb', { endpoint: dynalite.endpoint }));
});

afterAll(async () => {
  client?.destroy();
  await dynalite?.stop();
});

function newTable(): string {
  return `alerts-test-${++tableCount}`;
}

interface AlertSpec {
  readonly id: string;
  readonly type?: string;
  readonly symbol?: string;
  readonly exchange?: string | null;
  readonly minute?: number;
  readonly severity?: string;
}

/** A row as the jobs produce for `anomaly_alerts`: detected_at in epoch ms, details as JSON text. */
function alert(spec: AlertSpec): TableRow {
  const detectedAt = BASE + (spec.minute ?? 0) * MINUTE;
  const type = spec.type ?? 'whale';
  return {
    alert_id: spec.id,
    alert_type: type,
    module_id: type === 'whale' ? 'MOD-002' : type === 'spread' ? 'MOD-003' : 'MOD-001',
    symbol: spec.symbol ?? 'BTC-USDT',
    exchange: spec.exchange === undefined ? 'binance' : spec.exchange,
    severity: spec.severity ?? 'high',
    detected_at: detectedAt,
    message: `${type} on ${spec.symbol ?? 'BTC-USDT'} (${spec.id})`,
    ttl_epoch: Math.floor(detectedAt / 1000) + 86_400,
    details: JSON.stringify({ source: spec.id }),
  };
}

async function writeAlerts(table: string, rows: readonly TableRow[], sinkClient?: AlertsClient): Promise<number> {
  const writer = await dynamoAlertsSink({ table, endpoint: dynalite.endpoint, client: sinkClient }).create(context);
  await writer.write(rows);
  return writer.finish();
}

async function storedIds(table: string): Promise<string[]> {
  const output = await client.send(new ScanCommand({ TableName: table }));
  return (output.Items ?? []).map((item) => item.alert_id!.S!).sort();
}

const ids = (alerts: readonly AlertItem[]) => alerts.map((item) => item.alert_id);

/** A closed loopback port: connecting to it is refused at once. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('alerts table', () => {
  it('is created with its keys and both time-ordered indexes when absent, and reused when present', async () => {
    const table = newTable();
    const first = await ensureAlertsTable(client, table, dynalite.endpoint);
    expect(first.created).toBe(true);
    // dynalite has no UpdateTimeToLive; real DynamoDB answers 'enabled'.
    expect(first.timeToLive).toBe('unsupported');

    const { Table: description } = await client.send(new DescribeTableCommand({ TableName: table }));
    expect(description?.TableStatus).toBe('ACTIVE');
    expect(description?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
    expect(description?.KeySchema).toEqual([
      { AttributeName: 'alert_id', KeyType: 'HASH' },
      { AttributeName: 'detected_at', KeyType: 'RANGE' },
    ]);
    const indexes = Object.fromEntries(
      (description?.GlobalSecondaryIndexes ?? []).map((index) => [index.IndexName, index.KeySchema?.map((key) => key.AttributeName)]),
    );
    expect(indexes).toEqual({
      'type-time-index': ['alert_type', 'detected_at'],
      'symbol-time-index': ['symbol', 'detected_at'],
    });

    await writeAlerts(table, [alert({ id: 'kept' })]);
    const again = await ensureAlertsTable(client, table, dynalite.endpoint);
    expect(again.created).toBe(false);
    expect(await storedIds(table)).toEqual(['kept']);
  });

  it('refuses an existing table of the same name that has other keys', async () => {
    const table = newTable();
    await client.send(
      new CreateTableCommand({
        TableName: table,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      }),
    );
    await expect(ensureAlertsTable(client, table, dynalite.endpoint)).rejects.toMatchObject({
      code: 'BAD_CONFIG',
      message: expect.stringContaining(`DynamoDB table "${table}" exists but is not an alerts table`),
    });
  });
});

describe('dynamodb alerts sink', () => {
  it('stores each alert with an ISO-8601 detected_at, its ttl_epoch and its details text', async () => {
    const table = newTable();
    expect(await writeAlerts(table, [alert({ id: 'a1', minute: 3 }), alert({ id: 's1', type: 'spread', exchange: null })])).toBe(2);
    const alerts = await queryAlerts({ table, endpoint: dynalite.endpoint, since: '2024-05-01T00:00:00Z' });
    expect(alerts).toEqual([
      {
        alert_id: 'a1', alert_type: 'whale', module_id: 'MOD-002', symbol: 'BTC-USDT', exchange: 'binance', severity: 'high',
        detected_at: '2024-05-01T12:03:00.000Z', message: 'whale on BTC-USDT (a1)', ttl_epoch: (BASE + 3 * MINUTE) / 1000 + 86_400,
        details: '{"source":"a1"}',
      },
      {
        alert_id: 's1', alert_type: 'spread', module_id: 'MOD-003', symbol: 'BTC-USDT', exchange: null, severity: 'high',
        detected_at: '2024-05-01T12:00:00.000Z', message: 'spread on BTC-USDT (s1)', ttl_epoch: BASE / 1000 + 86_400,
        details: '{"source":"s1"}',
      },
    ]);
  });

  it('keeps one item per alert_id when an alert is written again, even with a later detected_at', async () => {
    const table = newTable();
    await writeAlerts(table, [alert({ id: 'dup', minute: 1 }), alert({ id: 'other', minute: 2 })]);
    // A restored run re-emits the same alert later; a second writer must not add a second item.
    expect(await writeAlerts(table, [alert({ id: 'dup', minute: 9 }), alert({ id: 'dup', minute: 1 })])).toBe(2);
    // The same alert twice within one flush, too.
    await writeAlerts(table, [alert({ id: 'twice', minute: 4 }), alert({ id: 'twice', minute: 5 })]);

    expect(await storedIds(table)).toEqual(['dup', 'other', 'twice']);
    const alerts = await queryAlerts({ table, endpoint: dynalite.endpoint, since: '2024-05-01T00:00:00Z' });
    expect(alerts.find((item) => item.alert_id === 'dup')?.detected_at).toBe('2024-05-01T12:01:00.000Z');
    expect(alerts.find((item) => item.alert_id === 'twice')?.detected_at).toBe('2024-05-01T12:04:00.000Z');
  });

  it('flushes on each checkpoint barrier, so alerts are readable before the run ends', async () => {
    const table = newTable();
    const writer = await dynamoAlertsSink({ table, endpoint: dynalite.endpoint }).create(context);
    await writer.write([alert({ id: 'early' })]);
    expect(await storedIds(table)).toEqual([]);
    await writer.commit(await writer.prepareCommit(1));
    expect(await storedIds(table)).toEqual(['early']);
    await writer.write([alert({ id: 'late' })]);
    expect(await writer.finish()).toBe(2);
    expect(await storedIds(table)).toEqual(['early', 'late']);
  });

  it('writes more alerts than one batch holds, sending full batches as they fill', async () => {
    const table = newTable();
    const rows = Array.from({ length: 260 }, (_, index) => alert({ id: `bulk-${String(index).padStart(3, '0')}`, minute: index }));
    expect(await writeAlerts(table, rows)).toBe(260);
    const all = await queryAlerts({ table, endpoint: dynalite.endpoint, type: 'whale', since: '2024-05-01T00:00:00Z', limit: 1000 });
    expect(all).toHaveLength(260);
  });

  it('sends back the items DynamoDB left unprocessed until all are written', async () => {
    const table = newTable();
    await ensureAlertsTable(client, table, dynalite.endpoint);
    let batchCalls = 0;
    // Accepts only the first item of each of the first three batches and hands the rest back, as a throttled table does.
    const throttled: AlertsClient = {
      send: (async (command: unknown) => {
        if (command instanceof BatchWriteItemCommand && batchCalls++ < 3) {
          const requests: WriteRequest[] = command.input.RequestItems![table]!;
          await client.send(new BatchWriteItemCommand({ RequestItems: { [table]: requests.slice(0, 1) } }));
          return { UnprocessedItems: { [table]: requests.slice(1) }, $metadata: {} };
        }
        return client.send(command as never);
      }) as AlertsClient['send'],
    };
    const rows = Array.from({ length: 10 }, (_, index) => alert({ id: `retry-${index}`, minute: index }));
    expect(await writeAlerts(table, rows, throttled)).toBe(10);
    expect(batchCalls).toBe(4);
    expect(await storedIds(table)).toEqual(rows.map((row) => String(row.alert_id)).sort());
  });

  it('fails with SINK_FAILED after a bounded number of attempts when items stay unprocessed', async () => {
    const table = newTable();
    await ensureAlertsTable(client, table, dynalite.endpoint);
    let batchCalls = 0;
    const refusing: AlertsClient = {
      send: (async (command: unknown) => {
        if (command instanceof BatchWriteItemCommand) {
          batchCalls++;
          return { UnprocessedItems: command.input.RequestItems, $metadata: {} };
        }
        return client.send(command as never);
      }) as AlertsClient['send'],
    };
    const writer = await dynamoAlertsSink({ table, endpoint: dynalite.endpoint, client: refusing, maxAttempts: 3 }).create(context);
    await writer.write([alert({ id: 'x1' }), alert({ id: 'x2' })]);
    await expect(writer.finish()).rejects.toMatchObject({
      code: 'SINK_FAILED',
      message: `DynamoDB table "${table}" left 2 of 2 alerts unwritten after 3 attempts (unprocessed items)`,
    });
    expect(batchCalls).toBe(3);
  });

  it('fails with a clear message, without credentials, when the endpoint is unreachable', async () => {
    const port = await closedPort();
    const factory = dynamoAlertsSink({ table: 'alerts', endpoint: `http://user:hunter2@127.0.0.1:${port}` });
    const failure = await Promise.resolve(factory.create(context)).then(
      () => undefined,
      (error: unknown) => error as { code: string; message: string },
    );
    expect(failure?.code).toBe('ENDPOINT_UNREACHABLE');
    expect(failure?.message).toBe(
      `Preparing DynamoDB table "alerts" failed: endpoint http://127.0.0.1:${port} is unreachable (ECONNREFUSED) after 3 attempts`,
    );
    expect(failure?.message).not.toContain('hunter2');
    expect(failure?.message).not.toContain(process.env.AWS_SECRET_ACCESS_KEY);
  });

  it('accepts dynamodb:<table> and rejects other targets and bad table names', () => {
    expect(parseAlertsTarget('dynamodb:coattail-alerts')).toEqual({ table: 'coattail-alerts' });
    expect(dynamoAlertsSinkFromUri('dynamodb:coattail-alerts').name).toBe('dynamodb:coattail-alerts');
    expect(() => parseAlertsTarget('kinesis:alerts')).toThrow('--alerts must look like dynamodb:<table>, got "kinesis:alerts"');
    expect(() => parseAlertsTarget('dynamodb:a b')).toThrow('DynamoDB table names are 3-255 characters');
  });

  it('names the flag the target came from (coattail alerts --table)', () => {
    expect(() => parseAlertsTarget('alerts2', '--table')).toThrow('--table must look like dynamodb:<table>, got "alerts2"');
  });
});

describe('coattail alerts query', () => {
  let table: string;

  beforeAll(async () => {
    table = newTable();
    await writeAlerts(table, [
      alert({ id: 'w-btc-0', type: 'whale', symbol: 'BTC-USDT', minute: 0 }),
      alert({ id: 'v-btc-10', type: 'volume_spike', symbol: 'BTC-USDT', minute: 10 }),
      alert({ id: 'w-eth-20', type: 'whale', symbol: 'ETH-USDT', minute: 20 }),
      alert({ id: 's-btc-30', type: 'spread', symbol: 'BTC-USDT', exchange: null, minute: 30 }),
      alert({ id: 'w-btc-40', type: 'whale', symbol: 'BTC-USDT', minute: 40 }),
      alert({ id: 'v-eth-50', type: 'volume_spike', symbol: 'ETH-USDT', minute: 50 }),
    ]);
  });

  const read = (options: { type?: string; symbol?: string; since?: string; limit?: number }) =>
    queryAlerts({ table, endpoint: dynalite.endpoint, since: '2024-05-01T00:00:00Z', ...options });

  it('reads by type through type-time-index, newest first', async () => {
    expect(ids(await read({ type: 'whale' }))).toEqual(['w-btc-40', 'w-eth-20', 'w-btc-0']);
    expect(planAlertsQuery({ table, type: 'whale' }).index).toBe('type-time-index');
  });

  it('reads by symbol through symbol-time-index, newest first', async () => {
    expect(ids(await read({ symbol: 'BTC-USDT' }))).toEqual(['w-btc-40', 's-btc-30', 'v-btc-10', 'w-btc-0']);
    expect(planAlertsQuery({ table, symbol: 'BTC-USDT' }).index).toBe('symbol-time-index');
  });

  it('reads by type and symbol through the type index, filtered by symbol', async () => {
    expect(ids(await read({ type: 'whale', symbol: 'BTC-USDT' }))).toEqual(['w-btc-40', 'w-btc-0']);
    expect(planAlertsQuery({ table, type: 'whale', symbol: 'BTC-USDT' }).description).toContain('filtered to symbol = BTC-USDT');
  });

  it('keeps only alerts detected at or after --since, given as a time or as a duration back from now', async () => {
    expect(ids(await read({ since: '2024-05-01T12:30:00Z' }))).toEqual(['v-eth-50', 'w-btc-40', 's-btc-30']);
    const now = BASE + 60 * MINUTE;
    const lastQuarterHour = await queryAlerts({ table, endpoint: dynalite.endpoint, type: 'volume_spike', since: '15m', now });
    expect(ids(lastQuarterHour)).toEqual(['v-eth-50']);
    expect(ids(await queryAlerts({ table, endpoint: dynalite.endpoint, since: '1h', now }))).toHaveLength(6);
  });

  it('returns at most --limit alerts, the newest ones', async () => {
    expect(ids(await read({ limit: 2 }))).toEqual(['v-eth-50', 'w-btc-40']);
    expect(ids(await read({ symbol: 'ETH-USDT', limit: 1 }))).toEqual(['v-eth-50']);
    expect(ids(await read({ type: 'whale', symbol: 'BTC-USDT', limit: 1 }))).toEqual(['w-btc-40']);
  });

  it('scans the table, and says so, when neither --type nor --symbol is given', async () => {
    const report = await alertsReport({ table, endpoint: dynalite.endpoint, since: '2024-05-01T00:00:00Z' });
    expect(report.plan.index).toBeUndefined();
    expect(report.plan.description).toBe(
      `Scan of the whole table "${table}" (no --type or --symbol given), filtered to detected_at >= 2024-05-01T00:00:00.000Z and sorted newest first`,
    );
    expect(report.lines).toHaveLength(6);
    expect(report.lines[0]).toMatch(/^2024-05-01T12:50:00.000Z {2}HIGH {6}volume_spike {2}ETH-USDT@binance/);
  });

  it('defaults to the last 24 hours and 50 alerts', () => {
    const plan = planAlertsQuery({ table: 'alerts', now: BASE });
    expect(plan.since).toBe('2024-04-30T12:00:00.000Z');
    expect(plan.limit).toBe(50);
  });

  it('rejects a --since it cannot read, a bad --limit and an empty --type with clear messages', () => {
    expect(() => planAlertsQuery({ table: 'alerts', since: 'yesterday-ish' })).toThrow(
      '--since must be an ISO-8601 time (2024-05-01T12:00:00Z) or a duration back from now (30m, 1h, 2d), got "yesterday-ish"',
    );
    expect(() => planAlertsQuery({ table: 'alerts', limit: 0 })).toThrow('--limit must be a whole number from 1 to 1000, got 0');
    expect(() => planAlertsQuery({ table: 'alerts', limit: 2.5 })).toThrow('--limit must be a whole number');
    expect(() => planAlertsQuery({ table: 'alerts', type: ' ' })).toThrow('--type must not be empty');
  });

  it('says which table is missing when it does not exist', async () => {
    await expect(queryAlerts({ table: 'no-such-alerts', endpoint: dynalite.endpoint })).rejects.toMatchObject({
      code: 'CONNECTOR',
      message: expect.stringContaining('DynamoDB table "no-such-alerts" was not found'),
    });
  });

  it('fails with a clear message when the endpoint is unreachable', async () => {
    const port = await closedPort();
    await expect(queryAlerts({ table: 'alerts', type: 'whale', endpoint: `http://127.0.0.1:${port}` })).rejects.toMatchObject({
      code: 'ENDPOINT_UNREACHABLE',
      message: `Reading alerts from DynamoDB table "alerts" failed: endpoint http://127.0.0.1:${port} is unreachable (ECONNREFUSED) after 3 attempts`,
    });
  });

  it('formats an alert as one line, even when its message spans lines', () => {
    const line = formatAlertLine({
      alert_id: 'abc123', alert_type: 'spread', module_id: 'MOD-003', symbol: 'ETH-USDT', exchange: null, severity: 'medium',
      detected_at: '2024-05-01T12:00:00.000Z', message: 'Spread of 0.7%\nbetween exchanges', ttl_epoch: null, details: null,
    });
    expect(line).toBe(
      '2024-05-01T12:00:00.000Z  MEDIUM    spread        ETH-USDT            Spread of 0.7% between exchanges  [MOD-003 abc123]',
    );
  });
});
