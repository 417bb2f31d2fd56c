// Small handcrafted tapes through jobs/all.ts for the edge cases of SPEC §2-§4: keep-first dedup of altered copies,
// very late trades, a spread window with one exchange missing, DLQ rows kept verbatim, and a bad config file.

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runReference, type ReferenceResult } from '../../bench/baselines/reference.js';
import { loadFeatures } from '../../jobs/modules/config.js';
import { TABLE_NAMES } from '../../jobs/modules/tables.js';
import {
  alertWindowStart, comparableSummary, ensureBuilt, jobFile, NO_DIFFERENCE, readJsonlTables, readSummary, rowDifference, runCoattail,
  runJobOnFile, temporaryFolders, tradeLine, writeLines, writeText, type Row, type Summary, type Tables,
} from './detector-support.js';

const folders = temporaryFolders('coattail-handcrafted');
afterAll(() => folders.removeAll());
beforeAll(() => ensureBuilt());

const SECOND = 1000;
/** A minute boundary, so every window below starts at a known offset from it. */
const T0 = Date.parse('2025-02-05T10:00:00.000Z');

interface HandcraftedRun {
  readonly tables: Tables;
  readonly summary: Summary;
  readonly reference: ReferenceResult;
  readonly tape: string;
  readonly offsets: number[];
}

/** Runs jobs/all.ts over the lines and checks every table against the reference before returning them. */
async function runAll(name: string, lines: readonly string[], parallelism: number): Promise<HandcraftedRun> {
  const folder = folders.make(name);
  const tape = join(folder, 'tape.jsonl');
  const offsets = writeLines(tape, lines);
  const out = join(folder, 'out');
  await runJobOnFile('all', tape, out, { parallelism });
  const tables = readJsonlTables(out);
  const reference = await runReference(tape, loadFeatures());
  for (const table of TABLE_NAMES) expect(rowDifference(table, tables[table]!, reference.tables[table])).toEqual(NO_DIFFERENCE(table));
  return { tables, summary: readSummary(out), reference, tape, offsets };
}

/** Checked last in each test, so the case's own assertions speak first. */
function expectReferenceCounters({ summary, reference }: HandcraftedRun): void {
  expect(comparableSummary(summary)).toEqual(reference.summary);
}

function volumeRow(tables: Tables, symbol: string, exchange: string, windowStart: number): Row | undefined {
  return tables.volume_aggregates!.find((row) => row.symbol === symbol && row.exchange === exchange && Date.parse(row.window_start as string) === windowStart);
}

