// Tables written to S3 (s3rver): parts invisible until their checkpoint commits, idempotent commits, restores, CLI runs.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { commitPending, discardUncommitted, visiblePathOf } from '../../connectors/sinks/file-commit.js';
import { writeOutputFile } from '../../connectors/sinks/output-file.js';
import { s3ConnectionFor, s3PartStorage } from '../../connectors/sinks/s3-part-storage.js';
import { tableSink } from '../../connectors/sinks/table-sink.js';
import { CoattailError } from '../../runtime/errors.js';
import { startS3Server, type TestS3Server } from '../support/s3-server.js';
import { expectedJsonRow, sinkContext, tradeRows, tradesSchema } from './helpers.js';

const execFileAsync = promisify(execFile);
const REPOSITORY = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const NO_SUCH_FILE = path.join(os.tmpdir(), 'coattail-no-such-aws-file');

type Pending = { kind: string; table: string; files: { hidden: string; final: string; rows: number }[] };

let server: TestS3Server;
let runCount = 0;
const savedEnvironment = { ...process.env };

beforeAll(async () => {
  server = await startS3Server();
  // Keep the SDK away from this machine's AWS files; the fake credentials come from startS3Server.
  process.env.AWS_CONFIG_FILE = NO_SUCH_FILE;
  process.env.AWS_SHARED_CREDENTIALS_FILE = NO_SUCH_FILE;
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  delete process.env.AWS_PROFILE;
  delete process.env.AWS_ENDPOINT_URL;
  process.env.AWS_ENDPOINT_URL_S3 = server.endpoint;
});

afterAll(async () => {
  for (const name of Object.keys(process.env)) if (!(name in savedEnvironment)) delete process.env[name];
  Object.assign(process.env, savedEnvironment);
  await server?.stop();
});

/** A fresh prefix per test so tests never see each other's objects. */
function freshOutput(): { outDir: string; prefix: string } {
  const prefix = `tables/run-${++runCount}`;
  return { outDir: `s3://${server.bucket}/${prefix}`, prefix };
}

function client() {
  return s3ConnectionFor(server.endpoint).client;
}

/** Every key under `prefix/`, relative to it, sorted. */
async function listKeys(prefix: string): Promise<string[]> {
  const page = await client().send(new ListObjectsV2Command({ Bucket: server.bucket, Prefix: `${prefix}/` }));
  return (page.Contents ?? []).map((object) => object.Key!.slice(prefix.length + 1)).sort();
}

async function download(key: string): Promise<Uint8Array> {
  const response = await client().send(new GetObjectCommand({ Bucket: server.bucket, Key: key }));
  return response.Body!.transformToByteArray();
}

/** Records the names of the S3 commands the code under test sends while `body` runs (the client is shared). */
async function recordCommands(body: () => Promise<void>): Promise<string[]> {
  const sent: string[] = [];
  const name = `record-${++runCount}`;
  client().middlewareStack.add(
    (next, context) => (args) => {
      sent.push(String(context.commandName));
      return next(args);
    },
    { step: 'initialize', name },
  );
  try {
    await body();
  } finally {
    client().middlewareStack.remove(name);
  }
  return sent;
}

const isHiddenKey = (key: string): boolean => path.posix.basename(key).startsWith('.');

function writerFor(outDir: string, format: 'jsonl' | 'parquet', attemptId = 'a1', subtaskIndex = 0) {
  return tableSink(tradesSchema).create(sinkContext(outDir, format, { attemptId, subtaskIndex }));
}

/** The error a writer's creation fails with (creating one may return it or a promise of it). */
async function rejection(pending: unknown): Promise<CoattailError> {
  const error = await Promise.resolve(pending).then(() => undefined, (caught: unknown) => caught);
  expect(error).toBeInstanceOf(CoattailError);
  expect((error as Error).message).not.toContain('\n');
  return error as CoattailError;
}

/** Parquet rows as hyparquet gives them, made comparable with JSON Lines rows. */
function comparable(row: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(row).map(([name, value]) => [
      name,
      value instanceof Date ? value.toISOString() : typeof value === 'bigint' ? Number(value) : value,
    ]),
  );
}

const byEventId = (left: Record<string, unknown>, right: Record<string, unknown>): number =>
  String(left.event_id).localeCompare(String(right.event_id));

