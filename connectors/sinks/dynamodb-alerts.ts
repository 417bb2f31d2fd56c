// Hot alerts in DynamoDB: a sink that writes each alert_id once, into the table of dynamodb-alerts-table.ts.
import {
  BatchWriteItemCommand,
  DynamoDBClient,
  QueryCommand,
  type AttributeValue,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import type { PendingCommit, SinkFactory, SinkWriter } from '../../runtime/api/sink.js';
import type { TableRow } from '../../runtime/api/table.js';
import { CoattailError } from '../../runtime/errors.js';
import { awsClientConfig, awsErrorName, backoffMs, isThrottling, resolveAwsEndpoint, sleep, toCoattailError } from '../aws-client.js';
import { ALERTS_TTL_ATTRIBUTE, ensureAlertsTable, validateAlertsTableName, type AlertsClient } from './dynamodb-alerts-table.js';

export {
  ALERTS_SYMBOL_INDEX,
  ALERTS_TTL_ATTRIBUTE,
  ALERTS_TYPE_INDEX,
  ensureAlertsTable,
  validateAlertsTableName,
  type AlertsClient,
  type AlertsTableState,
} from './dynamodb-alerts-table.js';

const TTL_SECONDS = 24 * 60 * 60;
/** BatchWriteItem takes at most 25 put requests. */
const BATCH_WRITE_MAX_ITEMS = 25;
/** Rows buffered before a flush between barriers, so memory stays bounded and alerts stay hot. */
const FLUSH_ROWS = 100;
/** Existence checks in flight at once. */
const CHECK_CONCURRENCY = 8;
const DEFAULT_MAX_ATTEMPTS = 8;
const RETRY_BASE_MS = 50;
const RETRY_CAP_MS = 2_000;

export interface DynamoAlertsSinkOptions {
  readonly table: string;
  /** Overrides `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL`. */
  readonly endpoint?: string;
  /** A client to use instead of one built from `awsClientConfig('dynamodb')`; it is not destroyed by the sink. */
  readonly client?: AlertsClient;
  /** BatchWriteItem attempts for unprocessed items before the sink fails. Default 8. */
  readonly maxAttempts?: number;
}

/** `dynamodb:<table>` as given to `--alerts` (or to `coattail alerts --table`: `flag` names it in the message). */
export function parseAlertsTarget(uri: string, flag = '--alerts'): { table: string } {
  const match = /^dynamodb:(.*)$/.exec(uri.trim());
  if (!match) throw new CoattailError('BAD_ARGUMENT', `${flag} must look like dynamodb:<table>, got "${uri}"`);
  return { table: validateAlertsTableName(match[1] ?? '') };
}

/** The sink the CLI builds for `--alerts dynamodb:<table>`. */
export function dynamoAlertsSinkFromUri(uri: string, endpoint?: string): SinkFactory<TableRow> {
  return dynamoAlertsSink({ ...parseAlertsTarget(uri), endpoint });
}

/**
 * Writes `anomaly_alerts` rows to DynamoDB, each alert_id at most once. The table's sort key is
 * `detected_at`, so an alert re-emitted after a restore (same alert_id, later detected_at) would be a
 * second item; the writer therefore asks the alert_id's partition first (a strongly consistent Query,
 * Limit 1) and puts only alerts not yet stored. Rows are sent when 100 have gathered, on every checkpoint
 * barrier and at the end, so alerts are visible without waiting for the checkpoint to complete.
 */
export function dynamoAlertsSink(options: DynamoAlertsSinkOptions): SinkFactory<TableRow> {
  validateAlertsTableName(options.table);
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    throw new CoattailError('BAD_ARGUMENT', `DynamoDB alerts sink maxAttempts must be a positive integer, got ${maxAttempts}`);
  }
  return {
    name: `dynamodb:${options.table}`,
    create: async () => {
      const writer = new DynamoAlertsWriter(options, maxAttempts);
      await writer.open();
      return writer;
    },
  };
}

/** One alert row as a DynamoDB item: detected_at as ISO-8601 text (the sort key), nulls left out (sparse GSIs). */
export function alertRowToItem(row: TableRow): Record<string, AttributeValue> {
  const alertId = row.alert_id;
  if (typeof alertId !== 'string' || alertId === '') throw badRow('alert_id must be a non-empty string', row);
  if (typeof row.alert_type !== 'string' || row.alert_type === '') throw badRow('alert_type must be a non-empty string', row);
  const detectedAtMs = typeof row.detected_at === 'string' ? Date.parse(row.detected_at) : row.detected_at;
  if (typeof detectedAtMs !== 'number' || !Number.isFinite(detectedAtMs)) throw badRow('detected_at must be a time', row);
  const item: Record<string, AttributeValue> = {};
  for (const [name, value] of Object.entries(row)) {
    // An empty symbol cannot be an index key; leaving it out keeps the item out of that index only.
    if (value === null || value === undefined || (value === '' && name === 'symbol')) continue;
    if (typeof value === 'string') item[name] = { S: value };
    else if (typeof value === 'boolean') item[name] = { BOOL: value };
    else if (Number.isFinite(value)) item[name] = { N: String(value) };
    else throw badRow(`${name} is not a finite number`, row);
  }
  item.detected_at = { S: new Date(detectedAtMs).toISOString() };
  if (item[ALERTS_TTL_ATTRIBUTE] === undefined) item[ALERTS_TTL_ATTRIBUTE] = { N: String(Math.floor(detectedAtMs / 1000) + TTL_SECONDS) };
  return item;
}

