// Runs the stateless steps between the source and the first keyBy on one chunk, and routes the results:
// per target subtask a batch of records, with which exits each record takes and where it stands in
// the ordered stream, plus the ids and event times the coordinator's ordered stage needs.

import type { PhysicalPlan } from '../plan/physical-plan.js';
import { subtaskForKey } from '../plan/key-groups.js';
import { CounterRegistry } from './metrics.js';
import { createOperator } from './operator-factory.js';
import type { Emitter } from './stream-operator.js';
import { createCodec, type CodecName, type RecordCodec } from '../transport/record-codec.js';
import { annotateStepError, checkedKeySelector, inStepCalled } from './step-error.js';
import { ChunkPreAggregator, type PartialAggregate } from './pre-aggregation.js';
import { dedupeHash } from './dedupe-index.js';
import { forEachRawRecord } from '../formats/chunk-records.js';
import { transferablesOf, type DecodeRequest, type DecodeResult, type TargetBatch } from './decode-result.js';
import { StringColumn, TypedColumn } from './typed-column.js';

type Push = (value: unknown, timestamp: number | null) => void;

/** The records routed to one subtask, in routing order; kept from chunk to chunk (its columns' storage stays). */
class TargetBuilder {
  records: unknown[] = [];
  constructor(readonly subtask: number) {}
  /** Bit e set: the record takes exit e. */
  readonly masks = new TypedColumn(Uint32Array);
  readonly orderedIndex = new TypedColumn(Int32Array);
  readonly eventTimes = new TypedColumn(Float64Array);

  clear(): void {
    this.records = [];
    this.masks.clear();
    this.orderedIndex.clear();
    this.eventTimes.clear();
  }

  push(value: unknown, mask: number, orderedIndex: number, eventTime: number): void {
    this.records.push(value);
    this.masks.push(mask);
    this.orderedIndex.push(orderedIndex);
    this.eventTimes.push(eventTime);
  }
}

export class DecodeStage {
  private readonly metrics = new CounterRegistry();
  private readonly codec: RecordCodec;
  private sourcePushes: Push[] = [];
  /** Per subtask, in the order this chunk first routed to it; builders stay for later chunks. */
  private targets: TargetBuilder[] = [];
  private readonly builders = new Map<number, TargetBuilder>();
  private readonly preAggregator: ChunkPreAggregator;
  private orderedCount = 0;
  private readonly dedupeKeys = new StringColumn();
  private readonly dedupeHashes = new TypedColumn(Uint32Array);
  private readonly dedupeTimes = new TypedColumn(Float64Array);
  private readonly eventTimes = new TypedColumn(Float64Array);
  /** The newest event time among this chunk's ordered records before the current one. */
  private chunkMaxBefore = Number.NEGATIVE_INFINITY;
  private chunkMaxTime = Number.NEGATIVE_INFINITY;
  private chunkSeq = 0;
  /** This chunk may be pre-aggregated (the plan allows it, the run and the request do not turn it off). */
  private preAggregating = false;
  /** While an ordered record travels through the pure steps after the ordered stage: its index and event time. */
  private orderedIndex = -1;
  private orderedTime = Number.NaN;
  /** The last routed record, so the same value taking several exits is encoded once per subtask. */
  private lastValue: unknown = undefined;
  private lastIndex = 0;
  private lastSubtask = 0;

  private constructor(
    private readonly plan: PhysicalPlan,
    private readonly parallelism: number,
    private readonly maxParallelism: number,
    codec: CodecName,
    private readonly preAggregation: boolean,
  ) {
    this.codec = createCodec(codec);
    this.preAggregator = new ChunkPreAggregator(plan.preAggregated, (target, partialExit, partial, orderedIndex, eventTime) =>
      this.pushPartial(target, partialExit, partial, orderedIndex, eventTime),
    );
  }

  static async create(
    plan: PhysicalPlan,
    parallelism: number,
    maxParallelism: number,
    codec: CodecName = 'columnar',
    preAggregation = true,
  ): Promise<DecodeStage> {
    const stage = new DecodeStage(plan, parallelism, maxParallelism, codec, preAggregation);
    await stage.wire();
    return stage;
  }

