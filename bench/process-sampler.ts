// Samples a running process from /proc while a benchmark waits for it: peak RSS (VmHWM, worker threads share
// it), RSS of its child processes (esbuild's service), and CPU time per thread, which stays exact on a
// loaded machine where wall-clock profiles do not.

import { readFileSync, readdirSync } from 'node:fs';

/**
 * Nanoseconds this thread has run on a CPU (Linux schedstat). Unlike wall-clock timers it does not count
 * time the thread waited for a core, so it stays meaningful on a loaded machine.
 */
export function threadCpuNanos(): number {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]);
  } catch {
    return Number(process.hrtime.bigint());
  }
}

export interface ThreadCpu {
  readonly tid: number;
  /** Time on a CPU, milliseconds, as last seen (a thread that ended keeps its last sample). */
  readonly cpuMs: number;
}

export interface ProcessSample {
  readonly elapsedMs: number;
  readonly rssBytes: number;
  /** Bytes the process has read so far (all threads: /proc/<pid>/io rchar). */
  readonly readBytes: number;
}

export interface SamplerResult {
  /** VmHWM of the process at its last sample (or from its exit probe when given). */
  peakRssBytes: number;
  /** Peak of the summed RSS of child processes (esbuild's service process), sampled. */
  peakChildRssBytes: number;
  /** The main process's RSS over time. */
  series: ProcessSample[];
  /** Threads in creation order (tid order); the first is the main thread. */
  threads: ThreadCpu[];
}

function statusField(text: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return match ? Number(match[1]) * 1024 : 0;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function childrenOf(pid: number): number[] {
  const children: number[] = [];
  let tasks: string[] = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return children;
  }
  for (const tid of tasks) {
    const text = readText(`/proc/${pid}/task/${tid}/children`);
    if (!text) continue;
    for (const child of text.trim().split(/\s+/)) if (child) children.push(Number(child));
  }
  return children;
}

/** Samples `pid` every `intervalMs` until `stop()` is called; works only on Linux (/proc). */
export class ProcessSampler {
  private readonly started = performance.now();
  private readonly cpuByTid = new Map<number, number>();
  private readonly result: SamplerResult = { peakRssBytes: 0, peakChildRssBytes: 0, series: [], threads: [] };
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number, intervalMs = 100) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  private sample(): void {
    const status = readText(`/proc/${this.pid}/status`);
    if (!status) return;
    const rss = statusField(status, 'VmRSS');
    this.result.peakRssBytes = Math.max(this.result.peakRssBytes, statusField(status, 'VmHWM'));
    const io = readText(`/proc/${this.pid}/io`);
    const readBytes = io ? Number(/^rchar:\s+(\d+)/m.exec(io)?.[1] ?? 0) : 0;
    this.result.series.push({ elapsedMs: performance.now() - this.started, rssBytes: rss, readBytes });
    let childRss = 0;
    for (const child of childrenOf(this.pid)) {
      const childStatus = readText(`/proc/${child}/status`);
      if (childStatus) childRss += statusField(childStatus, 'VmRSS');
    }
    this.result.peakChildRssBytes = Math.max(this.result.peakChildRssBytes, childRss);
    let tids: string[] = [];
    try {
      tids = readdirSync(`/proc/${this.pid}/task`);
    } catch {
      return;
    }
    for (const tid of tids) {
      // schedstat's first field: nanoseconds on a CPU (finer than stat's 10 ms ticks).
      const schedstat = readText(`/proc/${this.pid}/task/${tid}/schedstat`);
      if (schedstat) this.cpuByTid.set(Number(tid), Number(schedstat.split(' ')[0]) / 1e6);
    }
  }

  /** Stops sampling; `exitPeakRssBytes` (from an exit probe) replaces the sampled VmHWM when larger. */
  stop(exitPeakRssBytes?: number): SamplerResult {
    clearInterval(this.timer);
    if (exitPeakRssBytes) this.result.peakRssBytes = Math.max(this.result.peakRssBytes, exitPeakRssBytes);
    this.result.threads = [...this.cpuByTid]
      .sort((a, b) => a[0] - b[0])
      .map(([tid, cpuMs]) => ({ tid, cpuMs }));
    return this.result;
  }
}

/**
 * Labels the engine's threads by creation order: the main thread, then the subtask workers (created first),
 * then the decode pool. Threads with no CPU worth naming (V8 platform, libuv pool) are summed as `other`.
 */
export function engineThreadCpu(threads: ThreadCpu[], parallelism: number, decodeThreads: number): Record<string, number> {
  const [main, ...rest] = threads;
  const workers = rest.slice(-(parallelism + decodeThreads));
  const others = rest.slice(0, rest.length - workers.length);
  const result: Record<string, number> = { coordinator: main?.cpuMs ?? 0 };
  workers.forEach((thread, index) => {
    const label = index < parallelism ? `subtask-${index}` : `decode-${index - parallelism}`;
    result[label] = thread.cpuMs;
  });
  result.other = others.reduce((sum, thread) => sum + thread.cpuMs, 0);
  return result;
}

/**
 * Lines per second while the middle of the input was read (from `fromShare` to `toShare` of the bytes the
 * process read), which leaves out start-up and warm-up. The engine reads at most a few chunks ahead of what it
 * has processed, so reading progress is processing progress.
 */
export function steadyRate(series: readonly ProcessSample[], lines: number, fromShare = 0.5, toShare = 0.95): number | undefined {
  if (series.length < 2) return undefined;
  const first = series[0]!.readBytes;
  const total = series[series.length - 1]!.readBytes - first;
  if (total <= 0) return undefined;
  const at = (share: number) => series.find((s) => s.readBytes - first >= share * total);
  const start = at(fromShare);
  const end = at(toShare);
  if (!start || !end || end.elapsedMs <= start.elapsedMs) return undefined;
  const share = (end.readBytes - start.readBytes) / total;
  return (share * lines * 1000) / (end.elapsedMs - start.elapsedMs);
}
