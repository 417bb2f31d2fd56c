// MOD-000 data quality: the per-record stages of SPEC §2 (all but dedup, which needs keyed state) and DLQ rows.

import { JsonFieldReader, type RawRecord, type TableRow } from 'coattail';
import { parseEventTime, type Trade } from './trade.js';

export type RejectReason = 'malformed' | 'incomplete' | 'invalid';

export type QualityOutcome =
  | { status: 'passed'; trade: Trade; lateFlagged: boolean; inconsistent: boolean }
  | { status: 'rejected'; reason: RejectReason; error: string };

export type Rejection = Extract<QualityOutcome, { status: 'rejected' }>;

export interface QualityRules {
  /** Allowed symbols; without a list any `^[A-Z0-9]{2,10}-[A-Z0-9]{2,10}$` symbol is allowed. */
  readonly symbols?: readonly string[];
  /** A `timestamp` more than this after `ingestion_timestamp` is a clock in the future (invalid). */
  readonly futureClockToleranceMs: number;
  /** `ingestion_timestamp - timestamp` above this flags the record as late (still processed). */
  readonly lateFlagMs: number;
  /** Relative difference between `quote_volume` and `price * quantity` above which a record is inconsistent. */
  readonly inconsistencyTolerance: number;
}

export const DEFAULT_QUALITY_RULES: QualityRules = Object.freeze({
  futureClockToleranceMs: 5 * 60_000,
  lateFlagMs: 5 * 60_000,
  inconsistencyTolerance: 0.001,
});

/** What is derived once per rules object rather than per record. */
interface CompiledRules {
  readonly allowed: ReadonlySet<string> | undefined;
  readonly symbolRejection: Rejection;
  readonly futureClockRejection: Rejection;
}

const compiledCache = new WeakMap<QualityRules, CompiledRules>();

function reject(reason: RejectReason, error: string): Rejection {
  return Object.freeze({ status: 'rejected', reason, error });
}

// Rejections are constants: bad records are common enough in dirty feeds that allocating for them matters.
const NOT_JSON = reject('malformed', 'not valid JSON');
const NOT_OBJECT_NULL = reject('malformed', 'JSON value is null, not an object');
const NOT_OBJECT_ARRAY = reject('malformed', 'JSON value is an array, not an object');
const NOT_OBJECT_SCALAR = reject('malformed', 'JSON value is a scalar, not an object');
const MISSING = {
  event_id: reject('incomplete', 'missing required field "event_id"'),
  symbol: reject('incomplete', 'missing required field "symbol"'),
  price: reject('incomplete', 'missing required field "price"'),
  quantity: reject('incomplete', 'missing required field "quantity"'),
  timestamp: reject('incomplete', 'missing required field "timestamp"'),
};
const NULL = {
  event_id: reject('incomplete', 'required field "event_id" is null'),
  symbol: reject('incomplete', 'required field "symbol" is null'),
  price: reject('incomplete', 'required field "price" is null'),
  quantity: reject('incomplete', 'required field "quantity" is null'),
  timestamp: reject('incomplete', 'required field "timestamp" is null'),
};
const BAD_EVENT_ID = reject('invalid', 'event_id must be a non-empty string');
const BAD_PRICE = reject('invalid', 'price must be a finite number > 0 (numeric strings are not accepted)');
const BAD_QUANTITY = reject('invalid', 'quantity must be a finite number > 0 (numeric strings are not accepted)');
const BAD_SYMBOL_TYPE = reject('invalid', 'symbol must be a string');
const BAD_SYMBOL_PATTERN = reject('invalid', 'symbol must match ^[A-Z0-9]{2,10}-[A-Z0-9]{2,10}$ (e.g. BTC-USDT)');
const BAD_EXCHANGE = reject('invalid', 'exchange must be a non-empty string');
const BAD_SIDE = reject('invalid', 'side must be "buy" or "sell"');
const TIME_FORMS = 'an ISO-8601 string with Z or ±hh:mm, or a number of epoch milliseconds, in the years 0000-9999';
const BAD_TIMESTAMP = reject('invalid', `timestamp must be ${TIME_FORMS}`);
const BAD_INGESTION = reject('invalid', `ingestion_timestamp must be ${TIME_FORMS}`);
const BAD_QUOTE_VOLUME = reject('invalid', 'quote_volume must be a finite number > 0 (numeric strings are not accepted)');

