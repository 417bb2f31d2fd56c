// The read side of the hot alerts table behind `coattail alerts`: the architecture's GET /alerts access patterns.
import { DynamoDBClient, QueryCommand, ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { CoattailError } from '../../runtime/errors.js';
import { parseDuration } from '../../runtime/time/duration.js';
import { awsClientConfig, resolveAwsEndpoint, toCoattailError } from '../aws-client.js';
import {
  ALERTS_SYMBOL_INDEX,
  ALERTS_TYPE_INDEX,
  validateAlertsTableName,
  type AlertsClient,
} from '../sinks/dynamodb-alerts-table.js';

export interface AlertsQueryOptions {
  readonly table: string;
  /** Only alerts of this alert_type (`volume_spike`, `whale`, `spread`, ...). */
  readonly type?: string;
  /** Only alerts of this symbol (`BTC-USDT`). */
  readonly symbol?: string;
  /** An ISO-8601 time, or a duration back from now (`30m`, `1h`, `2d`). Default 24 h, the table's TTL. */
  readonly since?: string;
  /** At most this many alerts, newest first. Default 50, at most 1000. */
  readonly limit?: number;
  /** Overrides `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL`. */
  readonly endpoint?: string;
  /** A client to use instead of one built from `awsClientConfig('dynamodb')`; it is not destroyed here. */
  readonly client?: AlertsClient;
  /** Epoch ms that durations in `since` count back from; default the current time. */
  readonly now?: number;
}

/** One stored alert as `coattail alerts` shows it; `details` stays JSON text, as in `anomaly_alerts`. */
export interface AlertItem {
  readonly alert_id: string;
  readonly alert_type: string;
  readonly module_id: string | null;
  readonly symbol: string | null;
  readonly exchange: string | null;
  readonly severity: string | null;
  /** ISO-8601 UTC. */
  readonly detected_at: string;
  readonly message: string | null;
  readonly ttl_epoch: number | null;
  readonly details: string | null;
}

export interface AlertsQueryPlan {
  readonly table: string;
  /** The index queried, or undefined for a Scan of the table. */
  readonly index: string | undefined;
  readonly type: string | undefined;
  readonly symbol: string | undefined;
  /** Inclusive lower bound on detected_at, ISO-8601 UTC. */
  readonly since: string;
  readonly limit: number;
  /** One line on how the alerts are read, e.g. for a `--verbose` note or a warning about a Scan. */
  readonly description: string;
}

export const DEFAULT_ALERTS_LIMIT = 50;
export const MAX_ALERTS_LIMIT = 1000;
const DEFAULT_SINCE_MS = 24 * 60 * 60 * 1000;
const DURATION = /^\s*\d+(?:\.\d+)?\s*(ms|s|m|min|h|d)\s*$/;

/** Validates the options and picks the access path: type index, symbol index, or a Scan when neither is given. */
export function planAlertsQuery(options: AlertsQueryOptions): AlertsQueryPlan {
  const table = validateAlertsTableName(options.table);
  const type = nonEmpty(options.type, '--type');
  const symbol = nonEmpty(options.symbol, '--symbol');
  const limit = options.limit ?? DEFAULT_ALERTS_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_ALERTS_LIMIT) {
    throw new CoattailError('BAD_ARGUMENT', `--limit must be a whole number from 1 to ${MAX_ALERTS_LIMIT}, got ${options.limit}`);
  }
  const since = parseSince(options.since, options.now ?? Date.now());
  const window = `detected_at >= ${since}`;
  if (type !== undefined) {
    const filter = symbol === undefined ? '' : `, filtered to symbol = ${symbol}`;
    const description = `Query ${ALERTS_TYPE_INDEX} for alert_type = ${type} and ${window}${filter}`;
    return { table, index: ALERTS_TYPE_INDEX, type, symbol, since, limit, description };
  }
  if (symbol !== undefined) {
    const description = `Query ${ALERTS_SYMBOL_INDEX} for symbol = ${symbol} and ${window}`;
    return { table, index: ALERTS_SYMBOL_INDEX, type, symbol, since, limit, description };
  }
  return {
    table,
    index: undefined,
    type,
    symbol,
    since,
    limit,
    description: `Scan of the whole table "${table}" (no --type or --symbol given), filtered to ${window} and sorted newest first`,
  };
}

/** `since` as ISO-8601 UTC: a duration counts back from `now`, anything else must parse as a time. */
export function parseSince(since: string | undefined, now: number): string {
  if (since === undefined || since.trim() === '') return new Date(now - DEFAULT_SINCE_MS).toISOString();
  const at = DURATION.test(since) ? now - parseDuration(since, '--since') : Date.parse(since);
  if (!Number.isFinite(at)) {
    throw new CoattailError(
      'BAD_ARGUMENT',
      `--since must be an ISO-8601 time (2024-05-01T12:00:00Z) or a duration back from now (30m, 1h, 2d), got "${since}"`,
    );
  }
  return new Date(at).toISOString();
}

