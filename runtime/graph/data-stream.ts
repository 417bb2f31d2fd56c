// The fluent, typed job-building API: DataStream, KeyedStream, WindowedStream, ConnectedStreams.

import type { Source, RawRecord } from '../api/source.js';
import type { SinkFactory } from '../api/sink.js';
import { CoattailError } from '../errors.js';
import { parseDuration, type Duration } from '../time/duration.js';
import type {
  AggregateFunction,
  Collector,
  CoProcessFunction,
  KeyedProcessFunction,
  ProcessFn,
  ProcessFunction,
  ProcessWindowFunction,
  WindowAssigner,
  WindowOptions,
} from './functions.js';
import { OutputTag } from './functions.js';
import { LogicalGraph, type InputEdge, type KeySpec, type NodeSpec } from './logical-graph.js';

export class StreamEnvironment {
  readonly graph = new LogicalGraph();
  private readonly usedNames = new Set<string>();

  /** The run's source (`-s`), or a source of the job's own. Raw records: the text of each line or payload. */
  source(name: string, source?: Source): DataStream<RawRecord> {
    return new DataStream(this, this.addNode(name, { kind: 'source', source }, []));
  }

  /** @internal */
  addNode(name: string, spec: NodeSpec, inputs: InputEdge[]): number {
    if (!name || typeof name !== 'string') throw new CoattailError('JOB_INVALID', `every step needs a name (a ${spec.kind} has none)`);
    if (this.usedNames.has(name)) {
      throw new CoattailError('JOB_INVALID', `step name "${name}" is used twice; names are the stable ids of state and must be unique`);
    }
    this.usedNames.add(name);
    return this.graph.add(name, spec, inputs).id;
  }

  /** @internal keyBy names share the namespace of steps. */
  reserveName(name: string): void {
    if (this.usedNames.has(name)) throw new CoattailError('JOB_INVALID', `step name "${name}" is used twice`);
    this.usedNames.add(name);
  }
}

export class DataStream<T> {
  /** @internal */
  constructor(
    protected readonly env: StreamEnvironment,
    /** @internal */ readonly nodeId: number,
    /** @internal */ readonly tag?: string,
  ) {}

  /** @internal */
  edge(extra: Partial<InputEdge> = {}): InputEdge {
    return { node: this.nodeId, ...(this.tag === undefined ? {} : { tag: this.tag }), ...extra };
  }

  private then<U>(name: string, spec: NodeSpec): DataStream<U> {
    return new DataStream<U>(this.env, this.env.addNode(name, spec, [this.edge()]));
  }

  map<U>(name: string, fn: (value: T) => U): DataStream<U> {
    return this.then(name, { kind: 'map', fn });
  }

  filter(name: string, fn: (value: T) => boolean): DataStream<T> {
    return this.then(name, { kind: 'filter', fn });
  }

  flatMap<U>(name: string, fn: (value: T, out: Collector<U>) => void): DataStream<U> {
    return this.then(name, { kind: 'flatMap', fn });
  }

  /** A stateless process step; emit to side outputs with `context.output(tag, value)`. */
  process<U>(name: string, fn: ProcessFunction<T, U> | ProcessFn<T, U>): DataStream<U> {
    const processFunction: ProcessFunction<T, U> = typeof fn === 'function' ? { processElement: fn } : fn;
    return this.then(name, { kind: 'process', fn: processFunction });
  }

  getSideOutput<X>(tag: OutputTag<X>): DataStream<X> {
    return new DataStream<X>(this.env, this.nodeId, tag.id);
  }

  /**
   * Drop records whose id already passed within `within` of event time, keeping the first in split order.
   * Runs on the coordinator in source order, so keep-first holds at every parallelism.
   */
  dedupe(
    name: string,
    options: {
      key: (value: T) => string;
      timestamp: (value: T) => number;
      within: Duration;
      passedCounter?: string;
      duplicateCounter?: string;
    },
  ): DataStream<T> {
    const spec = { ...options, name, withinMs: parseDuration(options.within, `${name}: within`) };
    return this.then(name, { kind: 'dedupe', spec });
  }

  /**
   * Assign event time. Each split's watermark is the max event time it has delivered; windows subtract their
   * own delay. A split silent for `idleTimeout` stops holding the watermark back.
   */
  withWatermarks(name: string, options: { timestamp: (value: T) => number; idleTimeout?: Duration }): DataStream<T> {
    const idleMs = parseDuration(options.idleTimeout ?? '30s', `${name}: idleTimeout`);
    return this.then(name, { kind: 'watermarks', spec: { name, timestamp: options.timestamp, idleMs } });
  }

  /**
   * Partition by key. After a keyed step this is a second shuffle into the next stage of subtasks; with `keepsKey`
   * the records are known to keep the key they are keyed by already and stay in their subtask (Flink's
   * reinterpretAsKeyedStream), which is checked per record.
   */
  keyBy(name: string, selector: (value: T) => string, options: { keepsKey?: boolean } = {}): KeyedStream<T> {
    this.env.reserveName(name);
    return new KeyedStream<T>(this.env, this, { name, selector, ...(options.keepsKey ? { keepsKey: true } : {}) });
  }