let lastRules: QualityRules | undefined;
let lastCompiled: CompiledRules | undefined;

function compile(rules: QualityRules): CompiledRules {
  // One job uses one rules object: remembering the last one skips even the WeakMap lookup per record.
  if (rules === lastRules) return lastCompiled!;
  let compiled = compiledCache.get(rules);
  if (!compiled) {
    compiled = compileRules(rules);
    compiledCache.set(rules, compiled);
  }
  lastRules = rules;
  lastCompiled = compiled;
  return compiled;
}

/** Rules objects are treated as immutable (config is frozen): what is derived here is never recomputed. */
function compileRules(rules: QualityRules): CompiledRules {
  return {
    allowed: rules.symbols ? new Set(rules.symbols) : undefined,
    symbolRejection: rules.symbols ? reject('invalid', 'symbol is not in the allowed list quality.symbols') : BAD_SYMBOL_PATTERN,
    futureClockRejection: reject(
      'invalid',
      `timestamp is more than ${describeMs(rules.futureClockToleranceMs)} after ingestion_timestamp (a clock in the future)`,
    ),
  };
}

/**
 * Runs stages 1-3, 5 and 6 of SPEC §2 on one record; the first failing stage decides the outcome.
 * Stage 4 (dedup) is left to the caller, which keys on `trade.event_id` and `trade.timestamp`, and which
 * should count `lateFlagged` / `inconsistent` only for records that survive it.
 */
export function checkQuality(text: string, rules: QualityRules): QualityOutcome {
  // Stage 1: malformed.
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return NOT_JSON;
  }
  return checkParsedRecord(value, rules);
}

/** The fields the quality rules read; `JSON.parse` builds every other one too, for nothing. */
const tradeFields = new JsonFieldReader(
  ['event_id', 'exchange', 'symbol', 'price', 'quantity', 'quote_volume', 'side', 'timestamp', 'ingestion_timestamp'],
  { intern: ['exchange', 'symbol', 'side'] },
);

/**
 * `checkQuality` of a source record: its fields read in place from the line's bytes where the engine offers
 * them (the values `JSON.parse` would give), its text parsed otherwise.
 */
export function checkRawRecord(raw: RawRecord, rules: QualityRules): QualityOutcome {
  if (!tradeFields.read(raw)) return checkQuality(raw.text, rules);
  const values = tradeFields.values;
  return checkFields(values[0], values[1], values[2], values[3], values[4], values[5], values[6], values[7], values[8], rules);
}

/** `checkQuality` on a value already decoded from JSON (for sources that hand over objects, and for benchmarks). */
export function checkParsedRecord(value: unknown, rules: QualityRules): QualityOutcome {
  if (typeof value !== 'object') return NOT_OBJECT_SCALAR;
  if (value === null) return NOT_OBJECT_NULL;
  if (Array.isArray(value)) return NOT_OBJECT_ARRAY;
  const record = value as Record<string, unknown>;
  return checkFields(
    record.event_id,
    record.exchange,
    record.symbol,
    record.price,
    record.quantity,
    record.quote_volume,
    record.side,
    record.timestamp,
    record.ingestion_timestamp,
    rules,
  );
}

