// `coattail run jobs/all.ts` with no source flag runs the simulated live market until Ctrl-C, then stops cleanly
// with a summary and a savepoint.

import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, jobFile, ROOT, temporaryFolders } from './detector-support.js';

const folders = temporaryFolders('coattail-live');
afterAll(() => folders.removeAll());
beforeAll(() => ensureBuilt());

/** `12s | 59,210 records | 11,840/s | ...`: the status line of a live run. */
const STATUS_WITH_RECORDS = /^\d+s \| [1-9][\d,]* records \| [\d,]+\/s/m;

/** Resolves when `matches` holds for the text so far, or with false after the safety net (never a timing claim). */
function waitFor(read: () => string, matches: (text: string) => boolean, onChange: (listener: () => void) => void, safetyNetMs: number): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const timer = setTimeout(() => resolvePromise(false), safetyNetMs);
    const check = () => {
      if (!matches(read())) return;
      clearTimeout(timer);
      resolvePromise(true);
    };
    onChange(check);
    check();
  });
}

interface LiveRun {
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** Resolves with how it ended, or 'hung' if it has not ended 120 s after `stop` (a safety net, never a timing claim). */
  readonly stopAfterStatus: (signals?: number) => Promise<{ code: number | null; signal: NodeJS.Signals | null } | 'hung'>;
  readonly kill: () => void;
}

