// Tuning of a live exchange feed: reconnect backoff, liveness, chunking; defaults and up-front checks.

import type { Source } from '../../../runtime/api/source.js';
import { CoattailError } from '../../../runtime/errors.js';
import type { FeedStats } from './feed-stats.js';

export interface ReconnectOptions {
  /** Delay before the first retry after a drop; doubles with every failed attempt. Default 500 ms. */
  readonly initialDelayMs?: number;
  /** Upper bound of the delay. Default 30 s. */
  readonly maxDelayMs?: number;
  /** Consecutive attempts that end before any frame arrives, after which the split fails. Default 20. */
  readonly maxAttempts?: number;
  /** The same limit while no connection has ever delivered a frame (start-up: wrong URL, no network). Default 5. */
  readonly maxInitialAttempts?: number;
}

export interface LiveFeedOptions {
  readonly reconnect?: ReconnectOptions;
  /** No frame at all (data, heartbeat or ping) for this long means the connection is dead: reconnect. */
  readonly silenceTimeoutMs?: number;
  /** Rotate to a fresh connection before the exchange cuts this one (Binance: 24 h). Default 23 h. */
  readonly maxConnectionAgeMs?: number;
  /** `isIdle()` turns true after this long without a record, so a quiet market does not hold the watermark. */
  readonly idleAfterMs?: number;
  /** `next()` returns an empty chunk after this long without data, so the engine keeps control. 0: wait. */
  readonly pollIntervalMs?: number;
  /** Most records handed out in one chunk. Default 1000. */
  readonly maxChunkRecords?: number;
  /** Reading from the socket pauses while this many records wait for the engine. Default 50 000. */
  readonly maxBufferedRecords?: number;
}

/** A live exchange source that also reports what it counted. */
export interface ExchangeSource extends Source {
  stats(): FeedStats;
}

const DEFAULTS = {
  initialDelayMs: 500,
  maxDelayMs: 30_000,
  maxAttempts: 20,
  maxInitialAttempts: 5,
  maxConnectionAgeMs: 23 * 3600_000,
  idleAfterMs: 10_000,
  pollIntervalMs: 1000,
  maxChunkRecords: 1000,
  maxBufferedRecords: 50_000,
};

export type FeedSettings = typeof DEFAULTS & { silenceTimeoutMs: number };

/** The options given, over the defaults; `silenceTimeoutMs` has an exchange-specific default, so it is required here. */
export function resolveFeedSettings(options: LiveFeedOptions & { silenceTimeoutMs: number }): FeedSettings {
  const { reconnect, ...tuning } = options;
  return { ...DEFAULTS, ...withoutUndefined(reconnect ?? {}), ...withoutUndefined(tuning), silenceTimeoutMs: options.silenceTimeoutMs };
}

export function checkWebSocketUrl(url: string, exchange: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CoattailError('BAD_ARGUMENT', `${exchange} feed url '${url}' is not a URL`);
  }
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') {
    throw new CoattailError('BAD_ARGUMENT', `${exchange} feed url '${url}' must start with ws:// or wss://`);
  }
  return url;
}

/** Rejects nonsensical tuning up front, with the option's name in the message. */
export function checkFeedOptions(options: LiveFeedOptions, exchange: string): void {
  const { reconnect, ...tuning } = options;
  const numbers: Record<string, unknown> = { ...tuning, ...reconnect };
  for (const [name, value] of Object.entries(numbers)) {
    if (value === undefined) continue;
    const allowsZero = name === 'pollIntervalMs';
    const valid = typeof value === 'number' && !Number.isNaN(value) && (allowsZero ? value >= 0 : value > 0);
    if (!valid) throw new CoattailError('BAD_ARGUMENT', `${exchange} feed option ${name} must be a positive number`);
  }
}

function withoutUndefined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}
