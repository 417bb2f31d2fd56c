// Buffers a batch of records and hands it to a SinkWriter at the end of each input batch.

import type { SinkWriter } from '../runtime/api/sink.js';
import type { Counter } from '../runtime/graph/functions.js';
import type { StreamOperator } from '../runtime/exec/stream-operator.js';

export class SinkOperator implements StreamOperator {
  private buffer: unknown[] = [];
  constructor(
    readonly name: string,
    private readonly writer: SinkWriter<unknown>,
    /** Rows handed to the writer; a counter so it is checkpointed with the rest of the metrics. */
    private readonly rows: Counter,
  ) {}

  processElement(value: unknown): void {
    this.buffer.push(value);
  }

  onWatermark(watermark: number): number {
    return watermark;
  }

  async flush(): Promise<void> {
    if (this.buffer.length === 0) return;
    const batch = this.buffer;
    this.buffer = [];
    this.rows.inc(batch.length);
    await this.writer.write(batch);
  }

  async prepareCommit(checkpointId: number): Promise<unknown> {
    await this.flush();
    return this.writer.prepareCommit(checkpointId);
  }

  async commit(pending: unknown): Promise<void> {
    await this.writer.commit(pending);
  }

  async finish(): Promise<void> {
    await this.flush();
    await this.writer.finish();
  }

  async abort(): Promise<void> {
    this.buffer = [];
    await this.writer.abort();
  }
}
