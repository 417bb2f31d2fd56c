// The batch-friendly operator lifecycle every physical operator implements, on decoders and subtasks alike.

import type { Metrics } from '../graph/functions.js';

/** Where an operator sends what it produces; wired by the host to the consumers' inputs. */
export interface Emitter {
  emit(value: unknown, timestamp: number | null): void;
  emitSide(tagId: string, value: unknown, timestamp: number | null): void;
}

/**
 * The key a keyed step of this subtask is running user code for (a record, a timer, a firing window), shared by
 * the subtask's steps. A keyBy with keepsKey after a keyed step checks that each record keeps it (docs/decisions.md §5).
 */
export interface KeyScope {
  current: string | undefined;
}

export interface OperatorEnvironment {
  readonly uid: string;
  readonly subtaskIndex: number;
  readonly parallelism: number;
  readonly maxParallelism: number;
  readonly metrics: Metrics;
  readonly output: Emitter;
  /** For keyed operators: the key of each input port (1 and 2). */
  readonly keySelectors: ReadonlyArray<((value: unknown) => string) | undefined>;
  readonly keyScope: KeyScope;
}

export interface StreamOperator {
  open?(): void | Promise<void>;
  processElement(value: unknown, timestamp: number | null, port: 1 | 2): void;
  /** Windows with a mergeable aggregate: an accumulator pre-aggregated in the decode stage (PartialAggregate). */
  processPartial?(partial: unknown): void;
  /** The input watermark rose; fire what is due and return this operator's output watermark. */
  onWatermark(watermark: number): number;
  onProcessingTime?(now: number): void;
  /** End of an input batch: hand buffered output on (sinks write here, so a slow sink slows the source). */
  flush?(): void | Promise<void>;
  /** Serializable state; keyed operators group it by key group so it can be reassigned on rescale. */
  snapshotState?(): OperatorSnapshot;
  restoreState?(snapshots: readonly OperatorSnapshot[]): void;
  /** Checkpoint barrier for sinks: pre-commit and describe what to commit. */
  prepareCommit?(checkpointId: number): Promise<unknown>;
  commit?(pending: unknown): Promise<void>;
  /** Bounded end of input, after the final watermark: complete everything. */
  finish?(): Promise<void>;
  abort?(): Promise<void>;
}

/** Keyed entries by key group, plus operator-wide data (e.g. timers) that belongs with them. */
export interface OperatorSnapshot {
  readonly keyGroups: Record<number, unknown>;
  readonly operatorState?: unknown;
}
