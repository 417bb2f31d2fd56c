// Runs the stateless steps between the source and the first keyBy on one chunk, and routes the results:
// per target subtask a batch of records, with which exits each record takes and where it stands in
// the ordered stream, plus the ids and event times the coordinator's ordered stage needs.

import { isAscii } from 'node:buffer';
import type { ChunkPayload, RawRecord } from '../api/source.js';
import type { PhysicalPlan } from '../plan/physical-plan.js';
import { subtaskForKey } from '../plan/key-groups.js';
import { CounterRegistry } from './metrics.js';
import { createOperator } from './operator-factory.js';
import type { Emitter, StreamOperator } from './stream-operator.js';
import { createCodec, type CodecName, type RecordCodec } from '../transport/record-codec.js';
import { annotateStepError } from './step-error.js';

export interface DecodeRequest {
  readonly chunkSeq: number;
  readonly origin: string;
  readonly payload: ChunkPayload;
}

export interface TargetBatch {
  readonly subtask: number;
  readonly count: number;
  readonly records: Uint8Array;
  /** Bit e set: the record takes exit e. */
  readonly exitMasks: Uint32Array;
  /** >= 0: the record's index in the ordered stream; < 0: -(ordered records before it) - 1. */
  readonly orderedIndex: Int32Array;
}

export interface DecodeResult {
  readonly chunkSeq: number;
  readonly recordsIn: number;
  readonly counters: Record<string, number>;
  readonly orderedCount: number;
  readonly dedupeKeys?: string[];
  readonly dedupeTimes?: Float64Array;
  readonly eventTimes?: Float64Array;
  readonly targets: TargetBatch[];
}

type Push = (value: unknown, timestamp: number | null) => void;

class TargetBuilder {
  readonly records: unknown[] = [];
  readonly masks: number[] = [];
  readonly orderedIndex: number[] = [];
}

export class DecodeStage {
  private readonly metrics = new CounterRegistry();
  private readonly codec: RecordCodec;
  private readonly operators: StreamOperator[] = [];
  private sourcePushes: Push[] = [];
  private targets: Map<number, TargetBuilder> = new Map();
  private orderedCount = 0;
  private dedupeKeys: string[] = [];
  private dedupeTimes: number[] = [];
  private eventTimes: number[] = [];
  private chunkSeq = 0;
  private readonly orderedExits;
  private readonly firstKeyedOrderedExit;

  private constructor(
    private readonly plan: PhysicalPlan,
    private readonly parallelism: number,
    private readonly maxParallelism: number,
    codec: CodecName,
  ) {
    this.codec = createCodec(codec);
    this.orderedExits = plan.exits.filter((e) => e.ordered);
    this.firstKeyedOrderedExit = this.orderedExits.find((e) => e.key);
  }

  static async create(plan: PhysicalPlan, parallelism: number, maxParallelism: number, codec: CodecName = 'msgpack'): Promise<DecodeStage> {
    const stage = new DecodeStage(plan, parallelism, maxParallelism, codec);
    await stage.wire();
    return stage;
  }

  /** Build each decode-stage operator with an emitter that pushes straight into its consumers. */
  private async wire(): Promise<void> {
    const { plan } = this;
    const pushesOf = new Map<string, Push[]>(); // `${node}:${tag}` -> consumers
    const consumersKey = (node: number, tag?: string) => `${node}:${tag ?? ''}`;
    const list = (node: number, tag?: string) => {
      const key = consumersKey(node, tag);
      let pushes = pushesOf.get(key);
      if (!pushes) pushesOf.set(key, (pushes = []));
      return pushes;
    };
    // Exits that leave from decode nodes (side outputs, branches) route without the ordered stage.
    for (const exit of plan.exits) {
      if (exit.ordered) continue;
      list(exit.from, exit.tag).push((value) => this.routeUnordered(exit.index, exit.key?.selector, value));
    }
    // The head of the ordered stage collects what enters it.
    if (plan.orderedNodes.length > 0) {
      const head = plan.graph.node(plan.orderedNodes[0]!);
      const edge = head.inputs[0]!;
      list(edge.node, edge.tag).push((value) => this.routeOrdered(value));
    }
    // Operators are created in reverse topological order so each emitter can capture its consumers' pushes.
    for (const id of [...plan.decodeNodes].reverse()) {
      const node = plan.graph.node(id);
      const mainConsumers = list(id);
      const output: Emitter = {
        emit: (value, timestamp) => {
          for (let i = 0; i < mainConsumers.length; i++) mainConsumers[i]!(value, timestamp);
        },
        emitSide: (tagId, value, timestamp) => {
          const consumers = pushesOf.get(consumersKey(id, tagId));
          if (consumers) for (const push of consumers) push(value, timestamp);
        },
      };
      const operator = await createOperator(
        node,
        { uid: node.uid, subtaskIndex: 0, parallelism: this.parallelism, maxParallelism: this.maxParallelism, metrics: this.metrics, output, keySelectors: [] },
        () => {
          throw new Error('sinks do not run in the decode stage');
        },
      );
      await operator.open?.();
      this.operators.push(operator);
      const edge = node.inputs[0]!;
      list(edge.node, edge.tag).push((value, timestamp) => {
        try {
          operator.processElement(value, timestamp, 1);
        } catch (error) {
          throw annotateStepError(error, node.uid);
        }
      });
    }
    this.sourcePushes = list(plan.source.id);
  }

