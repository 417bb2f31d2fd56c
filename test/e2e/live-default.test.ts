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

describe('the simulated live market', () => {
  it('shows a status line while running, and on SIGINT exits 0 with the summary and a savepoint', async () => {
    const folder = folders.make('run');
    const out = join(folder, 'out');
    const checkpoints = join(folder, 'checkpoints');
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'coattail.js'), 'run', jobFile('all'), '--speed', '50', '-o', out, '--checkpoint-dir', checkpoints], {
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
    try {
      // A status line that has seen records, so the stop below interrupts a run with data in flight.
      const sawStatus = await waitFor(() => stderr, (text) => STATUS_WITH_RECORDS.test(text), (listener) => listeners.push(listener), 120_000);
      expect(sawStatus, `no status line on stderr; stderr so far: ${stderr}`).toBe(true);
      expect(child.exitCode).toBeNull();

      child.kill('SIGINT');
      const safetyNet = new Promise<'hung'>((resolvePromise) => setTimeout(() => resolvePromise('hung'), 120_000).unref());
      const ended = await Promise.race([exited, safetyNet]);
      expect(ended, `the run did not stop after SIGINT; stderr: ${stderr}`).not.toBe('hung');
      expect(ended).toEqual({ code: 0, signal: null });
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }

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
});
