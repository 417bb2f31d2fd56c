// The `coattail` command line: run jobs, generate tapes; every failure is one clear line on stderr.

import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { describeError, isCoattailError } from '../errors.js';
import { runCommand } from './run-command.js';

// The other commands load on use: `coattail run` starts its worker threads sooner without them.
const generate = () => import('./generate-command.js');
const connectors = () => import('./connector-commands.js');
const checkpointCommands = () => import('./checkpoints-command.js');

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('coattail')
    .description('A Flink-style stream processor for Node.js: run job files over trade streams')
    .version(packageVersion(), '-V, --version', 'print the version')
    .option('--verbose', 'print stack traces with errors')
    .showHelpAfterError(false)
    .exitOverride()
    // Commander's own error line is replaced by ours (one line); subcommands inherit this setting. Help that
    // commander shows on stderr (`coattail` or `coattail checkpoints` without a command) is still written.
    .configureOutput({ outputError: () => undefined });

  program
    .command('run')
    .description('run a job file (a .ts or .js file that default-exports defineJob(...))')
    .argument('<job-file>', 'the job file, e.g. jobs/all.ts')
    .option(
      '-s, --source <uri>',
      'generator (simulated live market) | generator:events=N,seed=S[,bad=R,rate=R,start=MS] | file:<path.jsonl[.gz]|dir> | kinesis:<stream>[?start=LATEST|TRIM_HORIZON|<time>] | binance:btcusdt,ethusdt | coinbase:BTC-USD | binance:...+coinbase:...',
      'generator',
    )
    .option('--bounded', 'kinesis: read what the stream holds now, then end (backfill)')
    .option('--kinesis-endpoint <url>', 'Kinesis endpoint for the source and --dlq (else AWS_ENDPOINT_URL_KINESIS / AWS_ENDPOINT_URL)')
    .option('--dlq <uri>', 'also send DLQ rows to kinesis:<stream>')
    .option('--alerts <uri>', 'also write alerts to the hot store dynamodb:<table> (created if absent)')
    .option('--dynamodb-endpoint <url>', 'DynamoDB endpoint for --alerts (else AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL)')
    .option('-o, --out <dir>', 'where tables and _summary.json go: a folder or s3://bucket/prefix', './out')
    .option('-f, --format <format>', 'parquet | jsonl', 'parquet')
    .option('-p, --parallelism <n>', 'parallel subtasks', positiveInt('--parallelism'), availableParallelism())
    .option('--max-parallelism <n>', 'key groups (fixed for the life of the state)', positiveInt('--max-parallelism'), 128)
    .option('-c, --config <file>', 'job configuration (features.yaml)')
    .option('--speed <factor>', 'generator pace multiplier for the simulated market', positiveNumber('--speed'), 1)
    .option('--decode-threads <n>', 'threads parsing input (default: the number of cores)', positiveInt('--decode-threads'))
    .option('--codec <codec>', 'batch encoding between threads: columnar | msgpack | structured-clone', 'columnar')
    .option('--no-pre-aggregate', 'send every record to its window; no per-chunk partials for aggregates with merge()')
    .option('-q, --quiet', 'no status line')
    .option('--checkpoint-dir <dir>', 'where checkpoints go: a folder or s3://bucket/prefix', './checkpoints')
    .option('--checkpoint-interval <duration>', 'time between checkpoints, e.g. 60s, 500ms', '60s')
    .option('--no-checkpoints', 'keep no checkpoints (no restore, no exactly-once after a crash)')
    .option('--retain <n>', 'completed checkpoints to keep', positiveInt('--retain'), 3)
    .option('--restore <checkpoint>', 'latest | chk-N | N | path to a chk-N folder')
    .option('--allow-non-restored-state', "with --restore: drop the checkpoint's state of steps this job no longer has (renamed or removed)")
    .option('--tolerable-failed-checkpoints <n>', 'consecutive checkpoint failures before the job fails', nonNegativeInt('--tolerable-failed-checkpoints'), 3)
    .option('--s3-endpoint <url>', 'S3-compatible endpoint for s3:// --out and --checkpoint-dir (else AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL)')
    .action(async (jobFile: string, options, command: Command) => {
      await runCommand(jobFile, { ...options, speedGiven: command.getOptionValueSource('speed') === 'cli', verbose: program.opts().verbose === true });
    });

  program
    .command('generate')
    .description('write a seeded synthetic trade tape (JSONL) with injected anomalies, duplicates and bad records')
    .requiredOption('--events <n>', 'records to write', positiveInt('--events'))
    .option('--seed <s>', 'random seed: the same seed gives the same tape', nonNegativeInt('--seed'), 1)
    .requiredOption('--out <file>', 'output file (.jsonl; gzipped when it ends in .gz)')
    .option('--bad-rate <share>', 'share of bad records, 0..0.5', '0.002')
    .option('--rate <n>', 'events per second of event time', positiveInt('--rate'), 1000)
    .option('--truth <file>', 'also write the injected ground truth as JSON')
    .action(async (options) => (await generate()).generateCommand(options));

  program
    .command('alerts')
    .description('read alerts back from the DynamoDB hot store, newest first')
    .option('--table <uri>', 'dynamodb:<table>', 'dynamodb:coattail-alerts')
    .option('--type <type>', 'volume_spike | whale | spread (uses type-time-index)')
    .option('--symbol <symbol>', 'e.g. BTC-USDT (uses symbol-time-index)')
    .option('--since <time>', 'ISO-8601 time or a duration back from now (30m, 1h, 2d); default 24h')
    .option('--limit <n>', 'at most this many (default 50)', positiveInt('--limit'))
    .option('--endpoint <url>', 'DynamoDB endpoint (else AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL)')
    .option('--dynamodb-endpoint <url>', 'the same as --endpoint (as coattail run spells it)')
    .action(async (options) => (await connectors()).alertsCommand(options));

  program
    .command('produce')
    .description('the producer: read exchange feeds and forward normalized trades to Kinesis or a file')
    .requiredOption('--from <feeds>', 'binance:btcusdt,ethusdt | coinbase:BTC-USD | both joined with +')
    .requiredOption('--to <target>', 'kinesis:<stream> | file:<path.jsonl>')
    .option('--kinesis-endpoint <url>', 'Kinesis endpoint (else AWS_ENDPOINT_URL_KINESIS / AWS_ENDPOINT_URL)')
    .action(async (options) => (await connectors()).produceCommand(options));

  const checkpointsCommand = program.command('checkpoints').description('list and inspect checkpoints');
  checkpointsCommand
    .command('list')
    .description('the checkpoints in a folder or s3://bucket/prefix')
    .argument('<dir>', 'checkpoint location')
    .option('--s3-endpoint <url>', 'S3-compatible endpoint')
    .action(async (dir: string, options: { s3Endpoint?: string }) => (await checkpointCommands()).listCheckpoints(dir, options.s3Endpoint));
  checkpointsCommand
    .command('inspect')
    .description('one checkpoint in detail: time, size, source offsets, operators, key groups')
    .argument('<dir>', 'checkpoint location')
    .argument('<id>', 'chk-N or N')
    .option('--s3-endpoint <url>', 'S3-compatible endpoint')
    .action(async (dir: string, id: string, options: { s3Endpoint?: string }) =>
      (await checkpointCommands()).inspectCheckpoint(dir, id, options.s3Endpoint),
    );

  return program;
}

