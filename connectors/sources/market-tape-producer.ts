// Produces the lines of a market tape one record at a time and records what it injects (see market-tape.ts).

import { BAD_RECORD_KINDS, makeBadRecord, type TradeFields } from './bad-records.js';
import type { TapeOptions, TapeTruth, WhaleSeverity } from './market-tape.js';

export const DEFAULT_SYMBOLS: readonly string[] = Object.freeze(['BTC-USDT', 'ETH-USDT', 'SOL-USDT', 'XRP-USDT']);
export const EXCHANGES: readonly string[] = Object.freeze(['binance', 'coinbase']);
const BASE_PRICES: Record<string, number> = { 'BTC-USDT': 67_000, 'ETH-USDT': 3_500, 'SOL-USDT': 180, 'XRP-USDT': 0.6 };
export const DEFAULT_START_MS = Date.UTC(2025, 1, 5, 10, 0, 0);
const VOLUME_WINDOW_MS = 60_000;
const SPREAD_WINDOW_MS = 30_000;
const HOUR_MS = 3_600_000;
/** Volume pattern amplitude A: a stream's windows alternate (1 - A) and (1 + A) times the target. */
const AMPLITUDE = 0.45;
const TARGET_WINDOW_VOLUME = 3_000_000;
/** Largest mean trade that keeps a burst's biggest trade under the whale threshold (100,000). */
const MAX_MEAN_TRADE_VOLUME = 5_000;
const WHALE_CLASSES: ReadonlyArray<[WhaleSeverity, number, number]> = [
  ['medium', 150_000, 450_000],
  ['high', 550_000, 950_000],
  ['critical', 1_050_000, 1_500_000],
];
const OFFSETS = ['+00:00', '+02:00', '-05:00', '+05:30', '-03:30'];
const RATES = { duplicate: 0.002, veryLate: 0.0005, outOfOrder: 0.01, lateFlagged: 0.0005, inconsistent: 0.0005, crlf: 0.0005 };
/** Target z of an injected burst, computed from the stream's actual history so whales in it do not matter. */
const BURST_Z = { high: 8, medium: 3 };

