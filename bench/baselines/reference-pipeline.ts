// The oracle: SPEC's whole pipeline as one plain single-threaded loop over records in source order, no engine.

import type { TableRow } from '../../runtime/api/table.js';
import type { Features } from '../../jobs/modules/config.js';
import { checkQuality, dlqRow } from '../../jobs/modules/quality.js';
import { TABLE_NAMES, type TableName } from '../../jobs/modules/tables.js';
import type { Trade } from '../../jobs/modules/trade.js';
import {
  addTrade, createVolumeAccumulator, scoreVolumeWindow, volumeAlert, volumeRow,
  type VolumeAccumulator, type VolumeHistory, type VolumeKey,
} from '../../jobs/modules/volume-logic.js';
import { addSpreadTrade, createSpreadAccumulator, spreadAlert, spreadRow, spreadSeverity, type SpreadAccumulator } from '../../jobs/modules/spread-logic.js';
import { whaleAlert, whaleRow, whaleSeverity } from '../../jobs/modules/whale-logic.js';

export interface ReferenceSummary {
  records_in: number;
  passed: number;
  malformed: number;
  incomplete: number;
  invalid: number;
  duplicate: number;
  late_flagged: number;
  inconsistent: number;
  late_dropped: { volume: number; spread: number };
  rows: Record<TableName, number>;
}

export interface ReferenceResult {
  tables: Record<TableName, TableRow[]>;
  summary: ReferenceSummary;
  /** event_ids dropped from windows as late, per window job (the late side output). */
  late: { volume: string[]; spread: string[] };
}

export interface ReferenceOptions {
  /** Origin written into DLQ rows (default `file:<absolute path>` for files, `lines` otherwise). */
  readonly source?: string;
  /** Processing-time clock for detected_at / received_at (default Date.now). */
  readonly now?: () => number;
}

interface VolumeWindow {
  readonly key: VolumeKey;
  readonly accumulator: VolumeAccumulator;
}

/** Open windows by end time; a window fires once the job's watermark reaches its end. */
class WindowBook<W> {
  private readonly byEnd = new Map<number, Map<string, W>>();
  private ends: number[] = [];

  get(end: number, key: string, create: () => W): W {
    let windows = this.byEnd.get(end);
    if (!windows) {
      this.byEnd.set(end, (windows = new Map()));
      this.ends.push(end);
      this.ends.sort((a, b) => a - b);
    }
    let window = windows.get(key);
    if (!window) windows.set(key, (window = create()));
    return window;
  }

  /** Fires, in end order and then key order, every window whose end <= watermark. */
  fire(watermark: number, emit: (end: number, key: string, window: W) => void): void {
    while (this.ends.length > 0 && this.ends[0]! <= watermark) {
      const end = this.ends.shift()!;
      const windows = this.byEnd.get(end)!;
      this.byEnd.delete(end);
      for (const key of [...windows.keys()].sort()) emit(end, key, windows.get(key)!);
    }
  }
}

export class ReferencePipeline {
  readonly tables = Object.fromEntries(TABLE_NAMES.map((name) => [name, [] as TableRow[]])) as Record<TableName, TableRow[]>;
  readonly late = { volume: [] as string[], spread: [] as string[] };
  private readonly counts = { records_in: 0, passed: 0, malformed: 0, incomplete: 0, invalid: 0, duplicate: 0, late_flagged: 0, inconsistent: 0 };
  private readonly lateDropped = { volume: 0, spread: 0 };
  private readonly now: () => number;
  /** Dedup: event_id -> event time of its kept occurrence, in insertion order for cheap eviction. */
  private readonly seen = new Map<string, number>();
  private maxEventTime = Number.NEGATIVE_INFINITY;
  private readonly volumeWindows = new WindowBook<VolumeWindow>();
  private readonly volumeHistory = new Map<string, VolumeHistory>();
  private readonly spreadWindows = new WindowBook<SpreadAccumulator>();

  constructor(private readonly features: Features, private readonly source: string, options: ReferenceOptions = {}) {
    this.now = options.now ?? Date.now;
  }

