/**
 * The real CLI (`coattail run jobs/all.ts`) against a clean-room oracle of SPEC §1-§6
 * (test/support/spec-oracle.ts): every row of every table and the `_summary.json` counters, on generated
 * tapes and on a hand-written adversarial tape, at several parallelisms, as JSON Lines and Parquet.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, runOracle, splitLines, type OracleConfig, type OracleResult } from '../support/spec-oracle.js';
import { adversarialTape } from '../support/spec-oracle-tape.js';
import { TABLES, alertIds, formProblems, readTables, summaryDifferences, tableDifferences, type Row, type TableName } from '../support/spec-oracle-compare.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = join(ROOT, 'bin', 'coattail.js');

let work = '';

function coattail(args: readonly string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stderr }));
  });
}

interface Run {
  readonly tables: Record<TableName, Row[]>;
  readonly summary: Record<string, unknown>;
}

async function runAll(tape: string, name: string, parallelism: number, format: 'jsonl' | 'parquet', extra: readonly string[] = []): Promise<Run> {
  const out = join(work, `${name}-p${parallelism}-${format}`);
  const checkpoints = extra.includes('--checkpoint-dir') ? [] : ['--no-checkpoints'];
  const result = await coattail(['run', 'jobs/all.ts', '-s', `file:${tape}`, '-o', out, '-f', format, '-p', String(parallelism), '-q', ...checkpoints, ...extra]);
  expect(result.code, result.stderr).toBe(0);
  const summary = JSON.parse(readFileSync(join(out, '_summary.json'), 'utf8')) as Record<string, unknown>;
  return { tables: await readTables(out, format), summary };
}

function oracleFor(tape: string, config?: OracleConfig): OracleResult {
  return runOracle(splitLines(readFileSync(tape)), `file:${tape}`, config);
}

/** Every setting away from its default (SPEC §4: thresholds, window sizes and delays are configurable). */
const CUSTOM_YAML = `
quality:
  symbols: [BTC-USDT, ETH-USDT, SOL-USDT]
  future_clock_tolerance: 1m
  late_flag_after: 2s
  inconsistency_tolerance: 0.00001
  dedup_horizon: 1h
volume:
  enabled: true
  window: 2m
  delay: 5s
  history: 20m
  min_history: 4
  z_threshold: 1.5
  z_high: 2
whale:
  enabled: true
  threshold: 5000
  high: 20000
  critical: 60000
spread:
  enabled: true
  window: 20s
  delay: 1s
  exchange_a: coinbase
  exchange_b: binance
  threshold_pct: 0.01
  high_pct: 0.02
`;
const CUSTOM_CONFIG: OracleConfig = {
  symbols: ['BTC-USDT', 'ETH-USDT', 'SOL-USDT'],
  futureClockToleranceMs: 60_000,
  lateFlagAfterMs: 2_000,
  inconsistencyTolerance: 0.00001,
  dedupHorizonMs: 3_600_000,
  volume: { windowMs: 120_000, delayMs: 5_000, historyMs: 1_200_000, minHistory: 4, zThreshold: 1.5, zHigh: 2 },
  whale: { threshold: 5_000, high: 20_000, critical: 60_000 },
  spread: { windowMs: 20_000, delayMs: 1_000, exchangeA: 'coinbase', exchangeB: 'binance', thresholdPct: 0.01, highPct: 0.02 },
};

/** Every difference between a run and the oracle; the test prints them all when any. */
function differences(run: Run, oracle: OracleResult): string[] {
  const rows = TABLES.flatMap((table) => tableDifferences(table, run.tables[table], oracle.tables[table] as unknown as Row[]));
  return [...summaryDifferences(run.summary, oracle, run.tables), ...rows, ...formProblems(run.tables)];
}

function expectSameAlertIds(a: Run, b: Run): void {
  const idsA = alertIds(a.tables.anomaly_alerts);
  const idsB = alertIds(b.tables.anomaly_alerts);
  const differing = [...idsA].filter(([key, id]) => idsB.get(key) !== id).map(([key]) => key);
  expect(differing).toEqual([]);
  expect(idsB.size).toBe(idsA.size);
}

async function generate(name: string, args: readonly string[]): Promise<string> {
  const tape = join(work, `${name}.jsonl`);
  const result = await coattail(['generate', '--out', tape, ...args]);
  expect(result.code, result.stderr).toBe(0);
  return tape;
}

beforeAll(() => {
  expect(existsSync(join(ROOT, 'dist', 'runtime', 'cli', 'main.js')), 'run `npm run build` first').toBe(true);
  work = mkdtempSync(join(tmpdir(), 'spec-oracle-'));
});

afterAll(() => {
  if (work !== '') rmSync(work, { recursive: true, force: true });
});

