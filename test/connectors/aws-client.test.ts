// Shared AWS client settings: endpoint precedence, region fallback, HTTP/1.1 handler, redaction.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { awsClientConfig, redactSecrets, redactUrl, toCoattailError } from '../../connectors/aws-client.js';

const VARIABLES = [
  'AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_KINESIS', 'AWS_ENDPOINT_URL_S3', 'AWS_REGION', 'AWS_DEFAULT_REGION',
  'AWS_CONFIG_FILE', 'AWS_SHARED_CREDENTIALS_FILE', 'AWS_PROFILE', 'AWS_SECRET_ACCESS_KEY',
];
let saved: Record<string, string | undefined> = {};

beforeEach(() => {
  saved = Object.fromEntries(VARIABLES.map((name) => [name, process.env[name]]));
  for (const name of VARIABLES) delete process.env[name];
  // No region from a developer's own config file.
  process.env.AWS_CONFIG_FILE = '/nonexistent/coattail-test-config';
  process.env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent/coattail-test-credentials';
});

afterEach(() => {
  for (const name of VARIABLES) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
});

describe('awsClientConfig', () => {
  it('takes the endpoint from the option, then AWS_ENDPOINT_URL_<SERVICE>, then AWS_ENDPOINT_URL', () => {
    expect(awsClientConfig('kinesis').endpoint).toBeUndefined();
    process.env.AWS_ENDPOINT_URL = 'http://127.0.0.1:1000';
    expect(awsClientConfig('kinesis').endpoint).toBe('http://127.0.0.1:1000');
    process.env.AWS_ENDPOINT_URL_KINESIS = 'http://127.0.0.1:2000';
    expect(awsClientConfig('kinesis').endpoint).toBe('http://127.0.0.1:2000');
    expect(awsClientConfig('dynamodb').endpoint).toBe('http://127.0.0.1:1000');
    expect(awsClientConfig('kinesis', { endpoint: 'http://127.0.0.1:3000' }).endpoint).toBe('http://127.0.0.1:3000');
  });

  it('uses an HTTP/1.1 handler and a bounded number of attempts', () => {
    const config = awsClientConfig('kinesis');
    expect(config.requestHandler).toBeInstanceOf(NodeHttpHandler);
    expect(config.maxAttempts).toBe(3);
  });

  it('falls back to us-east-1 only when a custom endpoint is set', async () => {
    expect(await awsClientConfig('kinesis', { endpoint: 'http://127.0.0.1:1' }).region()).toBe('us-east-1');
    await expect(awsClientConfig('kinesis').region()).rejects.toMatchObject({
      code: 'BAD_CONFIG',
      message: 'No AWS region for Kinesis: set AWS_REGION or a region in the AWS config file',
    });
    process.env.AWS_REGION = 'eu-west-1';
    expect(await awsClientConfig('kinesis', { endpoint: 'http://127.0.0.1:1' }).region()).toBe('eu-west-1');
    delete process.env.AWS_REGION;
    process.env.AWS_DEFAULT_REGION = 'ap-south-1';
    expect(await awsClientConfig('kinesis').region()).toBe('ap-south-1');
  });

  it('addresses S3 buckets by path on a custom endpoint', () => {
    expect(awsClientConfig('s3', { endpoint: 'http://127.0.0.1:1' }).forcePathStyle).toBe(true);
    expect(awsClientConfig('s3').forcePathStyle).toBeUndefined();
    expect(awsClientConfig('kinesis', { endpoint: 'http://127.0.0.1:1' }).forcePathStyle).toBeUndefined();
  });

  it('rejects an endpoint that is not an http(s) URL without echoing a password', () => {
    expect(() => awsClientConfig('kinesis', { endpoint: 'ftp://user:hunter2@host' })).toThrow(
      'The Kinesis endpoint must be http:// or https://, got "ftp://host"',
    );
    expect(() => awsClientConfig('kinesis', { endpoint: 'not a url' })).toThrow(/is not a URL/);
  });
});

describe('AWS error messages', () => {
  it('never contain credentials or URL passwords', () => {
    process.env.AWS_SECRET_ACCESS_KEY = 'wJalrXUtnFEMI-example-secret';
    expect(redactSecrets('signature for wJalrXUtnFEMI-example-secret did not match')).toBe('signature for *** did not match');
    expect(redactUrl('https://user:pass@kinesis.local:4567/')).toBe('https://kinesis.local:4567');
    const error = Object.assign(new Error('The request signature wJalrXUtnFEMI-example-secret is wrong\nmore'), {
      name: 'InvalidSignatureException',
    });
    const mapped = toCoattailError(error, {
      service: 'kinesis',
      endpoint: 'https://user:pass@kinesis.local',
      action: 'reading Kinesis stream "x"',
      code: 'SOURCE_FAILED',
    });
    expect(mapped.code).toBe('CONNECTOR');
    expect(mapped.message).toBe(
      'Reading Kinesis stream "x" failed: AWS refused the credentials (InvalidSignatureException: The request signature *** is wrong)',
    );
  });

  it('say plainly when no credentials are found', () => {
    const error = Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' });
    const mapped = toCoattailError(error, { service: 'kinesis', endpoint: undefined, action: 'listing', code: 'SOURCE_FAILED' });
    expect(mapped.code).toBe('BAD_CONFIG');
    expect(mapped.message).toMatch(/^Listing failed: no AWS credentials found \(set AWS_ACCESS_KEY_ID/);
  });
});
