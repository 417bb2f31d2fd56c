// Which S3 endpoint to use, without loading the S3 SDK (so a bad value fails before anything starts).

import { CoattailError } from '../../errors.js';

export interface ResolvedEndpoint {
  readonly url: string;
  /** Where the endpoint came from, for messages: `--s3-endpoint`, `AWS_ENDPOINT_URL_S3`, ... */
  readonly source: string;
}

/**
 * Where `coattail run` leaves its `--s3-endpoint` for the sinks of its threads, which know only `outDir`. Unlike
 * `AWS_ENDPOINT_URL_S3` (set too), it counts as the flag: `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` does not drop it.
 */
export const S3_ENDPOINT_FLAG_VARIABLE = 'COATTAIL_S3_ENDPOINT';

/**
 * The endpoint to use: the explicit option (or the run's `--s3-endpoint`), else `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL`
 * (both skipped when `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`, as the SDKs do), else none (AWS itself).
 */
export function resolveS3Endpoint(
  explicit: string | undefined,
  environment: NodeJS.ProcessEnv = process.env,
): ResolvedEndpoint | undefined {
  const ignoreEnvironment = environment.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS?.toLowerCase() === 'true';
  const candidates: [string | undefined, string][] = [[explicit ?? environment[S3_ENDPOINT_FLAG_VARIABLE], '--s3-endpoint']];
  if (!ignoreEnvironment) {
    candidates.push(
      [environment.AWS_ENDPOINT_URL_S3, 'AWS_ENDPOINT_URL_S3'],
      [environment.AWS_ENDPOINT_URL, 'AWS_ENDPOINT_URL'],
    );
  }
  for (const [value, source] of candidates) {
    if (value === undefined || value.trim() === '') continue;
    let url: URL;
    try {
      url = new URL(value.trim());
    } catch {
      throw new CoattailError('BAD_ARGUMENT', `${source} must be an http:// or https:// URL, got "${value}"`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new CoattailError('BAD_ARGUMENT', `${source} must be an http:// or https:// URL, got "${value}"`);
    }
    return { url: value.trim(), source };
  }
  return undefined;
}
