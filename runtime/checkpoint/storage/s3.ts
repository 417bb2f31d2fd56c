// Checkpoint storage in an S3 bucket (AWS or an S3-compatible server), with bounded timeouts and retries.
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { NodeHttpHandler, type NodeHttpHandlerOptions } from '@smithy/node-http-handler';

import { CoattailError } from '../../errors.js';
import { checkKey, checkPrefix, sortKeys } from './keys.js';
import { describeS3Failure, httpStatusOf } from './s3-errors.js';
import type { CheckpointStorage } from './storage.js';
import { resolveS3Endpoint, type ResolvedEndpoint } from './s3-endpoint.js';

export interface S3CheckpointStorageOptions {
  readonly bucket: string;
  /** Key prefix inside the bucket, with or without a trailing "/"; "" for the bucket root. */
  readonly prefix: string;
  /** An S3-compatible endpoint such as `http://127.0.0.1:9000`; otherwise taken from the environment. */
  readonly endpoint?: string;
  /** Overrides the SDK's default region chain. */
  readonly region?: string;
  /** Attempts per request including the first (default 3). */
  readonly maxAttempts?: number;
  /** Time allowed to open a connection (default 2000 ms). */
  readonly connectionTimeoutMs?: number;
  /** Time a connected request may go without any traffic (default 15000 ms). */
  readonly idleTimeoutMs?: number;
  /** Time one request may take end to end, for large objects on slow links (default 300000 ms). */
  readonly requestTimeoutMs?: number;
}

/** Used only when an endpoint is given and nothing configures a region: S3-compatible servers ignore it. */
const FALLBACK_REGION = 'us-east-1';
const DELETE_BATCH = 1000;

export { resolveS3Endpoint, type ResolvedEndpoint } from './s3-endpoint.js';

/** An endpoint as shown in messages: scheme, host and path, without any user info. */
function displayEndpoint(endpoint: string): string {
  const url = new URL(endpoint);
  return `${url.protocol}//${url.host}${url.pathname === '/' ? '' : url.pathname}`;
}

function normalizePrefix(prefix: string): string {
  const trimmed = prefix.replace(/^\/+/, '').replace(/\/+$/, '');
  if (trimmed === '') return '';
  checkPrefix(`${trimmed}/`);
  return `${trimmed}/`;
}

export class S3CheckpointStorage implements CheckpointStorage {
  readonly location: string;
  readonly bucket: string;
  /** The key prefix in the bucket, "" or ending in "/". */
  readonly prefix: string;
  /** The endpoint requests go to, or undefined for AWS's own. */
  readonly endpoint: ResolvedEndpoint | undefined;
  private readonly endpointName: string;
  private readonly baseConfig: S3ClientConfig;
  private readonly handlerOptions: NodeHttpHandlerOptions;
  private clientPromise: Promise<S3Client> | undefined;

  constructor(options: S3CheckpointStorageOptions) {
    if (options.bucket === '') throw new CoattailError('BAD_ARGUMENT', 'The S3 bucket name must not be empty');
    this.bucket = options.bucket;
    this.prefix = normalizePrefix(options.prefix);
    this.location = `s3://${this.bucket}${this.prefix === '' ? '' : `/${this.prefix.slice(0, -1)}`}`;
    this.endpoint = resolveS3Endpoint(options.endpoint);
    this.endpointName = this.endpoint ? displayEndpoint(this.endpoint.url) : 'AWS S3';
    this.handlerOptions = {
      connectionTimeout: options.connectionTimeoutMs ?? 2_000,
      socketTimeout: options.idleTimeoutMs ?? 15_000,
      requestTimeout: options.requestTimeoutMs ?? 300_000,
      throwOnRequestTimeout: true,
    };
    // Credentials are deliberately never set here: the SDK's default chain finds them.
    this.baseConfig = {
      maxAttempts: options.maxAttempts ?? 3,
      ...(options.region ? { region: options.region } : {}),
      ...(this.endpoint
        ? { endpoint: this.endpoint.url, forcePathStyle: true }
        : { followRegionRedirects: true }),
    };
  }

