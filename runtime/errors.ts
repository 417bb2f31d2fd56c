// Typed errors with a stable code and a message written for the user; the CLI prints them as one line.

export type ErrorCode =
  | 'BAD_ARGUMENT'
  | 'BAD_CONFIG'
  | 'FILE_NOT_FOUND'
  | 'UNKNOWN_SOURCE'
  | 'JOB_COMPILE'
  | 'JOB_INVALID'
  | 'WORKER_FAILED'
  | 'SOURCE_FAILED'
  | 'SINK_FAILED'
  | 'CHECKPOINT_FAILED'
  | 'CHECKPOINT_CORRUPT'
  | 'CHECKPOINT_NOT_FOUND'
  | 'RESTORE_MISMATCH'
  | 'STORAGE'
  | 'CONNECTOR'
  | 'ENDPOINT_UNREACHABLE';

export class CoattailError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CoattailError';
    this.code = code;
  }
}

export function isCoattailError(error: unknown): error is CoattailError {
  return error instanceof Error && (error as { name?: string }).name === 'CoattailError' && 'code' in error;
}

/** One line for a human: the message, without a stack. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message.split('\n')[0] ?? String(error);
  if (typeof error === 'object' && error !== null && typeof (error as { message?: unknown }).message === 'string') {
    return describeError(new Error((error as { message: string }).message));
  }
  try {
    return JSON.stringify(error) ?? String(error);
  } catch {
    return String(error);
  }
}
