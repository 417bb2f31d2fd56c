// Where a market tape's injections go and how big they are, decided by formula so endless tapes need no list.

import type { TapeTruth } from './market-tape.js';
import { quoteVolumeOf, type TapeTrade } from './market-tape-format.js';

export const VOLUME_WINDOW_MS = 60_000;
const SPREAD_WINDOW_MS = 30_000;
const HOUR_MS = 3_600_000;
/** Volume pattern amplitude A: a stream's windows alternate (1 - A) and (1 + A) times the target. */
const AMPLITUDE = 0.6;
const TARGET_WINDOW_VOLUME = 3_000_000;
/** Largest mean trade that keeps a burst's biggest trade (about 7x the mean) under the whale threshold (100,000). */
const MAX_MEAN_TRADE_VOLUME = 5_000;
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

/** One (symbol, exchange) pair of the tape. */
export interface Stream {
  readonly symbol: string;
  readonly exchange: string;
  readonly symbolIndex: number;
  readonly streamIndex: number;
  /** Volume credited to each 60 s window (start -> Σ quote_volume of valid, non-late, non-duplicate trades). */
  readonly totals: Map<number, number>;
}

export class InjectionPlan {
  /** A stream's normal window volume, scaled down for slow tapes so that no background trade becomes a whale. */
  readonly windowTarget: number;
  readonly meanTradeVolume: number;
  private readonly firstVolumeWindow: number;
  private readonly firstSpreadWindow: number;
  private readonly burstSpacing: number;
  private readonly burstFactors = new Map<string, number>();
  private readonly recorded = new Set<string>();

  constructor(
    private readonly streams: readonly Stream[],
    private readonly symbolCount: number,
    startMs: number,
    private readonly lastEventMs: number,
    tradesPerWindow: number,
    private readonly truth: TapeTruth,
  ) {
    this.windowTarget = Math.min(TARGET_WINDOW_VOLUME, tradesPerWindow * MAX_MEAN_TRADE_VOLUME);
    this.meanTradeVolume = this.windowTarget / tradesPerWindow;
    this.firstVolumeWindow = Math.ceil(startMs / VOLUME_WINDOW_MS);
    this.firstSpreadWindow = Math.ceil(startMs / SPREAD_WINDOW_MS);
    this.burstSpacing = Math.max(8, Math.ceil(62 / streams.length)); // a stream's bursts stay > 1 h apart
  }

  volumePattern(stream: Stream, time: number): number {
    return (Math.floor(time / VOLUME_WINDOW_MS) + stream.streamIndex) % 2 === 0 ? 1 - AMPLITUDE : 1 + AMPLITUDE;
  }

  private fits(windowEnd: number): boolean {
    return windowEnd + 12_000 <= this.lastEventMs;
  }

  /** The burst number of the stream's window at `time`, or -1 when that window has no burst. */
  burstIndex(stream: Stream, time: number): number {
    const relative = Math.floor(time / VOLUME_WINDOW_MS) - this.firstVolumeWindow - 15;
    if (relative < 0 || relative % this.burstSpacing !== 0) return -1;
    const burst = relative / this.burstSpacing;
    if (burst % this.streams.length !== stream.streamIndex) return -1;
    return this.fits(Math.floor(time / VOLUME_WINDOW_MS) * VOLUME_WINDOW_MS + VOLUME_WINDOW_MS) ? burst : -1;
  }

  /** Trade multiplier in a burst window, set once so the window's total lands at mean + z·stddev of its history. */
  burstFactor(stream: Stream, time: number): number {
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
  divergence(stream: Stream, time: number): number {
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
    if (index % this.symbolCount !== symbolIndex) return -1;
    return this.fits(Math.floor(time / SPREAD_WINDOW_MS) * SPREAD_WINDOW_MS + SPREAD_WINDOW_MS) ? index : -1;
  }

  /** Adds bursts and divergences that start at `time` to the truth (called once per second of event time). */
  recordInjections(time: number): void {
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
  credit(stream: Stream, trade: TapeTrade): void {
    const start = Math.floor(trade.time / VOLUME_WINDOW_MS) * VOLUME_WINDOW_MS;
    stream.totals.set(start, (stream.totals.get(start) ?? 0) + quoteVolumeOf(trade));
    if (stream.totals.size > 130) stream.totals.delete(stream.totals.keys().next().value!);
  }
}
