// The job example of README.md ("A job file"), copied as a user copies it into a file of their own, runs as
// written on a tape of `coattail generate` (bad lines, ISO and epoch-millisecond times) and counts every trade.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { assertBuilt, generateTape, REPO_ROOT, RUN_TIMEOUT, runCli } from './support/cli.js';

let workDir: string;
let tape: string;
let jobFile: string;

beforeAll(async () => {
  assertBuilt();
  workDir = await mkdtemp(path.join(os.tmpdir(), 'coattail-e2e-readme-'));
  tape = path.join(workDir, 'tape.jsonl');
  await generateTape(tape, 3000, 7);
  const readme = await readFile(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## A job file'));
  const example = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  expect(example).toContain("defineJob('trade-counts'");
  jobFile = path.join(workDir, 'trade-counts.ts');
  await writeFile(jobFile, example!);
}, RUN_TIMEOUT);

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

/** Lines with a string symbol and a time in either form, counted without the engine. */
async function tradesOnTape(): Promise<number> {
  let trades = 0;
  for (const line of (await readFile(tape, 'utf8')).split('\n')) {
    let value: { symbol?: unknown; timestamp?: unknown } | null;
    try {
      value = JSON.parse(line) as typeof value;
    } catch {
      continue;
    }
    if (typeof value?.symbol !== 'string') continue;
    const time = value.timestamp;
    if ((typeof time === 'number' || typeof time === 'string') && Number.isFinite(new Date(time).getTime())) trades++;
  }
  return trades;
}

describe("README's job example", { timeout: RUN_TIMEOUT }, () => {
  test('runs as written on a generated tape and counts every trade once, in a window or as late', async () => {
    const out = path.join(workDir, 'out');
    const result = await runCli(['run', jobFile, '-s', `file:${tape}`, '-o', out, '-f', 'jsonl', '-p', '2', '-q', '--no-checkpoints']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const counts = result.stdout.split('\n').filter((line) => /^\d+$/.test(line)).map(Number);
    const summary = JSON.parse(await readFile(path.join(out, '_summary.json'), 'utf8')) as { late_dropped: number; rows: { counts: number } };
    expect(counts).toHaveLength(summary.rows.counts);
    expect(counts.reduce((sum, n) => sum + n, 0) + summary.late_dropped).toBe(await tradesOnTape());
  });
});
