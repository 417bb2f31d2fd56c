// Table parts in S3: each part is a multipart upload to its final key, completed only when its checkpoint completes.
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';

import { awsClientConfig, isUnreachable, redactUrl } from '../aws-client.js';
import { resolveS3Endpoint } from '../../runtime/checkpoint/storage/s3.js';
import { describeS3Failure, httpStatusOf } from '../../runtime/checkpoint/storage/s3-errors.js';
import { CoattailError } from '../../runtime/errors.js';
import type { PartStorage } from './file-commit.js';

/** A bucket and a key prefix that is `''` or ends in `/`. */
export interface S3Location {
  readonly bucket: string;
  readonly prefix: string;
}

export function isS3Location(location: string): boolean {
  return /^s3:\/\//i.test(location);
}

export function parseS3Location(location: string): S3Location {
  const match = /^s3:\/\/([^/]+)\/*(.*)$/i.exec(location.trim());
  if (match === null || match[1] === undefined) {
    throw new CoattailError('BAD_ARGUMENT', `${location} is not an S3 location; write it as s3://bucket/prefix`);
  }
  const prefix = (match[2] ?? '').replace(/\/+$/, '');
  return { bucket: match[1], prefix: prefix === '' ? '' : `${prefix}/` };
}

export interface S3Connection {
  readonly client: S3Client;
  /** Where requests go, for messages: an endpoint without user info, or `AWS S3`. */
  readonly endpointName: string;
}

const connections = new Map<string, S3Connection>();

/**
 * One client per endpoint and process, shared by every writer so connections are reused. The endpoint is
 * `explicit`, else `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL` (the CLI puts `--s3-endpoint` into the first).
 */
export function s3ConnectionFor(explicit?: string): S3Connection {
  const endpoint = resolveS3Endpoint(explicit)?.url;
  const cacheKey = endpoint ?? '';
  let connection = connections.get(cacheKey);
  if (connection === undefined) {
    const config = awsClientConfig('s3', endpoint === undefined ? {} : { endpoint });
    // resolveS3Endpoint honours AWS_IGNORE_CONFIGURED_ENDPOINT_URLS; awsClientConfig would reread the variables.
    if (endpoint === undefined) {
      delete config.endpoint;
      delete config.forcePathStyle;
    }
    const client = new S3Client({ ...config, ...(endpoint === undefined ? { followRegionRedirects: true } : {}) });
    connection = { client, endpointName: endpoint === undefined ? 'AWS S3' : redactUrl(endpoint) };
    connections.set(cacheKey, connection);
  }
  return connection;
}

/** One line a user can act on; unreachable endpoints get their own code so the CLI can say so. */
export function s3Failure(connection: S3Connection, bucket: string, action: string, error: unknown): CoattailError {
  if (error instanceof CoattailError) return error;
  const why = describeS3Failure(error, connection.endpointName, bucket);
  const code = isUnreachable(error) ? 'ENDPOINT_UNREACHABLE' : 'SINK_FAILED';
  return new CoattailError(code, `Cannot ${action}: ${why}`, { cause: error });
}

function isMissing(error: unknown): boolean {
  const name = (error as { name?: string } | undefined)?.name;
  return name === 'NoSuchKey' || name === 'NotFound' || (name !== 'NoSuchBucket' && httpStatusOf(error) === 404);
}

export interface S3PartStorageOptions {
  /** The visible path a hidden part is committed to; undefined for any other file. Owned by the commit protocol. */
  readonly visiblePathOf: (relativePath: string) => string | undefined;
  /** Overrides the endpoint from the environment. */
  readonly endpoint?: string;
  /**
   * Bytes gathered before an upload part is sent (default 8 MiB). S3 refuses parts under 5 MiB other than
   * the last, so smaller values only suit servers that do not check, such as the one the tests use.
   */
  readonly uploadPartBytes?: number;
}

const DEFAULT_UPLOAD_PART_BYTES = 8 * 1024 * 1024;
const MARKER_KIND = 'coattail.s3-pending-part';

/**
 * What the hidden marker object of a part holds: enough to complete (or abort) the upload from any
 * process, since a restore must commit parts whose writer died.
 */
interface PendingUpload {
  readonly kind: typeof MARKER_KIND;
  readonly version: 1;
  readonly key: string;
  readonly uploadId: string;
  readonly parts: CompletedPart[];
}

/** A part this process is writing: bytes gathered until an upload part is worth sending. */
interface OpenPart {
  readonly key: string;
  uploadId: string | undefined;
  readonly parts: CompletedPart[];
  buffered: Uint8Array[];
  bufferedBytes: number;
  sealed: boolean;
}

