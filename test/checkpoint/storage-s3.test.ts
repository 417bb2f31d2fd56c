// S3 checkpoint storage against s3rver: endpoints, region fallback, outages, and errors a user can act on.
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';

import { resolveS3Endpoint, S3CheckpointStorage } from '../../runtime/checkpoint/storage/s3.js';
import { CoattailError } from '../../runtime/errors.js';
import { startS3Server, type TestS3Server } from '../support/s3-server.js';

/** A hang would be a bug: these tests must end well before vitest's default timeout. */
const HANG_GUARD = { timeout: 30_000 };
const bytesOf = (text: string): Uint8Array => new TextEncoder().encode(text);
const textOf = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
const NO_SUCH_FILE = path.join(os.tmpdir(), 'coattail-no-such-aws-file');

async function rejection(promise: Promise<unknown>): Promise<CoattailError> {
  const error: unknown = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(CoattailError);
  expect((error as Error).message).not.toContain('\n');
  return error as CoattailError;
}

/** A loopback port nothing listens on: connects to it are refused at once. */
async function closedPortEndpoint(): Promise<string> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

let server: TestS3Server;
let runCount = 0;
const savedEnvironment = { ...process.env };

function storageAt(options: Partial<ConstructorParameters<typeof S3CheckpointStorage>[0]> = {}): S3CheckpointStorage {
  return new S3CheckpointStorage({ bucket: server.bucket, prefix: `s3-tests/run-${++runCount}`, ...options });
}

beforeAll(async () => {
  server = await startS3Server();
  // Keep the SDK away from this machine's AWS files; tests set what they need.
  process.env.AWS_CONFIG_FILE = NO_SUCH_FILE;
  process.env.AWS_SHARED_CREDENTIALS_FILE = NO_SUCH_FILE;
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  delete process.env.AWS_PROFILE;
  delete process.env.AWS_ENDPOINT_URL;
  delete process.env.AWS_ENDPOINT_URL_S3;
  Object.assign(savedEnvironment, process.env);
});

afterEach(() => {
  for (const name of Object.keys(process.env)) if (!(name in savedEnvironment)) delete process.env[name];
  Object.assign(process.env, savedEnvironment);
});

afterAll(async () => {
  await server?.stop();
});

describe('S3 endpoint and region', () => {
  test('takes the endpoint from AWS_ENDPOINT_URL_S3 before AWS_ENDPOINT_URL', async () => {
    process.env.AWS_ENDPOINT_URL_S3 = server.endpoint;
    process.env.AWS_ENDPOINT_URL = await closedPortEndpoint();
    const storage = storageAt();
    expect(storage.endpoint).toEqual({ url: server.endpoint, source: 'AWS_ENDPOINT_URL_S3' });
    await storage.put('chk-1/_metadata', bytesOf('via env'));
    expect(textOf(await storage.get('chk-1/_metadata'))).toBe('via env');
  });

  test('takes the endpoint from AWS_ENDPOINT_URL when no S3-specific one is set', async () => {
    process.env.AWS_ENDPOINT_URL = server.endpoint;
    const storage = storageAt();
    expect(storage.endpoint?.source).toBe('AWS_ENDPOINT_URL');
    await storage.put('a', bytesOf('x'));
    expect(await storage.list('')).toEqual(['a']);
  });

  test('prefers the endpoint option over the environment', async () => {
    process.env.AWS_ENDPOINT_URL_S3 = await closedPortEndpoint();
    const storage = storageAt({ endpoint: server.endpoint });
    expect(storage.endpoint?.source).toBe('--s3-endpoint');
    await storage.put('a', bytesOf('x'));
    expect(textOf(await storage.get('a'))).toBe('x');
  });

  test('ignores endpoint variables when AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is true', () => {
    const environment = { AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9000', AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true' };
    expect(resolveS3Endpoint(undefined, environment)).toBeUndefined();
    expect(resolveS3Endpoint('http://127.0.0.1:9001', environment)?.source).toBe('--s3-endpoint');
    expect(resolveS3Endpoint(undefined, { AWS_ENDPOINT_URL: 'http://127.0.0.1:9002' })?.source).toBe('AWS_ENDPOINT_URL');
  });

  test('rejects an endpoint variable that is not a URL, naming the variable', () => {
    expect(() => resolveS3Endpoint(undefined, { AWS_ENDPOINT_URL_S3: 'localhost:9000' })).toThrow(
      'AWS_ENDPOINT_URL_S3 must be an http:// or https:// URL, got "localhost:9000"',
    );
  });

  test('works against an S3-compatible endpoint when no region is configured anywhere', async () => {
    delete process.env.AWS_REGION;
    delete process.env.AWS_DEFAULT_REGION;
    const storage = storageAt({ endpoint: server.endpoint });
    await storage.put('chk-1/_metadata', bytesOf('no region'));
    expect(textOf(await storage.get('chk-1/_metadata'))).toBe('no region');
  });

  test('asks for a region when neither a region nor an endpoint is configured', async () => {
    delete process.env.AWS_REGION;
    delete process.env.AWS_DEFAULT_REGION;
    const storage = storageAt();
    const error = await rejection(storage.put('chk-1/_metadata', bytesOf('x')));
    expect(error.code).toBe('STORAGE');
    expect(error.message).toContain('no AWS region configured: set AWS_REGION');
  });
});