describe('keep-first dedup', () => {
  // Small trades on both exchanges fill more than one 1 MB read chunk, so a copy far down the file is read,
  // decoded and routed apart from its first occurrence.
  const filler = Array.from({ length: 9_000 }, (_, index) =>
    tradeLine({ id: `fill-${index}`, at: T0 + 2 * SECOND + (index % 50_000), price: 100, quantity: 0.01, exchange: index % 2 ? 'coinbase' : 'binance' }),
  );
  const lines = [
    // Whales on SOL-USDT, which only binance trades here: no spread window can see them.
    tradeLine({ id: 'whale-x', at: T0 + SECOND, symbol: 'SOL-USDT', price: 200_000, quantity: 1 }),
    tradeLine({ id: 'whale-y', at: T0 + SECOND, symbol: 'SOL-USDT', price: 50_000, quantity: 3 }),
    // The altered copy right after the first: a critical whale if it were kept.
    tradeLine({ id: 'whale-y', at: T0 + SECOND, symbol: 'SOL-USDT', price: 50_000, quantity: 30 }),
    ...filler.slice(0, 4_500),
    tradeLine({ id: 'trade-z', at: T0 + 20 * SECOND, price: 101, quantity: 2, exchange: 'coinbase' }),
    ...filler.slice(4_500),
    // Far copies: one with another price, one 5 s earlier in event time with another quantity and side.
    tradeLine({ id: 'whale-x', at: T0 + SECOND, symbol: 'SOL-USDT', price: 900_000, quantity: 1 }),
    // Kept, this copy would pull coinbase's VWAP about 1 % above binance's and raise a spread alert.
    JSON.stringify({ event_id: 'trade-z', exchange: 'coinbase', symbol: 'BTC-USDT', price: 101, quantity: 5_000, side: 'sell', timestamp: T0 + 15 * SECOND }),
  ];

  /** alert_ids per parallelism, kept by the runs below for the determinism check after them. */
  const alertIds = new Map<number, string[]>();

  it.each([1, 2, 4])('keeps the first occurrence of an event_id and its values at -p %i', async (parallelism) => {
    const run = await runAll(`dedup-p${parallelism}`, lines, parallelism);
    const { tables, summary } = run;
    alertIds.set(parallelism, tables.anomaly_alerts!.map((alert) => alert.alert_id as string).sort());
    expect(summary).toMatchObject({ records_in: lines.length, passed: lines.length - 3, duplicate: 3 });
    expect(tables.whale_trades!.map((row) => [row.event_id, row.price, row.quantity, row.severity]).sort()).toEqual([
      ['whale-x', 200_000, 1, 'medium'],
      ['whale-y', 50_000, 3, 'medium'],
    ]);
    expect(volumeRow(tables, 'SOL-USDT', 'binance', T0)).toMatchObject({ trade_count: 2, max_price: 200_000, total_volume: 350_000 });
    const coinbase = volumeRow(tables, 'BTC-USDT', 'coinbase', T0)!;
    expect(coinbase).toMatchObject({ trade_count: 4_500 + 1, max_price: 101, sell_volume: 0 });
    expect(coinbase.buy_volume).toBeCloseTo(4_500 + 202, 6);
    expect(tables.anomaly_alerts!.map((alert) => [alert.alert_type, alert.severity]).sort()).toEqual([['whale', 'medium'], ['whale', 'medium']]);
    expectReferenceCounters(run);
  });

  it('gives every alert the same alert_id at -p 1, 2 and 4', () => {
    expect([...alertIds.keys()].sort()).toEqual([1, 2, 4]);
    const ids = alertIds.get(1)!;
    expect(ids).toHaveLength(2);
    expect(ids[0]).not.toBe(ids[1]);
    expect(alertIds.get(2)).toEqual(ids);
    expect(alertIds.get(4)).toEqual(ids);
  });
});

describe('very late trades', () => {
  it('drops them from both windows and counts them, while a big one still becomes a whale', async () => {
    const lines: string[] = [];
    // One trade a second on each exchange for 400 s.
    for (let second = 0; second < 400; second++) {
      lines.push(tradeLine({ id: `b-${second}`, at: T0 + second * SECOND, price: 100 }));
      lines.push(tradeLine({ id: `c-${second}`, at: T0 + second * SECOND + 500, price: 100, exchange: 'coinbase' }));
    }
    // 200 s behind the newest event time: beyond delay + 60 s for volume (30 s) and spread (15 s).
    lines.push(tradeLine({ id: 'late-whale', at: T0 + 199 * SECOND, price: 100, quantity: 6_000 }));
    // 9 s behind: within both delays, so never late.
    lines.push(tradeLine({ id: 'slightly-late', at: T0 + 390 * SECOND, price: 100, quantity: 2 }));
    for (let second = 400; second < 420; second++) lines.push(tradeLine({ id: `b-${second}`, at: T0 + second * SECOND, price: 100 }));

    const run = await runAll('late', lines, 2);
    const { tables, summary } = run;
    expect(summary.late_dropped).toEqual({ volume: 1, spread: 1 });
    expect(tables.whale_trades!.map((row) => [row.event_id, row.severity])).toEqual([['late-whale', 'high']]);
    expect(tables.anomaly_alerts!.map((alert) => [alert.alert_type, JSON.parse(alert.details as string).event_id])).toEqual([['whale', 'late-whale']]);
    // The late trade's minute [180 s, 240 s) holds only the on-time trades; the slightly late one is counted.
    expect(volumeRow(tables, 'BTC-USDT', 'binance', T0 + 180 * SECOND)).toMatchObject({ trade_count: 60, total_volume: 6_000, max_price: 100 });
    expect(volumeRow(tables, 'BTC-USDT', 'binance', T0 + 360 * SECOND)).toMatchObject({ trade_count: 61, total_volume: 6_200 });
    const spread = tables.exchange_spreads!.find((row) => Date.parse(row.window_start as string) === T0 + 180 * SECOND)!;
    expect(spread).toMatchObject({ vwap_a: 100, vwap_b: 100, spread_pct: 0 });
    expectReferenceCounters(run);
  });
});

