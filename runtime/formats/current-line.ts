// Where the line being handed to a job's first step lies in its chunk, so a format reader can read the
// bytes in place instead of parsing the line's text (see json-fields.ts).

import type { RawRecord } from '../api/source.js';

export interface LineInChunk {
  /** The record the bytes belong to; any other record (one kept from an earlier line) has no bytes here. */
  record: RawRecord | undefined;
  /** The chunk's bytes, all ASCII: character positions in `record.text` are byte positions. */
  bytes: Buffer;
  start: number;
  end: number;
}

const NO_BYTES = Buffer.alloc(0);

/**
 * One per thread, set by the decode stage around each call of the first step. Chunk buffers are reused once
 * decoded, so the bytes are valid only while `record` is the current one; readers check that identity.
 */
export const currentLine: LineInChunk = { record: undefined, bytes: NO_BYTES, start: 0, end: 0 };

/** Forgets the chunk (its buffer goes back to the reader). */
export function clearCurrentLine(): void {
  currentLine.record = undefined;
  currentLine.bytes = NO_BYTES;
  currentLine.start = 0;
  currentLine.end = 0;
}
