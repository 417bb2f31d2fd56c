import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readJsonLines, runReference, runReferenceOnLines } from '../../bench/baselines/reference.js';
import { defaultFeatures } from '../../jobs/modules/config.js';

const directory = mkdtempSync(join(tmpdir(), 'coattail-reference-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const SECOND = 1000;
const features = defaultFeatures();
const clock = { now: () => 42 };

interface LineOptions {
  id: string;
  at: number;
  price?: number;
  quantity?: number;
  exchange?: string;
  symbol?: string;
  side?: string;
}

function line({ id, at, price = 100, quantity = 1, exchange = 'binance', symbol = 'BTC-USDT', side = 'buy' }: LineOptions): string {
  return JSON.stringify({ event_id: id, exchange, symbol, price, quantity, side, timestamp: at });
}

describe('reference pipeline', () => {
  it('keeps the first of two records with one event_id even when the copy is altered', () => {
    const result = runReferenceOnLines(
      [line({ id: 'x', at: 0, price: 200_000 }), line({ id: 'x', at: 0, price: 900_000 }), line({ id: 'y', at: SECOND })],
      features,
      clock,
    );
    expect(result.summary).toMatchObject({ records_in: 3, passed: 2, duplicate: 1 });
    expect(result.tables.whale_trades.map((row) => [row.event_id, row.price, row.severity])).toEqual([['x', 200_000, 'medium']]);
    expect(result.tables.volume_aggregates[0]).toMatchObject({ trade_count: 2, total_volume: 200_100 });
  });

  it('forgets an event_id after one hour of event time but not before', () => {
    const hour = 3_600_000;
    const result = runReferenceOnLines(
      [line({ id: 'x', at: 0 }), line({ id: 'x', at: hour }), line({ id: 'x', at: hour + 1 }), line({ id: 'x', at: hour + 2 })],
      features,
      clock,
    );
    // hour: duplicate of the kept record at 0; hour + 1: passes and becomes the kept one; hour + 2: its duplicate.
    expect(result.summary).toMatchObject({ passed: 2, duplicate: 2 });
  });

  it('never makes a record within the delay late, drops one beyond delay + window, and still reports it as a whale', () => {
    const result = runReferenceOnLines(
      [
        line({ id: 'a', at: 0 }),
        line({ id: 'b', at: 100 * SECOND }),
        line({ id: 'within-delay', at: 71 * SECOND }), // volume watermark is 70 s: window [60 s, 120 s) is open
        line({ id: 'late-whale', at: 10 * SECOND, price: 600_000 }), // window [0, 60 s) fired when the watermark passed 60 s
      ],
      features,
      clock,
    );
    expect(result.summary.late_dropped).toEqual({ volume: 1, spread: 1 });
    expect(result.late).toEqual({ volume: ['late-whale'], spread: ['late-whale'] });
    expect(result.tables.whale_trades.map((row) => [row.event_id, row.severity])).toEqual([['late-whale', 'high']]);
    expect(result.tables.volume_aggregates.map((row) => [row.window_start, row.trade_count])).toEqual([[0, 1], [60_000, 2]]);
  });

  it('does not let rejected records or duplicates advance the watermark', () => {
    const result = runReferenceOnLines(
      [
        line({ id: 'a', at: 0 }),
        line({ id: 'future-but-invalid', at: 10_000 * SECOND, side: 'hold' }),
        line({ id: 'b', at: 200 * SECOND }),
        line({ id: 'b', at: 400 * SECOND }), // a duplicate: the max event time stays at 200 s
        line({ id: 'c', at: 150 * SECOND }), // 50 s behind 200 s: window [120 s, 180 s) is still open for volume
      ],
      features,
      clock,
    );
    expect(result.summary).toMatchObject({ records_in: 5, passed: 3, invalid: 1, duplicate: 1 });
    expect(result.summary.late_dropped.volume).toBe(0);
  });

  it('fires every open window at the end of the input', () => {
    const result = runReferenceOnLines([line({ id: 'a', at: 5 * SECOND }), line({ id: 'b', at: 6 * SECOND, exchange: 'coinbase', price: 99 })], features, clock);
    expect(result.tables.volume_aggregates).toHaveLength(2);
    expect(result.tables.exchange_spreads).toEqual([
      { symbol: 'BTC-USDT', window_start: 0, window_end: 30_000, exchange_a: 'binance', exchange_b: 'coinbase', vwap_a: 100, vwap_b: 99, spread_pct: (1 / 99) * 100 },
    ]);
    expect(result.tables.anomaly_alerts.map((row) => [row.alert_type, row.severity, row.exchange])).toEqual([['spread', 'high', null]]);
  });

  it('writes no spread row for a window where only one exchange of the pair traded', () => {
    const result = runReferenceOnLines([line({ id: 'a', at: 0 }), line({ id: 'b', at: SECOND, exchange: 'kraken' })], features, clock);
    expect(result.tables.exchange_spreads).toEqual([]);
    expect(result.tables.volume_aggregates).toHaveLength(2);
  });

  it('runs only the enabled modules', () => {
    const whaleOnly = { ...features, volume: { ...features.volume, enabled: false }, spread: { ...features.spread, enabled: false } };
    const result = runReferenceOnLines([line({ id: 'a', at: 0, price: 2_000_000 }), line({ id: 'b', at: 0, exchange: 'coinbase' })], whaleOnly, clock);
    expect(result.summary.rows).toEqual({ volume_aggregates: 0, exchange_spreads: 0, whale_trades: 1, anomaly_alerts: 1, dlq: 0 });
  });
});

describe('reading a JSON Lines file', () => {
  const good = line({ id: 'a', at: 0 });
  const bytes = Buffer.concat([
    Buffer.from(good + '\r\n'),
    Buffer.from('\n'),
    Buffer.from([0x7b, 0xff, 0xfe, 0x7d, 0x0a]), // "{", two invalid bytes, "}"
    Buffer.from('  \n'),
    Buffer.from(line({ id: 'b', at: SECOND })), // the last line has no newline
  ]);

  it('splits on \\n, keeps \\r, skips empty lines, replaces invalid UTF-8 and reports byte offsets', async () => {
    const path = join(directory, 'odd.jsonl');
    writeFileSync(path, bytes);
    const seen: Array<[string, number]> = [];
    await readJsonLines(path, (text, offset) => seen.push([text, offset]));
    const first = good.length + 2;
    expect(seen).toEqual([
      [good + '\r', 0],
      ['{\uFFFD\uFFFD}', first + 1],
      ['  ', first + 6],
      [line({ id: 'b', at: SECOND }), first + 9],
    ]);
  });

  it('reads lines that span many read chunks', async () => {
    const path = join(directory, 'long.jsonl');
    const long = JSON.stringify({ padding: 'x'.repeat(3_000_000) });
    writeFileSync(path, `${long}\n${good}\n`);
    const seen: Array<[number, number]> = [];
    await readJsonLines(path, (text, offset) => seen.push([text.length, offset]));
    expect(seen).toEqual([[long.length, 0], [good.length, long.length + 1]]);
  });

  it('writes DLQ rows naming the file and the byte offset of each bad line', async () => {
    const path = join(directory, 'dlq.jsonl');
    writeFileSync(path, bytes);
    const result = await runReference(path, features, clock);
    expect(result.summary).toMatchObject({ records_in: 4, passed: 2, malformed: 2 });
    expect(result.tables.dlq).toEqual([
      { reason: 'malformed', error: 'not valid JSON', raw: '{\uFFFD\uFFFD}', source: `file:${resolve(path)}`, offset: String(good.length + 3), received_at: 42 },
      { reason: 'malformed', error: 'not valid JSON', raw: '  ', source: `file:${resolve(path)}`, offset: String(good.length + 8), received_at: 42 },
    ]);
  });

  it('fails with FILE_NOT_FOUND for a missing file', async () => {
    await expect(runReference(join(directory, 'missing.jsonl'), features)).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
  });
});
