// Step functions run synchronously, one record at a time. An async function returns a Promise at once and does
// its work later: after the engine has moved to other records, keys and watermarks, and outside any checkpoint.

/**
 * Fails the step when the user function `what` returned a Promise (an async function, or one returning a
 * Promise). Without it, an async filter keeps every record (a Promise is truthy), an async map emits `{}`, and an
 * async processElement writes state under whichever key is current when it resumes.
 */
export function refuseAsync(result: unknown, what: string): void {
  if (!(result instanceof Promise)) return;
  // Its rejection must not surface later as a second failure naming no step.
  result.catch(() => undefined);
  throw new Error(`${what} returned a Promise: step functions must be synchronous (an async function's work would run after the record, outside its key and checkpoint)`);
}
