// One line of live progress: throughput, watermark lag, and what the job has produced so far.

import type { RunStatus } from '../exec/coordinator.js';

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
