// Starts an in-memory kinesalite (a local Kinesis) on 127.0.0.1 with a random port, for tests and benchmarks.
import { createRequire } from 'node:module';
import type { Server } from 'node:http';
import { serveOnLoopback, type RunningServer } from './loopback-server.js';

interface KinesaliteOptions {
  createStreamMs?: number;
  deleteStreamMs?: number;
  updateStreamMs?: number;
  shardLimit?: number;
}

// kinesalite is CommonJS without type declarations.
const require = createRequire(import.meta.url);
const kinesalite = require('kinesalite') as (options: KinesaliteOptions) => Server;

export type RunningKinesalite = RunningServer;

export async function startKinesalite(): Promise<RunningKinesalite> {
  return serveOnLoopback(kinesalite({ createStreamMs: 10, deleteStreamMs: 10, updateStreamMs: 10, shardLimit: 100 }));
}
