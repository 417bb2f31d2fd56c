// A deterministic test harness for one step (a keyed process, a window, a process function), in the spirit
// of Flink's KeyedOneInputStreamOperatorTestHarness: records, watermarks and processing time are fed by hand
// into the production operator, and what it emits is read back, including side outputs and state snapshots.

import { CoattailError } from '../errors.js';
import { StreamEnvironment, type DataStream } from '../graph/data-stream.js';
import type { OutputTag } from '../graph/functions.js';
import type { LogicalNode } from '../graph/logical-graph.js';
import { subtaskForKey } from '../plan/key-groups.js';
import { CounterRegistry } from '../exec/metrics.js';
import { createOperator } from '../exec/operator-factory.js';
import type { OperatorSnapshot, StreamOperator } from '../exec/stream-operator.js';
import {
  copyState,
  narrowSnapshots,
  resolvePlacement,
  withProcessingTime,
  type ResolvedPlacement,
  type SubtaskPlacement,
  type TimestampedValue,
} from './harness-support.js';

export interface OperatorHarnessOptions extends SubtaskPlacement {
  /** The processing-time clock at the start, in epoch milliseconds; default 0. */
  readonly processingTime?: number;
  /** Snapshots taken by earlier harnesses of the same step (at any parallelism) to restore before any input. */
  readonly restoreFrom?: readonly OperatorSnapshot[];
}

const FIRST_INPUT = '(harness input 1)';
const SECOND_INPUT = '(harness input 2)';

export class OperatorTestHarness<In, Out, In2 = never> {
  private readonly emitted: Array<TimestampedValue<Out>> = [];
  private readonly sideEmitted = new Map<string, Array<TimestampedValue<unknown>>>();
  private readonly keySelectors: ReadonlyArray<((value: unknown) => string) | undefined>;
  private inputWatermark = Number.NEGATIVE_INFINITY;
  private clock: number;
  /** The watermark the step forwarded after the last watermark it processed. */
  outputWatermark = Number.NEGATIVE_INFINITY;

  private constructor(
    private readonly operator: StreamOperator,
    private readonly node: LogicalNode,
    private readonly placement: ResolvedPlacement,
    private readonly metrics: CounterRegistry,
    processingTime: number,
  ) {
    this.clock = processingTime;
    this.keySelectors = keySelectorsOf(node);
  }

  /**
   * A harness for the step that `build` applies to its input, written as in a job:
   * `(input) => input.keyBy('by-symbol', (t) => t.symbol).process('alerts', fn)`.
   */
  static async create<In, Out>(
    build: (input: DataStream<In>) => DataStream<Out>,
    options: OperatorHarnessOptions = {},
  ): Promise<OperatorTestHarness<In, Out>> {
    const env = new StreamEnvironment();
    const input = env.source(FIRST_INPUT) as unknown as DataStream<In>;
    return OperatorTestHarness.start<In, Out, never>(env, build(input), options);
  }

  /** A harness for a two-input step: `(a, b) => a.keyBy(...).connect(b.keyBy(...)).process('join', fn)`. */
  static async createTwoInput<In1, In2, Out>(
    build: (first: DataStream<In1>, second: DataStream<In2>) => DataStream<Out>,
    options: OperatorHarnessOptions = {},
  ): Promise<OperatorTestHarness<In1, Out, In2>> {
    const env = new StreamEnvironment();
    const first = env.source(FIRST_INPUT) as unknown as DataStream<In1>;
    const second = env.source(SECOND_INPUT) as unknown as DataStream<In2>;
    return OperatorTestHarness.start<In1, Out, In2>(env, build(first, second), options);
  }

  private static async start<In, Out, In2>(
    env: StreamEnvironment,
    built: DataStream<Out> | undefined,
    options: OperatorHarnessOptions,
  ): Promise<OperatorTestHarness<In, Out, In2>> {
    const placement = resolvePlacement(options);
    const node = stepUnderTest(env, built);
    const metrics = new CounterRegistry();
    let harness: OperatorTestHarness<In, Out, In2> | undefined;
    const operator = await createOperator(
      node,
      {
        uid: node.uid,
        subtaskIndex: placement.subtaskIndex,
        parallelism: placement.parallelism,
        maxParallelism: placement.maxParallelism,
        metrics,
        output: {
          emit: (value, timestamp) => harness!.emitted.push({ value: value as Out, timestamp }),
          emitSide: (tagId, value, timestamp) => harness!.sideRecords(tagId).push({ value, timestamp }),
        },
        keySelectors: keySelectorsOf(node),
        keyScope: { current: undefined },
      },
      () => {
        throw new CoattailError('BAD_ARGUMENT', 'harness: sinks are tested with JobTestHarness');
      },
    );
    harness = new OperatorTestHarness<In, Out, In2>(operator, node, placement, metrics, options.processingTime ?? 0);
    // As in a subtask: the step is opened, then its state restored.
    await withProcessingTime(harness.clock, () => operator.open?.());
    if (options.restoreFrom && options.restoreFrom.length > 0) {
      if (!operator.restoreState) throw new CoattailError('BAD_ARGUMENT', `harness: step "${node.uid}" keeps no state to restore`);
      operator.restoreState(narrowSnapshots(options.restoreFrom, placement));
    }
    return harness;
  }

  /** The step's name (its state id). */
  get stepName(): string {
    return this.node.uid;
  }

  /** The processing-time clock the step sees through `Date.now()`. */
  get processingTime(): number {
    return this.clock;
  }

