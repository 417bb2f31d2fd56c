// A job with a second keyBy through the CLI's worker threads (docs/decisions.md §35): the second stage's rows agree
// with the first stage's, every parallelism writes the same tables, and runs killed with kill -9 while
// checkpointing at 200 ms and restored at other parallelisms end with exactly the uninterrupted run's tables.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { assertBuilt, generateTape, REPO_ROOT, RUN_TIMEOUT, runCliToEnd } from './support/cli.js';
import { PACED_SPEED, pacedSource, stopRunAt, type RunPlace } from './support/checkpointed-run.js';

const JOB = path.join(REPO_ROOT, 'test', 'e2e', 'jobs', 'two-stage.ts');
const THREE_STAGES = path.join(REPO_ROOT, 'test', 'e2e', 'jobs', 'three-stage.ts');
const TABLES = ['pairs', 'symbols', 'starts'] as const;
type Tables = Record<(typeof TABLES)[number], Array<Record<string, number | string>>>;

let workDir: string;
let tape: string;

beforeAll(async () => {
  assertBuilt();
  workDir = await mkdtemp(path.join(os.tmpdir(), 'coattail-e2e-shuffle-'));
  tape = path.join(workDir, 'tape.jsonl');
  await generateTape(tape, 40_000, 11);
}, RUN_TIMEOUT);

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

/** Committed rows of every table (part files whose names do not start with `.` or `_`). */
async function readOutput(outDir: string): Promise<Tables> {
  const tables = {} as Tables;
  for (const table of TABLES) {
    const folder = path.join(outDir, table);
    const files = (await readdir(folder, { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile() && !/^[._]/.test(entry.name));
    const rows: Array<Record<string, number | string>> = [];
    for (const file of files) {
      for (const line of (await readFile(path.join(file.parentPath, file.name), 'utf8')).split('\n')) if (line) rows.push(JSON.parse(line));
    }
    tables[table] = rows;
  }
  return tables;
}

/**
 * Rows as sorted text. Volumes to 10 significant digits: window sums are pre-aggregated per chunk, and a paced
 * source cuts its chunks by time, so sums of the same trades differ in their last digits (decisions §29b).
 */
const canonical = (tables: Tables) =>
  Object.fromEntries(
    TABLES.map((table) => [
      table,
      tables[table]
        .map((row) => JSON.stringify({ ...row, ...(typeof row.volume === 'number' ? { volume: row.volume.toPrecision(10) } : {}) }, Object.keys(row).sort()))
        .sort(),
    ]),
  );

async function runToEnd(source: string, outDir: string, parallelism: number, extra: readonly string[] = [], job = JOB): Promise<Tables> {
  await runCliToEnd(['run', job, '-s', source, '-o', outDir, '-f', 'jsonl', '-p', String(parallelism), '-q', '--no-checkpoints', ...extra]);
  return readOutput(outDir);
}

describe('a second keyBy: two stages of subtasks', () => {
  it('gives rows that agree across the stages, the same at -p 1, 2 and 3', async () => {
    const single = await runToEnd(`file:${tape}`, path.join(workDir, 'p1'), 1);
    // Independent of the engine's second stage: the first stage's rows summed here.
    const bySymbol = new Map<string, { trades: number; exchanges: number }>();
    const byStart = new Map<number, { pairs: number; trades: number }>();
    for (const row of single.pairs) {
      const symbolKey = `${row.symbol}@${row.start}`;
      const symbol = bySymbol.get(symbolKey) ?? { trades: 0, exchanges: 0 };
      bySymbol.set(symbolKey, { trades: symbol.trades + Number(row.trades), exchanges: symbol.exchanges + 1 });
      const start = byStart.get(Number(row.start)) ?? { pairs: 0, trades: 0 };
      byStart.set(Number(row.start), { pairs: start.pairs + 1, trades: start.trades + Number(row.trades) });
    }
    expect(single.pairs.length).toBeGreaterThan(100);
    expect(new Set(single.starts.map((row) => row.start)).size).toBeGreaterThan(10);
    expect(Object.fromEntries(single.symbols.map((row) => [`${row.symbol}@${row.start}`, { trades: row.trades, exchanges: row.exchanges }]))).toEqual(
      Object.fromEntries(bySymbol),
    );
    expect(Object.fromEntries(single.starts.map((row) => [String(row.start), { pairs: row.pairs, trades: row.trades }]))).toEqual(
      Object.fromEntries([...byStart].map(([start, count]) => [String(start), count])),
    );
    for (const parallelism of [2, 3]) {
      expect(canonical(await runToEnd(`file:${tape}`, path.join(workDir, `p${parallelism}`), parallelism)), `-p ${parallelism}`).toEqual(canonical(single));
    }
  }, RUN_TIMEOUT);

  it('restores after kill -9 and after Ctrl-C (a savepoint) at other parallelisms to exactly the uninterrupted tables', async () => {
    const source = pacedSource(21);
    const expected = canonical(await runToEnd(source, path.join(workDir, 'paced-reference'), 2, PACED_SPEED));
    const place: RunPlace = { tape: '', source, outDir: path.join(workDir, 'killed-out'), checkpointDir: path.join(workDir, 'killed-checkpoints'), format: 'jsonl' };
    const args = (parallelism: number, restore: boolean) => [
      'run', JOB, '-s', source, '-o', place.outDir, '-f', 'jsonl', '-p', String(parallelism), '-q',
      '--checkpoint-dir', place.checkpointDir, '--checkpoint-interval', '200ms', ...PACED_SPEED, ...(restore ? ['--restore', 'latest'] : []),
    ];
    await stopRunAt(place, args(2, false), { afterCheckpoints: 2, delayMs: 70 });
    const stopped = await stopRunAt(place, args(3, true), { afterCheckpoints: 3, delayMs: 130 }, 'SIGINT');
    expect(stopped.code, stopped.stderr).toBe(0);
    await runCliToEnd(args(1, true));
    expect(canonical(await readOutput(place.outDir))).toEqual(expected);
  }, RUN_TIMEOUT);

  it('runs three stages (a window by symbol, then a keyed process by window start) the same at -p 1 and 3, each stage adding up the one before', async () => {
    const single = await runToEnd(`file:${tape}`, path.join(workDir, 'three-p1'), 1, [], THREE_STAGES);
    const sum = (rows: Array<Record<string, number | string>>, key: (row: Record<string, number | string>) => string) => {
      const totals = new Map<string, number>();
      for (const row of rows) totals.set(key(row), (totals.get(key(row)) ?? 0) + Number(row.trades));
      return Object.fromEntries([...totals].sort());
    };
    expect(single.starts.length).toBeGreaterThan(10);
    expect(sum(single.symbols, (row) => `${row.symbol}@${row.start}`)).toEqual(sum(single.pairs, (row) => `${row.symbol}@${row.start}`));
    expect(sum(single.starts, (row) => String(row.start))).toEqual(sum(single.symbols, (row) => String(row.start)));
    expect(canonical(await runToEnd(`file:${tape}`, path.join(workDir, 'three-p3'), 3, [], THREE_STAGES))).toEqual(canonical(single));
  }, RUN_TIMEOUT);
});