/** mulberry32: a tiny, fast, well-mixed 32-bit PRNG; the tape must never depend on Math.random. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A 32-bit seed per purpose (salt), so the blank-line stream does not shift the trade stream. */
export function seedOf(seed: number, salt: number): number {
  return (Math.imul(Math.floor(seed) ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(salt, 0xc2b2ae35)) >>> 0;
}

interface Stream {
  readonly symbol: string;
  readonly exchange: string;
  readonly symbolIndex: number;
  readonly streamIndex: number;
  /** Volume credited to each 60 s window (start -> Σ quote_volume of valid, non-late, non-duplicate trades). */
  readonly totals: Map<number, number>;
}

export class TapeProducer {
  private readonly random: () => number;
  private readonly eventsPerSecond: number;
  private readonly badRate: number;
  private readonly whaleRate: number;
  private readonly events: number;
  private readonly startMs: number;
  private readonly symbols: string[];
  private readonly streams: Stream[];
  private readonly mids: number[];
  private readonly priceScales: number[];
  private readonly idPrefix: string;
  private readonly windowTarget: number;
  private readonly meanTradeVolume: number;
  private readonly lastEventMs: number;
  private readonly firstVolumeWindow: number;
  private readonly firstSpreadWindow: number;
  private readonly burstSpacing: number;
  private readonly burstFactors = new Map<string, number>();
  private readonly recorded = new Set<string>();
  private readonly whaleWindows = new Set<string>();
  private readonly recent: Array<{ line: string; fields: TradeFields }> = [];
  private backgroundCount = 0;
  private badCount = 0;
  private whaleCount = 0;

  constructor(options: TapeOptions, private readonly truth: TapeTruth) {
    this.random = mulberry32(seedOf(options.seed, 1));
    this.eventsPerSecond = options.eventsPerSecond ?? 1000;
    this.badRate = Math.min(0.5, Math.max(0, options.badRate ?? 0.002));
    // About six whales a minute at most, whatever the pace, so that they stay rare in every stream's history.
    this.whaleRate = Math.min(0.0003, 0.1 / this.eventsPerSecond);
    this.events = Math.max(0, Math.floor(options.events));
    this.startMs = options.startMs ?? DEFAULT_START_MS;
    this.symbols = [...(options.symbols?.length ? options.symbols : DEFAULT_SYMBOLS)];
    this.streams = this.symbols.flatMap((symbol, symbolIndex) =>
      EXCHANGES.map((exchange, e) => ({ symbol, exchange, symbolIndex, streamIndex: symbolIndex * EXCHANGES.length + e, totals: new Map() })),
    );
    this.mids = this.symbols.map((symbol) => BASE_PRICES[symbol] ?? 1 + (seedOf(symbol.length * 7919 + symbol.charCodeAt(0), 2) % 99_900) / 100);
    this.priceScales = this.mids.map((mid) => (mid >= 1000 ? 100 : mid >= 10 ? 1000 : 10_000));
    this.idPrefix = `t${Math.floor(options.seed).toString(36)}-`;
    // Volume per stream window, scaled down for slow tapes so that no background trade becomes a whale.
    const backgroundShare = 1 - this.badRate - RATES.duplicate - RATES.veryLate - this.whaleRate;
    const tradesPerWindow = Math.max(1, (this.eventsPerSecond * (VOLUME_WINDOW_MS / 1000) * backgroundShare) / this.streams.length);
    this.windowTarget = Math.min(TARGET_WINDOW_VOLUME, tradesPerWindow * MAX_MEAN_TRADE_VOLUME);
    this.meanTradeVolume = this.windowTarget / tradesPerWindow;
    this.lastEventMs = this.startMs + Math.floor(((Math.max(1, this.events) - 1) * 1000) / this.eventsPerSecond);
    // Injections are placed by formula rather than from a list, so an endless (live) tape needs no plan.
    this.firstVolumeWindow = Math.ceil(this.startMs / VOLUME_WINDOW_MS);
    this.firstSpreadWindow = Math.ceil(this.startMs / SPREAD_WINDOW_MS);
    this.burstSpacing = Math.max(8, Math.ceil(62 / this.streams.length)); // a stream's bursts stay > 1 h apart
  }

  *records(): Generator<string> {
    const { truth } = this;
    let lastSecond = Number.NEGATIVE_INFINITY;
    for (let index = 0; index < this.events; index++) {
      const now = this.startMs + Math.floor((index * 1000) / this.eventsPerSecond);
      if (Math.floor(now / 1000) !== lastSecond) {
        lastSecond = Math.floor(now / 1000);
        this.recordInjections(now);
      }
      truth.records++;
      const line = this.special(index, now) ?? this.background(index, now);
      yield line;
    }
    truth.complete = true;
  }

  /** A bad record, duplicate, very late event or whale when the dice say so and it is possible now. */
  private special(index: number, now: number): string | undefined {
    const roll = this.random();
    let threshold = this.badRate;
    if (roll < threshold) return this.badRecord(index, now);
    if (roll < (threshold += RATES.duplicate)) return this.duplicate();
    const warm = now - this.startMs >= 300_000; // a very late event needs a newer max event time before it
    if (roll < (threshold += RATES.veryLate)) return warm ? this.veryLate(index, now) : undefined;
    if (roll < (threshold += this.whaleRate)) return this.whale(index, now, warm);
    return undefined;
  }

  private badRecord(index: number, now: number): string {
    const kind = BAD_RECORD_KINDS[this.badCount++ % BAD_RECORD_KINDS.length]!;
    const stream = this.streams[Math.floor(this.random() * this.streams.length)]!;
    const fields = this.trade(index, stream, now, this.meanTradeVolume);
    fields.push(['timestamp_ms', String(now)]);
    this.truth.bad[kind.kind] = (this.truth.bad[kind.kind] ?? 0) + 1;
    this.truth.rejected[kind.reason]++;
    return makeBadRecord(kind, fields);
  }

  private duplicate(): string | undefined {
    if (this.recent.length === 0) return undefined;
    const original = this.recent[Math.floor(this.random() * this.recent.length)]!;
    if (this.random() < 0.6) {
      this.truth.duplicates.exact++;
      return original.line;
    }
    this.truth.duplicates.altered++;
    const key = this.random() < 0.5 ? 'price' : 'quantity';
    return writeFields(
      original.fields.map(([name, value]): [string, string] =>
        name === key || name === 'quote_volume' ? [name, String(Number(value) * 1.25)] : [name, value],
      ),
    );
  }

  private veryLate(index: number, now: number): string {
    const stream = this.streams[Math.floor(this.random() * this.streams.length)]!;
    const fields = this.trade(index, stream, now - 120_000 - Math.floor(this.random() * 120_000), this.meanTradeVolume * (0.8 + 0.4 * this.random()));
    this.recordVeryLate(fields);
    return writeFields(fields);
  }

  private whale(index: number, now: number, warm: boolean): string | undefined {
    const [severity, low, high] = WHALE_CLASSES[this.whaleCount % WHALE_CLASSES.length]!;
    const late = warm && this.whaleCount % 4 === 3;
    const time = late ? now - 120_000 - Math.floor(this.random() * 120_000) : now;
    const stream = late ? this.streams[Math.floor(this.random() * this.streams.length)]! : this.pickWhaleStream(now);
    if (!stream) return undefined;
    this.whaleCount++;
    const fields = this.trade(index, stream, time, low + this.random() * (high - low));
    const eventId = JSON.parse(fields[0]![1]) as string;
    this.truth.whales.push({ event_id: eventId, symbol: stream.symbol, exchange: stream.exchange, quote_volume: quoteVolumeOf(fields), severity, late });
    const line = writeFields(fields);
    if (late) {
      this.recordVeryLate(fields);
    } else {
      this.credit(stream, time, fields);
      this.remember(line, fields);
    }
    return line;
  }

  /** One in-time whale per stream window at most, and none in a burst window (it would change the burst). */
  private pickWhaleStream(time: number): Stream | undefined {
    const first = Math.floor(this.random() * this.streams.length);
    const windowStart = Math.floor(time / VOLUME_WINDOW_MS) * VOLUME_WINDOW_MS;
    for (let attempt = 0; attempt < this.streams.length; attempt++) {
      const stream = this.streams[(first + attempt) % this.streams.length]!;
      const key = `${stream.streamIndex}@${windowStart}`;
      if (this.whaleWindows.has(key) || this.burstIndex(stream, time) >= 0) continue;
      this.whaleWindows.add(key);
      if (this.whaleWindows.size > 4096) this.whaleWindows.delete(this.whaleWindows.values().next().value!);
      return stream;
    }
    return undefined;
  }

  /** A valid trade, round-robin over the streams so that every stream window gets the same number of trades. */
  private background(index: number, now: number): string {
    const { truth } = this;
    const stream = this.streams[this.backgroundCount++ % this.streams.length]!;
    let variant = this.random();
    const time = variant < RATES.outOfOrder ? now - 1000 - Math.floor(this.random() * 9000) : now;
    const fields = this.trade(index, stream, time, this.backgroundVolume(stream, time));
    if (variant < RATES.outOfOrder) {
      truth.outOfOrder++;
      this.credit(stream, time, fields);
      return writeFields(fields);
    }
    if ((variant -= RATES.outOfOrder) < RATES.lateFlagged) {
      truth.lateFlagged++;
      const ingestion = fields.findIndex(([name]) => name === 'ingestion_timestamp');
      fields[ingestion] = ['ingestion_timestamp', String(now + 360_000 + Math.floor(this.random() * 600_000))];
      this.credit(stream, time, fields);
      return writeFields(fields);
    }
    if ((variant -= RATES.lateFlagged) < RATES.inconsistent) {
      truth.inconsistent++;
      const notional = Number(fields[3]![1]) * Number(fields[4]![1]);
      const changed = fields.filter(([name]) => name !== 'quote_volume');
      changed.splice(5, 0, ['quote_volume', String(notional * (this.random() < 0.5 ? 1.01 : 0.98))]);
      this.credit(stream, time, changed);
      return writeFields(changed);
    }
    this.credit(stream, time, fields);
    if ((variant -= RATES.inconsistent) < RATES.crlf) {
      truth.crlf++;
      return writeFields(fields) + '\r';
    }
    const line = writeFields(fields);
    this.remember(line, fields);
    return line;
  }

  /** A trade of `stream` at event time `time` worth about `quoteVolume`, as ordered JSON fields. */
  private trade(index: number, stream: Stream, time: number, quoteVolume: number): TradeFields {
    const { random, mids, priceScales } = this;
    const s = stream.symbolIndex;
    mids[s]! *= 1 + (random() - 0.5) * 1e-5;
    const scale = priceScales[s]!;
    const price = Math.max(1 / scale, Math.round(mids[s]! * (1 + (random() - 0.5) * 2e-4) * this.divergence(stream, time) * scale) / scale);
    const quantity = Math.max(1e-8, Math.round((quoteVolume / price) * 1e8) / 1e8);
    const ingestion = time + 5 + Math.floor(random() * 500);
    const fields: TradeFields = [
      ['event_id', `"${this.idPrefix}${index.toString(36)}"`],
      ['exchange', `"${stream.exchange}"`],
      ['symbol', `"${stream.symbol}"`],
      ['price', String(price)],
      ['quantity', String(quantity)],
    ];
    if (random() < 0.5) fields.push(['quote_volume', String(price * quantity)]);
    fields.push(['side', random() < 0.5 ? '"buy"' : '"sell"']);
    // Binance-style epoch milliseconds, Coinbase-style ISO text.
    if (stream.exchange === 'binance') fields.push(['timestamp', String(time)], ['ingestion_timestamp', String(ingestion)]);
    else fields.push(['timestamp', `"${isoText(time, random)}"`], ['ingestion_timestamp', `"${new Date(ingestion).toISOString()}"`]);
    return fields;
  }

  private volumePattern(stream: Stream, time: number): number {
    return (Math.floor(time / VOLUME_WINDOW_MS) + stream.streamIndex) % 2 === 0 ? 1 - AMPLITUDE : 1 + AMPLITUDE;
  }

  private backgroundVolume(stream: Stream, time: number): number {
    return this.meanTradeVolume * this.volumePattern(stream, time) * (0.8 + 0.4 * this.random()) * this.burstFactor(stream, time);
  }

  private fits(windowEnd: number): boolean {
    return windowEnd + 12_000 <= this.lastEventMs;
  }

  /** The burst number of the stream's window at `time`, or -1 when that window has no burst. */
  private burstIndex(stream: Stream, time: number): number {
    const relative = Math.floor(time / VOLUME_WINDOW_MS) - this.firstVolumeWindow - 15;
    if (relative < 0 || relative % this.burstSpacing !== 0) return -1;
    const burst = relative / this.burstSpacing;
    if (burst % this.streams.length !== stream.streamIndex) return -1;
    return this.fits(Math.floor(time / VOLUME_WINDOW_MS) * VOLUME_WINDOW_MS + VOLUME_WINDOW_MS) ? burst : -1;
  }

  /** Trade multiplier in a burst window, set once so the window's total lands at mean + z·stddev of its history. */
  private burstFactor(stream: Stream, time: number): number {
    const burst = this.burstIndex(stream, time);
    if (burst < 0) return 1;
    const windowStart = Math.floor(time / VOLUME_WINDOW_MS) * VOLUME_WINDOW_MS;
    const key = `${stream.streamIndex}@${windowStart}`;
    let factor = this.burstFactors.get(key);
    if (factor === undefined) {
      const z = burst % 2 === 0 ? BURST_Z.high : BURST_Z.medium;
      const history = [...stream.totals].filter(([start]) => start >= windowStart - HOUR_MS && start < windowStart).map(([, total]) => total);
      const mean = history.reduce((sum, value) => sum + value, 0) / Math.max(1, history.length);
      const stddev = Math.sqrt(history.reduce((sum, value) => sum + (value - mean) ** 2, 0) / Math.max(1, history.length));
      const target = history.length >= 10 && stddev > 0 ? mean + z * stddev : this.windowTarget * (1 + z * AMPLITUDE);
      factor = target / (this.windowTarget * this.volumePattern(stream, time));
      this.burstFactors.set(key, factor);
      if (this.burstFactors.size > 256) this.burstFactors.delete(this.burstFactors.keys().next().value!);
    }
    return factor;
  }

  /** Price multiplier in a divergence window: binance +1.5 % (spread +1.5 %, high) or coinbase +0.8 % (-0.79 %, medium). */
  private divergence(stream: Stream, time: number): number {
    const index = this.divergenceIndex(stream.symbolIndex, time);
    if (index < 0) return 1;
    const high = index % 2 === 0;
    if (stream.exchange !== (high ? 'binance' : 'coinbase')) return 1;
    return high ? 1.015 : 1.008;
  }

  private divergenceIndex(symbolIndex: number, time: number): number {
    const relative = Math.floor(time / SPREAD_WINDOW_MS) - this.firstSpreadWindow - 7;
    if (relative < 0 || relative % 11 !== 0) return -1;
    const index = relative / 11;
    if (index % this.symbols.length !== symbolIndex) return -1;
    return this.fits(Math.floor(time / SPREAD_WINDOW_MS) * SPREAD_WINDOW_MS + SPREAD_WINDOW_MS) ? index : -1;
  }

  /** Adds bursts and divergences that start at `time` to the truth (called once per second of event time). */
  private recordInjections(time: number): void {
    const volumeStart = Math.floor(time / VOLUME_WINDOW_MS) * VOLUME_WINDOW_MS;
    const spreadStart = Math.floor(time / SPREAD_WINDOW_MS) * SPREAD_WINDOW_MS;
    for (const stream of this.streams) {
      const burst = this.burstIndex(stream, time);
      if (burst >= 0 && this.once(`b${stream.streamIndex}@${volumeStart}`)) {
        this.truth.bursts.push({ symbol: stream.symbol, exchange: stream.exchange, window_start: volumeStart, severity: burst % 2 === 0 ? 'high' : 'medium' });
      }
      if (this.divergence(stream, time) !== 1 && this.once(`d${stream.symbolIndex}@${spreadStart}`)) {
        const high = this.divergenceIndex(stream.symbolIndex, time) % 2 === 0;
        this.truth.divergences.push({ symbol: stream.symbol, exchange: stream.exchange, window_start: spreadStart, severity: high ? 'high' : 'medium' });
      }
    }
  }

  private once(key: string): boolean {
    if (this.recorded.has(key)) return false;
    this.recorded.add(key);
    if (this.recorded.size > 1024) this.recorded.delete(this.recorded.values().next().value!);
    return true;
  }

  /** Tracks each stream's window volume as the windows will see it, for burst sizing. */
  private credit(stream: Stream, time: number, fields: TradeFields): void {
    const start = Math.floor(time / VOLUME_WINDOW_MS) * VOLUME_WINDOW_MS;
    stream.totals.set(start, (stream.totals.get(start) ?? 0) + quoteVolumeOf(fields));
    if (stream.totals.size > 130) stream.totals.delete(stream.totals.keys().next().value!);
  }

  private recordVeryLate(fields: TradeFields): void {
    this.truth.veryLate++;
    this.truth.veryLateEventIds.push(JSON.parse(fields[0]![1]) as string);
  }

  private remember(line: string, fields: TradeFields): void {
    this.recent.push({ line, fields });
    if (this.recent.length > 64) this.recent.shift();
  }
}

/** The quote volume a reader will use: the given field, or price * quantity. */
function quoteVolumeOf(fields: TradeFields): number {
  const given = fields.find(([name]) => name === 'quote_volume');
  return given ? Number(given[1]) : Number(fields[3]![1]) * Number(fields[4]![1]);
}

function writeFields(fields: TradeFields): string {
  let line = '{';
  for (let i = 0; i < fields.length; i++) line += `${i === 0 ? '' : ','}"${fields[i]![0]}":${fields[i]![1]}`;
  return line + '}';
}

/** ISO text of an event time: mostly `...sssZ`, sometimes microseconds or a UTC offset, all naming the same instant. */
function isoText(time: number, random: () => number): string {
  const form = random();
  if (form < 0.9) return new Date(time).toISOString();
  if (form < 0.95) return new Date(time).toISOString().replace('Z', '000Z');
  const offset = OFFSETS[Math.floor(random() * OFFSETS.length)]!;
  const minutes = (offset[0] === '-' ? -1 : 1) * (Number(offset.slice(1, 3)) * 60 + Number(offset.slice(4, 6)));
  return new Date(time + minutes * 60_000).toISOString().replace('Z', offset);
}
