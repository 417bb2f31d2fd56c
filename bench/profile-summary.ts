// Summarizes the .cpuprofile files one `node --cpu-prof` run writes (one per thread): how busy each thread
// was, what kind of thread it is (coordinator, decode, subtask) and where its time went. Profiles sample wall
// time: on a loaded machine a thread waiting for a core looks busy; CPU time per thread is in end-to-end.

import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ThreadProfile {
  readonly file: string;
  readonly role: string;
  readonly totalMs: number;
  readonly busyMs: number;
  readonly gcMs: number;
  /** Self time by function, heaviest first: `name (file:line)`, milliseconds. */
  readonly top: Array<{ frame: string; ms: number }>;
  /** Self time by file, heaviest first (engine files, builtins, dependencies). */
  readonly byFile: Array<{ file: string; ms: number }>;
}

/** Which part of the engine a thread ran, judged by the engine files it spent time in. */
function roleOf(fileName: string, urls: Set<string>): string {
  const has = (part: string) => [...urls].some((url) => url.includes(part));
  // The file name ends with .<pid>.<threadId>.<seq>.cpuprofile; thread 0 is the main thread.
  const threadId = /\.(\d+)\.(\d+)\.(\d+)\.cpuprofile$/.exec(fileName)?.[2];
  if (threadId === '0' || has('/exec/coordinator.js')) return 'coordinator (main)';
  if (has('/exec/decode-stage.js') || has('/exec/decode-worker.js')) return 'decode';
  if (has('/exec/subtask-graph.js') || has('/exec/subtask-host.js')) return 'subtask';
  return 'other';
}

function shortUrl(url: string): string {
  if (!url) return '(native)';
  const cut = url.replace(/^file:\/\//, '');
  const marks = ['/dist/', '/node_modules/', 'coattail-jobs/'];
  for (const mark of marks) {
    const at = cut.indexOf(mark);
    if (at >= 0) return cut.slice(at + 1);
  }
  return cut.startsWith('node:') ? cut : cut.split('/').slice(-2).join('/');
}

export function summarizeProfile(path: string, topCount = 12): ThreadProfile {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  for (const node of profile.nodes) byId.set(node.id, node);
  const selfMicros = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  let idle = 0;
  let gc = 0;
  const byFrame = new Map<string, number>();
  const byFile = new Map<string, number>();
  const urls = new Set<string>();
  for (const [id, micros] of selfMicros) {
    const frame = byId.get(id)!.callFrame;
    // piscina's idle decode threads block in Atomics.wait inside atomicsWaitLoop: waiting, not working.
    if (frame.functionName === '(idle)' || frame.functionName === 'atomicsWaitLoop') {
      idle += micros;
      continue;
    }
    if (frame.functionName === '(garbage collector)') gc += micros;
    if (frame.url) urls.add(frame.url);
    const file = shortUrl(frame.url);
    const name = `${frame.functionName || '(anonymous)'} (${file}:${frame.lineNumber + 1})`;
    byFrame.set(name, (byFrame.get(name) ?? 0) + micros);
    byFile.set(file, (byFile.get(file) ?? 0) + micros);
  }
  const totalMs = (profile.endTime - profile.startTime) / 1000;
  const sorted = (map: Map<string, number>) => [...map].sort((a, b) => b[1] - a[1]).slice(0, topCount);
  return {
    file: path,
    role: roleOf(path, urls),
    totalMs,
    busyMs: totalMs - idle / 1000,
    gcMs: gc / 1000,
    top: sorted(byFrame).map(([frame, micros]) => ({ frame, ms: micros / 1000 })),
    byFile: sorted(byFile).map(([file, micros]) => ({ file, ms: micros / 1000 })),
  };
}

export function summarizeProfileDir(dir: string, topCount = 12): ThreadProfile[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.cpuprofile'))
    .sort()
    .map((name) => summarizeProfile(join(dir, name), topCount));
}

export function formatProfiles(profiles: ThreadProfile[], records?: number): string {
  const lines: string[] = [];
  for (const p of profiles) {
    const perRecord = records ? `, busy ${((p.busyMs * 1e6) / records).toFixed(0)} ns/record` : '';
    lines.push(`## ${p.role} — ${p.file.split('/').pop()}`);
    lines.push(`wall ${p.totalMs.toFixed(0)} ms, busy ${p.busyMs.toFixed(0)} ms (${((100 * p.busyMs) / p.totalMs).toFixed(0)} %), GC ${p.gcMs.toFixed(0)} ms${perRecord}`);
    lines.push('by file: ' + p.byFile.slice(0, 8).map((f) => `${f.file} ${f.ms.toFixed(0)}`).join(' · '));
    for (const t of p.top) lines.push(`  ${t.ms.toFixed(0).padStart(7)} ms  ${t.frame}`);
    lines.push('');
  }
  return lines.join('\n');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write('usage: node dist/bench/profile-summary.js <dir-with-cpuprofiles> [records] [top]\n');
    process.exit(2);
  }
  const records = process.argv[3] ? Number(process.argv[3]) : undefined;
  process.stdout.write(formatProfiles(summarizeProfileDir(dir, Number(process.argv[4] ?? 12)), records));
}
