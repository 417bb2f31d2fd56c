// The job test harness: a whole job (decode stage, ordered stage, subtasks) fed by hand in one thread.
import { describe, expect, it } from 'vitest';

import { JobTestHarness, OutputTag, defineJob, tumbling, type SinkFactory } from '../../runtime/index.js';

interface Trade {
  readonly id: string;
  readonly symbol: string;
  readonly t: number;
}
interface WindowRow {
  readonly symbol: string;
  readonly start: number;
  readonly count: number;
}

const BAD = new OutputTag<{ raw: string; offset: number | string }>('bad');
const LATE = new OutputTag<Trade>('late');
/** A sink the harness replaces; its name is the table name counted under `rows.<name>`. */
const table = (name: string): SinkFactory<unknown> => ({
  name,
  create: () => {
    throw new Error('the harness replaces sinks');
  },
});

/** Parse, dedupe by id within 1 minute, 10 s tumbling windows per symbol with a 5 s delay. */
const countJob = defineJob('count', (env) => {
  const parsed = env.source('lines').process<Trade>('parse', (raw, ctx, out) => {
    try {
      out.collect(JSON.parse(raw.text));
    } catch {
      ctx.output(BAD, { raw: raw.text, offset: raw.offset });
    }
  });
  parsed.getSideOutput(BAD).sinkTo('dlq', table('dead_letters'));
  const windows = parsed
    .dedupe('dedupe', { key: (t) => t.id, timestamp: (t) => t.t, within: '1m', duplicateCounter: 'duplicate' })
    .withWatermarks('time', { timestamp: (t) => t.t })
    .keyBy('by-symbol', (t) => t.symbol)
    .window(tumbling('10s'), { delay: '5s', lateCounter: 'late_dropped' })
    .sideOutputLateData(LATE)
    .aggregate<number, number, WindowRow>('count', { createAccumulator: () => 0, add: (_: Trade, n: number) => n + 1, getResult: (n: number) => n }, {
      process(symbol, count, ctx, out) {
        out.collect({ symbol, start: ctx.window.start, count });
      },
    });
  windows.sinkTo('windows', table('window_counts'));
  windows.getSideOutput(LATE).sinkTo('late', table('late_trades'));
});

const line = (id: string, symbol: string, t: number) => JSON.stringify({ id, symbol, t });
const sortRows = (rows: WindowRow[]) => [...rows].sort((a, b) => a.symbol.localeCompare(b.symbol) || a.start - b.start);

/** A tape with many symbols, out-of-order and very late records, duplicates and bad lines. */
function tape(): string[] {
  const lines: string[] = [];
  let seed = 11;
  const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let i = 0; i < 600; i++) {
    const base = i * 200;
    const jitter = random() < 0.1 ? -Math.floor(random() * 30_000) : -Math.floor(random() * 3_000);
    lines.push(line(`e${i}`, `S${Math.floor(random() * 9)}`, base + jitter));
    if (i % 37 === 0) lines.push(line(`e${i}`, 'DUP', base)); // same id again: dropped
    if (i % 53 === 0) lines.push('{not json');
  }
  return lines;
}

async function runTape(parallelism: number, chunkSize: number) {
  const harness = await JobTestHarness.create(countJob, { parallelism });
  const lines = tape();
  for (let i = 0; i < lines.length; i += chunkSize) await harness.pipeInput(lines.slice(i, i + chunkSize));
  await harness.finish();
  return harness;
}

