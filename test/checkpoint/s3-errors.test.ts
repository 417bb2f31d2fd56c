// The one-line reasons for S3 failures: what a user can act on, for errors with and without an S3 error body.
import { describe, expect, it } from 'vitest';
import { describeS3Failure } from '../../runtime/checkpoint/storage/s3-errors.js';

/** An error as the SDK throws it for a response, with its name and HTTP status. */
function sdkError(name: string, status: number, message = 'UnknownError'): Error {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });
}

describe('describeS3Failure', () => {
  it('names the cause of a refusal without an error body (a HEAD request answered 403)', () => {
    expect(describeS3Failure(sdkError('Unknown', 403), 'http://127.0.0.1:9000', 'tables')).toBe(
      'http://127.0.0.1:9000 refused the request (HTTP 403): check the credentials and the access policy for bucket "tables"',
    );
  });

  it('keeps the specific reason when S3 names it', () => {
    expect(describeS3Failure(sdkError('SignatureDoesNotMatch', 403, 'The signature does not match'), 'e', 'b')).toBe('e rejected the credentials (SignatureDoesNotMatch)');
    expect(describeS3Failure(sdkError('NoSuchBucket', 404), 'e', 'b')).toBe('bucket "b" does not exist at e');
  });

  it('reports other statuses with their name and message', () => {
    expect(describeS3Failure(sdkError('InternalError', 500, 'We encountered an internal error'), 'e', 'b')).toBe('InternalError (HTTP 500): We encountered an internal error');
  });
});
