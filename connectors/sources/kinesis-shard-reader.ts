// Reads one Kinesis shard with GetRecords: per-shard rate limits, throttling backoff, iterator renewal, bounded catch-up.
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type GetShardIteratorCommandInput,
  type KinesisClient,
  type _Record as KinesisRecord,
} from '@aws-sdk/client-kinesis';
import type { SourceChunk, SplitPosition, SplitReader } from '../../runtime/api/source.js';
import { awsErrorName, backoffMs, isThrottling, sleep, toCoattailError } from '../aws-client.js';
import { KinesisCallTimeout, sendWithDeadline } from '../kinesis-deadline.js';

/** Where a shard iterator starts. */
export type ShardStart =
  | { readonly type: 'TRIM_HORIZON' }
  | { readonly type: 'LATEST' }
  | { readonly type: 'AT_TIMESTAMP'; readonly timestamp: Date }
  | { readonly type: 'AFTER_SEQUENCE_NUMBER'; readonly sequenceNumber: string };

export interface ShardReaderSettings {
  readonly stream: string;
  readonly shardId: string;
  readonly endpoint: string | undefined;
  /** Stop once the shard has caught up with what it held (or at a closed shard's end). */
  readonly bounded: boolean;
  readonly idleMs: number;
  /** Wait between GetRecords calls once caught up; never below MIN_GET_RECORDS_INTERVAL_MS. */
  readonly pollMs: number;
  /** A live reader hands on an empty chunk after this long without records, so the engine can move on. */
  readonly heartbeatMs: number;
  /** Nothing to read (a closed shard started at LATEST): the reader ends at once. */
  readonly finishedAtOpen: boolean;
  /** The longest one call may take (SDK attempts and response body included) before it counts as timed out. */
  readonly requestTimeoutMs: number;
  /** Calls in a row that may time out before the split fails. */
  readonly timeoutAttempts: number;
}

/** Kinesis limits per shard: 10,000 records per GetRecords call and 5 calls per second. */
export const GET_RECORDS_LIMIT = 10_000;
export const MIN_GET_RECORDS_INTERVAL_MS = 200;
const THROTTLE_BASE_MS = 500;
const THROTTLE_CAP_MS = 10_000;
/** Calls in a row that may time out before a split or a listing fails (as the SDK's attempts for other failures). */
export const TIMEOUT_ATTEMPTS = 3;
const TIMEOUT_BACKOFF_BASE_MS = 200;
const TIMEOUT_BACKOFF_CAP_MS = 2_000;

export class KinesisShardReader implements SplitReader {
  private iterator: string | undefined;
  private iteratorObtainedAt = 0;
  private lastSequenceNumber: string | undefined;
  private lastCallAt = 0;
  private lastRecordAt = Date.now();
  private caughtUp = false;
  private finished: boolean;
  private closed = false;
  private throttledAttempts = 0;
  private timedOutAttempts = 0;
  private readonly abort = new AbortController();
  // Records are handed on verbatim: invalid UTF-8 becomes U+FFFD as in files, and a byte-order mark is kept.
  private readonly decoder = new TextDecoder('utf-8', { ignoreBOM: true });

  constructor(
    private readonly client: KinesisClient,
    private readonly settings: ShardReaderSettings,
    private start: ShardStart,
    private readonly onClose: () => void,
  ) {
    this.finished = settings.finishedAtOpen;
    if (start.type === 'AFTER_SEQUENCE_NUMBER') this.lastSequenceNumber = start.sequenceNumber;
  }

  async next(): Promise<SourceChunk | undefined> {
    const waitingSince = Date.now();
    while (!this.closed && !this.finished) {
      const records = await this.poll();
      if (this.closed) break;
      if (records.length > 0) return this.chunk(records);
      if (!this.finished && Date.now() - waitingSince >= this.settings.heartbeatMs) return this.chunk([]);
    }
    return undefined;
  }

  isIdle(): boolean {
    if (this.finished) return true;
    return this.caughtUp && Date.now() - this.lastRecordAt >= this.settings.idleMs;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
    this.onClose();
  }

  private chunk(records: readonly KinesisRecord[]): SourceChunk {
    const texts = records.map((record) => this.decoder.decode(record.Data ?? new Uint8Array(0)));
    const offsets = records.map((record) => record.SequenceNumber ?? '');
    const endPosition: SplitPosition = this.lastSequenceNumber ?? null;
    return { payload: { kind: 'records', texts, offsets }, endPosition };
  }

