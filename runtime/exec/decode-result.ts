// What the decode stage receives and returns for one chunk, and which of its buffers move between threads.

import type { ChunkPayload } from '../api/source.js';

export interface DecodeRequest {
  readonly chunkSeq: number;
  readonly origin: string;
  readonly payload: ChunkPayload;
  /** false: send every record as it is, even where the plan allows pre-aggregation (the coordinator's retry). */
  readonly preAggregate?: boolean;
}

export interface TargetBatch {
  readonly subtask: number;
  readonly count: number;
  readonly records: Uint8Array;
  /** Bit e set: the record takes exit e. */
  readonly exitMasks: Uint32Array;
  /** >= 0: the record's index in the ordered stream; < 0: -(ordered records before it) - 1. */
  readonly orderedIndex: Int32Array;
  /** Event time of each record (NaN where none is assigned). */
  readonly eventTimes: Float64Array;
}

export interface DecodeResult {
  readonly chunkSeq: number;
  readonly recordsIn: number;
  readonly counters: Record<string, number>;
  readonly orderedCount: number;
  /** The dedupe key of each ordered record as UTF-16 code units; key k ends at `dedupeKeys.ends[k]`. */
  readonly dedupeKeys?: { readonly chars: Uint16Array; readonly ends: Uint32Array };
  /** dedupeHash of each key, computed here so the coordinator's ordered stage does not hash them. */
  readonly dedupeHashes?: Uint32Array;
  readonly dedupeTimes?: Float64Array;
  readonly eventTimes?: Float64Array;
  readonly targets: TargetBatch[];
  /**
   * Set when records were pre-aggregated: the lowest watermark at which one of the partials would be late.
   * The coordinator sends the batches only if no subtask can have reached it (see pre-aggregation.ts).
   */
  readonly partialsFireAt?: number;
  /** A `lines` chunk's bytes, handed back by the decode thread (to decode again, then to be read into again). */
  readonly payload?: ChunkPayload;
}

/** The buffers of a decode result to transfer (not copy) to another thread. */
export function transferablesOf(result: DecodeResult): ArrayBuffer[] {
  const transfer: ArrayBuffer[] = [];
  if (result.payload?.kind === 'lines') transfer.push(result.payload.bytes.buffer as ArrayBuffer);
  for (const target of result.targets) {
    transfer.push(
      target.records.buffer as ArrayBuffer,
      target.exitMasks.buffer as ArrayBuffer,
      target.orderedIndex.buffer as ArrayBuffer,
      target.eventTimes.buffer as ArrayBuffer,
    );
  }
  if (result.dedupeKeys) transfer.push(result.dedupeKeys.chars.buffer as ArrayBuffer, result.dedupeKeys.ends.buffer as ArrayBuffer);
  if (result.dedupeTimes) transfer.push(result.dedupeTimes.buffer as ArrayBuffer);
  if (result.dedupeHashes) transfer.push(result.dedupeHashes.buffer as ArrayBuffer);
  if (result.eventTimes) transfer.push(result.eventTimes.buffer as ArrayBuffer);
  return transfer;
}
