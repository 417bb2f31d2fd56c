// Shared AWS client settings (endpoint overrides, HTTP/1.1 with timeouts, bounded retries, region) and error mapping.
import { NodeHttpHandler } from '@smithy/node-http-handler';
// The SDK's own region chain (AWS_REGION, then the shared config files); @smithy/core ships with every AWS client.
import { loadConfig, NODE_REGION_CONFIG_FILE_OPTIONS, NODE_REGION_CONFIG_OPTIONS } from '@smithy/core/config';
import { CoattailError, type ErrorCode } from '../runtime/errors.js';
import { redactUrl } from './redact-url.js';

export { redactUrl };

export type AwsService = 'kinesis' | 'dynamodb' | 's3';

export interface AwsClientOptions {
  /** Overrides `AWS_ENDPOINT_URL_<SERVICE>` and `AWS_ENDPOINT_URL`. */
  readonly endpoint?: string;
}

/** Spread into `new KinesisClient(...)`, `new DynamoDBClient(...)` or `new S3Client(...)`. */
export interface AwsClientConfig {
  endpoint?: string;
  region: () => Promise<string>;
  maxAttempts: number;
  requestHandler: NodeHttpHandler;
  /** S3 only, with a custom endpoint: local servers (s3rver, MinIO, LocalStack) serve buckets by path. */
  forcePathStyle?: boolean;
}

/** Attempts per request, first try included: an unreachable endpoint fails in about a second, not minutes. */
export const AWS_MAX_ATTEMPTS = 3;
export const AWS_CONNECT_TIMEOUT_MS = 3_000;
export const AWS_REQUEST_TIMEOUT_MS = 30_000;

const SERVICE_NAMES: Record<AwsService, string> = { kinesis: 'Kinesis', dynamodb: 'DynamoDB', s3: 'S3' };

/** The endpoint a client for `service` will use, or undefined for the AWS default of the region. */
export function resolveAwsEndpoint(service: AwsService, explicit?: string): string | undefined {
  const candidates = [explicit, process.env[`AWS_ENDPOINT_URL_${service.toUpperCase()}`], process.env.AWS_ENDPOINT_URL];
  for (const candidate of candidates) {
    const trimmed = candidate?.trim();
    if (trimmed) return validateEndpoint(service, trimmed);
  }
  return undefined;
}

export function awsClientConfig(service: AwsService, options: AwsClientOptions = {}): AwsClientConfig {
  const endpoint = resolveAwsEndpoint(service, options.endpoint);
  const config: AwsClientConfig = {
    region: regionProvider(service, endpoint !== undefined),
    maxAttempts: AWS_MAX_ATTEMPTS,
    // The SDK's default handler for Kinesis speaks HTTP/2, which local emulators and some proxies do not.
    requestHandler: new NodeHttpHandler({
      connectionTimeout: AWS_CONNECT_TIMEOUT_MS,
      requestTimeout: AWS_REQUEST_TIMEOUT_MS,
      throwOnRequestTimeout: true,
    }),
  };
  if (endpoint !== undefined) config.endpoint = endpoint;
  if (service === 's3' && endpoint !== undefined) config.forcePathStyle = true;
  // Credentials are deliberately not set: the SDK's default chain (env, profile, SSO, container, instance role).
  return config;
}

function validateEndpoint(service: AwsService, endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new CoattailError('BAD_CONFIG', `The ${SERVICE_NAMES[service]} endpoint "${redactUrl(endpoint)}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new CoattailError('BAD_CONFIG', `The ${SERVICE_NAMES[service]} endpoint must be http:// or https://, got "${redactUrl(endpoint)}"`);
  }
  return endpoint;
}

function regionProvider(service: AwsService, customEndpoint: boolean): () => Promise<string> {
  let resolved: Promise<string> | undefined;
  const resolve = async (): Promise<string> => {
    const fromChain = await loadConfig(NODE_REGION_CONFIG_OPTIONS, NODE_REGION_CONFIG_FILE_OPTIONS)().catch(() => undefined);
    const region = fromChain || process.env.AWS_DEFAULT_REGION;
    if (region) return region;
    // Local emulators accept any region; real AWS needs the user to say which one.
    if (customEndpoint) return 'us-east-1';
    throw new CoattailError(
      'BAD_CONFIG',
      `No AWS region for ${SERVICE_NAMES[service]}: set AWS_REGION or a region in the AWS config file`,
    );
  };
  return () => (resolved ??= resolve());
}

