// What a new user meets first: `coattail` without a command, and flags whose value is empty.

import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ROOT, ensureBuilt, runCli } from './engine-cli-support.js';

const ALL_JOB = join(ROOT, 'jobs', 'all.ts');

let work: string;
beforeAll(() => ensureBuilt());
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'coattail-cli-usage-'));
});
afterEach(() => {
  rmSync(work, { recursive: true, force: true });
});

/** A few valid trades, so a run that wrongly goes ahead ends by itself. */
function smallTape(): string {
  const file = join(work, 'tape.jsonl');
  const lines = [0, 1, 2].map((i) =>
    JSON.stringify({ event_id: `e${i}`, exchange: 'binance', symbol: 'BTC-USDT', price: 100, quantity: 1, side: 'buy', timestamp: 1_700_000_000_000 + i }),
  );
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

describe('coattail without a command', () => {
  it('shows the usage with the list of commands on stderr and exits non-zero', async () => {
    const result = await runCli([], { cwd: work });
    expect(result.timedOut).toBe(false);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('Usage: coattail');
    expect(result.stderr).toContain('run [options] <job-file>');
    expect(result.stderr).not.toContain('(outputHelp)');
  });

  it('does the same for `coattail checkpoints`, a command that needs a subcommand', async () => {
    const result = await runCli(['checkpoints'], { cwd: work });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('Usage: coattail checkpoints');
    expect(result.stderr).toContain('list [options] <dir>');
    expect(result.stderr).not.toContain('(outputHelp)');
  });

  it('still reports a bad flag as one line, without the help', async () => {
    const result = await runCli(['run', ALL_JOB, '-p', 'abc'], { cwd: work });
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^coattail: .*--parallelism must be a whole number >= 1, got "abc"/);
  });

  it('takes whole numbers in decimal digits only (no 1e1, 0x2 or padded values)', async () => {
    for (const value of ['1e1', '0x2', ' 2', '2.0']) {
      const result = await runCli(['run', ALL_JOB, '-p', value], { cwd: work });
      expect(result.code, value).toBe(2);
      expect(result.stderr).toContain(`--parallelism must be a whole number >= 1, got "${value}"`);
    }
  });

  it('prints its version with --version and -V', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const result = await runCli([flag], { cwd: work });
      expect(result.code).toBe(0);
      expect(result.stdout.trim()).toBe(version);
    }
  });
});

describe('other commands', () => {
  it('checkpoints list and inspect of a local folder that does not exist fail in one line (a typo, not a job without checkpoints)', async () => {
    const missing = join(work, 'no-such-folder');
    for (const command of [['list', missing], ['inspect', missing, '1']]) {
      const result = await runCli(['checkpoints', ...command], { cwd: work });
      expect(result.code, command[0]).toBe(1);
      expect(result.stderr.trim()).toBe(`coattail: no checkpoint folder at ${missing}`);
    }
  });

  it('alerts takes --dynamodb-endpoint, the spelling of coattail run, as --endpoint', async () => {
    const result = await runCli(['alerts', '--endpoint', 'http://127.0.0.1:1', '--dynamodb-endpoint', 'http://127.0.0.1:2'], { cwd: work });
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe('coattail: --endpoint and --dynamodb-endpoint name different endpoints: give one');
  });

  it('a bad endpoint flag of coattail run is a usage error naming the flag (docs/storage.md quotes it)', async () => {
    const tape = smallTape();
    for (const [flag, value] of [['--s3-endpoint', 'localhost:9000'], ['--kinesis-endpoint', 'ftp://host'], ['--dynamodb-endpoint', 'not a url']]) {
      const result = await runCli(['run', ALL_JOB, '-s', `file:${tape}`, '-o', join(work, 'out'), '--no-checkpoints', flag!, value!], { cwd: work });
      expect(result.code, flag).toBe(2);
      expect(result.stderr.trim()).toBe(`coattail: ${flag} must be an http:// or https:// URL, got "${value}"`);
    }
    expect(readdirSync(work).sort()).toEqual(['tape.jsonl']);
  });

  it('so is a bad endpoint flag of alerts and produce, before anything connects (it was a configuration error, exit 1)', async () => {
    const alerts = await runCli(['alerts', '--endpoint', 'localhost:8000'], { cwd: work });
    expect(alerts.code).toBe(2);
    expect(alerts.stderr.trim()).toBe('coattail: --endpoint must be an http:// or https:// URL, got "localhost:8000"');
    const spelledAsRun = await runCli(['alerts', '--dynamodb-endpoint', 'dynamodb.local'], { cwd: work });
    expect(spelledAsRun.code).toBe(2);
    expect(spelledAsRun.stderr.trim()).toBe('coattail: --dynamodb-endpoint must be an http:// or https:// URL, got "dynamodb.local"');
    // The user:password part of an endpoint is not printed.
    const produce = await runCli(['produce', '--from', 'binance:btcusdt', '--to', 'kinesis:trades', '--kinesis-endpoint', 'ftp://user:secret@host'], { cwd: work });
    expect(produce.code).toBe(2);
    expect(produce.stderr.trim()).toBe('coattail: --kinesis-endpoint must be an http:// or https:// URL, got "ftp://host"');
  });
});