describe('tables on S3', () => {
  it('keeps JSON Lines parts invisible until their checkpoint commits, then shows exactly the rows', async () => {
    const { outDir, prefix } = freshOutput();
    const writer = await writerFor(outDir, 'jsonl');
    const rows = tradeRows(200);
    await writer.write(rows);
    expect(await listKeys(prefix)).toEqual([]);

    const pending = (await writer.prepareCommit(1)) as Pending;
    expect(pending.files).toHaveLength(1);
    const beforeCommit = await listKeys(prefix);
    expect(beforeCommit.length).toBeGreaterThan(0);
    expect(beforeCommit.every(isHiddenKey)).toBe(true);

    await writer.commit(pending);
    expect(await listKeys(prefix)).toEqual(pending.files.map((file) => file.final));
    const text = Buffer.from(await download(`${prefix}/${pending.files[0]!.final}`)).toString('utf8');
    const lines = text.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toEqual(rows.map(expectedJsonRow));

    // A second commit of the same pending, as a restore would send, changes nothing.
    await writer.commit(pending);
    await commitPending(s3PartStorage(outDir, { visiblePathOf }), pending);
    expect(await listKeys(prefix)).toEqual(pending.files.map((file) => file.final));
    expect(await writer.finish()).toBe(200);
  });

  it('writes Parquet parts per date partition that hyparquet reads back row for row', async () => {
    const { outDir, prefix } = freshOutput();
    const writer = await writerFor(outDir, 'parquet');
    const rows = tradeRows(300);
    await writer.write(rows);
    const pending = (await writer.prepareCommit(1)) as Pending;
    expect((await listKeys(prefix)).every(isHiddenKey)).toBe(true);
    await writer.commit(pending);

    const keys = await listKeys(prefix);
    expect(keys).toEqual(pending.files.map((file) => file.final).sort());
    expect(new Set(keys.map((key) => key.split('/')[1]))).toEqual(
      new Set(['date=2024-03-01', 'date=2024-03-02', 'date=2024-03-03']),
    );
    const readBack: Record<string, unknown>[] = [];
    for (const key of keys) {
      const bytes = await download(`${prefix}/${key}`);
      const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
      readBack.push(...((await parquetReadObjects({ file })) as Record<string, unknown>[]).map(comparable));
    }
    expect(readBack.sort(byEventId)).toEqual(rows.map(expectedJsonRow).sort(byEventId));
  });

  it('sends a large part as several upload parts and completes them into one object on commit', async () => {
    const { outDir, prefix } = freshOutput();
    const storage = s3PartStorage(outDir, { visiblePathOf, uploadPartBytes: 1024 });
    const hidden = 'big/.part-0-a1-00000.jsonl.inprogress';
    const chunks = [0, 1, 2, 3, 4].map((index) => Buffer.alloc(700, String.fromCharCode(97 + index)));
    await storage.write(hidden, chunks[0]!);
    for (const chunk of chunks.slice(1)) await storage.append(hidden, chunk);
    await storage.seal!(hidden);
    // Only the marker is there; it records the upload and its parts so another process can complete it.
    expect(await listKeys(prefix)).toEqual([hidden]);
    const marker = JSON.parse(Buffer.from(await download(`${prefix}/${hidden}`)).toString('utf8')) as { parts: unknown[] };
    expect(marker.parts.length).toBe(3);

    const fromAnotherProcess = s3PartStorage(outDir, { visiblePathOf });
    expect(await fromAnotherProcess.rename(hidden, 'big/part-0-a1-00000.jsonl')).toBe(true);
    expect(await listKeys(prefix)).toEqual(['big/part-0-a1-00000.jsonl']);
    expect(Buffer.from(await download(`${prefix}/big/part-0-a1-00000.jsonl`))).toEqual(Buffer.concat(chunks));
  });

  it('accepts a commit interrupted after the upload completed but before its marker was deleted', async () => {
    const { outDir, prefix } = freshOutput();
    const writer = await writerFor(outDir, 'jsonl');
    await writer.write(tradeRows(10));
    const pending = (await writer.prepareCommit(1)) as Pending;
    const markerKey = `${prefix}/${pending.files[0]!.hidden}`;
    const marker = await download(markerKey);
    await writer.commit(pending);
    // The marker comes back as if the process had died between CompleteMultipartUpload and DeleteObject.
    await client().send(new PutObjectCommand({ Bucket: server.bucket, Key: markerKey, Body: marker }));

    await commitPending(s3PartStorage(outDir, { visiblePathOf }), pending);
    expect(await listKeys(prefix)).toEqual([pending.files[0]!.final]);
  });

  it('fails a commit whose pending part is lost instead of pretending the table is whole', async () => {
    const { outDir, prefix } = freshOutput();
    const writer = await writerFor(outDir, 'jsonl');
    await writer.write(tradeRows(10));
    const pending = (await writer.prepareCommit(1)) as Pending;
    await client().send(new DeleteObjectCommand({ Bucket: server.bucket, Key: `${prefix}/${pending.files[0]!.hidden}` }));
    const error = await rejection(commitPending(s3PartStorage(outDir, { visiblePathOf }), pending));
    expect(error.code).toBe('SINK_FAILED');
    expect(await listKeys(prefix)).toEqual([]);
  });

  it('commits on restore the parts the checkpoint lists and discards the ones written after it', async () => {
    const { outDir, prefix } = freshOutput();
    const writer = await writerFor(outDir, 'parquet', 'first');
    await writer.write(tradeRows(30));
    const kept = JSON.parse(JSON.stringify(await writer.prepareCommit(1))) as Pending;
    await writer.write(tradeRows(20, 30));
    const later = (await writer.prepareCommit(2)) as Pending;
    await writer.write(tradeRows(10, 50));
    // The process dies here: no commit arrives. An object of somebody else must survive the clean-up.
    await client().send(new PutObjectCommand({ Bucket: server.bucket, Key: `${prefix}/whale_trades/.keep-me`, Body: 'not ours' }));
    expect(later.files.length).toBeGreaterThan(0);
    expect((await listKeys(prefix)).every(isHiddenKey)).toBe(true);

    const sent = await recordCommands(() => tableSink(tradesSchema).recover!({ outDir, format: 'parquet', ownAttempts: new Set(['first']) }, [kept]));
    // Parts of checkpoint 2 had their uploads started; those uploads are aborted (s3rver cannot, AWS does).
    expect(sent.filter((command) => command === 'AbortMultipartUploadCommand')).toHaveLength(later.files.length);
    expect(sent.filter((command) => command === 'CompleteMultipartUploadCommand')).toHaveLength(kept.files.length);
    const visible = kept.files.map((file) => file.final).sort();
    expect(await listKeys(prefix)).toEqual([...visible, 'whale_trades/.keep-me'].sort());
    expect(kept.files.reduce((sum, file) => sum + file.rows, 0)).toBe(30);
    // A second restore from the same checkpoint finds nothing left to do.
    expect(await discardUncommitted(outDir, ['whale_trades'], [kept], new Set(['first']))).toBe(0);
    await tableSink(tradesSchema).recover!({ outDir, format: 'parquet', ownAttempts: new Set(['first']) }, [kept]);
    expect(await listKeys(prefix)).toEqual([...visible, 'whale_trades/.keep-me'].sort());
  });

  it('leaves nothing behind when a writer aborts, and commits everything when it finishes', async () => {
    const { outDir, prefix } = freshOutput();
    const aborted = await writerFor(outDir, 'jsonl', 'aborted');
    await aborted.write(tradeRows(10));
    await aborted.abort();
    const finished = await writerFor(outDir, 'jsonl', 'finished');
    await finished.write(tradeRows(10));
    await finished.prepareCommit(1);
    await finished.write(tradeRows(5, 10));
    expect(await finished.finish()).toBe(15);
    const keys = await listKeys(prefix);
    expect(keys).toHaveLength(2);
    expect(keys.every((key) => key.startsWith('whale_trades/part-0-finished-'))).toBe(true);
  });

  it('reports an unreachable endpoint or a missing bucket in one line when the writer opens', async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as net.AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    process.env.AWS_ENDPOINT_URL_S3 = `http://127.0.0.1:${port}`;
    try {
      const unreachable = await rejection(writerFor(`s3://${server.bucket}/tables/nowhere`, 'jsonl'));
      expect(unreachable.code).toBe('ENDPOINT_UNREACHABLE');
      expect(unreachable.message).toContain(`127.0.0.1:${port}`);
      expect(unreachable.message).toContain('ECONNREFUSED');
    } finally {
      process.env.AWS_ENDPOINT_URL_S3 = server.endpoint;
    }
    const missing = await rejection(writerFor('s3://no-such-bucket/tables', 'parquet'));
    expect(missing.message).toContain('bucket "no-such-bucket" does not exist');
  });

  it('writes an output file such as the run summary to S3 or to a local folder and says where', async () => {
    const { outDir, prefix } = freshOutput();
    expect(await writeOutputFile(outDir, '_summary.json', '{"rows":1}\n')).toBe(`${outDir}/_summary.json`);
    expect(Buffer.from(await download(`${prefix}/_summary.json`)).toString('utf8')).toBe('{"rows":1}\n');

    const folder = await mkdtemp(path.join(os.tmpdir(), 'coattail-output-file-'));
    try {
      const written = await writeOutputFile(path.join(folder, 'out'), '_summary.json', '{"rows":2}\n');
      expect(written).toBe(path.join(folder, 'out', '_summary.json'));
      expect(await readFile(written, 'utf8')).toBe('{"rows":2}\n');
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
    await expect(writeOutputFile(outDir, '../escape.json', '{}')).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
  });
});

