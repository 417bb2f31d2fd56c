// A user's own job files, run from a folder outside the repository as a user would: keyed state and timers,
// tumbling and sliding windows with late side outputs (plain JS), union before keyBy, an npm import, and the
// misuse a user hits, each one clear line on stderr. Expectations are worked out by hand from the tape below.

import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { JOBS, ROOT, ensureBuilt, expectOneLineError, readSummary, readTable, runCli, type CliResult } from './engine-cli-support.js';

/** Event time 0 of the tape: a multiple of 10 s and 20 s, but not of 30 s or 60 s (windows align to the epoch). */
const B = 1_700_000_000_000;
const at = (seconds: number) => B + seconds * 1_000;

/** [id, user, kind, amount, seconds after B]: out of order, with late events and two bad lines. */
const TAPE: Array<readonly [string, string, 'view' | 'buy', number, number] | string> = [
  ['e1', 'alice', 'view', 0, 1],
  ['e2', 'bob', 'view', 0, 2],
  ['e3', 'alice', 'buy', 10, 4],
  ['e4', 'carol', 'view', 0, 3],
  ['e5', 'bob', 'buy', 5, 9],
  ['e6', 'alice', 'view', 0, 12],
  ['e7', 'bob', 'buy', 7, 11],
  'not json',
  ['e8', 'carol', 'buy', 20, 15],
  ['e9', 'alice', 'buy', 3, 26],
  ['e10', 'bob', 'view', 0, 8], // 18 s behind the newest (26): late for 5 s delay windows ending by 20
  ['e11', 'carol', 'view', 0, 31],
  ['e12', 'alice', 'buy', 4, 29],
  ['e13', 'bob', 'buy', 6, 45],
  ['e14', 'alice', 'view', 0, 19], // 26 s behind (45): late everywhere
  ['e15', 'carol', 'buy', 8, 47],
  '{"id":"e16","user":"dave"}',
  ['e17', 'dave', 'buy', 100, 70],
  ['e18', 'alice', 'buy', 1, 71],
];

let work: string;
let jobs: string;
let tape: string;

