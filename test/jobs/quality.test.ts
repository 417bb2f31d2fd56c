import { describe, expect, it } from 'vitest';
import { BAD_RECORD_KINDS, makeBadRecord, type TradeFields } from '../../connectors/sources/bad-records.js';
import { checkQuality, DEFAULT_QUALITY_RULES, dlqRow, isPatternSymbol, type QualityOutcome, type QualityRules } from '../../jobs/modules/quality.js';
import { parseEventTime } from '../../jobs/modules/trade.js';

const T0 = Date.UTC(2025, 1, 5, 10, 30, 0, 123);

const base = {
  event_id: 'e-1',
  exchange: 'binance',
  symbol: 'BTC-USDT',
  price: 67432.5,
  quantity: 0.5,
  quote_volume: 33716.25,
  side: 'buy',
  timestamp: '2025-02-05T10:30:00.123Z',
  ingestion_timestamp: '2025-02-05T10:30:00.456Z',
};

function check(changes: Record<string, unknown>, rules: QualityRules = DEFAULT_QUALITY_RULES, drop: string[] = []): QualityOutcome {
  const record: Record<string, unknown> = { ...base, ...changes };
  for (const key of drop) delete record[key];
  return checkQuality(JSON.stringify(record), rules);
}

function rejection(outcome: QualityOutcome): { reason: string; error: string } {
  if (outcome.status !== 'rejected') throw new Error(`expected a rejection, got ${JSON.stringify(outcome)}`);
  return { reason: outcome.reason, error: outcome.error };
}