describe('coattail run with -o s3://', () => {
  it('writes every table of the Coat Tail job as Parquet objects holding the rows the summary counts', async () => {
    const folder = await mkdtemp(path.join(os.tmpdir(), 'coattail-s3-run-'));
    try {
      const cli = path.join(REPOSITORY, 'bin', 'coattail.js');
      const tape = path.join(folder, 'tape.jsonl');
      await execFileAsync(process.execPath, [cli, 'generate', '--events', '20000', '--seed', '3', '--out', tape], { cwd: folder });
      const environment = { ...process.env, AWS_ENDPOINT_URL_S3: server.endpoint };
      // Run from the temporary folder: anything the run writes locally stays there.
      const { stdout } = await execFileAsync(
        process.execPath,
        [cli, 'run', path.join(REPOSITORY, 'jobs', 'all.ts'), '-s', `file:${tape}`, '-o', `s3://${server.bucket}/out`,
          '-f', 'parquet', '-p', '2', '--no-checkpoints'],
        { cwd: folder, env: environment },
      );
      const summaryLine = stdout.split('\n').find((line) => line.startsWith('finished '))!;
      const summary = JSON.parse(summaryLine.slice(summaryLine.indexOf('{'))) as { rows: Record<string, number> };

      const keys = (await listKeys('out')).filter((key) => key.endsWith('.parquet'));
      expect((await listKeys('out')).filter((key) => key.includes('/') && isHiddenKey(key))).toEqual([]);
      const rowsPerTable: Record<string, number> = {};
      for (const key of keys) {
        const bytes = await download(`out/${key}`);
        const metadata = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
        const table = key.split('/')[0]!;
        rowsPerTable[table] = (rowsPerTable[table] ?? 0) + Number(metadata.num_rows);
      }
      expect(Object.keys(rowsPerTable).sort()).toEqual(['anomaly_alerts', 'dlq', 'exchange_spreads', 'volume_aggregates', 'whale_trades']);
      expect(rowsPerTable).toEqual(Object.fromEntries(Object.entries(summary.rows).filter(([, rows]) => rows > 0)));
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
});

describe('coattail run with -o s3:// and --s3-endpoint', () => {
  it('writes the tables through the endpoint given by the flag alone, subtask threads included', async () => {
    const folder = await mkdtemp(path.join(os.tmpdir(), 'coattail-s3-flag-'));
    try {
      const cli = path.join(REPOSITORY, 'bin', 'coattail.js');
      const tape = path.join(folder, 'tape.jsonl');
      await execFileAsync(process.execPath, [cli, 'generate', '--events', '3000', '--seed', '4', '--out', tape], { cwd: folder });
      // No endpoint variable: the subtasks that write the tables must learn the endpoint from the flag.
      const environment = { ...process.env };
      delete environment.AWS_ENDPOINT_URL_S3;
      delete environment.AWS_ENDPOINT_URL;
      const { stdout } = await execFileAsync(
        process.execPath,
        [cli, 'run', path.join(REPOSITORY, 'jobs', 'all.ts'), '-s', `file:${tape}`, '-o', `s3://${server.bucket}/flag-out`,
          '-f', 'jsonl', '-p', '2', '--no-checkpoints', '-q', '--s3-endpoint', server.endpoint],
        { cwd: folder, env: environment },
      );
      expect(stdout).toContain(`summary written to s3://${server.bucket}/flag-out/_summary.json`);
      const summary = JSON.parse(await readBody('flag-out/_summary.json')) as { rows: Record<string, number> };
      const keys = await listKeys('flag-out');
      let dlqRows = 0;
      for (const key of keys.filter((name) => name.startsWith('dlq/') && name.endsWith('.jsonl'))) {
        dlqRows += (await readBody(`flag-out/${key}`)).split('\n').filter((line) => line !== '').length;
      }
      expect(summary.rows.dlq).toBeGreaterThan(0);
      expect(dlqRows).toBe(summary.rows.dlq);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
});

async function readBody(key: string): Promise<string> {
  return Buffer.from(await download(key)).toString('utf8');
}
