// The DynamoDB alerts table of the architecture: keys, two time-ordered GSIs, TTL; created if absent.
import {
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  UpdateTimeToLiveCommand,
  type DynamoDBClient,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import { CoattailError } from '../../runtime/errors.js';
import { awsErrorName, sleep, toCoattailError } from '../aws-client.js';

/** What the sink and the query side need of a client; tests pass a wrapper that injects faults. */
export type AlertsClient = Pick<DynamoDBClient, 'send'>;

export const ALERTS_TYPE_INDEX = 'type-time-index';
export const ALERTS_SYMBOL_INDEX = 'symbol-time-index';
export const ALERTS_TTL_ATTRIBUTE = 'ttl_epoch';
/** CreateTable with GSIs takes tens of seconds on AWS; past this something is wrong. */
const ACTIVE_TIMEOUT_MS = 180_000;

export interface AlertsTableState {
  /** True when this call created the table, false when it was already there. */
  readonly created: boolean;
  /** `unsupported`: the server has no UpdateTimeToLive (dynalite); `other-attribute`: TTL is on another attribute. */
  readonly timeToLive: 'enabled' | 'unsupported' | 'other-attribute';
}

/** Table names DynamoDB accepts; checked up front so a typo fails before any request. */
export function validateAlertsTableName(table: string): string {
  if (!/^[A-Za-z0-9_.-]{3,255}$/.test(table)) {
    throw new CoattailError('BAD_ARGUMENT', `DynamoDB table names are 3-255 characters of letters, digits, "_", "-" and ".", got "${table}"`);
  }
  return table;
}

/** Creates the alerts table with its keys, both GSIs and TTL if absent, waits until it and its indexes are ACTIVE. */
export async function ensureAlertsTable(client: AlertsClient, table: string, endpoint?: string): Promise<AlertsTableState> {
  const failure = (error: unknown): CoattailError =>
    toCoattailError(error, { service: 'dynamodb', endpoint, action: `preparing DynamoDB table "${table}"`, code: 'SINK_FAILED' });
  let created = false;
  try {
    await client.send(new DescribeTableCommand({ TableName: table }));
  } catch (error) {
    if (awsErrorName(error) !== 'ResourceNotFoundException') throw failure(error);
    created = await createAlertsTable(client, table).catch((createError: unknown) => {
      throw failure(createError);
    });
  }
  const description = await waitUntilActive(client, table).catch((error: unknown) => {
    throw failure(error);
  });
  checkTableShape(table, description);
  const timeToLive = await enableTimeToLive(client, table).catch((error: unknown) => {
    throw failure(error);
  });
  return { created, timeToLive };
}

async function createAlertsTable(client: AlertsClient, table: string): Promise<boolean> {
  const byTime = (index: string, partitionKey: string) => ({
    IndexName: index,
    KeySchema: [
      { AttributeName: partitionKey, KeyType: 'HASH' as const },
      { AttributeName: 'detected_at', KeyType: 'RANGE' as const },
    ],
    Projection: { ProjectionType: 'ALL' as const },
  });
  try {
    await client.send(
      new CreateTableCommand({
        TableName: table,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: ['alert_id', 'detected_at', 'alert_type', 'symbol'].map((name) => ({
          AttributeName: name,
          AttributeType: 'S' as const,
        })),
        KeySchema: [
          { AttributeName: 'alert_id', KeyType: 'HASH' },
          { AttributeName: 'detected_at', KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: [byTime(ALERTS_TYPE_INDEX, 'alert_type'), byTime(ALERTS_SYMBOL_INDEX, 'symbol')],
      }),
    );
    return true;
  } catch (error) {
    // Another subtask created it between our DescribeTable and CreateTable.
    if (awsErrorName(error) === 'ResourceInUseException') return false;
    throw error;
  }
}

async function waitUntilActive(client: AlertsClient, table: string): Promise<TableDescription> {
  const deadline = Date.now() + ACTIVE_TIMEOUT_MS;
  for (let poll = 0; ; poll++) {
    const { Table: description } = await client.send(new DescribeTableCommand({ TableName: table }));
    const indexesActive = (description?.GlobalSecondaryIndexes ?? []).every((index) => index.IndexStatus === 'ACTIVE');
    if (description && description.TableStatus === 'ACTIVE' && indexesActive) return description;
    if (Date.now() > deadline) {
      throw new CoattailError(
        'SINK_FAILED',
        `DynamoDB table "${table}" did not become ACTIVE within ${ACTIVE_TIMEOUT_MS / 1000} s (status ${description?.TableStatus ?? 'unknown'})`,
      );
    }
    await sleep(Math.min(1_000, 25 * 2 ** poll));
  }
}

/** A table of the same name made for something else would take writes but answer no query: refuse it. */
function checkTableShape(table: string, description: TableDescription): void {
  const keyOf = (type: string) => description.KeySchema?.find((key) => key.KeyType === type)?.AttributeName;
  const indexes = new Set((description.GlobalSecondaryIndexes ?? []).map((index) => index.IndexName));
  const missing = [ALERTS_TYPE_INDEX, ALERTS_SYMBOL_INDEX].filter((name) => !indexes.has(name));
  if (keyOf('HASH') !== 'alert_id' || keyOf('RANGE') !== 'detected_at' || missing.length > 0) {
    throw new CoattailError(
      'BAD_CONFIG',
      `DynamoDB table "${table}" exists but is not an alerts table (needs partition key alert_id, sort key detected_at` +
        ` and indexes ${ALERTS_TYPE_INDEX}, ${ALERTS_SYMBOL_INDEX}); choose another table name`,
    );
  }
}

async function enableTimeToLive(client: AlertsClient, table: string): Promise<AlertsTableState['timeToLive']> {
  const unsupported = (error: unknown) => awsErrorName(error) === 'UnknownOperationException';
  try {
    const { TimeToLiveDescription: current } = await client.send(new DescribeTimeToLiveCommand({ TableName: table }));
    if (current?.TimeToLiveStatus === 'ENABLED' || current?.TimeToLiveStatus === 'ENABLING') {
      return current.AttributeName === ALERTS_TTL_ATTRIBUTE ? 'enabled' : 'other-attribute';
    }
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: table,
        TimeToLiveSpecification: { Enabled: true, AttributeName: ALERTS_TTL_ATTRIBUTE },
      }),
    );
    return 'enabled';
  } catch (error) {
    if (unsupported(error)) return 'unsupported';
    throw error;
  }
}