/** Stages 2, 3, 5 and 6 on a record's fields (undefined where absent), passed one by one: no object to build. */
function checkFields(
  eventId: unknown,
  exchange: unknown,
  symbol: unknown,
  price: unknown,
  quantity: unknown,
  givenQuoteVolume: unknown,
  side: unknown,
  timestampValue: unknown,
  ingestionValue: unknown,
  rules: QualityRules,
): QualityOutcome {
  // Stage 2: incomplete (absent and null both count as missing).
  if (eventId == null) return eventId === undefined ? MISSING.event_id : NULL.event_id;
  if (symbol == null) return symbol === undefined ? MISSING.symbol : NULL.symbol;
  if (price == null) return price === undefined ? MISSING.price : NULL.price;
  if (quantity == null) return quantity === undefined ? MISSING.quantity : NULL.quantity;
  if (timestampValue == null) return timestampValue === undefined ? MISSING.timestamp : NULL.timestamp;

  // Stage 3: invalid, rules in the order SPEC lists them.
  if (typeof eventId !== 'string' || eventId.length === 0) return BAD_EVENT_ID;
  // JSON cannot encode NaN, but 1e999 parses to Infinity.
  if (typeof price !== 'number' || !(price > 0) || price === Infinity) return BAD_PRICE;
  if (typeof quantity !== 'number' || !(quantity > 0) || quantity === Infinity) return BAD_QUANTITY;
  const compiled = compile(rules);
  if (typeof symbol !== 'string') return BAD_SYMBOL_TYPE;
  if (compiled.allowed ? !compiled.allowed.has(symbol) : !isPatternSymbol(symbol)) return compiled.symbolRejection;
  if (typeof exchange !== 'string' || exchange.length === 0) return BAD_EXCHANGE;
  if (side !== 'buy' && side !== 'sell') return BAD_SIDE;
  const timestamp = parseEventTime(timestampValue);
  if (timestamp === undefined) return BAD_TIMESTAMP;
  let ingestion: number | null = null;
  if (ingestionValue != null) {
    const parsed = parseEventTime(ingestionValue);
    if (parsed === undefined) return BAD_INGESTION;
    ingestion = parsed;
    if (timestamp - parsed > rules.futureClockToleranceMs) return compiled.futureClockRejection;
  }
  const notional = price * quantity;
  let quoteVolume = notional;
  let inconsistent = false;
  if (givenQuoteVolume != null) {
    if (typeof givenQuoteVolume !== 'number' || !(givenQuoteVolume > 0) || givenQuoteVolume === Infinity) {
      return BAD_QUOTE_VOLUME;
    }
    quoteVolume = givenQuoteVolume;
    // Stage 6: inconsistent (counted, processed with the given quote_volume).
    inconsistent = Math.abs(givenQuoteVolume - notional) > rules.inconsistencyTolerance * notional;
  }

  const trade: Trade = {
    event_id: eventId,
    exchange,
    symbol,
    price,
    quantity,
    quote_volume: quoteVolume,
    side,
    timestamp,
    ingestion_timestamp: ingestion,
  };
  // Stage 5: late_flagged (counted, processed).
  const lateFlagged = ingestion !== null && ingestion - timestamp > rules.lateFlagMs;
  return { status: 'passed', trade, lateFlagged, inconsistent };
}

/** `^[A-Z0-9]{2,10}-[A-Z0-9]{2,10}$` as a char loop. */
export function isPatternSymbol(symbol: string): boolean {
  const length = symbol.length;
  if (length < 5 || length > 21) return false;
  let dash = -1;
  for (let i = 0; i < length; i++) {
    const code = symbol.charCodeAt(i);
    if (code === 45 /* - */) {
      if (dash !== -1) return false;
      dash = i;
    } else if (!((code >= 65 && code <= 90) || (code >= 48 && code <= 57))) {
      return false;
    }
  }
  return dash >= 2 && dash <= 10 && length - dash - 1 >= 2 && length - dash - 1 <= 10;
}

/** Where a DLQ record came from: the raw text, the split's origin and the record's offset in it. */
export interface DlqSource {
  readonly text: string;
  readonly source: string;
  readonly offset: number | string;
}

/** A `dlq` table row (SPEC §2): the input kept verbatim, `offset` as text, `received_at` in epoch ms. */
export function dlqRow(raw: DlqSource, reason: RejectReason, error: string, receivedAtMs: number): TableRow {
  return {
    reason,
    error,
    raw: raw.text,
    source: raw.source,
    offset: String(raw.offset),
    received_at: receivedAtMs,
  };
}

function describeMs(ms: number): string {
  if (ms % 3_600_000 === 0) return plural(ms / 3_600_000, 'hour');
  if (ms % 60_000 === 0) return plural(ms / 60_000, 'minute');
  if (ms % 1000 === 0) return plural(ms / 1000, 'second');
  return `${ms} ms`;
}

function plural(count: number, unit: string): string {
  return `${count} ${unit}${count === 1 ? '' : 's'}`;
}
