// The parse step shared by benchmark jobs: JSON text to a trade with its event time in epoch milliseconds.

import type { Collector, ProcessContext, RawRecord } from 'coattail';
import { parseEventTime } from '../../jobs/modules/trade.js';

export interface ParsedTrade {
  event_id: string;
  exchange: string;
  symbol: string;
  price: number;
  quantity: number;
  quote_volume: number;
  side: string;
  /** Epoch milliseconds (the file holds ISO-8601 text). */
  timestamp: number;
  ingestion_timestamp: string;
}

/** Parses one line; malformed lines are counted and dropped (data quality is not what these jobs measure). */
export function parseTrade(raw: RawRecord, context: ProcessContext, out: Collector<ParsedTrade>): void {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(raw.text) as Record<string, unknown>;
  } catch {
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  // Event time once, here: the watermark extractor runs in two threads and should stay a field read. The
  // detectors' char-code ISO parser, because Date.parse costs several times more per line.
  value.timestamp = parseEventTime(value.timestamp) ?? Number.NaN;
  out.collect(value as unknown as ParsedTrade);
}