  /** One record (a non-empty line) in source order. */
  process(text: string, offset: number | string): void {
    this.counts.records_in++;
    const outcome = checkQuality(text, this.features.quality);
    if (outcome.status === 'rejected') {
      this.counts[outcome.reason]++;
      this.tables.dlq.push(dlqRow({ text, source: this.source, offset }, outcome.reason, outcome.error, this.now()));
      return;
    }
    const trade = outcome.trade;
    if (this.isDuplicate(trade)) {
      this.counts.duplicate++;
      return;
    }
    this.counts.passed++;
    if (outcome.lateFlagged) this.counts.late_flagged++;
    if (outcome.inconsistent) this.counts.inconsistent++;

    const { whale, volume, spread } = this.features;
    if (whale.enabled) {
      const severity = whaleSeverity(trade.quote_volume, whale);
      if (severity) {
        this.tables.whale_trades.push(whaleRow(trade, severity));
        this.tables.anomaly_alerts.push(whaleAlert(trade, severity, this.now()));
      }
    }
    // Lateness is judged against the watermark before this record; a record can never make its own window late.
    if (volume.enabled) this.addToVolume(trade);
    if (spread.enabled) this.addToSpread(trade);
    if (trade.timestamp > this.maxEventTime) {
      this.maxEventTime = trade.timestamp;
      this.fireWindows(this.maxEventTime);
    }
  }

  /** End of a bounded input: the watermark goes to +infinity and every open window fires. */
  finish(): ReferenceResult {
    this.fireWindows(Number.POSITIVE_INFINITY);
    const rows = Object.fromEntries(TABLE_NAMES.map((name) => [name, this.tables[name].length])) as Record<TableName, number>;
    return { tables: this.tables, summary: { ...this.counts, late_dropped: { ...this.lateDropped }, rows }, late: this.late };
  }

  /** Keep-first: a record is a duplicate when a kept record of its event_id is at most the horizon older (or newer). */
  private isDuplicate(trade: Trade): boolean {
    const horizon = this.features.quality.dedupHorizonMs;
    let first = this.seen.get(trade.event_id);
    // Forgotten two horizons behind the newest event time, evicted from the map yet or not (as the engine).
    if (first !== undefined && first < this.maxEventTime - 2 * horizon) first = undefined;
    if (first !== undefined && trade.timestamp - first <= horizon) return true;
    this.seen.set(trade.event_id, trade.timestamp);
    if (this.counts.passed % 65_536 === 0) this.evictSeen(horizon);
    return false;
  }

  /** Forgets ids kept more than two horizons before the newest event time: only records over an hour late could match. */
  private evictSeen(horizon: number): void {
    const cutoff = this.maxEventTime - 2 * horizon;
    for (const [id, time] of this.seen) {
      if (time >= cutoff) break;
      this.seen.delete(id);
    }
  }

  private addToVolume(trade: Trade): void {
    const size = this.features.volume.windowMs;
    const end = Math.floor(trade.timestamp / size) * size + size;
    if (end <= this.maxEventTime - this.features.volume.delayMs) {
      this.lateDropped.volume++;
      this.late.volume.push(trade.event_id);
      return;
    }
    const key = `${trade.symbol}|${trade.exchange}`;
    const window = this.volumeWindows.get(end, key, () => ({
      key: { symbol: trade.symbol, exchange: trade.exchange },
      accumulator: createVolumeAccumulator(),
    }));
    addTrade(window.accumulator, trade);
  }

  private addToSpread(trade: Trade): void {
    const size = this.features.spread.windowMs;
    const end = Math.floor(trade.timestamp / size) * size + size;
    if (end <= this.maxEventTime - this.features.spread.delayMs) {
      this.lateDropped.spread++;
      this.late.spread.push(trade.event_id);
      return;
    }
    addSpreadTrade(this.spreadWindows.get(end, trade.symbol, createSpreadAccumulator), trade, this.features.spread);
  }

  private fireWindows(maxEventTime: number): void {
    const { volume, spread } = this.features;
    if (volume.enabled) {
      this.volumeWindows.fire(maxEventTime - volume.delayMs, (end, key, window) => {
        const start = end - volume.windowMs;
        this.tables.volume_aggregates.push(volumeRow(window.key, start, end, window.accumulator));
        let history = this.volumeHistory.get(key);
        if (!history) this.volumeHistory.set(key, (history = []));
        const total = window.accumulator.totalVolume;
        const score = scoreVolumeWindow(history, start, total, volume);
        if (score?.severity) this.tables.anomaly_alerts.push(volumeAlert(window.key, start, total, score, this.now()));
      });
    }
    if (spread.enabled) {
      this.spreadWindows.fire(maxEventTime - spread.delayMs, (end, symbol, accumulator) => {
        const row = spreadRow(symbol, end - spread.windowMs, end, accumulator, spread);
        if (!row) return;
        this.tables.exchange_spreads.push(row);
        const severity = spreadSeverity(row.spread_pct as number, spread);
        if (severity) this.tables.anomaly_alerts.push(spreadAlert(row, severity, this.now()));
      });
    }
  }
}
