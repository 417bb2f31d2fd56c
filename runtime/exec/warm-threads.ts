// Subtask threads started before the job is known. Booting a worker thread and loading the engine into it
// takes 150-200 ms; started at the top of `coattail run`, that happens while the main thread loads the CLI,
// bundles the job and plans it. A thread learns which subtask it is from its first message (`launch`).

import { SHARE_ENV, Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

const HOST_PATH = fileURLToPath(new URL('./subtask-host.js', import.meta.url));

interface WarmThread {
  readonly worker: Worker;
  /** It failed or exited before anyone took it: starting a fresh one reports the failure properly. */
  broken: boolean;
}

const warm: WarmThread[] = [];

/**
 * A subtask thread that waits for its `launch` message. It shares the process environment rather than copying
 * it at start: the CLI sets variables from its flags (AWS endpoints) after prestarted threads are running.
 */
export function startSubtaskThread(): Worker {
  return new Worker(HOST_PATH, { stdout: false, stderr: false, env: SHARE_ENV });
}

/** Start `count` subtask threads now; they do not keep the process alive until taken. */
export function prestartSubtaskThreads(count: number): readonly Worker[] {
  const started: Worker[] = [];
  for (let i = 0; i < count; i++) {
    const thread: WarmThread = { worker: startSubtaskThread(), broken: false };
    thread.worker.unref();
    thread.worker.once('error', () => (thread.broken = true));
    thread.worker.once('exit', () => (thread.broken = true));
    warm.push(thread);
    started.push(thread.worker);
  }
  return started;
}

/** One prestarted thread that is still healthy, or a new one; threads left over when the run starts are ended. */
export function takeSubtaskThread(): Worker {
  for (let thread = warm.shift(); thread; thread = warm.shift()) {
    if (thread.broken) continue;
    thread.worker.removeAllListeners();
    thread.worker.ref();
    return thread.worker;
  }
  return startSubtaskThread();
}

/** Ends prestarted threads nobody took (a run with fewer subtasks than guessed). */
export function releaseWarmThreads(): void {
  for (const thread of warm.splice(0)) void thread.worker.terminate();
}

/**
 * The parallelism a `coattail run` command line asks for, read before the CLI parses it properly: a guess
 * for prestarting threads. Anything unusual gives the default; the real parse reports bad values.
 */
export function parallelismHint(argv: readonly string[]): number {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    let value: string | undefined;
    if (arg === '-p' || arg === '--parallelism') value = argv[i + 1] ?? '';
    else if (arg.startsWith('--parallelism=')) value = arg.slice('--parallelism='.length);
    else if (/^-p\d+$/.test(arg)) value = arg.slice(2);
    if (value !== undefined) {
      const parsed = Number(value);
      return Number.isInteger(parsed) && parsed >= 1 && parsed <= 64 ? parsed : 0;
    }
  }
  return availableParallelism();
}
