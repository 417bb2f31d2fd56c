// The engine end to end through the CLI: results independent of parallelism, bounded memory under a slow sink,
// clean failures of user code, and one-line errors for bad invocations.

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import {
  JOBS,
  ensureBuilt,
  expectOneLineError,
  expectWindows,
  readSummary,
  readTable,
  runCli,
  sortRows,
  windowTape,
  type WindowRow,
  type WindowTrade,
} from './engine-cli-support.js';
import { JOB_WHALE } from './support/cli.js';
import type { SlowSinkStats } from './jobs/test-sinks.js';

const WINDOW_JOB = join(JOBS, 'window-count.ts');
const THROWING_JOB = join(JOBS, 'throwing.ts');
const SLOW_SINK_JOB = join(JOBS, 'slow-sink.ts');

let work: string;
beforeAll(() => ensureBuilt());
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'coattail-engine-e2e-'));
});
afterEach(() => {
  rmSync(work, { recursive: true, force: true });
});

/** A folder of its own per run, used as the working directory so default paths (./checkpoints) stay inside. */
function runFolder(name: string): string {
  const folder = join(work, name);
  mkdirSync(folder, { recursive: true });
  return folder;
}


describe('a keyed window job from the CLI', () => {
  it('gives the same windows, late records and counts at -p 1, 2 and 4, matching an independent computation', async () => {
    const lines = windowTape(60_000, 42);
    const tape = join(work, 'tape.jsonl');
    writeFileSync(tape, lines.join('\n') + '\n');
    const expected = expectWindows(lines);
    expect(expected.lateIds.length).toBeGreaterThan(1_000); // the tape really has late records
    expect(expected.bad).toBeGreaterThan(50);

    for (const parallelism of [1, 2, 4]) {
      const folder = runFolder(`p${parallelism}`);
      const out = join(folder, 'out');
      const result = await runCli(['run', WINDOW_JOB, '-s', `file:${tape}`, '-o', out, '-f', 'jsonl', '-p', String(parallelism), '-q'], { cwd: folder });
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const rows = sortRows(readTable<WindowRow>(out, 'windows'));
      expect(rows, `windows at -p ${parallelism}`).toEqual(expected.rows);
      expect(readTable<WindowTrade>(out, 'late').map((trade) => trade.id).sort()).toEqual(expected.lateIds);
      expect(readTable(out, 'bad')).toHaveLength(expected.bad);
      const summary = readSummary(out);
      expect(summary).toMatchObject({
        records_in: expected.recordsIn,
        late_dropped: expected.lateIds.length,
        parallelism,
        rows: { windows: expected.rows.length, late: expected.lateIds.length, bad: expected.bad },
      });
    }
  });

  it('reads a folder with more files than chunks in flight, each file a split', async () => {
    const folder = runFolder('many');
    const input = join(folder, 'input');
    mkdirSync(input);
    let total = 0;
    for (let file = 0; file < 12; file++) {
      const lines = windowTape(50, file).filter((line) => line.trim().startsWith('{"id":"e'));
      total += lines.length;
      writeFileSync(join(input, `part-${String(file).padStart(2, '0')}.jsonl`), lines.join('\n') + '\n');
    }
    const out = join(folder, 'out');
    const result = await runCli(['run', WINDOW_JOB, '-s', `file:${input}`, '-o', out, '-f', 'jsonl', '-p', '2', '--decode-threads', '1', '-q'], {
      cwd: folder,
      safetyNetMs: 60_000,
    });
    expect(result.timedOut).toBe(false);
    expect(result.code).toBe(0);
    const summary = readSummary(out);
    expect(summary.records_in).toBe(total);
    const counted = readTable<WindowRow>(out, 'windows').reduce((sum, row) => sum + row.count, 0);
    expect(counted + Number(summary.late_dropped ?? 0)).toBe(total);
  });
});

