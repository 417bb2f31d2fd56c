// Ctrl-C and SIGTERM for long-running commands: the first asks for a clean stop, a later one quits at once.

/** A stop signal repeated within this long of the first is the same request, forwarded by a parent process. */
const REPEATED_SIGNAL_MS = 1000;

/**
 * Calls `stop` on the first SIGINT or SIGTERM. Another one quits at once (exit 130), unless it comes within
 * 1 s of the first: a terminal's Ctrl-C reaches its whole process group, and parents such as npm (`npx`) or
 * `timeout` pass it on, so one request can arrive twice a few milliseconds apart. Returns the unsubscribe.
 */
export function onStopSignals(stop: (signal: NodeJS.Signals) => void): () => void {
  let stoppingSince: number | undefined;
  const handle = (signal: NodeJS.Signals) => {
    if (stoppingSince !== undefined) {
      if (Date.now() - stoppingSince < REPEATED_SIGNAL_MS) return;
      process.exit(130);
    }
    stoppingSince = Date.now();
    stop(signal);
  };
  process.on('SIGINT', handle);
  process.on('SIGTERM', handle);
  return () => {
    process.off('SIGINT', handle);
    process.off('SIGTERM', handle);
  };
}

/**
 * For a command whose work is done while the process winds down (a Kinesis client's keep-alive sockets keep it up
 * for about half a second): a stop signal then has nothing left to stop, so the process ends at once with its own
 * status instead of dying by the signal, which would read as an interrupted run.
 */
export function endOnStopSignals(): void {
  const end = () => process.exit(process.exitCode ?? 0);
  process.on('SIGINT', end);
  process.on('SIGTERM', end);
}
