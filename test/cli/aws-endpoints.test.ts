// `coattail run`'s endpoint flags reach every client of the run through the environment (runtime/cli/aws-endpoints.ts).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { s3ConnectionFor } from '../../connectors/sinks/s3-part-storage.js';
import { applyEndpointFlags } from '../../runtime/cli/aws-endpoints.js';
import { resolveS3Endpoint } from '../../runtime/checkpoint/storage/s3-endpoint.js';

const VARIABLES = ['AWS_IGNORE_CONFIGURED_ENDPOINT_URLS', 'AWS_ENDPOINT_URL_S3', 'AWS_ENDPOINT_URL', 'COATTAIL_S3_ENDPOINT'] as const;
let saved: Record<string, string | undefined>;

beforeEach(() => {
  saved = Object.fromEntries(VARIABLES.map((name) => [name, process.env[name]]));
  for (const name of VARIABLES) delete process.env[name];
});
afterEach(() => {
  for (const name of VARIABLES) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
});

describe('--s3-endpoint', () => {
  it('reaches the table sinks (which know only the environment) even with AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true', async () => {
    // The variable ignores the endpoint *variables* (docs/storage.md); the flag still names the server, as it does
    // for checkpoints. Before, the tables of such a run went to AWS itself while its checkpoints went to the flag's server.
    process.env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS = 'true';
    process.env.AWS_ENDPOINT_URL = 'http://127.0.0.1:2';
    await applyEndpointFlags({ s3Endpoint: 'http://127.0.0.1:1' });
    expect(resolveS3Endpoint(undefined)).toEqual({ url: 'http://127.0.0.1:1', source: '--s3-endpoint' });
    expect(s3ConnectionFor().endpointName).toBe('http://127.0.0.1:1');
  });

  it('without the flag, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true still ignores the variables', () => {
    process.env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS = 'true';
    process.env.AWS_ENDPOINT_URL_S3 = 'http://127.0.0.1:3';
    expect(resolveS3Endpoint(undefined)).toBeUndefined();
  });
});
