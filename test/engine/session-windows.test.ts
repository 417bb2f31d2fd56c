// Session windows through a whole job: never pre-aggregated where records are parsed, and the same sessions and
// late records as an independent computation at every parallelism and chunk size.
import { describe, expect, it } from 'vitest';

import { JobTestHarness, OutputTag, defineJob, session, type SinkFactory } from '../../runtime/index.js';
import { buildJob } from '../../runtime/graph/job.js';
import { planJob } from '../../runtime/plan/physical-plan.js';
import { sortRows, windowTape, type WindowRow, type WindowTrade } from '../e2e/engine-cli-support.js';

const GAP_MS = 1_500;
const DELAY_MS = 5_000;
const LATE = new OutputTag<WindowTrade>('late');
const table = (name: string): SinkFactory<unknown> => ({
  name,
  create: () => {
    throw new Error('the harness replaces sinks');
  },
});

interface Sum {
  readonly count: number;
  readonly qty: number;
}

const sessionJob = defineJob('sessions', (env) => {
  const sessions = env
    .source('lines')
    .process<WindowTrade>('parse', (raw, _context, out) => {
      try {
        out.collect(JSON.parse(raw.text) as WindowTrade);
      } catch {
        // windowTape's broken lines are not what this test is about
      }
    })
    .withWatermarks('time', { timestamp: (trade) => trade.t })
    .keyBy('by-symbol', (trade) => trade.symbol)
    .window(session(GAP_MS), { delay: DELAY_MS, lateCounter: 'late_dropped' })
    .sideOutputLateData(LATE)
    .aggregate<Sum, Sum, WindowRow>(
      'sum',
      {
        createAccumulator: () => ({ count: 0, qty: 0 }),
        add: (trade, sum) => ({ count: sum.count + 1, qty: sum.qty + trade.qty }),
        getResult: (sum) => sum,
        merge: (a, b) => ({ count: a.count + b.count, qty: a.qty + b.qty }),
      },
      {
        process(symbol, sum, context, out) {
          out.collect({ symbol, start: context.window.start, end: context.window.end, count: sum.count, qty: sum.qty });
        },
      },
    );
  sessions.sinkTo('sessions', table('sessions'));
  sessions.getSideOutput(LATE).sinkTo('late', table('late'));
});

/**
 * The sessions computed the plain way: in tape order, the watermark before a trade is the newest event time
 * before it; sessions whose end is at or below it less the delay have fired; a trade joins every open session
 * of its symbol that `[t, t + gap]` reaches, or opens one, or is late when that window has ended too.
 */
function expectSessions(lines: readonly string[]): { rows: WindowRow[]; lateIds: string[] } {
  const open = new Map<string, WindowRow[]>();
  const rows: WindowRow[] = [];
  const lateIds: string[] = [];
  let newest = Number.NEGATIVE_INFINITY;
  const fireUpTo = (windowWatermark: number) => {
    for (const [symbol, sessions] of open) {
      rows.push(...sessions.filter((s) => s.end <= windowWatermark));
      open.set(symbol, sessions.filter((s) => s.end > windowWatermark));
    }
  };
  for (const line of lines) {
    let trade: WindowTrade;
    try {
      trade = JSON.parse(line) as WindowTrade;
    } catch {
      continue;
    }
    fireUpTo(newest - DELAY_MS);
    const sessions = open.get(trade.symbol) ?? [];
    const reached = sessions.filter((s) => s.start <= trade.t + GAP_MS && trade.t <= s.end);
    if (reached.length === 0 && trade.t + GAP_MS <= newest - DELAY_MS) {
      lateIds.push(trade.id);
    } else {
      const merged: WindowRow = {
        symbol: trade.symbol,
        start: Math.min(trade.t, ...reached.map((s) => s.start)),
        end: Math.max(trade.t + GAP_MS, ...reached.map((s) => s.end)),
        count: 1 + reached.reduce((n, s) => n + s.count, 0),
        qty: trade.qty + reached.reduce((n, s) => n + s.qty, 0),
      };
      open.set(trade.symbol, [...sessions.filter((s) => !reached.includes(s)), merged]);
    }
    newest = Math.max(newest, trade.t);
  }
  fireUpTo(Number.POSITIVE_INFINITY);
  return { rows: sortRows(rows), lateIds: lateIds.sort() };
}

describe('session windows in a job', () => {
  it('are not pre-aggregated where records are parsed (a session spans chunks)', () => {
    expect(planJob(buildJob(sessionJob, { live: false, outputs: {} }, undefined).graph).preAggregated).toEqual([]);
  });

  it('give the same sessions and late records as an independent computation, at every parallelism and chunk size', async () => {
    const lines = windowTape(6_000, 11);
    const expected = expectSessions(lines);
    expect(expected.lateIds.length).toBeGreaterThan(100);
    expect(expected.rows.filter((row) => row.count > 1).length).toBeGreaterThan(100);
    for (const parallelism of [1, 2, 3]) {
      for (const chunk of [7, 6_000]) {
        const harness = await JobTestHarness.create(sessionJob, { parallelism });
        for (let i = 0; i < lines.length; i += chunk) await harness.pipeInput(lines.slice(i, i + chunk));
        await harness.finish();
        expect(sortRows(harness.output<WindowRow>('sessions')), `-p ${parallelism}, ${chunk} lines a chunk`).toEqual(expected.rows);
        expect(harness.output<WindowTrade>('late').map((trade) => trade.id).sort()).toEqual(expected.lateIds);
        expect(harness.counters().late_dropped).toBe(expected.lateIds.length);
      }
    }
  });
});
