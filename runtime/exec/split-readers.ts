// Reads every split concurrently and submits chunks for decoding, numbering them in the order they were read
// so the ordered stage can apply them in source order; bounded by the number of chunks in flight. Splits
// found later (Kinesis resharding) join the set; a split whose parents are among the splits starts only
// once they have all been read.

import type { ChunkPayload, Source, SplitDescriptor, SplitPosition } from '../api/source.js';
import type { DecodeRequest, DecodeResult } from './decode-result.js';
import type { DecodePool } from './decode-pool.js';
import type { OrderedResults } from './ordered-results.js';
import type { Semaphore } from './semaphore.js';

export type Item =
  | {
      readonly kind: 'chunk';
      readonly split: number;
      readonly request: DecodeRequest;
      readonly result: DecodeResult;
      readonly endPosition: SplitPosition;
      /** Hand a `lines` chunk's bytes back to its reader once nothing needs them any more. */
      readonly recycle: (bytes: Uint8Array) => void;
    }
  | { readonly kind: 'split-end'; readonly split: number };

export interface SplitReading {
  readonly source: Source;
  readonly pool: DecodePool;
  readonly inFlight: Semaphore;
  readonly results: OrderedResults<Item>;
  /** True once reading must stop (stop request or failure). */
  readonly shouldStop: () => boolean;
  /** The split read a chunk with records. */
  readonly onRecords: (split: number) => void;
  /**
   * The split is held up (waiting for a place among the chunks in flight, or a chunk read and not yet applied):
   * that time is not idleness. A place is released here; a chunk's hold is released when it is applied.
   */
  readonly onHold: (split: number) => void;
  readonly onRelease: (split: number) => void;
}

/** How often a split held back waiting for its children checks whether reading has stopped. */
const STOP_CHECK_MS = 100;

export class SplitReaders {
  private readonly splits: SplitDescriptor[] = [];
  private readonly reads = new Map<string, Promise<void>>();
  private readonly starts: Array<{ position: SplitPosition | undefined; ended: boolean }> = [];
  private readonly indexOf = new Map<string, number>();
  /** Per split: held from its addition until its reading starts (the engine has not asked it for records yet). */
  private readonly heldUntilStart: boolean[] = [];
  private readonly all: Array<Promise<void>> = [];
  /**
   * A live source that reshards (rediscovery and parents): a split that ends there (a closed Kinesis shard) is
   * continued by children that may not have been discovered yet. Reporting its end before they join would let
   * the run see every split ended (and stop), and let the watermark jump to +infinity ahead of the children.
   */
  private readonly holdEndsForChildren: boolean;
  /** Splits that a split in the run names as a parent. */
  private readonly continued = new Set<string>();
  private readonly waitingForChild = new Map<string, () => void>();

  constructor(private readonly reading: SplitReading) {
    const source = reading.source;
    this.holdEndsForChildren = !source.bounded && source.rediscoverMs !== undefined && typeof source.parentsOf === 'function';
  }

  /** Start reading a split (index = order of addition) from a position, or report it ended at once. */
  add(split: SplitDescriptor, position: SplitPosition | undefined, ended: boolean): void {
    const index = this.splits.length;
    this.splits.push(split);
    this.starts.push({ position, ended });
    this.indexOf.set(split.splitId, index);
    this.heldUntilStart.push(true);
    this.reading.onHold(index);
    for (const parent of this.reading.source.parentsOf?.(split) ?? []) {
      if (parent === split.splitId) continue;
      this.continued.add(parent);
      this.waitingForChild.get(parent)?.();
    }
    this.all.push(this.start(index));
  }

  /** The split's reading starts, or its wait for its parents does (that wait counts as time without records). */
  private started(index: number): void {
    if (!this.heldUntilStart[index]) return;
    this.heldUntilStart[index] = false;
    this.reading.onRelease(index);
  }

