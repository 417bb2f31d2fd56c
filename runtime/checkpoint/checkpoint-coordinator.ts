// Triggers checkpoints in band, gathers the subtasks' snapshots, stores them with `_metadata` last,
// then tells the subtasks to commit their sinks' pending output (two-phase commit).

import { CoattailError, describeError } from '../errors.js';
import { keyGroupRangeFor } from '../plan/key-groups.js';
import type { CheckpointStore } from './checkpoint-store.js';
import { CHECKPOINT_FORMAT_VERSION, type CheckpointMetadata, type SplitCheckpoint, type SubtaskCheckpoint } from './metadata.js';

export interface CheckpointSettings {
  readonly store: CheckpointStore;
  readonly intervalMs: number;
  readonly retain: number;
  readonly tolerableFailures: number;
}

export interface JobIdentity {
  readonly jobName: string;
  readonly parallelism: number;
  readonly maxParallelism: number;
  readonly sourceUri: string;
  /** Set for jobs with file tables (see CheckpointMetadata.outputFormat). */
  readonly outputFormat?: string;
  /** See CheckpointMetadata.configDigests. */
  readonly configDigests?: Readonly<Record<string, string>>;
  readonly operators: readonly string[];
}

/** What a subtask sends for a barrier: its sealed state file and its sinks' uncommitted output. */
export interface SubtaskSnapshot {
  readonly state: Uint8Array;
  readonly pending: ReadonlyArray<{ readonly sink: string; readonly pending: unknown }>;
}

/** What the coordinator contributes to checkpoint n, built once its id is known. */
export interface CoordinatorContribution {
  readonly state: unknown;
  readonly splits: readonly SplitCheckpoint[];
  /** Files shared between checkpoints (incremental state) this checkpoint writes. */
  readonly newSharedFiles: ReadonlyArray<{ readonly key: string; readonly value: unknown }>;
  /** Every shared file this checkpoint's state refers to, new or written by an earlier checkpoint. */
  readonly sharedFiles: readonly string[];
}

interface InFlightCheckpoint {
  readonly id: number;
  readonly savepoint: boolean;
  readonly triggeredAt: number;
  readonly contribution: CoordinatorContribution;
  readonly snapshots: Array<SubtaskSnapshot | undefined>;
  received: number;
  resolve(metadata: CheckpointMetadata | undefined): void;
}

export interface CheckpointTransport {
  sendBarrier(checkpointId: number): void;
  sendCommit(checkpointId: number): void;
}

export class CheckpointCoordinator {
  private inFlight: InFlightCheckpoint | undefined;
  private consecutiveFailures = 0;
  completed = 0;
  failed = 0;
  lastCompleted: CheckpointMetadata | undefined;

  constructor(
    private readonly settings: CheckpointSettings,
    private readonly job: JobIdentity,
    private readonly transport: CheckpointTransport,
    private nextId: number,
    private readonly log: (message: string) => void,
    private readonly failJob: (error: CoattailError) => void,
  ) {}

  get busy(): boolean {
    return this.inFlight !== undefined;
  }

  get intervalMs(): number {
    return this.settings.intervalMs;
  }

  /** Inject barrier n after everything routed so far; resolves with the metadata once stored, or undefined. */
  trigger(contribute: (checkpointId: number) => CoordinatorContribution, savepoint = false): Promise<CheckpointMetadata | undefined> {
    if (this.inFlight) throw new Error('a checkpoint is already in flight');
    const id = this.nextId++;
    const triggeredAt = Date.now();
    let contribution: CoordinatorContribution;
    try {
      contribution = contribute(id);
    } catch (error) {
      // The coordinator's part could not be built: a failed checkpoint like any other, not a crash of the process.
      this.recordFailure(id, error);
      return Promise.resolve(undefined);
    }
    return new Promise((resolve) => {
      this.inFlight = {
        id,
        savepoint,
        triggeredAt,
        contribution,
        snapshots: new Array(this.job.parallelism).fill(undefined),
        received: 0,
        resolve,
      };
      this.transport.sendBarrier(id);
    });
  }

