// Reads every split concurrently and submits chunks for decoding, numbering them in the order they were read
// so the ordered stage can apply them in source order; bounded by the number of chunks in flight.

import type { Piscina } from 'piscina';
import type { Source, SplitDescriptor, SplitPosition } from '../api/source.js';
import type { DecodeRequest, DecodeResult } from './decode-stage.js';
import type { OrderedResults } from './ordered-results.js';
import type { Semaphore } from './semaphore.js';

export type Item =
  | { readonly kind: 'chunk'; readonly split: number; readonly result: DecodeResult; readonly endPosition: SplitPosition }
  | { readonly kind: 'split-end'; readonly split: number };

export interface SplitReading {
  readonly source: Source;
  readonly splits: readonly SplitDescriptor[];
  /** Where each split resumes (restore), or undefined to start at the source's beginning. */
  readonly startPositions: ReadonlyArray<SplitPosition | undefined>;
  /** Splits already finished in the restored checkpoint: reported as ended without reading. */
  readonly alreadyEnded: readonly boolean[];
  readonly pool: Piscina;
  readonly inFlight: Semaphore;
  readonly results: OrderedResults<Item>;
  /** True once reading must stop (stop request or failure). */
  readonly shouldStop: () => boolean;
  readonly onActivity: (split: number) => void;
}

export async function readAllSplits(reading: SplitReading): Promise<void> {
  // A split whose parents are among the splits (a Kinesis child shard) starts once they have all been read.
  const finished = new Map<string, Promise<void>>();
  const indexOf = new Map(reading.splits.map((split, index) => [split.splitId, index]));
  const start = (index: number): Promise<void> => {
    const split = reading.splits[index]!;
    let done = finished.get(split.splitId);
    if (!done) {
      const parents = (reading.source.parentsOf?.(split) ?? []).filter((id) => indexOf.has(id) && id !== split.splitId);
      done = Promise.all(parents.map((id) => start(indexOf.get(id)!))).then(() => readSplit(reading, split, index));
      finished.set(split.splitId, done);
    }
    return done;
  };
  await Promise.all(reading.splits.map((_, index) => start(index)));
}

async function readSplit(reading: SplitReading, split: SplitDescriptor, index: number): Promise<void> {
  const { results, inFlight, pool } = reading;
  if (reading.alreadyEnded[index]) {
    results.put(results.reserve(), Promise.resolve({ kind: 'split-end', split: index }));
    return;
  }
  const reader = await reading.source.openSplit(split, reading.startPositions[index]);
  try {
    for (;;) {
      await inFlight.acquire();
      if (reading.shouldStop()) return;
      const chunk = await reader.next();
      if (reading.shouldStop()) return;
      const seq = results.reserve();
      if (!chunk) {
        inFlight.release(); // only chunks hold a place until they are applied
        results.put(seq, Promise.resolve({ kind: 'split-end', split: index }));
        return;
      }
      reading.onActivity(index);
      const request: DecodeRequest = { chunkSeq: seq, origin: split.origin, payload: chunk.payload };
      const transferList = chunk.payload.kind === 'lines' ? [chunk.payload.bytes.buffer as ArrayBuffer] : [];
      const decoded = pool.run(request, { transferList }) as Promise<DecodeResult>;
      results.put(seq, decoded.then((result) => ({ kind: 'chunk', split: index, result, endPosition: chunk.endPosition })));
    }
  } finally {
    await reader.close();
  }
}