describe('S3 objects and prefixes', () => {
  test('keeps objects under the storage prefix, invisible to other prefixes', async () => {
    const first = new S3CheckpointStorage({ bucket: server.bucket, prefix: '/isolation/a/', endpoint: server.endpoint });
    const second = new S3CheckpointStorage({ bucket: server.bucket, prefix: 'isolation/b', endpoint: server.endpoint });
    const bucketRoot = new S3CheckpointStorage({ bucket: server.bucket, prefix: '', endpoint: server.endpoint });
    await first.put('chk-1/_metadata', bytesOf('a'));
    expect(first.location).toBe(`s3://${server.bucket}/isolation/a`);
    expect(await second.list('')).toEqual([]);
    expect(await bucketRoot.list('isolation/')).toEqual(['isolation/a/chk-1/_metadata']);
  });

  test('lists past 1000 keys and deletes them in batches', async () => {
    const storage = storageAt({ endpoint: server.endpoint });
    const keys = Array.from({ length: 1005 }, (_, index) => `chk-1/state/${String(index).padStart(4, '0')}`);
    for (let start = 0; start < keys.length; start += 50) {
      await Promise.all(keys.slice(start, start + 50).map((key) => storage.put(key, bytesOf(key))));
    }
    await storage.put('chk-2/_metadata', bytesOf('kept'));
    expect(await storage.list('chk-1/')).toEqual(keys);
    await storage.deletePrefix('chk-1/');
    expect(await storage.list('')).toEqual(['chk-2/_metadata']);
  });

  test('names the bucket when it does not exist', async () => {
    const storage = new S3CheckpointStorage({ bucket: 'no-such-bucket', prefix: 'x', endpoint: server.endpoint });
    const error = await rejection(storage.put('chk-1/_metadata', bytesOf('x')));
    expect(error.code).toBe('STORAGE');
    expect(error.message).toBe(
      `Cannot write checkpoint object s3://no-such-bucket/x/chk-1/_metadata: bucket "no-such-bucket" does not exist at ${server.endpoint}`,
    );
  });
});

describe('S3 credentials', () => {
  test('reports rejected credentials without printing the keys', async () => {
    process.env.AWS_ACCESS_KEY_ID = 'AKIAWRONGKEY';
    process.env.AWS_SECRET_ACCESS_KEY = 'wrong-secret-value';
    const error = await rejection(storageAt({ endpoint: server.endpoint }).put('a', bytesOf('x')));
    expect(error.message).toContain('rejected the credentials (InvalidAccessKeyId)');
    expect(error.message).not.toContain('AKIAWRONGKEY');
    expect(error.message).not.toContain('wrong-secret-value');
  });

  test("reports missing credentials by pointing at the SDK's default chain", async () => {
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
    const error = await rejection(storageAt({ endpoint: server.endpoint }).put('a', bytesOf('x')));
    expect(error.code).toBe('STORAGE');
    expect(error.message).toContain("no AWS credentials found by the SDK's default chain");
  });
});

describe('S3 outages', () => {
  test('fails with one clear message when the endpoint refuses connections', HANG_GUARD, async () => {
    const endpoint = await closedPortEndpoint();
    const storage = storageAt({ endpoint });
    const error = await rejection(storage.put('chk-1/_metadata', bytesOf('x')));
    expect(error.code).toBe('STORAGE');
    expect(error.message).toBe(
      `Cannot write checkpoint object ${storage.location}/chk-1/_metadata: cannot reach ${endpoint} (connection refused, ECONNREFUSED)`,
    );
  });

  test('fails with a timeout message when the server accepts but never answers', HANG_GUARD, async () => {
    const storage = storageAt({ endpoint: server.endpoint, idleTimeoutMs: 300, maxAttempts: 2 });
    await storage.put('chk-1/_metadata', bytesOf('before'));
    await server.pause('stall');
    try {
      const error = await rejection(storage.get('chk-1/_metadata'));
      expect(error.code).toBe('STORAGE');
      expect(error.message).toContain(`${server.endpoint} stopped answering (request timed out)`);
    } finally {
      await server.resume();
    }
    expect(textOf(await storage.get('chk-1/_metadata'))).toBe('before');
  });

  test('recovers once the server is back after an outage', HANG_GUARD, async () => {
    const storage = storageAt({ endpoint: server.endpoint });
    await storage.put('chk-1/_metadata', bytesOf('one'));
    await server.pause('refuse');
    try {
      const writeError = await rejection(storage.put('chk-2/_metadata', bytesOf('two')));
      expect(writeError.code).toBe('STORAGE');
      expect(writeError.message).toContain(`${storage.location}/chk-2/_metadata: cannot reach ${server.endpoint}`);
      expect((await rejection(storage.list(''))).message).toContain('connection refused');
    } finally {
      await server.resume();
    }
    await storage.put('chk-2/_metadata', bytesOf('two'));
    expect(await storage.list('')).toEqual(['chk-1/_metadata', 'chk-2/_metadata']);
    expect(textOf(await storage.get('chk-1/_metadata'))).toBe('one');
  });
});