describe('checkQuality', () => {
  it('passes a complete trade and normalizes its times to epoch milliseconds', () => {
    const outcome = check({});
    expect(outcome).toEqual({
      status: 'passed',
      lateFlagged: false,
      inconsistent: false,
      trade: {
        event_id: 'e-1', exchange: 'binance', symbol: 'BTC-USDT', price: 67432.5, quantity: 0.5, quote_volume: 33716.25,
        side: 'buy', timestamp: T0, ingestion_timestamp: T0 + 333,
      },
    });
  });

  it('computes quote_volume as price * quantity when it is absent or null', () => {
    for (const outcome of [check({}, DEFAULT_QUALITY_RULES, ['quote_volume']), check({ quote_volume: null })]) {
      expect(outcome.status === 'passed' && outcome.trade.quote_volume).toBe(67432.5 * 0.5);
      expect(outcome.status === 'passed' && outcome.inconsistent).toBe(false);
    }
  });

  it('accepts epoch-millisecond numbers and ISO offsets for both times, and no ingestion_timestamp at all', () => {
    const numeric = check({ timestamp: T0, ingestion_timestamp: T0 + 5 });
    expect(numeric.status === 'passed' && numeric.trade.timestamp).toBe(T0);
    const offset = check({ timestamp: '2025-02-05T16:00:00.123+05:30' });
    expect(offset.status === 'passed' && offset.trade.timestamp).toBe(T0);
    const absent = check({}, DEFAULT_QUALITY_RULES, ['ingestion_timestamp']);
    expect(absent.status === 'passed' && absent.trade.ingestion_timestamp).toBeNull();
    const nulled = check({ ingestion_timestamp: null });
    expect(nulled.status === 'passed' && nulled.trade.ingestion_timestamp).toBeNull();
  });

  it.each([
    ['not JSON', '{"event_id": "e-1", "price": '],
    ['empty-looking whitespace', '   '],
    ['a lone carriage return', '\r'],
    ['null', 'null'],
    ['an array', '[{"event_id":"e-1"}]'],
    ['a number', '42'],
    ['a string', '"BTC-USDT"'],
    ['a boolean', 'false'],
  ])('rejects %s as malformed', (_name, text) => {
    expect(rejection(checkQuality(text, DEFAULT_QUALITY_RULES)).reason).toBe('malformed');
  });

  it('treats a \\r before the newline as JSON whitespace', () => {
    expect(checkQuality(JSON.stringify(base) + '\r', DEFAULT_QUALITY_RULES).status).toBe('passed');
  });

  it.each(['event_id', 'symbol', 'price', 'quantity', 'timestamp'])('rejects a missing or null %s as incomplete', (field) => {
    expect(rejection(check({}, DEFAULT_QUALITY_RULES, [field]))).toEqual({ reason: 'incomplete', error: `missing required field "${field}"` });
    expect(rejection(check({ [field]: null }))).toEqual({ reason: 'incomplete', error: `required field "${field}" is null` });
  });

  it.each<[string, Record<string, unknown>, string[], string]>([
    ['an empty event_id', { event_id: '' }, [], 'event_id must be a non-empty string'],
    ['a numeric event_id', { event_id: 7 }, [], 'event_id must be a non-empty string'],
    ['a zero price', { price: 0 }, [], 'price must be a finite number > 0'],
    ['a negative price', { price: -1 }, [], 'price must be a finite number > 0'],
    ['a numeric-string price', { price: '67432.5' }, [], 'price must be a finite number > 0'],
    ['a zero quantity', { quantity: 0 }, [], 'quantity must be a finite number > 0'],
    ['a numeric-string quantity', { quantity: '0.5' }, [], 'quantity must be a finite number > 0'],
    ['a lowercase symbol', { symbol: 'btc-usdt' }, [], 'symbol must match'],
    ['a symbol without a dash', { symbol: 'BTCUSDT' }, [], 'symbol must match'],
    ['a symbol with a one-letter base', { symbol: 'B-USDT' }, [], 'symbol must match'],
    ['a symbol with an eleven-letter quote', { symbol: 'BTC-ABCDEFGHIJK' }, [], 'symbol must match'],
    ['a numeric symbol', { symbol: 42 }, [], 'symbol must be a string'],
    ['a missing exchange', {}, ['exchange'], 'exchange must be a non-empty string'],
    ['an empty exchange', { exchange: '' }, [], 'exchange must be a non-empty string'],
    ['a missing side', {}, ['side'], 'side must be "buy" or "sell"'],
    ['an uppercase side', { side: 'BUY' }, [], 'side must be "buy" or "sell"'],
    ['a timestamp without a zone', { timestamp: '2025-02-05T10:30:00.123' }, [], 'timestamp must be an ISO-8601'],
    ['an impossible date', { timestamp: '2025-02-29T10:30:00Z' }, [], 'timestamp must be an ISO-8601'],
    ['a numeric-string timestamp', { timestamp: String(T0) }, [], 'timestamp must be an ISO-8601'],
    ['a boolean timestamp', { timestamp: true }, [], 'timestamp must be an ISO-8601'],
    ['a bad ingestion_timestamp', { ingestion_timestamp: 'soon' }, [], 'ingestion_timestamp must be an ISO-8601'],
    ['an epoch time past the year 9999', { timestamp: 253_402_300_800_000 }, [], 'timestamp must be an ISO-8601'],
    ['the last time a JavaScript Date can hold', { timestamp: 8.64e15 }, [], 'in the years 0000-9999'],
    ['an epoch time before the year 0000', { timestamp: -62_167_219_200_001 }, [], 'timestamp must be an ISO-8601'],
    ['an ISO time whose offset moves it past the year 9999', { timestamp: '9999-12-31T23:59:59-01:00' }, [], 'timestamp must be an ISO-8601'],
    ['an ingestion_timestamp past the year 9999', { ingestion_timestamp: 9e15 }, [], 'ingestion_timestamp must be an ISO-8601'],
    ['a clock in the future', { timestamp: T0 + 300_001, ingestion_timestamp: T0 }, [], 'timestamp is more than 5 minutes after ingestion_timestamp'],
    ['a negative quote_volume', { quote_volume: -5 }, [], 'quote_volume must be a finite number > 0'],
    ['a numeric-string quote_volume', { quote_volume: '33716.25' }, [], 'quote_volume must be a finite number > 0'],
  ])('rejects %s as invalid and says which rule failed', (_name, changes, drop, error) => {
    const result = rejection(check(changes, DEFAULT_QUALITY_RULES, drop));
    expect(result.reason).toBe('invalid');
    expect(result.error).toContain(error);
  });

  it('rejects a price that overflows to Infinity', () => {
    const text = JSON.stringify(base).replace('67432.5', '1e999');
    expect(rejection(checkQuality(text, DEFAULT_QUALITY_RULES)).error).toContain('price must be a finite number');
  });

  it('accepts event times from the first millisecond of the year 0000 to the last of 9999, in either form', () => {
    for (const [timestamp, expected] of [
      ['0000-01-01T00:00:00Z', -62_167_219_200_000],
      ['9999-12-31T23:59:59.999Z', 253_402_300_799_999],
      [-62_167_219_200_000, -62_167_219_200_000],
      [253_402_300_799_999.9, 253_402_300_799_999],
    ] as const) {
      const outcome = check({ timestamp, ingestion_timestamp: null });
      expect(outcome.status === 'passed' && outcome.trade.timestamp, String(timestamp)).toBe(expected);
    }
  });

  it('allows a timestamp exactly five minutes after ingestion but not one millisecond more', () => {
    expect(check({ timestamp: T0 + 300_000, ingestion_timestamp: T0 }).status).toBe('passed');
    expect(check({ timestamp: T0 + 300_001, ingestion_timestamp: T0 }).status).toBe('rejected');
  });

  it('decides by the first failing stage when a record breaks several rules', () => {
    expect(rejection(check({ side: 'hold', price: '1' }, DEFAULT_QUALITY_RULES, ['quantity'])).reason).toBe('incomplete');
    expect(rejection(check({ price: null, event_id: '' })).error).toBe('required field "price" is null');
    // Within stage 3 the rules run in SPEC order: event_id before price before symbol.
    expect(rejection(check({ event_id: '', price: -1, symbol: 'x' })).error).toBe('event_id must be a non-empty string');
    expect(rejection(check({ price: -1, symbol: 'x' })).error).toContain('price');
  });

  it('uses the quality.symbols allow-list instead of the pattern when one is configured', () => {
    const rules: QualityRules = { ...DEFAULT_QUALITY_RULES, symbols: ['BTC-USDT', 'weird/pair'] };
    expect(check({ symbol: 'weird/pair' }, rules).status).toBe('passed');
    expect(rejection(check({ symbol: 'ETH-USDT' }, rules)).error).toContain('quality.symbols');
  });

  it('flags late records and inconsistent quote volumes but still passes them', () => {
    const late = check({ timestamp: T0, ingestion_timestamp: T0 + 300_001 });
    expect(late.status === 'passed' && late.lateFlagged).toBe(true);
    const edge = check({ timestamp: T0, ingestion_timestamp: T0 + 300_000 });
    expect(edge.status === 'passed' && edge.lateFlagged).toBe(false);
    const off = check({ quote_volume: 33716.25 * 1.0011 });
    expect(off.status === 'passed' && off.inconsistent && off.trade.quote_volume).toBe(33716.25 * 1.0011);
    const close = check({ quote_volume: 33716.25 * 1.0009 });
    expect(close.status === 'passed' && close.inconsistent).toBe(false);
  });

  it('reads duplicate keys as JSON.parse does: the last one wins', () => {
    const outcome = checkQuality('{"event_id":"a","event_id":"b","exchange":"x","symbol":"AB-CD","price":-1,"price":2,"quantity":1,"side":"buy","timestamp":0}', DEFAULT_QUALITY_RULES);
    expect(outcome.status === 'passed' && [outcome.trade.event_id, outcome.trade.price]).toEqual(['b', 2]);
  });

  it('rejects every generated bad-record kind with the reason it was designed for', () => {
    const fields: TradeFields = Object.entries(base).map(([key, value]) => [key, JSON.stringify(value)]);
    fields.push(['timestamp_ms', String(T0)]);
    for (const kind of BAD_RECORD_KINDS) {
      const outcome = checkQuality(makeBadRecord(kind, fields), DEFAULT_QUALITY_RULES);
      expect({ kind: kind.kind, reason: outcome.status === 'rejected' ? outcome.reason : 'passed' }).toEqual({ kind: kind.kind, reason: kind.reason });
    }
  });
});

