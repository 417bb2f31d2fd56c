// Helpers for the engine's end-to-end tests: run the built CLI in a child process, make tapes, read outputs.

import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { expect } from 'vitest';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = join(ROOT, 'bin', 'coattail.js');
export const JOBS = join(ROOT, 'test', 'e2e', 'jobs');

/** Build dist/ only when it is missing, so the tests run against what is already built. */
export function ensureBuilt(): void {
  if (existsSync(join(ROOT, 'dist', 'runtime', 'cli', 'main.js'))) return;
  execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'inherit' });
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The safety net fired: the CLI did not exit by itself. */
  readonly timedOut: boolean;
}

/** Runs `coattail <args>` in `cwd`; a hung process is killed after `safetyNetMs` and reported as timedOut. */
export function runCli(args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv; safetyNetMs?: number }): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (data: Buffer) => (stdout += data.toString()));
    child.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
    const safetyNet = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.safetyNetMs ?? 90_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(safetyNet);
      resolvePromise({ code, stdout, stderr, timedOut });
    });
  });
}

/** Every row of the JSON Lines files a test sink wrote under `<out>/<table>/`. */
export function readTable<T>(out: string, table: string): T[] {
  const dir = join(out, table);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.endsWith('.jsonl'))
    .flatMap((name) => readFileSync(join(dir, name), 'utf8').split('\n').filter((line) => line.length > 0))
    .map((line) => JSON.parse(line) as T);
}

export function readSummary(out: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(out, '_summary.json'), 'utf8')) as Record<string, unknown>;
}

/** A small deterministic random generator (LCG), so tapes are the same on every run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 0x1_0000_0000;
  };
}

export interface WindowTrade {
  readonly id: string;
  readonly symbol: string;
  readonly t: number;
  readonly qty: number;
}

export interface WindowRow {
  readonly symbol: string;
  readonly start: number;
  readonly end: number;
  readonly count: number;
  readonly qty: number;
}

/**
 * A tape for window-count.ts: trades mostly in order with small disorder, some a little late (around the
 * 5 s delay), some very late (a minute or more behind), a few from the future; plus bad, empty,
 * whitespace-only and CRLF lines.
 */
export function windowTape(count: number, seed: number): string[] {
  const random = seededRandom(seed);
  const lines: string[] = [];
  const base = 1_700_000_000_000;
  for (let i = 0; i < count; i++) {
    const roll = random();
    const jitter =
      roll < 0.9 ? -Math.floor(random() * 3_000) : roll < 0.95 ? -5_000 - Math.floor(random() * 6_000) : roll < 0.98 ? -60_000 - Math.floor(random() * 60_000) : Math.floor(random() * 4_000);
    const trade: WindowTrade = { id: `e${i}`, symbol: `S${Math.floor(random() * 12)}`, t: base + i * 40 + jitter, qty: 1 + Math.floor(random() * 9) };
    const text = JSON.stringify(trade);
    lines.push(i % 997 === 0 ? `${text}\r` : text);
    if (i % 1_201 === 0) lines.push('{"id": broken');
    if (i % 1_733 === 0) lines.push('');
    if (i % 2_011 === 0) lines.push('  \t');
  }
  return lines;
}

export interface WindowExpectation {
  readonly recordsIn: number;
  readonly bad: number;
  readonly lateIds: string[];
  readonly rows: WindowRow[];
}

/**
 * What window-count.ts must produce, computed independently: the split's watermark before a trade is the
 * max event time of the trades before it; a trade whose window end is <= watermark - 5 s is late.
 */
export function expectWindows(lines: readonly string[], sizeMs = 10_000, delayMs = 5_000): WindowExpectation {
  let watermark = Number.NEGATIVE_INFINITY;
  let recordsIn = 0;
  let bad = 0;
  const lateIds: string[] = [];
  const windows = new Map<string, { symbol: string; start: number; count: number; qty: number }>();
  for (const line of lines) {
    if (line.length === 0) continue;
    recordsIn++;
    let trade: WindowTrade;
    try {
      trade = JSON.parse(line) as WindowTrade;
    } catch {
      bad++;
      continue;
    }
    const start = Math.floor(trade.t / sizeMs) * sizeMs;
    if (start + sizeMs <= watermark - delayMs) lateIds.push(trade.id);
    else {
      const key = `${trade.symbol}|${start}`;
      const window = windows.get(key) ?? { symbol: trade.symbol, start, count: 0, qty: 0 };
      window.count++;
      window.qty += trade.qty;
      windows.set(key, window);
    }
    watermark = Math.max(watermark, trade.t);
  }
  const rows = [...windows.values()].map((w) => ({ symbol: w.symbol, start: w.start, end: w.start + sizeMs, count: w.count, qty: w.qty }));
  return { recordsIn, bad, lateIds: lateIds.sort(), rows: sortRows(rows) };
}

export function sortRows(rows: readonly WindowRow[]): WindowRow[] {
  return [...rows].sort((a, b) => (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : a.start - b.start));
}

/** The run failed with one line on stderr naming every fragment, no stack, a non-zero exit, nothing hung. */
export function expectOneLineError(result: CliResult, ...fragments: string[]): void {
  expect(result.timedOut).toBe(false);
  expect(result.code).not.toBe(0);
  expect(result.code).not.toBeNull();
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines).toEqual([expect.stringMatching(/^coattail: /)]);
  for (const fragment of fragments) expect(lines[0]).toContain(fragment);
  expect(result.stderr).not.toMatch(/^\s+at /m);
}
