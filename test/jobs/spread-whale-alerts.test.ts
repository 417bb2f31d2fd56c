import { describe, expect, it } from 'vitest';
import { alertId, buildAlert, formatAmount } from '../../jobs/modules/alerts.js';
import { addSpreadTrade, createSpreadAccumulator, spreadAlert, spreadRow, spreadSeverity, type SpreadPair } from '../../jobs/modules/spread-logic.js';
import { TABLES } from '../../jobs/modules/tables.js';
import type { Trade } from '../../jobs/modules/trade.js';
import { whaleAlert, whaleRow, whaleSeverity } from '../../jobs/modules/whale-logic.js';

const PAIR: SpreadPair = { exchangeA: 'binance', exchangeB: 'coinbase' };
const THRESHOLDS = { threshold: 100_000, high: 500_000, critical: 1_000_000 };

function trade(exchange: string, price: number, quantity: number, extra: Partial<Trade> = {}): Trade {
  return { event_id: 'w-1', exchange, symbol: 'BTC-USDT', price, quantity, quote_volume: price * quantity, side: 'sell', timestamp: 1_000, ingestion_timestamp: null, ...extra };
}

describe('spread', () => {
  it('writes no row when one exchange of the pair did not trade in the window', () => {
    const accumulator = createSpreadAccumulator();
    addSpreadTrade(accumulator, trade('binance', 100, 1), PAIR);
    addSpreadTrade(accumulator, trade('kraken', 50, 1), PAIR);
    expect(spreadRow('BTC-USDT', 0, 30_000, accumulator, PAIR)).toBeNull();
  });

  it('compares the VWAPs of exchange a and b as a percentage of b', () => {
    const accumulator = createSpreadAccumulator();
    addSpreadTrade(accumulator, trade('binance', 101, 1), PAIR);
    addSpreadTrade(accumulator, trade('binance', 102, 3), PAIR);
    addSpreadTrade(accumulator, trade('coinbase', 100, 2), PAIR);
    addSpreadTrade(accumulator, trade('kraken', 1, 100), PAIR);
    const vwapA = (101 + 306) / 4;
    expect(spreadRow('BTC-USDT', 0, 30_000, accumulator, PAIR)).toEqual({
      symbol: 'BTC-USDT', window_start: 0, window_end: 30_000, exchange_a: 'binance', exchange_b: 'coinbase',
      vwap_a: vwapA, vwap_b: 100, spread_pct: ((vwapA - 100) / 100) * 100,
    });
  });

  it('grades |spread_pct| in either direction', () => {
    const thresholds = { thresholdPct: 0.5, highPct: 1 };
    expect(spreadSeverity(0.5, thresholds)).toBeNull();
    expect(spreadSeverity(0.51, thresholds)).toBe('medium');
    expect(spreadSeverity(-0.8, thresholds)).toBe('medium');
    expect(spreadSeverity(1, thresholds)).toBe('medium');
    expect(spreadSeverity(-1.2, thresholds)).toBe('high');
  });

  it('builds a spread alert without an exchange and with exactly the SPEC detail fields', () => {
    const row = { symbol: 'ETH-USDT', window_start: 30_000, window_end: 60_000, exchange_a: 'binance', exchange_b: 'coinbase', vwap_a: 101, vwap_b: 100, spread_pct: 1 };
    const alert = spreadAlert(row, 'medium', 7_000);
    expect(alert).toMatchObject({ alert_type: 'spread', module_id: 'MOD-003', symbol: 'ETH-USDT', exchange: null, severity: 'medium' });
    expect(JSON.parse(alert.details as string)).toEqual({ spread_pct: 1, exchange_a_vwap: 101, exchange_b_vwap: 100, window_start: '1970-01-01T00:00:30.000Z' });
  });
});

describe('whale', () => {
  it('grades quote volume strictly above each threshold', () => {
    expect(whaleSeverity(100_000, THRESHOLDS)).toBeNull();
    expect(whaleSeverity(100_000.01, THRESHOLDS)).toBe('medium');
    expect(whaleSeverity(500_000, THRESHOLDS)).toBe('medium');
    expect(whaleSeverity(500_001, THRESHOLDS)).toBe('high');
    expect(whaleSeverity(1_000_000, THRESHOLDS)).toBe('high');
    expect(whaleSeverity(1_000_001, THRESHOLDS)).toBe('critical');
  });

  it('writes the whale_trades row and an alert keyed by event_id and event time', () => {
    const whale = trade('coinbase', 50_000, 30, { event_id: 'big-1', timestamp: 1_738_751_400_000 });
    expect(whaleRow(whale, 'critical')).toEqual({
      event_id: 'big-1', symbol: 'BTC-USDT', exchange: 'coinbase', price: 50_000, quantity: 30, quote_volume: 1_500_000,
      side: 'sell', timestamp: 1_738_751_400_000, severity: 'critical',
    });
    const alert = whaleAlert(whale, 'critical', 0);
    expect(alert.alert_id).toBe(alertId('whale', 'BTC-USDT', 'coinbase', 'big-1@1738751400000'));
    expect(whaleAlert({ ...whale }, 'critical', 5_000).alert_id).toBe(alert.alert_id);
    // The same event_id passing again two hours later (beyond the dedup horizon) is another alert.
    expect(whaleAlert({ ...whale, timestamp: whale.timestamp + 7_200_000 }, 'critical', 0).alert_id).not.toBe(alert.alert_id);
    expect(JSON.parse(alert.details as string)).toEqual({ event_id: 'big-1', quote_volume: 1_500_000, price: 50_000, quantity: 30, side: 'sell' });
    expect(alert.message).toBe('A sell of 30 BTC worth 1,500,000.00 USDT traded on coinbase at 50000.');
  });
});

