// Builds `anomaly_alerts` rows (SPEC §5) with ids that depend only on the input, never on timing or parallelism.

import { createHash } from 'node:crypto';
import type { TableRow } from '../../runtime/api/table.js';

export type Severity = 'low' | 'medium' | 'high' | 'critical';

/** Open string: new modules add alert types. */
export type AlertType = 'volume_spike' | 'whale' | 'spread' | (string & {});

export interface AlertInput {
  readonly type: AlertType;
  readonly moduleId: string;
  readonly symbol: string;
  /** Null for alerts that span exchanges (spread). */
  readonly exchange: string | null;
  readonly severity: Severity;
  readonly message: string;
  /** The SPEC §5 detail fields of this alert type, written as JSON text. */
  readonly details: Readonly<Record<string, string | number | null>>;
  /** What makes the alert unique within type and key: the window start (epoch ms), or the event_id with its event time. */
  readonly identity: string | number;
}

const TTL_SECONDS = 24 * 60 * 60;
const SEPARATOR = '\u001f'; // rare in names people type; fields holding it are hashed as JSON (alertId)
/** A lone UTF-16 surrogate: hashing encodes it as UTF-8, where every one becomes U+FFFD. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * 32 hex chars of sha256(type, symbol, exchange, identity). Distinct alerts need distinct ids (stores key on
 * them, SPEC §5), but exchange names and event_ids are any strings and may hold the separator or lone surrogates:
 * then the fields are hashed as a JSON array instead, which holds no raw U+001F, so it cannot equal a joined text.
 */
export function alertId(type: string, symbol: string, exchange: string | null, identity: string | number): string {
  const fields = [type, symbol, exchange ?? '', String(identity)];
  // JSON escapes lone surrogates as \udXXX, so event_ids that differ only in them keep distinct ids.
  const asJson = fields.some((field) => field.includes(SEPARATOR) || LONE_SURROGATE.test(field));
  const text = asJson ? JSON.stringify(fields) : fields.join(SEPARATOR);
  return createHash('sha256').update(text).digest('hex').slice(0, 32);
}

export function buildAlert(input: AlertInput, detectedAtMs: number): TableRow {
  return {
    alert_id: alertId(input.type, input.symbol, input.exchange, input.identity),
    alert_type: input.type,
    module_id: input.moduleId,
    symbol: input.symbol,
    exchange: input.exchange,
    severity: input.severity,
    detected_at: detectedAtMs,
    message: input.message,
    ttl_epoch: Math.floor(detectedAtMs / 1000) + TTL_SECONDS,
    details: JSON.stringify(input.details),
  };
}

/** ISO-8601 UTC text of an epoch-ms time, as timestamps appear in JSON output. */
export function isoTime(epochMs: number): string {
  return new Date(epochMs).toISOString();
}

/** A number for a human sentence: `decimals` decimals and grouped thousands (locale-independent, so stable). */
export function formatAmount(value: number, decimals = 2): string {
  const fixed = Math.abs(value).toFixed(decimals);
  const point = fixed.indexOf('.');
  const whole = point === -1 ? fixed : fixed.slice(0, point);
  let grouped = '';
  for (let end = whole.length; end > 0; end -= 3) {
    grouped = whole.slice(Math.max(0, end - 3), end) + (grouped ? ',' + grouped : '');
  }
  return (value < 0 ? '-' : '') + grouped + (point === -1 ? '' : fixed.slice(point));
}
