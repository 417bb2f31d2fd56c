// Starts an in-memory dynalite (a local DynamoDB) on 127.0.0.1 with a random port, for tests.
import { createRequire } from 'node:module';
import type { Server } from 'node:http';
import { serveOnLoopback, type RunningServer } from './loopback-server.js';

interface DynaliteOptions {
  createTableMs?: number;
  deleteTableMs?: number;
  updateTableMs?: number;
}

// dynalite is CommonJS without type declarations.
const require = createRequire(import.meta.url);
const dynalite = require('dynalite') as (options: DynaliteOptions) => Server;

export type RunningDynalite = RunningServer;

export async function startDynalite(): Promise<RunningDynalite> {
  // No `path`: the store lives in memory. Short state changes keep "wait until ACTIVE" exercised but quick.
  return serveOnLoopback(dynalite({ createTableMs: 20, deleteTableMs: 20, updateTableMs: 20 }));
}