  union(...others: DataStream<T>[]): DataStream<T> {
    const name = `union(${[this, ...others].map((s) => s.nodeId).join(',')})`;
    return new DataStream<T>(this.env, this.env.addNode(name, { kind: 'union' }, [this.edge(), ...others.map((o) => o.edge())]));
  }

  connect<U>(other: DataStream<U>): ConnectedStreams<T, U> {
    return new ConnectedStreams<T, U>(this.env, this.edge(), other.edge());
  }

  sinkTo(name: string, factory: SinkFactory<T>): void {
    this.env.addNode(name, { kind: 'sink', factory }, [this.edge()]);
  }
}

export class KeyedStream<T> {
  /** @internal */
  constructor(
    private readonly env: StreamEnvironment,
    private readonly upstream: DataStream<T>,
    /** @internal */ readonly key: KeySpec,
  ) {}

  process<U>(name: string, fn: KeyedProcessFunction<T, U>): DataStream<U> {
    const id = this.env.addNode(name, { kind: 'keyedProcess', fn }, [this.upstream.edge({ key: this.key })]);
    return new DataStream<U>(this.env, id);
  }

  window(assigner: WindowAssigner, options: WindowOptions = {}): WindowedStream<T> {
    return new WindowedStream<T>(this.env, this.upstream.edge({ key: this.key }), assigner, options);
  }

  connect<U>(other: KeyedStream<U>): ConnectedStreams<T, U> {
    return new ConnectedStreams<T, U>(this.env, this.upstream.edge({ key: this.key }), other.upstreamEdge());
  }

  /** @internal */
  upstreamEdge(): InputEdge {
    return this.upstream.edge({ key: this.key });
  }
}

export class WindowedStream<T> {
  private lateTag?: string;

  /** @internal */
  constructor(
    private readonly env: StreamEnvironment,
    private readonly input: InputEdge,
    private readonly assigner: WindowAssigner,
    private readonly options: WindowOptions,
  ) {
    if (options.delay !== undefined) parseDuration(options.delay, 'window delay');
    if (options.globalStateTtl !== undefined) parseDuration(options.globalStateTtl, 'window globalStateTtl');
  }

  /** Records arriving after their window fired go to this side output of the aggregate step. */
  sideOutputLateData(tag: OutputTag<T>): this {
    this.lateTag = tag.id;
    return this;
  }

  aggregate<Acc, R, Out = R>(
    name: string,
    aggregate: AggregateFunction<T, Acc, R>,
    windowFunction?: ProcessWindowFunction<R, Out>,
  ): DataStream<Out> {
    if (this.assigner.sessionGapMs !== undefined && typeof aggregate.merge !== 'function') {
      throw new CoattailError('JOB_INVALID', `"${name}": session windows merge, so its aggregate needs a merge(earlier, later)`);
    }
    const spec: NodeSpec = {
      kind: 'window',
      assigner: this.assigner,
      options: this.options,
      aggregate,
      ...(windowFunction ? { windowFunction } : {}),
      ...(this.lateTag ? { lateTag: this.lateTag } : {}),
    };
    return new DataStream<Out>(this.env, this.env.addNode(name, spec, [this.input]));
  }

  reduce<Out = T>(name: string, reducer: (a: T, b: T) => T, windowFunction?: ProcessWindowFunction<T, Out>): DataStream<Out> {
    const aggregate: AggregateFunction<T, { value?: T }, T> = {
      createAccumulator: () => ({}),
      add: (value, acc) => ({ value: acc.value === undefined ? value : reducer(acc.value, value) }),
      getResult: (acc) => acc.value as T,
    };
    // Sessions merge. Elsewhere no merge, so the decode stage does not pre-aggregate with a reducer that
    // need not be associative.
    if (this.merging) {
      aggregate.merge = (earlier, later) =>
        earlier.value === undefined ? later : later.value === undefined ? earlier : { value: reducer(earlier.value, later.value) };
    }
    return this.aggregate<{ value?: T }, T, Out>(name, aggregate, windowFunction);
  }

  /** Keep every element of the window and hand the list to `windowFunction` when it fires. */
  process<Out>(name: string, windowFunction: ProcessWindowFunction<T[], Out>): DataStream<Out> {
    const aggregate: AggregateFunction<T, T[], T[]> = {
      createAccumulator: () => [],
      add: (value, acc) => (acc.push(value), acc),
      getResult: (acc) => acc,
    };
    if (this.merging) aggregate.merge = (earlier, later) => earlier.concat(later);
    return this.aggregate<T[], T[], Out>(name, aggregate, windowFunction);
  }

  private get merging(): boolean {
    return this.assigner.sessionGapMs !== undefined;
  }
}

export class ConnectedStreams<A, B> {
  /** @internal */
  constructor(
    private readonly env: StreamEnvironment,
    private readonly first: InputEdge,
    private readonly second: InputEdge,
  ) {}

  process<Out>(name: string, fn: CoProcessFunction<A, B, Out>): DataStream<Out> {
    const id = this.env.addNode(name, { kind: 'coProcess', fn }, [
      { ...this.first, port: 1 },
      { ...this.second, port: 2 },
    ]);
    return new DataStream<Out>(this.env, id);
  }
}

export { OutputTag };
