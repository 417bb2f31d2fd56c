// Runs a local AWS-compatible HTTP server (kinesalite, dynalite) on 127.0.0.1 with a random port.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';

export interface RunningServer {
  readonly endpoint: string;
  stop(): Promise<void>;
}

export async function serveOnLoopback(server: Server): Promise<RunningServer> {
  // Fake credentials for this process only (never a developer's real ones): the SDK signs every request,
  // the local servers ignore the signature.
  process.env.AWS_ACCESS_KEY_ID = 'coattail-test-key';
  process.env.AWS_SECRET_ACCESS_KEY = 'coattail-test-secret';
  delete process.env.AWS_SESSION_TOKEN;
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
