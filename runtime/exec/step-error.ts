// Names the step in an exception thrown by user code, so the one-line error says where it happened.

import { CoattailError } from '../errors.js';

export function annotateStepError(error: unknown, stepName: string): CoattailError {
  if (error instanceof CoattailError && error.code === 'WORKER_FAILED') return error;
  const message = error instanceof Error ? error.message : String(error);
  return new CoattailError('WORKER_FAILED', `step "${stepName}" threw: ${message}`, { cause: error });
}

/**
 * A keyBy selector that fails the step unless it returns a string. Every keyed record is routed here first,
 * so keyed steps downstream only ever see string keys. A number would hash to one key group (murmurHash
 * reads string code units) and an object would be a new key per record: both silently wrong.
 */
export function checkedKeySelector(name: string, selector: (value: unknown) => string): (value: unknown) => string {
  return (value) => {
    const key: unknown = inStepCalled(name, selector, value);
    if (typeof key === 'string') return key;
    const shown = typeof key === 'number' || typeof key === 'boolean' || typeof key === 'bigint' ? `${typeof key} ${String(key)}` : key === null ? 'null' : typeof key;
    throw annotateStepError(new Error(`its key selector returned ${shown}, not a string (return String(...) of it)`), name);
  };
}

/**
 * Calls a function of the step `name` that runs inside another step's emit (a key selector, a timestamp or dedupe
 * key function): an exception names this step, not the step whose output it was called on.
 */
export function inStepCalled<T>(name: string, fn: (value: unknown) => T, value: unknown): T {
  try {
    return fn(value);
  } catch (error) {
    throw annotateStepError(error, name);
  }
}
