// Kinesis sink: PutRecords in batches of at most 500 records / 5 MiB, retrying only the entries Kinesis rejected.
import {
  KinesisClient,
  PutRecordsCommand,
  type PutRecordsCommandOutput,
  type PutRecordsRequestEntry,
} from '@aws-sdk/client-kinesis';
import type { PendingCommit, SinkFactory, SinkWriter } from '../../runtime/api/sink.js';
import { CoattailError } from '../../runtime/errors.js';
import {
  awsClientConfig,
  backoffMs,
  isThrottling,
  redactSecrets,
  redactUrl,
  resolveAwsEndpoint,
  sleep,
  toCoattailError,
} from '../aws-client.js';
import { parseKinesisUri } from '../sources/kinesis.js';
import { DEFAULT_REQUEST_TIMEOUT_MS, KinesisCallTimeout, sendWithDeadline } from '../kinesis-deadline.js';

export interface KinesisSinkOptions<T> {
  readonly stream: string;
  /** Chooses the shard: rows with the same key keep their order. 1-256 characters. */
  readonly partitionKey: (row: T) => string;
  /** Default `JSON.stringify`. */
  readonly serialize?: (row: T) => string;
  /** Overrides `AWS_ENDPOINT_URL_KINESIS` / `AWS_ENDPOINT_URL`. */
  readonly endpoint?: string;
  /** A client to use instead of one built from `awsClientConfig('kinesis')`; it is not destroyed by the sink. */
  readonly client?: KinesisClient;
  /** PutRecords attempts for a rejected entry (or a call without an answer) before the sink fails. Default 8. */
  readonly maxAttempts?: number;
  /** The longest one PutRecords call may take, response body included, before it is sent again. Default 30 s. */
  readonly requestTimeoutMs?: number;
}

/** PutRecords limits: 500 entries and 5 MiB (data plus partition keys) per request. */
export const PUT_RECORDS_MAX_ENTRIES = 500;
export const PUT_RECORDS_MAX_BYTES = 5 * 1024 * 1024;
const DEFAULT_MAX_ATTEMPTS = 8;
const RETRY_BASE_MS = 100;
const RETRY_CAP_MS = 5_000;

/**
 * Writes rows to a Kinesis stream, at-least-once: rows are buffered and sent whenever a full request's worth
 * has accumulated and, at the latest, on each checkpoint barrier (`prepareCommit`) and at the end (`finish`).
 * A checkpoint therefore completes only after its rows are in Kinesis, but rows sent after the last completed
 * checkpoint are sent again when the job restores from it; retried entries may also land out of order.
 * Consumers that must not see duplicates deduplicate on a key in the row (the quality stage does on event_id).
 */
export function kinesisSink<T>(options: KinesisSinkOptions<T>): SinkFactory<T> {
  parseKinesisUri(`kinesis:${options.stream}`); // validates the stream name with the same message as the CLI
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    throw new CoattailError('BAD_ARGUMENT', `Kinesis sink maxAttempts must be a positive integer, got ${maxAttempts}`);
  }
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  if (!Number.isFinite(requestTimeoutMs) || requestTimeoutMs <= 0) {
    throw new CoattailError('BAD_ARGUMENT', `Kinesis sink requestTimeoutMs must be a positive number, got ${requestTimeoutMs}`);
  }
  return {
    name: `kinesis:${options.stream}`,
    create: () => new KinesisSinkWriter(options, maxAttempts, requestTimeoutMs),
  };
}

/** The sink the CLI builds for `--dlq kinesis:<stream>` or an output URI. */
export function kinesisSinkFromUri<T>(
  uri: string,
  partitionKey: (row: T) => string,
  options: Omit<KinesisSinkOptions<T>, 'stream' | 'partitionKey'> = {},
): SinkFactory<T> {
  const { stream } = parseKinesisUri(uri);
  return kinesisSink({ ...options, stream, partitionKey });
}

interface BufferedEntry {
  readonly entry: PutRecordsRequestEntry;
  readonly bytes: number;
}

class KinesisSinkWriter<T> implements SinkWriter<T> {
  private buffer: BufferedEntry[] = [];
  private bufferedBytes = 0;
  private written = 0;
  private client: KinesisClient | undefined;
  private readonly endpoint: string | undefined;
  private readonly serialize: (row: T) => string;
  private readonly encoder = new TextEncoder();

  constructor(
    private readonly options: KinesisSinkOptions<T>,
    private readonly maxAttempts: number,
    private readonly requestTimeoutMs: number,
  ) {
    this.endpoint = resolveAwsEndpoint('kinesis', options.endpoint);
    this.serialize = options.serialize ?? ((row: T) => JSON.stringify(row));
  }

