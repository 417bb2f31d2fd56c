// Turns a `-s/--source` URI into a Source: file:, generator (the simulated market), kinesis:, binance:,
// coinbase:. Connectors load on demand, so a file run never loads the AWS SDK.

import type { Source } from '../api/source.js';
import { CoattailError } from '../errors.js';
import { fileSource } from '../../connectors/sources/file-source.js';
import { generatorSource } from '../../connectors/sources/generator-source.js';
import { generateTape } from '../../connectors/sources/market-tape.js';

export interface SourceFlags {
  /** Pace multiplier for the live simulated market. */
  readonly speed?: number;
  /** Kinesis: read what the stream holds now, then end as a bounded input. */
  readonly bounded?: boolean;
  readonly kinesisEndpoint?: string;
}

/** Trades per second of the simulated live market. */
const LIVE_MARKET_RATE = 200;

/** The scheme of a source URI: `file` of `file:x.jsonl`, `generator` of `generator` or `generator:events=5`. */
export function sourceScheme(uri: string): string {
  const colon = uri.indexOf(':');
  return colon < 0 ? uri : uri.slice(0, colon);
}

export async function resolveSource(uri: string, flags: SourceFlags = {}): Promise<Source> {
  const scheme = sourceScheme(uri);
  const rest = scheme.length < uri.length ? uri.slice(scheme.length + 1) : '';
  switch (scheme) {
    case 'file':
      if (!rest) throw new CoattailError('BAD_ARGUMENT', 'file source needs a path: -s file:<path.jsonl>');
      return fileSource(rest);
    case 'generator':
      return generatorFromUri(uri, rest, flags);
    case 'kinesis': {
      const { kinesisSourceFromUri } = await import('../../connectors/sources/kinesis.js');
      return kinesisSourceFromUri(uri, { bounded: flags.bounded === true, ...(flags.kinesisEndpoint ? { endpoint: flags.kinesisEndpoint } : {}) });
    }
    case 'binance':
    case 'coinbase': {
      const { parseFeedUri } = await import('../../connectors/sources/exchanges/index.js');
      return parseFeedUri(uri);
    }
    default:
      throw new CoattailError(
        'UNKNOWN_SOURCE',
        `unknown source "${uri}": use generator, generator:events=N,seed=S, file:<path>, kinesis:<stream>, binance:<symbols>, coinbase:<products>`,
      );
  }
}

/** Epoch ms of 0000-01-01 and 10000-01-01: the event times SPEC §1's ISO form can write (decisions §8). */
const ISO_YEARS_MS = { first: -62_167_219_200_000, end: 253_402_300_800_000 };

/**
 * What each `generator:` option accepts, as `coattail generate`'s flags do: a negative count, a zero rate (an
 * endless event time) or a share above 0.5 used to run, hang or fail with "Invalid time value".
 */
const GENERATOR_OPTIONS: Record<string, { readonly accepts: (value: number) => boolean; readonly meaning: string }> = {
  events: { accepts: (v) => Number.isSafeInteger(v) && v >= 1, meaning: 'a whole number >= 1' },
  seed: { accepts: (v) => Number.isSafeInteger(v) && v >= 0, meaning: 'a whole number >= 0' },
  bad: { accepts: (v) => v >= 0 && v <= 0.5, meaning: 'a share from 0 to 0.5' },
  rate: { accepts: (v) => v > 0, meaning: 'a number of lines per second > 0' },
  start: { accepts: (v) => Number.isSafeInteger(v) && v >= ISO_YEARS_MS.first && v < ISO_YEARS_MS.end, meaning: 'whole epoch milliseconds within the years 0000-9999' },
};

/**
 * `generator` alone is the live simulated market (endless, paced); `generator:events=N,seed=S[,bad=R][,rate=R]`
 * is a finite tape produced as fast as the pipeline takes it, unless `rate` paces it. A paced tape starts its
 * event time at the wall clock, or at `start` (epoch ms), which makes a paced run repeatable.
 */
function generatorFromUri(uri: string, rest: string, flags: SourceFlags): Source {
  const params = new Map<string, number>();
  for (const part of rest ? rest.split(',') : []) {
    const equals = part.indexOf('=');
    const key = equals < 0 ? part : part.slice(0, equals);
    // Number('') and Number(' ') are 0: an empty value must not pass as one.
    const number = equals < 0 || part.slice(equals + 1).trim() === '' ? Number.NaN : Number(part.slice(equals + 1));
    if (!key || !Number.isFinite(number)) {
      throw new CoattailError('BAD_ARGUMENT', `bad generator option "${part}": use generator:events=N,seed=S,bad=R,rate=R,start=MS`);
    }
    const rule = GENERATOR_OPTIONS[key];
    if (rule === undefined) throw new CoattailError('BAD_ARGUMENT', `unknown generator option "${key}"`);
    if (!rule.accepts(number)) throw new CoattailError('BAD_ARGUMENT', `generator option "${part}" must be ${rule.meaning}`);
    if (params.has(key)) throw new CoattailError('BAD_ARGUMENT', `generator option "${key}" is given twice`);
    params.set(key, number);
  }
  const events = params.get('events') ?? Number.MAX_SAFE_INTEGER;
  const live = !params.has('events') || params.has('rate');
  // Event-time density stays that of the market; --speed only compresses wall-clock time (10 = ten minutes a minute).
  const rate = params.get('rate') ?? LIVE_MARKET_RATE;
  const linesPerSecond = rate * (flags.speed ?? 1);
  const seed = params.get('seed') ?? 1;
  const badRate = params.get('bad');
  const fixedStart = params.get('start');
  // A paced tape without `start=` simulates now: the source anchors its event time to the wall clock.
  const clock = live && fixedStart === undefined;
  return generatorSource({
    uri,
    lines: (clockStart) => {
      const startMs = fixedStart ?? clockStart;
      return generateTape({
        events,
        seed,
        ...(badRate === undefined ? {} : { badRate }),
        ...(startMs === undefined ? {} : { startMs }),
        ...(live ? { eventsPerSecond: rate } : {}),
      }).lines;
    },
    ...(clock ? { clock: { eventsPerSecond: rate } } : {}),
    ...(live ? { linesPerSecond } : {}),
    bounded: params.has('events'),
  });
}
