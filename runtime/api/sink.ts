// The contract for sinks: buffered writes with a two-phase commit, as Flink's TwoPhaseCommittingSink.

export interface SinkContext {
  readonly subtaskIndex: number;
  readonly parallelism: number;
  /** Distinguishes files of runs restored from the same checkpoint, so names never collide. */
  readonly attemptId: string;
  /** The run's output location (`--out`) and format (`--format`). */
  readonly outDir: string;
  readonly format: 'parquet' | 'jsonl';
  /** What the factory's `initializeGlobal` returned in the coordinator, if it has one. */
  readonly shared?: unknown;
}

/** Serializable description of files written but not yet visible; kept in checkpoints until committed. */
export type PendingCommit = unknown;

export interface SinkWriter<T> {
  write(records: readonly T[]): void | Promise<void>;
  /** Checkpoint barrier: close what is in progress into a pending state and describe it. */
  prepareCommit(checkpointId: number): Promise<PendingCommit>;
  /** The checkpoint completed (or restore found it pending): make the pending files visible. Idempotent. */
  commit(pending: PendingCommit): Promise<void>;
  /** Bounded end of input: prepare and commit everything. Returns rows written by this writer in total. */
  finish(): Promise<number>;
  /** Failure or cancellation: drop in-progress files. */
  abort(): Promise<void>;
}

/** What a sink's `recover` is told about the run being restored. */
export interface RecoverContext extends Pick<SinkContext, 'outDir' | 'format'> {
  /**
   * Attempt ids of the runs that checkpointed (or started to) in the restored checkpoint's folder. Only their
   * in-progress output may be removed: another job may write into the same `--out` (decisions §23).
   */
  readonly ownAttempts: ReadonlySet<string>;
}

export interface SinkFactory<T> {
  /** Table or target name used in metrics and `_summary.json` row counts. */
  readonly name: string;
  /**
   * Runs once in the coordinator before the subtasks open their writers (Flink's `InitializeOnMaster`), for work
   * each subtask would otherwise repeat, such as compiling a WebAssembly encoder. The result reaches every
   * `create` as `context.shared`; it crosses threads by structured clone (a `WebAssembly.Module` is shared, not
   * compiled again).
   */
  initializeGlobal?(context: Pick<SinkContext, 'outDir' | 'format'>): Promise<unknown>;
  create(context: SinkContext): SinkWriter<T> | Promise<SinkWriter<T>>;
  /**
   * Restore: commit what the restored checkpoint lists as pending (idempotent) and discard everything this
   * sink wrote after that checkpoint, so outputs match a run that was never interrupted.
   */
  recover?(
    context: RecoverContext,
    pending: readonly PendingCommit[],
    /** Output of newer checkpoints the restore skipped (damaged): remove it, it will be written again. */
    revoked?: readonly PendingCommit[],
  ): Promise<void>;
}
