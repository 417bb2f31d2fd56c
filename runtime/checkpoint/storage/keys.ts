// Rules shared by every storage backend for checkpoint keys and prefixes, and the order keys are listed in.
import { CoattailError } from '../../errors.js';

/** Local temporary files start with this; keys may not, so a half-written file is never listed as an object. */
export const TEMPORARY_FILE_PREFIX = '.coattail-tmp-';

function problemWith(path: string, allowTrailingSlash: boolean): string | undefined {
  if (path.includes('\\')) return 'backslashes are not allowed, use "/"';
  if (path.includes('\0')) return 'NUL characters are not allowed';
  if (path.startsWith('/')) return 'it must be relative (no leading "/")';
  const segments = path.split('/');
  if (allowTrailingSlash && segments.at(-1) === '') segments.pop();
  for (const segment of segments) {
    if (segment === '') return 'it has an empty path segment ("//" or a trailing "/")';
    if (segment === '.' || segment === '..') return `"${segment}" segments are not allowed`;
    if (segment.startsWith(TEMPORARY_FILE_PREFIX)) return `segments starting with "${TEMPORARY_FILE_PREFIX}" are reserved`;
  }
  return undefined;
}

/** A key names one object: `chk-7/_metadata`, `chk-7/state/by-symbol/0-63`. */
export function checkKey(key: string): void {
  const problem = key === '' ? 'it is empty' : problemWith(key, false);
  if (problem) throw new CoattailError('BAD_ARGUMENT', `Invalid checkpoint storage key "${key}": ${problem}`);
}

/** A prefix selects keys that start with it: `''`, `chk-`, `chk-7/`. */
export function checkPrefix(prefix: string): void {
  if (prefix === '') return;
  const problem = problemWith(prefix, true);
  if (problem) throw new CoattailError('BAD_ARGUMENT', `Invalid checkpoint storage prefix "${prefix}": ${problem}`);
}

/** S3 lists keys in UTF-8 byte order; both backends sort that way so listings agree. */
export function compareKeys(left: string, right: string): number {
  return Buffer.compare(Buffer.from(left, 'utf8'), Buffer.from(right, 'utf8'));
}

export function sortKeys(keys: string[]): string[] {
  return keys.sort(compareKeys);
}