  /** Resolves when every split added so far has been read (or reading stopped). */
  async done(): Promise<void> {
    let count = -1;
    while (count !== this.all.length) {
      count = this.all.length;
      await Promise.all(this.all);
    }
  }

  private start(index: number): Promise<void> {
    const split = this.splits[index]!;
    let read = this.reads.get(split.splitId);
    if (!read) {
      const parents = (this.reading.source.parentsOf?.(split) ?? []).filter((id) => this.indexOf.has(id) && id !== split.splitId);
      if (parents.length > 0) this.started(index);
      read = Promise.all(parents.map((id) => this.start(this.indexOf.get(id)!))).then(() => this.read(split, index));
      this.reads.set(split.splitId, read);
    }
    return read;
  }

  /** Reads a split to its end and reports the end; children chain on this promise, so they start after it. */
  private async read(split: SplitDescriptor, index: number): Promise<void> {
    const { results } = this.reading;
    const { position, ended } = this.starts[index]!;
    this.started(index);
    if (!ended && !(await this.readToEnd(split, index, position))) return;
    if (this.holdEndsForChildren) {
      await this.childJoined(split.splitId);
      if (this.reading.shouldStop()) return;
    }
    results.put(results.reserve(), Promise.resolve({ kind: 'split-end', split: index }));
  }

  /** True when the reader reached the split's end, false when reading stopped first. */
  private async readToEnd(split: SplitDescriptor, index: number, position: SplitPosition | undefined): Promise<boolean> {
    const { results, inFlight, pool, source } = this.reading;
    this.reading.onHold(index); // opening is the engine's work, not a wait for records
    const reader = await source.openSplit(split, position).finally(() => this.reading.onRelease(index));
    const recycle = (bytes: Uint8Array): void => reader.recycle?.(bytes);
    let readError: unknown;
    try {
      for (;;) {
        this.reading.onHold(index);
        await inFlight.acquire();
        this.reading.onRelease(index);
        if (this.reading.shouldStop()) return false;
        const chunk = await reader.next();
        if (this.reading.shouldStop()) return false;
        if (!chunk) {
          inFlight.release(); // only chunks hold a place until they are applied
          return true;
        }
        const seq = results.reserve();
        // An empty chunk (a live source's poll that found nothing) is no data: the split may still go idle.
        if (hasData(chunk.payload)) this.reading.onRecords(index);
        this.reading.onHold(index); // until the chunk is applied
        const request: DecodeRequest = { chunkSeq: seq, origin: split.origin, payload: chunk.payload };
        const transferList = chunk.payload.kind === 'lines' ? [chunk.payload.bytes.buffer as ArrayBuffer] : [];
        const decoded = pool.run(request, transferList);
        results.put(seq, decoded.then((result) => ({ kind: 'chunk', split: index, request, result, endPosition: chunk.endPosition, recycle })));
      }
    } catch (error) {
      readError = error;
      throw error;
    } finally {
      // A close that fails as well must not hide the error that ended the read.
      await reader.close().catch((closeError: unknown) => {
        if (readError === undefined) throw closeError;
      });
    }
  }

  /**
   * Resolves once a split naming `splitId` as a parent has been added (discovery runs every `rediscoverMs`),
   * or reading stops. `add` registers a child before starting it, so the parent's end is put before the
   * child's first chunk.
   */
  private childJoined(splitId: string): Promise<void> {
    if (this.continued.has(splitId)) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const finish = (): void => {
        clearInterval(stopCheck);
        this.waitingForChild.delete(splitId);
        resolve();
      };
      const stopCheck = setInterval(() => {
        if (this.reading.shouldStop()) finish();
      }, STOP_CHECK_MS);
      stopCheck.unref();
      this.waitingForChild.set(splitId, finish);
    });
  }
}

function hasData(payload: ChunkPayload): boolean {
  return payload.kind === 'lines' ? payload.bytes.length > 0 : payload.texts.length > 0;
}
