// Encodes a batch of records into one transferable buffer. msgpackr with record structures was the fastest
// generic encoding measured here (see docs/benchmarks.md); structured clone is kept for comparison.

import { Packr, Unpackr } from 'msgpackr';
import { deserialize, serialize } from 'node:v8';

export type CodecName = 'msgpack' | 'structured-clone';

export interface RecordCodec {
  readonly name: CodecName;
  /** Returns a buffer the caller owns outright, so it can be transferred to another thread. */
  encode(records: readonly unknown[]): Uint8Array;
  decode(bytes: Uint8Array): unknown[];
}

export function createCodec(name: CodecName = 'msgpack'): RecordCodec {
  if (name === 'structured-clone') {
    return {
      name,
      encode: (records) => serialize(records),
      decode: (bytes) => deserialize(bytes) as unknown[],
    };
  }
  // Record structures travel inside each batch, so encoder and decoder need no shared registry.
  const packr = new Packr({ useRecords: true });
  const unpackr = new Unpackr({ useRecords: true });
  return {
    name,
    // pack() returns a Buffer view into a reused buffer (and Buffer#slice is a view too): copy it into an
    // ArrayBuffer of its own that can be transferred.
    encode: (records) => new Uint8Array(packr.pack(records)),
    decode: (bytes) => unpackr.unpack(bytes) as unknown[],
  };
}