/** Removes the values of credential variables from text, in case a server echoes them back. */
export function redactSecrets(text: string): string {
  let result = text;
  for (const name of ['AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_ACCESS_KEY_ID']) {
    const value = process.env[name];
    if (value && value.length >= 4) result = result.split(value).join('***');
  }
  return result;
}

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE',
]);

function errorCodeOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  const nested = (error as { errors?: unknown }).errors;
  if (Array.isArray(nested)) return nested.map(errorCodeOf).find((value) => value !== undefined);
  return undefined;
}

export function awsErrorName(error: unknown): string {
  if (error instanceof Error) return error.name;
  return typeof error;
}

/** Network-level failures: refused, unresolvable, timed out. */
export function isUnreachable(error: unknown): boolean {
  const code = errorCodeOf(error);
  if (code !== undefined && UNREACHABLE_CODES.has(code)) return true;
  return awsErrorName(error) === 'TimeoutError';
}

const THROTTLING_NAMES = new Set([
  'ProvisionedThroughputExceededException', 'LimitExceededException', 'ThrottlingException',
  'KMSThrottlingException', 'RequestLimitExceeded', 'TooManyRequestsException', 'SlowDown',
]);

export function isThrottling(error: unknown): boolean {
  return THROTTLING_NAMES.has(awsErrorName(error));
}

/** Full-jitter exponential backoff (AWS architecture blog): a random wait in [0, min(cap, base * 2^attempt)). */
export function backoffMs(attempt: number, baseMs: number, capMs: number): number {
  return Math.random() * Math.min(capMs, baseMs * 2 ** Math.max(0, attempt));
}

export interface AwsFailureContext {
  readonly service: AwsService;
  readonly endpoint: string | undefined;
  /** What was being done, e.g. `reading Kinesis stream "trades"`. */
  readonly action: string;
  /** The code for failures that are not about reaching or authenticating to AWS. */
  readonly code: ErrorCode;
  /** What a ResourceNotFoundException means here, e.g. `Kinesis stream "trades"`. */
  readonly notFound?: string;
}

/** One clear line for any AWS SDK failure; never includes credentials. */
export function toCoattailError(error: unknown, context: AwsFailureContext): CoattailError {
  if (error instanceof CoattailError) return error;
  const serviceName = SERVICE_NAMES[context.service];
  const where = context.endpoint ? `endpoint ${redactUrl(context.endpoint)}` : `the AWS ${serviceName} endpoint`;
  const name = awsErrorName(error);
  const detail = redactSecrets(firstLine(error));
  if (isUnreachable(error)) {
    const reason = errorCodeOf(error) ?? name;
    return new CoattailError(
      'ENDPOINT_UNREACHABLE',
      `${capitalize(context.action)} failed: ${where} is unreachable (${reason}) after ${AWS_MAX_ATTEMPTS} attempts`,
      { cause: error },
    );
  }
  if (name === 'ResourceNotFoundException' && context.notFound) {
    return new CoattailError(context.code, `${capitalize(context.action)} failed: ${context.notFound} was not found at ${where}`, {
      cause: error,
    });
  }
  if (name === 'CredentialsProviderError') {
    return new CoattailError(
      'BAD_CONFIG',
      `${capitalize(context.action)} failed: no AWS credentials found (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or use an instance role)`,
      { cause: error },
    );
  }
  if (['UnrecognizedClientException', 'InvalidSignatureException', 'AccessDeniedException', 'ExpiredTokenException',
    'InvalidClientTokenId', 'SignatureDoesNotMatch', 'InvalidAccessKeyId'].includes(name)) {
    return new CoattailError('CONNECTOR', `${capitalize(context.action)} failed: AWS refused the credentials (${name}: ${detail})`, {
      cause: error,
    });
  }
  return new CoattailError(context.code, `${capitalize(context.action)} failed at ${where}: ${name}: ${detail}`, { cause: error });
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return (message.split('\n')[0] ?? '').trim() || '(no message)';
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