describe('isPatternSymbol', () => {
  it('matches ^[A-Z0-9]{2,10}-[A-Z0-9]{2,10}$ exactly', () => {
    for (const good of ['BTC-USDT', 'AB-CD', '1INCH-USDT', 'ABCDEFGHIJ-ABCDEFGHIJ']) expect(isPatternSymbol(good)).toBe(true);
    for (const bad of ['', 'A-BC', 'AB-C', 'ABCDEFGHIJK-AB', 'AB-CD-EF', 'AB_CD', 'ab-cd', 'AB-', '-ABCD', 'BTC-USDT ']) expect(isPatternSymbol(bad)).toBe(false);
  });
});

describe('parseEventTime', () => {
  it('reads ISO-8601 with Z or an offset and any number of fraction digits', () => {
    expect(parseEventTime('2025-02-05T10:30:00Z')).toBe(Date.UTC(2025, 1, 5, 10, 30));
    expect(parseEventTime('2025-02-05T10:30:00.1Z')).toBe(Date.UTC(2025, 1, 5, 10, 30, 0, 100));
    expect(parseEventTime('2025-02-05T10:30:00.123456789Z')).toBe(Date.UTC(2025, 1, 5, 10, 30, 0, 123));
    expect(parseEventTime('2025-02-05T05:30:00.123-05:00')).toBe(T0);
    expect(parseEventTime('2024-02-29T00:00:00+00:00')).toBe(Date.UTC(2024, 1, 29));
    expect(parseEventTime('0001-01-01T00:00:00Z')).toBe(Date.parse('0001-01-01T00:00:00Z'));
  });

  it('reads numbers as epoch milliseconds, truncating sub-millisecond digits', () => {
    expect(parseEventTime(T0)).toBe(T0);
    expect(parseEventTime(T0 + 0.9)).toBe(T0);
    expect(parseEventTime(Number.POSITIVE_INFINITY)).toBeUndefined();
  });

  it.each([
    '2025-02-30T10:30:00Z', '2023-02-29T10:30:00Z', '2025-13-01T10:30:00Z', '2025-02-05T24:00:00Z', '2025-02-05T10:60:00Z',
    '2025-02-05T10:30:60Z', '2025-02-05 10:30:00Z', '2025-02-05T10:30:00', '2025-02-05T10:30:00.Z', '2025-02-05T10:30Z',
    '2025-02-05T10:30:00+0530', '2025-02-05T10:30:00+24:00', '20x5-02-05T10:30:00Z', 'x025-02-05T10:30:00Z', '2025-02-05T10:30:0xZ', '2025-02-05T10:30:00z', '2025-02-05T10:30:00ZZ', 'yesterday', '',
  ])('rejects %s', (text) => {
    expect(parseEventTime(text)).toBeUndefined();
  });

  it('rejects values that are neither strings nor numbers', () => {
    for (const value of [null, undefined, true, {}, []]) expect(parseEventTime(value)).toBeUndefined();
  });
});

describe('dlqRow', () => {
  it('keeps the raw text verbatim with its source, the offset as text and received_at in epoch ms', () => {
    expect(dlqRow({ text: ' {bad\r', source: 'file:/tmp/t.jsonl', offset: 1234 }, 'malformed', 'not valid JSON', 99)).toEqual({
      reason: 'malformed', error: 'not valid JSON', raw: ' {bad\r', source: 'file:/tmp/t.jsonl', offset: '1234', received_at: 99,
    });
  });
});
