// The job builder and planner: where each step runs, and the one-line errors for jobs that cannot run.
import { describe, expect, it } from 'vitest';

import { buildJob } from '../../runtime/graph/job.js';
import { planJob } from '../../runtime/plan/physical-plan.js';
import { CoattailError, defineJob, tumbling, type JobDefinition, type SinkFactory, type StreamEnvironment } from '../../runtime/index.js';

interface Row {
  readonly k: string;
  readonly t: number;
}

const sink: SinkFactory<unknown> = {
  name: 'sink',
  create: () => ({ write() {}, prepareCommit: async () => null, commit: async () => {}, finish: async () => 0, abort: async () => {} }),
};
const count = { createAccumulator: () => 0, add: (_: Row, n: number) => n + 1, getResult: (n: number) => n };

function plan(build: (env: StreamEnvironment) => void) {
  return planJob(buildJob(defineJob('test', build), { live: false }).graph);
}

function planError(build: (env: StreamEnvironment) => void): CoattailError {
  try {
    plan(build);
  } catch (error) {
    expect(error).toBeInstanceOf(CoattailError);
    expect((error as CoattailError).message).not.toContain('\n');
    return error as CoattailError;
  }
  throw new Error('expected the job to be rejected');
}

const parse = (env: StreamEnvironment) => env.source('lines').map('parse', (raw) => JSON.parse(raw.text) as Row);

