// Cuts a chunk into the records a job's first step receives: one per non-empty line (or per record of a
// records payload), each with its source and byte offset.

import { isAscii } from 'node:buffer';
import type { ChunkPayload, RawRecord } from '../api/source.js';
import { clearCurrentLine, currentLine } from './current-line.js';

/**
 * Buffer#latin1Slice: what `toString('latin1', start, end)` calls after checking its arguments, which measured
 * as costly as the slice itself once per line. Not in Node's typings; `toString` where it is missing.
 */
const latin1Slice: (this: Buffer, start: number, end: number) => string =
  (Buffer.prototype as unknown as { latin1Slice?: (this: Buffer, start: number, end: number) => string }).latin1Slice ??
  function (this: Buffer, start: number, end: number): string {
    return this.toString('latin1', start, end);
  };

/** Calls `each` for every record of a chunk in order; returns how many. Empty lines are skipped. */
export function forEachRawRecord(payload: ChunkPayload, origin: string, each: (record: RawRecord) => void): number {
  let count = 0;
  if (payload.kind === 'records') {
    for (let i = 0; i < payload.texts.length; i++) {
      each({ text: payload.texts[i]!, source: origin, offset: payload.offsets[i]! });
      count++;
    }
    return count;
  }
  const bytes = Buffer.from(payload.bytes.buffer, payload.bytes.byteOffset, payload.bytes.byteLength);
  const base = payload.firstOffset;
  if (isAscii(bytes)) {
    // Line by line, each line a small string of its own: JSON.parse measured up to 2x slower on slices of one
    // chunk-sized string (docs/benchmarks.md). In ASCII, character positions are byte positions.
    // Format readers may read the line's bytes in place while its first step runs (runtime/formats).
    const line = currentLine;
    line.bytes = bytes;
    try {
      let position = 0;
      while (position < bytes.length) {
        let newline = bytes.indexOf(10, position);
        if (newline < 0) newline = bytes.length;
        if (newline > position) {
          const record: RawRecord = { text: latin1Slice.call(bytes, position, newline), source: origin, offset: base + position };
          line.record = record;
          line.start = position;
          line.end = newline;
          each(record);
          count++;
        }
        position = newline + 1;
      }
    } finally {
      clearCurrentLine();
    }
    return count;
  }
  // Decode line by line so offsets stay exact bytes even where invalid UTF-8 becomes U+FFFD.
  let position = 0;
  while (position < bytes.length) {
    let newline = bytes.indexOf(10, position);
    if (newline < 0) newline = bytes.length;
    if (newline > position) {
      each({ text: bytes.toString('utf8', position, newline), source: origin, offset: base + position });
      count++;
    }
    position = newline + 1;
  }
  return count;
}
