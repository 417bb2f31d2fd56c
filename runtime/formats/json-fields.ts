// Reads chosen fields of a flat JSON object straight from a line's bytes: the parse step of a job that would
// otherwise `JSON.parse` every line to keep a few fields. Exact or nothing: the reader accepts only lines it
// reads to `JSON.parse`'s own values (a flat object of strings without escapes, numbers, true, false, null);
// for anything else it says no and the caller parses the text as before.

import type { RawRecord } from '../api/source.js';
import { currentLine } from './current-line.js';

export type JsonScalar = string | number | boolean | null;

export interface JsonFieldReaderOptions<F extends string> {
  /** Fields whose values repeat (exchange names, symbols): one string per distinct value, not one per record. */
  readonly intern?: readonly F[];
}

/** 10^0 .. 10^22: each is exact in a double, which makes `digits / 10^scale` correctly rounded. */
const POWERS_OF_TEN = Array.from({ length: 23 }, (_, exponent) => Number(`1e${exponent}`));
/** Up to 15 significant digits an integer mantissa is exact (< 2^53). */
const EXACT_DIGITS = 15;
const INTERN_SLOTS = 64;
const INTERN_MAX_LENGTH = 32;
const MAX_SHAPE_KEYS = 64;
const MAX_KNOWN_KEYS = 256;

interface KnownKey {
  readonly name: Uint8Array;
  /** Index among the reader's fields, or -1 for a key nobody asked for. */
  readonly field: number;
}

const QUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;
const COLON = 58;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;
const MINUS = 45;
const DOT = 46;
const ZERO = 48;
const NINE = 57;
const TRUE = [116, 114, 117, 101];
const FALSE = [102, 97, 108, 115, 101];
const NULL = [110, 117, 108, 108];

/**
 * 1 for the bytes that end a string's fast scan: the quote, a backslash, control characters and bytes outside
 * ASCII. A read past the buffer (undefined) indexes nothing, which also ends it.
 */
const STRING_STOPS = Uint8Array.from({ length: 256 }, (_, byte) => (byte === QUOTE || byte === BACKSLASH || byte < 32 || byte >= 128 ? 1 : 0));

/** Buffer#latin1Slice without `toString`'s argument checks (not in Node's typings). */
const latin1Slice: (this: Buffer, start: number, end: number) => string =
  (Buffer.prototype as unknown as { latin1Slice?: (this: Buffer, start: number, end: number) => string }).latin1Slice ??
  function (this: Buffer, start: number, end: number): string {
    return this.toString('latin1', start, end);
  };

/**
 * Reads the fields named at construction from one record at a time into `values` (by field index; undefined
 * where a field is absent). `read` is true when the record was read, false when the caller must parse its text:
 * the record is not the line of an ASCII chunk the decode stage is handing over right now, or it holds what
 * the reader leaves to `JSON.parse` (escapes, nested values, a top-level value other than an object, or
 * invalid JSON, which `JSON.parse` then rejects). Duplicate keys: the last one wins, as in `JSON.parse`.
 */
export class JsonFieldReader<F extends string> {
  readonly values: (JsonScalar | undefined)[];
  private readonly names: Uint8Array[];
  private readonly internCaches: (string[] | undefined)[];
  /** The key last seen at each position of an object. */
  private readonly shape: KnownKey[] = [];
  /** Every key seen so far (the asked-for fields among them), so a new shape allocates nothing. */
  private readonly knownKeys: KnownKey[] = [];
  /** Where the number `number` read last ends. */
  private numberEnd = 0;

  constructor(readonly fields: readonly F[], options: JsonFieldReaderOptions<F> = {}) {
    if (new Set(fields).size !== fields.length) throw new Error('JsonFieldReader: a field is named twice');
    this.values = fields.map(() => undefined);
    this.names = fields.map((field) => Buffer.from(field, 'utf8'));
    const interned = new Set<string>(options.intern ?? []);
    this.internCaches = fields.map((field) => (interned.has(field) ? new Array<string>(INTERN_SLOTS).fill('') : undefined));
  }

  /** Reads the record in place if it is the line the decode stage is handing over right now. */
  read(record: RawRecord): boolean {
    const line = currentLine;
    if (line.record !== record) return false;
    return this.readBytes(line.bytes, line.start, line.end);
  }

