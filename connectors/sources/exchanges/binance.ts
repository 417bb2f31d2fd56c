// Binance spot trades (`<symbol>@trade` on the combined stream) as a live source of unified trade events.

import type { SplitDescriptor, SplitPosition, SplitReader } from '../../../runtime/api/source.js';
import { CoattailError } from '../../../runtime/errors.js';
import { copyFeedStats, emptyFeedStats, isRecord, parseDecimal, TradeIdTracker, type FeedStats } from './feed-stats.js';
import { checkFeedOptions, checkWebSocketUrl, type ExchangeSource, type LiveFeedOptions } from './feed-options.js';
import { LiveFeedReader, type FeedProtocol, type FrameVerdict } from './live-feed.js';
import { binanceStreamSymbol, binanceToUnifiedSymbol } from './symbols.js';

export const BINANCE_COMBINED_STREAM_URL = 'wss://stream.binance.com:9443/stream';

export interface BinanceTradeSourceOptions extends LiveFeedOptions {
  /** `BTCUSDT`, `btcusdt` or `BTC-USDT`. */
  readonly symbols: readonly string[];
  /** The combined-stream endpoint, without `?streams=`. Default {@link BINANCE_COMBINED_STREAM_URL}. */
  readonly url?: string;
  /** Streams per connection (one split each). Binance allows 1024; the default 200 keeps URLs short. */
  readonly streamsPerConnection?: number;
}

/**
 * Binance sends a ping every 20 s (and drops a client that sends no pong for a minute), so a minute
 * without any frame — three missed pings — means the connection is dead even when the markets are quiet.
 */
const BINANCE_SILENCE_TIMEOUT_MS = 60_000;

export function binanceTradeSource(options: BinanceTradeSourceOptions): ExchangeSource {
  const { symbols, url: configuredUrl, streamsPerConnection, ...feedOptions } = options;
  checkFeedOptions(feedOptions, 'binance');
  const unifiedByStreamSymbol = new Map<string, string>();
  for (const symbol of symbols) {
    const unified = binanceToUnifiedSymbol(symbol.trim());
    if (!unified) {
      throw new CoattailError('BAD_ARGUMENT',
        `binance symbol '${symbol}' is not understood: write it as BASE-QUOTE (e.g. BTC-USDT) or end it in a known quote asset`);
    }
    unifiedByStreamSymbol.set(binanceStreamSymbol(unified), unified);
  }
  if (unifiedByStreamSymbol.size === 0) throw new CoattailError('BAD_ARGUMENT', 'binance feed needs at least one symbol');
  const baseUrl = checkWebSocketUrl(configuredUrl ?? BINANCE_COMBINED_STREAM_URL, 'binance');
  const perConnection = streamsPerConnection ?? 200;
  if (!Number.isInteger(perConnection) || perConnection < 1 || perConnection > 1024) {
    throw new CoattailError('BAD_ARGUMENT', 'binance streamsPerConnection must be an integer from 1 to 1024');
  }

  const streamSymbols = [...unifiedByStreamSymbol.keys()];
  const streamsBySplit = new Map<string, string[]>();
  for (let start = 0; start < streamSymbols.length; start += perConnection) {
    const streams = streamSymbols.slice(start, start + perConnection).map((symbol) => `${symbol}@trade`);
    streamsBySplit.set(`binance-${start / perConnection}`, streams);
  }

  const stats = emptyFeedStats();
  const tradeIds = new TradeIdTracker(stats);
  const unifiedOf = (exchangeSymbol: string): string | undefined =>
    unifiedByStreamSymbol.get(exchangeSymbol.toLowerCase()) ?? binanceToUnifiedSymbol(exchangeSymbol);

  return {
    uri: `binance:${streamSymbols.join(',')}`,
    bounded: false,
    async discoverSplits(): Promise<SplitDescriptor[]> {
      return [...streamsBySplit].map(([splitId, streams]) => ({ splitId, origin: `binance:${streams.join('/')}` }));
    },
    async openSplit(split: SplitDescriptor, from: SplitPosition | undefined): Promise<SplitReader> {
      const streams = streamsBySplit.get(split.splitId);
      if (!streams) throw new CoattailError('SOURCE_FAILED', `binance feed has no split '${split.splitId}'`);
      const url = `${baseUrl}${baseUrl.includes('?') ? '&' : '?'}streams=${streams.join('/')}`;
      const protocol: FeedProtocol = {
        name: 'binance',
        url,
        onOpen: () => undefined, // the streams are named in the URL: nothing to send
        classify: (text, receivedAt) => classifyBinanceFrame(text, receivedAt, stats, tradeIds, unifiedOf),
      };
      const silenceTimeoutMs = feedOptions.silenceTimeoutMs ?? BINANCE_SILENCE_TIMEOUT_MS;
      return new LiveFeedReader(protocol, stats, { ...feedOptions, silenceTimeoutMs }, from);
    },
    stats: () => copyFeedStats(stats),
  };
}

/** Exported for tests: what one Binance frame becomes. */
export function classifyBinanceFrame(
  text: string,
  receivedAt: number,
  stats: FeedStats,
  tradeIds: TradeIdTracker,
  unifiedOf: (exchangeSymbol: string) => string | undefined,
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
  // `{"result":null,"id":1}` acknowledges a live SUBSCRIBE / UNSUBSCRIBE request.
  if ('result' in message && 'id' in message && !('stream' in message)) {
    stats.controlMessages += 1;
    return { kind: 'skip' };
  }
  const payload = typeof message.stream === 'string' && isRecord(message.data) ? message.data : message;
  if (payload.e === 'serverShutdown') {
    stats.controlMessages += 1;
    return { kind: 'rotate' };
  }
  if (payload.e !== 'trade') return raw();
  const line = normalizeBinanceTrade(payload, receivedAt, tradeIds, unifiedOf);
  if (line === undefined) return raw();
  stats.trades += 1;
  return { kind: 'record', text: line };
}

/** A `<symbol>@trade` payload as a unified event line, or `undefined` when a field is missing or malformed. */
export function normalizeBinanceTrade(
  payload: Record<string, unknown>,
  receivedAt: number,
  tradeIds: TradeIdTracker | undefined,
  unifiedOf: (exchangeSymbol: string) => string | undefined = binanceToUnifiedSymbol,
): string | undefined {
  const { s: exchangeSymbol, t: tradeId, p, q, T: tradeTime, m: buyerIsMaker } = payload;
  if (typeof exchangeSymbol !== 'string' || typeof buyerIsMaker !== 'boolean') return undefined;
  if (typeof tradeId !== 'number' || !Number.isSafeInteger(tradeId)) return undefined;
  if (typeof tradeTime !== 'number' || !Number.isFinite(tradeTime)) return undefined;
  const price = parseDecimal(p);
  const quantity = parseDecimal(q);
  const symbol = unifiedOf(exchangeSymbol);
  if (price === undefined || quantity === undefined || symbol === undefined) return undefined;
  tradeIds?.observe(symbol, tradeId);
  return JSON.stringify({
    event_id: `binance-${exchangeSymbol}-${tradeId}`,
    exchange: 'binance',
    symbol,
    price,
    quantity,
    // `m`: the buyer was the resting (maker) order, so the taker, who decides the side, sold.
    side: buyerIsMaker ? 'sell' : 'buy',
    timestamp: tradeTime,
    ingestion_timestamp: receivedAt,
  });
}