describe('job test harness', () => {
  it('runs a job end to end: windows, late records, dead letters and counters', async () => {
    const harness = await JobTestHarness.create(countJob);
    const first = [line('a', 'BTC', 1_000), line('b', 'BTC', 9_000)];
    await harness.pipeInput([...first, 'garbage', line('c', 'ETH', 16_000)]);
    // After the chunk every subtask has the split's watermark, 16000: 16000 - 5000 passes the end of [0, 10 s).
    expect(harness.output('windows')).toEqual([{ symbol: 'BTC', start: 0, count: 2 }]);
    await harness.pipeInput([line('d', 'BTC', 15_001)]); // into [10 s, 20 s), not fired yet
    expect(harness.output('windows')).toEqual([{ symbol: 'BTC', start: 0, count: 2 }]);
    await harness.pipeInput([line('e', 'BTC', 4_000)]); // its window fired: late
    await harness.finish();
    expect(sortRows(harness.output<WindowRow>('windows'))).toEqual([
      { symbol: 'BTC', start: 0, count: 2 },
      { symbol: 'BTC', start: 10_000, count: 1 },
      { symbol: 'ETH', start: 10_000, count: 1 },
    ]);
    expect(harness.output('late')).toEqual([{ id: 'e', symbol: 'BTC', t: 4_000 }]);
    expect(harness.output('dlq')).toEqual([{ raw: 'garbage', offset: Buffer.byteLength(first.join('\n') + '\n') }]);
    expect(harness.counters()).toMatchObject({ records_in: 6, late_dropped: 1, 'rows.window_counts': 3, 'rows.late_trades': 1, 'rows.dead_letters': 1 });
  });

  it('gives raw records the byte offsets a file would give them, across chunks', async () => {
    const harness = await JobTestHarness.create(countJob);
    await harness.pipeInput(['x', 'é']);
    await harness.pipeInput('yy');
    expect(harness.output('dlq')).toEqual([
      { raw: 'x', offset: 0 },
      { raw: 'é', offset: 2 },
      { raw: 'yy', offset: 5 },
    ]);
  });

  it('produces the same rows and counters at every parallelism and chunking', async () => {
    const reference = await runTape(1, 1_000);
    const rows = sortRows(reference.output<WindowRow>('windows'));
    expect(rows.length).toBeGreaterThan(50);
    expect(reference.counters().late_dropped).toBeGreaterThan(5);
    expect(reference.counters().duplicate).toBe(17);
    for (const [parallelism, chunkSize] of [[2, 7], [4, 100], [3, 1]] as const) {
      const other = await runTape(parallelism, chunkSize);
      expect(sortRows(other.output<WindowRow>('windows'))).toEqual(rows);
      const byId = (rows: Trade[]) => rows.map((t) => t.id).sort();
      expect(byId(other.output<Trade>('late'))).toEqual(byId(reference.output<Trade>('late')));
      expect(other.counters().late_dropped).toBe(reference.counters().late_dropped);
      expect(other.counters().duplicate).toBe(17);
    }
  });

  it('holds windows back until every split has passed them, unless a split is idle', async () => {
    const harness = await JobTestHarness.create(countJob, { splits: 2 });
    await harness.pipeInput([line('a', 'BTC', 1_000), line('b', 'BTC', 30_000), line('c', 'BTC', 31_000)], { split: 0 });
    expect(harness.output('windows')).toEqual([]); // split 1 has delivered nothing
    await harness.pipeInput([line('d', 'BTC', 12_000), line('e', 'BTC', 16_000)], { split: 1 });
    // Split 1's watermark after its chunk is 16000: the minimum, 16000 - 5000, passes [0, 10 s) only.
    expect(harness.output<WindowRow>('windows').map((r) => r.start)).toEqual([0]);
    await harness.setIdle(1);
    expect(harness.output<WindowRow>('windows').map((r) => r.start)).toEqual([0, 10_000]); // now 30000-5000
    await harness.pipeInput([line('f', 'BTC', 17_000)], { split: 1 }); // active again, not late: window [10s,20s) fired though
    expect(harness.output('late')).toEqual([{ id: 'f', symbol: 'BTC', t: 17_000 }]);
    expect(harness.splitWatermark(0)).toBe(31_000);
    await harness.endSplit(0);
    await harness.endSplit(1);
    expect(harness.splitWatermark(1)).toBe(Number.POSITIVE_INFINITY);
    expect(harness.output<WindowRow>('windows').map((r) => r.start)).toEqual([0, 10_000, 30_000]);
  });

  it('restores a snapshot at another parallelism and ends with the rows of an uninterrupted run', async () => {
    const lines = tape();
    const uninterrupted = await runTape(1, 50);
    const before = await JobTestHarness.create(countJob, { parallelism: 2 });
    for (let i = 0; i < 300; i += 50) await before.pipeInput(lines.slice(i, i + 50));
    const snapshot = before.snapshot();
    const after = await JobTestHarness.create(countJob, { parallelism: 3, restoreFrom: snapshot });
    for (let i = 300; i < lines.length; i += 50) await after.pipeInput(lines.slice(i, i + 50));
    await after.finish();
    const rows = sortRows([...before.output<WindowRow>('windows'), ...after.output<WindowRow>('windows')]);
    expect(rows).toEqual(sortRows(uninterrupted.output<WindowRow>('windows')));
    expect(after.counters().late_dropped).toBe(uninterrupted.counters().late_dropped);
    expect(after.counters().duplicate).toBe(uninterrupted.counters().duplicate);
    expect(after.counters().records_in).toBe(uninterrupted.counters().records_in);
  });

  it('judges the first records after a restore against the restored split watermark, not the one before the last record', async () => {
    // A record carries the watermark before it: after c (25 s) the steps have seen 12 s, the split 25 s. Window
    // [0s,10s) is due at 15 s; so d (4 s) is late, with or without a snapshot between c and d.
    const head = [line('a', 'BTC', 1_000), line('b', 'BTC', 12_000), line('c', 'BTC', 25_000)];
    const tail = [line('d', 'BTC', 4_000)];
    const uninterrupted = await JobTestHarness.create(countJob);
    await uninterrupted.pipeInput([...head, ...tail]);
    await uninterrupted.finish();
    expect(uninterrupted.counters().late_dropped).toBe(1);

    const before = await JobTestHarness.create(countJob);
    await before.pipeInput(head);
    const after = await JobTestHarness.create(countJob, { parallelism: 2, restoreFrom: before.snapshot() });
    await after.pipeInput(tail);
    await after.finish();
    expect(after.output('late')).toEqual([{ id: 'd', symbol: 'BTC', t: 4_000 }]);
    expect(after.counters().late_dropped).toBe(1);
    expect(sortRows([...before.output<WindowRow>('windows'), ...after.output<WindowRow>('windows')])).toEqual(
      sortRows(uninterrupted.output<WindowRow>('windows')),
    );
  });

  it('fires processing-time timers from its clock', async () => {
    const job = defineJob('alerts', (env) => {
      env
        .source('lines')
        .map('parse', (raw) => JSON.parse(raw.text) as Trade)
        .keyBy('by-symbol', (t) => t.symbol)
        .process<string>('remind', {
          processElement(trade, ctx) {
            ctx.timerService.registerProcessingTimeTimer(ctx.timerService.currentProcessingTime() + 1_000);
          },
          onTimer(ts, ctx, out) {
            out.collect(`${ctx.key} at ${ts}, detected ${new Date(Date.now()).toISOString()}`);
          },
        })
        .sinkTo('alerts', table('alerts'));
    });
    const harness = await JobTestHarness.create(job, { processingTime: Date.UTC(2024, 0, 1), parallelism: 2 });
    await harness.pipeInput([line('a', 'BTC', 0), line('b', 'ETH', 0)]);
    await harness.setProcessingTime(Date.UTC(2024, 0, 1) + 999);
    expect(harness.output('alerts')).toEqual([]);
    await harness.setProcessingTime(Date.UTC(2024, 0, 1) + 1_000);
    expect(harness.output<string>('alerts').sort()).toEqual([
      `BTC at ${Date.UTC(2024, 0, 1) + 1_000}, detected 2024-01-01T00:00:01.000Z`,
      `ETH at ${Date.UTC(2024, 0, 1) + 1_000}, detected 2024-01-01T00:00:01.000Z`,
    ]);
  });

  it('explains misuse in one line', async () => {
    const harness = await JobTestHarness.create(countJob);
    expect(() => harness.output('nope')).toThrow('no sink step "nope" in job "count" (sinks: dlq, windows, late)');
    await expect(harness.pipeInput('x', { split: 1 })).rejects.toThrow('there is no split 1 (this harness has 1)');
    await harness.finish();
    await expect(harness.pipeInput('x')).rejects.toThrow('cannot pipe input into a split after finish()');
  });

  it('reports user code failures with the step name', async () => {
    const job = defineJob('throws', (env) => {
      env
        .source('lines')
        .map('parse', (raw) => ({ k: raw.text }))
        .keyBy('k', (r) => r.k)
        .process('explode', {
          processElement(r) {
            if (r.k === 'boom') throw new Error('cannot handle boom');
          },
        });
    });
    const harness = await JobTestHarness.create(job);
    await harness.pipeInput('fine');
    await expect(harness.pipeInput('boom')).rejects.toThrow('step "explode" threw: cannot handle boom');
  });
});