describe('empty folder flags', () => {
  it('-o "" is refused instead of writing the tables into the current directory', async () => {
    const tape = smallTape();
    const result = await runCli(['run', ALL_JOB, '-s', `file:${tape}`, '-o', '', '--no-checkpoints', '-p', '1'], { cwd: work });
    expect(result.timedOut).toBe(false);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe('coattail: --out must name a folder or s3://bucket/prefix, got ""');
    expect(readdirSync(work).sort()).toEqual(['tape.jsonl']);
  });

  it('--checkpoint-dir "" is refused instead of checkpointing into the current directory', async () => {
    const tape = smallTape();
    const result = await runCli(['run', ALL_JOB, '-s', `file:${tape}`, '-o', join(work, 'out'), '--checkpoint-dir', '', '-p', '1'], { cwd: work });
    expect(result.timedOut).toBe(false);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe('coattail: --checkpoint-dir must name a folder or s3://bucket/prefix, got ""');
    expect(readdirSync(work).sort()).toEqual(['tape.jsonl']);
  });

  it('-o or --checkpoint-dir naming a file is one line before the run, not a failure at every write', async () => {
    const tape = smallTape();
    const file = join(work, 'a-file');
    writeFileSync(file, 'not a folder');
    const asCheckpoints = await runCli(['run', ALL_JOB, '-s', `file:${tape}`, '-o', join(work, 'out'), '--checkpoint-dir', file, '-p', '1'], { cwd: work });
    expect(asCheckpoints.code).toBe(2);
    expect(asCheckpoints.stderr.trim()).toBe(`coattail: --checkpoint-dir must be a folder, but ${file} is a file`);
    const asOut = await runCli(['run', ALL_JOB, '-s', `file:${tape}`, '-o', file, '--no-checkpoints', '-p', '1'], { cwd: work });
    expect(asOut.code).toBe(2);
    expect(asOut.stderr.trim()).toBe(`coattail: --out must be a folder, but ${file} is a file`);
    expect(readdirSync(work).sort()).toEqual(['a-file', 'tape.jsonl']);
  });

  it('says in one line that a second run into the same -o adds to the earlier tables', async () => {
    const tape = smallTape();
    const out = join(work, 'out');
    const args = ['run', ALL_JOB, '-s', `file:${tape}`, '-o', out, '-f', 'jsonl', '--no-checkpoints', '-p', '1', '-q'];
    const first = await runCli(args, { cwd: work });
    expect(first.code).toBe(0);
    expect(first.stderr).toBe('');
    const second = await runCli(args, { cwd: work });
    expect(second.code).toBe(0);
    expect(second.stderr.trim()).toBe(
      `coattail: ${out} holds an earlier run's tables: this run adds its files beside them and replaces _summary.json (use another -o to keep results apart)`,
    );
    // Both runs' rows are there (one 60 s window each): the tables append, as Flink's file sink does.
    const folder = join(out, 'volume_aggregates');
    const rows = readdirSync(folder)
      .filter((name) => name.endsWith('.jsonl'))
      .flatMap((name) => readFileSync(join(folder, name), 'utf8').trim().split('\n'));
    expect(rows).toHaveLength(2);
  });

  it('fails at start, in one line, when the checkpoint storage cannot be reached or made (it hung, or failed later)', async () => {
    const tape = smallTape();
    const out = join(work, 'out');
    const unreachable = await runCli(
      ['run', ALL_JOB, '-s', `file:${tape}`, '-o', out, '-f', 'jsonl', '-p', '2', '--checkpoint-dir', 's3://no-bucket/checkpoints', '--s3-endpoint', 'http://127.0.0.1:1'],
      { cwd: work, env: { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: 'us-east-1' } },
    );
    expect(unreachable.timedOut).toBe(false);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr.trim()).toBe('coattail: Cannot list s3://no-bucket/checkpoints/: cannot reach http://127.0.0.1:1 (connection refused, ECONNREFUSED)');
    const file = join(work, 'a-file');
    writeFileSync(file, 'not a folder');
    const underFile = await runCli(['run', ALL_JOB, '-s', `file:${tape}`, '-o', out, '-f', 'jsonl', '-p', '1', '--checkpoint-dir', join(file, 'checkpoints')], { cwd: work });
    expect(underFile.code).toBe(1);
    expect(underFile.stderr.trim().split('\n')).toHaveLength(1);
    expect(underFile.stderr).toContain('ENOTDIR');
  });

  it('generate --truth into a folder that does not exist fails in one line before writing the tape', async () => {
    const tape = join(work, 'tape-with-truth.jsonl');
    const truth = join(work, 'missing', 'truth.json');
    const result = await runCli(['generate', '--events', '5', '--out', tape, '--truth', truth], { cwd: work });
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(`coattail: cannot write the ground truth to ${truth}: ${join(work, 'missing')} is not a folder`);
    expect(readdirSync(work)).not.toContain('tape-with-truth.jsonl');
    const written = await runCli(['generate', '--events', '5', '--out', tape, '--truth', join(work, 'truth.json')], { cwd: work });
    expect(written.code).toBe(0);
    expect(JSON.parse(readFileSync(join(work, 'truth.json'), 'utf8'))).toBeTypeOf('object');
  });

  it('refuses --bounded and --speed with a source they do nothing for, in one line', async () => {
    const tape = smallTape();
    const out = join(work, 'out');
    const bounded = await runCli(['run', ALL_JOB, '-s', `file:${tape}`, '--bounded', '-o', out, '--no-checkpoints', '-p', '1'], { cwd: work });
    expect(bounded.code).toBe(2);
    expect(bounded.stderr.trim()).toBe('coattail: --bounded applies to kinesis: sources only, not file: (a file and generator:events=N end by themselves)');
    const speed = await runCli(['run', ALL_JOB, '-s', `file:${tape}`, '--speed', '10', '-o', out, '--no-checkpoints', '-p', '1'], { cwd: work });
    expect(speed.code).toBe(2);
    expect(speed.stderr.trim()).toBe('coattail: --speed paces the generator source only, not file: (a file is read as fast as the job goes)');
    expect(readdirSync(work).sort()).toEqual(['tape.jsonl']);
    // The generator takes --speed; its default value alone is not "given".
    const paced = await runCli(['run', ALL_JOB, '-s', 'generator:events=5,seed=1', '--speed', '1000', '-o', out, '-f', 'jsonl', '--no-checkpoints', '-p', '1', '-q'], { cwd: work });
    expect(paced.stderr).toBe('');
    expect(paced.code).toBe(0);
    const plain = await runCli(['run', ALL_JOB, '-s', `file:${tape}`, '-o', out, '-f', 'jsonl', '--no-checkpoints', '-p', '1', '-q'], { cwd: work });
    expect(plain.code).toBe(0);
  });
});

