// Fingerprints of a job's prepared configuration (what its `prepare` step returned), recorded in each checkpoint
// so that a restore under other settings says so. One fingerprint per top-level key, so the message can name
// the sections that changed (`volume`, `spread`) rather than only "something".

import { createHash } from 'node:crypto';

/** Top-level key -> short sha256 of its canonical JSON; a value that is not a plain object is keyed by "". */
export function configDigests(prepared: unknown): Record<string, string> {
  if (prepared === undefined) return {};
  if (!isPlainObject(prepared)) return { '': digest(prepared) };
  return Object.fromEntries(Object.keys(prepared).sort().map((key) => [key, digest(prepared[key])]));
}

/** Sections whose fingerprint differs, was added or was removed, sorted. */
export function changedSections(stored: Readonly<Record<string, string>>, current: Readonly<Record<string, string>>): string[] {
  const keys = new Set([...Object.keys(stored), ...Object.keys(current)]);
  return [...keys].filter((key) => stored[key] !== current[key]).sort();
}

function digest(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, 16);
}

/** JSON with object keys sorted at every level; Maps and Sets as their entries, so equal settings give equal text. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => {
    if (item instanceof Map) return [...item.entries()];
    if (item instanceof Set) return [...item.values()];
    if (isPlainObject(item)) return Object.fromEntries(Object.keys(item).sort().map((key) => [key, item[key]]));
    return item;
  }) ?? 'undefined';
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value) as unknown;
  return prototype === Object.prototype || prototype === null;
}
