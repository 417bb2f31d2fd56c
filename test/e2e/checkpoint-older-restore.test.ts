// --restore chk-N of an older checkpoint removes what newer checkpoints committed: a kill -9 during that restored run
// (before it completes a checkpoint of its own) must not leave `--restore latest` pointing at one of those newer ones.
import { cp, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { assertBuilt, RUN_TIMEOUT, runCli, runCliToEnd, startCli, waitWhileRunning } from './support/cli.js';
import { PACED_SPEED, pacedSource, placeFor, runArguments, stopRunAt, storeOf, uninterruptedRun, type RunPlace } from './support/checkpointed-run.js';
import { comparableSummary, hiddenPartFiles, readSummary, readTables, tableDifferences, type Tables } from './support/tables.js';

/** A paced tape (checkpointed-run.ts): a run killed right after its restore step still has most of it ahead. */
const SPEED = PACED_SPEED;
const PACED = pacedSource(71);

let workDir: string;
let reference: { tables: Tables; summary: Record<string, unknown> };

beforeAll(async () => {
  assertBuilt();
  workDir = await mkdtemp(path.join(os.tmpdir(), 'coattail-e2e-older-restore-'));
  reference = await uninterruptedRun(PACED, path.join(workDir, 'uninterrupted'), SPEED);
}, RUN_TIMEOUT);

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('restoring an older checkpoint, killed before its first checkpoint', { timeout: RUN_TIMEOUT }, () => {
  test('--restore latest then restores that older checkpoint again, not a newer one whose output is gone', async () => {
    const place = placeFor(PACED, workDir, 'run');
    const store = storeOf(place);
    // Three completed checkpoints mid-tape, the two newer ones with committed output.
    await stopRunAt(place, runArguments(place, 2, SPEED, '100ms'), {
      description: 'three completed checkpoints mid-tape',
      checkpointWhere: (metadata) => metadata.checkpointId >= 3 && !metadata.splits.every((split) => split.ended),
    });
    const [older, ...newer] = (await store.completedIds()).slice(-3) as [number, ...number[]];
    expect(newer.length).toBe(2);
    const newerFiles = (await Promise.all(newer.map((id) => store.readMetadata(id)))).flatMap((m) =>
      m.pendingCommits.flatMap(({ pending }) => (pending as { files?: unknown[] }).files ?? []),
    );
    expect(newerFiles.length).toBeGreaterThan(0);

    // The restore of the older one removes the newer ones' output, then is killed before any checkpoint of its own.
    const restoring = startCli(runArguments(place, 3, ['--restore', `chk-${older}`, ...SPEED], '1h'));
    await waitWhileRunning(restoring, async () => restoring.stderr().includes(`restoring checkpoint ${older} `), 'the restore step');
    restoring.child.kill('SIGKILL');
    expect((await restoring.done).signal).toBe('SIGKILL');

    // A copy as the kill left it, to look at the marks afterwards.
    const copy: RunPlace = { ...place, outDir: path.join(workDir, 'copy', 'out'), checkpointDir: path.join(workDir, 'copy', 'checkpoints') };
    await cp(place.outDir, copy.outDir, { recursive: true });
    await cp(place.checkpointDir, copy.checkpointDir, { recursive: true });

    const restored = await runCliToEnd(runArguments(place, 1, ['--restore', 'latest', ...SPEED]));
    for (const id of newer) expect(restored.stderr).toContain(`skipping checkpoint ${id}: checkpoint ${id} was abandoned when checkpoint ${older} was restored`);
    expect(restored.stderr).toContain(`restoring checkpoint ${older} (2 -> 1 subtasks)`);
    expect(tableDifferences(await readTables(place.outDir, 'jsonl'), reference.tables)).toEqual({});
    expect(comparableSummary(await readSummary(place.outDir))).toEqual(comparableSummary(reference.summary));
    expect(await hiddenPartFiles(place.outDir)).toEqual([]);
    // Once the restored run has checkpoints of its own, the abandoned ones are pruned.
    const remaining = await store.completedIds();
    for (const id of newer) expect(remaining).not.toContain(id);

    // In the copy: the newer checkpoints are marked abandoned, listed so, and refused by name with one line.
    const listed = (await runCliToEnd(['checkpoints', 'list', copy.checkpointDir])).stdout;
    for (const id of newer) expect(listed).toMatch(new RegExp(`^chk-${id}\\s+abandoned\\s`, 'm'));
    const refused = await runCli(runArguments(copy, 2, ['--restore', `chk-${newer.at(-1)}`, ...SPEED]));
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toBe(
      `coattail: checkpoint ${newer.at(-1)} was abandoned when checkpoint ${older} was restored (the output it committed was removed); restore that one or a newer checkpoint`,
    );
  });
});
