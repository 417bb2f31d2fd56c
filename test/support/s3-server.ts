// Starts s3rver in a child process on 127.0.0.1, behind a TCP proxy that can refuse or stall connections (outages).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/**
 * s3rver runs in a child process started with `--openssl-legacy-provider`: it signs list continuation tokens with
 * DES, which OpenSSL 3 only offers through its legacy provider, so any listing longer than 1000 keys fails in-process.
 * The child exits when its stdin closes, so a crashed test process never leaves it behind.
 */
const S3RVER_CHILD = `
const [modulePath, directory, bucket] = process.argv.slice(1);
const S3rver = require(modulePath);
const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: [{ name: bucket }] });
server.run().then(
  ({ port }) => process.stdout.write(JSON.stringify({ port }) + '\\n'),
  (error) => { process.stderr.write(String(error && error.message) + '\\n'); process.exit(1); },
);
const stop = () => server.close().finally(() => process.exit(0));
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();
`;

function startS3rverProcess(directory: string, bucket: string): Promise<{ child: ChildProcess; port: number }> {
  const require = createRequire(import.meta.url);
  const child = spawn(
    process.execPath,
    ['--openssl-legacy-provider', '--no-deprecation', '-e', S3RVER_CHILD, require.resolve('s3rver'), directory, bucket],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let errorOutput = '';
  child.stderr?.on('data', (chunk: Buffer) => (errorOutput += chunk.toString()));
  return new Promise((resolve, reject) => {
    let output = '';
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`s3rver exited with code ${code} before listening: ${errorOutput}`)));
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const line = output.split('\n')[0];
      if (output.includes('\n') && line) resolve({ child, port: (JSON.parse(line) as { port: number }).port });
    });
  });
}

function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const forceKill = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(forceKill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** `refuse`: the port is closed, connects fail at once. `stall`: connects succeed but nothing is ever answered. */
export type OutageMode = 'refuse' | 'stall';

export interface TestS3Server {
  /** Path-style endpoint of the proxy in front of s3rver, e.g. `http://127.0.0.1:41234`. */
  readonly endpoint: string;
  /** A bucket created before the server answers its first request. */
  readonly bucket: string;
  /** Start an outage: every open connection is cut and new ones fail as `mode` says. */
  pause(mode?: OutageMode): Promise<void>;
  /** End the outage: the same endpoint serves again. */
  resume(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Credentials for s3rver, set in this test process only: the SDK's default chain picks them up from the
 * environment. s3rver accepts exactly this pair.
 */
export function useFakeS3Credentials(): void {
  process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
  process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
  process.env.AWS_REGION ??= 'us-east-1';
}

function listen(server: net.Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

export async function startS3Server(bucket = 'coattail-test'): Promise<TestS3Server> {
  useFakeS3Credentials();
  const directory = await mkdtemp(path.join(os.tmpdir(), 'coattail-s3rver-'));
  const { child: s3rver, port: upstreamPort } = await startS3rverProcess(directory, bucket);

  const sockets = new Set<net.Socket>();
  let mode: OutageMode | 'up' = 'up';
  const track = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const handleConnection = (client: net.Socket): void => {
    track(client);
    if (mode === 'stall') return;
    const upstream = net.connect(upstreamPort, '127.0.0.1');
    track(upstream);
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  };

  let proxy = net.createServer(handleConnection);
  const port = await listen(proxy, 0);
  const cutConnections = (): void => {
    for (const socket of sockets) socket.destroy();
    sockets.clear();
  };

  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    async pause(outage: OutageMode = 'refuse') {
      if (mode !== 'up') throw new Error('the test S3 server is already paused');
      mode = outage;
      cutConnections();
      if (outage === 'refuse') await closeServer(proxy);
    },
    async resume() {
      if (mode === 'up') return;
      const wasRefusing = mode === 'refuse';
      cutConnections();
      mode = 'up';
      if (wasRefusing) {
        proxy = net.createServer(handleConnection);
        await listen(proxy, port);
      }
    },
    async stop() {
      mode = 'stall';
      cutConnections();
      if (proxy.listening) await closeServer(proxy);
      await stopProcess(s3rver);
      await rm(directory, { recursive: true, force: true });
    },
  };
}