  /** A subtask's snapshot for the in-flight checkpoint arrived. */
  acknowledge(subtaskIndex: number, checkpointId: number, snapshot: SubtaskSnapshot): void {
    const checkpoint = this.inFlight;
    if (!checkpoint || checkpoint.id !== checkpointId || checkpoint.snapshots[subtaskIndex]) return;
    checkpoint.snapshots[subtaskIndex] = snapshot;
    if (++checkpoint.received === this.job.parallelism) void this.complete(checkpoint);
  }

  private async complete(checkpoint: InFlightCheckpoint): Promise<void> {
    const { store } = this.settings;
    try {
      const { contribution } = checkpoint;
      let sharedBytes = 0;
      for (const file of contribution.newSharedFiles) sharedBytes += await store.putShared(file.key, file.value);
      const coordinatorFile = await store.putState(checkpoint.id, 'coordinator.state', contribution.state);
      const subtasks: SubtaskCheckpoint[] = [];
      for (let index = 0; index < checkpoint.snapshots.length; index++) {
        const key = `chk-${checkpoint.id}/subtask-${index}.state`;
        const state = checkpoint.snapshots[index]!.state;
        await store.storage.put(key, state);
        subtasks.push({
          subtaskIndex: index,
          keyGroups: keyGroupRangeFor(index, this.job.parallelism, this.job.maxParallelism),
          file: { key, bytes: state.byteLength },
        });
      }
      const completedAt = Date.now();
      const metadata: CheckpointMetadata = {
        formatVersion: CHECKPOINT_FORMAT_VERSION,
        checkpointId: checkpoint.id,
        jobName: this.job.jobName,
        savepoint: checkpoint.savepoint,
        triggeredAt: new Date(checkpoint.triggeredAt).toISOString(),
        completedAt: new Date(completedAt).toISOString(),
        durationMs: completedAt - checkpoint.triggeredAt,
        sizeBytes: sharedBytes + coordinatorFile.bytes + subtasks.reduce((sum, s) => sum + s.file.bytes, 0),
        parallelism: this.job.parallelism,
        maxParallelism: this.job.maxParallelism,
        sourceUri: this.job.sourceUri,
        ...(this.job.outputFormat === undefined ? {} : { outputFormat: this.job.outputFormat }),
        ...(this.job.configDigests === undefined ? {} : { configDigests: this.job.configDigests }),
        splits: contribution.splits,
        sharedFiles: contribution.sharedFiles,
        operators: this.job.operators,
        coordinatorFile,
        subtasks,
        pendingCommits: checkpoint.snapshots.flatMap((snapshot, subtaskIndex) =>
          snapshot!.pending.map(({ sink, pending }) => ({ sink, subtaskIndex, pending })),
        ),
      };
      await store.putMetadata(metadata);
      this.consecutiveFailures = 0;
      this.completed++;
      this.lastCompleted = metadata;
      this.transport.sendCommit(checkpoint.id);
      // Prune while still in flight: a next checkpoint's new shared files must not be listed as garbage.
      await store.prune(this.settings.retain).catch((error) => this.log(`could not delete old checkpoints: ${describeError(error)}`));
      this.inFlight = undefined;
      checkpoint.resolve(metadata);
    } catch (error) {
      this.inFlight = undefined;
      this.recordFailure(checkpoint.id, error);
      checkpoint.resolve(undefined);
    }
  }

  /** Counts a failed checkpoint; past the tolerable number in a row, the job fails. */
  private recordFailure(checkpointId: number, error: unknown): void {
    this.failed++;
    this.consecutiveFailures++;
    this.log(`checkpoint ${checkpointId} failed and was aborted: ${describeError(error)}`);
    if (this.consecutiveFailures > this.settings.tolerableFailures) {
      this.failJob(
        new CoattailError(
          'CHECKPOINT_FAILED',
          `${this.consecutiveFailures} checkpoints in a row failed (tolerable: ${this.settings.tolerableFailures}); last cause: ${describeError(error)}`,
          { cause: error },
        ),
      );
    }
  }
}
