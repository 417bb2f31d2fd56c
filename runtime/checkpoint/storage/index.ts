// Opens checkpoint storage from a user-given location: a local directory or `s3://bucket/prefix`.
import { fileURLToPath } from 'node:url';

import { CoattailError } from '../../errors.js';
import { LocalCheckpointStorage } from './local.js';
import { deferred } from '../../deferred.js';
import { resolveS3Endpoint, type ResolvedEndpoint } from './s3-endpoint.js';
import type { CheckpointStorage } from './storage.js';

export type { CheckpointStorage } from './storage.js';
export { LocalCheckpointStorage } from './local.js';
export type { S3CheckpointStorageOptions } from './s3.js';

export interface OpenCheckpointStorageOptions {
  /** `--s3-endpoint`: an S3-compatible server; wins over `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`. */
  readonly s3Endpoint?: string;
}

/** S3's rules for new buckets: 3-63 characters of lowercase letters, digits, dots and hyphens. */
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const URI_SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//;

function badLocation(location: string, problem: string): CoattailError {
  return new CoattailError('BAD_ARGUMENT', `Invalid checkpoint location "${location}": ${problem}`);
}

export function parseS3Location(location: string): { bucket: string; prefix: string } {
  const rest = location.slice('s3://'.length);
  const slash = rest.indexOf('/');
  const bucket = slash === -1 ? rest : rest.slice(0, slash);
  const prefix = slash === -1 ? '' : rest.slice(slash + 1);
  if (bucket === '') throw badLocation(location, 'the bucket is missing, expected s3://bucket/prefix');
  if (!BUCKET_NAME.test(bucket)) {
    throw badLocation(location, `"${bucket}" is not a valid bucket name (3-63 lowercase letters, digits, dots, hyphens)`);
  }
  if (/[?#\s]/.test(prefix)) throw badLocation(location, 'the prefix must not contain "?", "#" or whitespace');
  if (/(^|\/)\.{1,2}(\/|$)/.test(prefix) || prefix.includes('//')) {
    throw badLocation(location, 'the prefix must not contain empty, "." or ".." segments');
  }
  return { bucket, prefix };
}

/** Local directory (relative paths resolve against the working directory), `file:` URL, or `s3://bucket/prefix`. */
export function openCheckpointStorage(location: string, options: OpenCheckpointStorageOptions = {}): CheckpointStorage {
  if (location.trim() === '') throw badLocation(location, 'it is empty');
  const scheme = URI_SCHEME.exec(location)?.[1]?.toLowerCase();
  if (scheme === 's3') {
    const { bucket, prefix } = parseS3Location(location);
    // The S3 SDK loads only when a checkpoint is actually stored there.
    const normalizedPrefix = prefix.replace(/\/+$/, '');
    const endpoint = resolveS3Endpoint(options.s3Endpoint);
    return deferred<CheckpointStorage & { endpoint?: ResolvedEndpoint }>(
      async () => new (await import('./s3.js')).S3CheckpointStorage({ bucket, prefix, endpoint: options.s3Endpoint }),
      { location: `s3://${bucket}${normalizedPrefix === '' ? '' : `/${normalizedPrefix}`}`, endpoint },
    );
  }
  if (scheme !== undefined && scheme !== 'file') {
    throw badLocation(location, `"${scheme}://" is not supported, use a local directory or s3://bucket/prefix`);
  }
  if (scheme === 'file' || location.startsWith('file:')) {
    try {
      return new LocalCheckpointStorage(fileURLToPath(location));
    } catch (error) {
      if (error instanceof CoattailError) throw error;
      throw badLocation(location, 'not a valid file: URL, give a plain directory path instead');
    }
  }
  return new LocalCheckpointStorage(location);
}
