// A job's prepare step runs once, on the coordinator, and every thread's graph sees what it returned.

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { JOBS, ensureBuilt, readTable, runCli } from './engine-cli-support.js';

let work: string;
beforeAll(() => ensureBuilt());
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'coattail-prepare-e2e-'));
});
afterEach(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('a job with a prepare step', () => {
  it('runs prepare once for the whole run and gives its value to the decode pool and every subtask', async () => {
    const config = join(work, 'factor.txt');
    writeFileSync(config, '3');
    const input = join(work, 'numbers.jsonl');
    writeFileSync(input, Array.from({ length: 200 }, (_, i) => `${i + 1}\n`).join(''));
    const out = join(work, 'out');
    const result = await runCli(['run', join(JOBS, 'prepared.ts'), '-s', `file:${input}`, '-o', out, '-f', 'jsonl', '-p', '3', '-c', config, '--no-checkpoints', '-q'], { cwd: work });
    expect(result.code, result.stderr).toBe(0);
    const values = readTable<{ value: number }>(out, 'scaled').map((row) => row.value).sort((a, b) => a - b);
    expect(values).toEqual(Array.from({ length: 200 }, (_, i) => (i + 1) * 3));
    expect(readFileSync(`${config}.calls`, 'utf8')).toBe('prepare\n');
  });

  it('fails in one line when prepare returns something that cannot travel to the threads', async () => {
    const input = join(work, 'one.jsonl');
    writeFileSync(input, '1\n');
    const result = await runCli(['run', join(JOBS, 'prepared-function.ts'), '-s', `file:${input}`, '-o', join(work, 'out'), '--no-checkpoints'], { cwd: work });
    expect(result.code).not.toBe(0);
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^coattail: job e2e-prepared-function: prepare\(\) must return plain data/);
    expect(existsSync(join(work, 'out', '_summary.json'))).toBe(false);
  });
});