/**
 * Part storage under `s3://bucket/prefix`. A hidden part path (`t/.part-1.jsonl.inprogress`) names a small
 * marker object; the bytes go to a multipart upload whose key is the visible path (`t/part-1.jsonl`), which
 * S3 shows to nobody until CompleteMultipartUpload. So `seal` makes a part durable, `rename` completes it,
 * and `remove` aborts it. Markers start with `.` and end in `.inprogress`, so Spark, Athena and DuckDB skip them.
 */
export function s3PartStorage(location: string, options: S3PartStorageOptions): PartStorage {
  const { bucket, prefix } = parseS3Location(location);
  const connection = s3ConnectionFor(options.endpoint);
  const client = connection.client;
  const uploadPartBytes = options.uploadPartBytes ?? DEFAULT_UPLOAD_PART_BYTES;
  const open = new Map<string, OpenPart>();
  const keyOf = (relativePath: string): string => prefix + relativePath;
  const nameOf = (relativePath: string): string => `s3://${bucket}/${keyOf(relativePath)}`;
  const fail = (action: string, error: unknown): CoattailError => s3Failure(connection, bucket, action, error);

  const putObject = async (key: string, body: Uint8Array, action: string): Promise<void> => {
    try {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: body.byteLength }));
    } catch (error) {
      throw fail(action, error);
    }
  };

  const writeMarker = (relativePath: string, part: OpenPart): Promise<void> => {
    const marker: PendingUpload = { kind: MARKER_KIND, version: 1, key: part.key, uploadId: part.uploadId!, parts: part.parts };
    return putObject(keyOf(relativePath), Buffer.from(JSON.stringify(marker)), `record pending part ${nameOf(relativePath)}`);
  };

  /**
   * Sends the gathered bytes as the next upload part, starting the upload on first use. An upload started
   * before the part is sealed gets its marker at once, so a restore can abort it if this process dies;
   * one started by `seal` is marked by `seal` right after, which saves a request per small part.
   */
  const uploadBuffered = async (relativePath: string, part: OpenPart, sealing: boolean): Promise<void> => {
    const body = part.buffered.length === 1 ? part.buffered[0]! : Buffer.concat(part.buffered);
    try {
      if (part.uploadId === undefined) {
        const created = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: part.key }));
        part.uploadId = created.UploadId;
        if (part.uploadId === undefined) throw new Error('the server returned no upload id');
        if (!sealing) await writeMarker(relativePath, part);
      }
      const PartNumber = part.parts.length + 1;
      const uploaded = await client.send(
        new UploadPartCommand({
          Bucket: bucket, Key: part.key, UploadId: part.uploadId, PartNumber, Body: body, ContentLength: body.byteLength,
        }),
      );
      part.parts.push({ PartNumber, ETag: uploaded.ETag });
      part.buffered = [];
      part.bufferedBytes = 0;
    } catch (error) {
      throw fail(`upload table part ${nameOf(relativePath)}`, error);
    }
  };

  const readMarker = async (relativePath: string): Promise<PendingUpload | undefined> => {
    let text: string;
    try {
      const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: keyOf(relativePath) }));
      text = (await response.Body?.transformToString('utf8')) ?? '';
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw fail(`read pending part ${nameOf(relativePath)}`, error);
    }
    let marker: Partial<PendingUpload> | undefined;
    try {
      marker = JSON.parse(text) as Partial<PendingUpload>;
    } catch {
      marker = undefined;
    }
    if (marker?.kind !== MARKER_KIND || marker.version !== 1 || typeof marker.key !== 'string' || typeof marker.uploadId !== 'string' || !Array.isArray(marker.parts)) {
      throw new CoattailError('SINK_FAILED', `The pending part ${nameOf(relativePath)} is damaged: it does not describe an upload`);
    }
    return marker as PendingUpload;
  };

  const objectExists = async (key: string): Promise<boolean> => {
    try {
      await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return true;
    } catch (error) {
      if (isMissing(error)) return false;
      throw fail(`check s3://${bucket}/${key}`, error);
    }
  };

  const deleteObject = async (key: string): Promise<void> => {
    try {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    } catch (error) {
      throw fail(`delete s3://${bucket}/${key}`, error);
    }
  };

  /** An upload already gone is fine; so is a server that cannot abort (s3rver): the upload stays invisible. */
  const abortUpload = async (key: string, uploadId: string): Promise<void> => {
    try {
      await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
    } catch (error) {
      const status = httpStatusOf(error);
      if (isMissing(error) || (error as { name?: string }).name === 'NoSuchUpload' || status === 405 || status === 501) return;
      throw fail(`abort the upload of s3://${bucket}/${key}`, error);
    }
  };

  const seal = async (relativePath: string): Promise<void> => {
    const part = open.get(relativePath);
    if (part === undefined || part.sealed) return;
    if (part.bufferedBytes > 0 || part.parts.length === 0) await uploadBuffered(relativePath, part, true);
    await writeMarker(relativePath, part);
    part.sealed = true;
  };

  const append = async (relativePath: string, bytes: Uint8Array): Promise<void> => {
    const part = open.get(relativePath);
    if (part === undefined || part.sealed) {
      throw new CoattailError('SINK_FAILED', `Cannot append to ${nameOf(relativePath)}: S3 objects are written once, as a whole`);
    }
    part.buffered.push(bytes);
    part.bufferedBytes += bytes.byteLength;
    if (part.bufferedBytes >= uploadPartBytes) await uploadBuffered(relativePath, part, false);
  };

  const remove = async (relativePath: string): Promise<void> => {
    const local = open.get(relativePath);
    open.delete(relativePath);
    const isPart = options.visiblePathOf(relativePath) !== undefined;
    const pending = local ?? (isPart ? await readMarker(relativePath) : undefined);
    if (pending?.uploadId !== undefined) await abortUpload(pending.key, pending.uploadId);
    await deleteObject(keyOf(relativePath));
  };

  const rename = async (fromPath: string, toPath: string): Promise<boolean> => {
    await seal(fromPath);
    const local = open.get(fromPath);
    const pending = local === undefined ? await readMarker(fromPath) : { key: local.key, uploadId: local.uploadId!, parts: local.parts };
    if (pending === undefined) return false;
    if (pending.key !== keyOf(toPath)) {
      throw new CoattailError('SINK_FAILED', `The pending part ${nameOf(fromPath)} belongs to s3://${bucket}/${pending.key}, not ${nameOf(toPath)}`);
    }
    try {
      await client.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket, Key: pending.key, UploadId: pending.uploadId, MultipartUpload: { Parts: pending.parts },
        }),
      );
    } catch (error) {
      // A commit interrupted after completing but before deleting the marker: the object is already there.
      if (isUnreachable(error) || !(await objectExists(pending.key))) throw fail(`commit table part ${nameOf(toPath)}`, error);
    }
    await deleteObject(keyOf(fromPath));
    open.delete(fromPath);
    return true;
  };

  const list = async (relativeFolder: string): Promise<string[]> => {
    const folderPrefix = keyOf(`${relativeFolder.replace(/\/+$/, '')}/`);
    const found: string[] = [];
    let ContinuationToken: string | undefined;
    try {
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: folderPrefix, ContinuationToken }));
        for (const object of page.Contents ?? []) {
          if (object.Key?.startsWith(folderPrefix)) found.push(object.Key.slice(prefix.length));
        }
        ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (ContinuationToken);
    } catch (error) {
      throw fail(`list s3://${bucket}/${folderPrefix}`, error);
    }
    return found.sort();
  };

  return {
    async write(relativePath, bytes) {
      const visible = options.visiblePathOf(relativePath);
      if (visible === undefined) return putObject(keyOf(relativePath), bytes, `write ${nameOf(relativePath)}`);
      // Writing replaces: whatever this process had started under the name is dropped first.
      if (open.has(relativePath)) await remove(relativePath);
      open.set(relativePath, { key: keyOf(visible), uploadId: undefined, parts: [], buffered: [], bufferedBytes: 0, sealed: false });
      return append(relativePath, bytes);
    },
    append,
    seal,
    rename,
    async exists(relativePath) {
      return open.has(relativePath) || objectExists(keyOf(relativePath));
    },
    list,
    remove,
    async makeFolder() {
      // S3 has no folders. The bucket is checked instead, so a wrong endpoint or bucket fails as the writer opens.
      try {
        await client.send(new HeadBucketCommand({ Bucket: bucket }));
      } catch (error) {
        const output = `table output s3://${bucket}/${prefix}`.replace(/\/$/, '');
        if (!isMissing(error)) throw fail(`open ${output}`, error);
        const why = `bucket "${bucket}" does not exist at ${connection.endpointName}`;
        throw new CoattailError('SINK_FAILED', `Cannot open ${output}: ${why}`, { cause: error });
      }
    },
  };
}