describe('spread windows', () => {
  it('write a row only for windows where both exchanges of the pair traded the symbol', async () => {
    const lines: string[] = [];
    for (let second = 0; second < 90; second += 2) {
      const at = T0 + second * SECOND;
      const inSecondWindow = second >= 30 && second < 60;
      lines.push(tradeLine({ id: `btc-b-${second}`, at, price: second >= 60 ? 100.8 : 100 }));
      // Coinbase is silent on BTC-USDT during [30 s, 60 s).
      if (!inSecondWindow) lines.push(tradeLine({ id: `btc-c-${second}`, at: at + 1, price: 100, exchange: 'coinbase' }));
      // ETH-USDT only on coinbase; SOL-USDT on binance and kraken, which is not part of the pair.
      lines.push(tradeLine({ id: `eth-c-${second}`, at: at + 2, symbol: 'ETH-USDT', price: 3_000, exchange: 'coinbase' }));
      lines.push(tradeLine({ id: `sol-b-${second}`, at: at + 3, symbol: 'SOL-USDT', price: 20 }));
      lines.push(tradeLine({ id: `sol-k-${second}`, at: at + 4, symbol: 'SOL-USDT', price: 25, exchange: 'kraken' }));
    }
    const run = await runAll('spread', lines, 4);
    const { tables } = run;
    const spreads = tables.exchange_spreads!.map((row) => [row.symbol, Date.parse(row.window_start as string) - T0, row.exchange_a, row.exchange_b]);
    expect(spreads.sort()).toEqual([
      ['BTC-USDT', 0, 'binance', 'coinbase'],
      ['BTC-USDT', 60_000, 'binance', 'coinbase'],
    ]);
    const last = tables.exchange_spreads!.find((row) => Date.parse(row.window_start as string) === T0 + 60 * SECOND)!;
    expect(last.spread_pct).toBeCloseTo(0.8, 9);
    const alerts = tables.anomaly_alerts!;
    expect(alerts.map((alert) => [alert.alert_type, alert.symbol, alert.exchange, alert.severity, alertWindowStart(alert) - T0])).toEqual([
      ['spread', 'BTC-USDT', null, 'medium', 60_000],
    ]);
    // The silent window still has its per-exchange volume rows.
    expect(volumeRow(tables, 'BTC-USDT', 'binance', T0)).toBeDefined();
    expect(volumeRow(tables, 'SOL-USDT', 'kraken', T0)).toBeDefined();
    expectReferenceCounters(run);
  });
});

