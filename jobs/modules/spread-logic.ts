// MOD-003 cross-exchange spread: per-symbol window VWAPs of the configured exchange pair and the spread alert.

import type { TableRow } from '../../runtime/api/table.js';
import { buildAlert, formatAmount, isoTime, type Severity } from './alerts.js';
import type { Trade } from './trade.js';

export interface SpreadPair {
  readonly exchangeA: string;
  readonly exchangeB: string;
}

export interface SpreadThresholds {
  readonly thresholdPct: number;
  readonly highPct: number;
}

/** Σ(price·quantity) and Σquantity per side of the pair: plain numbers, checkpointed as they are. */
export interface SpreadAccumulator {
  notionalA: number;
  quantityA: number;
  notionalB: number;
  quantityB: number;
}

export function createSpreadAccumulator(): SpreadAccumulator {
  return { notionalA: 0, quantityA: 0, notionalB: 0, quantityB: 0 };
}

/** Adds a trade of either exchange of the pair in place; trades of other exchanges are ignored. */
export function addSpreadTrade(accumulator: SpreadAccumulator, trade: Pick<Trade, 'exchange' | 'price' | 'quantity'>, pair: SpreadPair): SpreadAccumulator {
  if (trade.exchange === pair.exchangeA) {
    accumulator.notionalA += trade.price * trade.quantity;
    accumulator.quantityA += trade.quantity;
  } else if (trade.exchange === pair.exchangeB) {
    accumulator.notionalB += trade.price * trade.quantity;
    accumulator.quantityB += trade.quantity;
  }
  return accumulator;
}

/** An `exchange_spreads` row, or null when one exchange of the pair did not trade in the window. */
export function spreadRow(
  symbol: string,
  windowStart: number,
  windowEnd: number,
  accumulator: SpreadAccumulator,
  pair: SpreadPair,
): TableRow | null {
  // Quantities are > 0 for every passed trade, so a zero sum means the exchange did not trade.
  if (!(accumulator.quantityA > 0) || !(accumulator.quantityB > 0)) return null;
  const vwapA = accumulator.notionalA / accumulator.quantityA;
  const vwapB = accumulator.notionalB / accumulator.quantityB;
  return {
    symbol,
    window_start: windowStart,
    window_end: windowEnd,
    exchange_a: pair.exchangeA,
    exchange_b: pair.exchangeB,
    vwap_a: vwapA,
    vwap_b: vwapB,
    spread_pct: ((vwapA - vwapB) / vwapB) * 100,
  };
}

/** `medium` above the threshold, `high` above highPct, on |spread_pct| (a divergence either way counts). */
export function spreadSeverity(spreadPct: number, thresholds: SpreadThresholds): Severity | null {
  const magnitude = Math.abs(spreadPct);
  if (magnitude > thresholds.highPct) return 'high';
  if (magnitude > thresholds.thresholdPct) return 'medium';
  return null;
}

/** The `spread` alert of an `exchange_spreads` row with a severity. */
export function spreadAlert(row: TableRow, severity: Severity, detectedAtMs: number): TableRow {
  const symbol = row.symbol as string;
  const windowStart = row.window_start as number;
  const spreadPct = row.spread_pct as number;
  const vwapA = row.vwap_a as number;
  const vwapB = row.vwap_b as number;
  return buildAlert(
    {
      type: 'spread',
      moduleId: 'MOD-003',
      symbol,
      exchange: null,
      severity,
      message:
        `${symbol} traded ${formatAmount(Math.abs(spreadPct), 3)}% ${spreadPct >= 0 ? 'higher' : 'lower'} on ` +
        `${row.exchange_a as string} (VWAP ${formatAmount(vwapA, 4)}) than on ${row.exchange_b as string} ` +
        `(VWAP ${formatAmount(vwapB, 4)}) in the window from ${isoTime(windowStart)}.`,
      details: {
        spread_pct: spreadPct,
        exchange_a_vwap: vwapA,
        exchange_b_vwap: vwapB,
        window_start: isoTime(windowStart),
      },
      identity: windowStart,
    },
    detectedAtMs,
  );
}
