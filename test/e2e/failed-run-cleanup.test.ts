// A run that fails removes the table parts it had in progress, as its sinks' abort() promises: nothing it wrote
// outside a prepared commit stays behind in the output folder (locally hidden files, on S3 open uploads).

import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { JOBS, ensureBuilt, expectOneLineError, runCli } from './engine-cli-support.js';

const JOB = join(JOBS, 'throwing-into-table.ts');
let work: string;

beforeAll(() => {
  ensureBuilt();
  work = mkdtempSync(join(tmpdir(), 'coattail-failed-cleanup-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * About 12 MiB of orders with the bad one near the end: the chunks read ahead of it (a few MiB at most) leave
 * several chunks before it that have reached both subtasks' sinks by the time it fails.
 */
function tape(bad: object): string {
  const file = join(work, `orders-${JSON.stringify(bad).replace(/\W/g, '')}.jsonl`);
  const orders = Array.from({ length: 150_000 }, (_, i) => ({ id: `o${i}`, note: 'y'.repeat(60) }));
  writeFileSync(file, [...orders.slice(0, 140_000), bad, ...orders.slice(140_000)].map((order) => JSON.stringify(order)).join('\n') + '\n');
  return file;
}

function partsInProgress(table: string): string[] {
  return existsSync(table) ? readdirSync(table).filter((name) => name.endsWith('.inprogress')) : [];
}

describe('a failed run', () => {
  for (const [where, bad, message] of [
    ['a subtask', { id: 'bad-order', explode: 'price' }, 'step "price" threw: cannot price order bad-order'],
    ['the decode stage', { id: 'bad-parse', explode: 'parse' }, 'step "parse" threw: cannot parse order bad-parse'],
  ] as const) {
    it(`leaves no table part in progress when user code throws in ${where}`, async () => {
      const out = join(work, `out-${where.replace(/\W/g, '-')}`);
      const result = await runCli(['run', JOB, '-s', `file:${tape(bad)}`, '-o', out, '-f', 'jsonl', '-p', '2', '--no-checkpoints', '-q'], { cwd: work });
      expectOneLineError(result, message);
      expect(existsSync(join(out, 'orders'))).toBe(true);
      expect(partsInProgress(join(out, 'orders'))).toEqual([]);
    });
  }
});
