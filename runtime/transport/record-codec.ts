// Encodes a batch of records into one transferable buffer: columnar by shape (the default, see
// columnar-codec.ts), msgpackr with record structures, or structured clone (kept for comparison; see
// docs/benchmarks.md for how they measure).

import { Packr, Unpackr } from 'msgpackr';
import { deserialize, serialize } from 'node:v8';
import { ColumnarCodec } from './columnar-codec.js';

export type CodecName = 'columnar' | 'msgpack' | 'structured-clone';

export const CODEC_NAMES: readonly CodecName[] = ['columnar', 'msgpack', 'structured-clone'];

export interface RecordCodec {
  readonly name: CodecName;
  /** Returns a buffer the caller owns outright, so it can be transferred to another thread. */
  encode(records: readonly unknown[]): Uint8Array;
  decode(bytes: Uint8Array): unknown[];
}

export function createCodec(name: CodecName = 'columnar'): RecordCodec {
  if (name === 'columnar') {
    const codec = new ColumnarCodec();
    return { name, encode: (records) => codec.encode(records), decode: (bytes) => codec.decode(bytes) };
  }
  if (name === 'structured-clone') {
    return {
      name,
      encode: (records) => serialize(records),
      decode: (bytes) => deserialize(bytes) as unknown[],
    };
  }
  // Record structures travel inside each batch, so encoder and decoder need no shared registry.
  const packr = new Packr({ useRecords: true, moreTypes: true });
  const unpackr = new Unpackr({ useRecords: true, moreTypes: true });
  return {
    name,
    // pack() returns a Buffer view into a reused buffer (and Buffer#slice is a view too): copy it into an
    // ArrayBuffer of its own that can be transferred.
    encode: (records) => new Uint8Array(packr.pack(records)),
    decode: (bytes) => unpackr.unpack(bytes) as unknown[],
  };
}