  /** One GetRecords call (after pacing); an empty list when nothing came back for whatever reason. */
  private async poll(): Promise<readonly KinesisRecord[]> {
    if (this.iterator === undefined) {
      this.iterator = await this.obtainIterator();
      if (this.iterator === undefined) return [];
    }
    await this.pace();
    if (this.closed) return [];
    this.lastCallAt = Date.now();
    let output;
    try {
      const command = new GetRecordsCommand({ ShardIterator: this.iterator, Limit: GET_RECORDS_LIMIT });
      output = await sendWithDeadline((options) => this.client.send(command, options), this.settings.requestTimeoutMs, this.abort.signal);
    } catch (error) {
      if (this.closed) return [];
      if (error instanceof KinesisCallTimeout) {
        // The same iterator stays valid: ask again after a pause, a bounded number of times.
        await this.afterTimeout(error, 'reading');
        return [];
      }
      if (awsErrorName(error) === 'ExpiredIteratorException') {
        // The engine did not ask for records for five minutes (back-pressure): resume where reading stopped.
        this.start = this.resumePoint();
        this.iterator = undefined;
        return [];
      }
      if (isThrottling(error)) {
        await sleep(backoffMs(this.throttledAttempts++, THROTTLE_BASE_MS, THROTTLE_CAP_MS), this.abort.signal);
        return [];
      }
      throw this.failure(error, 'reading');
    }
    this.throttledAttempts = 0;
    this.timedOutAttempts = 0;
    const records = output.Records ?? [];
    const last = records[records.length - 1];
    if (last?.SequenceNumber !== undefined) {
      this.lastSequenceNumber = last.SequenceNumber;
      this.lastRecordAt = Date.now();
    }
    this.caughtUp =
      output.MillisBehindLatest === undefined ? records.length === 0 : output.MillisBehindLatest === 0 && records.length < GET_RECORDS_LIMIT;
    if (output.NextShardIterator) this.iterator = output.NextShardIterator;
    else this.finished = true; // a closed shard read to its end: its children may start
    if (this.settings.bounded && this.caughtUp) this.finished = true;
    return records;
  }

  private async pace(): Promise<void> {
    const interval = this.caughtUp ? Math.max(this.settings.pollMs, MIN_GET_RECORDS_INTERVAL_MS) : MIN_GET_RECORDS_INTERVAL_MS;
    const wait = this.lastCallAt + interval - Date.now();
    if (wait > 0) await sleep(wait, this.abort.signal);
  }

  private async obtainIterator(): Promise<string | undefined> {
    const input: GetShardIteratorCommandInput = {
      StreamName: this.settings.stream,
      ShardId: this.settings.shardId,
      ShardIteratorType: this.start.type,
    };
    if (this.start.type === 'AFTER_SEQUENCE_NUMBER') input.StartingSequenceNumber = this.start.sequenceNumber;
    if (this.start.type === 'AT_TIMESTAMP') input.Timestamp = this.start.timestamp;
    for (let attempt = 0; !this.closed; attempt++) {
      try {
        const command = new GetShardIteratorCommand(input);
        const output = await sendWithDeadline((options) => this.client.send(command, options), this.settings.requestTimeoutMs, this.abort.signal);
        this.iteratorObtainedAt = Date.now();
        this.timedOutAttempts = 0;
        if (!output.ShardIterator) this.finished = true;
        return output.ShardIterator;
      } catch (error) {
        if (this.closed) break;
        if (error instanceof KinesisCallTimeout) {
          await this.afterTimeout(error, 'opening');
          continue;
        }
        if (!isThrottling(error)) throw this.failure(error, 'opening');
        await sleep(backoffMs(attempt, THROTTLE_BASE_MS, THROTTLE_CAP_MS), this.abort.signal);
      }
    }
    return undefined;
  }

  /** A call ran out of time: wait and let the caller try again, or fail the split once too many did in a row. */
  private async afterTimeout(error: KinesisCallTimeout, doing: 'reading' | 'opening'): Promise<void> {
    if (++this.timedOutAttempts >= this.settings.timeoutAttempts) throw this.failure(error, doing);
    await sleep(backoffMs(this.timedOutAttempts - 1, TIMEOUT_BACKOFF_BASE_MS, TIMEOUT_BACKOFF_CAP_MS), this.abort.signal);
  }

  /** Where to start a renewed iterator: after the last record read, else where the expired one started. */
  private resumePoint(): ShardStart {
    if (this.lastSequenceNumber !== undefined) {
      return { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: this.lastSequenceNumber };
    }
    // Nothing read since LATEST: everything that arrived after the first iterator was taken is still unread.
    if (this.start.type === 'LATEST') return { type: 'AT_TIMESTAMP', timestamp: new Date(this.iteratorObtainedAt) };
    return this.start;
  }

  private failure(error: unknown, doing: 'reading' | 'opening'): Error {
    return toCoattailError(error, {
      service: 'kinesis',
      endpoint: this.settings.endpoint,
      action: `${doing} shard ${this.settings.shardId} of Kinesis stream "${this.settings.stream}"`,
      code: 'SOURCE_FAILED',
      notFound: `Kinesis stream "${this.settings.stream}" or its shard ${this.settings.shardId}`,
    });
  }
}
