// `coattail run`: validate flags, resolve the source, run the job, show progress, print the summary.

import { statSync } from 'node:fs';
import { CoattailError } from '../errors.js';
import { parseDuration } from '../time/duration.js';
import { runJob } from '../exec/coordinator.js';
import type { RunStatus } from '../exec/run-status.js';
import { CODEC_NAMES, type CodecName } from '../transport/record-codec.js';
import { applyEndpointFlags } from './aws-endpoints.js';
import { feedCountersOf, formatFeedStatus } from './feed-report.js';
import { resolveSource, sourceScheme } from './resolve-source.js';
import { formatStatus, terminalStatus } from './status-line.js';
import { endOnStopSignals, onStopSignals } from './stop-signals.js';

/** The most key groups a job may have, as in Flink (2^15). */
const MAX_KEY_GROUPS = 32_768;

export interface RunFlags {
  readonly source: string;
  readonly out: string;
  readonly format: string;
  readonly parallelism: number;
  readonly maxParallelism: number;
  readonly config?: string;
  readonly speed: number;
  /** --speed was on the command line (its default of 1 is not). */
  readonly speedGiven?: boolean;
  readonly decodeThreads?: number;
  readonly codec: string;
  readonly preAggregate: boolean;
  readonly quiet?: boolean;
  readonly verbose: boolean;
  readonly checkpoints: boolean;
  readonly checkpointDir: string;
  readonly checkpointInterval: string;
  readonly retain: number;
  readonly restore?: string;
  readonly allowNonRestoredState?: boolean;
  readonly tolerableFailedCheckpoints: number;
  readonly s3Endpoint?: string;
  readonly bounded?: boolean;
  readonly kinesisEndpoint?: string;
  readonly dynamodbEndpoint?: string;
  readonly dlq?: string;
  readonly alerts?: string;
}

/** A local folder flag naming an existing file fails now, in one line, rather than at every write into it. */
function refuseFileAsFolder(flag: string, location: string): void {
  if (location.startsWith('s3://')) return;
  let isFile = false;
  try {
    isFile = !statSync(location).isDirectory();
  } catch {
    // Absent (made when needed) or unreadable (the write reports it).
  }
  if (isFile) throw new CoattailError('BAD_ARGUMENT', `${flag} must be a folder, but ${location} is a file`);
}

/**
 * `-c` is checked by the CLI, not only by jobs that load it: a job that never reads its configuration would
 * otherwise run with a mistyped path unnoticed, and a folder would surface as "not valid YAML (EISDIR)".
 */
function refuseMissingConfig(path: string): void {
  let isFolder: boolean;
  try {
    isFolder = statSync(path).isDirectory();
  } catch {
    throw new CoattailError('FILE_NOT_FOUND', `config file not found: ${path}`);
  }
  if (isFolder) throw new CoattailError('BAD_ARGUMENT', `--config must be a file, but ${path} is a folder`);
}

