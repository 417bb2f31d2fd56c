// Duplicates far behind the newest event time: whether a copy of a forgotten id passes must depend on the input
// alone, not on where checkpoints closed the coordinator's dedupe segments.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { assertBuilt, JOB_ALL, RUN_TIMEOUT, runCliToEnd } from './support/cli.js';
import { readSummary, readTables, tableDifferences } from './support/tables.js';

const START = Date.UTC(2026, 0, 5, 0, 0, 0);
const HOUR = 3_600_000;
/** Three hours of trades, one every 400 ms. */
const TRADES = (3 * HOUR) / 400;
/** Trades whose id comes back 30 minutes of event time later, at the moment the newest event is 2 h 5 min past them. */
const PLANTED = 40;

function trade(id: string, time: number, price: number): string {
  return JSON.stringify({ event_id: id, exchange: 'binance', symbol: 'BTC-USDT', price, quantity: 1, side: 'buy', timestamp: new Date(time).toISOString() });
}

/**
 * In order, trade k at START + k * 400 ms. The copy of an early trade i (every 97th) follows the trade whose
 * time is 2 h 5 min after trade i, with trade i's time plus 30 minutes and a whale's price: within an hour of
 * its original (a duplicate if the id were still remembered), but two hours behind the newest event time, where
 * the coordinator has forgotten it (docs/decisions.md §4). So every copy passes, and each is a whale.
 */
function tape(): string {
  const copiesAfter = new Map<number, number>();
  for (let p = 0; p < PLANTED; p++) {
    const original = p * 97;
    copiesAfter.set(original + (2 * HOUR + 5 * 60_000) / 400, original);
  }
  const lines: string[] = [];
  for (let k = 0; k < TRADES; k++) {
    lines.push(trade(`t${k}`, START + k * 400, 60_000 + (k % 50)));
    const original = copiesAfter.get(k);
    if (original !== undefined) lines.push(trade(`t${original}`, START + original * 400 + 30 * 60_000, 150_000));
  }
  return lines.join('\n') + '\n';
}

let workDir: string;
let tapePath: string;

beforeAll(async () => {
  assertBuilt();
  workDir = await mkdtemp(path.join(os.tmpdir(), 'coattail-e2e-horizon-'));
  tapePath = path.join(workDir, 'tape.jsonl');
  await writeFile(tapePath, tape());
}, RUN_TIMEOUT);

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

async function run(name: string, parallelism: number, checkpoints: string[]): Promise<string> {
  const out = path.join(workDir, name);
  await runCliToEnd(['run', JOB_ALL, '-s', `file:${tapePath}`, '-o', out, '-f', 'jsonl', '-p', String(parallelism), '-q', ...checkpoints]);
  return out;
}

describe('duplicates behind the dedupe horizon', { timeout: RUN_TIMEOUT }, () => {
  test('pass in every run, with checkpoints closing segments every 10 ms or without checkpoints', async () => {
    const unchecked = await run('unchecked', 1, ['--no-checkpoints']);
    const summary = await readSummary(unchecked);
    expect(summary).toMatchObject({ records_in: TRADES + PLANTED, passed: TRADES + PLANTED, duplicate: 0 });
    const tables = await readTables(unchecked, 'jsonl');
    expect(tables.whale_trades).toHaveLength(PLANTED);
    for (const [index, parallelism] of [2, 3].entries()) {
      const checkpointed = await run(`checkpointed-${index}`, parallelism, ['--checkpoint-dir', path.join(workDir, `chk-${index}`), '--checkpoint-interval', '10ms']);
      expect(await readSummary(checkpointed)).toMatchObject({ records_in: TRADES + PLANTED, passed: TRADES + PLANTED, duplicate: 0 });
      const { whale_trades: whales } = await readTables(checkpointed, 'jsonl');
      expect(tableDifferences({ whale_trades: whales! }, { whale_trades: tables.whale_trades! })).toEqual({});
    }
  });
});

describe('duplicates in a folder of files from different days', { timeout: RUN_TIMEOUT }, () => {
  // Files are read at once. The dedupe memory used to forget ids by the newest event time of any file, so a file of a
  // later day made the file of an earlier day forget its own ids while it was still being read: its duplicates
  // passed (0 to 16 of 300 found, a different number each run). It now forgets by the slowest file still being read.
  test('are found in every file as in the file alone', async () => {
    const folder = path.join(workDir, 'days');
    const copies = 300;
    const dayFile = (day: number): string => {
      const lines: string[] = [];
      for (let k = 0; k < 30_000; k++) {
        const time = START + day * 24 * HOUR + k * 400;
        lines.push(trade(`d${day}-${k}`, time, 60_000 + (k % 50)));
        // A copy of the trade 50 lines back, every 100th line: 20 s of event time later, a duplicate.
        if (day === 0 && k % 100 === 99) lines.push(trade(`d${day}-${k - 50}`, time, 60_000));
      }
      return lines.join('\n') + '\n';
    };
    await mkdir(folder);
    await writeFile(path.join(folder, 'day-000.jsonl'), dayFile(0));
    await writeFile(path.join(folder, 'day-090.jsonl'), dayFile(90));
    const out = path.join(workDir, 'days-out');
    await runCliToEnd(['run', JOB_ALL, '-s', `file:${folder}`, '-o', out, '-f', 'jsonl', '-p', '2', '-q', '--no-checkpoints']);
    expect(await readSummary(out)).toMatchObject({ records_in: 60_000 + copies, passed: 60_000, duplicate: copies });
  });
});
