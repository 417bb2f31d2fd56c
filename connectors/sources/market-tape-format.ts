// How a generated trade becomes a JSON line: Binance-style epoch milliseconds or Coinbase-style ISO text, built
// with one template string because the tape feeds throughput benchmarks (10M lines must not take minutes).

import type { TradeFields } from './bad-records.js';

/** A generated trade before formatting; times are kept as the exact text the line will carry. */
export interface TapeTrade {
  eventId: string;
  exchange: string;
  symbol: string;
  price: number;
  quantity: number;
  /** Written when set; otherwise readers compute price * quantity. */
  quoteVolume: number | undefined;
  side: 'buy' | 'sell';
  /** Event time in epoch ms (for window bookkeeping) and as it is written. */
  time: number;
  timestampText: string;
  ingestionText: string;
}

export function formatTrade(trade: TapeTrade): string {
  const quote = trade.quoteVolume === undefined ? '' : `,"quote_volume":${trade.quoteVolume}`;
  return (
    `{"event_id":"${trade.eventId}","exchange":"${trade.exchange}","symbol":"${trade.symbol}","price":${trade.price},` +
    `"quantity":${trade.quantity}${quote},"side":"${trade.side}","timestamp":${trade.timestampText},` +
    `"ingestion_timestamp":${trade.ingestionText}}`
  );
}

/** The quote volume a reader will use: the given one, or price * quantity. */
export function quoteVolumeOf(trade: TapeTrade): number {
  return trade.quoteVolume ?? trade.price * trade.quantity;
}

/** The trade as ordered JSON fields, for the rare lines that are built by editing a valid one (bad records). */
export function tradeFields(trade: TapeTrade): TradeFields {
  const fields: TradeFields = [
    ['event_id', JSON.stringify(trade.eventId)],
    ['exchange', JSON.stringify(trade.exchange)],
    ['symbol', JSON.stringify(trade.symbol)],
    ['price', String(trade.price)],
    ['quantity', String(trade.quantity)],
  ];
  if (trade.quoteVolume !== undefined) fields.push(['quote_volume', String(trade.quoteVolume)]);
  fields.push(['side', `"${trade.side}"`], ['timestamp', trade.timestampText], ['ingestion_timestamp', trade.ingestionText]);
  return fields;
}

const OFFSETS: ReadonlyArray<[string, number]> = [['+00:00', 0], ['+02:00', 120], ['-05:00', -300], ['+05:30', 330], ['-03:30', -210]];

/** ISO-8601 text of epoch ms; caches the text of the current second, since consecutive trades share it. */
export class IsoClock {
  private second = Number.NaN;
  private prefix = '';

  /** `2025-02-05T10:30:00.123Z` */
  format(time: number): string {
    const second = Math.floor(time / 1000);
    if (second !== this.second) {
      this.second = second;
      this.prefix = new Date(second * 1000).toISOString().slice(0, 20); // up to and including the '.'
    }
    const millisecond = time - second * 1000;
    return this.prefix + (millisecond < 10 ? '00' : millisecond < 100 ? '0' : '') + millisecond + 'Z';
  }

  /** Mostly `...sssZ`, sometimes microseconds or a UTC offset, all naming the same instant. */
  formatVaried(time: number, random: () => number): string {
    const form = random();
    if (form < 0.9) return this.format(time);
    if (form < 0.95) return this.format(time).replace('Z', '000Z');
    const [offset, minutes] = OFFSETS[Math.floor(random() * OFFSETS.length)]!;
    return new Date(time + minutes * 60_000).toISOString().replace('Z', offset);
  }
}