  decode(request: DecodeRequest): DecodeResult {
    this.chunkSeq = request.chunkSeq;
    this.targets = new Map();
    this.orderedCount = 0;
    this.dedupeKeys = [];
    this.dedupeTimes = [];
    this.eventTimes = [];
    const recordsIn = forEachRawRecord(request.payload, request.origin, (record) => {
      for (let i = 0; i < this.sourcePushes.length; i++) this.sourcePushes[i]!(record, null);
    });
    return this.result(recordsIn);
  }

  private target(subtask: number): TargetBuilder {
    let builder = this.targets.get(subtask);
    if (!builder) this.targets.set(subtask, (builder = new TargetBuilder()));
    return builder;
  }

  private routeUnordered(exit: number, selector: ((value: unknown) => string) | undefined, value: unknown): void {
    const subtask = selector ? subtaskForKey(selector(value), this.parallelism, this.maxParallelism) : this.chunkSeq % this.parallelism;
    const builder = this.target(subtask);
    builder.records.push(value);
    builder.masks.push(1 << exit);
    builder.orderedIndex.push(-this.orderedCount - 1);
  }

  private routeOrdered(value: unknown): void {
    const { plan } = this;
    const index = this.orderedCount++;
    if (plan.dedupe) {
      this.dedupeKeys.push(plan.dedupe.key(value));
      this.dedupeTimes.push(plan.dedupe.timestamp(value));
    }
    if (plan.watermarks) this.eventTimes.push(plan.watermarks.timestamp(value));
    // A rebalanced exit rides along with the first keyed exit so the record is encoded once.
    const anySubtask = this.firstKeyedOrderedExit
      ? subtaskForKey(this.firstKeyedOrderedExit.key!.selector(value), this.parallelism, this.maxParallelism)
      : this.chunkSeq % this.parallelism;
    let firstSubtask = -1;
    let firstMask = 0;
    let others: Map<number, number> | undefined;
    for (const exit of this.orderedExits) {
      const subtask = exit.key
        ? exit === this.firstKeyedOrderedExit
          ? anySubtask
          : subtaskForKey(exit.key.selector(value), this.parallelism, this.maxParallelism)
        : anySubtask;
      if (firstSubtask === -1 || firstSubtask === subtask) {
        firstSubtask = subtask;
        firstMask |= 1 << exit.index;
      } else {
        others ??= new Map();
        others.set(subtask, (others.get(subtask) ?? 0) | (1 << exit.index));
      }
    }
    if (firstSubtask === -1) return;
    this.append(firstSubtask, value, firstMask, index);
    if (others) for (const [subtask, mask] of others) this.append(subtask, value, mask, index);
  }

  private append(subtask: number, value: unknown, mask: number, orderedIndex: number): void {
    const builder = this.target(subtask);
    builder.records.push(value);
    builder.masks.push(mask);
    builder.orderedIndex.push(orderedIndex);
  }

  private result(recordsIn: number): DecodeResult {
    const targets: TargetBatch[] = [];
    for (const [subtask, builder] of this.targets) {
      targets.push({
        subtask,
        count: builder.records.length,
        records: this.codec.encode(builder.records),
        exitMasks: Uint32Array.from(builder.masks),
        orderedIndex: Int32Array.from(builder.orderedIndex),
      });
    }
    return {
      chunkSeq: this.chunkSeq,
      recordsIn,
      counters: this.metrics.drain(),
      orderedCount: this.orderedCount,
      ...(this.plan.dedupe ? { dedupeKeys: this.dedupeKeys, dedupeTimes: Float64Array.from(this.dedupeTimes) } : {}),
      ...(this.plan.watermarks ? { eventTimes: Float64Array.from(this.eventTimes) } : {}),
      targets,
    };
  }
}

/** Calls `each` for every record of a chunk in order; returns how many. Empty lines are skipped. */
export function forEachRawRecord(payload: ChunkPayload, origin: string, each: (record: RawRecord) => void): number {
  let count = 0;
  if (payload.kind === 'records') {
    for (let i = 0; i < payload.texts.length; i++) {
      each({ text: payload.texts[i]!, source: origin, offset: payload.offsets[i]! });
      count++;
    }
    return count;
  }
  const bytes = Buffer.from(payload.bytes.buffer, payload.bytes.byteOffset, payload.bytes.byteLength);
  const base = payload.firstOffset;
  if (isAscii(bytes)) {
    // One decode for the whole chunk; character positions are byte positions.
    const text = bytes.toString('latin1');
    let position = 0;
    while (position < text.length) {
      let newline = text.indexOf('\n', position);
      if (newline < 0) newline = text.length;
      if (newline > position) {
        each({ text: text.slice(position, newline), source: origin, offset: base + position });
        count++;
      }
      position = newline + 1;
    }
    return count;
  }
  // Decode line by line so offsets stay exact bytes even where invalid UTF-8 becomes U+FFFD.
  let position = 0;
  while (position < bytes.length) {
    let newline = bytes.indexOf(10, position);
    if (newline < 0) newline = bytes.length;
    if (newline > position) {
      each({ text: bytes.toString('utf8', position, newline), source: origin, offset: base + position });
      count++;
    }
    position = newline + 1;
  }
  return count;
}
