// Checkpoint storage: the same contract on a local directory and on S3 (s3rver), plus local atomicity and locations.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { LocalCheckpointStorage } from '../../runtime/checkpoint/storage/local.js';
import { openCheckpointStorage } from '../../runtime/checkpoint/storage/index.js';
import { openCheckpointStore } from '../../runtime/checkpoint/checkpoint-store.js';
import { S3CheckpointStorage } from '../../runtime/checkpoint/storage/s3.js';
import type { CheckpointStorage } from '../../runtime/checkpoint/storage/storage.js';
import { CoattailError } from '../../runtime/errors.js';
import { startS3Server, type TestS3Server } from '../support/s3-server.js';

const bytesOf = (text: string): Uint8Array => new TextEncoder().encode(text);
const textOf = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

async function rejection(promise: Promise<unknown>): Promise<CoattailError> {
  const error: unknown = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(CoattailError);
  expect((error as Error).message).not.toContain('\n');
  return error as CoattailError;
}

let temporaryRoot: string;
let s3Server: TestS3Server;
let storageCount = 0;

beforeAll(async () => {
  temporaryRoot = await mkdtemp(path.join(os.tmpdir(), 'coattail-storage-'));
  s3Server = await startS3Server();
});

afterAll(async () => {
  await s3Server?.stop();
  await rm(temporaryRoot, { recursive: true, force: true });
});

const backends: [string, () => CheckpointStorage][] = [
  ['a local directory', () => new LocalCheckpointStorage(path.join(temporaryRoot, `local-${++storageCount}`))],
  [
    'S3',
    () => new S3CheckpointStorage({ bucket: s3Server.bucket, prefix: `runs/run-${++storageCount}`, endpoint: s3Server.endpoint }),
  ],
];

describe.each(backends)('checkpoint storage on %s', (_name, createStorage) => {
  test('reads back every byte value under a nested key', async () => {
    const storage = createStorage();
    const everyByte = Uint8Array.from({ length: 256 }, (_, index) => index);
    await storage.put('chk-1/state/by-symbol/0-63', everyByte);
    expect(await storage.get('chk-1/state/by-symbol/0-63')).toEqual(everyByte);
  });

  test('round-trips a 5 MB object intact', async () => {
    const storage = createStorage();
    const large = new Uint8Array(randomBytes(5 * 1024 * 1024));
    await storage.put('chk-2/state/large', large);
    expect(Buffer.from(await storage.get('chk-2/state/large')).equals(large)).toBe(true);
  });

  test('replaces an object that is written again', async () => {
    const storage = createStorage();
    await storage.put('chk-1/_metadata', bytesOf('first'));
    await storage.put('chk-1/_metadata', bytesOf('second'));
    expect(textOf(await storage.get('chk-1/_metadata'))).toBe('second');
  });

  test('stores an empty object', async () => {
    const storage = createStorage();
    await storage.put('chk-1/empty', new Uint8Array(0));
    expect(await storage.get('chk-1/empty')).toEqual(new Uint8Array(0));
  });

  test('reports a missing object as CHECKPOINT_NOT_FOUND naming its full location', async () => {
    const storage = createStorage();
    await storage.put('chk-1/other', bytesOf('x'));
    const error = await rejection(storage.get('chk-1/_metadata'));
    expect(error.code).toBe('CHECKPOINT_NOT_FOUND');
    expect(error.message).toBe(`Checkpoint object ${storage.location}/chk-1/_metadata does not exist`);
  });

  test('lists keys under a prefix recursively in byte order', async () => {
    const storage = createStorage();
    const keys = ['chk-2/_metadata', 'chk-10/_metadata', 'chk-1/state/b/1', 'chk-1/_metadata', 'chk-1/state/a', 'other'];
    for (const key of keys) await storage.put(key, bytesOf(key));
    expect(await storage.list('chk-1/')).toEqual(['chk-1/_metadata', 'chk-1/state/a', 'chk-1/state/b/1']);
    expect(await storage.list('chk-1/state/')).toEqual(['chk-1/state/a', 'chk-1/state/b/1']);
    expect(await storage.list('chk-1')).toEqual([
      'chk-1/_metadata',
      'chk-1/state/a',
      'chk-1/state/b/1',
      'chk-10/_metadata',
    ]);
    expect(await storage.list('')).toEqual([...keys].sort());
  });

  test('lists nothing under a prefix that holds no objects', async () => {
    const storage = createStorage();
    expect(await storage.list('chk-1/')).toEqual([]);
    await storage.put('chk-2/_metadata', bytesOf('x'));
    expect(await storage.list('chk-1/')).toEqual([]);
  });

  test('deletes every object under a prefix and nothing else', async () => {
    const storage = createStorage();
    for (const key of ['chk-1/_metadata', 'chk-1/state/a/0-63', 'chk-10/_metadata', 'chk-2/_metadata']) {
      await storage.put(key, bytesOf(key));
    }
    await storage.deletePrefix('chk-1/');
    expect(await storage.list('')).toEqual(['chk-10/_metadata', 'chk-2/_metadata']);
    expect((await rejection(storage.get('chk-1/_metadata'))).code).toBe('CHECKPOINT_NOT_FOUND');
    await storage.deletePrefix('chk-');
    expect(await storage.list('')).toEqual([]);
  });

  test('deleting a prefix with no objects succeeds', async () => {
    const storage = createStorage();
    await storage.deletePrefix('chk-99/');
    expect(await storage.list('')).toEqual([]);
  });

  test('rejects keys that are empty or could escape the storage root', async () => {
    const storage = createStorage();
    for (const key of ['', '../outside', '/absolute', 'chk-1//x', 'chk-1/./x', 'chk-1\\x', 'chk-1/']) {
      expect((await rejection(storage.put(key, bytesOf('x')))).code).toBe('BAD_ARGUMENT');
    }
    expect((await rejection(storage.list('../'))).code).toBe('BAD_ARGUMENT');
  });
});