/** Starts `coattail run jobs/all.ts` on the simulated market in `folder` with extra flags. */
function startLive(folder: string, flags: readonly string[]): LiveRun {
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'coattail.js'), 'run', jobFile('all'), ...flags], {
    cwd: folder,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const listeners: Array<() => void> = [];
  child.stdout.on('data', (data: Buffer) => {
    stdout += data.toString();
    for (const listener of listeners) listener();
  });
  child.stderr.on('data', (data: Buffer) => {
    stderr += data.toString();
    for (const listener of listeners) listener();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolvePromise) =>
    child.on('close', (code, signal) => resolvePromise({ code, signal })),
  );
  return {
    stdout: () => stdout,
    stderr: () => stderr,
    /** `signals`: how many SIGINTs to send, 20 ms apart (a parent such as npm forwards the terminal's own). */
    async stopAfterStatus(signals = 1) {
      // A status line that has seen records, so the stop below interrupts a run with data in flight.
      const sawStatus = await waitFor(() => stderr, (text) => STATUS_WITH_RECORDS.test(text), (listener) => listeners.push(listener), 120_000);
      expect(sawStatus, `no status line on stderr; stderr so far: ${stderr}`).toBe(true);
      expect(child.exitCode).toBeNull();
      child.kill('SIGINT');
      for (let i = 1; i < signals; i++) {
        await new Promise((resolvePromise) => setTimeout(resolvePromise, 20));
        child.kill('SIGINT');
      }
      const safetyNet = new Promise<'hung'>((resolvePromise) => setTimeout(() => resolvePromise('hung'), 120_000).unref());
      return Promise.race([exited, safetyNet]);
    },
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

describe('the simulated live market', () => {
  it('shows a status line while running, and on SIGINT exits 0 with the summary and a savepoint', async () => {
    const folder = folders.make('run');
    const out = join(folder, 'out');
    const checkpoints = join(folder, 'checkpoints');
    const run = startLive(folder, ['--speed', '50', '-o', out, '--checkpoint-dir', checkpoints]);
    try {
      const ended = await run.stopAfterStatus();
      expect(ended, `the run did not stop after SIGINT; stderr: ${run.stderr()}`).not.toBe('hung');
      expect(ended).toEqual({ code: 0, signal: null });
    } finally {
      run.kill();
    }
    const stdout = run.stdout();

    const summaryLine = stdout.split('\n').find((line) => line.startsWith('stopped coat-tail-all: '));
    expect(summaryLine, `stdout: ${stdout.slice(-2000)}`).toBeDefined();
    const printed = JSON.parse(summaryLine!.slice('stopped coat-tail-all: '.length)) as Record<string, unknown>;
    const savepoint = /^savepoint (chk-\d+) written to (.+); resume with --restore \1$/m.exec(stdout);
    expect(savepoint, `stdout: ${stdout.slice(-2000)}`).not.toBeNull();
    expect(savepoint![2]).toBe(checkpoints);
    expect(existsSync(join(checkpoints, savepoint![1]!))).toBe(true);

    const summary = JSON.parse(readFileSync(join(out, '_summary.json'), 'utf8')) as Record<string, number> & { stopped: boolean };
    expect(summary).toEqual(printed);
    expect(summary.stopped).toBe(true);
    expect(summary.records_in).toBeGreaterThan(0);
    expect(summary.passed + summary.malformed + summary.incomplete + summary.invalid + summary.duplicate).toBe(summary.records_in);
  }, 300_000);

  it('takes the savepoint when one Ctrl-C arrives as two SIGINTs a moment apart (npx forwards the terminal\'s own)', async () => {
    // A terminal's Ctrl-C reaches every process of its group: under `npx`, npm receives it too and passes it on,
    // so the engine gets two SIGINTs together. Only a later, separate one means "quit at once".
    const folder = folders.make('twice');
    const checkpoints = join(folder, 'checkpoints');
    const run = startLive(folder, ['--speed', '50', '-o', join(folder, 'out'), '--checkpoint-dir', checkpoints]);
    try {
      const ended = await run.stopAfterStatus(2);
      expect(ended, `stderr: ${run.stderr().slice(-500)}`).toEqual({ code: 0, signal: null });
    } finally {
      run.kill();
    }
    expect(run.stdout()).toMatch(/^stopped coat-tail-all: /m);
    const savepoint = /^savepoint (chk-\d+) written to /m.exec(run.stdout());
    expect(savepoint, `stdout: ${run.stdout().slice(-500)}`).not.toBeNull();
    expect(existsSync(join(checkpoints, savepoint![1]!))).toBe(true);
  }, 300_000);

  it('restored from its savepoint, the real-time market resumes at the wall clock (decisions §11)', async () => {
    // The restore used to start the tape at the wall clock and re-read it to the savepoint's position, so event
    // time ran ahead of the clock by as long as the first run had lasted, and the status line showed a time.
    const folder = folders.make('resume');
    const flags = ['-o', join(folder, 'out'), '--checkpoint-dir', join(folder, 'checkpoints')];
    const first = startLive(folder, flags);
    try {
      expect(await first.stopAfterStatus()).toEqual({ code: 0, signal: null });
    } finally {
      first.kill();
    }
    expect(first.stderr()).toMatch(/ \| watermark lag \d+\.\d+s/);
    const readBefore = (JSON.parse(readFileSync(join(folder, 'out', '_summary.json'), 'utf8')) as { records_in: number }).records_in;
    const restored = startLive(folder, [...flags, '--restore', 'latest']);
    try {
      expect(await restored.stopAfterStatus()).toEqual({ code: 0, signal: null });
    } finally {
      restored.kill();
    }
    expect(restored.stderr()).toMatch(/^coattail: restoring checkpoint \d+ /m);
    const status = restored.stderr().split('\n').find((line) => STATUS_WITH_RECORDS.test(line));
    expect(status, restored.stderr()).toMatch(/ \| watermark lag \d+\.\d+s/);
    // The record count goes on from the savepoint's, as the row counts beside it and records_in of _summary.json do.
    const shown = Number(/ \| ([\d,]+) records \|/.exec(status!)![1]!.replaceAll(',', ''));
    expect(shown).toBeGreaterThan(readBefore);
  }, 300_000);

  it('at the real-time pace, ends as soon as it has stopped, whatever the checkpoint interval', async () => {
    // The loop waits for input most of the time at this pace; the checkpoint timer it armed meanwhile (1 h here)
    // must not keep the process alive after the savepoint and summary.
    const folder = folders.make('paced');
    const run = startLive(folder, ['-o', join(folder, 'out'), '--checkpoint-dir', join(folder, 'checkpoints'), '--checkpoint-interval', '1h']);
    try {
      const ended = await run.stopAfterStatus();
      expect(ended, `the run did not end after SIGINT; stdout: ${run.stdout().slice(-500)}`).toEqual({ code: 0, signal: null });
      expect(run.stdout()).toMatch(/^savepoint chk-\d+ written to /m);
    } finally {
      run.kill();
    }
  }, 300_000);
});
