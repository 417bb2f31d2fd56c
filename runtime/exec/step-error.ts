// Names the step in an exception thrown by user code, so the one-line error says where it happened.

import { CoattailError } from '../errors.js';

export function annotateStepError(error: unknown, stepName: string): CoattailError {
  if (error instanceof CoattailError && error.code === 'WORKER_FAILED') return error;
  const message = error instanceof Error ? error.message : String(error);
  return new CoattailError('WORKER_FAILED', `step "${stepName}" threw: ${message}`, { cause: error });
}
