import { describe, expect, it } from 'vitest';
import {
  addTrade, createVolumeAccumulator, scoreVolumeWindow, splitVolumeKey, volumeAlert, volumeKey, volumeRow,
  volumeHistoryOf, type VolumeHistory, type VolumeScoreSettings,
} from '../../jobs/modules/volume-logic.js';
import type { Trade } from '../../jobs/modules/trade.js';

const SETTINGS: VolumeScoreSettings = { historyMs: 3_600_000, minHistory: 10, zThreshold: 2.5, zHigh: 3.5 };
const MINUTE = 60_000;

function trade(price: number, quantity: number, side: 'buy' | 'sell', quoteVolume = price * quantity): Trade {
  return { event_id: `e${price}`, exchange: 'binance', symbol: 'BTC-USDT', price, quantity, quote_volume: quoteVolume, side, timestamp: 0, ingestion_timestamp: null };
}

/** `count` windows one minute apart ending just before `start`, alternating mean ± deviation. */
function history(start: number, count: number, mean: number, deviation: number): VolumeHistory {
  return Array.from({ length: count }, (_, i) => [start - (count - i) * MINUTE, mean + (i % 2 === 0 ? deviation : -deviation)]).flat();
}

describe('volume window aggregate', () => {
  it('sums volume by side and computes the VWAP, max and min price', () => {
    const accumulator = createVolumeAccumulator();
    addTrade(accumulator, trade(100, 2, 'buy'));
    addTrade(accumulator, trade(110, 1, 'sell', 111)); // a given quote_volume is what counts
    addTrade(accumulator, trade(90, 1, 'buy'));
    expect(volumeRow({ symbol: 'BTC-USDT', exchange: 'binance' }, 0, MINUTE, accumulator)).toEqual({
      symbol: 'BTC-USDT', exchange: 'binance', window_start: 0, window_end: MINUTE, trade_count: 3,
      total_volume: 200 + 111 + 90, avg_price: (200 + 110 + 90) / 4, max_price: 110, min_price: 90, buy_volume: 290, sell_volume: 111,
    });
  });

  it('keeps only finite plain numbers in the accumulator so it survives a JSON round trip', () => {
    const accumulator = addTrade(createVolumeAccumulator(), trade(5, 1, 'sell'));
    expect(JSON.parse(JSON.stringify(accumulator))).toEqual(accumulator);
    expect(JSON.parse(JSON.stringify(createVolumeAccumulator()))).toEqual(createVolumeAccumulator());
  });

  it('round-trips the key of a symbol and exchange', () => {
    expect(splitVolumeKey(volumeKey({ symbol: 'ETH-USDT', exchange: 'coin|base' }))).toEqual({ symbol: 'ETH-USDT', exchange: 'coin|base' });
  });
});

describe('rolling z-score', () => {
  const start = 100 * MINUTE;

  it('gives no score with fewer than 10 history values', () => {
    const entries = history(start, 9, 1000, 10);
    expect(scoreVolumeWindow(entries, start, 1_000_000, SETTINGS)).toBeNull();
    expect(entries).toHaveLength(20); // the window joins the history all the same
    expect(scoreVolumeWindow(entries, start + MINUTE, 1_000_000, SETTINGS)).not.toBeNull();
  });

  it('gives no score when the history has a standard deviation of 0', () => {
    expect(scoreVolumeWindow(history(start, 20, 1000, 0), start, 5000, SETTINGS)).toBeNull();
    // 0.1 is not exactly representable; the two-pass stddev of equal values must still be exactly 0.
    expect(scoreVolumeWindow(history(start, 20, 0.1, 0), start, 5000, SETTINGS)).toBeNull();
  });

  it('computes z with the population standard deviation and grades |z|', () => {
    const entries = history(start, 10, 1000, 10); // mean 1000, population stddev exactly 10
    const score = scoreVolumeWindow(entries, start, 1036, SETTINGS)!;
    expect(score).toEqual({ zScore: 3.6, mean: 1000, stddev: 10, historySize: 10, severity: 'high' });
    expect(scoreVolumeWindow(history(start, 10, 1000, 10), start, 1030, SETTINGS)!.severity).toBe('medium');
    expect(scoreVolumeWindow(history(start, 10, 1000, 10), start, 1035, SETTINGS)!.severity).toBe('medium'); // 3.5 is not > 3.5
    expect(scoreVolumeWindow(history(start, 10, 1000, 10), start, 1025, SETTINGS)!.severity).toBeNull(); // 2.5 is not > 2.5
    expect(scoreVolumeWindow(history(start, 10, 1000, 10), start, 960, SETTINGS)).toMatchObject({ zScore: -4, severity: 'high' });
  });

  it('keeps a window that started exactly one hour earlier and drops older ones', () => {
    const entries: VolumeHistory = [start - 61 * MINUTE, 1e9, ...history(start, 60, 1000, 10)];
    expect(entries[2]).toBe(start - 60 * MINUTE);
    const score = scoreVolumeWindow(entries, start, 1000, SETTINGS)!;
    expect(score.historySize).toBe(60);
    expect(score.mean).toBe(1000);
    expect(entries[0]).toBe(start - 60 * MINUTE);
    expect(entries.slice(-2)).toEqual([start, 1000]);
  });

  it('counts only emitted windows across a gap of empty ones', () => {
    const entries = history(start, 10, 1000, 10);
    // 40 empty minutes later the ten windows are still within the hour: no zeros are invented for the gap.
    const afterGap = start + 40 * MINUTE;
    const score = scoreVolumeWindow(entries, afterGap, 1036, SETTINGS)!;
    expect(score).toMatchObject({ historySize: 10, mean: 1000, stddev: 10, severity: 'high' });
    // Another hour later everything has expired.
    expect(scoreVolumeWindow(entries, afterGap + 61 * MINUTE, 1036, SETTINGS)).toBeNull();
    expect(entries).toHaveLength(2);
  });

  it('reads the history of a checkpoint that stored one object per window as flat pairs', () => {
    expect(volumeHistoryOf(undefined)).toEqual([]);
    expect(volumeHistoryOf([{ windowStart: 0, totalVolume: 5 }, { windowStart: MINUTE, totalVolume: 7 }])).toEqual([0, 5, MINUTE, 7]);
    const flat = [0, 5];
    expect(volumeHistoryOf(flat)).toBe(flat);
  });

  it('builds a volume_spike alert with exactly the SPEC detail fields', () => {
    const score = scoreVolumeWindow(history(start, 10, 1000, 10), start, 1036, SETTINGS)!;
    const alert = volumeAlert({ symbol: 'BTC-USDT', exchange: 'binance' }, start, 1036, score, 5_000);
    expect(alert).toMatchObject({ alert_type: 'volume_spike', module_id: 'MOD-001', symbol: 'BTC-USDT', exchange: 'binance', severity: 'high', detected_at: 5_000 });
    expect(JSON.parse(alert.details as string)).toEqual({
      z_score: 3.6, window_volume: 1036, rolling_mean: 1000, rolling_stddev: 10, window_start: new Date(start).toISOString(),
    });
    expect(alert.message).toBe('BTC-USDT volume on binance was 1,036.00 in the window from 1970-01-01T01:40:00.000Z, 3.60 standard deviations above the rolling mean of 1,000.00.');
  });
});