beforeAll(() => {
  ensureBuilt();
  work = mkdtempSync(join(tmpdir(), 'coattail-user-jobs-'));
  // The job files live outside the repository, as a user's would.
  jobs = join(work, 'my-jobs');
  cpSync(join(JOBS, 'user'), jobs, { recursive: true });
  tape = join(work, 'events.jsonl');
  const lines = TAPE.map((row) => (typeof row === 'string' ? row : JSON.stringify({ id: row[0], user: row[1], kind: row[2], amount: row[3], t: at(row[4]) })));
  writeFileSync(tape, lines.join('\n') + '\n');
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

async function runJob(job: string, parallelism: number, ...extra: string[]): Promise<{ out: string; result: CliResult }> {
  const out = join(work, 'out', `${job.replace(/\W/g, '-')}-p${parallelism}-${extra.length}`);
  const result = await runCli(['run', join(jobs, job), '-s', `file:${tape}`, '-o', out, '-f', 'jsonl', '-p', String(parallelism), '-q', '--no-checkpoints', ...extra], {
    cwd: work,
  });
  expect(result.timedOut).toBe(false);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return { out, result };
}

/** Rows as sorted JSON texts, so sets compare regardless of subtask and order. */
function rowsOf(out: string, table: string): string[] {
  return readTable<Record<string, unknown>>(out, table)
    .map((row) => JSON.stringify(row))
    .sort();
}
const sorted = (rows: object[]) => rows.map((row) => JSON.stringify(row)).sort();

describe('a keyed-state job with event-time and processing-time timers', () => {
  // Watermark before a record = newest event time before it. A session's timer is due at last + 10 s;
  // e.g. alice's e9 (26 s) arrives at watermark 15 < 22, so it extends the session begun at 1 s.
  const session = (user: string, start: number, end: number, events: number, views: number, buys: number, amounts: string) => ({
    user,
    start: at(start),
    end: at(end),
    events,
    views,
    buys,
    amounts,
  });
  const expected = sorted([
    session('alice', 1, 39, 5, 2, 3, '10,3,4'),
    session('alice', 19, 29, 1, 1, 0, ''),
    session('alice', 71, 81, 1, 0, 1, '1'),
    session('bob', 2, 21, 3, 1, 2, '5,7'),
    session('bob', 8, 18, 1, 1, 0, ''),
    session('bob', 45, 55, 1, 0, 1, '6'),
    session('carol', 3, 25, 2, 1, 1, '20'),
    session('carol', 31, 41, 1, 1, 0, ''),
    session('carol', 47, 57, 1, 0, 1, '8'),
    session('dave', 70, 80, 1, 0, 1, '100'),
  ]);

  for (const parallelism of [1, 3]) {
    it(`closes the same sessions at -p ${parallelism}; timers still pending at the end fire (event time) or are dropped (processing time)`, async () => {
      const { out } = await runJob('sessions.ts', parallelism);
      expect(rowsOf(out, 'sessions')).toEqual(expected);
      expect(readSummary(out)).toMatchObject({ records_in: TAPE.length, rows: { sessions: 10 }, wall_clock_timers: 0 });
    });
  }
});

describe('processing-time timers in a bounded run', () => {
  // Each user's first event registers a timer already due and one ten minutes ahead. The input ends long before
  // the next processing-time tick can come round, so only the end of input can fire the due ones.
  for (const parallelism of [1, 2]) {
    it(`fires every timer already due by the end of the input, and none not yet due, at -p ${parallelism}`, async () => {
      const { out } = await runJob('due-timers.ts', parallelism);
      expect(readSummary(out)).toMatchObject({ due_timers: 4, far_timers: 0 });
    });
  }
});

describe('a plain-JS window job: tumbling, sliding, reduce, late side outputs', () => {
  const window = (user: string, start: number, count: number, amount: number) => ({ user, start: at(start), end: at(start + 10), count, amount });
  const slide = (user: string, start: number, ids: string) => ({ user, start: at(start), end: at(start + 20), ids });
  const max = (kind: string, start: number, id: string) => ({ kind, start: at(start), id });
  // Late (5 s delay): e10 at 8 s after newest 26 (watermark 21 >= 10 and >= 20); e14 at 19 s after 45 (40 >= 30).
  const tumbling = sorted([
    window('alice', 0, 2, 10),
    window('alice', 10, 1, 0),
    window('alice', 20, 2, 7),
    window('alice', 70, 1, 1),
    window('bob', 0, 2, 5),
    window('bob', 10, 1, 7),
    window('bob', 40, 1, 6),
    window('carol', 0, 1, 0),
    window('carol', 10, 1, 20),
    window('carol', 30, 1, 0),
    window('carol', 40, 1, 8),
    window('dave', 70, 1, 100),
  ]);
  const sliding = sorted([
    slide('alice', -10, 'e1 e3'),
    slide('alice', 0, 'e1 e3 e6'),
    slide('alice', 10, 'e6 e9 e12'),
    slide('alice', 20, 'e9 e12'),
    slide('alice', 60, 'e18'),
    slide('alice', 70, 'e18'),
    slide('bob', -10, 'e2 e5'),
    slide('bob', 0, 'e2 e5 e7'),
    slide('bob', 10, 'e7'),
    slide('bob', 30, 'e13'),
    slide('bob', 40, 'e13'),
    slide('carol', -10, 'e4'),
    slide('carol', 0, 'e4 e8'),
    slide('carol', 10, 'e8'),
    slide('carol', 20, 'e11'),
    slide('carol', 30, 'e11 e15'),
    slide('carol', 40, 'e15'),
    slide('dave', 60, 'e17'),
    slide('dave', 70, 'e17'),
  ]);
  // 30 s windows start at B - 20 s, B + 10 s, ...; ties keep the first in source order.
  const maxima = sorted([max('view', -20, 'e1'), max('view', 10, 'e6'), max('buy', -20, 'e3'), max('buy', 10, 'e8'), max('buy', 40, 'e15'), max('buy', 70, 'e17')]);

  for (const parallelism of [1, 3]) {
    it(`gives the same windows and late records at -p ${parallelism}`, async () => {
      const { out } = await runJob('windows.js', parallelism);
      expect(rowsOf(out, 'tumbling')).toEqual(tumbling);
      expect(rowsOf(out, 'sliding')).toEqual(sliding);
      expect(rowsOf(out, 'max_amount')).toEqual(maxima);
      expect(rowsOf(out, 'late_tumbling')).toEqual(sorted([{ id: 'e10' }, { id: 'e14' }]));
      expect(rowsOf(out, 'late_sliding')).toEqual(sorted([{ id: 'e10' }, { id: 'e14' }]));
      expect(readSummary(out)).toMatchObject({ late: { tumbling: 2, sliding: 2 } });
    });
  }
});

describe('session windows in a TypeScript job', () => {
  const activity = (user: string, start: number, end: number, count: number, amount: number, ids: string) => ({
    user,
    start: at(start),
    end: at(end),
    count,
    amount,
    ids,
  });
  // Watermark before a record = newest event time before it, less the 5 s delay; a session [first, last + 10 s)
  // fires when that reaches its end. e3 and e6 extend alice's session of e1; e9 (26 s) starts a new one, since
  // [1, 22) ended before; e10 (8 s) comes once bob's [2, 21) fired at 26 - 5 = 21 and starts no session of its
  // own ([8, 18) ended too): late, as is e14.
  const expected = sorted([
    activity('alice', 1, 22, 3, 10, 'e1 e3 e6'),
    activity('alice', 26, 39, 2, 7, 'e9 e12'),
    activity('alice', 71, 81, 1, 1, 'e18'),
    activity('bob', 2, 21, 3, 12, 'e2 e5 e7'),
    activity('bob', 45, 55, 1, 6, 'e13'),
    activity('carol', 3, 13, 1, 0, 'e4'),
    activity('carol', 15, 25, 1, 20, 'e8'),
    activity('carol', 31, 41, 1, 0, 'e11'),
    activity('carol', 47, 57, 1, 8, 'e15'),
    activity('dave', 70, 80, 1, 100, 'e17'),
  ]);

  for (const parallelism of [1, 3]) {
    it(`merges and closes the same sessions at -p ${parallelism}`, async () => {
      const { out } = await runJob('session-windows.ts', parallelism);
      expect(rowsOf(out, 'sessions')).toEqual(expected);
      expect(rowsOf(out, 'late_sessions')).toEqual(sorted([{ id: 'e10' }, { id: 'e14' }]));
      expect(readSummary(out)).toMatchObject({ late: { session: 2 } });
    });
  }
});

describe('a keyBy by the same key after a window (plain JS)', () => {
  // The 10 s totals of the windows test above, in window order per user, each against the one before.
  const change = (user: string, start: number, windows: number, delta: number) => ({ user, start: at(start), windows, change: delta });
  const expected = sorted([
    change('alice', 0, 1, 10),
    change('alice', 10, 2, -10),
    change('alice', 20, 3, 7),
    change('alice', 70, 4, -6),
    change('bob', 0, 1, 5),
    change('bob', 10, 2, 2),
    change('bob', 40, 3, -1),
    change('carol', 0, 1, 0),
    change('carol', 10, 2, 20),
    change('carol', 30, 3, -20),
    change('carol', 40, 4, 8),
    change('dave', 70, 1, 100),
  ]);

  for (const parallelism of [1, 3]) {
    it(`keeps each user's windows in one keyed step, in order, at -p ${parallelism}`, async () => {
      const { out } = await runJob('rekey.js', parallelism);
      expect(rowsOf(out, 'changes')).toEqual(expected);
    });
  }
});

describe('union of two branches, then keyBy', () => {
  it('is planned where records are parsed and counts the same at -p 1 and -p 3', async () => {
    // Views and buys over 4; 60 s windows start at B - 20 s and B + 40 s; alice's e14 is late.
    const count = (user: string, start: number, n: number) => ({ user, start: at(start), n });
    const expected = sorted([count('alice', -20, 3), count('bob', -20, 4), count('bob', 40, 1), count('carol', -20, 3), count('carol', 40, 1), count('dave', 40, 1)]);
    for (const parallelism of [1, 3]) {
      const { out } = await runJob('union-keyed.ts', parallelism);
      expect(rowsOf(out, 'counts'), `-p ${parallelism}`).toEqual(expected);
    }
  });
});

describe('a job outside the repository importing an npm package', () => {
  it('finds the packages coattail depends on (zod) without a node_modules of its own', async () => {
    const { out } = await runJob('zod-validate.ts', 2);
    expect(rowsOf(out, 'invalid')).toEqual(sorted([{ issue: 'json' }, { issue: 'kind' }]));
    expect(readTable(out, 'valid')).toHaveLength(17);
  });
});

describe('the types a TypeScript user writes against', () => {
  it('accept the user jobs as written (interface rows into tableSink included)', () => {
    const files = ['sessions.ts', 'session-windows.ts', 'union-keyed.ts', 'zod-validate.ts', 'events.ts'].map((file) => join(JOBS, 'user', file));
    const program = ts.createProgram(files, {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: ['node'],
      baseUrl: ROOT,
      paths: { coattail: ['dist/runtime/index.d.ts'] },
    });
    const problems = ts.getPreEmitDiagnostics(program).map((diagnostic) => ts.flattenDiagnosticMessageText(diagnostic.messageText, ' '));
    expect(problems).toEqual([]);
  });
});

describe('misuse: one clear line on stderr, non-zero exit, nothing hung', () => {
  let numbers: string;
  beforeAll(() => {
    numbers = join(work, 'numbers.jsonl');
    const lines = Array.from({ length: 3_000 }, (_, n) => JSON.stringify({ n, ...(n === 1_500 ? {} : { when: new Date(B + n * 10).toISOString() }) }));
    writeFileSync(numbers, lines.join('\n') + '\n');
  });

  async function expectFailure(job: string, ...fragments: string[]): Promise<void> {
    const result = await runCli(['run', join(jobs, 'misuse', job), '-s', `file:${numbers}`, '-o', join(work, 'misuse-out'), '-f', 'jsonl', '-p', '2', '-q', '--no-checkpoints'], {
      cwd: work,
      safetyNetMs: 60_000,
    });
    expectOneLineError(result, ...fragments);
  }

  it('a keyBy selector returning a number', () => expectFailure('key-number.js', 'step "by-n" threw: its key selector returned number', 'not a string'));
  it('a sink of its own that throws on write names the sink step', () => expectFailure('sink-throws.ts', 'step "failing-sink" threw: disk full'));
  it("an exception in the job's build code says it came from build()", () =>
    expectFailure('build-throws.ts', 'job misuse-build-throws: build() threw: THRESHOLD is not set'));
  it('keyed state on a stream that was never keyed', () => expectFailure('unkeyed-state.js', 'step "counter" uses keyed state', 'keyBy(...)'));
  it('a timestamp extractor returning NaN', () => expectFailure('timestamp-nan.ts', 'step "event-time" threw: its timestamp function returned NaN'));
  it('a keyBy selector that throws names the keyBy step', () =>
    expectFailure('key-selector-throws.js', 'step "by-second" threw: Cannot read properties of undefined'));
  it('a timestamp function that throws names the withWatermarks step', () =>
    expectFailure('timestamp-throws.ts', 'step "event-time" threw: record 1500 has no time'));
  it("a stateless step whose open() throws names the step", () => expectFailure('open-throws.js', 'step "enrich" threw: lookup table missing'));
  it('an async filter (its Promise would keep every record)', () =>
    expectFailure('async-filter.js', 'step "even" threw: its filter function returned a Promise', 'must be synchronous'));
  it('an async keyed processElement (its state update would land under another key)', () =>
    expectFailure('async-process.ts', 'step "running-total" threw: processElement returned a Promise', 'must be synchronous'));
  it('a function kept in keyed state fails the first checkpoint naming the step', async () => {
    const result = await runCli(
      ['run', join(jobs, 'misuse', 'state-function.js'), '-s', `file:${numbers}`, '-o', join(work, 'misuse-state-out'), '-f', 'jsonl', '-p', '2', '-q',
        '--checkpoint-dir', join(work, 'misuse-state-checkpoints')],
      { cwd: work, safetyNetMs: 60_000 },
    );
    expectOneLineError(result, 'step "remember" keeps state a checkpoint cannot store', 'could not be cloned', 'keep plain data in state');
  });
  it('an import that does not resolve, with the absolute path of the importing file', () =>
    expectFailure('missing-import.ts', 'does not compile: Could not resolve "./helpers/not-there.js"', `(${join(jobs, 'misuse', 'missing-import.ts')}:3)`));
});

// The tape is read back by the windows tests above; keep its shape honest.
it('the tape has the bad lines the expectations assume', () => {
  const lines = readFileSync(tape, 'utf8').trimEnd().split('\n');
  expect(lines).toHaveLength(19);
  expect(lines.filter((line) => !line.includes('"t":'))).toHaveLength(2);
});