  /** Build each decode-stage operator with an emitter that pushes straight into its consumers. */
  private async wire(): Promise<void> {
    const { plan } = this;
    const pushesOf = new Map<string, Push[]>(); // `${node}:${tag}` -> consumers
    const list = (node: number, tag?: string) => {
      const key = `${node}:${tag ?? ''}`;
      let pushes = pushesOf.get(key);
      if (!pushes) pushesOf.set(key, (pushes = []));
      return pushes;
    };
    // Keyed exits first, so a rebalanced exit of the same record can ride along to a subtask already chosen.
    const exits = [...plan.exits].sort((a, b) => Number(!a.key) - Number(!b.key));
    for (const exit of exits) {
      const keyOf = exit.key ? checkedKeySelector(exit.key.name, exit.key.selector) : undefined;
      const preAggregated = plan.preAggregated.findIndex((p) => p.exit === exit.index);
      list(exit.from, exit.tag).push((value) => this.route(exit.index, exit.ordered, keyOf, value, preAggregated));
    }
    const orderedTail = plan.orderedNodes[plan.orderedNodes.length - 1];
    if (orderedTail !== undefined) {
      const head = plan.graph.node(plan.orderedNodes[0]!);
      const edge = head.inputs[0]!;
      const tailConsumers = list(orderedTail);
      list(edge.node, edge.tag).push((value) => {
        this.enterOrdered(value);
        for (let i = 0; i < tailConsumers.length; i++) tailConsumers[i]!(value, null);
      });
    }
    // Created in reverse topological order so each emitter captures its consumers' pushes.
    for (const id of [...plan.decodeNodes, ...plan.orderedDecodeNodes].sort((a, b) => b - a)) {
      const node = plan.graph.node(id);
      const mainConsumers = list(id);
      const output: Emitter = {
        emit: (value, timestamp) => {
          for (let i = 0; i < mainConsumers.length; i++) mainConsumers[i]!(value, timestamp);
        },
        emitSide: (tagId, value, timestamp) => {
          const consumers = pushesOf.get(`${id}:${tagId}`);
          if (consumers) for (const push of consumers) push(value, timestamp);
        },
      };
      const operator = await createOperator(
        node,
        { uid: node.uid, subtaskIndex: 0, parallelism: this.parallelism, maxParallelism: this.maxParallelism, metrics: this.metrics, output, keySelectors: [], keyScope: { current: undefined } },
        () => {
          throw new Error('sinks do not run in the decode stage');
        },
      );
      try {
        await operator.open?.();
      } catch (error) {
        throw annotateStepError(error, node.uid);
      }
      const push: Push = (value, timestamp) => {
        try {
          operator.processElement(value, timestamp, 1);
        } catch (error) {
          throw annotateStepError(error, node.uid);
        }
      };
      // One input, or several for a union.
      for (const edge of node.inputs) list(edge.node, edge.tag).push(push);
    }
    this.sourcePushes = list(plan.source.id);
  }

  /** The counters of the stage's steps since the last chunk (every registered one, zeros included). */
  drainCounters(): Record<string, number> {
    return this.metrics.drain();
  }

  decode(request: DecodeRequest): DecodeResult {
    this.chunkSeq = request.chunkSeq;
    // Builders left half-filled by a chunk whose step threw start empty.
    for (const builder of this.targets) builder.clear();
    this.targets = [];
    this.orderedCount = 0;
    this.dedupeKeys.clear();
    this.dedupeHashes.clear();
    this.dedupeTimes.clear();
    this.eventTimes.clear();
    this.chunkMaxTime = Number.NEGATIVE_INFINITY;
    this.chunkMaxBefore = Number.NEGATIVE_INFINITY;
    this.preAggregating = this.preAggregation && request.preAggregate !== false && this.plan.preAggregated.length > 0;
    this.preAggregator.reset();
    this.lastValue = undefined;
    const recordsIn = forEachRawRecord(request.payload, request.origin, (record) => {
      this.orderedIndex = -1;
      this.orderedTime = Number.NaN;
      for (let i = 0; i < this.sourcePushes.length; i++) this.sourcePushes[i]!(record, null);
    });
    return this.result(recordsIn);
  }

  /** A record enters the ordered stage: note what the coordinator needs to dedupe it and advance the watermark. */
  private enterOrdered(value: unknown): void {
    const { plan } = this;
    this.orderedIndex = this.orderedCount++;
    if (plan.dedupe) {
      const { name = 'dedupe', key: keyOf, timestamp } = plan.dedupe;
      const key = inStepCalled(name, keyOf, value);
      this.dedupeKeys.push(key);
      this.dedupeHashes.push(dedupeHash(key));
      this.dedupeTimes.push(inStepCalled(name, timestamp, value));
    }
    if (plan.watermarks) {
      this.orderedTime = inStepCalled(plan.watermarks.name, plan.watermarks.timestamp, value);
      if (!Number.isFinite(this.orderedTime)) {
        throw annotateStepError(new Error(`its timestamp function returned ${String(this.orderedTime)}, not epoch milliseconds`), plan.watermarks.name);
      }
      this.eventTimes.push(this.orderedTime);
      if (this.preAggregating) this.preAggregator.beforeRecord(this.orderedTime);
      this.chunkMaxBefore = this.chunkMaxTime;
      if (this.orderedTime > this.chunkMaxTime) this.chunkMaxTime = this.orderedTime;
    }
  }

