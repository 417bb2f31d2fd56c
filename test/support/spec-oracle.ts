/**
 * A clean-room oracle of the product contract (SPEC.md §1-§6, docs/decisions.md §4, §8, §16).
 *
 * Written from the contract alone, without reading the jobs, so that a bug shared by the jobs and the
 * repo's own reference would show up here. Deliberately plain: one thread, one pass over the lines in
 * source order (one split), then windows computed from the records each window kept. Timestamps are
 * epoch milliseconds; the comparison converts the engine's ISO strings / Parquet timestamps to them.
 */

/** Settings the oracle needs; `DEFAULT_CONFIG` holds SPEC's defaults (config/features.yaml). */
export interface OracleConfig {
  readonly symbols: readonly string[] | null;
  readonly futureClockToleranceMs: number;
  readonly lateFlagAfterMs: number;
  readonly inconsistencyTolerance: number;
  readonly dedupHorizonMs: number;
  readonly volume: { readonly windowMs: number; readonly delayMs: number; readonly historyMs: number; readonly minHistory: number; readonly zThreshold: number; readonly zHigh: number };
  readonly whale: { readonly threshold: number; readonly high: number; readonly critical: number };
  readonly spread: { readonly windowMs: number; readonly delayMs: number; readonly exchangeA: string; readonly exchangeB: string; readonly thresholdPct: number; readonly highPct: number };
}

export const DEFAULT_CONFIG: OracleConfig = {
  symbols: null,
  futureClockToleranceMs: 5 * 60_000,
  lateFlagAfterMs: 5 * 60_000,
  inconsistencyTolerance: 0.001,
  dedupHorizonMs: 3_600_000,
  volume: { windowMs: 60_000, delayMs: 30_000, historyMs: 3_600_000, minHistory: 10, zThreshold: 2.5, zHigh: 3.5 },
  whale: { threshold: 100_000, high: 500_000, critical: 1_000_000 },
  spread: { windowMs: 30_000, delayMs: 15_000, exchangeA: 'binance', exchangeB: 'coinbase', thresholdPct: 0.5, highPct: 1.0 },
};

// ---------------------------------------------------------------------------------------------
// §1 Lines of a file

/** One record of a file: its text and the byte offset of its first byte. */
export interface Line {
  readonly text: string;
  readonly offset: number;
}

/**
 * Records of a file: split on `\n` bytes (a `\r` stays in the line), decoded as UTF-8 with invalid bytes
 * replaced by U+FFFD and a BOM kept (decisions §8), empty lines skipped.
 */
export function splitLines(bytes: Uint8Array): Line[] {
  const decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
  const lines: Line[] = [];
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    if (i < bytes.length && bytes[i] !== 0x0a) continue;
    if (i > start) lines.push({ text: decoder.decode(bytes.subarray(start, i)), offset: start });
    start = i + 1;
  }
  return lines;
}

// ---------------------------------------------------------------------------------------------
// Time forms (§1; decisions §8: ISO needs T, seconds, Z or ±hh:mm; years 0000-9999 UTC)

const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|([+-])(\d{2}):(\d{2}))$/;
function utcMs(year: number, month: number, day: number, hour: number, minute: number, second: number, ms: number): number {
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day); // setUTCFullYear: years 0-99 are not shifted to 19xx
  date.setUTCHours(hour, minute, second, ms);
  return date.getTime();
}

const MIN_MS = utcMs(0, 1, 1, 0, 0, 0, 0); // 0000-01-01T00:00:00Z
const MAX_MS_EXCLUSIVE = utcMs(10_000, 1, 1, 0, 0, 0, 0);

function daysInMonth(year: number, month: number): number {
  return new Date(utcMs(year, month + 1, 0, 0, 0, 0, 0)).getUTCDate();
}

function parseIsoTime(text: string): number | null {
  const m = ISO_TIME.exec(text);
  if (m === null) return null;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  if (hour > 23 || minute > 59 || second > 59) return null;
  const ms = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, '0')); // finer digits are dropped
  let offsetMinutes = 0;
  if (m[8] !== 'Z') {
    const offsetHours = Number(m[10]);
    const offsetMins = Number(m[11]);
    if (offsetHours > 23 || offsetMins > 59) return null;
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMins);
  }
  return utcMs(year, month, day, hour, minute, second, ms) - offsetMinutes * 60_000;
}

