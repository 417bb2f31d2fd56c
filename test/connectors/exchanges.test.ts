// The Binance and Coinbase feed connectors against local fake exchanges.

import { afterEach, describe, expect, it } from 'vitest';
import type { Source, SplitReader } from '../../runtime/api/source.js';
import { isCoattailError } from '../../runtime/errors.js';
import { binanceTradeSource } from '../../connectors/sources/exchanges/binance.js';
import { coinbaseMatchesSource } from '../../connectors/sources/exchanges/coinbase.js';
import { FakeBinance, FakeCoinbase, waitUntil } from '../support/fake-exchanges.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function fakeBinance(): Promise<FakeBinance> {
  const fake = await FakeBinance.start();
  cleanups.push(() => fake.close());
  return fake;
}

async function fakeCoinbase(): Promise<FakeCoinbase> {
  const fake = await FakeCoinbase.start();
  cleanups.push(() => fake.close());
  return fake;
}

async function openOnlySplit(source: Source): Promise<SplitReader> {
  const [split, ...rest] = await source.discoverSplits();
  expect(rest).toHaveLength(0);
  const reader = await source.openSplit(split!, undefined);
  cleanups.push(() => reader.close());
  return reader;
}

/** Reads chunks until `count` records have arrived. */
async function readRecords(reader: SplitReader, count: number): Promise<{ texts: string[]; offsets: (number | string)[] }> {
  const texts: string[] = [];
  const offsets: (number | string)[] = [];
  const deadline = Date.now() + 10_000;
  while (texts.length < count) {
    if (Date.now() > deadline) throw new Error(`only ${texts.length} of ${count} records arrived`);
    const chunk = await reader.next();
    if (!chunk) throw new Error(`split ended after ${texts.length} of ${count} records`);
    if (chunk.payload.kind !== 'records') throw new Error('expected a records chunk');
    texts.push(...chunk.payload.texts);
    offsets.push(...chunk.payload.offsets);
  }
  return { texts, offsets };
}

/** Calls `next()` until it rejects, and returns what it rejected with. */
async function nextFailure(reader: SplitReader): Promise<unknown> {
  const deadline = Date.now() + 10_000;
  try {
    while (Date.now() < deadline) await reader.next();
  } catch (error) {
    return error;
  }
  throw new Error('the split did not fail');
}

const quick = { pollIntervalMs: 20, reconnect: { initialDelayMs: 10, maxDelayMs: 50 } };