  async write(records: readonly T[]): Promise<void> {
    for (const row of records) {
      const partitionKey = this.options.partitionKey(row);
      if (typeof partitionKey !== 'string' || partitionKey.length < 1 || partitionKey.length > 256) {
        throw new CoattailError(
          'SINK_FAILED',
          `The partition key for Kinesis stream "${this.options.stream}" must be 1-256 characters, got ${JSON.stringify(partitionKey)}`,
        );
      }
      const data = this.encoder.encode(this.serialize(row));
      const bytes = data.byteLength + Buffer.byteLength(partitionKey, 'utf8');
      this.buffer.push({ entry: { Data: data, PartitionKey: partitionKey }, bytes });
      this.bufferedBytes += bytes;
    }
    // Send full requests as they fill, so memory stays bounded between checkpoints.
    while (this.buffer.length >= PUT_RECORDS_MAX_ENTRIES || this.bufferedBytes >= PUT_RECORDS_MAX_BYTES) {
      await this.sendBatch(this.takeBatch());
    }
  }

  async prepareCommit(_checkpointId: number): Promise<PendingCommit> {
    await this.flush();
    return null; // everything is already in Kinesis: nothing is left to commit
  }

  async commit(_pending: PendingCommit): Promise<void> {}

  async finish(): Promise<number> {
    try {
      await this.flush();
      return this.written;
    } finally {
      this.release();
    }
  }

  async abort(): Promise<void> {
    this.buffer = [];
    this.bufferedBytes = 0;
    this.release();
  }

  private async flush(): Promise<void> {
    while (this.buffer.length > 0) await this.sendBatch(this.takeBatch());
  }

  /** The longest prefix of the buffer that fits one request (a single oversized entry goes alone). */
  private takeBatch(): BufferedEntry[] {
    let count = 0;
    let bytes = 0;
    for (const item of this.buffer) {
      if (count === PUT_RECORDS_MAX_ENTRIES || (count > 0 && bytes + item.bytes > PUT_RECORDS_MAX_BYTES)) break;
      count++;
      bytes += item.bytes;
    }
    const batch = this.buffer.splice(0, count);
    this.bufferedBytes -= bytes;
    return batch;
  }

  private async sendBatch(batch: readonly BufferedEntry[]): Promise<void> {
    let pending = batch.map((item) => item.entry);
    let lastRejection = '';
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      if (attempt > 0) await sleep(backoffMs(attempt, RETRY_BASE_MS, RETRY_CAP_MS));
      let output: PutRecordsCommandOutput;
      try {
        const command = new PutRecordsCommand({ StreamName: this.options.stream, Records: pending });
        output = await sendWithDeadline((options) => this.clientFor().send(command, options), this.requestTimeoutMs);
      } catch (error) {
        // No answer in time: the records may or may not have landed; sending them again is at-least-once.
        if (error instanceof KinesisCallTimeout) {
          lastRejection = `no answer from ${this.endpoint === undefined ? 'Kinesis' : redactUrl(this.endpoint)} within ${this.requestTimeoutMs} ms`;
          continue;
        }
        if (isThrottling(error)) {
          lastRejection = redactSecrets(`${(error as Error).name}: ${(error as Error).message.split('\n')[0]}`);
          continue;
        }
        throw toCoattailError(error, {
          service: 'kinesis',
          endpoint: this.endpoint,
          action: `writing to Kinesis stream "${this.options.stream}"`,
          code: 'SINK_FAILED',
          notFound: `Kinesis stream "${this.options.stream}"`,
        });
      }
      const results = output.Records ?? [];
      const rejected: PutRecordsRequestEntry[] = [];
      pending.forEach((entry, index) => {
        const result = results[index];
        if (result === undefined || result.ErrorCode) {
          rejected.push(entry);
          if (result?.ErrorCode) lastRejection = redactSecrets(`${result.ErrorCode}: ${result.ErrorMessage ?? ''}`.trim());
        }
      });
      this.written += pending.length - rejected.length;
      if (rejected.length === 0) return;
      pending = rejected;
    }
    throw new CoattailError(
      'SINK_FAILED',
      `Kinesis stream "${this.options.stream}" rejected ${pending.length} of ${batch.length} records after ${this.maxAttempts} attempts (${lastRejection || 'no reason given'})`,
    );
  }

  private clientFor(): KinesisClient {
    this.client ??= this.options.client ?? new KinesisClient(awsClientConfig('kinesis', { endpoint: this.options.endpoint }));
    return this.client;
  }

  private release(): void {
    if (this.client !== undefined && this.options.client === undefined) this.client.destroy();
    this.client = undefined;
  }
}