  /** Reads `bytes[start, end)`; a string holding a byte outside ASCII is left to `JSON.parse` (false). */
  readBytes(bytes: Buffer, start: number, end: number): boolean {
    const values = this.values;
    for (let i = 0; i < values.length; i++) values[i] = undefined;
    let p = start;
    if (p < end && bytes[p]! <= 32) p = skipSpace(bytes, p, end);
    if (p >= end || bytes[p] !== OPEN_BRACE) return false;
    p++;
    if (p < end && bytes[p]! <= 32) p = skipSpace(bytes, p, end);
    if (p < end && bytes[p] === CLOSE_BRACE) return skipSpace(bytes, p + 1, end) === end;
    for (let ordinal = 0; ; ordinal++) {
      if (p >= end || bytes[p] !== QUOTE) return false;
      // The key seen at this position last time, followed by its closing quote: no need to look for the end.
      const last = ordinal < this.shape.length ? this.shape[ordinal]! : undefined;
      let field: number;
      if (last !== undefined && p + 1 + last.name.length < end && bytes[p + 1 + last.name.length] === QUOTE && sameBytes(last.name, bytes, p + 1, p + 1 + last.name.length)) {
        field = last.field;
        p += last.name.length + 2;
      } else {
        const keyEnd = stringEnd(bytes, p + 1);
        if (keyEnd < 0 || keyEnd >= end) return false;
        field = this.fieldAt(ordinal, bytes, p + 1, keyEnd);
        p = keyEnd + 1;
      }
      if (p < end && bytes[p]! <= 32) p = skipSpace(bytes, p, end);
      if (p >= end || bytes[p] !== COLON) return false;
      p++;
      if (p < end && bytes[p]! <= 32) p = skipSpace(bytes, p, end);
      if (p >= end) return false;

      const first = bytes[p]!;
      if (first === QUOTE) {
        const valueEnd = stringEnd(bytes, p + 1);
        if (valueEnd < 0 || valueEnd >= end) return false;
        if (field >= 0) values[field] = this.stringValue(field, bytes, p + 1, valueEnd);
        p = valueEnd + 1;
      } else if (first === MINUS || (first >= ZERO && first <= NINE)) {
        if (field >= 0) {
          const value = this.number(bytes, p, end);
          if (value !== value) return false; // NaN: not a JSON number
          values[field] = value;
          p = this.numberEnd;
        } else {
          // A field nobody asked for: only check that it is a JSON number.
          p = numberEnd(bytes, p, end);
          if (p < 0) return false;
        }
      } else if (first === 116 /* t */ && isWord(bytes, p, end, TRUE)) {
        if (field >= 0) values[field] = true;
        p += 4;
      } else if (first === 102 /* f */ && isWord(bytes, p, end, FALSE)) {
        if (field >= 0) values[field] = false;
        p += 5;
      } else if (first === 110 /* n */ && isWord(bytes, p, end, NULL)) {
        if (field >= 0) values[field] = null;
        p += 4;
      } else {
        return false; // a nested object or array, or not JSON
      }

      if (p < end && bytes[p]! <= 32) p = skipSpace(bytes, p, end);
      if (p >= end) return false;
      const separator = bytes[p];
      if (separator === CLOSE_BRACE) return p + 1 === end || skipSpace(bytes, p + 1, end) === end;
      if (separator !== COMMA) return false;
      p++;
      if (p < end && bytes[p]! <= 32) p = skipSpace(bytes, p, end);
    }
  }

  /**
   * The JSON number (`-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?`) starting at `p`, its end in `numberEnd`; NaN when
   * the text is not one. With at most 15 significant digits, 22 decimals and no exponent, the digits as an
   * integer divided by a power of ten, both exact, give the correctly rounded value `JSON.parse` gives
   * (Clinger's fast path); any other number goes through `Number` of its text.
   */
  private number(bytes: Buffer, p: number, end: number): number {
    const start = p;
    const negative = bytes[p] === MINUS;
    if (negative) p++;
    let c = p < end ? bytes[p]! : -1;
    let mantissa = 0;
    let significant = 0;
    let scale = 0;
    if (c === ZERO) {
      c = ++p < end ? bytes[p]! : -1;
    } else if (c > ZERO && c <= NINE) {
      do {
        mantissa = mantissa * 10 + (c - ZERO);
        significant++;
        c = ++p < end ? bytes[p]! : -1;
      } while (c >= ZERO && c <= NINE);
    } else {
      return Number.NaN;
    }
    if (c === DOT) {
      c = ++p < end ? bytes[p]! : -1;
      if (!(c >= ZERO && c <= NINE)) return Number.NaN;
      do {
        mantissa = mantissa * 10 + (c - ZERO);
        if (mantissa !== 0) significant++;
        scale++;
        c = ++p < end ? bytes[p]! : -1;
      } while (c >= ZERO && c <= NINE);
    }
    let exact = significant <= EXACT_DIGITS && scale < POWERS_OF_TEN.length;
    if (c === 101 || c === 69 /* e E */) {
      c = ++p < end ? bytes[p]! : -1;
      if (c === 43 /* + */ || c === MINUS) c = ++p < end ? bytes[p]! : -1;
      if (!(c >= ZERO && c <= NINE)) return Number.NaN;
      do c = ++p < end ? bytes[p]! : -1;
      while (c >= ZERO && c <= NINE);
      exact = false;
    }
    this.numberEnd = p;
    if (!exact) return Number(latin1Slice.call(bytes, start, p));
    const magnitude = scale === 0 ? mantissa : mantissa / POWERS_OF_TEN[scale]!;
    return negative ? -magnitude : magnitude;
  }

