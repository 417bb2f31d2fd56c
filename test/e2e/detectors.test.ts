// jobs/all.ts end to end on generated tapes: the CLI's tables and _summary.json against the single-threaded
// reference at -p 1, 2 and 4, and the tape's injected anomalies against the alerts.

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runReference, type ReferenceResult } from '../../bench/baselines/reference.js';
import { writeTape, type TapeTruth } from '../../connectors/sources/market-tape.js';
import { loadFeatures } from '../../jobs/modules/config.js';
import { TABLE_NAMES } from '../../jobs/modules/tables.js';
import {
  alertWindowStart, canonicalRows, comparableSummary, ensureBuilt, NO_DIFFERENCE, readJsonlTables, readSummary,
  rowDifference, runJobOnFile, temporaryFolders, type Row, type Summary, type Tables,
} from './detector-support.js';

const SEEDS = [5, 17, 2024];
const PARALLELISMS = [1, 2, 4] as const;
/** 100 events a second: 200k events span 33 minutes, enough history for volume bursts and very late records. */
const TAPE = { events: 200_000, eventsPerSecond: 100 };

const folders = temporaryFolders('coattail-detectors');
afterAll(() => folders.removeAll());
beforeAll(() => ensureBuilt());

interface Output {
  readonly tables: Tables;
  readonly summary: Summary;
}

function rows(tables: Tables, table: (typeof TABLE_NAMES)[number]): Row[] {
  return tables[table] ?? [];
}

/** What the truth says the alerts must be, as comparable strings. */
function expectedAlerts(truth: TapeTruth): string[] {
  return [
    ...truth.whales.map((whale) => `whale ${whale.event_id} ${whale.symbol} ${whale.exchange} ${whale.severity}`),
    ...truth.bursts.map((burst) => `volume_spike ${burst.symbol} ${burst.exchange} ${burst.window_start} ${burst.severity}`),
    ...truth.divergences.map((divergence) => `spread ${divergence.symbol} null ${divergence.window_start} ${divergence.severity}`),
  ].sort();
}

function foundAlerts(alerts: readonly Row[]): string[] {
  return alerts
    .map((alert) => {
      if (alert.alert_type === 'whale') {
        const details = JSON.parse(alert.details as string) as { event_id: string };
        return `whale ${details.event_id} ${String(alert.symbol)} ${String(alert.exchange)} ${String(alert.severity)}`;
      }
      return `${String(alert.alert_type)} ${String(alert.symbol)} ${String(alert.exchange)} ${alertWindowStart(alert)} ${String(alert.severity)}`;
    })
    .sort();
}

describe.each(SEEDS)('jobs/all.ts on a generated tape with seed %i', (seed) => {
  let truth: TapeTruth;
  let reference: ReferenceResult;
  const outputs = new Map<number, Output>();

  beforeAll(async () => {
    const folder = folders.make(`seed-${seed}`);
    const tape = join(folder, 'tape.jsonl');
    truth = await writeTape({ ...TAPE, seed, out: tape });
    reference = await runReference(tape, loadFeatures());
    for (const parallelism of PARALLELISMS) {
      const out = join(folder, `out-p${parallelism}`);
      await runJobOnFile('all', tape, out, { parallelism });
      outputs.set(parallelism, { tables: readJsonlTables(out), summary: readSummary(out) });
    }
  }, 600_000);

  it.each(PARALLELISMS)('writes every table with exactly the reference rows at -p %i', (parallelism) => {
    const { tables } = outputs.get(parallelism)!;
    for (const table of TABLE_NAMES) {
      expect(rowDifference(table, rows(tables, table), reference.tables[table])).toEqual(NO_DIFFERENCE(table));
      expect(rows(tables, table)).toHaveLength(reference.tables[table].length);
    }
  });

  it.each(PARALLELISMS)('writes a _summary.json with the reference counters at -p %i, and nothing is lost', (parallelism) => {
    const { summary } = outputs.get(parallelism)!;
    expect(comparableSummary(summary)).toEqual(reference.summary);
    const { records_in, passed, malformed, incomplete, invalid, duplicate } = summary as Record<string, number>;
    expect(passed! + malformed! + incomplete! + invalid! + duplicate!).toBe(records_in);
    expect(records_in).toBe(truth.records);
    expect(summary).toMatchObject({ parallelism, stopped: false });
  });

  it('writes the same tables at -p 1 and -p 4, and the same alert ids at every parallelism', () => {
    const one = outputs.get(1)!.tables;
    const four = outputs.get(4)!.tables;
    for (const table of TABLE_NAMES) expect(canonicalRows(table, rows(four, table))).toEqual(canonicalRows(table, rows(one, table)));
    const alertIds = (tables: Tables) => rows(tables, 'anomaly_alerts').map((alert) => alert.alert_id as string).sort();
    const ids = alertIds(one);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(reference.tables.anomaly_alerts.map((alert) => alert.alert_id as string).sort());
    for (const parallelism of PARALLELISMS) expect(alertIds(outputs.get(parallelism)!.tables)).toEqual(ids);
  });

  it('finds every injected whale, burst and divergence and raises no other alert', () => {
    // The tape must carry every kind of anomaly, or this test would prove little.
    expect(truth.whales.length).toBeGreaterThan(0);
    expect(truth.bursts.length).toBeGreaterThan(0);
    expect(truth.divergences.length).toBeGreaterThan(0);
    expect(truth.veryLate).toBeGreaterThan(0);
    for (const parallelism of PARALLELISMS) {
      const { tables, summary } = outputs.get(parallelism)!;
      expect(foundAlerts(rows(tables, 'anomaly_alerts'))).toEqual(expectedAlerts(truth));
      const whales = rows(tables, 'whale_trades').map((row) => `${String(row.event_id)} ${String(row.severity)}`).sort();
      expect(whales).toEqual(truth.whales.map((whale) => `${whale.event_id} ${whale.severity}`).sort());
      // Very late trades leave the windows but stay whales when they are big enough.
      expect(summary.late_dropped).toEqual({ volume: truth.veryLate, spread: truth.veryLate });
      const lateWhales = truth.whales.filter((whale) => whale.late).map((whale) => whale.event_id);
      expect(lateWhales.length).toBeGreaterThan(0);
      const whaleIds = new Set(rows(tables, 'whale_trades').map((row) => row.event_id));
      expect(lateWhales.filter((id) => !whaleIds.has(id))).toEqual([]);
      expect(summary).toMatchObject({
        malformed: truth.rejected.malformed,
        incomplete: truth.rejected.incomplete,
        invalid: truth.rejected.invalid,
        duplicate: truth.duplicates.exact + truth.duplicates.altered,
        late_flagged: truth.lateFlagged,
        inconsistent: truth.inconsistent,
      });
    }
  });
});
