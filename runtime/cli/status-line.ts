// One line of live progress: throughput, watermark lag, and what the job has produced so far.

import type { RunStatus } from '../exec/run-status.js';

export function formatStatus(status: RunStatus): string {
  const parts = [
    `${Math.round(status.elapsedMs / 1000)}s`,
    `${status.recordsIn.toLocaleString('en-US')} records`,
    `${Math.round(status.recordsPerSecond).toLocaleString('en-US')}/s`,
  ];
  if (Number.isFinite(status.watermark)) {
    const lagSeconds = (Date.now() - status.watermark) / 1000;
    // A replay (file, --speed) runs ahead of or far behind the clock: show the event time itself then.
    parts.push(lagSeconds >= 0 && lagSeconds < 86_400 ? `watermark lag ${lagSeconds.toFixed(1)}s` : `watermark ${new Date(status.watermark).toISOString()}`);
  }
  // Rows written per sink say what the job has found so far (alerts, DLQ...), whatever the job.
  const rows = Object.entries(status.counters)
    .filter(([name]) => name.startsWith('rows.'))
    .map(([name, count]) => `${name.slice(5)} ${count}`);
  if (rows.length > 0) parts.push(rows.join(', '));
  return parts.join(' | ');
}

type Write = NodeJS.WriteStream['write'];

export interface StatusDisplay {
  /** Draws `line` in place of the previous status line. */
  show(line: string): void;
  /** Ends the status line with a newline and leaves `out` as it was. */
  end(): void;
}

/**
 * The status line of a terminal: redrawn in place on `err`, without a newline. When `out` goes to the same
 * terminal, whatever is written to it (the alert lines, which worker threads print through the main thread's
 * stdout) first clears the status line and then has it drawn again below, so an alert never continues it.
 */
export function terminalStatus(err: NodeJS.WritableStream, out?: NodeJS.WriteStream): StatusDisplay {
  let shown: string | undefined;
  // A line wider than the terminal wraps, and `\r` + clear-line then redraw only its last row: every update would
  // leave the rows above behind. Cut to the width (read at each draw: the window may be resized); 0 = unknown.
  const fit = (line: string): string => {
    const width = (err as Partial<NodeJS.WriteStream>).columns ?? 0;
    return width > 1 && line.length >= width ? `${line.slice(0, width - 2)}…` : line;
  };
  const original: Write | undefined = out?.write;
  if (out && original) {
    out.write = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]): boolean {
      if (shown === undefined) return (original as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
      err.write('\r\x1b[2K');
      const written = (original as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
      const text = typeof chunk === 'string' ? chunk : chunk instanceof Uint8Array ? chunk : undefined;
      const endsLine = typeof text === 'string' ? text.endsWith('\n') : text !== undefined && text[text.length - 1] === 10;
      // Drawn again only after a whole line: mid-line, the next status update redraws it.
      if (endsLine) err.write(shown);
      return written;
    } as Write;
  }
  return {
    show(line) {
      shown = fit(line);
      err.write(`\r\x1b[2K${shown}`);
    },
    end() {
      if (out && original) out.write = original;
      if (shown !== undefined) err.write('\n');
      shown = undefined;
    },
  };
}