describe('backpressure', () => {
  /** Lines of about 1 KiB; returns the file size. */
  function writeTape(file: string, mebibytes: number): number {
    const pad = 'x'.repeat(1_000);
    const lines: string[] = [];
    for (let n = 0; lines.length * 1_020 < mebibytes * 1_048_576; n++) lines.push(JSON.stringify({ n, pad }));
    writeFileSync(file, lines.join('\n') + '\n');
    return statSync(file).size;
  }

  async function runSlowSink(name: string, mebibytes: number) {
    const folder = runFolder(name);
    const tape = join(folder, 'tape.jsonl');
    const bytes = writeTape(tape, mebibytes);
    const out = join(folder, 'out');
    const result = await runCli(['run', SLOW_SINK_JOB, '-s', `file:${tape}`, '-o', out, '-f', 'jsonl', '-p', '1', '--decode-threads', '1', '--no-checkpoints', '-q'], {
      cwd: folder,
      env: { COATTAIL_E2E_SINK_SLEEP_MS: '50' },
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const stats = JSON.parse(readFileSync(join(out, 'slow-stats-0.json'), 'utf8')) as SlowSinkStats;
    return { bytes, stats, summary: readSummary(out) };
  }

  it('keeps the data in flight bounded when the sink is far slower than the source', async () => {
    const short = await runSlowSink('short', 12);
    const long = await runSlowSink('long', 48);
    expect(long.stats.rows).toBe(long.summary.records_in);
    expect(long.stats.batches).toBeGreaterThan(40);
    // Without credits the decode pool races ahead and nearly the whole input waits for the sink (measured:
    // 45 of 48 MiB). With them, what waits is a few 1 MiB chunks (chunks in flight + credits) whatever the
    // input length: for the 4x longer input, still less than the whole short input.
    expect(short.stats.maxUndeliveredBytes).toBeGreaterThan(0);
    expect(long.stats.maxUndeliveredBytes).toBeGreaterThan(0);
    expect(long.stats.maxUndeliveredBytes).toBeLessThan(short.bytes);
    expect(long.stats.maxUndeliveredBytes).toBeLessThan(long.bytes / 4);
  });
});

describe('failures', () => {
  const tape = (lines: object[]) => {
    const file = join(work, 'orders.jsonl');
    const filler = Array.from({ length: 40_000 }, (_, i) => ({ id: `o${i}`, note: 'y'.repeat(60) }));
    writeFileSync(file, [...filler.slice(0, 20_000), ...lines, ...filler.slice(20_000)].map((line) => JSON.stringify(line)).join('\n') + '\n');
    return file;
  };

  it('fails cleanly when user code throws in a subtask: one line naming the step, non-zero exit, no stack', async () => {
    const input = tape([{ id: 'bad-order', explode: 'price' }]);
    const result = await runCli(['run', THROWING_JOB, '-s', `file:${input}`, '-o', join(work, 'out'), '-f', 'jsonl', '-p', '2', '--no-checkpoints', '-q'], { cwd: work });
    expectOneLineError(result, 'step "price" threw: cannot price order bad-order');
    expect(result.code).toBe(1);
  });

  it('fails cleanly when user code throws in the decode pool', async () => {
    const input = tape([{ id: 'bad-parse', explode: 'parse' }]);
    const result = await runCli(['run', THROWING_JOB, '-s', `file:${input}`, '-o', join(work, 'out'), '-f', 'jsonl', '-p', '2', '--no-checkpoints', '-q'], { cwd: work });
    expectOneLineError(result, 'step "parse" threw: cannot parse order bad-parse');
  });

  it('fails cleanly when user code throws in the decode pool while a checkpoint is in progress', async () => {
    // The sink takes 2 s to prepare each checkpoint, so with a 10 ms interval a checkpoint is due and in progress
    // when the failing chunk comes up. The coordinator used to loop on the rejected decode without yielding to
    // the event loop (the checkpoint could never finish) until the process ran out of memory.
    const file = join(work, 'long-orders.jsonl');
    const lines = Array.from({ length: 120_000 }, (_, i) => JSON.stringify(i === 100_000 ? { id: 'bad-parse', explode: 'parse' } : { id: `o${i}` }));
    writeFileSync(file, lines.join('\n') + '\n');
    const args = ['run', THROWING_JOB, '-s', `file:${file}`, '-o', join(work, 'out'), '-f', 'jsonl', '-p', '1', '-q'];
    const checkpointing = ['--checkpoint-dir', join(work, 'checkpoints'), '--checkpoint-interval', '10ms'];
    const result = await runCli([...args, ...checkpointing], { cwd: work, env: { COATTAIL_E2E_PRECOMMIT_MS: '2000' }, safetyNetMs: 60_000 });
    expectOneLineError(result, 'step "parse" threw: cannot parse order bad-parse');
  });

  it('prints the stack after the one-line message with --verbose', async () => {
    const input = tape([{ id: 'bad-order', explode: 'price' }]);
    const result = await runCli(['--verbose', 'run', THROWING_JOB, '-s', `file:${input}`, '-o', join(work, 'out'), '-f', 'jsonl', '-p', '2', '--no-checkpoints', '-q'], {
      cwd: work,
    });
    expect(result.timedOut).toBe(false);
    expect(result.code).toBe(1);
    const [first, ...rest] = result.stderr.trimEnd().split('\n');
    expect(first).toMatch(/^coattail: .*step "price" threw: cannot price order bad-order$/);
    expect(rest.some((line) => /^\s+at /.test(line))).toBe(true);
  });
});

describe('bad invocations', () => {
  let input: string;
  beforeEach(() => {
    input = join(work, 'one.jsonl');
    writeFileSync(input, '{"id":"a","symbol":"S","t":1,"qty":1}\n');
  });
  const run = (...args: string[]) => runCli(args, { cwd: work, safetyNetMs: 60_000 });

  it('rejects a bad flag value in one line', async () => {
    expectOneLineError(await run('run', WINDOW_JOB, '-s', `file:${input}`, '-p', '0'), '--parallelism must be a whole number >= 1, got "0"');
  });

  it('rejects an unknown flag in one line', async () => {
    expectOneLineError(await run('run', WINDOW_JOB, '--bogus'), "unknown option '--bogus'");
  });

  it('rejects a bad --format in one line', async () => {
    expectOneLineError(await run('run', WINDOW_JOB, '-s', `file:${input}`, '-f', 'csv'), '--format must be parquet or jsonl, got "csv"');
  });

  it('reports a missing input file in one line', async () => {
    const missing = join(work, 'missing.jsonl');
    expectOneLineError(await run('run', WINDOW_JOB, '-s', `file:${missing}`, '-o', join(work, 'out'), '--no-checkpoints'), `input file not found: ${missing}`);
  });

  it('reports an unknown source in one line', async () => {
    expectOneLineError(await run('run', WINDOW_JOB, '-s', 'kafka:trades', '-o', join(work, 'out'), '--no-checkpoints'), 'unknown source "kafka:trades"');
  });

  it.runIf(existsSync('/proc/self'))('reports an output folder it cannot create in one line, at once (no endless mkdir under /proc)', async () => {
    // The engine's own table sinks (the window test job's sink is a test helper).
    const result = await run('run', JOB_WHALE, '-s', `file:${input}`, '-o', '/proc/coattail-no-such/out', '-f', 'jsonl', '--no-checkpoints');
    expectOneLineError(result, '/proc/coattail-no-such/out', 'ENOENT');
  });

  it('reports a missing job file in one line', async () => {
    const missing = join(work, 'nope.ts');
    expectOneLineError(await run('run', missing, '-s', `file:${input}`, '-o', join(work, 'out'), '--no-checkpoints'), `job file not found: ${missing}`);
  });

  it('reports a job file that does not compile in one line', async () => {
    const broken = join(work, 'broken.ts');
    writeFileSync(broken, "import { defineJob } from 'coattail';\nexport default defineJob('broken', (env) => { env.source( });\n");
    expectOneLineError(await run('run', broken, '-s', `file:${input}`, '-o', join(work, 'out'), '--no-checkpoints'), `job file ${broken} does not compile`);
  });

  it('reports a job file without a job in one line', async () => {
    const notAJob = join(work, 'not-a-job.ts');
    writeFileSync(notAJob, 'export default 42;\n');
    expectOneLineError(await run('run', notAJob, '-s', `file:${input}`, '-o', join(work, 'out'), '--no-checkpoints'), 'must default-export defineJob(...)');
  });
});