/** The version in coattail's package.json: three folders up from dist/runtime/cli/, two from runtime/cli/ in tests. */
function packageVersion(): string {
  const load = createRequire(import.meta.url);
  for (const path of ['../../../package.json', '../../package.json']) {
    try {
      const manifest = load(path) as { name?: string; version?: string };
      if (manifest.name === 'coattail' && manifest.version) return manifest.version;
    } catch {
      // Not at this depth.
    }
  }
  return 'unknown';
}

/**
 * Decimal digits only: `Number()` alone also takes "1e1", "0x2" and " 2", which a typo should not turn into a
 * parallelism of 10.
 */
function wholeNumber(value: string): number {
  return /^[0-9]+$/.test(value) ? Number(value) : Number.NaN;
}

function positiveInt(flag: string) {
  return (value: string): number => {
    const parsed = wholeNumber(value);
    if (!Number.isSafeInteger(parsed) || parsed < 1) throw new InvalidArgumentError(`${flag} must be a whole number >= 1, got "${value}"`);
    return parsed;
  };
}

function nonNegativeInt(flag: string) {
  return (value: string): number => {
    const parsed = wholeNumber(value);
    if (!Number.isSafeInteger(parsed) || parsed < 0) throw new InvalidArgumentError(`${flag} must be a whole number >= 0, got "${value}"`);
    return parsed;
  };
}

function positiveNumber(flag: string) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || parsed <= 0) throw new InvalidArgumentError(`${flag} must be a number > 0, got "${value}"`);
    return parsed;
  };
}

export async function main(argv: string[]): Promise<number> {
  // A reader that goes away (`| head`) is not an error worth a stack trace.
  for (const stream of [process.stdout, process.stderr]) {
    // Node pipes every worker thread's stdout and stderr into these (an 'error' listener each), and subtask threads
    // start before this runs: at -p 10 or more, one listener more printed a MaxListenersExceededWarning on stderr.
    stream.setMaxListeners(0);
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    });
  }
  const program = buildProgram();
  const verbose = argv.includes('--verbose');
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.exitCode === 0) return 0;
      // A command was needed: the help listing them is already on stderr.
      if (error.code === 'commander.help') return 2;
      process.stderr.write(`coattail: ${error.message.replace(/^error: /, '')}\n`);
      return 2;
    }
    process.stderr.write(`coattail: ${describeError(error)}\n`);
    if (verbose && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    return isCoattailError(error) && error.code === 'BAD_ARGUMENT' ? 2 : 1;
  }
}
