// The messages between the coordinator and its subtasks; data, watermarks and end of input travel in band.

import type { SinkContext } from '../api/sink.js';
import type { ErrorCode } from '../errors.js';
import type { CodecName } from '../transport/record-codec.js';
import type { RestoredOperatorState } from '../checkpoint/subtask-state-file.js';
import type { DecodeRequest, DecodeResult } from './decode-result.js';

export interface JobLaunch {
  /** file: URL of the bundled job module. */
  readonly jobUrl: string;
  readonly configPath?: string;
  readonly sourceUri: string;
  readonly live: boolean;
  readonly outputs: Readonly<Record<string, string>>;
  readonly parallelism: number;
  readonly maxParallelism: number;
  readonly codec: CodecName;
  /** false: never pre-aggregate windows in the decode stage (see AggregateFunction.merge). Default: on. */
  readonly preAggregate?: boolean;
  /** What the job's prepare() returned on the coordinator (structured-cloned to each thread). */
  readonly prepared?: unknown;
}

export interface SubtaskLaunch extends JobLaunch {
  readonly subtaskIndex: number;
  readonly splitCount: number;
  readonly sinkContext: SinkContext;
  /** By sink uid: what each sink factory's `initializeGlobal` returned in the coordinator. */
  readonly sinkShared?: Record<string, unknown>;
  /** Operator snapshots to restore, by uid, narrowed to this subtask's key groups, which it decodes itself. */
  readonly restore?: RestoredOperatorState;
  /** Per split: the watermark at the restored checkpoint. */
  readonly restoreWatermarks?: number[];
  /** This thread also decodes chunks (`decode` messages), instead of a separate decode pool. */
  readonly hostsDecode?: boolean;
}

export type ToSubtask =
  /** The first message a subtask thread gets: which subtask it is (threads may start before the job is known). */
  | { readonly type: 'launch'; readonly launch: SubtaskLaunch }
  | {
      readonly type: 'batch';
      readonly split: number;
      readonly records: Uint8Array;
      readonly exitMasks: Uint32Array;
      /** The watermark each record must see before it; NaN drops the record (a duplicate). */
      readonly stamps: Float64Array;
      /** Event time of each record, NaN where none is assigned. */
      readonly eventTimes: Float64Array;
    }
  /** A split's watermark after a chunk, for a subtask that none (or not the last) of its records went to. */
  | { readonly type: 'watermark'; readonly split: number; readonly watermark: number }
  | { readonly type: 'split-idle'; readonly split: number; readonly idle: boolean }
  /** A split discovered while running: it holds the watermark back until it delivers. */
  | { readonly type: 'split-added'; readonly split: number }
  | { readonly type: 'split-end'; readonly split: number }
  /** `drain`: end every split first (final watermark); without it, stop where the input is (savepoint stop). */
  | { readonly type: 'end-of-input'; readonly drain: boolean }
  | { readonly type: 'barrier'; readonly checkpointId: number }
  /** Checkpoint `checkpointId` is stored: commit sink output prepared for it and for any earlier one. */
  | { readonly type: 'commit'; readonly checkpointId: number }
  /** Decode a chunk now (not in turn with the batches): answered by `decoded` or `decode-failed`. */
  | { readonly type: 'decode'; readonly id: number; readonly request: DecodeRequest }
  /** The run failed: after the work in progress, skip the rest and discard sink output no commit lists (`aborted`). */
  | { readonly type: 'abort' }
  /** Records another subtask's stage sent into this one's next stage; answered by `shuffle-ack` with the token. */
  | ({ readonly type: 'shuffled'; readonly token: number } & ShuffledBatch)
  /** The minimum output watermark over every sender of a shuffle rose. */
  | { readonly type: 'shuffle-watermark'; readonly shuffle: number; readonly watermark: number }
  /** Every subtask has passed barrier `checkpointId` in the stage before `stage`, and sent what came before it. */
  | { readonly type: 'stage-barrier'; readonly stage: number; readonly checkpointId: number }
  /** Every subtask has finished the stage before `stage` and sent all it produced: `stage` ends too. */
  | { readonly type: 'stage-end'; readonly stage: number; readonly drain: boolean };

/** One subtask's records for one target subtask's next stage, in the order they were emitted. */
export interface ShuffledBatch {
  readonly records: Uint8Array;
  /** Per record: the shuffle (PhysicalPlan.shuffles) it crosses. */
  readonly shuffles: Uint8Array;
  /** Per record: its timestamp, NaN where none. */
  readonly timestamps: Float64Array;
}

export type FromSubtask =
  | { readonly type: 'ready' }
  | { readonly type: 'credit' }
  | { readonly type: 'metrics'; readonly counters: Record<string, number>; readonly watermark: number }
  | {
      readonly type: 'snapshot';
      readonly checkpointId: number;
      /** Sealed state file (operators and counters), encoded off the coordinator's thread. */
      readonly state: Uint8Array;
      /** Every sink output prepared and not yet committed, this checkpoint's and earlier failed ones'. */
      readonly pending: ReadonlyArray<{ readonly sink: string; readonly pending: unknown }>;
    }
  | { readonly type: 'committed'; readonly checkpointId: number }
  | { readonly type: 'aborted' }
  | { readonly type: 'finished'; readonly counters: Record<string, number> }
  | ({ readonly type: 'failed' } & ThreadError)
  | { readonly type: 'decoded'; readonly id: number; readonly result: DecodeResult }
  /** What one stage of this subtask sent into the next: batches per target, then the shuffles' new watermarks. */
  | {
      readonly type: 'shuffle-out';
      readonly stage: number;
      readonly targets: ReadonlyArray<{ readonly subtask: number } & ShuffledBatch>;
      readonly watermarks: ReadonlyArray<{ readonly shuffle: number; readonly watermark: number }>;
    }
  /** A `shuffled` batch is processed (and what it produced was sent before this). */
  | { readonly type: 'shuffle-ack'; readonly token: number }
  /** Barrier `checkpointId` passed `stage` (not the last): its state is kept until the last stage's snapshot. */
  | { readonly type: 'stage-passed'; readonly stage: number; readonly checkpointId: number }
  /** `stage` (not the last) finished and everything it produced was sent before this. */
  | { readonly type: 'stage-finished'; readonly stage: number }
  | ({ readonly type: 'decode-failed'; readonly id: number } & ThreadError);

/** An error as it crosses from a subtask thread: its first line, its stack, and its code if it was a CoattailError. */
export interface ThreadError {
  readonly message: string;
  readonly stack?: string;
  readonly code?: ErrorCode;
}
