// Turns errors from the AWS SDK and the network into one-line reasons a user can act on.

const CONNECTION_PROBLEMS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by the server',
  EPIPE: 'connection closed by the server',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
};

interface ErrorShape {
  name?: string;
  code?: string;
  message?: string;
  errors?: unknown[];
  $metadata?: { httpStatusCode?: number };
  $response?: { statusCode?: number };
}

function firstLine(text: string | undefined): string {
  return (text ?? '').split('\n')[0]?.trim() ?? '';
}

/** Node reports a failed multi-address connect as an AggregateError; its parts carry the code. */
function networkCode(error: ErrorShape): string | undefined {
  if (error.code && CONNECTION_PROBLEMS[error.code]) return error.code;
  for (const inner of error.errors ?? []) {
    const code = (inner as ErrorShape | undefined)?.code;
    if (code && CONNECTION_PROBLEMS[code]) return code;
  }
  return undefined;
}

export function httpStatusOf(error: unknown): number | undefined {
  const shape = error as ErrorShape | undefined;
  return shape?.$metadata?.httpStatusCode ?? shape?.$response?.statusCode;
}

/**
 * Why an S3 call failed, in words. `endpointName` is where requests went (never holding credentials);
 * `bucket` names the bucket in bucket-level errors. Never includes access keys: SDK messages do not carry them.
 */
export function describeS3Failure(error: unknown, endpointName: string, bucket: string): string {
  if (!(error instanceof Error)) return String(error);
  const shape = error as ErrorShape;
  const code = networkCode(shape);
  if (code) return `cannot reach ${endpointName} (${CONNECTION_PROBLEMS[code]}, ${code})`;
  const name = shape.name ?? 'Error';
  const message = firstLine(shape.message);
  if (name === 'TimeoutError') {
    if (message.includes('did not establish a connection')) return `cannot reach ${endpointName} (connection timed out)`;
    if (message.includes('requestTimeout')) return `${endpointName} did not complete the request in time (request timed out)`;
    return `${endpointName} stopped answering (request timed out)`;
  }
  if (name === 'CredentialsProviderError' || message.includes('Could not load credentials')) {
    return (
      "no AWS credentials found by the SDK's default chain " +
      '(environment, shared config and credentials files, SSO, container or instance role)'
    );
  }
  if (message === 'Region is missing') {
    return 'no AWS region configured: set AWS_REGION or a region in the AWS config file';
  }
  switch (name) {
    case 'NoSuchBucket':
      return `bucket "${bucket}" does not exist at ${endpointName}`;
    case 'AccessDenied':
    case 'AllAccessDisabled':
      return `access denied by ${endpointName} (check the IAM policy for bucket "${bucket}")`;
    case 'InvalidAccessKeyId':
    case 'SignatureDoesNotMatch':
    case 'ExpiredToken':
    case 'InvalidToken':
      return `${endpointName} rejected the credentials (${name})`;
    case 'PermanentRedirect':
      return `bucket "${bucket}" is in another region than the configured one (set AWS_REGION to the bucket's region)`;
  }
  const status = httpStatusOf(error);
  // A refusal without an error body (HEAD requests have none) names no cause; these statuses still say which.
  if (status === 401 || status === 403) {
    return `${endpointName} refused the request (HTTP ${status}): check the credentials and the access policy for bucket "${bucket}"`;
  }
  const detail = message && message !== name && message !== 'UnknownError' ? `: ${message}` : '';
  return status ? `${name} (HTTP ${status})${detail}` : `${name}${detail}`;
}
