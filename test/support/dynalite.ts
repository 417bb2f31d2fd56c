// Starts an in-memory dynalite (a local DynamoDB) on 127.0.0.1 with a random port, for tests.
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';

interface DynaliteOptions {
  createTableMs?: number;
  deleteTableMs?: number;
  updateTableMs?: number;
}

// dynalite is CommonJS without type declarations.
const require = createRequire(import.meta.url);
const dynalite = require('dynalite') as (options: DynaliteOptions) => Server;

export interface RunningDynalite {
  readonly endpoint: string;
  stop(): Promise<void>;
}

export async function startDynalite(): Promise<RunningDynalite> {
  // Fake credentials for this process only (never a developer's real ones): the SDK signs every request,
  // dynalite ignores the signature.
  process.env.AWS_ACCESS_KEY_ID = 'coattail-test-key';
  process.env.AWS_SECRET_ACCESS_KEY = 'coattail-test-secret';
  delete process.env.AWS_SESSION_TOKEN;
  // No `path`: the store lives in memory. Short state changes keep "wait until ACTIVE" exercised but quick.
  const server = dynalite({ createTableMs: 20, deleteTableMs: 20, updateTableMs: 20 });
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
