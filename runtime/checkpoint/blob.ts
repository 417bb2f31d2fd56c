// Checksummed framing for every checkpoint file, so a truncated or damaged file is caught on restore.
import { createHash } from 'node:crypto';

import { CoattailError } from '../errors.js';

/**
 * Layout, all integers big-endian:
 *   0  magic   4 bytes  "CTCK"
 *   4  version u32      BLOB_FORMAT_VERSION
 *   8  length  u64      payload bytes
 *  16  sha256  32 bytes of the payload
 *  48  payload
 */
const MAGIC = new Uint8Array([0x43, 0x54, 0x43, 0x4b]);
export const BLOB_FORMAT_VERSION = 1;
export const BLOB_HEADER_BYTES = 48;
const VERSION_OFFSET = 4;
const LENGTH_OFFSET = 8;
const DIGEST_OFFSET = 16;
const DIGEST_BYTES = 32;

function sha256(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes).digest();
}

/** Frame a payload with magic, version, length and a sha256 of the payload. */
export function sealBlob(payload: Uint8Array): Uint8Array {
  const blob = new Uint8Array(BLOB_HEADER_BYTES + payload.byteLength);
  blob.set(payload, BLOB_HEADER_BYTES);
  return sealBlobInPlace(blob);
}

/**
 * Write the header into the first BLOB_HEADER_BYTES of `blob`, whose payload follows them: for an encoder that
 * leaves room for the header, so a large state file is not copied once more to be framed.
 */
export function sealBlobInPlace(blob: Uint8Array): Uint8Array {
  const payload = blob.subarray(BLOB_HEADER_BYTES);
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  blob.set(MAGIC, 0);
  view.setUint32(VERSION_OFFSET, BLOB_FORMAT_VERSION);
  view.setBigUint64(LENGTH_OFFSET, BigInt(payload.byteLength));
  blob.set(sha256(payload), DIGEST_OFFSET);
  return blob;
}

function corrupt(name: string, problem: string): CoattailError {
  return new CoattailError('CHECKPOINT_CORRUPT', `Checkpoint file ${name} is corrupt: ${problem}`);
}

function startsWithMagic(bytes: Uint8Array): boolean {
  const compared = Math.min(bytes.byteLength, MAGIC.byteLength);
  for (let index = 0; index < compared; index++) {
    if (bytes[index] !== MAGIC[index]) return false;
  }
  return true;
}

/**
 * Check a framed file and return its payload (a view into `bytes`, not a copy).
 * `name` is how the file is named in the error, e.g. `s3://bucket/run/chk-3/_metadata`.
 */
export function openBlob(bytes: Uint8Array, name: string): Uint8Array {
  if (bytes.byteLength === 0) throw corrupt(name, 'truncated, the file is empty');
  if (!startsWithMagic(bytes)) {
    throw corrupt(name, 'bad magic, this is not a coattail checkpoint file (it does not start with "CTCK")');
  }
  if (bytes.byteLength < BLOB_HEADER_BYTES) {
    throw corrupt(name, `truncated, only ${bytes.byteLength} bytes where the header alone needs ${BLOB_HEADER_BYTES}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(VERSION_OFFSET);
  if (version !== BLOB_FORMAT_VERSION) {
    throw corrupt(name, `unsupported format version ${version} (this coattail reads version ${BLOB_FORMAT_VERSION})`);
  }
  const declaredLength = view.getBigUint64(LENGTH_OFFSET);
  const presentLength = BigInt(bytes.byteLength - BLOB_HEADER_BYTES);
  if (presentLength < declaredLength) {
    const shortfall = `the header promises ${declaredLength} payload bytes but only ${presentLength} are present`;
    throw corrupt(name, `truncated, ${shortfall}`);
  }
  if (presentLength > declaredLength) {
    throw corrupt(name, `${presentLength - declaredLength} unexpected bytes after the ${declaredLength}-byte payload`);
  }
  const payload = bytes.subarray(BLOB_HEADER_BYTES);
  const expected = bytes.subarray(DIGEST_OFFSET, DIGEST_OFFSET + DIGEST_BYTES);
  if (!sha256(payload).equals(expected)) {
    throw corrupt(name, 'checksum mismatch, the sha256 of the payload differs from the one in the header');
  }
  return payload;
}
