// MOD-002 whale detection: severity of a single trade's quote volume, its `whale_trades` row and alert.

import type { TableRow } from '../../runtime/api/table.js';
import { buildAlert, formatAmount, type Severity } from './alerts.js';
import type { WhaleThresholds } from './config.js';
import type { Trade } from './trade.js';

export type { WhaleThresholds } from './config.js';

/** `critical` above `critical`, `high` above `high`, `medium` above `threshold`, else null (not a whale). */
export function whaleSeverity(quoteVolume: number, thresholds: WhaleThresholds): Severity | null {
  if (quoteVolume > thresholds.critical) return 'critical';
  if (quoteVolume > thresholds.high) return 'high';
  if (quoteVolume > thresholds.threshold) return 'medium';
  return null;
}

export function whaleRow(trade: Trade, severity: Severity): TableRow {
  return {
    event_id: trade.event_id,
    symbol: trade.symbol,
    exchange: trade.exchange,
    price: trade.price,
    quantity: trade.quantity,
    quote_volume: trade.quote_volume,
    side: trade.side,
    timestamp: trade.timestamp,
    severity,
  };
}

/** The quote currency of a `BASE-QUOTE` symbol, for the alert sentence. */
function quoteCurrency(symbol: string): string {
  const dash = symbol.lastIndexOf('-');
  return dash === -1 ? 'quote' : symbol.slice(dash + 1);
}

/** What the quantity counts: the base of `BASE-QUOTE` (a symbol of another shape, allowed by config, as it is). */
function baseCurrency(symbol: string): string {
  const dash = symbol.lastIndexOf('-');
  return dash === -1 ? symbol : symbol.slice(0, dash);
}

export function whaleAlert(trade: Trade, severity: Severity, detectedAtMs: number): TableRow {
  return buildAlert(
    {
      type: 'whale',
      moduleId: 'MOD-002',
      symbol: trade.symbol,
      exchange: trade.exchange,
      severity,
      message:
        `A ${trade.side} of ${trade.quantity} ${baseCurrency(trade.symbol)} worth ` +
        `${formatAmount(trade.quote_volume)} ${quoteCurrency(trade.symbol)} traded on ${trade.exchange} at ${trade.price}.`,
      details: {
        event_id: trade.event_id,
        quote_volume: trade.quote_volume,
        price: trade.price,
        quantity: trade.quantity,
        side: trade.side,
      },
      // With its event time: an event_id may pass again more than the dedup horizon later (SPEC §2), and that
      // second whale is another alert, which stores keyed on alert_id must not fold into the first.
      identity: `${trade.event_id}@${trade.timestamp}`,
    },
    detectedAtMs,
  );
}
