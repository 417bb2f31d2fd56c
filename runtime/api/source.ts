// The contract between a connector that produces raw records and the engine that decodes them.

/** Where a split has got to; stored in checkpoints and handed back on restore. */
export type SplitPosition = number | string | null;

/** One unit of parallel reading with its own order and watermark: a file, a Kinesis shard, a feed. */
export interface SplitDescriptor {
  readonly splitId: string;
  /** Human-readable origin written into DLQ rows, e.g. `file:/data/tape.jsonl`, `kinesis:trades/shardId-0`. */
  readonly origin: string;
}

/**
 * A chunk of raw records from one split, in split order.
 * - `lines`: UTF-8 bytes holding whole `\n`-terminated lines (the last line may lack its `\n` only at end of split);
 *   `firstOffset` is the byte offset of `bytes[0]` in the split, so each line's offset is derivable.
 * - `records`: discrete payloads (Kinesis records, websocket frames) with their own offsets.
 */
export type ChunkPayload =
  | { readonly kind: 'lines'; readonly bytes: Uint8Array; readonly firstOffset: number }
  | { readonly kind: 'records'; readonly texts: readonly string[]; readonly offsets: readonly (number | string)[] };

export interface SourceChunk {
  readonly payload: ChunkPayload;
  /** The position to resume from after this chunk has been processed. */
  readonly endPosition: SplitPosition;
}

export interface SplitReader {
  /** The next chunk, or `undefined` once a bounded split is finished. May wait (live sources). */
  next(): Promise<SourceChunk | undefined>;
  /** True when the split has had no data for a while; an idle split does not hold the watermark back. */
  isIdle?(): boolean;
  /** The bytes of a `lines` chunk this reader returned, no longer needed by the engine: it may read into them. */
  recycle?(bytes: Uint8Array): void;
  close(): Promise<void>;
}

export interface Source {
  /** The URI the source was created from, e.g. `file:/tmp/x.jsonl`. */
  readonly uri: string;
  /** A bounded source ends; its end of input moves the watermark to +infinity. */
  readonly bounded: boolean;
  /** Discover the current splits. Called once at start and, for sources that set `rediscoverMs`, periodically. */
  discoverSplits(): Promise<SplitDescriptor[]>;
  /** Splits discovered later (resharding) are read only after `discoverSplits` returns them. */
  readonly rediscoverMs?: number;
  /**
   * Open a reader. `from` is a position saved earlier (restore), or undefined to start at the beginning
   * the source is configured for.
   */
  openSplit(split: SplitDescriptor, from: SplitPosition | undefined): Promise<SplitReader>;
  /** Splits that may only start once these parents are finished (Kinesis resharding). */
  parentsOf?(split: SplitDescriptor): readonly string[];
  /**
   * What the source counts about its own input that no record shows (exchange feeds: reconnects, trade id
   * gaps, missed trades); `_summary.json` carries it as `source_stats`. Plain JSON data.
   */
  stats?(): object;
}

/** What the first operator after a source receives: one raw record with its provenance. */
export interface RawRecord {
  readonly text: string;
  /** The split's origin, e.g. `file:/data/tape.jsonl`. */
  readonly source: string;
  /** Byte offset of the line in a file, or a sequence number. */
  readonly offset: number | string;
}