/** Epoch ms of a `timestamp`-form value, or null when it is not in one of the forms. */
export function parseTime(value: unknown): number | null {
  let ms: number | null = null;
  if (typeof value === 'number') ms = Number.isFinite(value) ? Math.floor(value) : null; // whole milliseconds
  else if (typeof value === 'string') ms = parseIsoTime(value);
  if (ms === null || ms < MIN_MS || ms >= MAX_MS_EXCLUSIVE) return null;
  return ms;
}

// ---------------------------------------------------------------------------------------------
// §2 Quality stages 1-3

export type DlqReason = 'malformed' | 'incomplete' | 'invalid';

/** A record that passed stages 1-3. */
export interface Trade {
  readonly eventId: string;
  readonly exchange: string;
  readonly symbol: string;
  readonly price: number;
  readonly quantity: number;
  /** The given quote_volume, else price * quantity. */
  readonly quoteVolume: number;
  readonly quoteVolumeGiven: boolean;
  readonly side: 'buy' | 'sell';
  readonly time: number;
  readonly ingestion: number | null;
}

export type Verdict = { readonly ok: true; readonly trade: Trade } | { readonly ok: false; readonly reason: DlqReason; readonly rule: string };

const DEFAULT_SYMBOL = /^[A-Z0-9]{2,10}-[A-Z0-9]{2,10}$/;
const REQUIRED = ['event_id', 'symbol', 'price', 'quantity', 'timestamp'] as const;

const isPositiveNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;
const isNonEmptyString = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
/** Present = the key exists and is not null (§1 quote_volume; decisions §8 ingestion_timestamp). */
const isPresent = (record: Record<string, unknown>, key: string): boolean => Object.hasOwn(record, key) && record[key] !== null;

function parseObject(text: string): Record<string, unknown> | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  return value as Record<string, unknown>;
}

/** Stage 3 on a record that passed stage 2: the first broken rule in words, or null. */
function invalidRule(r: Record<string, unknown>, config: OracleConfig): string | null {
  if (!isNonEmptyString(r.event_id)) return 'event_id is not a non-empty string';
  if (!isPositiveNumber(r.price)) return 'price is not a finite number > 0';
  if (!isPositiveNumber(r.quantity)) return 'quantity is not a finite number > 0';
  const symbolOk = typeof r.symbol === 'string' && (config.symbols === null ? DEFAULT_SYMBOL.test(r.symbol) : config.symbols.includes(r.symbol));
  if (!symbolOk) return 'symbol not allowed';
  if (!isNonEmptyString(r.exchange)) return 'exchange is not a non-empty string';
  if (r.side !== 'buy' && r.side !== 'sell') return 'side is not buy/sell';
  const time = parseTime(r.timestamp);
  if (time === null) return 'timestamp not in a supported form';
  if (isPresent(r, 'ingestion_timestamp')) {
    const ingestion = parseTime(r.ingestion_timestamp);
    if (ingestion === null) return 'ingestion_timestamp not in a supported form';
    if (time - ingestion > config.futureClockToleranceMs) return 'timestamp in the future of ingestion_timestamp';
  }
  if (isPresent(r, 'quote_volume') && !isPositiveNumber(r.quote_volume)) return 'quote_volume is not a finite number > 0';
  return null;
}

