// The producer loop: read live feeds (or any source) and hand their records, as lines, to a writer.

import { appendFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Source, SourceChunk, SplitReader } from '../../../runtime/api/source.js';
import { CoattailError, describeError, isCoattailError } from '../../../runtime/errors.js';
import { makeDirectory } from '../../../runtime/make-directory.js';

export interface ProduceStatus {
  /** Lines handed to the writer so far. */
  readonly lines: number;
  /** Calls of the writer so far. */
  readonly writes: number;
  /** Lines per split origin, e.g. `binance:btcusdt@trade`. */
  readonly linesByOrigin: Readonly<Record<string, number>>;
  /** `stats()` of every source that has one (the exchange feeds), by source uri. */
  readonly feeds: Readonly<Record<string, unknown>>;
}

export interface ProduceOptions {
  readonly from: readonly Source[];
  /** Receives the records in the order of each split; called once at a time, never concurrently. */
  readonly to: (lines: string[]) => Promise<void>;
  /** Ends the loop: readers are closed, the write in progress completes, the final status is returned. */
  readonly signal: AbortSignal;
  /** Called after every write with the counts so far (throttle it yourself before printing). */
  readonly onStatus?: (status: ProduceStatus) => void;
}

/**
 * Reads every split of every source at once and forwards each chunk's records to `to`: normalized trade
 * lines and, verbatim, the frames a feed could not normalize (the job's quality stage sends those to the
 * DLQ). Live sources run until `signal` aborts; bounded ones end by themselves. Each split waits for its
 * own write before reading on, so a slow writer slows the feeds instead of filling memory.
 */
export async function produce(options: ProduceOptions): Promise<ProduceStatus> {
  const { from, to, signal, onStatus } = options;
  const linesByOrigin: Record<string, number> = {};
  let lines = 0;
  let writes = 0;
  const status = (): ProduceStatus => ({
    lines,
    writes,
    linesByOrigin: { ...linesByOrigin },
    feeds: Object.fromEntries(from.flatMap((source) => {
      const withStats = source as Source & { stats?: () => unknown };
      return typeof withStats.stats === 'function' ? [[source.uri, withStats.stats()]] : [];
    })),
  });

  const readers: SplitReader[] = [];
  let failure: unknown;
  let writeTail: Promise<void> = Promise.resolve();
  const closeAll = (): Promise<void[]> => Promise.all(readers.map((reader) => reader.close().catch(() => undefined)));
  const stop = (): void => void closeAll();
  signal.addEventListener('abort', stop, { once: true });

  try {
    const opened: { origin: string; reader: SplitReader }[] = [];
    for (const source of from) {
      for (const split of await source.discoverSplits()) {
        if (signal.aborted) break;
        const reader = await source.openSplit(split, undefined);
        readers.push(reader);
        opened.push({ origin: split.origin, reader });
      }
    }
    if (signal.aborted) await closeAll();

    const write = (batch: string[]): Promise<void> => {
      const done = writeTail.then(() => to(batch));
      writeTail = done.catch(() => undefined);
      return done;
    };

    await Promise.all(opened.map(async ({ origin, reader }) => {
      try {
        while (!signal.aborted && failure === undefined) {
          const chunk = await reader.next();
          if (chunk === undefined) return;
          const batch = chunkLines(chunk);
          if (batch.length === 0) continue;
          await write(batch);
          lines += batch.length;
          writes += 1;
          linesByOrigin[origin] = (linesByOrigin[origin] ?? 0) + batch.length;
          onStatus?.(status());
        }
      } catch (error) {
        failure ??= error;
        stop();
      }
    }));
  } finally {
    signal.removeEventListener('abort', stop);
    await closeAll();
    await writeTail;
  }
  if (failure !== undefined) {
    if (isCoattailError(failure)) throw failure;
    throw new CoattailError('SINK_FAILED', `produce stopped: ${describeError(failure)}`, { cause: failure });
  }
  const final = status();
  onStatus?.(final);
  return final;
}

/** The records of a chunk as text lines: record payloads as they are, file chunks split on `\n`. */
function chunkLines(chunk: SourceChunk): string[] {
  const { payload } = chunk;
  if (payload.kind === 'records') return [...payload.texts];
  return new TextDecoder().decode(payload.bytes).split('\n').filter((line) => line !== '');
}

/**
 * A writer for {@link produce} that appends JSON Lines to a file, creating its folder on first use.
 * A record that itself contains `\n` (a pretty-printed or corrupt frame) has each `\n` written as a
 * space, so it stays one line — one DLQ record — and, if it was JSON, the same JSON value.
 */
export function appendLinesToFile(path: string): (lines: string[]) => Promise<void> {
  let folderReady: Promise<unknown> | undefined;
  return async (lines: string[]): Promise<void> => {
    if (lines.length === 0) return;
    folderReady ??= makeDirectory(dirname(path));
    try {
      await folderReady;
      await appendFile(path, lines.map((line) => `${line.replaceAll('\n', ' ')}\n`).join(''));
    } catch (error) {
      throw new CoattailError('SINK_FAILED', `cannot append to ${path}: ${describeError(error)}`, { cause: error });
    }
  };
}
