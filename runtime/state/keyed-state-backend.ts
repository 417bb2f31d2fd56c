// Heap keyed state: one map per state name from key to value, scoped to the current key of the operator.

import { keyGroupFor } from '../plan/key-groups.js';
import type { KeyedStateStore, ListState, MapState, ValueState } from '../graph/functions.js';

type StateTable = Map<string, unknown>;

export class KeyedStateBackend implements KeyedStateStore {
  /** The key of the record or timer being processed; set by the operator before calling user code. */
  currentKey = '';
  private readonly tables = new Map<string, StateTable>();

  constructor(private readonly maxParallelism: number) {}

  private table(name: string): StateTable {
    let table = this.tables.get(name);
    if (!table) {
      table = new Map();
      this.tables.set(name, table);
    }
    return table;
  }

  valueState<T>(name: string): ValueState<T> {
    const table = this.table(`v:${name}`);
    return {
      value: () => table.get(this.currentKey) as T | undefined,
      update: (value) => {
        if (value === undefined) table.delete(this.currentKey);
        else table.set(this.currentKey, value);
      },
      clear: () => void table.delete(this.currentKey),
    };
  }

  mapState<K extends string | number, V>(name: string): MapState<K, V> {
    const table = this.table(`m:${name}`);
    const current = (create: boolean): Map<K, V> | undefined => {
      let map = table.get(this.currentKey) as Map<K, V> | undefined;
      if (!map && create) {
        map = new Map();
        table.set(this.currentKey, map);
      }
      return map;
    };
    return {
      get: (key) => current(false)?.get(key),
      put: (key, value) => void current(true)!.set(key, value),
      has: (key) => current(false)?.has(key) ?? false,
      remove: (key) => {
        const map = current(false);
        if (!map) return;
        map.delete(key);
        if (map.size === 0) table.delete(this.currentKey);
      },
      entries: () => (current(false) ?? new Map<K, V>()).entries(),
      clear: () => void table.delete(this.currentKey),
    };
  }

  listState<T>(name: string): ListState<T> {
    const table = this.table(`l:${name}`);
    return {
      get: () => (table.get(this.currentKey) as T[] | undefined) ?? [],
      add: (value) => {
        const list = table.get(this.currentKey) as T[] | undefined;
        if (list) list.push(value);
        else table.set(this.currentKey, [value]);
      },
      update: (values) => {
        if (values.length === 0) table.delete(this.currentKey);
        else table.set(this.currentKey, [...values]);
      },
      clear: () => void table.delete(this.currentKey),
    };
  }

  /** Entries grouped by key group: `{ [keyGroup]: { [table]: [key, value][] } }`. */
  snapshotByKeyGroup(): Record<number, Record<string, Array<[string, unknown]>>> {
    const result: Record<number, Record<string, Array<[string, unknown]>>> = {};
    for (const [tableName, table] of this.tables) {
      for (const [key, value] of table) {
        const group = keyGroupFor(key, this.maxParallelism);
        const byTable = (result[group] ??= {});
        (byTable[tableName] ??= []).push([key, value]);
      }
    }
    return result;
  }

  restoreKeyGroup(entries: Record<string, Array<[string, unknown]>>): void {
    for (const [tableName, rows] of Object.entries(entries)) {
      const table = this.table(tableName);
      for (const [key, value] of rows) table.set(key, value);
    }
  }
}
