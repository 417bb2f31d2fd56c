// What `runJob` takes and returns: the run's source, outputs, parallelism and checkpointing, and its summary.

import type { Source } from '../api/source.js';
import type { CheckpointMetadata } from '../checkpoint/metadata.js';
import type { CodecName } from '../transport/record-codec.js';
import type { RunStatus } from './run-status.js';

export interface CheckpointOptions {
  readonly location: string;
  readonly intervalMs: number;
  readonly retain: number;
  readonly tolerableFailures: number;
  readonly s3Endpoint?: string;
}

export interface RunOptions {
  readonly jobFile: string;
  readonly source: Source;
  readonly outDir: string;
  readonly format: 'parquet' | 'jsonl';
  readonly parallelism: number;
  readonly maxParallelism: number;
  readonly configPath?: string;
  /** Extra outputs for the job to wire (`dlq`, `alerts`), see JobContext.outputs. */
  readonly outputs?: Readonly<Record<string, string>>;
  readonly codec?: CodecName;
  /** false: no pre-aggregation of windows in the decode stage (see AggregateFunction.merge). Default true. */
  readonly preAggregate?: boolean;
  /** Threads decoding chunks; default: the number of cores. */
  readonly decodeThreads?: number;
  readonly creditsPerChannel?: number;
  /** Periodic checkpoints; without it the run keeps no checkpoints. */
  readonly checkpoint?: CheckpointOptions;
  /** `latest`, `chk-N`, `N` or a checkpoint folder path. Needs `checkpoint` for where to look. */
  readonly restore?: string;
  /**
   * Drop the checkpoint's state of steps this job no longer has, instead of refusing the restore (Flink's
   * --allowNonRestoredState).
   */
  readonly allowNonRestoredState?: boolean;
  /** Abort to stop a run (Ctrl-C): reading stops, a savepoint is taken if checkpointing, the summary is written. */
  readonly signal?: AbortSignal;
  readonly onStatus?: (status: RunStatus) => void;
  readonly statusIntervalMs?: number;
  /** Operational messages (checkpoint failures, restore choices). */
  readonly log?: (message: string) => void;
}

export interface RunResult {
  readonly jobName: string;
  readonly summary: Record<string, unknown>;
  readonly summaryPath: string;
  readonly stopped: boolean;
  readonly savepoint?: CheckpointMetadata;
  readonly restoredFrom?: number;
}
