// Encodes state files: V8's serializer keeps Maps, typed arrays and -Infinity exactly; the blob adds a checksum.

import { DefaultSerializer, deserialize, serialize } from 'node:v8';
import { CoattailError, describeError } from '../errors.js';
import { BLOB_HEADER_BYTES, openBlob, sealBlobInPlace } from './blob.js';

/** As `sealBlob(serialize(value))`, byte for byte, without copying the payload behind a header. */
export function encodeState(value: unknown): Uint8Array {
  const serializer = new DefaultSerializer();
  serializer.writeRawBytes(new Uint8Array(BLOB_HEADER_BYTES));
  serializer.writeHeader();
  serializer.writeValue(value);
  return sealBlobInPlace(serializer.releaseBuffer());
}

/**
 * A copy of steps' snapshots, taken when a barrier passes an earlier stage of the subtask (§35): snapshots refer to
 * live state (accumulators, values) that the stage goes on changing until the last stage's barrier sends them.
 */
export function copyOperatorState<T>(operators: Readonly<Record<string, T>>): Record<string, T> {
  const copy: Record<string, T> = {};
  for (const [step, state] of Object.entries(operators)) {
    try {
      copy[step] = deserialize(serialize(state)) as T;
    } catch (error) {
      throw unstorableState(step, error);
    }
  }
  return copy;
}

/** The error naming a step whose state V8's serializer cannot copy: its own message names only the value. */
export function unstorableState(step: string, error: unknown): CoattailError {
  return new CoattailError(
    'CHECKPOINT_FAILED',
    `step "${step}" keeps state a checkpoint cannot store (${describeError(error)}); keep plain data in state: objects, arrays, Maps, strings, numbers`,
    { cause: error },
  );
}

export function decodeState<T>(bytes: Uint8Array, name: string): T {
  return deserialize(openBlob(bytes, name)) as T;
}

/**
 * Checks a state file now and decodes it when called, once: the checked bytes are let go as it decodes. A restore
 * checks every file before it starts, then decodes big ones one at a time instead of holding them all decoded.
 */
export function checkedState<T>(bytes: Uint8Array, name: string): () => T {
  let payload: Uint8Array | undefined = openBlob(bytes, name);
  return () => {
    if (!payload) throw new Error(`internal error: ${name} was decoded already`);
    const decoding = payload;
    payload = undefined;
    return deserialize(decoding) as T;
  };
}
