// What a live feed counts: connections, frames by kind, and trades missing from per-market trade id runs.

/** Cumulative counters of one exchange source, over all its splits and connections. */
export interface FeedStats {
  /** Connections that reached the open state. */
  connectionsOpened: number;
  /** Unplanned: after a drop, an error or a silence timeout. */
  reconnects: number;
  /** Planned rotations: connection age (Binance cuts at 24 h) or an exchange's shutdown notice. */
  plannedReconnects: number;
  /** Connections given up because nothing arrived for `silenceTimeoutMs`. */
  silenceTimeouts: number;
  framesReceived: number;
  /** Frames normalized to a unified trade event. */
  trades: number;
  /** Frames passed on verbatim because they are not JSON or not a known shape (the engine's DLQ gets them). */
  rawRecords: number;
  /** Known non-trade messages skipped: subscription acks, heartbeats, shutdown notices, exchange errors. */
  controlMessages: number;
  heartbeats: number;
  /** Places where a market's trade ids jumped forward: trades that never reached us (e.g. during a reconnect). */
  tradeIdGaps: number;
  /** Sum of the jump sizes: how many trades were missed. */
  missedTrades: number;
  /** Trades whose id is not above the last one seen for the market: replays after a reconnect, overlap. */
  repeatedTrades: number;
  /** Coinbase: messages whose `sequence` is not above the last one of the product (arrived out of order). */
  sequenceRegressions: number;
  /** `tradeIdGaps` per unified symbol. */
  gapsBySymbol: Record<string, number>;
}

export function emptyFeedStats(): FeedStats {
  return {
    connectionsOpened: 0,
    reconnects: 0,
    plannedReconnects: 0,
    silenceTimeouts: 0,
    framesReceived: 0,
    trades: 0,
    rawRecords: 0,
    controlMessages: 0,
    heartbeats: 0,
    tradeIdGaps: 0,
    missedTrades: 0,
    repeatedTrades: 0,
    sequenceRegressions: 0,
    gapsBySymbol: {},
  };
}

export function copyFeedStats(stats: FeedStats): FeedStats {
  return { ...stats, gapsBySymbol: { ...stats.gapsBySymbol } };
}

/**
 * Both exchanges number the trades of each market 1, 2, 3... without holes, so a jump in a market's
 * trade id is exactly the number of trades lost. (Coinbase's `sequence` cannot serve here: it numbers
 * every order-book message of a product, so the matches channel alone skips sequence numbers by design.)
 */
export class TradeIdTracker {
  private readonly lastIdBySymbol = new Map<string, number>();

  constructor(private readonly stats: FeedStats) {}

  /** Records a trade id; `false` when the market has already had this id or a later one. */
  observe(symbol: string, tradeId: number): boolean {
    const last = this.lastIdBySymbol.get(symbol);
    if (last !== undefined && tradeId <= last) {
      this.stats.repeatedTrades += 1;
      return false;
    }
    if (last !== undefined && tradeId > last + 1) {
      this.stats.tradeIdGaps += 1;
      this.stats.missedTrades += tradeId - last - 1;
      this.stats.gapsBySymbol[symbol] = (this.stats.gapsBySymbol[symbol] ?? 0) + 1;
    }
    this.lastIdBySymbol.set(symbol, tradeId);
    return true;
  }
}

/** A decimal string as exchanges send prices and sizes; `undefined` for anything else (`""`, `"1e"`, `"0x1"`). */
export function parseDecimal(value: unknown): number | undefined {
  if (typeof value !== 'string' || !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(value)) return undefined;
  const number = Number(value);
  return Number.isFinite(number) ? number : undefined;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
