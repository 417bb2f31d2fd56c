// A second keyBy (docs/decisions.md §35) under stress through the CLI: failures of user code in the second stage
// end the run with one line naming the step; a second stage far slower than the first (or fed 50x what the first
// receives) keeps the data in flight bounded; a finished first stage's processing-time timers fire no more.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { JOBS, ensureBuilt, expectOneLineError, readSummary, runCli } from './engine-cli-support.js';
import type { SlowSinkStats } from './jobs/test-sinks.js';

const THROWING_JOB = join(JOBS, 'second-stage-throwing.ts');
const SLOW_JOB = join(JOBS, 'second-stage-slow.ts');
const PROCESSING_TIME_JOB = join(JOBS, 'second-stage-processing-time.ts');

let work: string;
beforeAll(() => ensureBuilt());
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'coattail-shuffle-stress-'));
});
afterEach(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('a failure in the second stage', () => {
  /** 40,000 orders with the one marked `explode` in the middle. */
  const tape = (explode: string) => {
    const file = join(work, `${explode}.jsonl`);
    const lines = Array.from({ length: 40_000 }, (_, i) => (i === 20_000 ? { id: 'bad-order', explode } : { id: `o${i}`, note: 'y'.repeat(60) }));
    writeFileSync(file, lines.map((line) => JSON.stringify(line)).join('\n') + '\n');
    return file;
  };
  const cases = [
    ['selector', 'step "by-group" threw: cannot group order bad-order'],
    ['not-a-string', 'step "by-group" threw: its key selector returned number 9, not a string'],
    ['total', 'step "total" threw: cannot total order bad-order'],
    ['sink', 'step "explodes" threw: cannot write order bad-order'],
  ] as const;

  for (const [explode, message] of cases) {
    it(`ends the run with one line naming the step when ${explode === 'sink' ? 'the sink' : explode === 'total' ? 'the keyed process' : 'the second key selector'} fails (${explode}), checkpointing or not`, async () => {
      const input = tape(explode);
      for (const [parallelism, checkpoints] of [[1, ['--no-checkpoints']], [3, ['--checkpoint-dir', join(work, `chk-${explode}`), '--checkpoint-interval', '10ms']]] as const) {
        const result = await runCli(['run', THROWING_JOB, '-s', `file:${input}`, '-o', join(work, `out-${explode}-${parallelism}`), '-f', 'jsonl', '-p', String(parallelism), '-q', ...checkpoints], {
          cwd: work,
          safetyNetMs: 60_000,
        });
        expectOneLineError(result, message);
        expect(result.code).toBe(1);
      }
    });
  }
});

describe('backpressure through a second stage', () => {
  /** Lines of about 1 KiB; returns the file size. */
  function writeTape(file: string, mebibytes: number): number {
    const pad = 'x'.repeat(1_000);
    const lines: string[] = [];
    for (let n = 0; lines.length * 1_020 < mebibytes * 1_048_576; n++) lines.push(JSON.stringify({ n, pad }));
    writeFileSync(file, lines.join('\n') + '\n');
    return statSync(file).size;
  }

  async function runSlow(name: string, mebibytes: number, fanOut: number) {
    const folder = join(work, name);
    mkdirSync(folder);
    const tape = join(folder, 'tape.jsonl');
    const bytes = writeTape(tape, mebibytes);
    const out = join(folder, 'out');
    const result = await runCli(['run', SLOW_JOB, '-s', `file:${tape}`, '-o', out, '-f', 'jsonl', '-p', '2', '--decode-threads', '1', '--no-checkpoints', '-q'], {
      cwd: folder,
      env: { COATTAIL_E2E_SINK_SLEEP_MS: '50', COATTAIL_E2E_FANOUT: String(fanOut) },
    });
    expect(result.code, result.stderr).toBe(0);
    const stats = readdirSync(out)
      .filter((file) => file.startsWith('slow-stats-'))
      .map((file) => JSON.parse(readFileSync(join(out, file), 'utf8')) as SlowSinkStats);
    const summary = readSummary(out) as { records_in: number; rows: { slow: number } };
    return {
      bytes,
      summary,
      rows: stats.reduce((sum, s) => sum + s.rows, 0),
      maxUndeliveredBytes: Math.max(...stats.map((s) => s.maxUndeliveredBytes)),
      maxRssBytes: Math.max(...stats.map((s) => s.maxRssBytes)),
    };
  }

  for (const fanOut of [1, 50]) {
    it(`keeps the data in flight and the memory bounded when the second stage's sink is far slower${fanOut > 1 ? `, fed ${fanOut}x what the first stage receives` : ''}`, async () => {
      const short = await runSlow('short', 12, fanOut);
      const long = await runSlow('long', 48, fanOut);
      expect(long.rows).toBe(long.summary.records_in * fanOut);
      expect(long.summary.rows.slow).toBe(long.rows);
      // Measured: about 8 MiB in flight for either input (a few 1 MiB chunks per subtask, held until the second
      // stage has processed what they produced), RSS 111 / 119 MiB (fan-out 50: 185 / 193 MiB).
      expect(long.maxUndeliveredBytes).toBeGreaterThan(0);
      expect(long.maxUndeliveredBytes).toBeLessThan(short.bytes);
      expect(long.maxUndeliveredBytes).toBeLessThan(long.bytes / 4);
      expect(long.maxRssBytes).toBeLessThan(short.maxRssBytes + 64 * 1_048_576);
    });
  }
});

describe('processing-time timers in the first of two stages', () => {
  it('fire no more once that stage has finished: no row after a sink finished, every row of the first stage reaches the second', async () => {
    const tape = join(work, 'orders.jsonl');
    writeFileSync(tape, Array.from({ length: 200_000 }, (_, i) => JSON.stringify({ id: `o${i}` })).join('\n') + '\n');
    const out = join(work, 'out');
    // Subtask 0's first-stage sink takes 1.5 s to finish; meanwhile the others have finished their first stage and
    // their timers (300 ms after each record) come due. They used to fire: rows written into finished sinks and
    // sent into second stages that had already ended (rows past the summary's counts).
    const result = await runCli(['run', PROCESSING_TIME_JOB, '-s', `file:${tape}`, '-o', out, '-f', 'jsonl', '-p', '3', '--no-checkpoints', '-q'], { cwd: work });
    expect(result.code, result.stderr).toBe(0);
    const rows = (table: string) =>
      readdirSync(join(out, table)).flatMap((file) =>
        readFileSync(join(out, table, file), 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.parse(line) as { row: { key: string; at: number }; afterFinish: boolean }),
      );
    const first = rows('first');
    const second = rows('second');
    expect(first.filter((line) => line.afterFinish)).toHaveLength(0);
    expect(second.filter((line) => line.afterFinish)).toHaveLength(0);
    expect(second.map((line) => JSON.stringify(line.row)).sort()).toEqual(first.map((line) => JSON.stringify(line.row)).sort());
    const summary = readSummary(out) as { rows: { first: number; second: number } };
    expect(summary.rows).toEqual({ first: first.length, second: second.length });
  });
});
