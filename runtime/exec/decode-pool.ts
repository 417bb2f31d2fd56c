// Where chunks are decoded: a piscina pool of decode threads, or the subtask threads themselves when there are
// at least as many subtasks as decode threads (two isolates fewer to start, warm up and collect on 2 cores).

import { fileURLToPath } from 'node:url';
import type { Piscina } from 'piscina';
import type { DecodeRequest, DecodeResult } from './decode-result.js';
import { CoattailError } from '../errors.js';
import type { JobLaunch, ThreadError } from './messages.js';
import type { SubtaskPool } from './subtask-pool.js';

export interface DecodePool {
  /** Decodes one chunk; `transferList` holds the chunk's buffer. */
  run(request: DecodeRequest, transferList: ArrayBuffer[]): Promise<DecodeResult>;
  destroy(): Promise<void>;
}

/**
 * Decode threads of their own (piscina), used when there are fewer subtasks than decode threads. piscina is
 * loaded here, on use: runs that decode in their subtask threads start without it.
 */
export async function piscinaDecodePool(launch: JobLaunch, threads: number, onError: (error: unknown) => void): Promise<DecodePool> {
  const { Piscina: PiscinaPool } = await import('piscina');
  const pool: Piscina = new PiscinaPool({
    filename: fileURLToPath(new URL('./decode-worker.js', import.meta.url)),
    workerData: launch,
    minThreads: threads,
    maxThreads: threads,
    idleTimeout: Number.POSITIVE_INFINITY,
  });
  pool.on('error', onError);
  return {
    run: (request, transferList) => pool.run(request, { transferList }) as Promise<DecodeResult>,
    destroy: () => pool.destroy().catch(() => undefined),
  };
}

/** Decoding in the first `threads` subtask threads: each request goes to the one with the fewest outstanding. */
export class HostedDecodePool implements DecodePool {
  private nextId = 0;
  private readonly pending = new Map<number, { host: number; resolve: (result: DecodeResult) => void; reject: (error: Error) => void }>();
  private readonly outstanding: number[];

  constructor(private readonly subtasks: SubtaskPool, threads: number) {
    this.outstanding = new Array<number>(threads).fill(0);
  }

  run(request: DecodeRequest, transferList: ArrayBuffer[]): Promise<DecodeResult> {
    let host = 0;
    for (let i = 1; i < this.outstanding.length; i++) if (this.outstanding[i]! < this.outstanding[host]!) host = i;
    const id = this.nextId++;
    this.outstanding[host]!++;
    return new Promise<DecodeResult>((resolve, reject) => {
      this.pending.set(id, { host, resolve, reject });
      this.subtasks.subtasks[host]!.post({ type: 'decode', id, request }, transferList);
    });
  }

  /** A subtask thread answered a decode request: the chunk decoded, or the error its decoding threw. */
  settle(id: number, outcome: { result: DecodeResult } | { error: ThreadError }): void {
    const waiting = this.pending.get(id);
    if (!waiting) return;
    this.pending.delete(id);
    this.outstanding[waiting.host]!--;
    if ('result' in outcome) waiting.resolve(outcome.result);
    else waiting.reject(decodeFailure(outcome.error));
  }

  async destroy(): Promise<void> {
    for (const [id, waiting] of this.pending) {
      this.pending.delete(id);
      waiting.reject(new Error('the run ended'));
    }
  }
}

/** An error thrown while a subtask thread decoded a chunk, as piscina would hand it over (a CoattailError keeps its code). */
function decodeFailure({ message, stack, code }: ThreadError): Error {
  const error = code ? new CoattailError(code, message) : new Error(message);
  if (stack) error.stack = stack;
  return error;
}
