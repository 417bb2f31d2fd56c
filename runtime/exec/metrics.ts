// Counters kept per thread and summed by the coordinator; dotted names nest in the summary.

import type { Counter, Metrics } from '../graph/functions.js';

export class CounterRegistry implements Metrics {
  private readonly boxes = new Map<string, { value: number }>();

  counter(name: string): Counter {
    let box = this.boxes.get(name);
    if (!box) {
      box = { value: 0 };
      this.boxes.set(name, box);
    }
    const target = box;
    return { inc: (by = 1) => void (target.value += by) };
  }

  values(): Record<string, number> {
    const result: Record<string, number> = {};
    for (const [name, box] of this.boxes) result[name] = box.value;
    return result;
  }

  /** Return the counts since the last drain (every registered counter) and reset them, to ship deltas between threads. */
  drain(): Record<string, number> {
    const result: Record<string, number> = {};
    // Zeros are reported too, so a counter that never moved still appears in the summary.
    for (const [name, box] of this.boxes) {
      result[name] = box.value;
      box.value = 0;
    }
    return result;
  }
}

export function addCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const [name, value] of Object.entries(from)) into[name] = (into[name] ?? 0) + value;
}

/**
 * `{ "late_dropped.volume": 3 }` -> `{ late_dropped: { volume: 3 } }`. A name that extends another counter's
 * (`rows.alerts` and `rows.alerts.v2`, tables `alerts` and `alerts.v2`) cannot nest under a number: it stays
 * beside that counter under the rest of its name (`rows: { alerts: 2, "alerts.v2": 7 }`). Sorted, a name comes
 * before every name it is a prefix of.
 */
export function nestCounters(flat: Record<string, number>): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(flat).sort(([a], [b]) => a.localeCompare(b))) {
    const parts = name.split('.');
    let target = result;
    let depth = 0;
    for (; depth < parts.length - 1; depth++) {
      const group = (target[parts[depth]!] ??= {});
      if (typeof group !== 'object') break;
      target = group as Record<string, unknown>;
    }
    target[parts.slice(depth).join('.')] = value;
  }
  return result;
}
