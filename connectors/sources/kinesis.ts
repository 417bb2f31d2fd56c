// Kinesis source: one split per shard, discovered with ListShards, parents read before children, live or bounded.
import { KinesisClient, ListShardsCommand, type ListShardsCommandInput, type Shard } from '@aws-sdk/client-kinesis';
import type { Source, SplitDescriptor, SplitPosition, SplitReader } from '../../runtime/api/source.js';
import { CoattailError } from '../../runtime/errors.js';
import { awsClientConfig, backoffMs, isThrottling, resolveAwsEndpoint, sleep, toCoattailError } from '../aws-client.js';
import { DEFAULT_REQUEST_TIMEOUT_MS, KinesisCallTimeout, sendWithDeadline } from '../kinesis-deadline.js';
import { KinesisShardReader, MIN_GET_RECORDS_INTERVAL_MS, TIMEOUT_ATTEMPTS, type ShardStart } from './kinesis-shard-reader.js';

export type KinesisStart = 'TRIM_HORIZON' | 'LATEST' | { readonly timestamp: Date };

export interface KinesisSourceOptions {
  readonly stream: string;
  /** Where a shard without a saved position starts. Default `TRIM_HORIZON`. */
  readonly start?: KinesisStart;
  /** Read what the stream holds at start, then end (backfills, tests). */
  readonly bounded?: boolean;
  /** Overrides `AWS_ENDPOINT_URL_KINESIS` / `AWS_ENDPOINT_URL`. */
  readonly endpoint?: string;
  /** A shard without records for this long is idle and no longer holds the watermark back. Default 10 s. */
  readonly idleMs?: number;
  /** Wait between GetRecords calls on a shard that has caught up. Default 1 s, at least 200 ms. */
  readonly pollMs?: number;
  /** Live mode: how often to look for new shards (resharding). Default 10 s. */
  readonly rediscoverMs?: number;
  /** The longest one Kinesis call may take, response included; 3 in a row over it fail the source. Default 30 s. */
  readonly requestTimeoutMs?: number;
  /** A client to use instead of one built from `awsClientConfig('kinesis')`; it is not destroyed by the source. */
  readonly client?: KinesisClient;
}

/** A shard as a split. `bornDuringRun` marks shards created while the job ran: they are read from their start. */
export interface KinesisSplit extends SplitDescriptor {
  readonly bornDuringRun: boolean;
}

export const DEFAULT_IDLE_MS = 10_000;
export const DEFAULT_POLL_MS = 1_000;
export const DEFAULT_REDISCOVER_MS = 10_000;
const HEARTBEAT_MS = 1_000;
const LIST_SHARDS_ATTEMPTS = 5;
const STREAM_NAME = /^[a-zA-Z0-9_.-]{1,128}$/;

export function kinesisSource(options: KinesisSourceOptions): Source {
  return new KinesisSource(validateOptions(options));
}

/** `kinesis:<stream>` with an optional `?start=TRIM_HORIZON|LATEST|<ISO-8601 time or epoch ms>`. */
export function parseKinesisUri(uri: string): { stream: string; start?: KinesisStart } {
  const match = /^kinesis:(?:\/\/)?([^?]*)(?:\?(.*))?$/.exec(uri.trim());
  if (!match) throw new CoattailError('BAD_ARGUMENT', `"${uri}" is not a Kinesis URI; expected kinesis:<stream>`);
  const stream = match[1] ?? '';
  if (!STREAM_NAME.test(stream)) {
    throw new CoattailError('BAD_ARGUMENT', `"${stream}" is not a Kinesis stream name (1-128 of a-z A-Z 0-9 _ . -)`);
  }
  const query = new URLSearchParams(match[2] ?? '');
  for (const key of query.keys()) {
    if (key !== 'start') throw new CoattailError('BAD_ARGUMENT', `Unknown option "${key}" in "${uri}"; the only one is start`);
  }
  const start = query.get('start');
  return start === null ? { stream } : { stream, start: parseStart(start) };
}

/** The source the CLI builds for `-s kinesis:<stream>` (with `--bounded`). */
export function kinesisSourceFromUri(uri: string, options: Omit<KinesisSourceOptions, 'stream'> = {}): Source {
  const parsed = parseKinesisUri(uri);
  return kinesisSource({ ...options, ...parsed, start: parsed.start ?? options.start });
}

function parseStart(text: string): KinesisStart {
  const upper = text.toUpperCase();
  if (upper === 'TRIM_HORIZON' || upper === 'LATEST') return upper;
  const timestamp = /^\d+$/.test(text) ? new Date(Number(text)) : new Date(text);
  if (Number.isNaN(timestamp.getTime())) {
    throw new CoattailError('BAD_ARGUMENT', `Kinesis start "${text}" is not TRIM_HORIZON, LATEST, an ISO-8601 time or epoch milliseconds`);
  }
  return { timestamp };
}

