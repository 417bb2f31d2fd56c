// The three Coat Tail detectors as graph fragments over the quality-checked trade stream. Each writes its own
// table and returns its stream of alert rows; the job decides where alerts go.

import { OutputTag, tableSink, tumbling, type DataStream, type ProcessWindowFunction, type TableRow } from 'coattail';
import type { Features } from './config.js';
import type { CheckedTrade } from './quality-stage.js';
import { addTrade, createVolumeAccumulator, scoreVolumeWindow, splitVolumeKey, volumeAlert, volumeKey, volumeRow } from './volume-logic.js';
import { volumeHistoryOf, type VolumeAccumulator, type VolumeHistory, type VolumeHistoryEntry } from './volume-logic.js';
import { addSpreadTrade, createSpreadAccumulator, spreadAlert, spreadRow, spreadSeverity, type SpreadAccumulator } from './spread-logic.js';
import { whaleAlert, whaleRow, whaleSeverity } from './whale-logic.js';
import type { Trade } from './trade.js';
import { EXCHANGE_SPREADS, VOLUME_AGGREGATES, WHALE_TRADES } from './tables.js';

const VOLUME_ALERTS = new OutputTag<TableRow>('volume-alerts');
const SPREAD_ALERTS = new OutputTag<TableRow>('spread-alerts');
export const LATE_FOR_VOLUME = new OutputTag<WindowTrade>('late-for-volume');
export const LATE_FOR_SPREAD = new OutputTag<WindowTrade>('late-for-spread');

/** What the window detectors read of a trade. */
export type WindowTrade = Pick<Trade, 'symbol' | 'exchange' | 'price' | 'quantity' | 'quote_volume' | 'side' | 'timestamp'>;

/**
 * The trades as the window detectors need them: without event_id, ingestion time and quality flags, which
 * would otherwise be encoded, sent and decoded for every trade that reaches a window subtask. One stream for
 * both window detectors, so a trade bound for both on the same subtask still travels once.
 */
export function windowTrades(trades: DataStream<CheckedTrade>): DataStream<WindowTrade> {
  return trades.map('window-fields', (trade): WindowTrade => ({
    symbol: trade.symbol,
    exchange: trade.exchange,
    price: trade.price,
    quantity: trade.quantity,
    quote_volume: trade.quote_volume,
    side: trade.side,
    timestamp: trade.timestamp,
  }));
}

/** MOD-002: every passed trade above the threshold, late or not. */
export function whaleTrades(trades: DataStream<CheckedTrade>, features: Features): DataStream<TableRow> {
  const thresholds = features.whale;
  const whales = trades.filter('whale-filter', (trade) => whaleSeverity(trade.quote_volume, thresholds) !== null);
  whales.map('whale-rows', (trade) => whaleRow(trade, whaleSeverity(trade.quote_volume, thresholds)!)).sinkTo('whale-trades', tableSink(WHALE_TRADES));
  return whales.map('whale-alerts', (trade) => whaleAlert(trade, whaleSeverity(trade.quote_volume, thresholds)!, Date.now()));
}

/** MOD-001: 60 s windows per (symbol, exchange), then a rolling z-score over the key's earlier windows. */
export function volumeAnomalies(trades: DataStream<WindowTrade>, features: Features): DataStream<TableRow> {
  const settings = features.volume;
  const scoreWindow: ProcessWindowFunction<VolumeAccumulator, TableRow> = {
    process(key, accumulator, context, out) {
      const { start, end } = context.window;
      const volumeKeyParts = splitVolumeKey(key);
      out.collect(volumeRow(volumeKeyParts, start, end, accumulator));
      const historyState = context.globalState.valueState<VolumeHistory | VolumeHistoryEntry[]>('history');
      const history = volumeHistoryOf(historyState.value());
      const score = scoreVolumeWindow(history, start, accumulator.totalVolume, settings);
      historyState.update(history);
      if (score?.severity) context.output(VOLUME_ALERTS, volumeAlert(volumeKeyParts, start, accumulator.totalVolume, score, Date.now()));
    },
  };
  const rows = trades
    .keyBy('by-symbol-exchange', volumeKey)
    // A key's history is forgotten once its newest window is a history horizon behind the watermark: every later
    // window of the key starts after that horizon, so the history could no longer count (symbols that stop
    // trading would otherwise keep state for the rest of the run).
    .window(tumbling(settings.windowMs), { delay: settings.delayMs, lateCounter: 'late_dropped.volume', globalStateTtl: settings.historyMs })
    .sideOutputLateData(LATE_FOR_VOLUME)
    .aggregate('volume-window', { createAccumulator: createVolumeAccumulator, add: (trade, acc) => addTrade(acc, trade), getResult: (acc) => acc }, scoreWindow);
  rows.sinkTo('volume-aggregates', tableSink(VOLUME_AGGREGATES));
  return rows.getSideOutput(VOLUME_ALERTS);
}

/**
 * MOD-003: 30 s windows per symbol over every exchange's trades (SPEC §4: a late trade of any exchange counts in
 * late_dropped.spread), VWAP of each exchange of the pair, spread when both traded.
 */
export function exchangeSpreads(trades: DataStream<WindowTrade>, features: Features): DataStream<TableRow> {
  const settings = features.spread;
  const emitSpread: ProcessWindowFunction<SpreadAccumulator, TableRow> = {
    process(symbol, accumulator, context, out) {
      const row = spreadRow(symbol, context.window.start, context.window.end, accumulator, settings);
      if (!row) return;
      out.collect(row);
      const severity = spreadSeverity(row.spread_pct as number, settings);
      if (severity) context.output(SPREAD_ALERTS, spreadAlert(row, severity, Date.now()));
    },
  };
  const rows = trades
    .keyBy('by-symbol', (trade) => trade.symbol)
    .window(tumbling(settings.windowMs), { delay: settings.delayMs, lateCounter: 'late_dropped.spread' })
    .sideOutputLateData(LATE_FOR_SPREAD)
    .aggregate(
      'spread-window',
      { createAccumulator: createSpreadAccumulator, add: (trade, acc) => addSpreadTrade(acc, trade, settings), getResult: (acc) => acc },
      emitSpread,
    );
  rows.sinkTo('exchange-spreads', tableSink(EXCHANGE_SPREADS));
  return rows.getSideOutput(SPREAD_ALERTS);
}
