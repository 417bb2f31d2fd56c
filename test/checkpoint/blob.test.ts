// Checksummed checkpoint framing: round trips, and each kind of damage reported by name.
import { randomBytes } from 'node:crypto';

import { describe, expect, test } from 'vitest';

import { BLOB_HEADER_BYTES, openBlob, sealBlob } from '../../runtime/checkpoint/blob.js';
import { CoattailError } from '../../runtime/errors.js';

const NAME = 's3://bucket/run/chk-3/_metadata';

function corruptionOf(bytes: Uint8Array): CoattailError {
  try {
    openBlob(bytes, NAME);
  } catch (error) {
    expect(error).toBeInstanceOf(CoattailError);
    const typed = error as CoattailError;
    expect(typed.code).toBe('CHECKPOINT_CORRUPT');
    expect(typed.message).toContain(`Checkpoint file ${NAME} is corrupt`);
    expect(typed.message).not.toContain('\n');
    return typed;
  }
  throw new Error('openBlob accepted a damaged file');
}

describe('sealBlob and openBlob', () => {
  test('return the original payload for random binary data', () => {
    const payload = new Uint8Array(randomBytes(1 << 20));
    const sealed = sealBlob(payload);
    expect(sealed.byteLength).toBe(BLOB_HEADER_BYTES + payload.byteLength);
    // Buffer.equals rather than toEqual: a deep comparison of a megabyte byte by byte takes seconds.
    expect(Buffer.from(openBlob(sealed, NAME)).equals(payload)).toBe(true);
  });

  test('round-trip an empty payload', () => {
    expect(openBlob(sealBlob(new Uint8Array(0)), NAME)).toEqual(new Uint8Array(0));
  });

  test('read a sealed blob that sits at an offset inside a larger buffer', () => {
    const payload = new TextEncoder().encode('{"offsets":[1,2,3]}');
    const sealed = sealBlob(payload);
    const larger = new Uint8Array(sealed.byteLength + 10);
    larger.set(sealed, 10);
    expect(openBlob(larger.subarray(10), NAME)).toEqual(payload);
  });

  test('start every file with the CTCK magic so foreign files are recognised', () => {
    expect(new TextDecoder().decode(sealBlob(new Uint8Array([1])).subarray(0, 4))).toBe('CTCK');
  });
});

describe('openBlob on damaged files', () => {
  const payload = new TextEncoder().encode('state of key group 0-63 '.repeat(100));

  test('reports a file cut inside the payload as truncated with both lengths', () => {
    const sealed = sealBlob(payload);
    const error = corruptionOf(sealed.subarray(0, sealed.byteLength - 7));
    expect(error.message).toContain('truncated');
    expect(error.message).toContain(`promises ${payload.byteLength} payload bytes but only ${payload.byteLength - 7}`);
  });

  test('reports a file cut inside the header as truncated', () => {
    const error = corruptionOf(sealBlob(payload).subarray(0, 20));
    expect(error.message).toContain(`truncated, only 20 bytes where the header alone needs ${BLOB_HEADER_BYTES}`);
  });

  test('reports an empty file as truncated', () => {
    expect(corruptionOf(new Uint8Array(0)).message).toContain('truncated, the file is empty');
  });

  test('reports one flipped payload byte as a checksum mismatch', () => {
    const sealed = sealBlob(payload);
    sealed[BLOB_HEADER_BYTES + 100] = (sealed[BLOB_HEADER_BYTES + 100] ?? 0) ^ 0x01;
    expect(corruptionOf(sealed).message).toContain('checksum mismatch');
  });

  test('reports a damaged stored checksum as a checksum mismatch', () => {
    const sealed = sealBlob(payload);
    sealed[20] = (sealed[20] ?? 0) ^ 0xff;
    expect(corruptionOf(sealed).message).toContain('checksum mismatch');
  });

  test('reports a file that is not a checkpoint blob as bad magic', () => {
    const error = corruptionOf(new TextEncoder().encode('{"this": "is plain JSON, not a sealed blob"}'));
    expect(error.message).toContain('bad magic');
  });

  test('reports a short foreign file as bad magic rather than truncated', () => {
    expect(corruptionOf(new Uint8Array([0x50, 0x4b])).message).toContain('bad magic');
  });

  test('reports an unknown format version', () => {
    const sealed = sealBlob(payload);
    new DataView(sealed.buffer).setUint32(4, 99);
    expect(corruptionOf(sealed).message).toContain('unsupported format version 99');
  });

  test('reports bytes appended after the payload', () => {
    const sealed = sealBlob(payload);
    const longer = new Uint8Array(sealed.byteLength + 3);
    longer.set(sealed);
    expect(corruptionOf(longer).message).toContain('3 unexpected bytes after the');
  });
});