function validateOptions(options: KinesisSourceOptions): KinesisSourceOptions {
  if (!STREAM_NAME.test(options.stream)) {
    throw new CoattailError('BAD_ARGUMENT', `"${options.stream}" is not a Kinesis stream name (1-128 of a-z A-Z 0-9 _ . -)`);
  }
  const start = options.start;
  if (start !== undefined && start !== 'TRIM_HORIZON' && start !== 'LATEST') {
    if (!(start.timestamp instanceof Date) || Number.isNaN(start.timestamp.getTime())) {
      throw new CoattailError('BAD_ARGUMENT', 'Kinesis start must be TRIM_HORIZON, LATEST or { timestamp: <a valid Date> }');
    }
  }
  for (const name of ['idleMs', 'pollMs', 'rediscoverMs', 'requestTimeoutMs'] as const) {
    const value = options[name];
    if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
      throw new CoattailError('BAD_ARGUMENT', `Kinesis source option ${name} must be a positive number of milliseconds, got ${value}`);
    }
  }
  return options;
}

interface ShardInfo {
  readonly shardId: string;
  readonly parents: readonly string[];
  readonly closed: boolean;
}

/** One client shared by discovery and the readers of a source, destroyed when nobody uses it. */
class ClientLease {
  private client: KinesisClient | undefined;
  private users = 0;

  constructor(private readonly endpoint: string | undefined, private readonly injected: KinesisClient | undefined) {}

  acquire(): KinesisClient {
    this.users++;
    this.client ??= this.injected ?? new KinesisClient(awsClientConfig('kinesis', { endpoint: this.endpoint }));
    return this.client;
  }

  release(): void {
    this.users--;
    if (this.users === 0 && this.injected === undefined) {
      this.client?.destroy();
      this.client = undefined;
    }
  }
}

class KinesisSource implements Source {
  readonly uri: string;
  readonly bounded: boolean;
  /** Bounded runs read the shards that exist at start; only live runs look for new ones. */
  readonly rediscoverMs: number | undefined;
  private readonly stream: string;
  private readonly endpoint: string | undefined;
  private readonly clients: ClientLease;
  private shards = new Map<string, ShardInfo>();
  private listedOnce = false;
  /** The listing in progress: callers share it, so an older listing can never overwrite a newer one. */
  private listing: Promise<ShardInfo[]> | undefined;
  private readonly requestTimeoutMs: number;
  private readonly bornDuringRun = new Set<string>();
  private readonly restoredShards = new Set<string>();

  constructor(private readonly options: KinesisSourceOptions) {
    this.stream = options.stream;
    this.uri = `kinesis:${options.stream}`;
    this.bounded = options.bounded ?? false;
    this.rediscoverMs = this.bounded ? undefined : (options.rediscoverMs ?? DEFAULT_REDISCOVER_MS);
    this.endpoint = resolveAwsEndpoint('kinesis', options.endpoint);
    this.clients = new ClientLease(this.endpoint, options.client);
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  }

  async discoverSplits(): Promise<SplitDescriptor[]> {
    const shards = await this.listShards();
    return shards.map(
      (shard): KinesisSplit => ({
        splitId: shard.shardId,
        origin: `kinesis:${this.stream}/${shard.shardId}`,
        bornDuringRun: this.bornDuringRun.has(shard.shardId),
      }),
    );
  }

  /** Parents still listed by Kinesis; a parent past the retention period has nothing left to wait for. */
  parentsOf(split: SplitDescriptor): readonly string[] {
    const shard = this.shards.get(split.splitId);
    return shard ? shard.parents.filter((parent) => this.shards.has(parent)) : [];
  }

  async openSplit(split: SplitDescriptor, from: SplitPosition | undefined): Promise<SplitReader> {
    let shard = this.shards.get(split.splitId);
    if (shard === undefined) {
      await this.listShards();
      shard = this.shards.get(split.splitId);
    }
    if (shard === undefined) {
      throw new CoattailError(
        'SOURCE_FAILED',
        `Kinesis shard ${split.splitId} of stream "${this.stream}" no longer exists (it may be past the retention period)`,
      );
    }
    const start = this.startFor(shard, split, from);
    const client = this.clients.acquire();
    return new KinesisShardReader(
      client,
      {
        stream: this.stream,
        shardId: shard.shardId,
        endpoint: this.endpoint,
        bounded: this.bounded,
        idleMs: this.options.idleMs ?? DEFAULT_IDLE_MS,
        pollMs: Math.max(this.options.pollMs ?? DEFAULT_POLL_MS, MIN_GET_RECORDS_INTERVAL_MS),
        heartbeatMs: HEARTBEAT_MS,
        // A closed shard holds nothing newer than now, so LATEST on it reads nothing.
        finishedAtOpen: start.type === 'LATEST' && shard.closed,
        requestTimeoutMs: this.requestTimeoutMs,
        timeoutAttempts: TIMEOUT_ATTEMPTS,
      },
      start,
      () => this.clients.release(),
    );
  }

