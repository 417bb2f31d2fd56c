// Writes N synthetic trades in the unified schema (SPEC §1) as JSON Lines, deterministically and fast, for
// benchmarks where the domain's anomaly tape is not the point.

import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const EXCHANGES = ['binance', 'coinbase', 'kraken', 'okx'] as const;
export const SYMBOLS = [
  'BTC-USDT', 'ETH-USDT', 'SOL-USDT', 'XRP-USDT', 'ADA-USDT', 'DOGE-USDT', 'AVAX-USDT', 'DOT-USDT',
  'LINK-USDT', 'LTC-USDT', 'BCH-USDT', 'ATOM-USDT', 'NEAR-USDT', 'UNI-USDT', 'ETC-USDT', 'FIL-USDT',
] as const;
const START_PRICES = [43000, 2300, 95, 0.6, 0.55, 0.09, 36, 7.5, 15, 72, 240, 9.8, 3.6, 6.2, 20, 5.4];
/** Trades start at 2024-01-01T00:00:00Z and arrive on average every 4 ms of event time. */
const START_MS = Date.UTC(2024, 0, 1);
const MEAN_GAP_MS = 4;

export interface Trade {
  event_id: string;
  exchange: string;
  symbol: string;
  price: number;
  quantity: number;
  quote_volume: number;
  side: 'buy' | 'sell';
  timestamp: string;
  ingestion_timestamp: string;
}

/** mulberry32: small, fast and good enough for synthetic data; the same seed gives the same tape. */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let cachedSecond = Number.NaN;
let cachedPrefix = '';

/** `Date#toISOString` with the `YYYY-MM-DDTHH:MM:SS.` prefix cached per second: most trades share it. */
function iso(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedPrefix = new Date(second * 1000).toISOString().slice(0, 20);
  }
  const millis = ms - second * 1000;
  return `${cachedPrefix}${millis < 10 ? '00' : millis < 100 ? '0' : ''}${millis}Z`;
}

/** Yields trades in file order. Event times are mostly increasing, with 2 % of trades up to 3 s out of order. */
export function* trades(count: number, seed = 1): Generator<Trade> {
  const next = random(seed);
  const prices = START_PRICES.slice();
  let clock = START_MS;
  for (let i = 0; i < count; i++) {
    clock += Math.floor(next() * 2 * MEAN_GAP_MS);
    const symbolIndex = Math.floor(next() * next() * SYMBOLS.length); // skewed: BTC and ETH trade most
    const exchange = EXCHANGES[Math.floor(next() * EXCHANGES.length)]!;
    const drift = 1 + (next() - 0.5) * 0.002;
    prices[symbolIndex] = prices[symbolIndex]! * drift;
    const price = Math.round(prices[symbolIndex]! * 10000) / 10000;
    const quantity = Math.round(-Math.log(1 - next()) * (2000 / START_PRICES[symbolIndex]!) * 1e6) / 1e6 || 0.000001;
    const eventTime = next() < 0.02 ? clock - Math.floor(next() * 3000) : clock;
    yield {
      event_id: `${exchange}-${seed}-${i}`,
      exchange,
      symbol: SYMBOLS[symbolIndex]!,
      price,
      quantity,
      quote_volume: Math.round(price * quantity * 100) / 100 || 0.01,
      side: next() < 0.5 ? 'buy' : 'sell',
      timestamp: iso(eventTime),
      ingestion_timestamp: iso(eventTime + 5 + Math.floor(next() * 200)),
    };
  }
}

/** One JSONL line (with its `\n`), built by hand: the field order and number formatting are fixed. */
export function tradeLine(t: Trade): string {
  return (
    `{"event_id":"${t.event_id}","exchange":"${t.exchange}","symbol":"${t.symbol}","price":${t.price},` +
    `"quantity":${t.quantity},"quote_volume":${t.quote_volume},"side":"${t.side}",` +
    `"timestamp":"${t.timestamp}","ingestion_timestamp":"${t.ingestion_timestamp}"}\n`
  );
}

export interface GeneratedFile {
  readonly path: string;
  readonly lines: number;
  readonly bytes: number;
}

/** Writes `count` trades to `path` in 4 MiB pieces. */
export function writeTrades(path: string, count: number, seed = 1): GeneratedFile {
  mkdirSync(dirname(resolve(path)), { recursive: true });
  const fd = openSync(path, 'w');
  let bytes = 0;
  let pending: string[] = [];
  let pendingLength = 0;
  const flush = () => {
    const text = pending.join('');
    bytes += writeSync(fd, text);
    pending = [];
    pendingLength = 0;
  };
  try {
    for (const trade of trades(count, seed)) {
      const line = tradeLine(trade);
      pending.push(line);
      pendingLength += line.length;
      if (pendingLength >= 4 << 20) flush();
    }
    flush();
  } finally {
    closeSync(fd);
  }
  return { path, lines: count, bytes };
}

/**
 * The tape `dir/trades-<count>-s<seed>.jsonl`, generated unless an earlier run left it complete (a sidecar
 * `.meta.json` records what was written, so an interrupted generation is not reused).
 */
export function ensureTrades(dir: string, count: number, seed = 1): GeneratedFile {
  const path = join(dir, `trades-${count}-s${seed}.jsonl`);
  const metaPath = `${path}.meta.json`;
  if (existsSync(path) && existsSync(metaPath)) {
    const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as GeneratedFile;
    if (meta.lines === count && meta.bytes === statSync(path).size) return { ...meta, path };
  }
  const file = writeTrades(path, count, seed);
  writeFileSync(metaPath, JSON.stringify(file) + '\n');
  return file;
}

function parseArgs(argv: string[]): { events: number; seed: number; out: string } {
  const options = { events: 1_000_000, seed: 1, out: 'bench/data/trades.jsonl' };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (flag === '--events' && value) options.events = Number(value), i++;
    else if (flag === '--seed' && value) options.seed = Number(value), i++;
    else if (flag === '--out' && value) options.out = value, i++;
    else throw new Error(`unknown or incomplete option ${flag}: use --events N --seed S --out FILE`);
  }
  if (!Number.isInteger(options.events) || options.events < 1) throw new Error('--events must be a whole number >= 1');
  return options;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { events, seed, out } = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const file = writeTrades(out, events, seed);
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(`wrote ${file.lines} trades (${(file.bytes / 1e6).toFixed(1)} MB) to ${out} in ${seconds.toFixed(2)} s\n`);
}
