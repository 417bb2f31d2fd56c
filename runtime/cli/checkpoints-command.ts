// `coattail checkpoints list|inspect`: what is stored, readable without running the job.

import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { CoattailError, describeError } from '../errors.js';
import { openCheckpointStore, parseCheckpointId } from '../checkpoint/checkpoint-store.js';

/** A local folder that does not exist is more likely a typo than a job that never checkpointed. */
function refuseMissingFolder(location: string): void {
  if (!location.startsWith('s3://') && !existsSync(location)) throw new CoattailError('FILE_NOT_FOUND', `no checkpoint folder at ${resolve(location)}`);
}

export async function listCheckpoints(location: string, s3Endpoint?: string): Promise<void> {
  refuseMissingFolder(location);
  const store = openCheckpointStore(location, s3Endpoint);
  const ids = await store.allIds();
  if (ids.length === 0) {
    process.stdout.write(`no checkpoints in ${store.storage.location}\n`);
    return;
  }
  const rows = [['id', 'status', 'completed at', 'duration', 'size', 'parallelism', 'job']];
  const abandoned = await store.abandonedIds();
  for (const id of ids) {
    try {
      const metadata = await store.readMetadata(id);
      rows.push([
        `chk-${id}`,
        abandoned.has(id) ? 'abandoned' : metadata.savepoint ? 'savepoint' : 'complete',
        metadata.completedAt,
        `${metadata.durationMs} ms`,
        formatBytes(metadata.sizeBytes),
        `${metadata.parallelism}/${metadata.maxParallelism}`,
        metadata.jobName,
      ]);
    } catch (error) {
      rows.push([`chk-${id}`, 'invalid', describeError(error), '', '', '', '']);
    }
  }
  process.stdout.write(formatTable(rows));
}

export async function inspectCheckpoint(location: string, which: string, s3Endpoint?: string): Promise<void> {
  refuseMissingFolder(location);
  const store = openCheckpointStore(location, s3Endpoint);
  const metadata = await store.readMetadata(parseCheckpointId(which));
  const lines = [
    `checkpoint chk-${metadata.checkpointId}${metadata.savepoint ? ' (savepoint)' : ''} of job ${metadata.jobName}`,
    `  triggered  ${metadata.triggeredAt}`,
    `  completed  ${metadata.completedAt} (${metadata.durationMs} ms)`,
    `  size       ${formatBytes(metadata.sizeBytes)}`,
    `  parallelism ${metadata.parallelism}, max parallelism ${metadata.maxParallelism}`,
    `  source     ${metadata.sourceUri}`,
    ...(metadata.outputFormat === undefined ? [] : [`  tables     ${metadata.outputFormat}`]),
    ...metadata.splits.map((s) => `    split ${s.splitId}: ${s.ended ? 'finished' : `offset ${s.position ?? 'start'}`} (${s.origin})`),
    `  operators  ${metadata.operators.join(', ')}`,
    `  coordinator state ${metadata.coordinatorFile.key} (${formatBytes(metadata.coordinatorFile.bytes)})`,
    ...metadata.subtasks.map(
      (s) => `  subtask ${s.subtaskIndex}: key groups ${s.keyGroups.start}-${s.keyGroups.end}, ${s.file.key} (${formatBytes(s.file.bytes)})`,
    ),
    `  shared files: ${metadata.sharedFiles.length} (incremental dedupe segments)`,
    `  pending sink commits: ${metadata.pendingCommits.length}`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function formatTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n') + '\n';
}