describe('local checkpoint storage', () => {
  test('leaves no temporary file behind after a write', async () => {
    const directory = path.join(temporaryRoot, 'atomic');
    const storage = new LocalCheckpointStorage(directory);
    await storage.put('chk-1/_metadata', bytesOf('done'));
    expect(await readdir(path.join(directory, 'chk-1'))).toEqual(['_metadata']);
  });

  test('never lists a half-written temporary file left by a crash, and deletes it with its prefix', async () => {
    const directory = path.join(temporaryRoot, 'crashed');
    const storage = new LocalCheckpointStorage(directory);
    await storage.put('chk-1/state/a', bytesOf('a'));
    await writeFile(path.join(directory, 'chk-1', '.coattail-tmp-_metadata-123-abc'), 'half');
    expect(await storage.list('')).toEqual(['chk-1/state/a']);
    await storage.deletePrefix('chk-1/');
    expect(await readdir(directory)).toEqual([]);
  });

  test('lists a directory that does not exist yet as empty', async () => {
    const storage = new LocalCheckpointStorage(path.join(temporaryRoot, 'never-created'));
    expect(await storage.list('')).toEqual([]);
  });

  test('reports a location that cannot be written as a STORAGE error naming the object', async () => {
    const blocker = path.join(temporaryRoot, 'a-file-not-a-directory');
    await writeFile(blocker, 'x');
    const storage = new LocalCheckpointStorage(blocker);
    const error = await rejection(storage.put('chk-1/_metadata', bytesOf('x')));
    expect(error.code).toBe('STORAGE');
    expect(error.message).toContain(`Cannot write checkpoint object ${path.join(blocker, 'chk-1', '_metadata')}`);
  });

  test('uses the absolute directory as its location', () => {
    expect(new LocalCheckpointStorage('relative/checkpoints').location).toBe(path.resolve('relative/checkpoints'));
  });
});

describe('openCheckpointStorage', () => {
  test('opens s3://bucket/prefix as S3 storage with that location (the SDK loads on first use)', () => {
    const storage = openCheckpointStorage('s3://my-bucket/runs/whale/');
    expect(storage).not.toBeInstanceOf(LocalCheckpointStorage);
    expect(storage.location).toBe('s3://my-bucket/runs/whale');
    expect(new S3CheckpointStorage({ bucket: 'my-bucket', prefix: 'runs/whale/' }).prefix).toBe('runs/whale/');
  });

  test('opens a bare bucket with an empty prefix', () => {
    expect(openCheckpointStorage('s3://my-bucket').location).toBe('s3://my-bucket');
    expect(new S3CheckpointStorage({ bucket: 'my-bucket', prefix: '' }).prefix).toBe('');
  });

  test('passes --s3-endpoint through to the S3 storage', () => {
    const storage = openCheckpointStorage('s3://my-bucket/x', { s3Endpoint: 'http://127.0.0.1:9000' }) as S3CheckpointStorage;
    expect(storage.endpoint).toEqual({ url: 'http://127.0.0.1:9000', source: '--s3-endpoint' });
  });

  test('opens plain paths and file: URLs as local directories', () => {
    expect(openCheckpointStorage('checkpoints')).toBeInstanceOf(LocalCheckpointStorage);
    expect(openCheckpointStorage('checkpoints').location).toBe(path.resolve('checkpoints'));
    expect(openCheckpointStorage('file:///tmp/coattail-checkpoints').location).toBe('/tmp/coattail-checkpoints');
  });

  test.each([
    ['', 'it is empty'],
    ['s3://', 'the bucket is missing'],
    ['s3:///prefix', 'the bucket is missing'],
    ['s3://My_Bucket/x', '"My_Bucket" is not a valid bucket name'],
    ['s3://bucket/a/../b', 'the prefix must not contain empty, "." or ".." segments'],
    ['gs://bucket/x', '"gs://" is not supported'],
  ])('rejects %j with a one-line BAD_ARGUMENT error', (location, problem) => {
    let caught: unknown;
    try {
      openCheckpointStorage(location);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(CoattailError);
    expect((caught as CoattailError).code).toBe('BAD_ARGUMENT');
    expect((caught as CoattailError).message.startsWith(`Invalid checkpoint location "${location}": `)).toBe(true);
    expect((caught as CoattailError).message).toContain(problem);
    expect((caught as CoattailError).message).not.toContain('\n');
  });

  test('rejects an endpoint that is not an http(s) URL, naming where it came from', () => {
    expect(() => openCheckpointStorage('s3://bucket/x', { s3Endpoint: 'ftp://host' })).toThrow(
      '--s3-endpoint must be an http:// or https:// URL, got "ftp://host"',
    );
  });
});

describe('checkpoint store', () => {
  test('tells a checkpoint that is not there (pruned) from one that never completed, naming the completed ones', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'coattail-store-'));
    try {
      const store = openCheckpointStore(dir);
      await store.storage.put('chk-4/subtask-0.state', new Uint8Array([1]));
      await store.storage.put('chk-5/_metadata', new Uint8Array([1]));
      const pruned = await rejection(store.readMetadata(3));
      expect(pruned.code).toBe('CHECKPOINT_NOT_FOUND');
      expect(pruned.message).toBe(`checkpoint 3 is not in ${dir} (pruned, or never taken); completed there: chk-5`);
      const unfinished = await rejection(store.readMetadata(4));
      expect(unfinished.code).toBe('CHECKPOINT_CORRUPT');
      expect(unfinished.message).toBe(`checkpoint 4 in ${dir} has no _metadata (it never completed)`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
