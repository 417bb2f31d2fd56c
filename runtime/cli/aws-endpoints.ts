// Endpoint flags of `coattail run` (--s3-endpoint, --kinesis-endpoint, --dynamodb-endpoint) for every AWS client of
// the run. Sinks are created in subtask threads from the job graph and only know `outDir`, so the flags travel as
// the SDK's own variables, which every client resolves (connectors/aws-client.ts).

import type { AwsService } from '../../connectors/aws-client.js';
import { S3_ENDPOINT_FLAG_VARIABLE } from '../checkpoint/storage/s3-endpoint.js';
import { CoattailError } from '../errors.js';
import { redactUrl } from '../../connectors/redact-url.js';

export interface EndpointFlags {
  readonly s3Endpoint?: string;
  readonly kinesisEndpoint?: string;
  readonly dynamodbEndpoint?: string;
}

const FLAG_SERVICES: readonly (readonly [keyof EndpointFlags, AwsService, string])[] = [
  ['s3Endpoint', 's3', '--s3-endpoint'],
  ['kinesisEndpoint', 'kinesis', '--kinesis-endpoint'],
  ['dynamodbEndpoint', 'dynamodb', '--dynamodb-endpoint'],
];

/** Validates the flags, then sets `AWS_ENDPOINT_URL_<SERVICE>` for the rest of the run. */
export async function applyEndpointFlags(flags: EndpointFlags): Promise<void> {
  const given = FLAG_SERVICES.filter(([flag]) => flags[flag]);
  if (given.length === 0) return;
  for (const [flag, service, flagName] of given) {
    const valid = checkedEndpointFlag(flagName, flags[flag]!);
    // Subtask threads share this environment (runtime/exec/warm-threads.ts), prestarted ones included.
    process.env[`AWS_ENDPOINT_URL_${service.toUpperCase()}`] = valid;
    // S3 honours AWS_IGNORE_CONFIGURED_ENDPOINT_URLS, which must not drop the flag (docs/storage.md).
    if (service === 's3') process.env[S3_ENDPOINT_FLAG_VARIABLE] = valid;
  }
}

/**
 * An endpoint flag's value, trimmed, or a usage error naming the flag (exit 2, as `checkpoints --s3-endpoint` and
 * docs/storage.md say), before anything uses it; a user:password part is not printed.
 */
export function checkedEndpointFlag(flagName: string, value: string): string {
  const trimmed = value.trim();
  if (!isHttpUrl(trimmed)) throw new CoattailError('BAD_ARGUMENT', `${flagName} must be an http:// or https:// URL, got "${redactUrl(trimmed)}"`);
  return trimmed;
}

function isHttpUrl(value: string): boolean {
  try {
    const { protocol } = new URL(value);
    return protocol === 'http:' || protocol === 'https:';
  } catch {
    return false;
  }
}