/** Stages 1-3 of §2 on one line. */
export function checkRecord(text: string, config: OracleConfig = DEFAULT_CONFIG): Verdict {
  const r = parseObject(text);
  if (r === null) return { ok: false, reason: 'malformed', rule: 'not a JSON object' };
  const missing = REQUIRED.find((key) => !isPresent(r, key));
  if (missing !== undefined) return { ok: false, reason: 'incomplete', rule: `${missing} missing` };
  const rule = invalidRule(r, config);
  if (rule !== null) return { ok: false, reason: 'invalid', rule };
  const price = r.price as number;
  const quantity = r.quantity as number;
  const quoteVolumeGiven = isPresent(r, 'quote_volume');
  return {
    ok: true,
    trade: {
      eventId: r.event_id as string,
      exchange: r.exchange as string,
      symbol: r.symbol as string,
      price,
      quantity,
      quoteVolume: quoteVolumeGiven ? (r.quote_volume as number) : price * quantity,
      quoteVolumeGiven,
      side: r.side as 'buy' | 'sell',
      time: parseTime(r.timestamp) as number,
      ingestion: isPresent(r, 'ingestion_timestamp') ? parseTime(r.ingestion_timestamp) : null,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// §2 stage 4: keep-first dedup (decisions §4)

/**
 * A record is a duplicate when an earlier passed record with its event_id has an event time at most the
 * horizon before it (or any time after it). An id is forgotten once the newest passed event time is more
 * than twice the horizon past the time it was remembered with.
 */
class Dedup {
  private readonly seen = new Map<string, number>();
  private newest = -Infinity;

  constructor(private readonly horizonMs: number) {}

  /** True when `trade` is a duplicate; otherwise remembers it as passed. */
  isDuplicate(trade: Trade): boolean {
    const remembered = this.seen.get(trade.eventId);
    const forgotten = remembered === undefined || this.newest - remembered > 2 * this.horizonMs;
    if (!forgotten && trade.time - remembered <= this.horizonMs) return true;
    this.seen.set(trade.eventId, trade.time);
    this.newest = Math.max(this.newest, trade.time);
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Output rows (timestamps as epoch ms)

export interface DlqRow {
  readonly reason: DlqReason;
  readonly raw: string;
  readonly source: string;
  readonly offset: string;
}

export interface WhaleRow {
  readonly event_id: string;
  readonly symbol: string;
  readonly exchange: string;
  readonly price: number;
  readonly quantity: number;
  readonly quote_volume: number;
  readonly side: string;
  readonly timestamp: number;
  readonly severity: string;
}

export interface VolumeRow {
  readonly symbol: string;
  readonly exchange: string;
  readonly window_start: number;
  readonly window_end: number;
  readonly trade_count: number;
  readonly total_volume: number;
  readonly avg_price: number;
  readonly max_price: number;
  readonly min_price: number;
  readonly buy_volume: number;
  readonly sell_volume: number;
}

export interface SpreadRow {
  readonly symbol: string;
  readonly window_start: number;
  readonly window_end: number;
  readonly exchange_a: string;
  readonly exchange_b: string;
  readonly vwap_a: number;
  readonly vwap_b: number;
  readonly spread_pct: number;
}

/** An alert without the processing-time fields, id and message (compared for form only). */
export interface AlertRow {
  readonly alert_type: 'volume_spike' | 'whale' | 'spread';
  readonly module_id: 'MOD-001' | 'MOD-002' | 'MOD-003';
  readonly symbol: string;
  readonly exchange: string | null;
  readonly severity: string;
  readonly details: Record<string, number | string>;
}

export interface OracleTables {
  readonly volume_aggregates: VolumeRow[];
  readonly exchange_spreads: SpreadRow[];
  readonly whale_trades: WhaleRow[];
  readonly anomaly_alerts: AlertRow[];
  readonly dlq: DlqRow[];
}

export interface OracleCounters {
  records_in: number;
  passed: number;
  malformed: number;
  incomplete: number;
  invalid: number;
  duplicate: number;
  late_flagged: number;
  inconsistent: number;
  late_dropped: { volume: number; spread: number };
}

export interface OracleResult {
  readonly tables: OracleTables;
  readonly counters: OracleCounters;
  /** Row counts per table, as `_summary.json` `rows` lists them. */
  readonly rows: Record<keyof OracleTables, number>;
}

// ---------------------------------------------------------------------------------------------
// §4 Whale

function whaleSeverity(quoteVolume: number, whale: OracleConfig['whale']): string | null {
  if (!(quoteVolume > whale.threshold)) return null;
  if (quoteVolume > whale.critical) return 'critical';
  if (quoteVolume > whale.high) return 'high';
  return 'medium';
}

function whaleRows(trade: Trade, config: OracleConfig): { row: WhaleRow; alert: AlertRow } | null {
  const severity = whaleSeverity(trade.quoteVolume, config.whale);
  if (severity === null) return null;
  const row: WhaleRow = {
    event_id: trade.eventId,
    symbol: trade.symbol,
    exchange: trade.exchange,
    price: trade.price,
    quantity: trade.quantity,
    quote_volume: trade.quoteVolume,
    side: trade.side,
    timestamp: trade.time,
    severity,
  };
  const details = { event_id: trade.eventId, quote_volume: trade.quoteVolume, price: trade.price, quantity: trade.quantity, side: trade.side };
  return { row, alert: { alert_type: 'whale', module_id: 'MOD-002', symbol: trade.symbol, exchange: trade.exchange, severity, details } };
}

// ---------------------------------------------------------------------------------------------
// §3 Windows: lateness against the split watermark before the record

/** Trades a window kept, in source order, by key then window start. */
class WindowBuckets {
  readonly byKey = new Map<string, Map<number, Trade[]>>();
  late = 0;

  constructor(
    private readonly sizeMs: number,
    private readonly delayMs: number,
  ) {}

  /** Adds `trade` unless its window had fired at `maxBefore` (max event time of passed records before it). */
  add(key: string, trade: Trade, maxBefore: number): void {
    const start = Math.floor(trade.time / this.sizeMs) * this.sizeMs;
    if (start + this.sizeMs <= maxBefore - this.delayMs) {
      this.late++;
      return;
    }
    let windows = this.byKey.get(key);
    if (windows === undefined) this.byKey.set(key, (windows = new Map()));
    const trades = windows.get(start) ?? [];
    trades.push(trade);
    windows.set(start, trades);
  }
}

const sum = (values: readonly number[]): number => values.reduce((acc, v) => acc + v, 0);
const vwap = (trades: readonly Trade[]): number => sum(trades.map((t) => t.price * t.quantity)) / sum(trades.map((t) => t.quantity));

// ---------------------------------------------------------------------------------------------
// §4 Volume anomaly

function volumeRow(symbol: string, exchange: string, start: number, size: number, trades: readonly Trade[]): VolumeRow {
  const prices = trades.map((t) => t.price);
  return {
    symbol,
    exchange,
    window_start: start,
    window_end: start + size,
    trade_count: trades.length,
    total_volume: sum(trades.map((t) => t.quoteVolume)),
    avg_price: vwap(trades),
    max_price: Math.max(...prices),
    min_price: Math.min(...prices),
    buy_volume: sum(trades.filter((t) => t.side === 'buy').map((t) => t.quoteVolume)),
    sell_volume: sum(trades.filter((t) => t.side === 'sell').map((t) => t.quoteVolume)),
  };
}

/** The spike alert of `row` given its key's earlier rows (window order), or null. */
function volumeAlert(row: VolumeRow, earlier: readonly VolumeRow[], volume: OracleConfig['volume']): AlertRow | null {
  const history = earlier.filter((h) => h.window_start >= row.window_start - volume.historyMs).map((h) => h.total_volume);
  if (history.length < volume.minHistory) return null;
  if (history.every((v) => v === history[0])) return null; // decisions §8: all equal gives no score
  const mean = sum(history) / history.length;
  const stddev = Math.sqrt(sum(history.map((v) => (v - mean) ** 2)) / history.length);
  if (!(stddev > 0)) return null;
  const z = (row.total_volume - mean) / stddev;
  if (!(Math.abs(z) > volume.zThreshold)) return null;
  return {
    alert_type: 'volume_spike',
    module_id: 'MOD-001',
    symbol: row.symbol,
    exchange: row.exchange,
    severity: Math.abs(z) > volume.zHigh ? 'high' : 'medium',
    details: { z_score: z, window_volume: row.total_volume, rolling_mean: mean, rolling_stddev: stddev, window_start: row.window_start },
  };
}

function volumeResults(buckets: WindowBuckets, volume: OracleConfig['volume']): { rows: VolumeRow[]; alerts: AlertRow[] } {
  const rows: VolumeRow[] = [];
  const alerts: AlertRow[] = [];
  for (const [key, windows] of buckets.byKey) {
    const [symbol, exchange] = JSON.parse(key) as [string, string];
    const keyRows: VolumeRow[] = [];
    for (const start of [...windows.keys()].sort((a, b) => a - b)) {
      const row = volumeRow(symbol, exchange, start, volume.windowMs, windows.get(start) as Trade[]);
      const alert = volumeAlert(row, keyRows, volume);
      if (alert !== null) alerts.push(alert);
      keyRows.push(row);
    }
    rows.push(...keyRows);
  }
  return { rows, alerts };
}

// ---------------------------------------------------------------------------------------------
// §4 Spread

function spreadResults(buckets: WindowBuckets, spread: OracleConfig['spread']): { rows: SpreadRow[]; alerts: AlertRow[] } {
  const rows: SpreadRow[] = [];
  const alerts: AlertRow[] = [];
  for (const [symbol, windows] of buckets.byKey) {
    for (const [start, trades] of windows) {
      const a = trades.filter((t) => t.exchange === spread.exchangeA);
      const b = trades.filter((t) => t.exchange === spread.exchangeB);
      if (a.length === 0 || b.length === 0) continue;
      const vwapA = vwap(a);
      const vwapB = vwap(b);
      const spreadPct = ((vwapA - vwapB) / vwapB) * 100;
      const row: SpreadRow = { symbol, window_start: start, window_end: start + spread.windowMs, exchange_a: spread.exchangeA, exchange_b: spread.exchangeB, vwap_a: vwapA, vwap_b: vwapB, spread_pct: spreadPct };
      rows.push(row);
      if (!(Math.abs(spreadPct) > spread.thresholdPct)) continue;
      alerts.push({
        alert_type: 'spread',
        module_id: 'MOD-003',
        symbol,
        exchange: null,
        severity: Math.abs(spreadPct) > spread.highPct ? 'high' : 'medium',
        details: { spread_pct: spreadPct, exchange_a_vwap: vwapA, exchange_b_vwap: vwapB, window_start: start },
      });
    }
  }
  return { rows, alerts };
}

// ---------------------------------------------------------------------------------------------
// The whole pipeline over one split

/** Runs SPEC §1-§6 over the records of one file (`source` is what DLQ rows name as their source). */
export function runOracle(lines: readonly Line[], source: string, config: OracleConfig = DEFAULT_CONFIG): OracleResult {
  const counters: OracleCounters = { records_in: 0, passed: 0, malformed: 0, incomplete: 0, invalid: 0, duplicate: 0, late_flagged: 0, inconsistent: 0, late_dropped: { volume: 0, spread: 0 } };
  const dlq: DlqRow[] = [];
  const whales: WhaleRow[] = [];
  const alerts: AlertRow[] = [];
  const dedup = new Dedup(config.dedupHorizonMs);
  const volume = new WindowBuckets(config.volume.windowMs, config.volume.delayMs);
  const spread = new WindowBuckets(config.spread.windowMs, config.spread.delayMs);
  let maxEventTime = -Infinity; // the split's watermark before delays

  for (const line of lines) {
    counters.records_in++;
    const verdict = checkRecord(line.text, config);
    if (!verdict.ok) {
      counters[verdict.reason]++;
      dlq.push({ reason: verdict.reason, raw: line.text, source, offset: String(line.offset) });
      continue;
    }
    const trade = verdict.trade;
    if (dedup.isDuplicate(trade)) {
      counters.duplicate++;
      continue;
    }
    counters.passed++;
    if (trade.ingestion !== null && trade.ingestion - trade.time > config.lateFlagAfterMs) counters.late_flagged++;
    const expected = trade.price * trade.quantity;
    if (trade.quoteVolumeGiven && Math.abs(trade.quoteVolume - expected) > config.inconsistencyTolerance * expected) counters.inconsistent++;

    const whale = whaleRows(trade, config);
    if (whale !== null) {
      whales.push(whale.row);
      alerts.push(whale.alert);
    }
    volume.add(JSON.stringify([trade.symbol, trade.exchange]), trade, maxEventTime);
    spread.add(trade.symbol, trade, maxEventTime); // every exchange's trades: the pair is picked when a window fires
    maxEventTime = Math.max(maxEventTime, trade.time);
  }

  counters.late_dropped = { volume: volume.late, spread: spread.late };
  const volumeOut = volumeResults(volume, config.volume);
  const spreadOut = spreadResults(spread, config.spread);
  const tables: OracleTables = {
    volume_aggregates: volumeOut.rows,
    exchange_spreads: spreadOut.rows,
    whale_trades: whales,
    anomaly_alerts: [...alerts, ...volumeOut.alerts, ...spreadOut.alerts],
    dlq,
  };
  const rows = Object.fromEntries(Object.entries(tables).map(([name, list]) => [name, list.length])) as Record<keyof OracleTables, number>;
  return { tables, counters, rows };
}