  /** Feed one record on the (first) input, with its event time (null: none, as before withWatermarks). */
  processElement(value: In, timestamp: number | null = null): this {
    return this.feed(value, timestamp, 1);
  }

  /** Feed one record on the second input of a two-input step. */
  processElement2(value: In2, timestamp: number | null = null): this {
    if (this.node.inputs.length < 2) throw new CoattailError('BAD_ARGUMENT', `harness: step "${this.node.uid}" has one input`);
    return this.feed(value, timestamp, 2);
  }

  /** Raise the input watermark. As in a subtask, a watermark that does not rise is not forwarded. */
  processWatermark(watermark: number): this {
    if (watermark <= this.inputWatermark) return this;
    this.inputWatermark = watermark;
    this.outputWatermark = withProcessingTime(this.clock, () => this.operator.onWatermark(watermark));
    return this;
  }

  /** Move the processing-time clock (never backwards) and fire the processing-time timers now due. */
  setProcessingTime(now: number): this {
    if (now < this.clock) throw new CoattailError('BAD_ARGUMENT', `harness: processing time cannot go back from ${this.clock} to ${now}`);
    this.clock = now;
    withProcessingTime(now, () => this.operator.onProcessingTime?.(now));
    return this;
  }

  /** End of a bounded input: the watermark goes to +infinity, then the step finishes. */
  async endInput(): Promise<void> {
    this.processWatermark(Number.POSITIVE_INFINITY);
    await this.operator.finish?.();
  }

  /** Main-output records with their timestamps, in emission order. */
  get output(): ReadonlyArray<TimestampedValue<Out>> {
    return this.emitted;
  }

  /** Main-output values, in emission order. */
  outputValues(): Out[] {
    return this.emitted.map((record) => record.value);
  }

  /** Side-output records of `tag` with their timestamps. */
  sideOutputRecords<X>(tag: OutputTag<X>): ReadonlyArray<TimestampedValue<X>> {
    return this.sideRecords(tag.id) as Array<TimestampedValue<X>>;
  }

  /** Side-output values of `tag` (late records of a window, DLQ rows...). */
  sideOutput<X>(tag: OutputTag<X>): X[] {
    return this.sideOutputRecords(tag).map((record) => record.value);
  }

  /** Forget what was emitted so far (main and side outputs). */
  clearOutput(): this {
    this.emitted.length = 0;
    this.sideEmitted.clear();
    return this;
  }

  /** The step's counters (e.g. a window's lateCounter, a function's own metrics). */
  counters(): Record<string, number> {
    return this.metrics.values();
  }

  /** The step's state as a checkpoint would store it (a copy); restore it with `create(build, { restoreFrom })`. */
  snapshot(): OperatorSnapshot {
    const snapshot = this.operator.snapshotState?.();
    if (!snapshot) throw new CoattailError('BAD_ARGUMENT', `harness: step "${this.node.uid}" keeps no state to snapshot`);
    return copyState(snapshot);
  }

  private feed(value: unknown, timestamp: number | null, port: 1 | 2): this {
    const selector = this.keySelectors[port - 1];
    if (selector && this.placement.parallelism > 1) {
      const key = selector(value);
      const owner = subtaskForKey(key, this.placement.parallelism, this.placement.maxParallelism);
      if (owner !== this.placement.subtaskIndex) {
        throw new CoattailError('BAD_ARGUMENT', `harness: key "${key}" belongs to subtask ${owner}, not to subtask ${this.placement.subtaskIndex}`);
      }
    }
    withProcessingTime(this.clock, () => this.operator.processElement(value, timestamp, port));
    return this;
  }

  private sideRecords(tagId: string): Array<TimestampedValue<unknown>> {
    let records = this.sideEmitted.get(tagId);
    if (!records) this.sideEmitted.set(tagId, (records = []));
    return records;
  }
}

/** The one step `build` added, reading the harness inputs directly. */
function stepUnderTest(env: StreamEnvironment, built: DataStream<unknown> | undefined): LogicalNode {
  const usage = 'build must return one step applied to its input, e.g. (input) => input.keyBy(...).process(...)';
  if (!built || typeof built !== 'object' || typeof built.nodeId !== 'number') throw new CoattailError('BAD_ARGUMENT', `harness: ${usage}`);
  const node = env.graph.node(built.nodeId);
  const inputs = env.graph.nodes.filter((n) => n.spec.kind === 'source').map((n) => n.id);
  const steps = env.graph.nodes.filter((n) => n.spec.kind !== 'source');
  if (steps.length !== 1 || node.spec.kind === 'source' || !node.inputs.every((edge) => inputs.includes(edge.node))) {
    throw new CoattailError('BAD_ARGUMENT', `harness: ${usage}; to test several steps use JobTestHarness`);
  }
  if (node.spec.kind === 'dedupe' || node.spec.kind === 'watermarks') {
    throw new CoattailError('BAD_ARGUMENT', `harness: "${node.uid}" (${node.spec.kind}) runs on the coordinator, not as an operator; test it with JobTestHarness`);
  }
  return node;
}

function keySelectorsOf(node: LogicalNode): Array<((value: unknown) => string) | undefined> {
  const selectors: Array<((value: unknown) => string) | undefined> = [undefined, undefined];
  for (const edge of node.inputs) if (edge.key) selectors[(edge.port ?? 1) - 1] = edge.key.selector;
  return selectors;
}
