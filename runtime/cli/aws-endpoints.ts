// Endpoint flags of `coattail run` (--s3-endpoint, --kinesis-endpoint, --dynamodb-endpoint) for every AWS client of
// the run. Sinks are created in subtask threads from the job graph and only know `outDir`, so the flags travel as
// the SDK's own variables, which every client resolves (connectors/aws-client.ts).

import type { AwsService } from '../../connectors/aws-client.js';

export interface EndpointFlags {
  readonly s3Endpoint?: string;
  readonly kinesisEndpoint?: string;
  readonly dynamodbEndpoint?: string;
}

const FLAG_SERVICES: readonly (readonly [keyof EndpointFlags, AwsService])[] = [
  ['s3Endpoint', 's3'],
  ['kinesisEndpoint', 'kinesis'],
  ['dynamodbEndpoint', 'dynamodb'],
];

/** Validates the flags, then sets `AWS_ENDPOINT_URL_<SERVICE>` for the rest of the run. */
export async function applyEndpointFlags(flags: EndpointFlags): Promise<void> {
  const given = FLAG_SERVICES.filter(([flag]) => flags[flag]);
  if (given.length === 0) return;
  // Loaded only when a flag is given: a run without AWS never loads the SDK.
  const { resolveAwsEndpoint } = await import('../../connectors/aws-client.js');
  for (const [flag, service] of given) {
    const endpoint = flags[flag]!;
    const valid = resolveAwsEndpoint(service, endpoint)!; // a bad URL is one BAD_CONFIG line, before any thread uses it
    // Subtask threads share this environment (runtime/exec/warm-threads.ts), prestarted ones included.
    process.env[`AWS_ENDPOINT_URL_${service.toUpperCase()}`] = valid;
  }
}