  /**
   * The index of the field named `bytes[start, end)`, or -1, for a key other than the one seen at this position of
   * the last object (`readBytes` tries that one in place first); remembered as this position's key.
   */
  private fieldAt(ordinal: number, bytes: Buffer, start: number, end: number): number {
    const shape = this.shape;
    const key = this.keyNamed(bytes, start, end);
    if (ordinal < shape.length) shape[ordinal] = key;
    else if (ordinal === shape.length && ordinal < MAX_SHAPE_KEYS) shape.push(key);
    return key.field;
  }

  /** The known key with these bytes, remembered on first sight (up to a bound: a shape of random keys stays cheap). */
  private keyNamed(bytes: Buffer, start: number, end: number): KnownKey {
    const known = this.knownKeys;
    for (let i = 0; i < known.length; i++) if (sameBytes(known[i]!.name, bytes, start, end)) return known[i]!;
    const names = this.names;
    let field = -1;
    for (let i = 0; i < names.length; i++) {
      if (sameBytes(names[i]!, bytes, start, end)) {
        field = i;
        break;
      }
    }
    const key: KnownKey = { name: Uint8Array.prototype.slice.call(bytes, start, end), field };
    if (known.length < MAX_KNOWN_KEYS) known.push(key);
    return key;
  }

  private stringValue(field: number, bytes: Buffer, start: number, end: number): string {
    const cache = this.internCaches[field];
    const length = end - start;
    if (cache === undefined || length > INTERN_MAX_LENGTH) return latin1Slice.call(bytes, start, end);
    const slot = length === 0 ? 0 : (length * 31 + bytes[start]! * 7 + bytes[end - 1]! * 13 + bytes[start + (length >> 1)]!) & (INTERN_SLOTS - 1);
    const cached = cache[slot]!;
    if (cached.length === length && sameText(cached, bytes, start)) return cached;
    const text = latin1Slice.call(bytes, start, end);
    cache[slot] = text;
    return text;
  }
}

/** The first position from `p` on that is not JSON whitespace (space, tab, LF, CR); at most `end`. */
function skipSpace(bytes: Buffer, p: number, end: number): number {
  while (p < end) {
    const c = bytes[p]!;
    if (c !== 32 && c !== 9 && c !== 13 && c !== 10) return p;
    p++;
  }
  return end;
}

/**
 * The position of the quote closing a string whose content starts at `p`, or -1 if an escape, a control
 * character (which JSON forbids unescaped) or a non-ASCII byte comes first. A line holds no `\n`, and a read
 * past the chunk's end is undefined: both end the loop as a control character does.
 */
function stringEnd(bytes: Buffer, p: number): number {
  const stops = STRING_STOPS;
  while (stops[bytes[p]!] === 0) p++;
  return bytes[p] === QUOTE ? p : -1;
}

/** Where the JSON number starting at `p` ends, or -1 when the text there is not one. */
function numberEnd(bytes: Buffer, p: number, end: number): number {
  if (bytes[p] === MINUS) p++;
  let c = p < end ? bytes[p]! : -1;
  if (c === ZERO) {
    c = ++p < end ? bytes[p]! : -1;
  } else if (c > ZERO && c <= NINE) {
    do c = ++p < end ? bytes[p]! : -1;
    while (c >= ZERO && c <= NINE);
  } else {
    return -1;
  }
  if (c === DOT) {
    c = ++p < end ? bytes[p]! : -1;
    if (!(c >= ZERO && c <= NINE)) return -1;
    do c = ++p < end ? bytes[p]! : -1;
    while (c >= ZERO && c <= NINE);
  }
  if (c === 101 || c === 69 /* e E */) {
    c = ++p < end ? bytes[p]! : -1;
    if (c === 43 /* + */ || c === MINUS) c = ++p < end ? bytes[p]! : -1;
    if (!(c >= ZERO && c <= NINE)) return -1;
    do c = ++p < end ? bytes[p]! : -1;
    while (c >= ZERO && c <= NINE);
  }
  return p;
}

function isWord(bytes: Buffer, p: number, end: number, word: readonly number[]): boolean {
  if (p + word.length > end) return false;
  for (let i = 0; i < word.length; i++) if (bytes[p + i] !== word[i]) return false;
  return true;
}

function sameBytes(name: Uint8Array, bytes: Buffer, start: number, end: number): boolean {
  if (name.length !== end - start) return false;
  for (let i = 0; i < name.length; i++) if (name[i] !== bytes[start + i]) return false;
  return true;
}

function sameText(text: string, bytes: Buffer, start: number): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) !== bytes[start + i]) return false;
  return true;
}
