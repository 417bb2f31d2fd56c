// The checkpoint coordinator on its own: a storage that refuses writes, and what the job learns when too many
// checkpoints in a row fail.
import { describe, expect, it } from 'vitest';

import { CheckpointCoordinator } from '../../runtime/checkpoint/checkpoint-coordinator.js';
import { CheckpointStore } from '../../runtime/checkpoint/checkpoint-store.js';
import type { CheckpointStorage } from '../../runtime/checkpoint/storage/storage.js';
import { CoattailError } from '../../runtime/errors.js';

/** Storage whose every write fails with `cause`. */
function refusingStorage(cause: Error): CheckpointStorage {
  return {
    location: 'memory://refusing',
    put: async () => {
      throw cause;
    },
    get: async () => {
      throw new CoattailError('CHECKPOINT_NOT_FOUND', 'nothing here');
    },
    list: async () => [],
    deletePrefix: async () => undefined,
  };
}

describe('CheckpointCoordinator', () => {
  it('fails the job with the storage error as the cause once more checkpoints in a row fail than are tolerable', async () => {
    const cause = Object.assign(new Error('Access Denied'), { name: 'AccessDenied' });
    const failures: CoattailError[] = [];
    const logged: string[] = [];
    let coordinator!: CheckpointCoordinator;
    coordinator = new CheckpointCoordinator(
      { store: new CheckpointStore(refusingStorage(cause)), intervalMs: 1000, retain: 1, tolerableFailures: 0 },
      { jobName: 'job', parallelism: 1, maxParallelism: 128, sourceUri: 'file:x', operators: [] },
      // The one subtask answers the barrier at once.
      { sendBarrier: (id) => queueMicrotask(() => coordinator.acknowledge(0, id, { state: new Uint8Array(1), pending: [] })), sendCommit: () => undefined },
      1,
      (message) => logged.push(message),
      (error) => failures.push(error),
    );
    const metadata = await coordinator.trigger(() => ({ state: {}, splits: [], newSharedFiles: [], sharedFiles: [] }));
    expect(metadata).toBeUndefined();
    expect(coordinator.failed).toBe(1);
    expect(logged).toEqual([expect.stringContaining('checkpoint 1 failed and was aborted: Access Denied')]);
    expect(failures).toHaveLength(1);
    expect(failures[0]!.code).toBe('CHECKPOINT_FAILED');
    expect(failures[0]!.message).toContain('last cause: Access Denied');
    expect(failures[0]!.cause).toBe(cause);
  });

  it('counts a checkpoint whose coordinator part cannot be built as failed, without sending a barrier or throwing', async () => {
    const failures: CoattailError[] = [];
    const logged: string[] = [];
    const barriers: number[] = [];
    const coordinator = new CheckpointCoordinator(
      { store: new CheckpointStore(refusingStorage(new Error('unused'))), intervalMs: 1000, retain: 1, tolerableFailures: 1 },
      { jobName: 'job', parallelism: 1, maxParallelism: 128, sourceUri: 'file:x', operators: [] },
      { sendBarrier: (id) => barriers.push(id), sendCommit: () => undefined },
      1,
      (message) => logged.push(message),
      (error) => failures.push(error),
    );
    const broken = () => {
      throw new Error('dedupe segment out of order');
    };
    expect(await coordinator.trigger(broken)).toBeUndefined();
    expect(coordinator.busy).toBe(false);
    expect(barriers).toEqual([]);
    expect(logged).toEqual([expect.stringContaining('checkpoint 1 failed and was aborted: dedupe segment out of order')]);
    expect(failures).toEqual([]);
    expect(await coordinator.trigger(broken)).toBeUndefined();
    expect(coordinator.failed).toBe(2);
    expect(failures.map((failure) => failure.code)).toEqual(['CHECKPOINT_FAILED']);
  });
});
