// A checkpoint that lists a file its storage no longer holds is damaged (and names the file), not absent.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CheckpointCoordinator } from '../../runtime/checkpoint/checkpoint-coordinator.js';
import { CheckpointStore } from '../../runtime/checkpoint/checkpoint-store.js';
import { LocalCheckpointStorage } from '../../runtime/checkpoint/storage/local.js';
import { encodeState } from '../../runtime/checkpoint/state-codec.js';
import { CoattailError } from '../../runtime/errors.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'coattail-checkpoint-store-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

/** A completed checkpoint 1 of one subtask, with one shared file, in a folder of its own. */
async function storeWithOneCheckpoint(name: string): Promise<{ store: CheckpointStore; storage: LocalCheckpointStorage }> {
  const storage = new LocalCheckpointStorage(path.join(root, name));
  const store = new CheckpointStore(storage);
  let coordinator!: CheckpointCoordinator;
  coordinator = new CheckpointCoordinator(
    { store, intervalMs: 1000, retain: 5, tolerableFailures: 0 },
    { jobName: 'job', parallelism: 1, maxParallelism: 128, sourceUri: 'file:x', operators: [] },
    { sendBarrier: (id) => queueMicrotask(() => coordinator.acknowledge(0, id, { state: encodeState({ operators: {} }), pending: [] })), sendCommit: () => undefined },
    1,
    () => undefined,
    (error) => {
      throw error;
    },
  );
  const metadata = await coordinator.trigger(() => ({
    state: { ordered: 'state' },
    splits: [],
    newSharedFiles: [{ key: 'shared/segment-1', value: ['id'] }],
    sharedFiles: ['shared/segment-1'],
  }));
  expect(metadata?.checkpointId).toBe(1);
  return { store, storage };
}

async function loadError(store: CheckpointStore): Promise<CoattailError> {
  const error: unknown = await store.load(1).then(() => undefined, (caught: unknown) => caught);
  expect(error).toBeInstanceOf(CoattailError);
  return error as CoattailError;
}

describe('CheckpointStore.load', () => {
  it('reads back what the checkpoint stored', async () => {
    const { store } = await storeWithOneCheckpoint('whole');
    const loaded = await store.load<unknown, unknown>(1);
    expect(loaded.coordinator).toEqual({ ordered: 'state' });
    expect(loaded.subtasks).toEqual([{ operators: {} }]);
    // Shared files are checked at load and decoded when the restore takes them, once.
    const shared = [...loaded.shared];
    expect(shared.map(([key]) => key)).toEqual(['shared/segment-1']);
    const decode = shared[0]![1];
    expect(decode()).toEqual(['id']);
    expect(() => decode()).toThrow('decoded already');
  });

  it('calls a checkpoint whose subtask state file is gone damaged, naming the file', async () => {
    const { store, storage } = await storeWithOneCheckpoint('no-state');
    await storage.deletePrefix('chk-1/subtask-0.state');
    const error = await loadError(store);
    expect(error.code).toBe('CHECKPOINT_CORRUPT');
    expect(error.message).toBe(`checkpoint 1 is missing its state file ${storage.location}/chk-1/subtask-0.state`);
  });

  it('calls a checkpoint whose shared file is gone damaged, naming the file', async () => {
    const { store, storage } = await storeWithOneCheckpoint('no-shared');
    await storage.deletePrefix('shared/segment-1');
    const error = await loadError(store);
    expect(error.code).toBe('CHECKPOINT_CORRUPT');
    expect(error.message).toBe(`checkpoint 1 is missing its shared file ${storage.location}/shared/segment-1`);
  });
});
