// Micro-benchmark (benny): trades per second moved between two worker threads, by batch size and encoding,
// with transfer lists and a credit window like the engine's channels. Writes bench/results/channel-throughput.md.

import { add, complete, configure, cycle, suite } from 'benny';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel, Worker } from 'node:worker_threads';
import { decode, encode, sampleTrades, type Encoding, type RunRequest, type StageStats } from './channel-worker.js';
import { REPO_ROOT } from './run-process.js';

/** Records moved per benchmark operation: ops/s × this = records/s. */
const RECORDS_PER_OP = 65_536;
/** The engine's default credits per channel (coordinator → subtask). */
const CREDITS = 4;
export const BATCH_SIZES = [256, 1024, 4096] as const;
export const ENCODINGS: readonly Encoding[] = ['msgpack', 'structured-clone', 'postMessage', 'columnar', 'trade-layout'];

interface Pair {
  readonly sender: Worker;
  readonly receiver: Worker;
  run(encoding: Encoding, batchSize: number): Promise<void>;
  stats(worker: Worker): Promise<Record<string, StageStats>>;
  close(): Promise<void>;
}

function startPair(): Pair {
  const script = fileURLToPath(new URL('./channel-worker.js', import.meta.url));
  const { port1, port2 } = new MessageChannel();
  const sender = new Worker(script, { workerData: { role: 'sender', channel: port1, poolSize: RECORDS_PER_OP }, transferList: [port1] });
  const receiver = new Worker(script, { workerData: { role: 'receiver', channel: port2 }, transferList: [port2] });
  let finished: (() => void) | undefined;
  let queue: Promise<void> = Promise.resolve();
  receiver.on('message', (message: { type?: string }) => {
    if (message.type === 'done') finished?.();
  });
  const failed = (error: Error) => {
    throw error;
  };
  sender.on('error', failed);
  receiver.on('error', failed);
  return {
    sender,
    receiver,
    // benny calls each case once while preparing the suite, all at once: runs queue up, one at a time.
    run(encoding, batchSize) {
      const next = queue.then(
        () =>
          new Promise<void>((resolveRun) => {
            finished = resolveRun;
            const request: RunRequest = { type: 'run', encoding, batchSize, total: RECORDS_PER_OP, credits: CREDITS };
            sender.postMessage(request);
          }),
      );
      queue = next;
      return next;
    },
    stats(worker) {
      return new Promise((resolveStats) => {
        const onMessage = (message: Record<string, StageStats> & { type?: string }) => {
          if (message.type === 'done') return;
          worker.off('message', onMessage);
          resolveStats(message);
        };
        worker.on('message', onMessage);
        worker.postMessage({ type: 'stats' });
      });
    },
    async close() {
      await Promise.all([sender.terminate(), receiver.terminate()]);
    },
  };
}

/** Every encoding must give back what it was given before its speed means anything. */
function checkRoundTrips(): void {
  const records = sampleTrades(300);
  const expected = JSON.stringify(records);
  for (const encoding of ENCODINGS) {
    const { payload } = encode(encoding, records);
    const actual = JSON.stringify(decode(encoding, payload instanceof Uint8Array ? new Uint8Array(payload) : payload));
    if (actual !== expected) throw new Error(`${encoding} does not round-trip the trade schema`);
  }
}

interface CaseSummary {
  readonly name: string;
  readonly ops: number;
  readonly margin: number;
}

export async function runChannelThroughput(markdownPath = join(REPO_ROOT, 'bench', 'results', 'channel-throughput.md')): Promise<string> {
  checkRoundTrips();
  const pair = startPair();
  const loadBefore = loadavg()[0]!;
  const cases = ENCODINGS.flatMap((encoding) =>
    BATCH_SIZES.map((batchSize) => add(`${encoding} batch ${batchSize}`, async () => pair.run(encoding, batchSize))),
  );
  let results: CaseSummary[] = [];
  try {
    await suite(
      `Channel throughput: ${RECORDS_PER_OP} trades per op between two worker threads, ${CREDITS} credits`,
      configure({ cases: { minSamples: 5, maxTime: 2 } }),
      ...cases,
      cycle(),
      complete(),
      complete((summary) => {
        results = summary.results.map((r) => ({ name: r.name, ops: r.ops, margin: r.margin }));
      }),
    );
    const sent = await pair.stats(pair.sender);
    const received = await pair.stats(pair.receiver);
    const markdown = render(results, sent, received, loadBefore, loadavg()[0]!);
    mkdirSync(resolve(markdownPath, '..'), { recursive: true });
    writeFileSync(markdownPath, markdown);
    return markdown;
  } finally {
    await pair.close();
  }
}

function render(results: CaseSummary[], sent: Record<string, StageStats>, received: Record<string, StageStats>, loadBefore: number, loadAfter: number): string {
  const baseline = new Map<number, number>();
  for (const r of results) if (r.name.startsWith('msgpack ')) baseline.set(Number(r.name.split(' ').pop()), r.ops);
  const rows = results.map((r) => {
    const [encoding, , size] = r.name.split(' ');
    const key = `${encoding}/${size}`;
    const encodeStats = sent[key];
    const decodeStats = received[key];
    const perRecord = (value: number, records: number) => (records ? (value / records).toFixed(0) : '–');
    const recordsPerSecond = r.ops * RECORDS_PER_OP;
    return (
      `| ${encoding} | ${size} | ${Math.round(recordsPerSecond).toLocaleString('en-US')} | ±${r.margin.toFixed(1)}% | ` +
      `${(r.ops / baseline.get(Number(size))!).toFixed(2)}x | ${encodeStats?.bytes ? perRecord(encodeStats.bytes, encodeStats.records) : '–'} | ` +
      `${perRecord(encodeStats?.cpuNanos ?? 0, encodeStats?.records ?? 0)} | ${perRecord(decodeStats?.cpuNanos ?? 0, decodeStats?.records ?? 0)} |`
    );
  });
  return [
    '# Channel throughput',
    '',
    `${new Date().toISOString().slice(0, 10)} · ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown cpu'}) · Node ${process.version} · ` +
      `load average ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after`,
    '',
    `Parsed trades (9 fields, epoch-ms times) from a sender thread to a receiver thread; ${CREDITS} credits per channel; ` +
      `buffers moved with transfer lists. The receiver decodes each batch and reads every record.`,
    '',
    '| encoding | batch | records/s | margin | × msgpack | bytes/record | sender CPU ns/record | receiver CPU ns/record |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
    '',
    'CPU ns/record: CPU time of the sender thread (slice, encode, postMessage) and of the receiver thread (decode, ' +
      'read, credit) from /proc/thread-self/schedstat over every run benny made, per record. Unlike records/s it does ' +
      'not suffer from other load on the machine; 1e9 / the larger of the two is what one channel can carry on idle cores.',
    '',
  ].join('\n');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runChannelThroughput()
    .then((markdown) => process.stdout.write('\n' + markdown))
    .catch((error: unknown) => {
      process.stderr.write(`channel-throughput: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    });
}
