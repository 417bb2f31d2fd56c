// A seeded synthetic trade tape (`coattail generate`, the `generator` source) and the ground truth of its anomalies.
//
// Design (see market-tape-producer.ts): background trades go round-robin over (symbol, exchange) streams; prices
// follow one slow random walk per symbol; each stream's 60 s volume alternates between (1 - A) and (1 + A) times
// a target, so any history's population stddev is about A times its mean. With A = 0.6 an empty (partial last)
// window stays near |z| = 1/A, and a whale (at most one per stream in four windows) stays below 2.5 too. Injected
// bursts are sized from the stream's actual history (z about 8 or 3); bursts and divergences land only in
// windows that end inside the tape, so a partial window never carries one.

import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { CoattailError } from '../../runtime/errors.js';
import type { BadReason } from './bad-records.js';
import { mulberry32, seedOf } from './market-tape-plan.js';
import { DEFAULT_START_MS, TapeProducer } from './market-tape-producer.js';

export { mulberry32 } from './market-tape-plan.js';
export { DEFAULT_START_MS as DEFAULT_TAPE_START_MS, DEFAULT_SYMBOLS as DEFAULT_TAPE_SYMBOLS, EXCHANGES as TAPE_EXCHANGES } from './market-tape-producer.js';

export interface TapeOptions {
  /** Records (non-empty lines) to produce. */
  readonly events: number;
  readonly seed: number;
  /** Share of records that are bad, cycling through every kind of SPEC §2 (default 0.002, at most 0.5). */
  readonly badRate?: number;
  /** Event time of the first record (default 2025-02-05T10:00:00Z). */
  readonly startMs?: number;
  /**
   * Records per second of event time (default 1000). The promise that nothing but the injected anomalies
   * raises an alert holds from about 20 valid records per second (this rate times 1 - badRate) with 4 symbols
   * (8 streams); slower tapes get smaller trades so that no background trade is a whale, and then a whale can move
   * its window's volume. Swept over 100 seeds: 60-4,000/s with bad rates 0-0.3, and 20-50/s with 0-0.5, where it
   * failed only at 10-15 valid records per second.
   */
  readonly eventsPerSecond?: number;
  /** Default BTC-USDT, ETH-USDT, SOL-USDT, XRP-USDT; each trades on binance and coinbase. */
  readonly symbols?: readonly string[];
}

export type WhaleSeverity = 'medium' | 'high' | 'critical';

export interface TapeTruth {
  readonly seed: number;
  /** False until the last line has been produced: lists and counts grow as lines are produced. */
  complete: boolean;
  records: number;
  /** Blank lines `writeTape` put between records (readers skip them; they are not records). */
  emptyLines: number;
  readonly startMs: number;
  /** Every whale (quote_volume > 100,000) with its expected severity; `late` ones are very late events too. */
  whales: Array<{ event_id: string; symbol: string; exchange: string; quote_volume: number; severity: WhaleSeverity; late: boolean }>;
  /** 60 s windows of one stream with a volume burst (z about 8: high, about 3: medium). */
  bursts: Array<{ symbol: string; exchange: string; window_start: number; severity: 'medium' | 'high' }>;
  /** 30 s windows where `exchange` traded `symbol` off the other's price (+1.5 %: high, +0.8 % on coinbase: medium). */
  divergences: Array<{ symbol: string; exchange: string; window_start: number; severity: 'medium' | 'high' }>;
  /** Bad records per kind (see bad-records.ts) and per DLQ reason. */
  bad: Record<string, number>;
  rejected: Record<BadReason, number>;
  /** Copies of an earlier valid trade shortly after it: identical lines, or the same event_id with another price/quantity. */
  duplicates: { exact: number; altered: number };
  /** 1-10 s behind the newest event time: never late. */
  outOfOrder: number;
  /** 120-240 s behind: always late for both window jobs, still whales. */
  veryLate: number;
  veryLateEventIds: string[];
  lateFlagged: number;
  inconsistent: number;
  /** Valid records whose line ends in `\r`. */
  crlf: number;
}

export function emptyTruth(seed: number, startMs: number): TapeTruth {
  return {
    seed, complete: false, records: 0, emptyLines: 0, startMs,
    whales: [], bursts: [], divergences: [], bad: {}, rejected: { malformed: 0, incomplete: 0, invalid: 0 },
    duplicates: { exact: 0, altered: 0 }, outOfOrder: 0, veryLate: 0, veryLateEventIds: [], lateFlagged: 0, inconsistent: 0, crlf: 0,
  };
}

/**
 * The tape and its truth. Lines are produced lazily (10M events never sit in memory); each iteration starts the
 * same tape again from a fresh truth-less pass, and the returned truth describes the first full iteration: it is
 * complete (`truth.complete`) once that iteration has been exhausted.
 */
export function generateTape(options: TapeOptions): { lines: Iterable<string>; truth: TapeTruth } {
  const startMs = options.startMs ?? DEFAULT_START_MS;
  const truth = emptyTruth(options.seed, startMs);
  let first = true;
  return {
    lines: {
      [Symbol.iterator]: () => {
        // Later iterations (a restore re-reading the tape) must not count into the truth twice.
        const target = first ? truth : emptyTruth(options.seed, startMs);
        first = false;
        return new TapeProducer(options, target).records();
      },
    },
    truth,
  };
}

/** Writes the tape as JSON Lines, with a few blank lines between records (skipped by readers, not records). */
export interface TapeFileOptions extends TapeOptions {
  readonly out: string;
  /** Called after each block written to the file, with the records written so far (for a progress line). */
  readonly onProgress?: (recordsWritten: number) => void;
}

export async function writeTape(options: TapeFileOptions): Promise<TapeTruth> {
  const { lines, truth } = generateTape(options);
  const blanks = mulberry32(seedOf(options.seed, 3));
  const file = createWriteStream(options.out);
  // A name ending in .gz gets a gzip file, as `run -s file:<path.jsonl.gz>` expects of it.
  const gzip = options.out.endsWith('.gz') ? createGzip() : undefined;
  const output: Writable = gzip ?? file;
  const written = gzip ? pipeline(gzip, file) : once(file, 'finish');
  written.catch(() => undefined); // awaited below, after the last write
  // events.once rejects on 'error', so every wait below also surfaces a failed open or write.
  try {
    let buffer = '';
    let records = 0;
    for (const line of lines) {
      buffer += line + '\n';
      records++;
      if (blanks() < 0.0002) {
        truth.emptyLines++;
        buffer += '\n';
      }
      if (buffer.length >= 1 << 20) {
        if (!output.write(buffer)) await once(output, 'drain');
        buffer = '';
        options.onProgress?.(records);
      }
    }
    output.end(buffer);
    await written;
  } catch (error) {
    output.destroy();
    const code = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'FILE_NOT_FOUND' : 'BAD_ARGUMENT';
    throw new CoattailError(code, `cannot write the tape to ${options.out}: ${(error as Error).message}`, { cause: error });
  }
  return truth;
}
