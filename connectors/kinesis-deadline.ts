// Deadlines on Kinesis calls, shared by the source and the sink: the HTTP handler's timeout ends at the response
// headers, so without a deadline a server that stalls mid-body would hold a call forever.

/** Default bound on one call; matches the HTTP handler's request timeout (awsClientConfig). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** A Kinesis call that did not complete within its deadline (named so `toCoattailError` reports it as unreachable). */
export class KinesisCallTimeout extends Error {
  override readonly name = 'TimeoutError';
  readonly code = 'ETIMEDOUT';
  constructor(readonly timeoutMs: number, options?: ErrorOptions) {
    super(`no answer within ${timeoutMs} ms`, options);
  }
}

/**
 * Sends one request with a deadline. The HTTP handler's requestTimeout stops at the response headers, so a
 * server that answers the headers and then stalls the body would keep the call (and the split) waiting forever;
 * the deadline covers the SDK's attempts and the body. `cancel` (closing the reader) aborts without a timeout.
 */
export async function sendWithDeadline<T>(
  send: (options: { abortSignal: AbortSignal; requestTimeout: number }) => Promise<T>,
  timeoutMs: number,
  cancel?: AbortSignal,
): Promise<T> {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  const onCancel = (): void => controller.abort();
  if (cancel?.aborted) controller.abort();
  else cancel?.addEventListener('abort', onCancel, { once: true });
  try {
    return await send({ abortSignal: controller.signal, requestTimeout: timeoutMs });
  } catch (error) {
    if (timedOut && !cancel?.aborted) throw new KinesisCallTimeout(timeoutMs, { cause: error });
    throw error;
  } finally {
    clearTimeout(timer);
    cancel?.removeEventListener('abort', onCancel);
  }
}

