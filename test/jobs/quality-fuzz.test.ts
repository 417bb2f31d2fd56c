// The quality decision of the engine's bytes path (JSON field reader, else JSON.parse) against the clean-room
// oracle, on seeded mutated trade lines (test/support/quality-fuzz.ts; long campaigns: scripts/fuzz-quality.mjs).
import { describe, expect, it, vi } from 'vitest';

import { decisionDifferences, describeMismatch, lineDifferences, runFuzzSeed, shrinkLine } from '../support/quality-fuzz.js';

// `coattail` resolves to dist/ here, while the decode stage below comes from source: both must share the source's
// `currentLine`, or the field reader would never see a line and every record would silently take the text path.
vi.mock('coattail', () => import('../../runtime/formats/json-fields.js'));

const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8];
const LINES_PER_SEED = 15_000;

describe('the quality decision, engine against the spec oracle', () => {
  it.each(SEEDS)('agrees on every record of seed %i', (seed) => {
    const report = runFuzzSeed(seed, LINES_PER_SEED);
    const shown = report.mismatches.map(describeMismatch).join('\n\n');
    expect(report.mismatches.length, `${report.mismatches.length} mismatches:\n${shown}`).toBe(0);
    // The run is only meaningful if every path was taken: reads in place, passes among them, each DLQ reason.
    expect(report.records).toBeGreaterThanOrEqual(LINES_PER_SEED);
    expect(report.readInPlace / report.records).toBeGreaterThan(0.25);
    expect(report.passedInPlace).toBeGreaterThan(LINES_PER_SEED * 0.2);
    for (const status of ['passed', 'malformed', 'incomplete', 'invalid'] as const) {
      expect(report.statuses[status], status).toBeGreaterThan(LINES_PER_SEED * 0.04);
    }
  });

  it('tells -0 from 0, and a different reason or flag from agreement', () => {
    const passed = { status: 'passed', values: ['e', 'x', 'AB-CD', 1, 1, 1, 'buy', 0, null], lateFlagged: false, inconsistent: false } as const;
    expect(decisionDifferences(passed, passed)).toEqual([]);
    expect(decisionDifferences(passed, { ...passed, values: ['e', 'x', 'AB-CD', 1, 1, 1, 'buy', -0, null] })).toEqual(['timestamp: engine 0, oracle -0']);
    expect(decisionDifferences(passed, { ...passed, inconsistent: true })).toHaveLength(1);
    expect(decisionDifferences({ status: 'invalid', error: 'a' }, { status: 'incomplete', error: 'a' })).toHaveLength(1);
    expect(decisionDifferences({ status: 'invalid', error: 'a' }, { status: 'invalid', error: 'b' })).toHaveLength(1);
  });

  it('finds no difference on a plain line and shrinks a mismatch to its core', () => {
    const line = Buffer.from('{"event_id":"e-1","exchange":"binance","symbol":"BTC-USDT","price":1.5,"quantity":2,"side":"buy","timestamp":1738749600000}');
    expect(lineDifferences(line)).toEqual([]);
    // A stand-in mismatch: any line holding "1.5" keeps failing; the shrinker must cut everything else away.
    expect(shrinkLine(line, (candidate) => candidate.includes('1.5')).toString()).toBe('1.5');
  });
});