describe('--max-parallelism', () => {
  it('is refused above 32768 key groups, as Flink bounds it, in one line before anything runs', async () => {
    const tape = smallTape();
    const out = join(work, 'out');
    const tooMany = await runCli(['run', ALL_JOB, '-s', `file:${tape}`, '--max-parallelism', '32769', '-o', out, '--no-checkpoints', '-p', '1'], { cwd: work });
    expect(tooMany.code).toBe(2);
    expect(tooMany.stderr.trim()).toBe('coattail: --max-parallelism must be at most 32768, got 32769');
    expect(readdirSync(work).sort()).toEqual(['tape.jsonl']);
    const most = await runCli(['run', ALL_JOB, '-s', `file:${tape}`, '--max-parallelism', '32768', '-o', out, '-f', 'jsonl', '--no-checkpoints', '-p', '2', '-q'], { cwd: work });
    expect(most.stderr).toBe('');
    expect(most.code).toBe(0);
  });
});

describe('-c naming no configuration file', () => {
  /** A job of the user's that never reads its configuration: the CLI alone must notice a wrong -c. */
  function jobWithoutConfig(): string {
    const file = join(work, 'lengths.ts');
    writeFileSync(file, [
      "import { defineJob, stdoutSink } from 'coattail';",
      "export default defineJob('lengths', (env) => {",
      "  env.source('trades').map('length', (raw: { text: string }) => raw.text.length).sinkTo('lengths', stdoutSink('lengths'));",
      '});',
    ].join('\n'));
    return file;
  }

  it('a missing -c file is one line and a non-zero exit, also for a job that does not read its configuration', async () => {
    const tape = smallTape();
    const missing = join(work, 'no-such.yaml');
    for (const job of [jobWithoutConfig(), ALL_JOB]) {
      const result = await runCli(['run', job, '-s', `file:${tape}`, '-o', join(work, 'out'), '-c', missing, '--no-checkpoints', '-p', '1', '-q'], { cwd: work });
      expect(result.timedOut).toBe(false);
      expect(result.code, job).toBe(1);
      expect(result.stderr.trim()).toBe(`coattail: config file not found: ${missing}`);
    }
    expect(readdirSync(work)).not.toContain('out');
  });

  it('-c naming a folder says so in one line rather than calling it invalid YAML', async () => {
    const tape = smallTape();
    const result = await runCli(['run', ALL_JOB, '-s', `file:${tape}`, '-o', join(work, 'out'), '-c', work, '--no-checkpoints', '-p', '1', '-q'], { cwd: work });
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(`coattail: --config must be a file, but ${work} is a folder`);
  });
});

describe('a run with many threads', () => {
  it('prints nothing on stderr at -p 12 (no listener-leak warning for the threads piped into stdout and stderr)', async () => {
    const tape = smallTape();
    const result = await runCli(['run', ALL_JOB, '-s', `file:${tape}`, '-o', join(work, 'out'), '-f', 'jsonl', '-p', '12', '--no-checkpoints', '-q'], { cwd: work });
    expect(result.timedOut).toBe(false);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toBe('');
  });
});

describe('a checkpoint interval beyond what a Node timer holds', () => {
  it('--checkpoint-interval 30d runs without a TimeoutOverflowWarning (a timer over 2^31-1 ms fires after 1 ms)', async () => {
    const tape = smallTape();
    const args = ['run', ALL_JOB, '-s', `file:${tape}`, '-o', join(work, 'out'), '-f', 'jsonl', '-p', '1', '-q'];
    const result = await runCli([...args, '--checkpoint-dir', join(work, 'checkpoints'), '--checkpoint-interval', '30d'], { cwd: work });
    expect(result.timedOut).toBe(false);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toBe('');
  });
});
