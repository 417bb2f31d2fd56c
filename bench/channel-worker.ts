// A thread of the channel benchmark: the sender encodes batches and posts them under a credit window, the
// receiver decodes each batch, touches every record and returns one credit, as the engine's channels do.

import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { createCodec } from '../runtime/transport/record-codec.js';
import { decodeTrades, encodeTrades, type TradeRecord } from './columnar-codec.js';
import { trades } from './generate-trades.js';
import { threadCpuNanos } from './process-sampler.js';

/** `columnar`: the engine's default codec (columns by record shape); `trade-layout`: a hand-written layout for this one schema. */
export type Encoding = 'msgpack' | 'structured-clone' | 'postMessage' | 'columnar' | 'trade-layout';

export interface RunRequest {
  readonly type: 'run';
  readonly encoding: Encoding;
  readonly batchSize: number;
  readonly total: number;
  readonly credits: number;
}

/** Per (encoding, batch size): this thread's CPU time over whole runs, records and bytes moved. */
export interface StageStats {
  cpuNanos: number;
  records: number;
  bytes: number;
}

type Batch = { readonly type: 'batch'; readonly encoding: Encoding; readonly batchSize: number; readonly first: boolean; readonly last: boolean; readonly payload: unknown };

const msgpack = createCodec('msgpack');
const structuredClone = createCodec('structured-clone');
const columnar = createCodec('columnar');
const stats = new Map<string, StageStats>();

function entry(key: string): StageStats {
  let found = stats.get(key);
  if (!found) stats.set(key, (found = { cpuNanos: 0, records: 0, bytes: 0 }));
  return found;
}

/** The parsed trades the benchmark jobs send to subtasks, with epoch-millisecond times. */
export function sampleTrades(count: number): TradeRecord[] {
  const result: TradeRecord[] = [];
  for (const trade of trades(count, 7)) {
    result.push({ ...trade, timestamp: Date.parse(trade.timestamp), ingestion_timestamp: Date.parse(trade.ingestion_timestamp) });
  }
  return result;
}

export function encode(encoding: Encoding, records: TradeRecord[]): { payload: unknown; transfer: ArrayBuffer[]; bytes: number } {
  switch (encoding) {
    case 'msgpack':
    case 'structured-clone':
    case 'columnar': {
      const bytes = (encoding === 'msgpack' ? msgpack : encoding === 'columnar' ? columnar : structuredClone).encode(records);
      return { payload: bytes, transfer: [bytes.buffer as ArrayBuffer], bytes: bytes.byteLength };
    }
    case 'trade-layout': {
      const buffer = encodeTrades(records);
      return { payload: buffer, transfer: [buffer], bytes: buffer.byteLength };
    }
    case 'postMessage':
      return { payload: records, transfer: [], bytes: 0 };
  }
}

export function decode(encoding: Encoding, payload: unknown): TradeRecord[] {
  switch (encoding) {
    case 'msgpack':
      return msgpack.decode(payload as Uint8Array) as TradeRecord[];
    case 'structured-clone':
      return structuredClone.decode(payload as Uint8Array) as TradeRecord[];
    case 'columnar':
      return columnar.decode(payload as Uint8Array) as TradeRecord[];
    case 'trade-layout':
      return decodeTrades(payload as ArrayBuffer);
    case 'postMessage':
      return payload as TradeRecord[];
  }
}

function runSender(control: MessagePort, channel: MessagePort): void {
  const pool = sampleTrades((workerData as { poolSize: number }).poolSize);
  let credits = 0;
  let wake: (() => void) | undefined;
  channel.on('message', () => {
    credits++;
    wake?.();
  });
  control.on('message', async (message: RunRequest | { type: 'stats' }) => {
    if (message.type === 'stats') return control.postMessage(Object.fromEntries(stats));
    credits = message.credits;
    const caseStats = entry(`${message.encoding}/${message.batchSize}`);
    const cpuBefore = threadCpuNanos();
    for (let sent = 0; sent < message.total; sent += message.batchSize) {
      while (credits === 0) await new Promise<void>((resolve) => (wake = resolve));
      credits--;
      const start = sent % pool.length;
      const records = pool.slice(start, start + message.batchSize);
      const { payload, transfer, bytes } = encode(message.encoding, records);
      caseStats.records += records.length;
      caseStats.bytes += bytes;
      const batch: Batch = { type: 'batch', encoding: message.encoding, batchSize: message.batchSize, first: sent === 0, last: sent + message.batchSize >= message.total, payload };
      channel.postMessage(batch, transfer);
    }
    caseStats.cpuNanos += threadCpuNanos() - cpuBefore;
  });
}

function runReceiver(control: MessagePort, channel: MessagePort): void {
  let checksum = 0;
  let cpuBefore = 0;
  channel.on('message', (batch: Batch) => {
    // Taken after the first batch arrived: its deserialization is not counted, a batch's worth of error.
    if (batch.first) cpuBefore = threadCpuNanos();
    const records = decode(batch.encoding, batch.payload);
    for (let i = 0; i < records.length; i++) checksum += records[i]!.price + records[i]!.symbol.length;
    channel.postMessage('credit');
    const caseStats = entry(`${batch.encoding}/${batch.batchSize}`);
    caseStats.records += records.length;
    if (batch.last) {
      caseStats.cpuNanos += threadCpuNanos() - cpuBefore;
      control.postMessage({ type: 'done', checksum });
    }
  });
  control.on('message', () => control.postMessage(Object.fromEntries(stats)));
}

if (parentPort) {
  const { role, channel } = workerData as { role: 'sender' | 'receiver'; channel: MessagePort };
  if (role === 'sender') runSender(parentPort, channel);
  else runReceiver(parentPort, channel);
}
