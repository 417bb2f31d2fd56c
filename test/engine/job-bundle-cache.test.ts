// Job bundles are reused while the job's inputs are unchanged, and rebuilt when any of them changes.

import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
// The compiled loader (`npm test` builds first): bundles point the engine's imports at dist/, found relative
// to the loader's own file.
import { bundleJob, importJob } from '../../dist/runtime/exec/job-loader.js';
import { buildJob } from '../../dist/runtime/graph/job.js';

let work: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'coattail-bundle-cache-'));
});
afterEach(() => {
  rmSync(work, { recursive: true, force: true });
});

function writeJob(name: string): string {
  const file = join(work, 'job.ts');
  writeFileSync(file, `import { defineJob } from 'coattail';\nimport { label } from './label.js';\nexport default defineJob('${name}-' + label, (env) => { env.source('lines'); });\n`);
  return file;
}

function writeLabel(label: string, mtimeSeconds?: number): void {
  const file = join(work, 'label.ts');
  writeFileSync(file, `export const label = '${label}';\n`);
  if (mtimeSeconds !== undefined) utimesSync(file, mtimeSeconds, mtimeSeconds);
}

async function jobName(url: string): Promise<string> {
  const job = await importJob(url);
  buildJob(job, { live: false });
  return job.name;
}

describe('job bundle cache', () => {
  it('returns the same bundle for an unchanged job and its imports', async () => {
    writeLabel('a');
    const file = writeJob('cached');
    const first = await bundleJob(file);
    expect(await bundleJob(file)).toBe(first);
    expect(await jobName(first)).toBe('cached-a');
  });

  it('rebuilds when the job file changes', async () => {
    writeLabel('a');
    const first = await bundleJob(writeJob('before'));
    const second = await bundleJob(writeJob('after-edit'));
    expect(second).not.toBe(first);
    expect(await jobName(second)).toBe('after-edit-a');
  });

  it('rebuilds when a file the job imports changes, even to the same size', async () => {
    writeLabel('a', 1_700_000_000);
    const file = writeJob('imports');
    const first = await bundleJob(file);
    writeLabel('b', 1_700_000_100);
    const second = await bundleJob(file);
    expect(second).not.toBe(first);
    expect(await jobName(second)).toBe('imports-b');
  });

  it("refuses a job that does not compile in one line naming the place, with esbuild's failure as the cause", async () => {
    const file = join(work, 'broken.ts');
    writeFileSync(file, "import { defineJob } from 'coattail';\nexport default defineJob('broken', (env) => { env.source('lines') ;; ) });\n");
    const error: unknown = await bundleJob(file).then(() => undefined, (caught: unknown) => caught);
    expect(error).toMatchObject({ name: 'CoattailError', code: 'JOB_COMPILE' });
    expect((error as Error).message).toMatch(new RegExp(`^job file .*broken\\.ts does not compile: .* \\(.*broken\\.ts:2\\)$`));
    expect((error as Error).cause).toMatchObject({ errors: [expect.objectContaining({ text: expect.any(String) })] });
  });
});