export async function runCommand(jobFile: string, flags: RunFlags): Promise<void> {
  if (flags.format !== 'parquet' && flags.format !== 'jsonl') {
    throw new CoattailError('BAD_ARGUMENT', `--format must be parquet or jsonl, got "${flags.format}"`);
  }
  if (!(CODEC_NAMES as readonly string[]).includes(flags.codec)) {
    throw new CoattailError('BAD_ARGUMENT', `--codec must be ${CODEC_NAMES.join(', ')}, got "${flags.codec}"`);
  }
  // Flink's bound (KeyGroupRangeAssignment.UPPER_BOUND_MAX_PARALLELISM): key groups beyond it only cost memory.
  if (flags.maxParallelism > MAX_KEY_GROUPS) {
    throw new CoattailError('BAD_ARGUMENT', `--max-parallelism must be at most ${MAX_KEY_GROUPS}, got ${flags.maxParallelism}`);
  }
  if (flags.parallelism > flags.maxParallelism) {
    throw new CoattailError('BAD_ARGUMENT', `--parallelism (${flags.parallelism}) cannot exceed --max-parallelism (${flags.maxParallelism})`);
  }
  // An empty folder would put the tables (or checkpoints) straight into the current directory.
  if (flags.out.trim() === '') throw new CoattailError('BAD_ARGUMENT', `--out must name a folder or s3://bucket/prefix, got ${JSON.stringify(flags.out)}`);
  if (flags.checkpoints && flags.checkpointDir.trim() === '') {
    throw new CoattailError('BAD_ARGUMENT', `--checkpoint-dir must name a folder or s3://bucket/prefix, got ${JSON.stringify(flags.checkpointDir)}`);
  }
  refuseFileAsFolder('--out', flags.out);
  if (flags.checkpoints) refuseFileAsFolder('--checkpoint-dir', flags.checkpointDir);
  if (flags.config !== undefined) refuseMissingConfig(flags.config);
  if (flags.restore !== undefined && !flags.checkpoints) throw new CoattailError('BAD_ARGUMENT', '--restore cannot be combined with --no-checkpoints');
  if (flags.allowNonRestoredState && flags.restore === undefined) throw new CoattailError('BAD_ARGUMENT', '--allow-non-restored-state applies to a --restore only');
  const intervalMs = parseDuration(flags.checkpointInterval, '--checkpoint-interval');
  if (intervalMs < 10) throw new CoattailError('BAD_ARGUMENT', '--checkpoint-interval must be at least 10ms');
  // Flags of another source than the one chosen would do nothing; say so rather than run without them.
  const scheme = sourceScheme(flags.source);
  if (flags.bounded && scheme !== 'kinesis') {
    throw new CoattailError('BAD_ARGUMENT', `--bounded applies to kinesis: sources only, not ${scheme}: (a file and generator:events=N end by themselves)`);
  }
  if (flags.speedGiven && scheme !== 'generator') {
    throw new CoattailError('BAD_ARGUMENT', `--speed paces the generator source only, not ${scheme}: (a file is read as fast as the job goes)`);
  }
  // One endpoint per service for every use in the run: checkpoints, tables, the source, --dlq and --alerts.
  await applyEndpointFlags(flags);
  const source = await resolveSource(flags.source, {
    speed: flags.speed,
    bounded: flags.bounded === true,
    ...(flags.kinesisEndpoint ? { kinesisEndpoint: flags.kinesisEndpoint } : {}),
  });
  const outputs: Record<string, string> = {};
  if (flags.dlq) {
    if (!flags.dlq.startsWith('kinesis:')) throw new CoattailError('BAD_ARGUMENT', `--dlq must be kinesis:<stream>, got "${flags.dlq}"`);
    // Checked here, so a bad stream name is one line before the run starts rather than a subtask's failure.
    (await import('../../connectors/sources/kinesis.js')).parseKinesisUri(flags.dlq);
    outputs.dlq = flags.dlq;
  }
  if (flags.alerts) {
    if (!flags.alerts.startsWith('dynamodb:')) throw new CoattailError('BAD_ARGUMENT', `--alerts must be dynamodb:<table>, got "${flags.alerts}"`);
    (await import('../../connectors/sinks/dynamodb-alerts.js')).parseAlertsTarget(flags.alerts);
    outputs.alerts = flags.alerts;
  }
  const controller = new AbortController();
  const stopListening = onStopSignals((signal) => {
    const again = signal === 'SIGINT' ? 'Ctrl-C again' : `${signal} again`;
    process.stderr.write(`\ncoattail: stopping on ${signal} (${again} to quit at once)\n`);
    controller.abort();
  });
  const interactive = process.stderr.isTTY === true;
  const showStatus = !flags.quiet && (!source.bounded || interactive);
  // On a terminal the status line is redrawn in place, below the alert lines that stdout prints meanwhile.
  const display = showStatus && interactive ? terminalStatus(process.stderr, process.stdout.isTTY ? process.stdout : undefined) : undefined;
  const onStatus = (status: RunStatus) => {
    const feeds = feedCountersOf(source);
    const line = feeds ? `${formatStatus(status)} | ${formatFeedStatus(feeds)}` : formatStatus(status);
    if (display) display.show(line);
    else process.stderr.write(`${line}\n`);
  };
  let done = false;
  try {
    const result = await runJob({
      jobFile,
      source,
      outDir: flags.out,
      format: flags.format,
      parallelism: flags.parallelism,
      maxParallelism: flags.maxParallelism,
      ...(flags.config ? { configPath: flags.config } : {}),
      outputs,
      codec: flags.codec as CodecName,
      ...(flags.preAggregate === false ? { preAggregate: false } : {}),
      ...(flags.decodeThreads ? { decodeThreads: flags.decodeThreads } : {}),
      signal: controller.signal,
      ...(flags.checkpoints
        ? {
            checkpoint: {
              location: flags.checkpointDir,
              intervalMs,
              retain: flags.retain,
              tolerableFailures: flags.tolerableFailedCheckpoints,
              ...(flags.s3Endpoint ? { s3Endpoint: flags.s3Endpoint } : {}),
            },
          }
        : {}),
      ...(flags.restore !== undefined ? { restore: flags.restore } : {}),
      ...(flags.allowNonRestoredState ? { allowNonRestoredState: true } : {}),
      ...(showStatus ? { onStatus, statusIntervalMs: interactive ? 1000 : 5000 } : {}),
    });
    display?.end();
    process.stdout.write(`${result.stopped ? 'stopped' : 'finished'} ${result.jobName}: ${JSON.stringify(result.summary)}\n`);
    process.stdout.write(`summary written to ${result.summaryPath}\n`);
    if (result.savepoint) {
      process.stdout.write(`savepoint chk-${result.savepoint.checkpointId} written to ${flags.checkpointDir}; resume with --restore chk-${result.savepoint.checkpointId}\n`);
    }
    done = true;
  } finally {
    display?.end();
    stopListening();
    // Summary (and savepoint) written: a stop signal from here to the process's exit ends it with status 0.
    if (done) endOnStopSignals();
  }
}