  /**
   * A saved position wins. Otherwise the configured start applies to the shards that existed when the job
   * started; shards born later (resharding while running, or children of a shard resumed from a checkpoint)
   * continue their parents, so they are read from their first record.
   */
  private startFor(shard: ShardInfo, split: SplitDescriptor, from: SplitPosition | undefined): ShardStart {
    if (from !== undefined && from !== null) {
      if (typeof from !== 'string' || !/^\d+$/.test(from)) {
        throw new CoattailError(
          'RESTORE_MISMATCH',
          `The saved position ${JSON.stringify(from)} of Kinesis shard ${shard.shardId} is not a sequence number`,
        );
      }
      this.restoredShards.add(shard.shardId);
      return { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: from };
    }
    const continuesParent =
      (split as Partial<KinesisSplit>).bornDuringRun === true ||
      this.bornDuringRun.has(shard.shardId) ||
      shard.parents.some((parent) => this.restoredShards.has(parent));
    const start = this.options.start ?? 'TRIM_HORIZON';
    if (continuesParent || start === 'TRIM_HORIZON') return { type: 'TRIM_HORIZON' };
    if (start === 'LATEST') return { type: 'LATEST' };
    return { type: 'AT_TIMESTAMP', timestamp: start.timestamp };
  }

  private listShards(): Promise<ShardInfo[]> {
    this.listing ??= this.listAllShards().finally(() => (this.listing = undefined));
    return this.listing;
  }

  private async listAllShards(): Promise<ShardInfo[]> {
    const client = this.clients.acquire();
    try {
      const listed: Shard[] = [];
      let nextToken: string | undefined;
      do {
        // ListShards takes either the stream name or a continuation token, never both.
        const input: ListShardsCommandInput = nextToken ? { NextToken: nextToken } : { StreamName: this.stream };
        const output = await this.sendListShards(client, { ...input, MaxResults: 1000 });
        listed.push(...(output.Shards ?? []));
        nextToken = output.NextToken;
      } while (nextToken);
      const shards = listed
        .filter((shard): shard is Shard & { ShardId: string } => typeof shard.ShardId === 'string')
        .map((shard) => ({
          shardId: shard.ShardId,
          parents: [shard.ParentShardId, shard.AdjacentParentShardId].filter((id): id is string => typeof id === 'string'),
          closed: shard.SequenceNumberRange?.EndingSequenceNumber !== undefined,
        }))
        .sort((left, right) => (left.shardId < right.shardId ? -1 : left.shardId > right.shardId ? 1 : 0));
      for (const shard of shards) {
        if (this.listedOnce && !this.shards.has(shard.shardId)) this.bornDuringRun.add(shard.shardId);
      }
      this.shards = new Map(shards.map((shard) => [shard.shardId, shard]));
      this.listedOnce = true;
      return shards;
    } finally {
      this.clients.release();
    }
  }

  private async sendListShards(client: KinesisClient, input: ListShardsCommandInput) {
    for (let attempt = 0, timeouts = 0; ; attempt++) {
      try {
        return await sendWithDeadline((options) => client.send(new ListShardsCommand(input), options), this.requestTimeoutMs);
      } catch (error) {
        // ListShards allows 1,000 calls per second per stream; a few patient retries cover bursts.
        if (isThrottling(error) && attempt + 1 < LIST_SHARDS_ATTEMPTS) {
          await sleep(backoffMs(attempt, 500, 5_000));
          continue;
        }
        // A stuck endpoint: a few more tries, then one line instead of a discovery that never ends.
        if (error instanceof KinesisCallTimeout && ++timeouts < TIMEOUT_ATTEMPTS) {
          await sleep(backoffMs(timeouts - 1, 200, 2_000));
          continue;
        }
        throw toCoattailError(error, {
          service: 'kinesis',
          endpoint: this.endpoint,
          action: `listing the shards of Kinesis stream "${this.stream}"`,
          code: 'SOURCE_FAILED',
          notFound: `Kinesis stream "${this.stream}"`,
        });
      }
    }
  }
}
