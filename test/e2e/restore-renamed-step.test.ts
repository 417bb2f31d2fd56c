// A restore into a job whose stateful step was renamed: refused with what to do about it, as Flink refuses it, and
// allowed with --allow-non-restored-state (Flink's --allowNonRestoredState), which drops that step's state.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { assertBuilt, REPO_ROOT, RUN_TIMEOUT, runCli } from './support/cli.js';

const JOB = path.join(REPO_ROOT, 'test', 'e2e', 'jobs', 'renamable-window.ts');

let workDir: string;
let tape: string;

beforeAll(async () => {
  assertBuilt();
  workDir = await mkdtemp(path.join(os.tmpdir(), 'coattail-e2e-renamed-step-'));
  tape = path.join(workDir, 'trades.jsonl');
  const lines = Array.from({ length: 200 }, (_, n) => JSON.stringify({ symbol: n % 2 === 0 ? 'BTC' : 'ETH', t: 1_700_000_000_000 + n * 500 }));
  await writeFile(tape, `${lines.join('\n')}\n`);
});

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

const args = (...extra: string[]) =>
  ['run', JOB, '-s', `file:${tape}`, '-o', path.join(workDir, 'out'), '-f', 'jsonl', '-p', '2', '-q', '--checkpoint-dir', path.join(workDir, 'checkpoints'), ...extra];

describe('--restore into a job with a renamed stateful step', { timeout: RUN_TIMEOUT }, () => {
  test('is refused in one line saying what to do, and goes ahead with --allow-non-restored-state, naming the dropped state', async () => {
    const first = await runCli(args());
    expect(first.code, first.stderr).toBe(0);

    const refused = await runCli(args('--restore', 'latest'), { WINDOW_STEP: 'count-v2' });
    expect(refused.code).not.toBe(0);
    const lines = refused.stderr.trimEnd().split('\n');
    expect(lines.at(-1)).toMatch(/^coattail: checkpoint \d+ does not match this job's operators: state for "count" has no step in this job/);
    expect(lines.at(-1)).toContain('give it its old name back, or drop that state with --allow-non-restored-state');

    const allowed = await runCli(args('--restore', 'latest', '--allow-non-restored-state'), { WINDOW_STEP: 'count-v2' });
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(allowed.stderr).toContain('holds state for "count", which this job has no step for: dropped (--allow-non-restored-state)');
    expect(allowed.stderr).toContain('no state in checkpoint');

    // Its own checkpoint no longer holds the dropped state: the renamed job restores it without the flag.
    const again = await runCli(args('--restore', 'latest'), { WINDOW_STEP: 'count-v2' });
    expect(again.code, again.stderr).toBe(0);
  });

  test('--allow-non-restored-state without --restore is refused in one line', async () => {
    const result = await runCli(['run', JOB, '-s', `file:${tape}`, '-o', path.join(workDir, 'other'), '-q', '--allow-non-restored-state']);
    expect(result.code).not.toBe(0);
    expect(result.stderr.trim()).toBe('coattail: --allow-non-restored-state applies to a --restore only');
  });
});
