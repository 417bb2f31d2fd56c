// Every kind of bad record SPEC §2 names, each derived from a valid trade so that it fails exactly one stage.

export type BadReason = 'malformed' | 'incomplete' | 'invalid';

/** A valid trade as ordered JSON fields (key -> JSON text of the value). */
export type TradeFields = Array<[string, string]>;

export interface BadRecordKind {
  readonly kind: string;
  /** The stage that must reject it (the first failing stage when several fail). */
  readonly reason: BadReason;
  readonly make: (fields: TradeFields) => string;
}

function write(fields: TradeFields): string {
  return '{' + fields.map(([key, value]) => `${JSON.stringify(key)}:${value}`).join(',') + '}';
}

function without(fields: TradeFields, key: string): TradeFields {
  return fields.filter(([name]) => name !== key);
}

function withValue(fields: TradeFields, key: string, value: string): TradeFields {
  const result = fields.map(([name, old]): [string, string] => [name, name === key ? value : old]);
  if (!result.some(([name]) => name === key)) result.push([key, value]);
  return result;
}

function valueOf(fields: TradeFields, key: string): string {
  return fields.find(([name]) => name === key)?.[1] ?? 'null';
}

const missing = (key: string): BadRecordKind => ({
  kind: `missing-${key}`,
  reason: 'incomplete',
  make: (fields) => write(without(fields, key)),
});
const nulled = (key: string): BadRecordKind => ({
  kind: `null-${key}`,
  reason: 'incomplete',
  make: (fields) => write(withValue(fields, key, 'null')),
});
const invalid = (kind: string, key: string, value: string): BadRecordKind => ({
  kind,
  reason: 'invalid',
  make: (fields) => write(withValue(fields, key, value)),
});

export const BAD_RECORD_KINDS: readonly BadRecordKind[] = Object.freeze([
  // Stage 1: malformed.
  { kind: 'not-json-truncated', reason: 'malformed', make: (fields) => write(fields).slice(0, 40) },
  { kind: 'not-json-text', reason: 'malformed', make: () => 'trade BTC-USDT 67000 0.5 buy' },
  { kind: 'not-json-single-quotes', reason: 'malformed', make: () => "{'event_id': 'x', 'price': 1}" },
  { kind: 'whitespace-only', reason: 'malformed', make: () => ' \t ' },
  { kind: 'json-null', reason: 'malformed', make: () => 'null' },
  { kind: 'json-array', reason: 'malformed', make: (fields) => `[${write(fields)}]` },
  { kind: 'json-number', reason: 'malformed', make: () => '42' },
  { kind: 'json-string', reason: 'malformed', make: () => '"BTC-USDT 67000"' },
  { kind: 'json-boolean', reason: 'malformed', make: () => 'true' },
  // Stage 2: incomplete.
  missing('event_id'),
  missing('symbol'),
  missing('price'),
  missing('quantity'),
  missing('timestamp'),
  nulled('event_id'),
  nulled('symbol'),
  nulled('price'),
  nulled('quantity'),
  nulled('timestamp'),
  {
    kind: 'incomplete-before-invalid',
    reason: 'incomplete',
    make: (fields) => write(withValue(without(fields, 'quantity'), 'side', '"hold"')),
  },
  // Stage 3: invalid.
  invalid('event_id-empty', 'event_id', '""'),
  invalid('event_id-number', 'event_id', '12345'),
  invalid('price-zero', 'price', '0'),
  invalid('price-negative', 'price', '-67000.5'),
  invalid('price-numeric-string', 'price', '"67000.5"'),
  invalid('price-overflow', 'price', '1e999'),
  invalid('quantity-zero', 'quantity', '0'),
  invalid('quantity-negative', 'quantity', '-0.5'),
  invalid('quantity-numeric-string', 'quantity', '"0.5"'),
  invalid('symbol-lowercase', 'symbol', '"btc-usdt"'),
  invalid('symbol-no-dash', 'symbol', '"BTCUSDT"'),
  invalid('symbol-number', 'symbol', '42'),
  { kind: 'exchange-missing', reason: 'invalid', make: (fields) => write(without(fields, 'exchange')) },
  invalid('exchange-empty', 'exchange', '""'),
  { kind: 'side-missing', reason: 'invalid', make: (fields) => write(without(fields, 'side')) },
  invalid('side-other', 'side', '"hold"'),
  invalid('side-uppercase', 'side', '"BUY"'),
  invalid('timestamp-text', 'timestamp', '"yesterday"'),
  invalid('timestamp-impossible-date', 'timestamp', '"2025-02-30T10:30:00.000Z"'),
  invalid('timestamp-no-zone', 'timestamp', '"2025-02-05T10:30:00.000"'),
  invalid('timestamp-numeric-string', 'timestamp', '"1738751400000"'),
  invalid('timestamp-boolean', 'timestamp', 'true'),
  invalid('ingestion_timestamp-text', 'ingestion_timestamp', '"soon"'),
  {
    // The event claims to have happened ten minutes after the producer received it.
    kind: 'future-clock',
    reason: 'invalid',
    make: (fields) => {
      const timestamp = Number(valueOf(fields, 'timestamp_ms'));
      const shifted = without(fields, 'timestamp_ms');
      return write(withValue(withValue(shifted, 'timestamp', String(timestamp + 600_000)), 'ingestion_timestamp', String(timestamp)));
    },
  },
  invalid('quote_volume-negative', 'quote_volume', '-100'),
  invalid('quote_volume-numeric-string', 'quote_volume', '"33716.25"'),
  invalid('quote_volume-zero', 'quote_volume', '0'),
]);

/** Drops the helper field `timestamp_ms` (kept in templates for kinds that shift time) before writing. */
export function makeBadRecord(kind: BadRecordKind, fields: TradeFields): string {
  if (kind.kind === 'future-clock') return kind.make(fields);
  return kind.make(without(fields, 'timestamp_ms'));
}