  private route(
    exit: number,
    ordered: boolean,
    selector: ((value: unknown) => string) | undefined,
    value: unknown,
    preAggregated: number,
  ): void {
    const index = ordered ? this.orderedIndex : -this.orderedCount - 1;
    const sameRecord = value === this.lastValue && index === this.lastIndex;
    const key = selector ? selector(value) : undefined;
    const subtask = this.subtaskFor(key, sameRecord);
    this.lastValue = value;
    this.lastIndex = index;
    this.lastSubtask = subtask;
    if (
      preAggregated >= 0 &&
      this.preAggregating &&
      this.preAggregator.fold(preAggregated, subtask, key!, value, this.orderedTime, index, this.chunkMaxBefore)
    ) {
      return;
    }
    const builder = this.builder(subtask);
    const last = builder.records.length - 1;
    // The same record taking another exit: equal strings or reused objects on the same exit are distinct records.
    if (sameRecord && last >= 0 && builder.records[last] === value && builder.orderedIndex.at(last) === index && (builder.masks.at(last) & (1 << exit)) === 0) {
      builder.masks.set(last, builder.masks.at(last) | (1 << exit));
    } else {
      builder.push(value, 1 << exit, index, ordered ? this.orderedTime : Number.NaN);
    }
  }

  /** Keyed: the subtask owning the key's group. Unkeyed: along with the same record's keyed exit, or by chunk. */
  private subtaskFor(key: string | undefined, sameRecord: boolean): number {
    if (key !== undefined) {
      // One subtask owns every key group: no need to hash the key.
      return this.parallelism === 1 ? 0 : subtaskForKey(key, this.parallelism, this.maxParallelism);
    }
    return sameRecord ? this.lastSubtask : this.chunkSeq % this.parallelism;
  }

  private pushPartial(subtask: number, partialExit: number, partial: PartialAggregate, orderedIndex: number, eventTime: number): void {
    this.builder(subtask).push(partial, 1 << partialExit, orderedIndex, eventTime);
  }

  private builder(subtask: number): TargetBuilder {
    let builder = this.builders.get(subtask);
    if (!builder) this.builders.set(subtask, (builder = new TargetBuilder(subtask)));
    if (builder.records.length === 0) this.targets.push(builder);
    return builder;
  }

  private result(recordsIn: number): DecodeResult {
    let partialsFireAt = Number.POSITIVE_INFINITY;
    if (this.preAggregating) {
      this.preAggregator.flushAll();
      partialsFireAt = this.preAggregator.lowestFire;
    }
    const targets: TargetBatch[] = [];
    for (const builder of this.targets) {
      targets.push({
        subtask: builder.subtask,
        count: builder.records.length,
        records: this.codec.encode(builder.records),
        exitMasks: builder.masks.take(),
        orderedIndex: builder.orderedIndex.take(),
        eventTimes: builder.eventTimes.take(),
      });
      builder.records = [];
    }
    return {
      chunkSeq: this.chunkSeq,
      recordsIn,
      counters: this.metrics.drain(),
      orderedCount: this.orderedCount,
      ...(this.plan.dedupe
        ? { dedupeKeys: this.dedupeKeys.take(), dedupeHashes: this.dedupeHashes.take(), dedupeTimes: this.dedupeTimes.take() }
        : {}),
      ...(this.plan.watermarks ? { eventTimes: this.eventTimes.take() } : {}),
      targets,
      ...(partialsFireAt < Number.POSITIVE_INFINITY ? { partialsFireAt } : {}),
    };
  }
}

/**
 * Decodes a chunk in a thread other than the coordinator's: the result, with the chunk's bytes handed back (the
 * coordinator may need it decoded again, then returns the buffer to its reader), and the buffers to transfer.
 */
export function decodeForCoordinator(stage: DecodeStage, request: DecodeRequest): { result: DecodeResult; transfer: ArrayBuffer[] } {
  const decoded = stage.decode(request);
  const result = request.payload.kind === 'lines' ? { ...decoded, payload: request.payload } : decoded;
  return { result, transfer: transferablesOf(result) };
}
