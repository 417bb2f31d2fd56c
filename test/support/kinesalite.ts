// Starts an in-memory kinesalite (a local Kinesis) on 127.0.0.1 with a random port, for tests and benchmarks.
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';

interface KinesaliteOptions {
  createStreamMs?: number;
  deleteStreamMs?: number;
  updateStreamMs?: number;
  shardLimit?: number;
}

// kinesalite is CommonJS without type declarations.
const require = createRequire(import.meta.url);
const kinesalite = require('kinesalite') as (options: KinesaliteOptions) => Server;

export interface RunningKinesalite {
  readonly endpoint: string;
  stop(): Promise<void>;
}

export async function startKinesalite(): Promise<RunningKinesalite> {
  // Fake credentials for this process only (never a developer's real ones): the SDK signs every request,
  // kinesalite ignores the signature.
  process.env.AWS_ACCESS_KEY_ID = 'coattail-test-key';
  process.env.AWS_SECRET_ACCESS_KEY = 'coattail-test-secret';
  delete process.env.AWS_SESSION_TOKEN;
  const server = kinesalite({ createStreamMs: 10, deleteStreamMs: 10, updateStreamMs: 10, shardLimit: 100 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