describe('planner', () => {
  it('runs stateless steps in the decode stage, event time on the coordinator and keyed steps in subtasks', () => {
    const result = plan((env) =>
      parse(env)
        .filter('valid', (r) => r.t > 0)
        .withWatermarks('time', { timestamp: (r) => r.t, idleTimeout: '5s' })
        .keyBy('by-k', (r) => r.k)
        .window(tumbling('1m'))
        .aggregate('count', count)
        .sinkTo('out', sink),
    );
    const names = (ids: readonly number[]) => ids.map((id) => result.graph.node(id).uid);
    expect(names(result.decodeNodes)).toEqual(['parse', 'valid']);
    expect(names(result.orderedNodes)).toEqual(['time']);
    expect(names(result.workerNodes)).toEqual(['count', 'out']);
    expect(result.watermarks?.idleMs).toBe(5_000);
    expect(result.exits).toHaveLength(1);
    expect(result.exits[0]).toMatchObject({ ordered: true, key: { name: 'by-k' } });
  });

  it('rejects a step name used twice, naming it', () => {
    const error = planError((env) => parse(env).map('parse', (r) => r));
    expect(error.code).toBe('JOB_INVALID');
    expect(error.message).toBe('step name "parse" is used twice; names are the stable ids of state and must be unique');
  });

  it('rejects a keyBy name that is already a step name', () => {
    expect(planError((env) => parse(env).keyBy('parse', (r) => r.k)).message).toBe('step name "parse" is used twice');
  });

  it('rejects a window without event time', () => {
    const error = planError((env) => parse(env).keyBy('by-k', (r) => r.k).window(tumbling('1m')).aggregate('count', count).sinkTo('out', sink));
    expect(error.code).toBe('JOB_INVALID');
    expect(error.message).toBe('window "count" needs event time: add withWatermarks(...) before keyBy');
  });

  it('rejects a keyed step without keyBy', () => {
    const error = planError((env) => {
      const rows = parse(env);
      rows.connect(rows.map('copy', (r) => r)).process('join', { processElement1() {}, processElement2() {} });
    });
    expect(error.code).toBe('JOB_INVALID');
    expect(error.message).toBe('"join" is keyed and needs keyBy(...) on its inputs');
  });

  it('keeps a keyBy that says it keeps the key inside the subtask, in the same stage', () => {
    const result = plan((env) =>
      parse(env)
        .keyBy('by-k', (r) => r.k)
        .process<Row>('first', { processElement(v, _c, out) { out.collect(v); } })
        .keyBy('again', (r) => r.k, { keepsKey: true })
        .process('second', { processElement() {} }),
    );
    const uid = (id: number) => result.graph.node(id).uid;
    expect(result.workerNodes.map(uid)).toEqual(['first', 'second']);
    expect(result.exits.map((exit) => uid(exit.to))).toEqual(['first']);
    expect(result.stageCount).toBe(1);
    expect(result.shuffles).toEqual([]);
    const second = result.workerNodes.find((id) => uid(id) === 'second')!;
    expect(result.workerInputs.get(second)!.map((input) => [input.node === undefined ? undefined : uid(input.node), input.edge.key?.name])).toEqual([['first', 'again']]);
  });

  it('shuffles at a keyBy after a subtask step into the next stage, and a step reading two stages from the later one', () => {
    const result = plan((env) => {
      const first = parse(env)
        .keyBy('by-k', (r) => r.k)
        .process<Row>('first', { processElement(v, _c, out) { out.collect(v); } });
      const second = first.keyBy('by-t', (r) => String(r.t)).process<Row>('second', { processElement(v, _c, out) { out.collect(v); } });
      second.union(first).sinkTo('out', sink);
    });
    const uid = (id: number) => result.graph.node(id).uid;
    expect(result.stageCount).toBe(2);
    expect(result.workerNodes.map((id) => [uid(id), result.stageOf.get(id)])).toEqual([['first', 0], ['second', 1], [expect.stringMatching(/^union/), 1], ['out', 1]]);
    // The keyBy, and the union's unkeyed input from stage 0 (to the same subtask index).
    expect(result.shuffles.map((s) => [uid(s.from), uid(s.to), s.key?.name, s.fromStage])).toEqual([
      ['first', 'second', 'by-t', 0],
      ['first', expect.stringMatching(/^union/), undefined, 0],
    ]);
  });

  it('rejects a step that reads across two keyBys or from the source side after a second keyBy', () => {
    const across = planError((env) => {
      const first = parse(env).keyBy('by-k', (r) => r.k).process<Row>('first', { processElement(v, _c, out) { out.collect(v); } });
      const second = first.keyBy('by-t', (r) => String(r.t)).process<Row>('second', { processElement(v, _c, out) { out.collect(v); } });
      const third = second.keyBy('by-k2', (r) => r.k).process<Row>('third', { processElement(v, _c, out) { out.collect(v); } });
      third.union(first).map('late', (r) => r);
    });
    expect(across.message).toMatch(/^"union\(.*\)" reads from "first" across more than one keyBy/);
    const sourceSide = planError((env) => {
      const rows = parse(env);
      const second = rows.keyBy('by-k', (r) => r.k).process<Row>('first', { processElement(v, _c, out) { out.collect(v); } })
        .keyBy('by-t', (r) => String(r.t)).process<Row>('second', { processElement(v, _c, out) { out.collect(v); } });
      second.union(rows).map('both', (r) => r);
    });
    expect(sourceSide.message).toMatch(/^"union\(.*\)" reads both the source side and what a second keyBy shuffles; pass the source side's records through a keyed step/);
    const keyedSourceSide = planError((env) => {
      const rows = parse(env);
      const second = rows.keyBy('by-k', (r) => r.k).process<Row>('first', { processElement(v, _c, out) { out.collect(v); } })
        .keyBy('by-t', (r) => String(r.t));
      second.connect(rows.keyBy('raw-by-k', (r) => r.k)).process<Row>('co', { processElement1() {}, processElement2() {} });
    });
    // It names the source side's keyBy: keying those records again is not what helps.
    expect(keyedSourceSide.message).toMatch(/^"co" reads both the source side \(keyBy "raw-by-k"\) and what a second keyBy shuffles/);
  });

  it('rejects a job without a source or with two', () => {
    expect(planError(() => undefined).message).toBe('a job needs exactly one source, this one has 0 (combine feeds in one source URI)');
    expect(planError((env) => { env.source('a'); env.source('b'); }).message).toContain('this one has 2');
  });

  it('rejects a withWatermarks step that does not follow the decode stage directly', () => {
    const error = planError((env) =>
      parse(env)
        .keyBy('by-k', (r) => r.k)
        .process<Row>('keyed', { processElement(v, _c, out) { out.collect(v); } })
        .withWatermarks('late-time', { timestamp: (r) => r.t }),
    );
    expect(error.message).toContain('"late-time" must follow the stateless steps after the source directly');
  });

  it('rejects a step without a name and a bad duration with one-line messages', () => {
    expect(planError((env) => env.source('')).message).toBe('every step needs a name (a source has none)');
    expect(() => plan((env) => parse(env).withWatermarks('time', { timestamp: (r) => r.t, idleTimeout: 'soon' }))).toThrow(
      'time: idleTimeout must look like 500ms, 30s, 5m, 1h or 1d, got "soon"',
    );
  });

  it('builds the same plan every time the job file is evaluated, as every thread does', () => {
    const job: JobDefinition = defineJob('same', (env) =>
      parse(env).withWatermarks('time', { timestamp: (r) => r.t }).keyBy('k', (r) => r.k).window(tumbling(10)).aggregate('c', count).sinkTo('o', sink),
    );
    const uids = () => buildJob(job, { live: false }).graph.nodes.map((n) => `${n.id}:${n.uid}:${n.spec.kind}`);
    expect(uids()).toEqual(uids());
  });
});
