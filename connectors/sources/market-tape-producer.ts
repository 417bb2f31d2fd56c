// Produces the lines of a market tape one record at a time and records what it injects (see market-tape.ts).

import { CoattailError } from '../../runtime/errors.js';
import { BAD_RECORD_KINDS, makeBadRecord } from './bad-records.js';
import { formatTrade, IsoClock, quoteVolumeOf, tradeFields, type TapeTrade } from './market-tape-format.js';
import type { TapeOptions, TapeTruth, WhaleSeverity } from './market-tape.js';
import { InjectionPlan, mulberry32, seedOf, VOLUME_WINDOW_MS, type Stream } from './market-tape-plan.js';

export const DEFAULT_SYMBOLS: readonly string[] = Object.freeze(['BTC-USDT', 'ETH-USDT', 'SOL-USDT', 'XRP-USDT']);
export const EXCHANGES: readonly string[] = Object.freeze(['binance', 'coinbase']);
const BASE_PRICES: Record<string, number> = { 'BTC-USDT': 67_000, 'ETH-USDT': 3_500, 'SOL-USDT': 180, 'XRP-USDT': 0.6 };
export const DEFAULT_START_MS = Date.UTC(2025, 1, 5, 10, 0, 0);
const WHALE_CLASSES: ReadonlyArray<[WhaleSeverity, number, number]> = [
  ['medium', 150_000, 450_000],
  ['high', 550_000, 950_000],
  ['critical', 1_050_000, 1_500_000],
];
/** Windows between two in-time whales of one stream. */
const WHALE_WINDOW_GAP = 4;
const RATES = { duplicate: 0.002, veryLate: 0.0005, outOfOrder: 0.01, lateFlagged: 0.0005, inconsistent: 0.0005, crlf: 0.0005 };

