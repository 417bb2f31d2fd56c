// The volume detector keeps a key's z-score history only while it can still count: a (symbol, exchange) that stops
// trading must not hold state for the rest of the run (memory flat in input length when symbols come and go).
import { describe, expect, it } from 'vitest';

import { JobTestHarness, type JobSnapshot } from '../../runtime/index.js';
import volumeJob from '../../jobs/volume.js';

const MINUTE = 60_000;
const START = Date.UTC(2025, 1, 5, 10, 0, 0);

function trade(id: number, symbol: string, at: number, quantity = 1): string {
  return JSON.stringify({ event_id: `t${id}`, exchange: 'binance', symbol, price: 100, quantity, side: 'buy', timestamp: at });
}

/** Keys holding global state (the z-score history) in the volume window step of a job snapshot. */
function keysWithHistory(snapshot: JobSnapshot): string[] {
  const keys: string[] = [];
  for (const operators of snapshot.operators) {
    const window = operators['volume-window'];
    for (const group of Object.values(window?.keyGroups ?? {}) as Array<{ global: Record<string, Array<[string, unknown]>> }>) {
      for (const rows of Object.values(group.global)) keys.push(...rows.map(([key]) => key));
    }
  }
  return keys.sort();
}

describe('volume detector history', () => {
  it('drops a key\'s history once it is a history horizon past its newest window, with the same alerts as keeping it', async () => {
    const harness = await JobTestHarness.create(volumeJob);
    let id = 0;
    // OLD-USDT trades for 15 minutes, then stops; NEW-USDT trades every minute for two hours, one burst at the end.
    const lines: string[] = [];
    for (let minute = 0; minute < 120; minute++) {
      const at = START + minute * MINUTE + 1_000;
      if (minute < 15) lines.push(trade(id++, 'OLD-USDT', at, 1 + (minute % 3)));
      lines.push(trade(id++, 'NEW-USDT', at, minute === 119 ? 50 : 1 + (minute % 2)));
    }
    await harness.pipeInput(lines.slice(0, lines.length - 1));
    // OLD's newest window ended at minute 15, more than an hour (the history) before the watermark: forgotten.
    expect(keysWithHistory(harness.snapshot())).toEqual(['NEW-USDT|binance']);
    await harness.pipeInput(lines.slice(-1));
    await harness.finish();
    const alerts = harness.output<{ alert_type: string; symbol: string }>('anomaly-alerts');
    expect(alerts.map((alert) => `${alert.alert_type} ${alert.symbol}`)).toContain('volume_spike NEW-USDT');
    expect(harness.output('volume-aggregates')).toHaveLength(135);
  });
});
