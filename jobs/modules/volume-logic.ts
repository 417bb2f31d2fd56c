// MOD-001 volume anomaly: the 60 s window aggregate per (symbol, exchange) and the rolling z-score over its history.

import type { TableRow } from '../../runtime/api/table.js';
import { buildAlert, formatAmount, isoTime, type Severity } from './alerts.js';
import type { Trade } from './trade.js';

export interface VolumeKey {
  readonly symbol: string;
  readonly exchange: string;
}

/** Plain numbers only, so the accumulator checkpoints as it is (no Infinity: min/max start at the first trade). */
export interface VolumeAccumulator {
  tradeCount: number;
  /** Σ quote_volume. */
  totalVolume: number;
  /** Σ price·quantity, the VWAP numerator. */
  notional: number;
  /** Σ quantity, the VWAP denominator. */
  quantity: number;
  maxPrice: number;
  minPrice: number;
  buyVolume: number;
  sellVolume: number;
}

/** The keyBy key of the volume job. Symbols never contain `|` (see quality), so the key splits back unambiguously. */
export function volumeKey(trade: Pick<Trade, 'symbol' | 'exchange'>): string {
  return `${trade.symbol}|${trade.exchange}`;
}

export function splitVolumeKey(key: string): VolumeKey {
  const bar = key.indexOf('|');
  return { symbol: key.slice(0, bar), exchange: key.slice(bar + 1) };
}

export function createVolumeAccumulator(): VolumeAccumulator {
  return { tradeCount: 0, totalVolume: 0, notional: 0, quantity: 0, maxPrice: 0, minPrice: 0, buyVolume: 0, sellVolume: 0 };
}

/** Adds one trade in place and returns the accumulator (the shape of Flink's AggregateFunction#add). */
export function addTrade(accumulator: VolumeAccumulator, trade: Pick<Trade, 'price' | 'quantity' | 'quote_volume' | 'side'>): VolumeAccumulator {
  const { price, quote_volume: quoteVolume } = trade;
  if (accumulator.tradeCount === 0) {
    accumulator.maxPrice = price;
    accumulator.minPrice = price;
  } else {
    if (price > accumulator.maxPrice) accumulator.maxPrice = price;
    if (price < accumulator.minPrice) accumulator.minPrice = price;
  }
  accumulator.tradeCount += 1;
  accumulator.totalVolume += quoteVolume;
  accumulator.notional += price * trade.quantity;
  accumulator.quantity += trade.quantity;
  if (trade.side === 'buy') accumulator.buyVolume += quoteVolume;
  else accumulator.sellVolume += quoteVolume;
  return accumulator;
}

/** A `volume_aggregates` row; `avg_price` is the VWAP Σ(price·quantity)/Σquantity. */
export function volumeRow(key: VolumeKey, windowStart: number, windowEnd: number, accumulator: VolumeAccumulator): TableRow {
  return {
    symbol: key.symbol,
    exchange: key.exchange,
    window_start: windowStart,
    window_end: windowEnd,
    trade_count: accumulator.tradeCount,
    total_volume: accumulator.totalVolume,
    avg_price: accumulator.notional / accumulator.quantity,
    max_price: accumulator.maxPrice,
    min_price: accumulator.minPrice,
    buy_volume: accumulator.buyVolume,
    sell_volume: accumulator.sellVolume,
  };
}

// ----- rolling z-score -----

/**
 * The emitted windows of a key, oldest first, as flat pairs `[windowStart, totalVolume, windowStart, ...]`: one
 * array of doubles per key. An object per window cost about 80 bytes of heap (the object and two boxed doubles)
 * against 16 here; with 200k symbols trading on two exchanges the objects took most of a GiB (docs/decisions.md §29a).
 */
export type VolumeHistory = number[];

/** One window of a history as checkpoints before the flat form stored it. */
export interface VolumeHistoryEntry {
  readonly windowStart: number;
  readonly totalVolume: number;
}