describe('dead-letter queue', () => {
  it('keeps each rejected record verbatim with its reason, error, source and byte offset', async () => {
    const valid = (id: string, second: number) => tradeLine({ id, at: T0 + second * SECOND });
    const cases: Array<{ line: string; reason: string; error?: RegExp }> = [
      { line: '{"event_id": "cut-short", "price": 1', reason: 'malformed' },
      { line: '[1, 2, 3]', reason: 'malformed' },
      { line: '   ', reason: 'malformed' },
      { line: 'not json at all\r', reason: 'malformed' },
      { line: JSON.stringify({ event_id: 'no-price', exchange: 'binance', symbol: 'BTC-USDT', quantity: 1, side: 'buy', timestamp: T0 }), reason: 'incomplete', error: /price/ },
      { line: JSON.stringify({ event_id: 'text-price', exchange: 'binance', symbol: 'BTC-USDT', price: '100', quantity: 1, side: 'buy', timestamp: T0 }), reason: 'invalid', error: /price/ },
      { line: JSON.stringify({ event_id: 'lower', exchange: 'binance', symbol: 'btc-usdt', price: 100, quantity: 1, side: 'buy', timestamp: T0 }), reason: 'invalid', error: /symbol/ },
      { line: '{"event_id":"ünïcödé","exchange":"binance","symbol":"BTC-USDT","price":100,"quantity":1,"side":"sëll","timestamp":0}', reason: 'invalid', error: /side/ },
    ];
    // Valid lines with multi-byte characters in between, so byte offsets and character offsets differ.
    const lines: string[] = [];
    const expected: Array<{ index: number; reason: string; error?: RegExp }> = [];
    cases.forEach((one, position) => {
      lines.push(valid(`café-${position}`, position));
      expected.push({ index: lines.length, reason: one.reason, ...(one.error ? { error: one.error } : {}) });
      lines.push(one.line);
    });
    lines.push(valid('last', 30));

    const run = await runAll('dlq', lines, 2);
    const { tables, summary, tape, offsets } = run;
    expect(summary).toMatchObject({ records_in: lines.length, malformed: 4, incomplete: 1, invalid: 3, passed: cases.length + 1 });
    const dlq = [...tables.dlq!].sort((a, b) => Number(a.offset) - Number(b.offset));
    expect(dlq).toHaveLength(cases.length);
    dlq.forEach((row, position) => {
      const { index, reason, error } = expected[position]!;
      expect(row).toMatchObject({ reason, raw: lines[index], source: `file:${tape}`, offset: String(offsets[index]) });
      expect(row.error).toEqual(expect.any(String));
      expect((row.error as string).length).toBeGreaterThan(0);
      if (error) expect(row.error).toMatch(error);
      expect(Number.isNaN(Date.parse(row.received_at as string))).toBe(false);
    });
    expectReferenceCounters(run);
  });
});

describe('_summary.json of a clean tape', () => {
  it('lists every counter of SPEC §6 even when it is zero', async () => {
    const lines = Array.from({ length: 10 }, (_, index) => tradeLine({ id: `clean-${index}`, at: T0 + index * SECOND }));
    const run = await runAll('clean', lines, 2);
    expect(run.summary).toMatchObject({ records_in: 10, passed: 10 });
    for (const counter of ['records_in', 'passed', 'malformed', 'incomplete', 'invalid', 'duplicate', 'late_flagged', 'inconsistent']) {
      expect([counter, typeof run.summary[counter]]).toEqual([counter, 'number']);
    }
    expect(run.summary.late_dropped).toEqual({ volume: 0, spread: 0 });
    expectReferenceCounters(run);
  });
});

describe('a config file with a bad value', () => {
  it('fails the run with one line on stderr that names the key', async () => {
    const folder = folders.make('bad-config');
    const config = writeText(join(folder, 'bad.yaml'), 'whale:\n  threshold: -5\nvolume:\n  window: 60s\n');
    const tape = join(folder, 'tape.jsonl');
    writeLines(tape, [tradeLine({ id: 'one', at: T0 })]);
    const run = await runCoattail(['run', jobFile('all'), '-s', `file:${tape}`, '-o', join(folder, 'out'), '-f', 'jsonl', '-p', '2', '--no-checkpoints', '-c', config]);
    expect(run.timedOut).toBe(false);
    expect(run.code).not.toBe(0);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/whale\.threshold/);
    expect(lines[0]).not.toMatch(/\bat .*:\d+:\d+/);
  });
});
