// The counters of live exchange feeds (reconnects, trade id gaps) on the status line of `coattail run`; the engine
// writes them to `_summary.json` as `source_stats` (Source.stats).

import type { Source } from '../api/source.js';

/** Per feed uri: what `stats()` of an exchange source counts (connectors/sources/exchanges/feed-stats.ts). */
export type FeedCounters = Record<string, Record<string, unknown>>;

/** The feed counters of an exchange source, or undefined for any other source. */
export function feedCountersOf(source: Source): FeedCounters | undefined {
  return source.stats?.() as FeedCounters | undefined;
}

/** `coinbase:BTC-USD 1 gap (2 trades missed), 0 reconnects` for each feed, for the status line. */
export function formatFeedStatus(feeds: FeedCounters): string {
  return Object.entries(feeds)
    .map(([uri, counters]) => {
      const gaps = Number(counters.tradeIdGaps ?? 0);
      const missed = Number(counters.missedTrades ?? 0);
      const reconnects = Number(counters.reconnects ?? 0);
      return `${uri} ${gaps} gap${gaps === 1 ? '' : 's'} (${missed} trades missed), ${reconnects} reconnects`;
    })
    .join(', ');
}