/** A history read from state: the flat form, or the array of entries that older checkpoints hold. */
export function volumeHistoryOf(stored: VolumeHistory | readonly VolumeHistoryEntry[] | undefined): VolumeHistory {
  if (stored === undefined) return [];
  if (stored.length === 0 || typeof stored[0] === 'number') return stored as VolumeHistory;
  return (stored as readonly VolumeHistoryEntry[]).flatMap((entry) => [entry.windowStart, entry.totalVolume]);
}

export interface VolumeScoreSettings {
  /** History = earlier windows whose start is >= current start - historyMs. */
  readonly historyMs: number;
  readonly minHistory: number;
  readonly zThreshold: number;
  readonly zHigh: number;
}

export interface VolumeScore {
  readonly zScore: number;
  readonly mean: number;
  /** Population standard deviation of the history. */
  readonly stddev: number;
  readonly historySize: number;
  /** Null when |z| does not exceed the threshold. */
  readonly severity: Severity | null;
}

/**
 * Scores one emitted window against the key's history, then records it there. The history array is changed in
 * place: entries that fell out of the horizon are dropped and this window is appended. Windows of a key must
 * arrive in increasing start order (they do: a key's windows fire in watermark order).
 * Returns null when the history has fewer than `minHistory` values or a standard deviation of 0.
 */
export function scoreVolumeWindow(
  history: VolumeHistory,
  windowStart: number,
  totalVolume: number,
  settings: VolumeScoreSettings,
): VolumeScore | null {
  const cutoff = windowStart - settings.historyMs;
  let expired = 0;
  while (expired < history.length && history[expired]! < cutoff) expired += 2;
  if (expired > 0) history.splice(0, expired);
  const score = zScoreOf(history, totalVolume, settings);
  history.push(windowStart, totalVolume);
  return score;
}

function zScoreOf(history: Readonly<VolumeHistory>, totalVolume: number, settings: VolumeScoreSettings): VolumeScore | null {
  const count = history.length / 2;
  if (count < settings.minHistory || count === 0) return null;
  // Two passes (mean, then squared deviations) for accuracy; equal values are caught first because rounding in
  // the mean (20 × 0.1 / 20 is not 0.1) would otherwise leave a stddev of 1e-17 and an absurd z.
  let sum = 0;
  let allEqual = true;
  const first = history[1]!;
  for (let i = 1; i < history.length; i += 2) {
    sum += history[i]!;
    if (history[i] !== first) allEqual = false;
  }
  if (allEqual) return null;
  const mean = sum / count;
  let squares = 0;
  for (let i = 1; i < history.length; i += 2) {
    const deviation = history[i]! - mean;
    squares += deviation * deviation;
  }
  const stddev = Math.sqrt(squares / count);
  if (!(stddev > 0)) return null;
  const zScore = (totalVolume - mean) / stddev;
  const magnitude = Math.abs(zScore);
  const severity: Severity | null = magnitude > settings.zHigh ? 'high' : magnitude > settings.zThreshold ? 'medium' : null;
  return { zScore, mean, stddev, historySize: count, severity };
}

/** The `volume_spike` alert of a scored window (call only when `score.severity` is set). */
export function volumeAlert(
  key: VolumeKey,
  windowStart: number,
  totalVolume: number,
  score: VolumeScore,
  detectedAtMs: number,
): TableRow {
  const direction = score.zScore >= 0 ? 'above' : 'below';
  return buildAlert(
    {
      type: 'volume_spike',
      moduleId: 'MOD-001',
      symbol: key.symbol,
      exchange: key.exchange,
      severity: score.severity ?? 'medium',
      message:
        `${key.symbol} volume on ${key.exchange} was ${formatAmount(totalVolume)} in the window from ` +
        `${isoTime(windowStart)}, ${formatAmount(Math.abs(score.zScore))} standard deviations ${direction} ` +
        `the rolling mean of ${formatAmount(score.mean)}.`,
      details: {
        z_score: score.zScore,
        window_volume: totalVolume,
        rolling_mean: score.mean,
        rolling_stddev: score.stddev,
        window_start: isoTime(windowStart),
      },
      identity: windowStart,
    },
    detectedAtMs,
  );
}
