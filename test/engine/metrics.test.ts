// Counters as the summary shows them: dotted names nest, and a name that extends another counter's still has a place.
import { describe, expect, it } from 'vitest';

import { nestCounters } from '../../runtime/exec/metrics.js';

describe('nestCounters', () => {
  it('nests dotted names into groups', () => {
    expect(nestCounters({ records_in: 5, 'rows.alerts': 2, 'rows.dlq': 1, 'late_dropped.volume': 3 })).toEqual({
      late_dropped: { volume: 3 },
      records_in: 5,
      rows: { alerts: 2, dlq: 1 },
    });
  });

  it('keeps a counter whose name extends another counter beside it, under the rest of its name (tables alerts and alerts.v2)', () => {
    expect(nestCounters({ 'rows.alerts': 2, 'rows.alerts.v2': 7, rows: 9, 'rows.dlq': 1 })).toEqual({
      rows: 9,
      'rows.alerts': 2,
      'rows.alerts.v2': 7,
      'rows.dlq': 1,
    });
    expect(nestCounters({ 'rows.alerts': 2, 'rows.alerts.v2': 7, 'rows.alerts.v2.x': 1 })).toEqual({ rows: { alerts: 2, 'alerts.v2': 7, 'alerts.v2.x': 1 } });
  });
});