describe('binance trade feed', () => {
  it('subscribes to the lower-case combined trade streams and normalizes each trade to a unified event', async () => {
    const fake = await fakeBinance();
    const source = binanceTradeSource({ symbols: ['BTCUSDT', 'eth-usdt'], url: fake.url, ...quick });
    const [split] = await source.discoverSplits();
    expect(split!.origin).toBe('binance:btcusdt@trade/ethusdt@trade');
    const reader = await openOnlySplit(source);
    await waitUntil(() => fake.openConnectionCount === 1, 'the client to connect');
    expect(fake.requests[0]).toBe('/stream?streams=btcusdt@trade/ethusdt@trade');

    const before = Date.now();
    fake.sendTrade({ symbol: 'BTCUSDT', price: '64000.50', quantity: '0.125', buyerIsMaker: true, tradeTime: 1_700_000_000_123, tradeId: 77 });
    fake.sendTrade({ symbol: 'ETHUSDT', price: '3000', quantity: '2', buyerIsMaker: false, tradeTime: 1_700_000_000_456, tradeId: 5 });
    const { texts, offsets } = await readRecords(reader, 2);
    const after = Date.now();
    const [sell, buy] = texts.map((text) => JSON.parse(text) as Record<string, unknown>);

    expect(sell).toMatchObject({
      event_id: 'binance-BTCUSDT-77', exchange: 'binance', symbol: 'BTC-USDT',
      price: 64000.5, quantity: 0.125, side: 'sell', timestamp: 1_700_000_000_123,
    });
    expect(buy).toMatchObject({ event_id: 'binance-ETHUSDT-5', symbol: 'ETH-USDT', price: 3000, quantity: 2, side: 'buy' });
    for (const event of [sell!, buy!]) {
      expect(event.ingestion_timestamp).toBeGreaterThanOrEqual(before);
      expect(event.ingestion_timestamp).toBeLessThanOrEqual(after);
    }
    expect(offsets).toEqual([0, 1]);
    expect(source.stats().trades).toBe(2);
  });

  it('passes garbage and unknown frames on verbatim and skips subscription acknowledgements', async () => {
    const fake = await fakeBinance();
    const source = binanceTradeSource({ symbols: ['btcusdt'], url: fake.url, ...quick });
    const reader = await openOnlySplit(source);
    await waitUntil(() => fake.openConnectionCount === 1, 'the client to connect');

    fake.sendRaw('not json at all');
    fake.sendRaw('{"result":null,"id":1}');
    fake.sendRaw('{"stream":"btcusdt@depth","data":{"e":"depthUpdate"}}');
    fake.sendRaw('{"stream":"btcusdt@trade","data":{"e":"trade","s":"BTCUSDT","t":1,"p":"abc","q":"1","T":1,"m":true}}');
    fake.sendTrade({ symbol: 'BTCUSDT' });
    const { texts, offsets } = await readRecords(reader, 4);

    expect(texts.slice(0, 3)).toEqual([
      'not json at all',
      '{"stream":"btcusdt@depth","data":{"e":"depthUpdate"}}',
      '{"stream":"btcusdt@trade","data":{"e":"trade","s":"BTCUSDT","t":1,"p":"abc","q":"1","T":1,"m":true}}',
    ]);
    expect(JSON.parse(texts[3]!)).toMatchObject({ exchange: 'binance', symbol: 'BTC-USDT' });
    expect(offsets).toEqual([0, 1, 2, 3]);
    expect(source.stats()).toMatchObject({ rawRecords: 3, controlMessages: 1, trades: 1 });
  });

  it('answers the exchange ping with a pong carrying the same payload', async () => {
    const fake = await fakeBinance();
    await openOnlySplit(binanceTradeSource({ symbols: ['btcusdt'], url: fake.url, ...quick }));
    await waitUntil(() => fake.openConnectionCount === 1, 'the client to connect');
    await expect(fake.ping('keep-me')).resolves.toBe('keep-me');
  });

  it('reconnects after a server-side disconnect, asks for the same streams and keeps offsets rising', async () => {
    const fake = await fakeBinance();
    const source = binanceTradeSource({ symbols: ['btcusdt', 'ethusdt'], url: fake.url, ...quick });
    const reader = await openOnlySplit(source);
    await waitUntil(() => fake.openConnectionCount === 1, 'the client to connect');
    fake.sendTrade({ symbol: 'BTCUSDT', tradeId: 1 });
    await readRecords(reader, 1);

    fake.dropConnections();
    await waitUntil(() => fake.connectionCount === 2 && fake.openConnectionCount === 1, 'the client to reconnect');
    expect(fake.requests[1]).toBe(fake.requests[0]);
    fake.sendTrade({ symbol: 'BTCUSDT', tradeId: 5 });
    const { texts, offsets } = await readRecords(reader, 1);

    expect(JSON.parse(texts[0]!)).toMatchObject({ event_id: 'binance-BTCUSDT-5' });
    expect(offsets).toEqual([1]);
    expect(source.stats()).toMatchObject({ reconnects: 1, connectionsOpened: 2, tradeIdGaps: 1, missedTrades: 3 });
  });

  it('rotates to a new connection before the old one grows too old, and drops the old one once the new delivers', async () => {
    const fake = await fakeBinance();
    const source = binanceTradeSource({ symbols: ['btcusdt'], url: fake.url, ...quick, maxConnectionAgeMs: 100 });
    const reader = await openOnlySplit(source);
    await waitUntil(() => fake.connectionCount === 2 && fake.isOpen(1), 'a second connection');
    expect(fake.isOpen(0)).toBe(true);
    fake.sendTrade({ symbol: 'BTCUSDT', tradeId: 9 }, 'newest');
    const { texts } = await readRecords(reader, 1);
    await waitUntil(() => !fake.isOpen(0), 'the old connection to close');

    expect(JSON.parse(texts[0]!)).toMatchObject({ event_id: 'binance-BTCUSDT-9' });
    expect(source.stats().plannedReconnects).toBeGreaterThanOrEqual(1);
    expect(source.stats().reconnects).toBe(0);
  });

  it('treats a silent connection as dead and reconnects', async () => {
    const fake = await fakeBinance();
    fake.startKeepAlive(10);
    const source = binanceTradeSource({ symbols: ['btcusdt'], url: fake.url, ...quick, silenceTimeoutMs: 200 });
    const reader = await openOnlySplit(source);
    await waitUntil(() => fake.openConnectionCount === 1, 'the client to connect');
    fake.goSilent();
    await waitUntil(() => fake.connectionCount === 2 && fake.openConnectionCount === 1, 'a reconnect after silence');
    fake.sendTrade({ symbol: 'BTCUSDT' });

    expect((await readRecords(reader, 1)).texts).toHaveLength(1);
    expect(source.stats().silenceTimeouts).toBe(1);
  });

  it('loses nothing when reading pauses because the engine falls behind', async () => {
    const fake = await fakeBinance();
    const reader = await openOnlySplit(binanceTradeSource({
      symbols: ['btcusdt'], url: fake.url, ...quick, maxBufferedRecords: 4, maxChunkRecords: 3,
    }));
    await waitUntil(() => fake.openConnectionCount === 1, 'the client to connect');
    for (let id = 1; id <= 50; id += 1) fake.sendTrade({ symbol: 'BTCUSDT', tradeId: id });
    const { texts, offsets } = await readRecords(reader, 50);

    expect(texts.map((text) => (JSON.parse(text) as { event_id: string }).event_id))
      .toEqual(Array.from({ length: 50 }, (_, index) => `binance-BTCUSDT-${index + 1}`));
    expect(offsets).toEqual(Array.from({ length: 50 }, (_, index) => index));
  });

  it('continues offsets from a restored position and hands out empty chunks while the market is quiet', async () => {
    const fake = await fakeBinance();
    const source = binanceTradeSource({ symbols: ['btcusdt'], url: fake.url, ...quick, idleAfterMs: 1 });
    const [split] = await source.discoverSplits();
    const reader = await source.openSplit(split!, 41);
    cleanups.push(() => reader.close());
    await waitUntil(() => fake.openConnectionCount === 1, 'the client to connect');

    const quiet = await reader.next();
    expect(quiet).toEqual({ payload: { kind: 'records', texts: [], offsets: [] }, endPosition: 41 });
    await waitUntil(() => reader.isIdle!(), 'the split to turn idle');
    fake.sendTrade({ symbol: 'BTCUSDT' });
    const { offsets } = await readRecords(reader, 1);
    expect(offsets).toEqual([41]);
  });

  it('fails the split with one clear line when the exchange cannot be reached', async () => {
    const fake = await fakeBinance();
    const url = fake.url;
    await fake.close();
    const reader = await openOnlySplit(binanceTradeSource({
      symbols: ['btcusdt'], url, pollIntervalMs: 20, reconnect: { initialDelayMs: 1, maxDelayMs: 5, maxAttempts: 3 },
    }));
    const failure = await nextFailure(reader);

    expect(isCoattailError(failure) && failure.code).toBe('SOURCE_FAILED');
    expect(String((failure as Error).message)).toMatch(/^binance feed: cannot connect to ws:\/\/127\.0\.0\.1:\d+\/stream\?streams=btcusdt@trade after 3 attempts/);
    expect((failure as Error).message).not.toContain('\n');
  });
});

