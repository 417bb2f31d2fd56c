// Where checkpoints live: a flat key space of immutable objects, on local disk or S3.

export interface CheckpointStorage {
  /** A readable location for messages, e.g. `/abs/checkpoints` or `s3://bucket/prefix`; `${location}/${key}` names an object. */
  readonly location: string;
  /** Write an object atomically: readers see the whole object or nothing. */
  put(key: string, bytes: Uint8Array): Promise<void>;
  /** Read an object; rejects with a `CoattailError` whose code is `CHECKPOINT_NOT_FOUND` when absent. */
  get(key: string): Promise<Uint8Array>;
  /** Keys under a prefix (`chk-7/`), recursively, sorted. */
  list(prefix: string): Promise<string[]>;
  /** Delete every object under a prefix. */
  deletePrefix(prefix: string): Promise<void>;
  /** Release connections (S3); the storage must not be used afterwards. */
  close?(): Promise<void>;
}
