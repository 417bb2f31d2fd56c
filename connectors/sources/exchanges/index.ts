// Feed URIs (`binance:btcusdt,ethusdt+coinbase:BTC-USD`) turned into one live source over every exchange named.

import type { Source, SplitDescriptor, SplitPosition, SplitReader } from '../../../runtime/api/source.js';
import { CoattailError } from '../../../runtime/errors.js';
import { binanceTradeSource, type BinanceTradeSourceOptions } from './binance.js';
import { coinbaseMatchesSource, type CoinbaseMatchesSourceOptions } from './coinbase.js';
import type { FeedStats } from './feed-stats.js';
import type { ExchangeSource, LiveFeedOptions } from './feed-options.js';

export { binanceTradeSource, BINANCE_COMBINED_STREAM_URL } from './binance.js';
export type { BinanceTradeSourceOptions } from './binance.js';
export { coinbaseMatchesSource, COINBASE_FEED_URL } from './coinbase.js';
export type { CoinbaseMatchesSourceOptions } from './coinbase.js';
export type { FeedStats } from './feed-stats.js';
export type { ExchangeSource, LiveFeedOptions, ReconnectOptions } from './feed-options.js';
export { spreadPairSymbol, DEFAULT_SPREAD_QUOTE_ALIASES, binanceToUnifiedSymbol } from './symbols.js';
export { produce, appendLinesToFile } from './produce.js';
export type { ProduceOptions, ProduceStatus } from './produce.js';

/** One source over several exchanges; `stats()` is keyed by each exchange source's uri. */
export interface FeedSource extends Source {
  stats(): Record<string, FeedStats>;
}

/** Tuning applied to every feed a URI names (reconnect, timeouts); the URI itself gives symbols and url. */
export interface FeedDefaults {
  readonly binance?: LiveFeedOptions & Pick<BinanceTradeSourceOptions, 'url' | 'streamsPerConnection'>;
  readonly coinbase?: LiveFeedOptions & Pick<CoinbaseMatchesSourceOptions, 'url'>;
}

const FEED_FORMS = `expected binance:<symbols> or coinbase:<products>, several joined with '+'`;

/**
 * Parses `binance:btcusdt,ethusdt`, `coinbase:BTC-USD,ETH-USD`, or both joined with `+`
 * (`binance:btcusdt+coinbase:BTC-USD`). Each part may end in `?url=<ws url>` to point at another
 * endpoint (a testnet, a local fake). Every mistake is one BAD_ARGUMENT line naming the part at fault.
 */
export function parseFeedUri(uri: string, defaults: FeedDefaults = {}): FeedSource {
  const parts = uri.split('+').map((part) => part.trim());
  if (uri.trim() === '' || parts.some((part) => part === '')) {
    throw new CoattailError('BAD_ARGUMENT', `feed '${uri}' is empty or has an empty part: ${FEED_FORMS}`);
  }
  const seen = new Set<string>();
  const sources = parts.map((part) => {
    const colon = part.indexOf(':');
    const exchange = colon < 0 ? part.toLowerCase() : part.slice(0, colon).toLowerCase();
    if (colon < 0 || (exchange !== 'binance' && exchange !== 'coinbase')) {
      throw new CoattailError('BAD_ARGUMENT', `unknown feed '${part}': ${FEED_FORMS}`);
    }
    if (seen.has(exchange)) {
      throw new CoattailError('BAD_ARGUMENT', `feed '${uri}' names ${exchange} twice: list all its symbols in one part`);
    }
    seen.add(exchange);
    const { names, url } = parseFeedPart(part.slice(colon + 1), part);
    if (names.length === 0) {
      throw new CoattailError('BAD_ARGUMENT', `feed '${part}' lists no ${exchange === 'binance' ? 'symbols' : 'products'}: ${FEED_FORMS}`);
    }
    if (exchange === 'binance') {
      return binanceTradeSource({ ...defaults.binance, symbols: names, ...(url === undefined ? {} : { url }) });
    }
    return coinbaseMatchesSource({ ...defaults.coinbase, products: names, ...(url === undefined ? {} : { url }) });
  });
  return combineSources(uri, sources);
}

function parseFeedPart(body: string, part: string): { names: string[]; url?: string } {
  const question = body.indexOf('?');
  const list = question < 0 ? body : body.slice(0, question);
  const names = list.split(',').map((name) => name.trim()).filter((name) => name !== '');
  if (question < 0) return { names };
  let url: string | undefined;
  for (const pair of body.slice(question + 1).split('&')) {
    const equals = pair.indexOf('=');
    const key = equals < 0 ? pair : pair.slice(0, equals);
    if (key !== 'url' || equals < 0) {
      throw new CoattailError('BAD_ARGUMENT', `feed '${part}' has an unknown option '${pair}': only ?url=<ws url> is understood`);
    }
    url = decodeURIComponent(pair.slice(equals + 1));
  }
  return url === undefined ? { names } : { names, url };
}

/** Several exchange sources read as one: the splits of all, each opened by the source that owns it. */
export function combineSources(uri: string, sources: readonly ExchangeSource[]): FeedSource {
  const ownerOf = new Map<string, ExchangeSource>();
  const discoverAll = async (): Promise<SplitDescriptor[]> => {
    const splits: SplitDescriptor[] = [];
    for (const source of sources) {
      for (const split of await source.discoverSplits()) {
        ownerOf.set(split.splitId, source);
        splits.push(split);
      }
    }
    return splits;
  };
  return {
    uri,
    bounded: sources.every((source) => source.bounded),
    discoverSplits: discoverAll,
    async openSplit(split: SplitDescriptor, from: SplitPosition | undefined): Promise<SplitReader> {
      if (!ownerOf.has(split.splitId)) await discoverAll();
      const owner = ownerOf.get(split.splitId);
      if (!owner) throw new CoattailError('SOURCE_FAILED', `feed '${uri}' has no split '${split.splitId}'`);
      return owner.openSplit(split, from);
    },
    stats: () => Object.fromEntries(sources.map((source) => [source.uri, source.stats()])),
  };
}