export class TapeProducer {
  private readonly random: () => number;
  private readonly eventsPerSecond: number;
  private readonly badRate: number;
  private readonly whaleRate: number;
  private readonly events: number;
  private readonly startMs: number;
  private readonly streams: Stream[];
  private readonly plan: InjectionPlan;
  private readonly mids: number[];
  private readonly priceScales: number[];
  private readonly idPrefix: string;
  /** Per stream, the 60 s window index of its last in-time whale. */
  private readonly lastWhaleWindow: number[] = [];
  private readonly recent: Array<{ line: string; trade: TapeTrade }> = [];
  private readonly clock = new IsoClock();
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
    const symbols = [...(options.symbols?.length ? options.symbols : DEFAULT_SYMBOLS)];
    for (const symbol of symbols) {
      // Lines are built by template, so a symbol must be plain JSON string content.
      if (!symbol || JSON.stringify(symbol) !== `"${symbol}"`) {
        throw new CoattailError('BAD_ARGUMENT', `tape symbol ${JSON.stringify(symbol)} must be plain text without quotes or control characters`);
      }
    }
    this.streams = symbols.flatMap((symbol, symbolIndex) =>
      EXCHANGES.map((exchange, e) => ({ symbol, exchange, symbolIndex, streamIndex: symbolIndex * EXCHANGES.length + e, totals: new Map() })),
    );
    this.mids = symbols.map((symbol) => BASE_PRICES[symbol] ?? 1 + (seedOf(symbol.length * 7919 + symbol.charCodeAt(0), 2) % 99_900) / 100);
    this.priceScales = this.mids.map((mid) => (mid >= 1000 ? 100 : mid >= 10 ? 1000 : 10_000));
    this.idPrefix = `t${Math.floor(options.seed).toString(36)}-`;
    const backgroundShare = 1 - this.badRate - RATES.duplicate - RATES.veryLate - this.whaleRate;
    const tradesPerWindow = Math.max(1, (this.eventsPerSecond * (VOLUME_WINDOW_MS / 1000) * backgroundShare) / this.streams.length);
    const lastEventMs = this.startMs + Math.floor(((Math.max(1, this.events) - 1) * 1000) / this.eventsPerSecond);
    this.plan = new InjectionPlan(this.streams, symbols.length, this.startMs, lastEventMs, tradesPerWindow, truth);
  }

  *records(): Generator<string> {
    const { truth } = this;
    let lastSecond = Number.NEGATIVE_INFINITY;
    for (let index = 0; index < this.events; index++) {
      const now = this.startMs + Math.floor((index * 1000) / this.eventsPerSecond);
      if (Math.floor(now / 1000) !== lastSecond) {
        lastSecond = Math.floor(now / 1000);
        this.plan.recordInjections(now);
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
    const fields = tradeFields(this.trade(index, stream, now, this.plan.meanTradeVolume));
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
    const altered = { ...original.trade };
    if (this.random() < 0.5) altered.price *= 1.25;
    else altered.quantity *= 1.25;
    if (altered.quoteVolume !== undefined) altered.quoteVolume *= 1.25;
    return formatTrade(altered);
  }

  private veryLate(index: number, now: number): string {
    const stream = this.streams[Math.floor(this.random() * this.streams.length)]!;
    const trade = this.trade(index, stream, now - 120_000 - Math.floor(this.random() * 120_000), this.plan.meanTradeVolume * (0.8 + 0.4 * this.random()));
    this.recordVeryLate(trade);
    return formatTrade(trade);
  }

  private whale(index: number, now: number, warm: boolean): string | undefined {
    const [severity, low, high] = WHALE_CLASSES[this.whaleCount % WHALE_CLASSES.length]!;
    const late = warm && this.whaleCount % 4 === 3;
    const time = late ? now - 120_000 - Math.floor(this.random() * 120_000) : now;
    const stream = late ? this.streams[Math.floor(this.random() * this.streams.length)]! : this.pickWhaleStream(now);
    if (!stream) return undefined;
    this.whaleCount++;
    const trade = this.trade(index, stream, time, low + this.random() * (high - low));
    this.truth.whales.push({ event_id: trade.eventId, symbol: stream.symbol, exchange: stream.exchange, quote_volume: quoteVolumeOf(trade), severity, late });
    const line = formatTrade(trade);
    if (late) {
      this.recordVeryLate(trade);
    } else {
      this.plan.credit(stream, trade);
      this.remember(line, trade);
    }
    return line;
  }

  /**
   * At most one in-time whale per stream in four windows, none in a burst window and none in a window of the
   * pattern's high half: whales filling a stream's quiet windows would shrink its stddev until an ordinary window
   * looked anomalous, and one on top of a high window could look anomalous itself.
   */
  private pickWhaleStream(time: number): Stream | undefined {
    const first = Math.floor(this.random() * this.streams.length);
    const window = Math.floor(time / VOLUME_WINDOW_MS);
    for (let attempt = 0; attempt < this.streams.length; attempt++) {
      const stream = this.streams[(first + attempt) % this.streams.length]!;
      const last = this.lastWhaleWindow[stream.streamIndex];
      if ((last !== undefined && window - last < WHALE_WINDOW_GAP) || this.plan.burstIndex(stream, time) >= 0) continue;
      // A whale of up to 1.5M on top of a high window raised a volume spike of its own on slow tapes (a window
      // target near 1.5M: 60 records/s with 30 % bad records).
      if (this.plan.volumePattern(stream, time) > 1) continue;
      this.lastWhaleWindow[stream.streamIndex] = window;
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
    const trade = this.trade(index, stream, time, this.backgroundVolume(stream, time));
    if (variant < RATES.outOfOrder) {
      truth.outOfOrder++;
    } else if ((variant -= RATES.outOfOrder) < RATES.lateFlagged) {
      truth.lateFlagged++;
      trade.ingestionText = String(now + 360_000 + Math.floor(this.random() * 600_000));
    } else if ((variant -= RATES.lateFlagged) < RATES.inconsistent) {
      truth.inconsistent++;
      trade.quoteVolume = trade.price * trade.quantity * (this.random() < 0.5 ? 1.01 : 0.98);
    } else if ((variant -= RATES.inconsistent) < RATES.crlf) {
      truth.crlf++;
      this.plan.credit(stream, trade);
      return formatTrade(trade) + '\r';
    } else {
      // Only plain trades are copied as duplicates: a copy of a flagged one would muddle the flag counts.
      this.plan.credit(stream, trade);
      const line = formatTrade(trade);
      this.remember(line, trade);
      return line;
    }
    this.plan.credit(stream, trade);
    return formatTrade(trade);
  }

  /** A trade of `stream` at event time `time` worth about `quoteVolume`. */
  private trade(index: number, stream: Stream, time: number, quoteVolume: number): TapeTrade {
    const { random, mids, priceScales } = this;
    const s = stream.symbolIndex;
    mids[s]! *= 1 + (random() - 0.5) * 1e-5;
    const scale = priceScales[s]!;
    const price = Math.max(1 / scale, Math.round(mids[s]! * (1 + (random() - 0.5) * 2e-4) * this.plan.divergence(stream, time) * scale) / scale);
    const quantity = Math.max(1e-8, Math.round((quoteVolume / price) * 1e8) / 1e8);
    const ingestion = time + 5 + Math.floor(random() * 500);
    const withQuote = random() < 0.5;
    const side = random() < 0.5 ? 'buy' : 'sell';
    // Binance-style epoch milliseconds, Coinbase-style ISO text.
    const binance = stream.exchange === 'binance';
    return {
      eventId: this.idPrefix + index.toString(36),
      exchange: stream.exchange,
      symbol: stream.symbol,
      price,
      quantity,
      quoteVolume: withQuote ? price * quantity : undefined,
      side,
      time,
      timestampText: binance ? String(time) : `"${this.clock.formatVaried(time, random)}"`,
      ingestionText: binance ? String(ingestion) : `"${this.clock.format(ingestion)}"`,
    };
  }

  private backgroundVolume(stream: Stream, time: number): number {
    const { plan } = this;
    return plan.meanTradeVolume * plan.volumePattern(stream, time) * (0.8 + 0.4 * this.random()) * plan.burstFactor(stream, time);
  }

  private recordVeryLate(trade: TapeTrade): void {
    this.truth.veryLate++;
    this.truth.veryLateEventIds.push(trade.eventId);
  }

  private remember(line: string, trade: TapeTrade): void {
    this.recent.push({ line, trade });
    if (this.recent.length > 64) this.recent.shift();
  }
}
