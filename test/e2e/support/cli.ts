// Runs the built coattail CLI as a child process: to the end, or stopped (kill -9, SIGINT) at a chosen moment.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const CLI = path.join(REPO_ROOT, 'bin', 'coattail.js');
export const JOB_ALL = path.join(REPO_ROOT, 'jobs', 'all.ts');
export const JOB_WHALE = path.join(REPO_ROOT, 'jobs', 'whale.ts');

/** Timeout for hooks and tests that run the CLI: a loaded 2-core machine can take minutes where an idle one takes seconds. */
export const RUN_TIMEOUT = 600_000;

const NO_SUCH_FILE = path.join(os.tmpdir(), 'coattail-e2e-no-such-aws-file');

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunningCli {
  readonly child: ChildProcess;
  readonly done: Promise<CliResult>;
  /** True once the process has exited, however it ended. */
  exited(): boolean;
  stderr(): string;
}

/** The CLI runs from dist/: the end-to-end tests need `npm run build` (as `npm test` does) first. */
export function assertBuilt(): void {
  if (!existsSync(path.join(REPO_ROOT, 'dist', 'runtime', 'cli', 'main.js'))) {
    throw new Error('dist/ is missing: run `npm run build` before the end-to-end tests');
  }
}

/** Start `coattail <args>`. The child never sees this machine's AWS files, only what the test put in the environment. */
export function startCli(args: readonly string[], env: Record<string, string> = {}): RunningCli {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      AWS_CONFIG_FILE: NO_SUCH_FILE,
      AWS_SHARED_CREDENTIALS_FILE: NO_SUCH_FILE,
      AWS_EC2_METADATA_DISABLED: 'true',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let hasExited = false;
  child.stdout!.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const done = new Promise<CliResult>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      hasExited = true;
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, done, exited: () => hasExited, stderr: () => stderr };
}

export function runCli(args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
  return startCli(args, env).done;
}

/** Run the CLI and insist that it finished with exit code 0; the error carries its stderr. */
export async function runCliToEnd(args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
  const result = await runCli(args, env);
  if (result.code !== 0) {
    throw new Error(`coattail ${args.join(' ')} ended with ${result.code ?? result.signal}: ${result.stderr.trim()}`);
  }
  return result;
}

export async function generateTape(file: string, events: number, seed: number): Promise<void> {
  await runCliToEnd(['generate', '--events', String(events), '--seed', String(seed), '--out', file]);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Poll `condition` until it holds. Rejects when the process ends first (the moment to act on was missed),
 * so a test never waits for something that cannot happen any more.
 */
export async function waitWhileRunning(running: RunningCli, condition: () => Promise<boolean>, what: string): Promise<void> {
  for (;;) {
    if (running.exited()) throw new Error(`the run ended before ${what}: ${running.stderr().trim()}`);
    if (await condition().catch(() => false)) return;
    await sleep(20);
  }
}

/** mulberry32: a small seeded generator, so the "random" kill moments of a seed are the same on every run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
