// The five Coat Tail output tables (SPEC §5-§6): column names, order and types exactly as the contract lists them.

import type { ColumnSpec, TableSchema } from '../../runtime/api/table.js';

function defineTable(name: string, columns: ColumnSpec[], partitionBy: string): TableSchema {
  return Object.freeze({ name, columns: Object.freeze(columns.map((column) => Object.freeze(column))), partitionBy });
}

export const VOLUME_AGGREGATES: TableSchema = defineTable(
  'volume_aggregates',
  [
    { name: 'symbol', type: 'string' },
    { name: 'exchange', type: 'string' },
    { name: 'window_start', type: 'timestamp' },
    { name: 'window_end', type: 'timestamp' },
    { name: 'trade_count', type: 'int64' },
    { name: 'total_volume', type: 'double' },
    { name: 'avg_price', type: 'double' },
    { name: 'max_price', type: 'double' },
    { name: 'min_price', type: 'double' },
    { name: 'buy_volume', type: 'double' },
    { name: 'sell_volume', type: 'double' },
  ],
  'window_start',
);

export const EXCHANGE_SPREADS: TableSchema = defineTable(
  'exchange_spreads',
  [
    { name: 'symbol', type: 'string' },
    { name: 'window_start', type: 'timestamp' },
    { name: 'window_end', type: 'timestamp' },
    { name: 'exchange_a', type: 'string' },
    { name: 'exchange_b', type: 'string' },
    { name: 'vwap_a', type: 'double' },
    { name: 'vwap_b', type: 'double' },
    { name: 'spread_pct', type: 'double' },
  ],
  'window_start',
);

export const WHALE_TRADES: TableSchema = defineTable(
  'whale_trades',
  [
    { name: 'event_id', type: 'string' },
    { name: 'symbol', type: 'string' },
    { name: 'exchange', type: 'string' },
    { name: 'price', type: 'double' },
    { name: 'quantity', type: 'double' },
    { name: 'quote_volume', type: 'double' },
    { name: 'side', type: 'string' },
    { name: 'timestamp', type: 'timestamp' },
    { name: 'severity', type: 'string' },
  ],
  'timestamp',
);

export const ANOMALY_ALERTS: TableSchema = defineTable(
  'anomaly_alerts',
  [
    { name: 'alert_id', type: 'string' },
    { name: 'alert_type', type: 'string' },
    { name: 'module_id', type: 'string' },
    { name: 'symbol', type: 'string' },
    // Null for spread alerts, which compare two exchanges.
    { name: 'exchange', type: 'string', nullable: true },
    { name: 'severity', type: 'string' },
    { name: 'detected_at', type: 'timestamp' },
    { name: 'message', type: 'string' },
    { name: 'ttl_epoch', type: 'int64' },
    { name: 'details', type: 'json' },
  ],
  'detected_at',
);

export const DLQ: TableSchema = defineTable(
  'dlq',
  [
    { name: 'reason', type: 'string' },
    { name: 'error', type: 'string' },
    { name: 'raw', type: 'string' },
    { name: 'source', type: 'string' },
    // Text, so a Kinesis sequence number (too long for int64 precision in JSON) fits beside a byte offset.
    { name: 'offset', type: 'string' },
    { name: 'received_at', type: 'timestamp' },
  ],
  'received_at',
);

export type TableName = 'volume_aggregates' | 'exchange_spreads' | 'whale_trades' | 'anomaly_alerts' | 'dlq';

export const TABLE_NAMES: readonly TableName[] = Object.freeze([
  'volume_aggregates',
  'exchange_spreads',
  'whale_trades',
  'anomaly_alerts',
  'dlq',
] as const);

export const TABLES: Readonly<Record<TableName, TableSchema>> = Object.freeze({
  volume_aggregates: VOLUME_AGGREGATES,
  exchange_spreads: EXCHANGE_SPREADS,
  whale_trades: WHALE_TRADES,
  anomaly_alerts: ANOMALY_ALERTS,
  dlq: DLQ,
});
