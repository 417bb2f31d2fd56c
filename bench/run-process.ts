// Runs one benchmarked child process (the coattail CLI or the parse baseline) while sampling it from /proc,
// and returns its wall time, its printed summary, peak RSS and CPU time per thread.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ProcessSampler, type SamplerResult } from './process-sampler.js';

/** The repository root: this file runs from dist/bench/. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = join(REPO_ROOT, 'bin', 'coattail.js');
const PROBE = pathToFileURL(join(REPO_ROOT, 'dist', 'bench', 'rss-probe.js')).href;

export interface ProcessRun {
  readonly wallMs: number;
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly sampled: SamplerResult;
  /** SIGINTs sent: 0 (ran to the end), 1 (stopped reading), 2 (told to quit at once). */
  readonly interrupts: number;
}

export interface RunProcessOptions {
  readonly nodeArgs?: readonly string[];
  readonly env?: Record<string, string>;
  /** Send SIGINT after this long (the CLI then stops reading and finishes what it read). */
  readonly interruptAfterMs?: number;
  /** Send a second SIGINT this long after the first (the CLI then quits at once, without a summary). */
  readonly quitGraceMs?: number;
  readonly sampleIntervalMs?: number;
}

/** Runs `node [nodeArgs] --import rss-probe <script> [args]` to completion. */
export async function runNodeProcess(script: string, args: readonly string[], options: RunProcessOptions = {}): Promise<ProcessRun> {
  const scratch = mkdtempSync(join(tmpdir(), 'coattail-bench-'));
  const rssFile = join(scratch, 'rss');
  const started = performance.now();
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), '--import', PROBE, script, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...options.env, COATTAIL_BENCH_RSS_FILE: rssFile },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const sampler = new ProcessSampler(child.pid!, options.sampleIntervalMs ?? 100);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  let interrupts = 0;
  let quit: NodeJS.Timeout | undefined;
  const interrupt = options.interruptAfterMs
    ? setTimeout(() => {
        interrupts++;
        child.kill('SIGINT');
        if (options.quitGraceMs !== undefined) {
          quit = setTimeout(() => {
            interrupts++;
            child.kill('SIGINT');
          }, options.quitGraceMs);
        }
      }, options.interruptAfterMs)
    : undefined;
  const exitCode = await new Promise<number | null>((resolveExit, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolveExit(code));
  });
  const wallMs = performance.now() - started;
  if (interrupt) clearTimeout(interrupt);
  if (quit) clearTimeout(quit);
  const probed = existsSync(rssFile) ? Number(readFileSync(rssFile, 'utf8')) : undefined;
  const sampled = sampler.stop(probed);
  rmSync(scratch, { recursive: true, force: true });
  return { wallMs, exitCode, stdout, stderr, sampled, interrupts };
}

export interface CliRun extends ProcessRun {
  /** The `_summary.json` content the CLI printed (`finished <job>: {...}`); empty when it was told to quit at once. */
  readonly summary: Record<string, unknown>;
}

/** Runs `coattail <args>`; fails with the CLI's stderr when it does not finish (unless it was told to quit). */
export async function runCli(args: readonly string[], options: RunProcessOptions = {}): Promise<CliRun> {
  const run = await runNodeProcess(CLI, args, options);
  const line = run.stdout.split('\n').find((l) => l.startsWith('finished ') || l.startsWith('stopped '));
  if (!line && run.interrupts >= 2) return { ...run, summary: {} };
  if (!line) {
    throw new Error(`coattail ${args.join(' ')} exited with ${run.exitCode}: ${run.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  }
  return { ...run, summary: JSON.parse(line.slice(line.indexOf('{'))) as Record<string, unknown> };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export const MiB = 1024 * 1024;
