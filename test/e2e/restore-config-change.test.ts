// A restore under other settings (features.yaml) goes ahead, as in Flink, and says which sections changed: rows
// written after it may use another window size or threshold than the rows before it in the same tables.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { assertBuilt, generateTape, JOB_ALL, REPO_ROOT, RUN_TIMEOUT, runCli } from './support/cli.js';

let workDir: string;
let tape: string;
let changedConfig: string;

beforeAll(async () => {
  assertBuilt();
  workDir = await mkdtemp(path.join(os.tmpdir(), 'coattail-e2e-restore-config-'));
  tape = path.join(workDir, 'tape.jsonl');
  await generateTape(tape, 3000, 11);
  const defaults = await readFile(path.join(REPO_ROOT, 'config', 'features.yaml'), 'utf8');
  const changed = defaults.replace(/^(volume:[^\n]*\n(?:[ \t][^\n]*\n)*?[ \t]+window:[ \t]*)60s/m, '$1120s');
  expect(changed).not.toBe(defaults);
  changedConfig = path.join(workDir, 'features-120s.yaml');
  await writeFile(changedConfig, changed);
}, RUN_TIMEOUT);

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

function runArgs(name: string, extra: readonly string[]): string[] {
  return ['run', JOB_ALL, '-s', `file:${tape}`, '-o', path.join(workDir, name), '-f', 'jsonl', '-p', '2', '-q', '--checkpoint-dir', path.join(workDir, `${name}-checkpoints`), ...extra];
}

describe('--restore with a changed configuration', { timeout: RUN_TIMEOUT }, () => {
  test('names the changed section and restores; the same settings restore without a word about them', async () => {
    const first = await runCli(runArgs('run', []));
    expect(first.code, first.stderr).toBe(0);

    const changed = await runCli(runArgs('run', ['--restore', 'latest', '-c', changedConfig]));
    expect(changed.code, changed.stderr).toBe(0);
    expect(changed.stderr).toContain(
      'was taken with other settings (changed: volume); its state is restored as it is and the new settings apply from here on',
    );

    // The checkpoint that restore ended with was taken under the changed settings: restoring it with them is quiet.
    const same = await runCli(runArgs('run', ['--restore', 'latest', '-c', changedConfig]));
    expect(same.code, same.stderr).toBe(0);
    expect(same.stderr).toContain('restoring checkpoint');
    expect(same.stderr).not.toContain('other settings');
  });
});
