// Coinbase Exchange trades (the `matches` channel, with `heartbeat` for liveness) as a live source of unified events.

import type { SplitDescriptor, SplitPosition, SplitReader } from '../../../runtime/api/source.js';
import { CoattailError } from '../../../runtime/errors.js';
import { copyFeedStats, emptyFeedStats, isRecord, parseDecimal, TradeIdTracker, type FeedStats } from './feed-stats.js';
import { checkFeedOptions, checkWebSocketUrl, type ExchangeSource, type LiveFeedOptions } from './feed-options.js';
import { LiveFeedReader, type FeedProtocol, type FeedSession, type FrameVerdict } from './live-feed.js';
import { coinbaseToUnifiedSymbol } from './symbols.js';

export const COINBASE_FEED_URL = 'wss://ws-feed.exchange.coinbase.com';

export interface CoinbaseMatchesSourceOptions extends LiveFeedOptions {
  /** Product ids such as `BTC-USD`. */
  readonly products: readonly string[];
  /** Default {@link COINBASE_FEED_URL}. */
  readonly url?: string;
}

/** Coinbase sends a heartbeat per product every second: ten silent seconds mean a dead connection. */
const COINBASE_SILENCE_TIMEOUT_MS = 10_000;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** Per-product order checks that survive reconnects, so trades lost while disconnected are counted. */
export class CoinbaseSequenceCheck {
  private readonly tradeIds: TradeIdTracker;
  private readonly lastSequence = new Map<string, number>();

  constructor(private readonly stats: FeedStats) {
    this.tradeIds = new TradeIdTracker(stats);
  }

  observe(symbol: string, tradeId: number, sequence: unknown): void {
    const isNewTrade = this.tradeIds.observe(symbol, tradeId);
    if (typeof sequence !== 'number' || !isNewTrade) return;
    const last = this.lastSequence.get(symbol);
    // A new trade with an older sequence arrived out of order; a replayed trade (`last_match`) is not counted here.
    if (last !== undefined && sequence <= last) this.stats.sequenceRegressions += 1;
    else this.lastSequence.set(symbol, sequence);
  }
}

export function coinbaseMatchesSource(options: CoinbaseMatchesSourceOptions): ExchangeSource {
  const { products: requested, url: configuredUrl, ...feedOptions } = options;
  checkFeedOptions(feedOptions, 'coinbase');
  const products = new Set<string>();
  for (const product of requested) {
    const unified = coinbaseToUnifiedSymbol(product.trim());
    if (!unified) {
      throw new CoattailError('BAD_ARGUMENT', `coinbase product '${product}' is not understood: write it as BASE-QUOTE, e.g. BTC-USD`);
    }
    products.add(unified);
  }
  if (products.size === 0) throw new CoattailError('BAD_ARGUMENT', 'coinbase feed needs at least one product');
  const url = checkWebSocketUrl(configuredUrl ?? COINBASE_FEED_URL, 'coinbase');
  const productIds = [...products];
  const split: SplitDescriptor = { splitId: 'coinbase-0', origin: `coinbase:${productIds.join(',')}` };
  const stats = emptyFeedStats();
  const order = new CoinbaseSequenceCheck(stats);

  return {
    uri: `coinbase:${productIds.join(',')}`,
    bounded: false,
    async discoverSplits(): Promise<SplitDescriptor[]> {
      return [split];
    },
    async openSplit(requestedSplit: SplitDescriptor, from: SplitPosition | undefined): Promise<SplitReader> {
      if (requestedSplit.splitId !== split.splitId) {
        throw new CoattailError('SOURCE_FAILED', `coinbase feed has no split '${requestedSplit.splitId}'`);
      }
      const protocol: FeedProtocol = {
        name: 'coinbase',
        url,
        onOpen: (socket) => {
          socket.send(JSON.stringify({ type: 'subscribe', product_ids: productIds, channels: ['matches', 'heartbeat'] }));
        },
        classify: (text, receivedAt, session) => classifyCoinbaseFrame(text, receivedAt, session, stats, order),
      };
      const silenceTimeoutMs = feedOptions.silenceTimeoutMs ?? COINBASE_SILENCE_TIMEOUT_MS;
      return new LiveFeedReader(protocol, stats, { ...feedOptions, silenceTimeoutMs }, from);
    },
    stats: () => copyFeedStats(stats),
  };
}

/** Exported for tests: what one Coinbase frame becomes. */
export function classifyCoinbaseFrame(
  text: string,
  receivedAt: number,
  session: FeedSession,
  stats: FeedStats,
  order: CoinbaseSequenceCheck | undefined,
): FrameVerdict {
  const raw = (): FrameVerdict => {
    stats.rawRecords += 1;
    return { kind: 'record', text };
  };
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch {
    return raw();
  }
  if (!isRecord(message)) return raw();
  switch (message.type) {
    case 'match':
    case 'last_match': {
      const line = normalizeCoinbaseMatch(message, receivedAt, order);
      if (line === undefined) return raw();
      stats.trades += 1;
      return { kind: 'record', text: line };
    }
    case 'heartbeat':
      stats.heartbeats += 1;
      stats.controlMessages += 1;
      return { kind: 'skip' };
    case 'subscriptions':
      session.acknowledged = true;
      stats.controlMessages += 1;
      return { kind: 'skip' };
    case 'error': {
      stats.controlMessages += 1;
      if (session.acknowledged) return { kind: 'skip' };
      const detail = [message.message, message.reason].filter((part) => typeof part === 'string').join(': ');
      return { kind: 'fail', message: `the exchange rejected the subscription (${detail || 'no reason given'})` };
    }
    default:
      return raw();
  }
}

/** A `match` / `last_match` message as a unified event line, or `undefined` when a field is missing or malformed. */
export function normalizeCoinbaseMatch(
  message: Record<string, unknown>,
  receivedAt: number,
  order: CoinbaseSequenceCheck | undefined,
): string | undefined {
  const { trade_id: tradeId, product_id: productId, side: makerSide, time, sequence } = message;
  if (typeof productId !== 'string' || typeof tradeId !== 'number' || !Number.isSafeInteger(tradeId)) return undefined;
  if (makerSide !== 'buy' && makerSide !== 'sell') return undefined;
  if (typeof time !== 'string' || !ISO_TIME.test(time)) return undefined;
  const timestamp = Date.parse(time);
  const price = parseDecimal(message.price);
  const quantity = parseDecimal(message.size);
  const symbol = coinbaseToUnifiedSymbol(productId);
  if (!Number.isFinite(timestamp) || price === undefined || quantity === undefined || symbol === undefined) return undefined;
  order?.observe(symbol, tradeId, sequence);
  return JSON.stringify({
    event_id: `coinbase-${productId}-${tradeId}`,
    exchange: 'coinbase',
    symbol,
    price,
    quantity,
    // Coinbase reports the maker order's side; the taker, whose side the unified event carries, did the opposite.
    side: makerSide === 'buy' ? 'sell' : 'buy',
    timestamp,
    ingestion_timestamp: receivedAt,
  });
}
