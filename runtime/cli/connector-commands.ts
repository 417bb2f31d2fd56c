// `coattail alerts` (the hot store's access patterns) and `coattail produce` (the architecture's producer).

import { CoattailError } from '../errors.js';
import { checkedEndpointFlag } from './aws-endpoints.js';
import { onStopSignals } from './stop-signals.js';

export interface AlertsFlags {
  readonly table: string;
  readonly type?: string;
  readonly symbol?: string;
  readonly since?: string;
  readonly limit?: number;
  readonly endpoint?: string;
  /** `coattail run`'s spelling of `--endpoint`, accepted here too. */
  readonly dynamodbEndpoint?: string;
}

export async function alertsCommand(flags: AlertsFlags): Promise<void> {
  if (flags.endpoint) checkedEndpointFlag('--endpoint', flags.endpoint);
  if (flags.dynamodbEndpoint) checkedEndpointFlag('--dynamodb-endpoint', flags.dynamodbEndpoint);
  const { parseAlertsTarget } = await import('../../connectors/sinks/dynamodb-alerts.js');
  const { alertsReport } = await import('../../connectors/sources/dynamodb-alerts-query.js');
  const { table } = parseAlertsTarget(flags.table, '--table');
  const endpoint = flags.endpoint ?? flags.dynamodbEndpoint;
  if (flags.endpoint && flags.dynamodbEndpoint && flags.endpoint !== flags.dynamodbEndpoint) {
    throw new CoattailError('BAD_ARGUMENT', '--endpoint and --dynamodb-endpoint name different endpoints: give one');
  }
  const { plan, lines } = await alertsReport({
    table,
    ...(flags.type ? { type: flags.type } : {}),
    ...(flags.symbol ? { symbol: flags.symbol } : {}),
    ...(flags.since ? { since: flags.since } : {}),
    ...(flags.limit ? { limit: flags.limit } : {}),
    ...(endpoint ? { endpoint } : {}),
  });
  process.stderr.write(`${plan.description}\n`);
  process.stdout.write(lines.length > 0 ? `${lines.join('\n')}\n` : 'no alerts\n');
}

export interface ProduceFlags {
  readonly from: string;
  readonly to: string;
  readonly kinesisEndpoint?: string;
}

export async function produceCommand(flags: ProduceFlags): Promise<void> {
  if (flags.kinesisEndpoint) checkedEndpointFlag('--kinesis-endpoint', flags.kinesisEndpoint);
  const { parseFeedUri, produce, appendLinesToFile } = await import('../../connectors/sources/exchanges/index.js');
  const source = parseFeedUri(flags.from);
  const write = await writerFor(flags);
  const controller = new AbortController();
  const stopListening = onStopSignals(() => controller.abort());
  let lastPrinted = 0;
  let status;
  try {
    status = await produce({
      from: [source],
      to: write ?? appendLinesToFile(flags.to.slice('file:'.length)),
      signal: controller.signal,
      onStatus: (progress) => {
        if (Date.now() - lastPrinted < 5000) return;
        lastPrinted = Date.now();
        process.stderr.write(`produced ${JSON.stringify(progress)}\n`);
      },
    });
  } finally {
    stopListening();
  }
  process.stdout.write(`stopped: ${JSON.stringify(status)}\n`);
}

async function writerFor(flags: ProduceFlags): Promise<((lines: string[]) => Promise<void>) | undefined> {
  if (flags.to.startsWith('file:')) return undefined;
  if (!flags.to.startsWith('kinesis:')) throw new CoattailError('BAD_ARGUMENT', `--to must be kinesis:<stream> or file:<path>, got "${flags.to}"`);
  const { kinesisSinkFromUri } = await import('../../connectors/sinks/kinesis-sink.js');
  // Partition by symbol so each symbol's trades stay in order within one shard.
  const factory = kinesisSinkFromUri<string>(flags.to, (line) => /"symbol"\s*:\s*"([^"]*)"/.exec(line)?.[1] ?? 'unknown', {
    serialize: (line) => line,
    ...(flags.kinesisEndpoint ? { endpoint: flags.kinesisEndpoint } : {}),
  });
  const writer = await factory.create({ subtaskIndex: 0, parallelism: 1, attemptId: 'produce', outDir: '', format: 'jsonl' });
  let batch = 0;
  return async (lines) => {
    await writer.write(lines);
    await writer.prepareCommit(++batch);
  };
}
