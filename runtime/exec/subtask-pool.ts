// Starts the subtask worker threads and speaks to them: credits, metrics, completion, failures.

import type { Worker } from 'node:worker_threads';
import { CoattailError } from '../errors.js';
import { CreditGate } from '../transport/credits.js';
import type { FromSubtask, SubtaskLaunch, ToSubtask } from './messages.js';
import { releaseWarmThreads, takeSubtaskThread } from './warm-threads.js';
import { restoredBuffers } from '../checkpoint/subtask-state-file.js';

export interface SubtaskEvents {
  onFailure(error: CoattailError): void;
  onMessage?(subtask: number, message: FromSubtask): void;
  /** A subtask returned a credit: call `release` now or later (default: now). */
  onCredit?(subtask: number, release: () => void): void;
}

class SubtaskHandle {
  readonly credits: CreditGate;
  counters: Record<string, number> = {};
  watermark = Number.NEGATIVE_INFINITY;
  expectedExit = false;
  readonly ready: Promise<void>;
  finished: Promise<Record<string, number>>;
  private resolveFinished!: (counters: Record<string, number>) => void;
  /** Resolves once the thread has discarded its sinks' uncommitted output after an `abort`, or has exited. */
  readonly aborted: Promise<void>;

  constructor(readonly index: number, readonly worker: Worker, credits: number, events: SubtaskEvents) {
    this.credits = new CreditGate(credits);
    this.finished = new Promise((resolve) => (this.resolveFinished = resolve));
    let markAborted!: () => void;
    this.aborted = new Promise((resolve) => (markAborted = resolve));
    let markReady!: () => void;
    this.ready = new Promise((resolve) => (markReady = resolve));
    worker.on('message', (message: FromSubtask) => {
      switch (message.type) {
        case 'ready':
          markReady();
          break;
        case 'credit':
          if (events.onCredit) events.onCredit(index, () => this.credits.release());
          else this.credits.release();
          break;
        case 'metrics':
          this.counters = message.counters;
          this.watermark = message.watermark;
          break;
        case 'aborted':
          markAborted();
          break;
        case 'finished':
          this.counters = message.counters;
          this.resolveFinished(message.counters);
          break;
        case 'failed': {
          const error = new CoattailError(message.code ?? 'WORKER_FAILED', `subtask ${index}: ${message.message}`);
          if (message.stack) error.stack = message.stack;
          events.onFailure(error);
          break;
        }
        default:
          break;
      }
      events.onMessage?.(index, message);
    });
    worker.on('error', (error) => events.onFailure(new CoattailError('WORKER_FAILED', `subtask ${index} crashed: ${error.message}`, { cause: error })));
    worker.on('exit', (code) => {
      markAborted();
      if (!this.expectedExit) events.onFailure(new CoattailError('WORKER_FAILED', `subtask ${index} exited unexpectedly with code ${code}`));
    });
  }

  post(message: ToSubtask, transfer: ArrayBuffer[] = []): void {
    this.worker.postMessage(message, transfer);
  }
}

export class SubtaskPool {
  readonly subtasks: SubtaskHandle[];

  constructor(launches: SubtaskLaunch[], creditsPerChannel: number, events: SubtaskEvents) {
    this.subtasks = launches.map((launch, index) => {
      const worker = takeSubtaskThread();
      const handle = new SubtaskHandle(index, worker, creditsPerChannel, events);
      // The restored key groups are the subtask's own copies (RestoredRun.operatorsFor): moved, not copied again.
      handle.post({ type: 'launch', launch }, restoredBuffers(launch.restore));
      return handle;
    });
    releaseWarmThreads();
  }

  async ready(): Promise<void> {
    await Promise.all(this.subtasks.map((s) => s.ready));
  }

  broadcast(message: ToSubtask): void {
    for (const subtask of this.subtasks) subtask.post(message);
  }

  async finishAll(drain: boolean): Promise<Record<string, number>[]> {
    this.broadcast({ type: 'end-of-input', drain });
    return Promise.all(this.subtasks.map((s) => s.finished));
  }

  counters(): Record<string, number>[] {
    return this.subtasks.map((s) => s.counters);
  }

  /**
   * A failed run: every subtask finishes the work in progress, skips the rest and has its sinks discard what no
   * prepared commit lists. Waits at most `timeoutMs` (a sink stuck on unreachable storage must not hold the exit).
   */
  async abortAll(timeoutMs: number): Promise<void> {
    this.broadcast({ type: 'abort' });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([Promise.all(this.subtasks.map((s) => s.aborted)), timeout]);
    clearTimeout(timer);
  }

  async terminate(error?: Error): Promise<void> {
    for (const subtask of this.subtasks) {
      subtask.expectedExit = true;
      if (error) subtask.credits.close(error);
    }
    await Promise.all(this.subtasks.map((s) => s.worker.terminate()));
  }
}