describe('a feed that never connected', () => {
  it('gives up after 5 attempts by default, not the 20 a feed that has delivered gets', async () => {
    const fake = await fakeBinance();
    const url = fake.url;
    await fake.close();
    const reader = await openOnlySplit(binanceTradeSource({
      symbols: ['btcusdt'], url, pollIntervalMs: 20, reconnect: { initialDelayMs: 1, maxDelayMs: 2 },
    }));
    const failure = await nextFailure(reader);

    expect(isCoattailError(failure) && failure.code).toBe('SOURCE_FAILED');
    expect(String((failure as Error).message)).toMatch(/^binance feed: cannot connect to ws:\/\/127\.0\.0\.1:\d+\/stream\?streams=btcusdt@trade after 5 attempts/);
  });
});

describe('coinbase matches feed', () => {
  it('subscribes to matches and heartbeat and turns the maker side into the taker side', async () => {
    const fake = await fakeCoinbase();
    const source = coinbaseMatchesSource({ products: ['BTC-USD', 'eth-usd'], url: fake.url, ...quick });
    const reader = await openOnlySplit(source);
    await waitUntil(() => fake.subscribeMessages.length === 1, 'the subscribe message');
    expect(fake.subscribeMessages[0]).toEqual({ type: 'subscribe', product_ids: ['BTC-USD', 'ETH-USD'], channels: ['matches', 'heartbeat'] });

    fake.sendMatch({ product: 'BTC-USD', side: 'buy', price: '64000.01', size: '0.002', time: '2024-05-01T12:00:00.123456Z' });
    fake.sendMatch({ product: 'ETH-USD', side: 'sell', type: 'last_match' });
    const { texts } = await readRecords(reader, 2);
    const [first, second] = texts.map((text) => JSON.parse(text) as Record<string, unknown>);

    expect(first).toMatchObject({
      event_id: 'coinbase-BTC-USD-501', exchange: 'coinbase', symbol: 'BTC-USD',
      price: 64000.01, quantity: 0.002, side: 'sell', timestamp: Date.UTC(2024, 4, 1, 12, 0, 0, 123),
    });
    expect(typeof first!.ingestion_timestamp).toBe('number');
    expect(second).toMatchObject({ event_id: 'coinbase-ETH-USD-501', side: 'buy' });
    expect(source.stats()).toMatchObject({ trades: 2, controlMessages: 1 });
  });

  it('reconnects and subscribes again when the heartbeats stop', async () => {
    const fake = await fakeCoinbase();
    fake.startKeepAlive(10);
    const source = coinbaseMatchesSource({ products: ['BTC-USD'], url: fake.url, ...quick, silenceTimeoutMs: 200 });
    const reader = await openOnlySplit(source);
    await waitUntil(() => source.stats().heartbeats > 2, 'heartbeats');
    fake.goSilent();
    await waitUntil(() => fake.subscribeMessages.length === 2, 'a second subscription');
    fake.sendMatch({ product: 'BTC-USD', side: 'sell' });

    expect(JSON.parse((await readRecords(reader, 1)).texts[0]!)).toMatchObject({ side: 'buy' });
    expect(source.stats()).toMatchObject({ silenceTimeouts: 1, reconnects: 1 });
  });

  it('counts a gap in a product\'s trade ids but not the sequence numbers the matches channel always skips', async () => {
    const fake = await fakeCoinbase();
    const source = coinbaseMatchesSource({ products: ['BTC-USD'], url: fake.url, ...quick });
    const reader = await openOnlySplit(source);
    await waitUntil(() => fake.subscribeMessages.length === 1, 'the subscribe message');
    fake.sendMatch({ product: 'BTC-USD', side: 'buy' });
    fake.sendMatch({ product: 'BTC-USD', side: 'buy' });
    fake.skipTrades('BTC-USD', 3);
    fake.sendMatch({ product: 'BTC-USD', side: 'buy' });
    fake.sendMatch({ product: 'BTC-USD', side: 'buy' });
    await readRecords(reader, 4);

    expect(source.stats()).toMatchObject({ tradeIdGaps: 1, missedTrades: 3, gapsBySymbol: { 'BTC-USD': 1 }, sequenceRegressions: 0 });
  });

  it('passes frames it cannot read on verbatim', async () => {
    const fake = await fakeCoinbase();
    const source = coinbaseMatchesSource({ products: ['BTC-USD'], url: fake.url, ...quick });
    const reader = await openOnlySplit(source);
    await waitUntil(() => fake.subscribeMessages.length === 1, 'the subscription');
    fake.sendRaw('{"type":"match","trade_id":"x"}');
    fake.sendRaw('[1,2,3]');
    const { texts } = await readRecords(reader, 2);

    expect(texts).toEqual(['{"type":"match","trade_id":"x"}', '[1,2,3]']);
    expect(source.stats().rawRecords).toBe(2);
  });

  it('fails the split with the exchange\'s reason when the subscription is rejected', async () => {
    const fake = await fakeCoinbase();
    fake.rejectSubscriptions('BTC-XYZ is not a valid product');
    const reader = await openOnlySplit(coinbaseMatchesSource({ products: ['BTC-XYZ'], url: fake.url, ...quick }));
    const failure = await nextFailure(reader);

    expect(isCoattailError(failure) && failure.code).toBe('SOURCE_FAILED');
    expect((failure as Error).message).toBe(
      'coinbase feed: the exchange rejected the subscription (Failed to subscribe: BTC-XYZ is not a valid product)');
  });
});
