// Encodes state files: V8's serializer keeps Maps, typed arrays and -Infinity exactly; the blob adds a checksum.

import { deserialize, serialize } from 'node:v8';
import { openBlob, sealBlob } from './blob.js';

export function encodeState(value: unknown): Uint8Array {
  return sealBlob(serialize(value));
}

export function decodeState<T>(bytes: Uint8Array, name: string): T {
  return deserialize(openBlob(bytes, name)) as T;
}
