// Heap keyed state: one map per state name from key to value, scoped to the current key of the operator.

import { CoattailError } from '../errors.js';
import { keyGroupFor } from '../plan/key-groups.js';
import type { KeyedStateStore, ListState, MapState, ValueState } from '../graph/functions.js';

type StateTable = Map<string, unknown>;

/** Tables are named `<kind>:<state name>`; the kind is part of the name so a restore knows what it holds. */
const KIND_NAMES: Readonly<Record<string, string>> = { v: 'ValueState', m: 'MapState', l: 'ListState' };

export class KeyedStateBackend implements KeyedStateStore {
  /** The key of the record or timer being processed; set by the operator before calling user code. */
  currentKey = '';
  private readonly tables = new Map<string, StateTable>();

  constructor(
    private readonly maxParallelism: number,
    /** The step owning this state, for messages. */
    private readonly stepName = '',
  ) {}

  /** Tables that came from a checkpoint, for messages. */
  private readonly restoredTables = new Set<string>();

  private table(name: string, restoring = false): StateTable {
    let table = this.tables.get(name);
    if (!table) {
      this.refuseOtherKind(name, restoring);
      table = new Map();
      this.tables.set(name, table);
      if (restoring) this.restoredTables.add(name);
    }
    return table;
  }

  /**
   * One state name holds one kind of state, as in Flink (which fails such a restore with "incompatible state
   * types"): a ValueState changed to a MapState under the same name would otherwise start empty while the
   * checkpoint's values were kept unseen, silently losing them.
   */
  private refuseOtherKind(tableName: string, restoring: boolean): void {
    const kind = tableName.slice(0, 1);
    const stateName = tableName.slice(2);
    for (const other of Object.keys(KIND_NAMES)) {
      const otherTable = `${other}:${stateName}`;
      if (other === kind || !this.tables.has(otherTable)) continue;
      const [was, now] = restoring ? [kind, other] : [other, kind];
      const inCheckpoint = restoring || this.restoredTables.has(otherTable);
      const where = this.stepName ? `step "${this.stepName}": ` : '';
      throw new CoattailError(
        inCheckpoint ? 'RESTORE_MISMATCH' : 'JOB_INVALID',
        inCheckpoint
          ? `${where}state "${stateName}" is a ${KIND_NAMES[was]} in the checkpoint and a ${KIND_NAMES[now]} in this job; give the new state another name, or restore with the job that wrote it`
          : `${where}state "${stateName}" is used both as a ${KIND_NAMES[was]} and as a ${KIND_NAMES[now]}; one name holds one kind of state`,
      );
    }
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

  /** Drops every state of `key` (a time to live ran out). */
  clearKey(key: string): void {
    for (const table of this.tables.values()) table.delete(key);
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
      const table = this.table(tableName, true);
      for (const [key, value] of rows) table.set(key, value);
    }
  }
}