describe('jobs/all.ts against the spec oracle', () => {
  it('an adversarial tape: every quality rule and boundary, at -p 1 and -p 3 (JSON Lines) and -p 2 (Parquet)', async () => {
    const tape = join(work, 'adversarial.jsonl');
    writeFileSync(tape, adversarialTape());
    const oracle = oracleFor(tape);
    // The tape must exercise what it claims to (the oracle's own sanity).
    expect(oracle.counters.malformed).toBeGreaterThan(10);
    expect(oracle.counters.late_dropped.volume).toBeGreaterThan(3);
    expect(new Set(oracle.tables.anomaly_alerts.map((a) => `${a.alert_type}/${a.severity}`)).size).toBe(7);

    const p1 = await runAll(tape, 'adversarial', 1, 'jsonl');
    expect(differences(p1, oracle)).toEqual([]);
    const p3 = await runAll(tape, 'adversarial', 3, 'jsonl');
    expect(differences(p3, oracle)).toEqual([]);
    expectSameAlertIds(p1, p3);
    const parquet = await runAll(tape, 'adversarial', 2, 'parquet');
    expect(differences(parquet, oracle)).toEqual([]);
    expectSameAlertIds(p1, parquet);
  });

  it('a generated tape over 30 minutes of event time, at -p 1 and -p 3', async () => {
    const tape = await generate('gen-a', ['--events', '18000', '--seed', '11', '--rate', '10', '--bad-rate', '0.02']);
    const oracle = oracleFor(tape);
    expect(oracle.rows.volume_aggregates).toBeGreaterThan(100);
    const p1 = await runAll(tape, 'gen-a', 1, 'jsonl');
    expect(differences(p1, oracle)).toEqual([]);
    const p3 = await runAll(tape, 'gen-a', 3, 'jsonl');
    expect(differences(p3, oracle)).toEqual([]);
    expectSameAlertIds(p1, p3);
  });

  it('a generated tape with every setting changed (-c), at -p 2', async () => {
    const tape = await generate('gen-cfg', ['--events', '12000', '--seed', '5', '--rate', '8', '--bad-rate', '0.05']);
    const config = join(work, 'custom.yaml');
    writeFileSync(config, CUSTOM_YAML);
    const oracle = oracleFor(tape, CUSTOM_CONFIG);
    expect(oracle.counters.late_dropped.volume + oracle.counters.late_dropped.spread).toBeGreaterThan(0);
    expect(oracle.tables.anomaly_alerts.some((a) => a.alert_type === 'volume_spike')).toBe(true);
    const run = await runAll(tape, 'gen-cfg', 2, 'jsonl', ['-c', config]);
    expect(differences(run, oracle)).toEqual([]);
  });

  it('a generated tape with many bad records, at -p 3, with checkpoints every 100 ms', async () => {
    const tape = await generate('gen-b', ['--events', '20000', '--seed', '23', '--rate', '40', '--bad-rate', '0.2']);
    const oracle = oracleFor(tape);
    const checkpoints = ['--checkpoint-dir', join(work, 'gen-b-checkpoints'), '--checkpoint-interval', '100ms'];
    const run = await runAll(tape, 'gen-b', 3, 'jsonl', checkpoints);
    expect(differences(run, oracle)).toEqual([]);
  });

  it('trades at both ends of the years 0000-9999 with 7-minute and 70-second windows, as Parquet at -p 2', async () => {
    // 0000-01-01 is not a multiple of 7 minutes or 70 s after the epoch: its first windows start in the year -1,
    // and their rows belong in the partition date=-000001-12-31 (it was cut to date=-000001-12).
    const yearZero = -62_167_219_200_000;
    const lastHourOf9999 = 253_402_297_200_000;
    const lines: string[] = [];
    for (const [from, count] of [[yearZero, 400], [lastHourOf9999, 400]] as const) {
      for (let i = 0; i < count; i++) {
        const time = from + i * 9_000 + (i % 7) * 311;
        const timestamp = i % 2 === 0 ? time : JSON.stringify(new Date(time).toISOString());
        const exchange = ['binance', 'coinbase'][i % 2];
        const quantity = Math.floor(time / 420_000) % 9 === 4 ? 40 : 1 + (i % 3);
        lines.push(`{"event_id":"y${from}-${i}","exchange":"${exchange}","symbol":"BTC-USDT","price":${100 + (i % 2) * (i % 5) * 0.3},"quantity":${quantity},"side":"buy","timestamp":${timestamp}}`);
      }
    }
    const tape = join(work, 'year-ends.jsonl');
    writeFileSync(tape, lines.join('\n') + '\n');
    const config = join(work, 'odd-windows.yaml');
    writeFileSync(config, 'volume:\n  window: 7m\n  min_history: 3\nspread:\n  window: 70s\n');
    const oracle = oracleFor(tape, {
      ...DEFAULT_CONFIG,
      volume: { ...DEFAULT_CONFIG.volume, windowMs: 420_000, minHistory: 3 },
      spread: { ...DEFAULT_CONFIG.spread, windowMs: 70_000 },
    });
    expect(oracle.tables.volume_aggregates.some((row) => row.window_start < yearZero)).toBe(true);
    expect(oracle.tables.anomaly_alerts.some((a) => a.alert_type === 'volume_spike')).toBe(true);
    const run = await runAll(tape, 'year-ends', 2, 'parquet', ['-c', config]);
    expect(differences(run, oracle)).toEqual([]);
    expect(readdirSync(join(work, 'year-ends-p2-parquet', 'volume_aggregates'))).toContain('date=-000001-12-31');
  });

  it('a generated tape over 2.5 hours of event time (past the dedup memory), as Parquet at -p 2', async () => {
    const tape = await generate('gen-c', ['--events', '9000', '--seed', '7', '--rate', '1']);
    const oracle = oracleFor(tape);
    const run = await runAll(tape, 'gen-c', 2, 'parquet');
    expect(differences(run, oracle)).toEqual([]);
  });
});