function badRow(problem: string, row: TableRow): CoattailError {
  return new CoattailError('SINK_FAILED', `Cannot write alert ${JSON.stringify(row.alert_id ?? null)} to DynamoDB: ${problem}`);
}

class DynamoAlertsWriter implements SinkWriter<TableRow> {
  private buffer: TableRow[] = [];
  private written = 0;
  private client: AlertsClient | undefined;
  private readonly endpoint: string | undefined;

  constructor(private readonly options: DynamoAlertsSinkOptions, private readonly maxAttempts: number) {
    this.endpoint = resolveAwsEndpoint('dynamodb', options.endpoint);
  }

  /** Makes sure the table exists before the first row, so a wrong endpoint fails the job at its start. */
  async open(): Promise<void> {
    try {
      await ensureAlertsTable(this.clientFor(), this.options.table, this.endpoint);
    } catch (error) {
      this.release();
      throw error;
    }
  }

  async write(records: readonly TableRow[]): Promise<void> {
    for (const row of records) this.buffer.push(row); // no spread: a large batch would overflow the call stack
    if (this.buffer.length >= FLUSH_ROWS) await this.flush();
  }

  async prepareCommit(_checkpointId: number): Promise<PendingCommit> {
    await this.flush();
    return null; // every alert is already in the table: nothing is left to commit
  }

  async commit(_pending: PendingCommit): Promise<void> {}

  /** Returns the rows this writer accepted, including re-emitted alerts that were already stored. */
  async finish(): Promise<number> {
    try {
      await this.flush();
      return this.written;
    } finally {
      this.release();
    }
  }

  async abort(): Promise<void> {
    this.buffer = [];
    this.release();
  }

  private async flush(): Promise<void> {
    if (this.buffer.length === 0) return;
    const rows = this.buffer;
    this.buffer = [];
    const byId = new Map<string, Record<string, AttributeValue>>();
    for (const row of rows) {
      const item = alertRowToItem(row);
      if (!byId.has(item.alert_id!.S!)) byId.set(item.alert_id!.S!, item); // the first emission wins
    }
    const items = [...byId.values()];
    const stored = await this.storedAmong(items.map((item) => item.alert_id!.S!));
    const fresh = items.filter((item) => !stored.has(item.alert_id!.S!));
    for (let start = 0; start < fresh.length; start += BATCH_WRITE_MAX_ITEMS) {
      await this.batchWrite(fresh.slice(start, start + BATCH_WRITE_MAX_ITEMS));
    }
    this.written += rows.length;
  }

  /** The alert_ids that already have an item, whatever its detected_at. */
  private async storedAmong(alertIds: readonly string[]): Promise<Set<string>> {
    const stored = new Set<string>();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < alertIds.length) {
        const alertId = alertIds[next++]!;
        const output = await this.send(
          new QueryCommand({
            TableName: this.options.table,
            KeyConditionExpression: '#id = :id',
            ExpressionAttributeNames: { '#id': 'alert_id' },
            ExpressionAttributeValues: { ':id': { S: alertId } },
            ProjectionExpression: '#id',
            ConsistentRead: true,
            Limit: 1,
          }),
        );
        if ((output.Items?.length ?? 0) > 0) stored.add(alertId);
      }
    };
    await Promise.all(Array.from({ length: Math.min(CHECK_CONCURRENCY, alertIds.length) }, worker));
    return stored;
  }

  /** BatchWriteItem, sending back what DynamoDB left unprocessed with backoff, for a bounded number of attempts. */
  private async batchWrite(items: readonly Record<string, AttributeValue>[]): Promise<void> {
    const table = this.options.table;
    let pending: WriteRequest[] = items.map((Item) => ({ PutRequest: { Item } }));
    let lastReason = 'unprocessed items';
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      if (attempt > 0) await sleep(backoffMs(attempt, RETRY_BASE_MS, RETRY_CAP_MS));
      let unprocessed: WriteRequest[];
      try {
        const output = await this.clientFor().send(new BatchWriteItemCommand({ RequestItems: { [table]: pending } }));
        unprocessed = output.UnprocessedItems?.[table] ?? [];
      } catch (error) {
        if (!isThrottling(error)) throw this.failure(error);
        lastReason = awsErrorName(error);
        continue;
      }
      if (unprocessed.length === 0) return;
      pending = unprocessed;
      lastReason = 'unprocessed items';
    }
    throw new CoattailError(
      'SINK_FAILED',
      `DynamoDB table "${table}" left ${pending.length} of ${items.length} alerts unwritten after ${this.maxAttempts} attempts (${lastReason})`,
    );
  }

  private async send(command: QueryCommand) {
    try {
      return await this.clientFor().send(command);
    } catch (error) {
      throw this.failure(error);
    }
  }

  private failure(error: unknown): CoattailError {
    const table = this.options.table;
    return toCoattailError(error, {
      service: 'dynamodb',
      endpoint: this.endpoint,
      action: `writing alerts to DynamoDB table "${table}"`,
      code: 'SINK_FAILED',
      notFound: `DynamoDB table "${table}"`,
    });
  }

  private clientFor(): AlertsClient {
    this.client ??= this.options.client ?? new DynamoDBClient(awsClientConfig('dynamodb', { endpoint: this.options.endpoint }));
    return this.client;
  }

  private release(): void {
    if (this.client instanceof DynamoDBClient && this.options.client === undefined) this.client.destroy();
    this.client = undefined;
  }
}
