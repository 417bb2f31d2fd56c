// Stateless one-input operators: map, filter, flatMap and process (with side outputs).

import type { Collector, ProcessContext, ProcessFunction, RuntimeContext } from '../runtime/graph/functions.js';
import type { OutputTag } from '../runtime/graph/functions.js';
import type { OperatorEnvironment, StreamOperator } from '../runtime/exec/stream-operator.js';
import { CoattailError } from '../runtime/errors.js';
import { refuseAsync } from './synchronous.js';

/**
 * Keyed state and timers exist only after keyBy. The types say so, but a .js job (or a cast) reaches for them
 * anyway; say what to do instead of "cannot read properties of undefined".
 */
function needsKeyBy(step: string, what: string): never {
  throw new CoattailError('JOB_INVALID', `step "${step}" uses ${what}, which needs a keyed stream: call keyBy(...) before process("${step}")`);
}

export class MapOperator implements StreamOperator {
  constructor(private readonly env: OperatorEnvironment, private readonly fn: (value: unknown) => unknown) {}
  processElement(value: unknown, timestamp: number | null): void {
    const mapped = this.fn(value);
    refuseAsync(mapped, 'its map function');
    this.env.output.emit(mapped, timestamp);
  }
  onWatermark(watermark: number): number {
    return watermark;
  }
}

export class FilterOperator implements StreamOperator {
  constructor(private readonly env: OperatorEnvironment, private readonly fn: (value: unknown) => boolean) {}
  processElement(value: unknown, timestamp: number | null): void {
    const keep = this.fn(value);
    refuseAsync(keep, 'its filter function');
    if (keep) this.env.output.emit(value, timestamp);
  }
  onWatermark(watermark: number): number {
    return watermark;
  }
}

/** Shared by flatMap and process: a collector and a context that forward with the input's timestamp. */
class TimestampedOutput implements Collector<unknown>, ProcessContext {
  timestamp: number | null = null;
  currentWatermark = Number.NEGATIVE_INFINITY;
  constructor(private readonly env: OperatorEnvironment) {}
  get timerService(): never {
    return needsKeyBy(this.env.uid, 'timers');
  }
  collect(value: unknown): void {
    this.env.output.emit(value, this.timestamp);
  }
  output<X>(tag: OutputTag<X>, value: X): void {
    this.env.output.emitSide(tag.id, value, this.timestamp);
  }
}

export class FlatMapOperator implements StreamOperator {
  private readonly out: TimestampedOutput;
  constructor(env: OperatorEnvironment, private readonly fn: (value: unknown, out: Collector<unknown>) => void) {
    this.out = new TimestampedOutput(env);
  }
  processElement(value: unknown, timestamp: number | null): void {
    this.out.timestamp = timestamp;
    refuseAsync(this.fn(value, this.out), 'its flatMap function');
  }
  onWatermark(watermark: number): number {
    this.out.currentWatermark = watermark;
    return watermark;
  }
}

export class ProcessOperator implements StreamOperator {
  private readonly out: TimestampedOutput;
  constructor(private readonly env: OperatorEnvironment, private readonly fn: ProcessFunction<unknown, unknown>) {
    this.out = new TimestampedOutput(env);
  }
  open(): void {
    const uid = this.env.uid;
    const context: RuntimeContext & { readonly state: never } = {
      subtaskIndex: this.env.subtaskIndex,
      parallelism: this.env.parallelism,
      metrics: this.env.metrics,
      get state(): never {
        return needsKeyBy(uid, 'keyed state');
      },
    };
    refuseAsync(this.fn.open?.(context), 'open()');
  }
  processElement(value: unknown, timestamp: number | null): void {
    this.out.timestamp = timestamp;
    refuseAsync(this.fn.processElement(value, this.out, this.out), 'processElement');
  }
  onWatermark(watermark: number): number {
    this.out.currentWatermark = watermark;
    return watermark;
  }
}

/** Union: records pass through; the watermark is already the minimum of the inputs. */
export class PassThroughOperator implements StreamOperator {
  constructor(private readonly env: OperatorEnvironment) {}
  processElement(value: unknown, timestamp: number | null): void {
    this.env.output.emit(value, timestamp);
  }
  onWatermark(watermark: number): number {
    return watermark;
  }
}