describe('alerts', () => {
  const input = { type: 'whale', moduleId: 'MOD-002', symbol: 'BTC-USDT', exchange: 'binance', severity: 'high', message: 'm', details: { a: 1 }, identity: 'e-1' } as const;

  it('derives the same 32-hex alert_id from the same input whenever it is detected', () => {
    const first = buildAlert(input, 1_000);
    const later = buildAlert(input, 9_999_000);
    expect(first.alert_id).toMatch(/^[0-9a-f]{32}$/);
    expect(later.alert_id).toBe(first.alert_id);
    expect(buildAlert({ ...input, identity: 'e-2' }, 1_000).alert_id).not.toBe(first.alert_id);
    expect(buildAlert({ ...input, type: 'spread' }, 1_000).alert_id).not.toBe(first.alert_id);
    expect(buildAlert({ ...input, exchange: 'coinbase' }, 1_000).alert_id).not.toBe(first.alert_id);
    expect(alertId('volume_spike', 'AB-CD', 'x', 60_000)).not.toBe(alertId('volume_spike', 'AB-CD', 'x', 120_000));
    // Fields holding the U+001F separator must not blur into each other (SPEC §5: stores key on alert_id).
    expect(alertId('whale', 'AB-CD', 'x\u001fb', 'c@1')).not.toBe(alertId('whale', 'AB-CD', 'x', 'b\u001fc@1'));
    // Nor may event_ids that differ only in lone surrogates (dedup keeps both): UTF-8 turns each into U+FFFD.
    expect(alertId('whale', 'AB-CD', 'x', 'e\ud800@1')).not.toBe(alertId('whale', 'AB-CD', 'x', 'e\udbff@1'));
    expect(alertId('whale', 'AB-CD', 'x', 'e\ud800@1')).not.toBe(alertId('whale', 'AB-CD', 'x', 'e\ufffd@1'));
  });

  it('sets ttl_epoch to detected_at plus 24 hours in epoch seconds and writes details as JSON text', () => {
    const alert = buildAlert(input, 1_738_751_400_999);
    expect(alert.ttl_epoch).toBe(1_738_751_400 + 86_400);
    expect(alert.details).toBe('{"a":1}');
    expect(Object.keys(alert)).toEqual(TABLES.anomaly_alerts.columns.map((column) => column.name));
  });

  it('formats amounts the same way on every machine', () => {
    expect(formatAmount(1234567.891)).toBe('1,234,567.89');
    expect(formatAmount(-999.5, 0)).toBe('-1,000');
    expect(formatAmount(0.25, 3)).toBe('0.250');
  });
});

describe('tables', () => {
  const columns = (name: keyof typeof TABLES) => TABLES[name].columns.map((column) => column.name).join(',');

  it('names the columns of every table exactly as SPEC §5-§6 list them, in order', () => {
    expect(columns('volume_aggregates')).toBe('symbol,exchange,window_start,window_end,trade_count,total_volume,avg_price,max_price,min_price,buy_volume,sell_volume');
    expect(columns('exchange_spreads')).toBe('symbol,window_start,window_end,exchange_a,exchange_b,vwap_a,vwap_b,spread_pct');
    expect(columns('whale_trades')).toBe('event_id,symbol,exchange,price,quantity,quote_volume,side,timestamp,severity');
    expect(columns('anomaly_alerts')).toBe('alert_id,alert_type,module_id,symbol,exchange,severity,detected_at,message,ttl_epoch,details');
    expect(columns('dlq')).toBe('reason,error,raw,source,offset,received_at');
  });

  it('types timestamps, counts and details and partitions by the time column', () => {
    const typeOf = (table: keyof typeof TABLES, column: string) => TABLES[table].columns.find((c) => c.name === column)!.type;
    expect(['window_start', 'window_end'].map((c) => typeOf('volume_aggregates', c))).toEqual(['timestamp', 'timestamp']);
    expect(typeOf('volume_aggregates', 'trade_count')).toBe('int64');
    expect(typeOf('whale_trades', 'timestamp')).toBe('timestamp');
    expect([typeOf('anomaly_alerts', 'detected_at'), typeOf('anomaly_alerts', 'details'), typeOf('anomaly_alerts', 'ttl_epoch')]).toEqual(['timestamp', 'json', 'int64']);
    expect([typeOf('dlq', 'offset'), typeOf('dlq', 'received_at')]).toEqual(['string', 'timestamp']);
    expect(Object.values(TABLES).map((t) => t.partitionBy)).toEqual(['window_start', 'window_start', 'timestamp', 'detected_at', 'received_at']);
    const nullable = Object.values(TABLES).flatMap((t) => t.columns.filter((c) => c.nullable).map((c) => `${t.name}.${c.name}`));
    expect(nullable).toEqual(['anomaly_alerts.exchange']);
  });
});
