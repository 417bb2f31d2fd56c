// What a completed checkpoint records in `_metadata`, written last: without it the checkpoint does not exist.

import type { SplitPosition } from '../api/source.js';
import type { KeyGroupRange } from '../plan/key-groups.js';

export const CHECKPOINT_FORMAT_VERSION = 1;

export interface SplitCheckpoint {
  readonly splitId: string;
  readonly origin: string;
  /** Resume after this position; undefined: from the start. */
  readonly position: SplitPosition | undefined;
  readonly ended: boolean;
}

export interface StateFileHandle {
  readonly key: string;
  readonly bytes: number;
}

export interface SubtaskCheckpoint {
  readonly subtaskIndex: number;
  readonly keyGroups: KeyGroupRange;
  readonly file: StateFileHandle;
}

export interface CheckpointMetadata {
  readonly formatVersion: number;
  readonly checkpointId: number;
  readonly jobName: string;
  /** Taken on request (SIGINT/SIGTERM) rather than by the interval. */
  readonly savepoint: boolean;
  readonly triggeredAt: string;
  readonly completedAt: string;
  readonly durationMs: number;
  readonly sizeBytes: number;
  readonly parallelism: number;
  readonly maxParallelism: number;
  readonly sourceUri: string;
  /**
   * The table format (`--format`) of a job with file tables, whose pending parts a restore commits: a table's
   * parts stay in one format. Absent for jobs without file tables and in checkpoints older than this field.
   */
  readonly outputFormat?: string;
  /**
   * Fingerprints of the job's prepared configuration by top-level key (config-digest.ts), so a restore under
   * other settings can say which changed. Absent for jobs without a `prepare` step and in older checkpoints.
   */
  readonly configDigests?: Readonly<Record<string, string>>;
  readonly splits: readonly SplitCheckpoint[];
  /** Uids of the job's stateful steps, as the state files name them. */
  readonly operators: readonly string[];
  readonly coordinatorFile: StateFileHandle;
  /** Files under `shared/` this checkpoint refers to (incremental dedupe segments), kept while referenced. */
  readonly sharedFiles: readonly string[];
  readonly subtasks: readonly SubtaskCheckpoint[];
  /** Sink output prepared but maybe not yet committed when this checkpoint completed: committed on restore. */
  readonly pendingCommits: ReadonlyArray<{ readonly sink: string; readonly subtaskIndex: number; readonly pending: unknown }>;
}

export function checkpointFolder(checkpointId: number): string {
  return `chk-${checkpointId}`;
}

export function metadataKey(checkpointId: number): string {
  return `${checkpointFolder(checkpointId)}/_metadata`;
}

/**
 * Marks a completed checkpoint that a restore of an older one left behind: its output was (or is being) removed,
 * so it must never be restored. Written before any of that output is touched.
 */
export function abandonedKey(checkpointId: number): string {
  return `${checkpointFolder(checkpointId)}/_abandoned`;
}

/**
 * Marks that a run with this attempt id wrote (or may have written) table parts while checkpointing here: a
 * restore from this folder may remove that attempt's in-progress parts, and only those (decisions §23).
 */
export function attemptKey(attemptId: string): string {
  return `${ATTEMPTS_FOLDER}${attemptId}`;
}

export const ATTEMPTS_FOLDER = 'attempts/';

/** `chk-12/_metadata` -> 12 */
export function checkpointIdOf(key: string): number | undefined {
  const match = /^chk-(\d+)\//.exec(key);
  return match ? Number(match[1]) : undefined;
}
