// Symbol mapping, feed URIs and the producer loop of the exchange connectors.

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isCoattailError } from '../../runtime/errors.js';
import { appendLinesToFile, parseFeedUri, produce } from '../../connectors/sources/exchanges/index.js';
import { binanceToUnifiedSymbol, coinbaseToUnifiedSymbol, spreadPairSymbol } from '../../connectors/sources/exchanges/symbols.js';
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

const quick = { pollIntervalMs: 20, reconnect: { initialDelayMs: 10, maxDelayMs: 50 } };

describe('symbol mapping', () => {
  it('splits Binance symbols on their quote asset and keeps Coinbase products as they are', () => {
    expect(binanceToUnifiedSymbol('BTCUSDT')).toBe('BTC-USDT');
    expect(binanceToUnifiedSymbol('ethbtc')).toBe('ETH-BTC');
    expect(binanceToUnifiedSymbol('BTCFDUSD')).toBe('BTC-FDUSD');
    expect(binanceToUnifiedSymbol('BTCTUSD')).toBe('BTC-TUSD');
    expect(binanceToUnifiedSymbol('BNBEUR')).toBe('BNB-EUR');
    expect(binanceToUnifiedSymbol('1000SATSUSDT')).toBe('1000SATS-USDT');
    expect(binanceToUnifiedSymbol('abc-xyz')).toBe('ABC-XYZ');
    expect(binanceToUnifiedSymbol('FOOBAR')).toBeUndefined();
    expect(binanceToUnifiedSymbol('USDT')).toBeUndefined();
    expect(coinbaseToUnifiedSymbol('btc-usd')).toBe('BTC-USD');
    expect(coinbaseToUnifiedSymbol('BTCUSD')).toBeUndefined();
  });

  it('pairs a USDT market with the USD market of the same base for the spread job, unless told otherwise', () => {
    expect(spreadPairSymbol('BTC-USDT')).toBe('BTC-USD');
    expect(spreadPairSymbol('BTC-USD')).toBe('BTC-USD');
    expect(spreadPairSymbol('ETH-USDC')).toBe('ETH-USD');
    expect(spreadPairSymbol('ETH-BTC')).toBe('ETH-BTC');
    expect(spreadPairSymbol('BTC-USDT', {})).toBe('BTC-USDT');
  });
});

describe('feed URIs', () => {
  it('builds one source over both exchanges from a URI joined with +', async () => {
    const binance = await fakeBinance();
    const coinbase = await fakeCoinbase();
    const uri = `binance:btcusdt,ethusdt?url=${binance.url}+coinbase:BTC-USD?url=${encodeURIComponent(coinbase.url)}`;
    const source = parseFeedUri(uri);

    expect(source.uri).toBe(uri);
    expect(source.bounded).toBe(false);
    expect(await source.discoverSplits()).toEqual([
      { splitId: 'binance-0', origin: 'binance:btcusdt@trade/ethusdt@trade' },
      { splitId: 'coinbase-0', origin: 'coinbase:BTC-USD' },
    ]);
    expect(Object.keys(source.stats())).toEqual(['binance:btcusdt,ethusdt', 'coinbase:BTC-USD']);
  });

  it.each([
    ['', /is empty/],
    ['kraken:XBT-USD', /^unknown feed 'kraken:XBT-USD': expected binance:<symbols> or coinbase:<products>/],
    ['btcusdt', /^unknown feed 'btcusdt'/],
    ['binance:', /^feed 'binance:' lists no symbols/],
    ['binance:btcusdt+', /has an empty part/],
    ['binance:btcusdt+binance:ethusdt', /names binance twice/],
    ['binance:FOOBAR', /^binance symbol 'FOOBAR' is not understood/],
    ['coinbase:BTCUSD', /^coinbase product 'BTCUSD' is not understood/],
    ['binance:btcusdt?depth=5', /unknown option 'depth=5'/],
    ['coinbase:BTC-USD?url=https://example.com', /must start with ws:\/\/ or wss:\/\//],
  ])('rejects the feed URI %j with one clear line', (uri, message) => {
    let failure: unknown;
    try {
      parseFeedUri(uri);
    } catch (error) {
      failure = error;
    }
    expect(isCoattailError(failure) && failure.code).toBe('BAD_ARGUMENT');
    expect((failure as Error).message).toMatch(message);
    expect((failure as Error).message).not.toContain('\n');
  });
});

describe('produce', () => {
  it('writes normalized trades and raw frames from every feed to a file until stopped', async () => {
    const binance = await fakeBinance();
    const coinbase = await fakeCoinbase();
    const folder = await mkdtemp(join(tmpdir(), 'coattail-produce-'));
    cleanups.push(() => rm(folder, { recursive: true, force: true }));
    const path = join(folder, 'nested', 'tape.jsonl');
    const source = parseFeedUri(`binance:btcusdt?url=${binance.url}+coinbase:BTC-USD?url=${coinbase.url}`, {
      binance: quick, coinbase: quick,
    });
    const controller = new AbortController();
    let lastStatus = { lines: 0 };
    const running = produce({ from: [source], to: appendLinesToFile(path), signal: controller.signal, onStatus: (s) => { lastStatus = s; } });

    await waitUntil(() => binance.openConnectionCount === 1 && coinbase.subscribeMessages.length === 1, 'both connections');
    binance.sendTrade({ symbol: 'BTCUSDT', tradeId: 1 });
    binance.sendRaw('{"broken":\n"frame"}');
    coinbase.sendMatch({ product: 'BTC-USD', side: 'sell' });
    await waitUntil(() => lastStatus.lines === 3, 'three lines written');
    controller.abort();
    const status = await running;

    const lines = (await readFile(path, 'utf8')).split('\n').filter((line) => line !== '');
    expect(lines).toHaveLength(3);
    expect(lines).toContain('{"broken": "frame"}');
    const events = lines.filter((line) => line.includes('event_id')).map((line) => JSON.parse(line) as { event_id: string });
    expect(events.map((event) => event.event_id).sort()).toEqual(['binance-BTCUSDT-1', 'coinbase-BTC-USD-501']);
    expect(status.lines).toBe(3);
    expect(status.linesByOrigin).toEqual({ 'binance:btcusdt@trade': 2, 'coinbase:BTC-USD': 1 });
  });
});

describe('produce when the writer fails', () => {
  it('stops reading and reports the failure as one line', async () => {
    const binance = await fakeBinance();
    const source = parseFeedUri(`binance:btcusdt?url=${binance.url}`, { binance: quick });
    const running = produce({
      from: [source],
      to: async () => {
        throw new Error('disk full');
      },
      signal: new AbortController().signal,
    });
    await waitUntil(() => binance.openConnectionCount === 1, 'the connection');
    binance.sendTrade({ symbol: 'BTCUSDT' });

    await expect(running).rejects.toMatchObject({ code: 'SINK_FAILED', message: 'produce stopped: disk full' });
    await waitUntil(() => binance.openConnectionCount === 0, 'the feed connection to close');
  });
});