/** The alerts matching the options, newest first. Without --type or --symbol this is a Scan (see the plan). */
export async function queryAlerts(options: AlertsQueryOptions): Promise<AlertItem[]> {
  return runPlan(planAlertsQuery(options), options);
}

/** The one-liner behind `coattail alerts`: how the table was read, and one line per alert. */
export async function alertsReport(options: AlertsQueryOptions): Promise<{ plan: AlertsQueryPlan; lines: string[] }> {
  const plan = planAlertsQuery(options);
  const alerts = await runPlan(plan, options);
  return { plan, lines: alerts.map(formatAlertLine) };
}

async function runPlan(plan: AlertsQueryPlan, options: AlertsQueryOptions): Promise<AlertItem[]> {
  const endpoint = resolveAwsEndpoint('dynamodb', options.endpoint);
  const client = options.client ?? new DynamoDBClient(awsClientConfig('dynamodb', { endpoint: options.endpoint }));
  try {
    return await readAlerts(client, plan);
  } catch (error) {
    throw toCoattailError(error, {
      service: 'dynamodb',
      endpoint,
      action: `reading alerts from DynamoDB table "${plan.table}"`,
      code: 'CONNECTOR',
      notFound: `DynamoDB table "${plan.table}"`,
    });
  } finally {
    if (options.client === undefined) (client as DynamoDBClient).destroy();
  }
}

async function readAlerts(client: AlertsClient, plan: AlertsQueryPlan): Promise<AlertItem[]> {
  const names: Record<string, string> = { '#at': 'detected_at' };
  const values: Record<string, AttributeValue> = { ':since': { S: plan.since } };
  let keyCondition: string | undefined;
  let filter: string | undefined;
  if (plan.index !== undefined) {
    const byType = plan.index === ALERTS_TYPE_INDEX;
    names['#pk'] = byType ? 'alert_type' : 'symbol';
    values[':pk'] = { S: (byType ? plan.type : plan.symbol)! };
    keyCondition = '#pk = :pk AND #at >= :since';
    if (byType && plan.symbol !== undefined) {
      names['#symbol'] = 'symbol';
      values[':symbol'] = { S: plan.symbol };
      filter = '#symbol = :symbol';
    }
  } else {
    filter = '#at >= :since';
  }
  const alerts: AlertItem[] = [];
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const common = {
      TableName: plan.table,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
      FilterExpression: filter,
      ExclusiveStartKey: startKey,
    };
    const output =
      keyCondition === undefined
        ? await client.send(new ScanCommand(common))
        : await client.send(
            new QueryCommand({
              ...common,
              IndexName: plan.index,
              KeyConditionExpression: keyCondition,
              ScanIndexForward: false, // newest first, straight from the index's sort order
              // A filter is applied after Limit, so filtered queries page until enough alerts have matched.
              Limit: filter === undefined ? plan.limit : undefined,
            }),
          );
    for (const item of output.Items ?? []) alerts.push(itemToAlert(item));
    startKey = output.LastEvaluatedKey;
    // A Scan has no order: every page must be read before the newest can be picked.
  } while (startKey !== undefined && (keyCondition === undefined || alerts.length < plan.limit));
  alerts.sort((left, right) => compare(right.detected_at, left.detected_at) || compare(left.alert_id, right.alert_id));
  return alerts.slice(0, plan.limit);
}

/** A DynamoDB item of the alerts table as an AlertItem; attributes left out when null come back as null. */
export function itemToAlert(item: Record<string, AttributeValue>): AlertItem {
  const text = (name: string): string | null => item[name]?.S ?? null;
  const ttl = item.ttl_epoch?.N;
  return {
    alert_id: text('alert_id') ?? '',
    alert_type: text('alert_type') ?? '',
    module_id: text('module_id'),
    symbol: text('symbol'),
    exchange: text('exchange'),
    severity: text('severity'),
    detected_at: text('detected_at') ?? '',
    message: text('message'),
    ttl_epoch: ttl === undefined ? null : Number(ttl),
    details: text('details'),
  };
}

/** One readable line: time, severity, type, symbol@exchange, message, then module and alert_id. */
export function formatAlertLine(item: AlertItem): string {
  const where = item.exchange ? `${item.symbol ?? '-'}@${item.exchange}` : (item.symbol ?? '-');
  const message = (item.message ?? '').replace(/\s+/g, ' ').trim() || '-';
  return [
    item.detected_at,
    (item.severity ?? '-').toUpperCase().padEnd(8),
    item.alert_type.padEnd(12),
    where.padEnd(18),
    `${message}  [${item.module_id ?? '-'} ${item.alert_id}]`,
  ].join('  ');
}

function nonEmpty(value: string | undefined, flag: string): string | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (trimmed === '') throw new CoattailError('BAD_ARGUMENT', `${flag} must not be empty`);
  return trimmed;
}

function compare(left: string, right: string): number {
  return left < right ? -1 : left > right ? 1 : 0;
}