  /** Created on first use, so a region fallback can be decided without blocking the constructor. */
  private client(): Promise<S3Client> {
    this.clientPromise ??= this.createClient();
    return this.clientPromise;
  }

  private async createClient(): Promise<S3Client> {
    // HTTP/1.1 with our timeouts; one handler per client since destroying a client destroys its handler.
    const client = new S3Client({ ...this.baseConfig, requestHandler: new NodeHttpHandler(this.handlerOptions) });
    if (this.endpoint === undefined || this.baseConfig.region !== undefined) return client;
    try {
      await client.config.region();
      return client;
    } catch {
      client.destroy();
      return new S3Client({
        ...this.baseConfig,
        region: FALLBACK_REGION,
        requestHandler: new NodeHttpHandler(this.handlerOptions),
      });
    }
  }

  private objectName(key: string): string {
    return `${this.location}/${key}`;
  }

  private failure(action: string, error: unknown): CoattailError {
    if (error instanceof CoattailError) return error;
    const why = describeS3Failure(error, this.endpointName, this.bucket);
    return new CoattailError('STORAGE', `Cannot ${action}: ${why}`, { cause: error });
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    checkKey(key);
    try {
      const client = await this.client();
      // A PUT is atomic in S3: readers see the previous state or the whole new object.
      await client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: this.prefix + key, Body: bytes, ContentLength: bytes.byteLength }),
      );
    } catch (error) {
      throw this.failure(`write checkpoint object ${this.objectName(key)}`, error);
    }
  }

  async get(key: string): Promise<Uint8Array> {
    checkKey(key);
    try {
      const client = await this.client();
      const response = await client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
      return response.Body ? await response.Body.transformToByteArray() : new Uint8Array(0);
    } catch (error) {
      const name = (error as { name?: string } | undefined)?.name;
      if (name === 'NoSuchKey' || (name !== 'NoSuchBucket' && httpStatusOf(error) === 404)) {
        throw new CoattailError('CHECKPOINT_NOT_FOUND', `Checkpoint object ${this.objectName(key)} does not exist`, {
          cause: error,
        });
      }
      throw this.failure(`read checkpoint object ${this.objectName(key)}`, error);
    }
  }

  async list(prefix: string): Promise<string[]> {
    checkPrefix(prefix);
    try {
      return sortKeys(await this.listFullKeys(this.prefix + prefix)).map((fullKey) => fullKey.slice(this.prefix.length));
    } catch (error) {
      throw this.failure(`list ${this.location}/${prefix}`, error);
    }
  }

  private async listFullKeys(fullPrefix: string): Promise<string[]> {
    const client = await this.client();
    const keys: string[] = [];
    let continuationToken: string | undefined;
    do {
      const page = await client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: fullPrefix, ContinuationToken: continuationToken }),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key !== undefined && object.Key.startsWith(fullPrefix)) keys.push(object.Key);
      }
      continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (continuationToken);
    return keys;
  }

  async deletePrefix(prefix: string): Promise<void> {
    checkPrefix(prefix);
    try {
      const client = await this.client();
      const keys = await this.listFullKeys(this.prefix + prefix);
      for (let start = 0; start < keys.length; start += DELETE_BATCH) {
        const batch = keys.slice(start, start + DELETE_BATCH);
        const result = await client.send(
          new DeleteObjectsCommand({
            Bucket: this.bucket,
            Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
          }),
        );
        const first = result.Errors?.[0];
        if (first) {
          const failed = `${result.Errors?.length ?? 1} object(s) under ${this.location}/${prefix}`;
          const why = `${first.Code ?? 'error'} ${first.Message ?? ''}`.trim();
          throw new CoattailError('STORAGE', `Cannot delete ${failed}, first s3://${this.bucket}/${first.Key}: ${why}`);
        }
      }
    } catch (error) {
      throw this.failure(`delete ${this.location}/${prefix}`, error);
    }
  }

  /** Release the HTTP connections; the storage must not be used afterwards. */
  async close(): Promise<void> {
    const pending = this.clientPromise;
    this.clientPromise = undefined;
    (await pending)?.destroy();
  }
}
